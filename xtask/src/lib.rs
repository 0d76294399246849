//! Build tasks for the edge wasm packages, as a library so the integration tests build exactly
//! what `cargo xtask` builds.
//!
//! wasm-bindgen runs in-process (`wasm-bindgen-cli-support`, pinned to the macro's version), so a
//! fresh machine needs no `cargo install wasm-bindgen-cli`. The JS tools (wasm-opt, esbuild,
//! workerd) are pinned npm packages installed into `wasm/node_modules` on first use.

pub mod alb;
mod package;
mod toolchain;
pub mod tools;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;

pub use alb::{AlbFn, Arch};
pub use package::{LambdaEdge, Workerd};
pub use toolchain::{Toolchain, ensure_target, ensure_toolchain, rustup_available};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Viewer-trigger package budget, 1 MB compressed (docs/AWS-BEHAVIOUR.md, "Lambda@Edge: what a
/// function may be").
pub const ZIP_BUDGET_BYTES: u64 = 1024 * 1024;
/// Size goal for the edge `.wasm` (docs/PERFORMANCE.md, "wasm"); printed, not enforced.
pub const WASM_TARGET_BYTES: u64 = 150 * 1024;
/// Basename of the wasm-bindgen outputs: `<STEM>.js` and `<STEM>_bg.wasm`.
pub const STEM: &str = "edge_persist_wasm";

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The wasm-bindgen package (glue + optimised `.wasm`): `wasm/pkg/`.
pub fn pkg_dir() -> PathBuf {
    workspace_root().join("wasm").join("pkg")
}

pub fn dist_dir() -> PathBuf {
    workspace_root().join("dist")
}

/// Everything the tests and `cargo xtask` build: both packages with the default config.
#[derive(Debug, Clone)]
pub struct Built {
    pub lambda_edge: LambdaEdge,
    pub workerd: Workerd,
}

/// Build both packages under an exclusive file lock, so parallel test binaries (and a developer's
/// `cargo xtask` at the same time) never write half a package another one is reading.
pub fn build(config: Option<&Path>) -> Result<Built, Error> {
    build_into(&dist_dir(), config)
}

/// [`build`] into another directory than `dist/` (tests of other configs).
pub fn build_into(dist: &Path, config: Option<&Path>) -> Result<Built, Error> {
    // Validate before anything slow: a bad config fails at once with its own message.
    let config_json = package::config_json(config)?;
    let _lock = lock()?;
    build_wasm()?;
    let lambda_edge = package::lambda_edge(dist, &config_json)?;
    let workerd = package::workerd(dist, &config_json)?;
    Ok(Built {
        lambda_edge,
        workerd,
    })
}

/// alb-fn's `provided.al2023` zip for `arch`, into `dist` (`dist/alb-fn.zip`), under the same
/// lock as [`build_into`].
pub fn build_alb_fn(dist: &Path, arch: Arch) -> Result<AlbFn, Error> {
    let _lock = lock()?;
    fs::create_dir_all(dist)?;
    alb::alb_fn(dist, arch)
}

/// Write a zip through a temporary file renamed over `zip`: a reader (the local stack unpacking
/// `dist/*.zip` while another build runs) sees the old file or the new one, never half of one.
pub(crate) fn write_zip_atomically(
    zip: &Path,
    write: impl FnOnce(File) -> Result<(), Error>,
) -> Result<(), Error> {
    let partial = zip.with_extension("zip.partial");
    write(File::create(&partial)?)?;
    fs::rename(&partial, zip)?;
    Ok(())
}

fn lock() -> Result<File, Error> {
    let dir = target_dir();
    fs::create_dir_all(&dir)?;
    let file = File::create(dir.join("xtask.lock"))?;
    file.lock()?;
    Ok(file)
}

/// wasm-opt's flags for the edge `.wasm` (docs/PERFORMANCE.md, "The wasm edge: size and the floor
/// of a text boundary": `-O3` and `--converge` measured, not better). Part of the package's stamp,
/// so a change to them rebuilds it.
const WASM_OPT_ARGS: &[&str] = &["-Oz", "--strip-debug", "--strip-producers"];

/// cargo build (wasm32, `wasm-release` profile) -> wasm-bindgen (web target) -> wasm-opt -Oz,
/// into `wasm/pkg`.
/// wasm-opt (binaryen compiled to wasm, run by node) takes seconds, so the package is reused while
/// the module cargo built is byte-for-byte the same.
fn build_wasm() -> Result<(), Error> {
    ensure_toolchain()?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    tools::run(Command::new(cargo).current_dir(workspace_root()).args([
        "build",
        "--quiet",
        "--package",
        "edge-persist-wasm",
        "--lib",
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        "wasm-release",
    ]))?;
    let raw = target_dir()
        .join("wasm32-unknown-unknown/wasm-release")
        .join(format!("{STEM}.wasm"));
    let pkg = pkg_dir();
    let bg = pkg.join(format!("{STEM}_bg.wasm"));
    let stamp_file = pkg.join(".stamp");
    let stamp = stamp(&[
        &fs::read(&raw)?,
        env!("CARGO_PKG_VERSION").as_bytes(),
        WASM_OPT_ARGS.join(" ").as_bytes(),
    ]);
    if bg.exists()
        && pkg.join(format!("{STEM}.js")).exists()
        && fs::read_to_string(&stamp_file).ok().as_deref() == Some(&stamp)
    {
        return Ok(());
    }
    fs::create_dir_all(&pkg)?;
    // The web target's `initSync({ module })` is the one glue that loads in Node (from bytes
    // read beside index.mjs) and in workerd (a `wasm` module import) alike.
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&raw)
        .web(true)?
        .typescript(false)
        // Exposes `__wbg_reset_state()`: a fresh instance after a trap poisoned the old one.
        .reset_state_function(true)
        .generate(&pkg)?;
    tools::run(
        Command::new(tools::bin("wasm-opt")?)
            .args(WASM_OPT_ARGS)
            .arg(&bg)
            .arg("-o")
            .arg(&bg),
    )?;
    fs::write(stamp_file, stamp)?;
    Ok(())
}

/// A content stamp for "is this output still current"; not a security boundary.
pub(crate) fn stamp(parts: &[&[u8]]) -> String {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    parts.hash(&mut h);
    format!("{:016x}", h.finish())
}
