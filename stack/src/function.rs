//! What a function is: the program, its settings, and the identity Lambda (or a Lambda@Edge
//! replica) gives it.

use std::path::PathBuf;
use std::time::Duration;

use edge_persist_core::cloudfront::EventType;

use crate::logs;

/// The Lambda runtime a function runs on, as CloudFormation's `Runtime` property names it
/// (`nodejs22.x`, `python3.13`, `provided.al2023`). The stack reads it, not the program's file
/// name: what Lambda@Edge refuses and what INIT_START names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Runtime {
    /// A managed Node.js runtime: the major version (`nodejs22.x` is `Nodejs(22)`).
    Nodejs(u8),
    /// A managed Python 3 runtime: the minor version (`python3.13` is `Python(13)`).
    Python(u8),
    /// The OS-only runtime a custom binary runs on (the native edge-fn and alb-fn).
    ProvidedAl2023,
}

impl Runtime {
    /// The runtime CloudFormation names `id`, if the stack knows how to run it.
    pub fn parse(id: &str) -> Option<Self> {
        if id == "provided.al2023" {
            return Some(Self::ProvidedAl2023);
        }
        if let Some(major) = id.strip_prefix("nodejs").and_then(|v| v.strip_suffix(".x")) {
            return major.parse().ok().map(Self::Nodejs);
        }
        id.strip_prefix("python3.")
            .and_then(|minor| minor.parse().ok())
            .map(Self::Python)
    }

    /// CloudFormation's identifier.
    pub fn id(self) -> String {
        match self {
            Self::Nodejs(major) => format!("nodejs{major}.x"),
            Self::Python(minor) => format!("python3.{minor}"),
            Self::ProvidedAl2023 => "provided.al2023".into(),
        }
    }

    /// What INIT_START's `Runtime Version` names.
    pub fn init_start_version(self) -> String {
        match self {
            Self::Nodejs(major) => format!("nodejs:{major}.v1"),
            Self::Python(minor) => format!("python:3.{minor}.v1"),
            Self::ProvidedAl2023 => "provided:al2023.v1".into(),
        }
    }

    /// Lambda@Edge runs only the managed Node.js and Python runtimes.
    pub fn runs_at_the_edge(self) -> bool {
        !matches!(self, Self::ProvidedAl2023)
    }
}

/// How to run one function: the program and what Lambda would tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The Lambda runtime the program emulates (the native binaries: `ProvidedAl2023`).
    pub runtime: Runtime,
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

    /// What INIT_START names as the runtime.
    pub fn runtime_version(&self) -> String {
        self.runtime.init_start_version()
    }

    /// What Lambda@Edge refuses of this function associated with `event`: environment
    /// variables, a runtime other than Node.js or Python, more memory or a longer timeout than
    /// the trigger allows (core's quota table). Empty for a regional function.
    pub fn edge_refusals(&self, event: EventType) -> Vec<String> {
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
        if !self.runtime.runs_at_the_edge() {
            refused.push(format!(
                "runtime {}: Lambda@Edge runs only the managed Node.js and Python runtimes (not deployable to Lambda@Edge)",
                self.runtime.id()
            ));
        }
        let quotas = event.quotas();
        if self.timeout > Duration::from_secs(quotas.max_timeout_secs) {
            refused.push(format!(
                "timeout {:?}: {} triggers allow at most {} s",
                self.timeout,
                event.as_str(),
                quotas.max_timeout_secs
            ));
        }
        if self.memory_mb > quotas.max_memory_mb {
            refused.push(format!(
                "memory {} MB: {} triggers allow at most {} MB",
                self.memory_mb,
                event.as_str(),
                quotas.max_memory_mb
            ));
        }
        refused
    }
}

/// Longest timeout of an origin-request Lambda@Edge function (the trigger `up` associates edge-fn with):
/// from core's per-trigger quota table.
pub const EDGE_MAX_TIMEOUT: Duration = Duration::from_secs(
    edge_persist_core::cloudfront::EventType::OriginRequest
        .quotas()
        .max_timeout_secs,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtimes_round_trip_cloudformation_ids() {
        for id in [
            "nodejs22.x",
            "nodejs20.x",
            "python3.13",
            "python3.9",
            "provided.al2023",
        ] {
            assert_eq!(Runtime::parse(id).map(Runtime::id).as_deref(), Some(id));
        }
        for bad in ["java21", "nodejs22", "python2.7", "provided.al2", ""] {
            assert_eq!(Runtime::parse(bad), None, "{bad}");
        }
        assert_eq!(Runtime::Nodejs(22).init_start_version(), "nodejs:22.v1");
        assert!(!Runtime::ProvidedAl2023.runs_at_the_edge());
    }
}
