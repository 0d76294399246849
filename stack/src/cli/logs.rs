//! `edge-stack logs`: print a function's log streams, optionally following them.

use std::path::Path;

use clap::Args;
use edge_stack::logs;

use super::{Result, check_function_name};

#[derive(Args)]
pub struct Logs {
    function: String,
    /// Keep printing new lines.
    #[arg(long, short)]
    follow: bool,
}

pub fn run(args: Logs, dir: &Path) -> Result<()> {
    check_function_name(&args.function)?;
    let root = dir.join("logs");
    let groups = [
        logs::log_group(&args.function, true),
        logs::log_group(&args.function, false),
    ];
    let Some(group) = groups.iter().find(|g| logs::group_dir(&root, g).is_dir()) else {
        return Err(format!(
            "no log group for {:?} under {} (functions: edge-fn, alb-fn; is the stack up?)",
            args.function,
            root.display()
        )
        .into());
    };
    logs::tail(&root, group, args.follow, &mut std::io::stdout().lock())?;
    Ok(())
}
