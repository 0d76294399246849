//! `cargo xtask [lambda-edge|workerd] [--config FILE]`: build the edge wasm packages into `dist/`.

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask [build|lambda-edge|workerd] [--config FILE]
  Builds dist/lambda-edge/ + dist/lambda-edge.zip (Lambda@Edge, Node.js 20/22) and dist/workerd/.
  --config FILE  edge config JSON compiled into the packages (Lambda@Edge has no env vars)";

fn main() -> ExitCode {
    let mut config = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "build" | "lambda-edge" | "workerd" => {}
            "--config" => match args.next() {
                Some(path) => config = Some(PathBuf::from(path)),
                None => return usage("--config needs a file"),
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => return usage(&format!("unknown argument {other:?}")),
        }
    }
    match xtask::build(config.as_deref()) {
        Ok(built) => {
            let le = &built.lambda_edge;
            println!(
                "{}: {} bytes (budget {}); .wasm {} bytes (target {}), index.mjs {} bytes",
                le.zip.display(),
                le.zip_bytes,
                xtask::ZIP_BUDGET_BYTES,
                le.wasm_bytes,
                xtask::WASM_TARGET_BYTES,
                le.index_bytes
            );
            println!(
                "{}: worker.mjs + glue + .wasm for workerd",
                built.workerd.dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("xtask: {problem}\n{USAGE}");
    ExitCode::from(2)
}
