//! The platform lines Lambda writes around each invocation, in the function's log format.

use std::time::Duration;

use chrono::Utc;
use edge_persist_core::format_time;

use super::REGION;

/// Milliseconds with two decimals, as the REPORT line prints them.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// `AWS_LAMBDA_LOG_FORMAT`: the format the functions are told to log in, and the format of the
/// platform lines. `Json` is what the project recommends (one JSON object per line); `Text` is
/// Lambda's own default with the classic START / END / REPORT lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    Text,
    #[default]
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("log format {other:?}: expected text or json")),
        }
    }
}

/// How an invocation ended, as `platform.runtimeDone` / `platform.report` and REPORT say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Success,
    /// The function reported an error (`/error`), with its type.
    Error(String),
    Timeout,
    /// The runtime died (`Runtime.ExitError`) or was killed for memory (`Runtime.OutOfMemory`):
    /// the error type, and how it ended (`signal: killed`, `exit status: 1`).
    Failure(String, String),
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error(_) => "error",
            Self::Timeout => "timeout",
            Self::Failure(..) => "failure",
        }
    }

    pub fn error_type(&self) -> Option<&str> {
        match self {
            Self::Error(t) | Self::Failure(t, _) => Some(t),
            Self::Timeout => Some("Sandbox.Timedout"),
            Self::Success => None,
        }
    }
}

/// What the REPORT line (or `platform.report` record) says about one invocation.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    pub request_id: &'a str,
    pub duration: Duration,
    pub memory_mb: u32,
    pub max_used_mb: Option<u64>,
    /// Only on a cold start.
    pub init: Option<Duration>,
    pub status: Status,
}

/// How the Init phase ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitStatus {
    Success,
    Error(String),
    Timeout,
}

fn round2(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

/// Every platform line Lambda writes, in one place: the function's log format decides between
/// the text lines (INIT_START, START, END, REPORT, ...) and the JSON `platform.*` records of
/// the Telemetry API schema (docs/AWS-BEHAVIOUR.md, "The Lambda Runtime API and logs").
impl LogFormat {
    /// The value of `AWS_LAMBDA_LOG_FORMAT`.
    pub fn env_value(self) -> &'static str {
        match self {
            Self::Text => "Text",
            Self::Json => "JSON",
        }
    }

    fn record(kind: &str, record: serde_json::Value) -> String {
        serde_json::json!({"time": format_time(Utc::now()), "type": kind, "record": record})
            .to_string()
    }

    /// When the environment starts its Init phase.
    pub fn init_start(self, function_name: &str, version: &str, runtime: &str) -> Vec<String> {
        vec![match self {
            Self::Text => format!(
                "INIT_START Runtime Version: {runtime}\tRuntime Version ARN: arn:aws:lambda:{REGION}::runtime:{runtime}"
            ),
            Self::Json => Self::record(
                "platform.initStart",
                serde_json::json!({
                    "initializationType": "on-demand",
                    "phase": "init",
                    "runtimeVersion": runtime,
                    "runtimeVersionArn": format!("arn:aws:lambda:{REGION}::runtime:{runtime}"),
                    "functionName": function_name,
                    "functionVersion": version,
                }),
            ),
        }]
    }

    /// When the Init phase ends. In text, a successful init shows only as REPORT's Init
    /// Duration; a failed one gets INIT_REPORT. In JSON, `platform.initRuntimeDone` and
    /// `platform.initReport` every time.
    pub fn init_end(self, duration: Duration, status: &InitStatus) -> Vec<String> {
        let (word, error_type) = match status {
            InitStatus::Success => ("success", None),
            InitStatus::Error(t) => ("error", Some(t.as_str())),
            InitStatus::Timeout => ("timeout", None),
        };
        match self {
            Self::Text => match status {
                InitStatus::Success => vec![],
                _ => {
                    let mut line = format!(
                        "INIT_REPORT Init Duration: {} ms\tPhase: init\tStatus: {word}",
                        ms(duration)
                    );
                    if let Some(t) = error_type {
                        line.push_str(&format!("\tError Type: {t}"));
                    }
                    vec![line]
                }
            },
            Self::Json => {
                let mut done = serde_json::json!({
                    "initializationType": "on-demand", "phase": "init", "status": word,
                });
                if let Some(t) = error_type {
                    done["errorType"] = serde_json::json!(t);
                }
                let mut report = done.clone();
                report["metrics"] = serde_json::json!({"durationMs": round2(duration)});
                vec![
                    Self::record("platform.initRuntimeDone", done),
                    Self::record("platform.initReport", report),
                ]
            }
        }
    }

    pub fn start(self, request_id: &str, version: &str) -> String {
        match self {
            Self::Text => format!("START RequestId: {request_id} Version: {version}"),
            Self::Json => Self::record(
                "platform.start",
                serde_json::json!({"requestId": request_id, "version": version}),
            ),
        }
    }

    /// The lines between the function's output and END when it failed: the timeout message, or
    /// the runtime's exit. In JSON the `platform.runtimeDone` record says it.
    pub fn failure(self, request_id: &str, status: &Status, timeout: Duration) -> Vec<String> {
        match (self, status) {
            (Self::Text, Status::Timeout) => vec![format!(
                "{} {request_id} Task timed out after {:.2} seconds",
                format_time(Utc::now()),
                timeout.as_secs_f64()
            )],
            (Self::Text, Status::Failure(t, how)) => vec![
                format!("RequestId: {request_id} Error: Runtime exited with error: {how}"),
                t.clone(),
            ],
            _ => vec![],
        }
    }

    /// END in text; in JSON the end of an invocation is the `platform.runtimeDone` record, with
    /// its metrics.
    pub fn end(self, request_id: &str, status: &Status, duration: Duration) -> String {
        match self {
            Self::Text => format!("END RequestId: {request_id}"),
            Self::Json => {
                let mut record = serde_json::json!({
                    "requestId": request_id,
                    "status": status.as_str(),
                    "metrics": {"durationMs": round2(duration)},
                });
                if let Some(t) = status.error_type() {
                    record["errorType"] = serde_json::json!(t);
                }
                Self::record("platform.runtimeDone", record)
            }
        }
    }

    pub fn report(self, r: &Report<'_>) -> String {
        match self {
            Self::Text => {
                let mut line =
                    report_line(r.request_id, r.duration, r.memory_mb, r.max_used_mb, r.init);
                match &r.status {
                    Status::Timeout => line.push_str("Status: timeout"),
                    Status::Failure(t, _) => {
                        line.push_str(&format!("Status: error\tError Type: {t}"));
                    }
                    _ => {}
                }
                line
            }
            Self::Json => {
                let mut metrics = serde_json::json!({
                    "durationMs": round2(r.duration),
                    "billedDurationMs": billed_ms(r.duration, r.init),
                    "memorySizeMB": r.memory_mb,
                    "maxMemoryUsedMB": r.max_used_mb,
                });
                if let Some(init) = r.init {
                    metrics["initDurationMs"] = serde_json::json!(round2(init));
                }
                let mut record = serde_json::json!({
                    "requestId": r.request_id, "metrics": metrics, "status": r.status.as_str(),
                });
                if let Some(t) = r.status.error_type() {
                    record["errorType"] = serde_json::json!(t);
                }
                Self::record("platform.report", record)
            }
        }
    }
}

fn billed_ms(duration: Duration, init: Option<Duration>) -> u128 {
    (duration + init.unwrap_or_default())
        .as_micros()
        .div_ceil(1000)
}

/// The REPORT line. Billed Duration rounds up to the millisecond and, as Lambda has billed since
/// August 2025, includes the init phase of a cold start.
pub fn report_line(
    request_id: &str,
    duration: Duration,
    memory_mb: u32,
    max_used_mb: Option<u64>,
    init: Option<Duration>,
) -> String {
    let billed_ms = billed_ms(duration, init);
    let used = max_used_mb.map_or_else(|| "-".to_owned(), |m| m.to_string());
    let mut line = format!(
        "REPORT RequestId: {request_id}\tDuration: {} ms\tBilled Duration: {billed_ms} ms\tMemory Size: {memory_mb} MB\tMax Memory Used: {used} MB\t",
        ms(duration)
    );
    if let Some(init) = init {
        line.push_str(&format!("Init Duration: {} ms\t", ms(init)));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_has_init_only_when_cold() {
        let warm = report_line("r", Duration::from_micros(1_234), 128, Some(20), None);
        assert_eq!(
            warm,
            "REPORT RequestId: r\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\t"
        );
        let cold = report_line(
            "r",
            Duration::from_millis(2),
            128,
            Some(20),
            Some(Duration::from_micros(15_500)),
        );
        assert!(cold.ends_with("Billed Duration: 18 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\tInit Duration: 15.50 ms\t"), "{cold}");
    }

    #[test]
    fn json_records_carry_the_same_metrics() {
        let r = Report {
            request_id: "r",
            duration: Duration::from_micros(1_234),
            memory_mb: 128,
            max_used_mb: Some(20),
            init: Some(Duration::from_micros(15_500)),
            status: Status::Success,
        };
        let v: serde_json::Value = serde_json::from_str(&LogFormat::Json.report(&r)).unwrap();
        assert_eq!(v["type"], "platform.report");
        let m = &v["record"]["metrics"];
        assert_eq!(
            (
                m["durationMs"].as_f64(),
                m["billedDurationMs"].as_u64(),
                m["initDurationMs"].as_f64()
            ),
            (Some(1.23), Some(17), Some(15.5))
        );
        let warm = LogFormat::Json.report(&Report {
            init: None,
            ..r.clone()
        });
        assert!(!warm.contains("initDurationMs"), "{warm}");
        let timeout = LogFormat::Text.report(&Report {
            status: Status::Timeout,
            ..r.clone()
        });
        assert!(timeout.ends_with("\tStatus: timeout"), "{timeout}");
        let oom = LogFormat::Text.report(&Report {
            status: Status::Failure("Runtime.OutOfMemory".into(), "signal: killed".into()),
            ..r
        });
        assert!(
            oom.ends_with("\tStatus: error\tError Type: Runtime.OutOfMemory"),
            "{oom}"
        );
        assert_eq!("TEXT".parse::<LogFormat>(), Ok(LogFormat::Text));
        assert!("xml".parse::<LogFormat>().is_err());
    }
}
