//! `cargo xtask [lambda-edge|workerd] [--config FILE]`: build the edge wasm packages into `dist/`.

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask [build|lambda-edge|workerd] [--config FILE]
       cargo xtask toolchain
  Builds dist/lambda-edge/ + dist/lambda-edge.zip (Lambda@Edge, Node.js 20/22) and dist/workerd/.
  --config FILE  edge config JSON compiled into the packages (Lambda@Edge has no env vars)
  toolchain      adds the targets and components rust-toolchain.toml lists to the pinned
                 toolchain (rustup does not when the toolchain is already installed)";

fn main() -> ExitCode {
    let mut config = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "build" | "lambda-edge" | "workerd" => {}
            "toolchain" => return toolchain(),
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

fn toolchain() -> ExitCode {
    if !xtask::rustup_available() {
        eprintln!("xtask: rustup is not on PATH; install Rust with rustup (https://rustup.rs)");
        return ExitCode::FAILURE;
    }
    let pinned = xtask::Toolchain::pinned().and_then(|p| xtask::ensure_toolchain().map(|()| p));
    match pinned {
        Ok(p) => {
            println!(
                "toolchain {}: targets [{}], components [{}] installed",
                p.channel,
                p.targets.join(", "),
                p.components.join(", ")
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
