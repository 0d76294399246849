//! What a function is: the program, its settings, and the identity Lambda (or a Lambda@Edge
//! replica) gives it.

use std::path::PathBuf;
use std::time::Duration;

use crate::logs;

/// How to run one function: the program and what Lambda would tell it.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The function's own environment variables (Lambda's "Environment variables").
    pub env: Vec<(String, String)>,
    pub memory_mb: u32,
    pub timeout: Duration,
    pub log_format: logs::LogFormat,
    /// Stop the environment's processes between invocations (SIGSTOP / SIGCONT), as Lambda
    /// freezes an environment; off only to compare or debug.
    pub freeze: bool,
    /// Lambda@Edge: runs as the numbered version 1 (never `$LATEST`), as a replica named
    /// `us-east-1.<name>` logging to `/aws/lambda/us-east-1.<name>`.
    pub edge: bool,
}

/// The version a Lambda@Edge trigger names (a published, numbered one).
pub const EDGE_VERSION: &str = "1";

impl FunctionSpec {
    /// `$LATEST`, or the numbered version a Lambda@Edge replica runs.
    pub fn version(&self) -> &'static str {
        if self.edge { EDGE_VERSION } else { "$LATEST" }
    }

    /// The name the function sees (`AWS_LAMBDA_FUNCTION_NAME`): a replica's carries the Region
    /// it was created in, as its log group does.
    pub fn lambda_name(&self) -> String {
        if self.edge {
            format!("{}.{}", logs::REGION, self.name)
        } else {
            self.name.clone()
        }
    }

    /// The invoked ARN: a Lambda@Edge trigger names a version.
    pub fn arn(&self) -> String {
        let arn = format!(
            "arn:aws:lambda:{}:{}:function:{}",
            logs::REGION,
            logs::ACCOUNT_ID,
            self.name
        );
        if self.edge {
            format!("{arn}:{EDGE_VERSION}")
        } else {
            arn
        }
    }

    /// What INIT_START names as the runtime: the managed runtime for the Node.js launcher, else
    /// the OS-only runtime a custom binary runs on.
    pub fn runtime_version(&self) -> String {
        let program = self
            .program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if program.starts_with("node") {
            "nodejs:22.v1".into()
        } else if program.starts_with("python") {
            "python:3.13.v1".into()
        } else {
            "provided:al2023.v1".into()
        }
    }

    /// What Lambda@Edge refuses of this function: environment variables, a runtime other than
    /// Node.js or Python, a timeout over 30 s (origin triggers). Empty for a regional function.
    pub fn edge_refusals(&self) -> Vec<String> {
        if !self.edge {
            return vec![];
        }
        let mut refused = Vec::new();
        // What a launcher sets for the managed runtime is Lambda's, not the function's.
        let own: Vec<&str> = self
            .env
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !["LAMBDA_TASK_ROOT", "_HANDLER"].contains(k))
            .collect();
        if !own.is_empty() {
            refused.push(format!(
                "environment variables ({}): Lambda@Edge has none",
                own.join(", ")
            ));
        }
        let program = self
            .program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !(program.starts_with("node") || program.starts_with("python")) {
            refused.push(format!(
                "runtime {program:?}: Lambda@Edge runs only the managed Node.js and Python runtimes"
            ));
        }
        if self.timeout > EDGE_MAX_TIMEOUT {
            refused.push(format!(
                "timeout {:?}: origin-request triggers allow at most 30 s",
                self.timeout
            ));
        }
        refused
    }
}

/// Longest timeout of an origin-request Lambda@Edge function (the one trigger the stack runs):
/// from core's per-trigger quota table.
pub const EDGE_MAX_TIMEOUT: Duration = Duration::from_secs(
    edge_persist_core::cloudfront::EventType::OriginRequest
        .quotas()
        .max_timeout_secs,
);
