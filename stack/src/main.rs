//! `edge-stack`: run the local CloudFront -> Lambda@Edge -> ALB -> Lambda stack, recycle its
//! environments, read its logs, probe a URL. Each command lives in its own module under `cli/`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

#[derive(Parser)]
#[command(
    name = "edge-stack",
    version,
    about = "Local CloudFront -> Lambda@Edge -> ALB -> Lambda, with the real function binaries"
)]
struct Cli {
    /// Run directory: log streams and the running stacks' state files.
    #[arg(
        long,
        global = true,
        default_value = "target/edge-stack",
        env = "EDGE_STACK_DIR"
    )]
    dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the functions if needed and run the stack until Ctrl-C.
    Up(Box<cli::up::Up>),
    /// Retire the execution environments of a running stack (all functions, or one).
    Recycle(cli::recycle::Recycle),
    /// Print a function's log streams (`edge-fn` or `alb-fn`).
    Logs(cli::logs::Logs),
    /// Request a URL whose origin is alb-fn and report how long each edge environment kept
    /// its memory.
    Probe(cli::probe::Probe),
    /// Check a CloudFormation template against the Lambda@Edge rules a generic linter misses.
    Validate(cli::validate::Validate),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(up) => cli::up::run(*up, &cli.dir),
        Command::Recycle(args) => cli::recycle::run(args, &cli.dir),
        Command::Logs(args) => cli::logs::run(args, &cli.dir),
        Command::Probe(args) => cli::probe::run(args),
        Command::Validate(args) => cli::validate::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edge-stack: {e}");
            ExitCode::FAILURE
        }
    }
}
