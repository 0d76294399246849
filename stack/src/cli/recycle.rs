//! `edge-stack recycle`: ask a running stack, through its control endpoint, to retire its
//! execution environments.

use std::path::Path;

use clap::Args;

use super::{Result, check_function_name};

#[derive(Args)]
pub struct Recycle {
    /// CloudFront port of the running stack.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// `edge-fn` or `alb-fn`; both when left out.
    function: Option<String>,
}

/// The control address of the stack on `port` and its token, from its state file.
fn control_url(dir: &Path, port: u16) -> Result<(String, String)> {
    let path = edge_stack::stack::state_file(dir, port);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "no stack on port {port} ({}: {e}); start one with `edge-stack up --port {port}`",
            path.display()
        )
    })?;
    let state: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a stack state file: {e}", path.display()))?;
    match (state["control"].as_str(), state["token"].as_str()) {
        (Some(url), Some(token)) => Ok((url.to_owned(), token.to_owned())),
        _ => Err(format!("{} has no control address or token", path.display()).into()),
    }
}

pub fn run(args: Recycle, dir: &Path) -> Result<()> {
    let Recycle { port, function } = args;
    if let Some(f) = &function {
        check_function_name(f)?;
    }
    let (control, token) = control_url(dir, port)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let body = runtime.block_on(async {
        let client = reqwest::Client::builder().no_proxy().build()?;
        let query = function
            .map(|f| format!("?function={f}"))
            .unwrap_or_default();
        let resp = client
            .post(format!("{control}/recycle{query}"))
            .bearer_auth(&token)
            .send()
            .await?;
        let status = resp.status();
        let text = resp.text().await?;
        Ok::<_, reqwest::Error>((status, text))
    });
    let (status, text) = body
        .map_err(|e| format!("stack on port {port} did not answer ({e}); is it still running?"))?;
    if !status.is_success() {
        return Err(format!("recycle failed ({status}): {text}").into());
    }
    println!("{text}");
    Ok(())
}
