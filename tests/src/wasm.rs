//! Support for the tests that run the wasm packages in Node.js and workerd: build them once per
//! test process (xtask takes a file lock across processes), find the pinned tools.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

pub use xtask::Built;

/// Both packages, built exactly as `cargo xtask` builds them. A missing node/npm panics with the
/// message naming what to install: these tests fail, they never skip.
pub fn packages() -> &'static Built {
    static BUILT: OnceLock<Result<Built, String>> = OnceLock::new();
    match BUILT.get_or_init(|| xtask::build(None).map_err(|e| e.to_string())) {
        Ok(built) => built,
        Err(e) => panic!("building the wasm packages failed: {e}"),
    }
}

/// `node`, checked to exist and be v20 or later.
pub fn node() -> Command {
    let node = xtask::tools::node().unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = Command::new(node);
    cmd.current_dir(xtask::workspace_root());
    cmd
}

/// The pinned `workerd` server binary from `wasm/node_modules`.
///
/// Not `.bin/workerd`: that is npm's Node launcher, which runs the platform binary as its own
/// child, so killing the launcher would leave the server running (and listening) as an orphan.
pub fn workerd() -> PathBuf {
    // Installs the pinned tools on first use.
    let launcher = xtask::tools::bin("workerd").unwrap_or_else(|e| panic!("{e}"));
    let arch = if cfg!(target_arch = "aarch64") {
        "arm64"
    } else {
        "64"
    };
    let server = xtask::workspace_root()
        .join("wasm/node_modules/@cloudflare")
        .join(format!("workerd-linux-{arch}"))
        .join("bin/workerd");
    assert!(
        server.exists(),
        "{} is missing beside {}: delete wasm/node_modules and retry",
        server.display(),
        launcher.display()
    );
    server
}

/// `wasm/lambda-edge/test/<name>`.
pub fn js_test_file(name: &str) -> PathBuf {
    xtask::workspace_root()
        .join("wasm/lambda-edge/test")
        .join(name)
}

/// Stdout and stderr as one readable block for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// wasm-bindgen's version, which the test runner must match exactly.
pub const WASM_BINDGEN_VERSION: &str = "0.2.130";

/// `wasm-bindgen-test-runner` at exactly [`WASM_BINDGEN_VERSION`], installed once per machine.
///
/// It ships only with `wasm-bindgen-cli`, whose `cargo install` takes minutes (and fails with
/// `--locked` here: the registry lacks one pinned transitive version), so it goes to a cache
/// outside the checkout (`$XDG_CACHE_HOME` or `~/.cache`, `edge-persist/`) that every clone of
/// this machine reuses, under a file lock so parallel test processes install it once.
pub fn wasm_bindgen_test_runner() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| xtask::workspace_root().join(".tools"));
    let root = cache
        .join("edge-persist")
        .join(format!("wasm-bindgen-cli-{WASM_BINDGEN_VERSION}"));
    let runner = root.join("bin").join("wasm-bindgen-test-runner");
    std::fs::create_dir_all(&root).unwrap_or_else(|e| panic!("creating {}: {e}", root.display()));
    let lock =
        std::fs::File::create(root.join(".lock")).unwrap_or_else(|e| panic!("lock file: {e}"));
    lock.lock()
        .unwrap_or_else(|e| panic!("locking {}: {e}", root.display()));
    if !runner.exists() {
        eprintln!(
            "installing wasm-bindgen-cli {WASM_BINDGEN_VERSION} into {} (once; takes minutes)",
            root.display()
        );
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["install", "--quiet", "wasm-bindgen-cli", "--version"])
            .arg(format!("={WASM_BINDGEN_VERSION}"))
            .arg("--root")
            .arg(&root)
            .status()
            .unwrap_or_else(|e| panic!("running cargo install: {e}"));
        assert!(
            status.success(),
            "cargo install wasm-bindgen-cli --version ={WASM_BINDGEN_VERSION} --root {} failed",
            root.display()
        );
    }
    runner
}
