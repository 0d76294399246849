//! The pinned Python tools of the deploy checks (`infra/requirements.txt`: awscli v1, cfn-lint,
//! moto), installed by the project into a venv at `.tools/py`, once per checkout: a later run
//! reuses it while the requirements file is unchanged. Parallel test processes install once
//! (file lock). Needs only `python3` (3.9 or newer) on the machine.

use std::path::{Path, PathBuf};
use std::process::Command;

use edge_stack::binaries::workspace_root;

/// `.tools/py/bin`, with the pinned tools in it.
pub fn bin_dir() -> PathBuf {
    let tools = workspace_root().join(".tools");
    let venv = tools.join("py");
    let requirements = workspace_root().join("infra/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .unwrap_or_else(|e| panic!("reading {}: {e}", requirements.display()));
    std::fs::create_dir_all(&tools).unwrap_or_else(|e| panic!("creating .tools: {e}"));
    let lock = std::fs::File::create(tools.join("py.lock")).expect("lock file");
    lock.lock().expect("locking .tools/py.lock");
    let stamp = venv.join("installed-requirements.txt");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        install(&venv, &requirements);
        std::fs::write(&stamp, &wanted).expect("writing the install stamp");
    }
    venv.join("bin")
}

fn install(venv: &Path, requirements: &Path) {
    eprintln!(
        "installing the pinned Python tools ({}) into {} (once; about a minute)",
        requirements.display(),
        venv.display()
    );
    let _ = std::fs::remove_dir_all(venv);
    let python = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
    let status = Command::new(&python)
        .args(["-m", "venv"])
        .arg(venv)
        .status()
        .unwrap_or_else(|e| {
            panic!("`python3` is needed for the deploy checks but cannot be started ({e}); install Python 3.9+ with venv (e.g. `apt-get install python3 python3-venv`)")
        });
    assert!(
        status.success(),
        "python3 -m venv {} failed",
        venv.display()
    );
    let status = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(requirements)
        .status()
        .expect("running pip");
    assert!(
        status.success(),
        "pip install -r {} failed (PyPI reachable?)",
        requirements.display()
    );
}
