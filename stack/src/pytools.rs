//! Pinned Python packages installed by the project into a venv under `.tools/`, once per
//! checkout: a later run reuses the venv while its requirements file is unchanged, and parallel
//! processes install once (file lock). Needs only `python3` (3.9 or newer) on the machine. The
//! deploy checks use it for their tools (`infra/requirements.txt`), the stack for Lambda's
//! Python runtime interface client (`stack/runtimes/python-requirements.txt`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::binaries::workspace_root;

/// `.tools/<name>/bin`, with the packages of `requirements` installed.
pub fn venv_bin(name: &str, requirements: &Path) -> Result<PathBuf, String> {
    let tools = workspace_root().join(".tools");
    let venv = tools.join(name);
    let wanted = std::fs::read_to_string(requirements)
        .map_err(|e| format!("reading {}: {e}", requirements.display()))?;
    std::fs::create_dir_all(&tools).map_err(|e| format!("creating {}: {e}", tools.display()))?;
    let lock_path = tools.join(format!("{name}.lock"));
    let lock = std::fs::File::create(&lock_path)
        .map_err(|e| format!("creating {}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("locking {}: {e}", lock_path.display()))?;
    let stamp = venv.join("installed-requirements.txt");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        install(&venv, requirements)?;
        std::fs::write(&stamp, &wanted).map_err(|e| format!("writing {}: {e}", stamp.display()))?;
    }
    Ok(venv.join("bin"))
}

fn install(venv: &Path, requirements: &Path) -> Result<(), String> {
    eprintln!(
        "installing the pinned Python packages of {} into {} (once)",
        requirements.display(),
        venv.display()
    );
    let _ = std::fs::remove_dir_all(venv);
    let python = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
    let status = Command::new(&python)
        .args(["-m", "venv"])
        .arg(venv)
        .status()
        .map_err(|e| format!("`python3` cannot be started ({e}); install Python 3.9+ with venv (e.g. `apt-get install python3 python3-venv`)"))?;
    if !status.success() {
        return Err(format!("python3 -m venv {} failed", venv.display()));
    }
    let status = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(requirements)
        .status()
        .map_err(|e| format!("running pip: {e}"))?;
    if !status.success() {
        return Err(format!(
            "pip install -r {} failed (PyPI reachable?)",
            requirements.display()
        ));
    }
    Ok(())
}
