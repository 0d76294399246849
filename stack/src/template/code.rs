//! A template function's code made runnable: the project's own packages (`dist/*.zip`) built
//! with `cargo xtask` first, a zip unpacked into the run directory (executable bits kept), a
//! directory used as it is; then the program Lambda's runtime would start: `bootstrap` for an
//! OS-only runtime (`provided.al2023`), the Node.js launcher for `nodejs*`, AWS's runtime
//! interface client for `python3.*`.

use std::path::{Component, Path, PathBuf};

use super::twin::{Code, Function};
use crate::binaries::{workspace_root, xtask};
use crate::function::Runtime;

/// The project's packages: file under `dist/` -> the `cargo xtask` command that builds it.
const PROJECT_PACKAGES: &[(&str, &str)] =
    &[("lambda-edge.zip", "lambda-edge"), ("alb-fn.zip", "alb-fn")];

/// How to start one environment of the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// What the runtime is told (LAMBDA_TASK_ROOT, _HANDLER), then the function's own variables.
    pub env: Vec<(String, String)>,
    /// The runtime Lambda would run it on.
    pub runtime: Runtime,
}

fn at(f: &Function, key: &str, message: impl std::fmt::Display) -> String {
    format!("Resources.{}.Properties.{key}: {message}", f.id)
}

/// The path without `.` and `..` (the zip may not exist yet, so no `canonicalize`).
fn normalise(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Lambda's name for this machine's instruction set.
fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        other => other,
    }
}

/// Check what can be checked without building: the runtime and the architecture.
pub fn check(f: &Function) -> Result<Runtime, String> {
    let runtime = Runtime::parse(&f.runtime).ok_or_else(|| {
        at(
            f,
            "Runtime",
            format!(
                "{}: this build of the stack runs nodejs*.x, python3.* and provided.al2023 functions",
                f.runtime
            ),
        )
    })?;
    let provided = runtime == Runtime::ProvidedAl2023;
    if provided && f.architectures.iter().any(|a| a != host_architecture()) {
        return Err(at(
            f,
            "Architectures",
            format!(
                "{}: this machine runs {} binaries only",
                f.architectures.join(", "),
                host_architecture()
            ),
        ));
    }
    if !provided && f.handler.is_none() {
        return Err(at(
            f,
            "Handler",
            format!("missing: a {} function needs one", runtime.id()),
        ));
    }
    Ok(runtime)
}

/// Build (the project's packages), unpack and describe how to start `f`. Unpacked code goes to
/// `<run_dir>/code/<logical id>`.
pub fn prepare(f: &Function, run_dir: &Path) -> Result<Launch, String> {
    let runtime = check(f)?;
    let root = match &f.code {
        Code::Dir(dir) => dir.clone(),
        Code::Zip(zip) => {
            let zip = normalise(zip);
            let dist = workspace_root().join("dist");
            let project = PROJECT_PACKAGES
                .iter()
                .find(|(file, _)| zip == dist.join(file));
            if let Some((_, command)) = project {
                // Cargo decides what is stale; the packaging steps are quick.
                let arch = f.architectures.first().map_or("x86_64", String::as_str);
                let mut args = vec![*command];
                if *command == "alb-fn" {
                    args.extend(["--arch", arch]);
                }
                eprintln!("edge-stack: cargo xtask {}", args.join(" "));
                xtask(&args).map_err(|e| at(f, "Code", e))?;
            }
            if !zip.is_file() {
                return Err(at(
                    f,
                    "Code",
                    format!("{} is neither a zip nor a directory", zip.display()),
                ));
            }
            let into = run_dir.join("code").join(&f.id);
            unpack(&zip, &into).map_err(|e| at(f, "Code", e))?;
            into
        }
    };
    let handler = f.handler.clone().unwrap_or_default();
    let managed = match runtime {
        Runtime::ProvidedAl2023 => {
            let bootstrap = root.join("bootstrap");
            if !is_executable(&bootstrap) {
                return Err(at(
                    f,
                    "Code",
                    format!(
                        "no executable bootstrap at the root of {} (an OS-only runtime starts it)",
                        root.display()
                    ),
                ));
            }
            // An OS-only runtime is told the task root and the handler too.
            crate::node_runtime::NodeRuntime {
                program: bootstrap,
                args: vec![],
                env: crate::node_runtime::task_env(&root, &handler),
            }
        }
        Runtime::Nodejs(_) => crate::node_runtime::node_handler(&root, &handler),
        Runtime::Python(_) => {
            crate::node_runtime::python_handler(&root, &handler).map_err(|e| at(f, "Runtime", e))?
        }
    };
    let mut launch = Launch {
        program: managed.program,
        args: managed.args,
        env: managed.env,
        runtime,
    };
    launch.env.extend(f.environment.iter().cloned());
    Ok(launch)
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Unpack `zip` into a fresh `into` (zip's `extract` keeps the Unix modes and refuses paths
/// leaving the directory).
fn unpack(zip: &Path, into: &Path) -> Result<(), String> {
    if into.exists() {
        std::fs::remove_dir_all(into)
            .map_err(|e| format!("cannot clear {}: {e}", into.display()))?;
    }
    std::fs::create_dir_all(into).map_err(|e| format!("cannot create {}: {e}", into.display()))?;
    let file =
        std::fs::File::open(zip).map_err(|e| format!("cannot open {}: {e}", zip.display()))?;
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| format!("{} is not a zip: {e}", zip.display()))?;
    archive
        .extract(into)
        .map_err(|e| format!("cannot unpack {}: {e}", zip.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::time::Duration;

    fn function(runtime: &str, code: Code) -> Function {
        Function {
            id: "F".into(),
            name: "f".into(),
            runtime: runtime.into(),
            handler: Some("index.handler".into()),
            code,
            memory_mb: 128,
            timeout: Duration::from_secs(3),
            environment: vec![("A".into(), "1".into())],
            log_format: crate::logs::LogFormat::Text,
            log_group: None,
            architectures: vec![host_architecture().into()],
        }
    }

    #[test]
    fn a_zip_is_unpacked_with_its_executable_bit() {
        let dir = std::env::temp_dir().join(format!("edge-stack-code-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let zip_path = dir.join("f.zip");
        let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        let exe = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
        w.start_file("bootstrap", exe).unwrap();
        w.write_all(b"#!/bin/sh\n").unwrap();
        w.finish().unwrap();
        let f = function("provided.al2023", Code::Zip(zip_path.clone()));
        let launch = prepare(&f, &dir.join("run")).unwrap();
        assert_eq!(launch.program, dir.join("run/code/F/bootstrap"));
        assert!(is_executable(&launch.program));
        assert_eq!(
            launch.env.last().unwrap(),
            &("A".to_owned(), "1".to_owned())
        );
        // No bootstrap: a clear error naming the property.
        let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        w.start_file("other", exe).unwrap();
        w.finish().unwrap();
        let e = prepare(&f, &dir.join("run")).unwrap_err();
        assert!(
            e.starts_with("Resources.F.Properties.Code: no executable bootstrap"),
            "{e}"
        );
        let e = prepare(
            &function("provided.al2023", Code::Zip(dir.join("missing.zip"))),
            &dir,
        )
        .unwrap_err();
        assert!(e.contains("is neither a zip nor a directory"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn runtimes_the_stack_does_not_run_are_named() {
        let e = check(&function("java21", Code::Dir("/".into()))).unwrap_err();
        assert!(
            e.starts_with("Resources.F.Properties.Runtime: java21"),
            "{e}"
        );
        let mut f = function("provided.al2023", Code::Dir("/".into()));
        f.architectures = vec!["sparc".into()];
        assert!(check(&f).unwrap_err().contains("Properties.Architectures"));
        let node = function("nodejs22.x", Code::Dir("/pkg".into()));
        let launch = prepare(&node, Path::new("/nonexistent")).unwrap();
        assert!(
            launch
                .env
                .contains(&("_HANDLER".into(), "index.handler".into()))
        );
        assert!(
            launch
                .env
                .contains(&("LAMBDA_TASK_ROOT".into(), "/pkg".into()))
        );
    }

    #[test]
    fn paths_are_normalised_lexically() {
        assert_eq!(
            normalise(Path::new("/a/infra/../dist/./x.zip")),
            PathBuf::from("/a/dist/x.zip")
        );
    }
}
