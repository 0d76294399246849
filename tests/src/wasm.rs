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

/// The pinned `workerd` binary from `wasm/node_modules`.
pub fn workerd() -> PathBuf {
    xtask::tools::bin("workerd").unwrap_or_else(|e| panic!("{e}"))
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
