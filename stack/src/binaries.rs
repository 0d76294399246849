//! Finds the function binaries: builds them with cargo and reads the executables' paths from
//! cargo's JSON messages, so target dirs, profiles and `CARGO_TARGET_DIR` need no guessing.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot run cargo ({0}); install Rust from https://rustup.rs or pass the binary paths")]
    Spawn(std::io::Error),
    #[error("`cargo {args}` failed with {status}; its errors are printed above")]
    Failed {
        args: String,
        status: std::process::ExitStatus,
    },
    #[error("cargo built no executable named {0}")]
    Missing(String),
}

/// The workspace this crate belongs to.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// `cargo build [--release] -p P... ` in the workspace; returns executable name -> path for
/// every name in `wanted`. Cargo does nothing when they are up to date.
pub fn cargo_build(
    packages: &[&str],
    release: bool,
    wanted: &[&str],
) -> Result<BTreeMap<String, PathBuf>, BuildError> {
    build(packages, release, None, wanted)
}

/// The function binaries (each package's executable of the same name) as Lambda runs them: a
/// release build, static musl for this machine's architecture, as `cargo xtask` builds the
/// deploy zip's `bootstrap`. Static musl also starts in a third of the time of the dynamically
/// linked glibc build (docs/PERFORMANCE.md, "Cold start: the static musl build"). Where that
/// target cannot be had (no rustup, another OS, an architecture rust-toolchain.toml does not
/// list), the host build, with a note on stderr.
pub fn function_binaries(packages: &[&str]) -> Result<BTreeMap<String, PathBuf>, BuildError> {
    let target = static_target();
    if target.is_none() {
        eprintln!(
            "edge-stack: no static musl target for this machine; running the host build of {}",
            packages.join(", ")
        );
    }
    build(packages, true, target.as_deref(), packages)
}

/// `<arch>-unknown-linux-musl` when its standard library is installed, after asking `cargo
/// xtask toolchain` (which knows how rust-toolchain.toml's targets are added) once if it is not.
fn static_target() -> Option<String> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let target = format!("{}-unknown-linux-musl", std::env::consts::ARCH);
    let installed = || {
        Command::new("rustc")
            .current_dir(workspace_root())
            .args(["--print", "target-libdir", "--target", &target])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
            .is_some_and(|dir| dir.is_dir())
    };
    if installed() || (xtask(&["toolchain"]).is_ok() && installed()) {
        Some(target)
    } else {
        None
    }
}

fn build(
    packages: &[&str],
    release: bool,
    target: Option<&str>,
    wanted: &[&str],
) -> Result<BTreeMap<String, PathBuf>, BuildError> {
    let mut args: Vec<String> = vec![
        "build".into(),
        "--message-format=json-render-diagnostics".into(),
    ];
    if release {
        args.push("--release".into());
    }
    if let Some(target) = target {
        args.extend(["--target".to_owned(), target.to_owned()]);
    }
    for p in packages {
        args.extend(["-p".to_owned(), (*p).to_owned()]);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        .args(&args)
        .current_dir(workspace_root())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(BuildError::Spawn)?;
    let mut found = BTreeMap::new();
    if let Some(out) = child.stdout.take() {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if msg["reason"] != "compiler-artifact" {
                continue;
            }
            if let (Some(name), Some(exe)) =
                (msg["target"]["name"].as_str(), msg["executable"].as_str())
            {
                found.insert(name.to_owned(), PathBuf::from(exe));
            }
        }
    }
    let status = child.wait().map_err(BuildError::Spawn)?;
    if !status.success() {
        return Err(BuildError::Failed {
            args: args.join(" "),
            status,
        });
    }
    for w in wanted {
        if !found.contains_key(*w) {
            return Err(BuildError::Missing((*w).to_owned()));
        }
    }
    found.retain(|k, _| wanted.contains(&k.as_str()));
    Ok(found)
}

/// `cargo xtask ARGS...` in the workspace, as a child process: the stack does not link the build
/// tool. Its output goes to the terminal.
pub fn xtask(args: &[&str]) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace_root())
        .args(["run", "--quiet", "--package", "xtask", "--"])
        .args(args)
        .status()
        .map_err(|e| format!("cannot run cargo ({e}); install Rust from https://rustup.rs"))?;
    if !status.success() {
        return Err(format!(
            "`cargo xtask {}` failed with {status}; its errors are printed above",
            args.join(" ")
        ));
    }
    Ok(())
}
