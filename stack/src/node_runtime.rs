//! The Lambda@Edge package (Node.js + wasm) as Lambda's managed Node.js runtime runs it, for
//! `edge-stack up --edge node-wasm`. The stack does not link the build tool: it runs
//! `cargo xtask lambda-edge` as a child process, as it runs `cargo build` for the native
//! binaries, and finds the package where `cargo xtask` documents it (`dist/lambda-edge/`).

use std::path::{Path, PathBuf};

use crate::binaries::workspace_root;

/// How to start one execution environment of the package: program, arguments and the
/// environment to add. The caller adds `AWS_LAMBDA_RUNTIME_API` and Lambda's other reserved
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
    NodeRuntime {
        program: PathBuf::from("node"),
        args: vec![
            workspace_root()
                .join("wasm/lambda-edge/runtime.mjs")
                .display()
                .to_string(),
        ],
        env: vec![
            ("LAMBDA_TASK_ROOT".into(), package_dir.display().to_string()),
            ("_HANDLER".into(), "index.handler".into()),
        ],
    }
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
