//! External tools: node/npm from the machine, the pinned npm packages in `wasm/node_modules`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::{Error, workspace_root};

/// What a fresh machine lacks most often: say exactly what to install.
const NODE_HINT: &str =
    "install Node.js 20 or 22 with npm (e.g. `apt-get install nodejs npm`, or from nodejs.org)";

/// `node` on PATH, at least v20 (the oldest Lambda@Edge runtime we target).
pub fn node() -> Result<PathBuf, Error> {
    let version = capture(Command::new("node").arg("--version")).map_err(|e| {
        format!("`node` is needed for the wasm packages and their tests but {e}; {NODE_HINT}")
    })?;
    let major: u32 = version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 20 {
        return Err(format!(
            "node {} is too old: Lambda@Edge runs Node.js 20 or 22; {NODE_HINT}",
            version.trim()
        )
        .into());
    }
    Ok(PathBuf::from("node"))
}

fn npm() -> Result<(), Error> {
    capture(Command::new("npm").arg("--version"))
        .map(drop)
        .map_err(|e| {
            format!("`npm` is needed to install the pinned wasm tooling but {e}; {NODE_HINT}")
                .into()
        })
}

/// `wasm/node_modules`, installed from the committed lock file when missing or stale. Callers
/// hold the build lock, so concurrent test binaries run `npm ci` once.
pub fn node_modules() -> Result<PathBuf, Error> {
    node()?;
    let wasm = workspace_root().join("wasm");
    let modules = wasm.join("node_modules");
    // npm writes this copy of the lock after a successful install; an older one means the
    // committed lock changed since.
    let installed = modules.join(".package-lock.json");
    if !is_newer(&installed, &wasm.join("package-lock.json")) {
        npm()?;
        eprintln!(
            "xtask: installing pinned wasm tooling (npm ci) into {}",
            modules.display()
        );
        // Install scripts are not needed: the platform binaries come as npm optional packages.
        run(Command::new("npm")
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
            .current_dir(&wasm))?;
    }
    Ok(modules)
}

pub fn bin(name: &str) -> Result<PathBuf, Error> {
    let path = node_modules()?.join(".bin").join(name);
    if !path.exists() {
        return Err(format!(
            "{} is missing after npm ci: delete wasm/node_modules and retry",
            path.display()
        )
        .into());
    }
    Ok(path)
}

fn is_newer(a: &Path, b: &Path) -> bool {
    let modified = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
    matches!((modified(a), modified(b)), (Some(a), Some(b)) if a >= b)
}

/// Run to completion, inheriting stdout/stderr so a failure explains itself.
pub fn run(cmd: &mut Command) -> Result<(), Error> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    if !status.success() {
        return Err(format!("{cmd:?} failed: {status}").into());
    }
    Ok(())
}

/// Run and return stdout; the error says "is not installed" when the program is missing.
pub fn capture(cmd: &mut Command) -> Result<String, String> {
    match cmd.output() {
        Ok(Output {
            status,
            stdout,
            stderr,
        }) if status.success() => {
            let _ = stderr;
            Ok(String::from_utf8_lossy(&stdout).into_owned())
        }
        Ok(out) => Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err("it is not installed (not found on PATH)".into())
        }
        Err(e) => Err(format!("it cannot be started: {e}")),
    }
}
