//! `cargo xtask [build|lambda-edge|workerd|alb-fn] [--config FILE] [--arch x86_64|arm64]`: build
//! the deployable packages into `dist/`.

use std::path::PathBuf;
use std::process::ExitCode;

use xtask::Arch;

const USAGE: &str =
    "usage: cargo xtask [build|lambda-edge|workerd|alb-fn] [--config FILE] [--arch ARCH]
  build (default)  all of the below
  lambda-edge      dist/lambda-edge/ + dist/lambda-edge.zip (Lambda@Edge, Node.js 20/22)
  workerd          dist/workerd/ (built with lambda-edge)
  alb-fn           dist/alb-fn/bootstrap + dist/alb-fn.zip (Lambda provided.al2023, static musl)
  --config FILE    edge config JSON compiled into the edge packages (Lambda@Edge has no env vars)
  --arch ARCH      alb-fn's architecture: x86_64 (default) or arm64 (Graviton)
       cargo xtask toolchain
  toolchain        adds the targets and components rust-toolchain.toml lists to the pinned
                   toolchain (rustup does not when the toolchain is already installed)";

fn main() -> ExitCode {
    let mut config = None;
    let mut arch = Arch::X86_64;
    let (mut edge, mut alb) = (false, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "build" => (edge, alb) = (true, true),
            "lambda-edge" | "workerd" => edge = true,
            "alb-fn" => alb = true,
            "toolchain" => return toolchain(),
            "--config" => match args.next() {
                Some(path) => config = Some(PathBuf::from(path)),
                None => return usage("--config needs a file"),
            },
            "--arch" => match args.next().map(|a| Arch::parse(&a)) {
                Some(Ok(a)) => arch = a,
                Some(Err(e)) => return usage(&e.to_string()),
                None => return usage("--arch needs x86_64 or arm64"),
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => return usage(&format!("unknown argument {other:?}")),
        }
    }
    if !edge && !alb {
        (edge, alb) = (true, true);
    }
    match run(edge, alb, config, arch) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(edge: bool, alb: bool, config: Option<PathBuf>, arch: Arch) -> Result<(), xtask::Error> {
    if edge {
        let built = xtask::build(config.as_deref())?;
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
    }
    if alb {
        let a = xtask::build_alb_fn(&xtask::dist_dir(), arch)?;
        println!(
            "{}: {} bytes; bootstrap {} bytes, {} static musl (deploy with OriginArchitecture={})",
            a.zip.display(),
            a.zip_bytes,
            a.bootstrap_bytes,
            a.arch.lambda_name(),
            a.arch.lambda_name()
        );
    }
    Ok(())
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
