//! The probe's report: the JSON document `--json` writes (schema in docs/PROBE.md) and the
//! table printed at the end.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::observation::Observation;
use super::stats::{Statistics, statistics};

/// Version of the JSON document. Raised when a field changes meaning or goes away; new fields
/// may appear without a raise.
pub const SCHEMA_VERSION: u32 = 1;

/// The limits a probe ran under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub max_requests: u64,
    pub max_duration_ms: u64,
    pub concurrency: usize,
    pub rate_per_second: f64,
    pub timeout_ms: u64,
    pub cookie_jar: bool,
    pub user_agent: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub url: String,
    /// RFC 3339 time the first request was sent; `*_ms` fields count from it.
    pub started_at: String,
    pub duration_ms: f64,
    /// Stopped by Ctrl-C before its limits.
    pub interrupted: bool,
    pub settings: Settings,
    #[serde(flatten)]
    pub statistics: Statistics,
    /// Every request, in send order.
    pub observations: Vec<Observation>,
}

impl Report {
    pub fn new(
        url: &str,
        started_at: String,
        duration_ms: f64,
        interrupted: bool,
        settings: Settings,
        mut observations: Vec<Observation>,
    ) -> Self {
        observations.sort_by_key(|o| o.seq);
        Self {
            schema_version: SCHEMA_VERSION,
            url: url.to_owned(),
            started_at,
            duration_ms,
            interrupted,
            settings,
            statistics: statistics(&observations),
            observations,
        }
    }

    /// The table printed at the end of a run.
    pub fn table(&self) -> String {
        let s = &self.statistics;
        let o = &s.overall;
        let mut t = String::new();
        let _ = writeln!(
            t,
            "{} requests to {} in {}{}",
            o.requests,
            self.url,
            secs(self.duration_ms),
            if self.interrupted {
                " (interrupted)"
            } else {
                ""
            }
        );
        if !s.environments.is_empty() {
            let _ = writeln!(
                t,
                "\n{:<10} {:>10} {:>10} {:>10} {:>8} {:>5} {:>8}  pop",
                "edge env", "first", "last", "lifetime", "requests", "cold", "invoc."
            );
            for e in &s.environments {
                let _ = writeln!(
                    t,
                    "{:<10} {:>10} {:>10} {:>10} {:>8} {:>5} {:>8}  {}",
                    short(&e.id),
                    secs(e.first_seen_ms),
                    secs(e.last_seen_ms),
                    secs(e.observed_lifetime_ms),
                    e.requests,
                    e.cold_starts,
                    e.invocations.map_or("-".to_owned(), |n| n.to_string()),
                    if e.pops.is_empty() {
                        "-".to_owned()
                    } else {
                        e.pops.join(",")
                    }
                );
            }
        }
        let pct = |r: Option<f64>| r.map_or("-".to_owned(), |r| format!("{:.1}%", r * 100.0));
        let _ = writeln!(t);
        let _ = writeln!(t, "environments     {}", o.distinct_environments);
        let _ = writeln!(t, "reuse            {}", pct(o.reuse_ratio));
        let _ = writeln!(
            t,
            "cold starts      {} ({})",
            o.cold_starts,
            pct(o.cold_start_ratio)
        );
        let _ = writeln!(
            t,
            "value changes    {} ({} distinct values)",
            o.value_changes, o.distinct_values
        );
        if let Some(l) = &o.latency_ms {
            let _ = writeln!(
                t,
                "latency          p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
                l.p50, l.p90, l.p99, l.max
            );
        }
        let _ = writeln!(t, "errors           {}", o.errors.total);
        for (status, n) in &o.errors.by_status {
            let _ = writeln!(t, "  status {status:<9} {n}");
        }
        for (cache, n) in &o.errors.by_x_cache {
            let _ = writeln!(t, "  x-cache {cache}: {n}");
        }
        for f in &s.missing_fields {
            let _ = writeln!(
                t,
                "not found        {} ({}): no response carried it",
                f.header(),
                f.meaning()
            );
        }
        t
    }
}

/// The first 8 characters of an id, as the stack's access log shows them.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn secs(ms: f64) -> String {
    format!("{:.1}s", ms / 1000.0)
}
