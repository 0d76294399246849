//! Functions in a managed runtime (Node.js, Python) as Lambda runs them: a handler directory
//! (the unpacked zip, `LAMBDA_TASK_ROOT`) and a handler name (`_HANDLER`: `index.handler`,
//! `src/app.handler`, `module.function`). Also the Lambda@Edge package (Node.js + wasm) for
//! `edge-stack up --edge node-wasm`. The stack does not link the build tool: it runs
//! `cargo xtask lambda-edge` as a child process, as it runs `cargo build` for the native
//! binaries, and finds the package where `cargo xtask` documents it (`dist/lambda-edge/`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::binaries::workspace_root;
use crate::function::{FunctionSpec, Runtime};
use crate::logs::LogFormat;

/// The Node.js runtime the project deploys its edge package on (`infra/template.yaml`).
pub const NODEJS: Runtime = Runtime::Nodejs(22);

/// How to start one execution environment of a managed-runtime function: program, arguments and
/// the environment to add. The caller adds `AWS_LAMBDA_RUNTIME_API` and Lambda's other reserved
/// variables (`AWS_LAMBDA_FUNCTION_NAME`, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRuntime {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// Lambda's Node.js runtime imports the handler named by `_HANDLER` (`index.handler`: the
/// `handler` export of `index.mjs`) from `LAMBDA_TASK_ROOT`, the unpacked zip, and serves the
/// Runtime API with it. `wasm/lambda-edge/runtime.mjs` does that job locally (at AWS the managed
/// runtime does; it is not in the zip).
pub fn node_runtime(package_dir: &Path) -> NodeRuntime {
    node_handler(package_dir, "index.handler")
}

/// A Node.js handler directory and handler name (`index.handler`, `src/app.handler`), run by
/// the project's Node.js runtime shim (`wasm/lambda-edge/runtime.mjs`).
pub fn node_handler(task_root: &Path, handler: &str) -> NodeRuntime {
    NodeRuntime {
        program: PathBuf::from("node"),
        args: vec![
            workspace_root()
                .join("wasm/lambda-edge/runtime.mjs")
                .display()
                .to_string(),
        ],
        env: task_env(task_root, handler),
    }
}

/// What Lambda tells every runtime of a function: `LAMBDA_TASK_ROOT` (the unpacked code) and
/// `_HANDLER`.
pub fn task_env(task_root: &Path, handler: &str) -> Vec<(String, String)> {
    vec![
        // Absolute: the environment starts in the task root, so a relative one would not resolve.
        (
            "LAMBDA_TASK_ROOT".into(),
            std::path::absolute(task_root)
                .unwrap_or_else(|_| task_root.to_path_buf())
                .display()
                .to_string(),
        ),
        ("_HANDLER".into(), handler.into()),
    ]
}

/// A Python handler directory and handler name (`module.function`), run as Lambda's Python
/// runtimes run it: AWS's runtime interface client (`python -m awslambdaric module.function`
/// in the task root), installed pinned from PyPI into `.tools/py-lambda` on first use.
pub fn python_handler(task_root: &Path, handler: &str) -> Result<NodeRuntime, String> {
    let requirements = workspace_root().join("stack/runtimes/python-requirements.txt");
    let bin = crate::pytools::venv_bin("py-lambda", &requirements)
        .map_err(|e| format!("installing the Python runtime interface client: {e}"))?;
    Ok(NodeRuntime {
        program: bin.join("python"),
        args: vec!["-m".into(), "awslambdaric".into(), handler.into()],
        env: task_env(task_root, handler),
    })
}

/// A Lambda@Edge function whose code is a handler directory in a managed runtime, with Lambda's
/// defaults (128 MB, Lambda@Edge's viewer-trigger timeout of 5 s, JSON logs, frozen between
/// invocations). A custom runtime is no handler directory: it is refused here.
pub fn edge_function(
    name: &str,
    runtime: Runtime,
    task_root: &Path,
    handler: &str,
) -> Result<FunctionSpec, String> {
    if !task_root.is_dir() {
        return Err(format!(
            "the code of {name} is {}, which is not a directory",
            task_root.display()
        ));
    }
    let launch = match runtime {
        Runtime::Nodejs(_) => node_handler(task_root, handler),
        Runtime::Python(_) => python_handler(task_root, handler)?,
        Runtime::ProvidedAl2023 => {
            return Err(format!(
                "{name}: runtime {} has no handler directory (run a native binary instead)",
                runtime.id()
            ));
        }
    };
    Ok(FunctionSpec {
        name: name.into(),
        program: launch.program,
        args: launch.args,
        runtime,
        env: launch.env,
        memory_mb: 128,
        timeout: Duration::from_secs(5),
        log_format: LogFormat::Json,
        freeze: true,
        edge: true,
    })
}

/// `cargo xtask lambda-edge` in the workspace; returns `dist/lambda-edge/`.
pub fn build_lambda_edge() -> Result<PathBuf, String> {
    crate::binaries::xtask(&["lambda-edge"])?;
    let dir = workspace_root().join("dist/lambda-edge");
    if !dir.join("index.mjs").exists() {
        return Err(format!(
            "cargo xtask built no {}",
            dir.join("index.mjs").display()
        ));
    }
    Ok(dir)
}
