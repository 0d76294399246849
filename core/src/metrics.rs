//! Store statistics as CloudWatch Embedded Metric Format (EMF) lines, rate limited.
//!
//! An EMF line is a JSON object with an `_aws` member, printed on its own line to stdout;
//! CloudWatch Logs turns it into metrics. Counters are sent as deltas since the previous line,
//! so that CloudWatch's Sum is meaningful; entries and bytes are gauges.

use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};

use crate::session::StoreStats;

/// Namespace of our metrics in CloudWatch.
pub const NAMESPACE: &str = "EdgePersist";

/// Emits at most once per `every_invocations` invocations or `every_ms` milliseconds,
/// whichever comes first. The first call emits.
#[derive(Debug)]
pub struct MetricsGate {
    every_invocations: u64,
    every_ms: i64,
    last: Mutex<Option<Last>>,
}

#[derive(Debug, Clone, Copy)]
struct Last {
    at_ms: i64,
    invocation: u64,
    stats: StoreStats,
}

impl MetricsGate {
    pub fn new(every_invocations: u64, every_ms: u64) -> Self {
        Self {
            every_invocations: every_invocations.max(1),
            every_ms: i64::try_from(every_ms).unwrap_or(i64::MAX),
            last: Mutex::new(None),
        }
    }

    /// The EMF line to log now, if one is due. `invocation` is the environment's invocation count;
    /// `stats` is read only when a line is due (it visits every shard of the store).
    pub fn poll(
        &self,
        function: &str,
        invocation: u64,
        stats: impl FnOnce() -> StoreStats,
        now: DateTime<Utc>,
    ) -> Option<String> {
        let now_ms = now.timestamp_millis();
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let previous = match *last {
            Some(l)
                if invocation.saturating_sub(l.invocation) < self.every_invocations
                    && now_ms - l.at_ms < self.every_ms =>
            {
                return None;
            }
            Some(l) => l.stats,
            None => StoreStats::default(),
        };
        let stats = stats();
        *last = Some(Last {
            at_ms: now_ms,
            invocation,
            stats,
        });
        Some(emf_line(function, &stats, &previous, now_ms))
    }
}

/// The document's metrics as it declares them: name and unit.
const METRICS: [(&str, &str); 7] = [
    ("SessionEntries", "Count"),
    ("SessionBytes", "Bytes"),
    ("SessionBudgetBytes", "Bytes"),
    ("SessionHits", "Count"),
    ("SessionMisses", "Count"),
    ("SessionEvictions", "Count"),
    ("SessionExpirations", "Count"),
];

/// One EMF document, one line: gauges as they are, counters as deltas from `previous`.
///
/// Written out here rather than built as a `serde_json::Value` (`json!`, 8 KB of the edge's
/// `.wasm`); the members come in the order a `Value`'s sorted map wrote them, so the line is
/// byte for byte what it was (the test below pins it).
pub fn emf_line(function: &str, stats: &StoreStats, previous: &StoreStats, now_ms: i64) -> String {
    use std::fmt::Write as _;
    let delta = |now: u64, before: u64| now.saturating_sub(before);
    // Sorted by name, like the members around them.
    let values = [
        ("SessionBudgetBytes", stats.budget),
        ("SessionBytes", stats.bytes),
        ("SessionEntries", stats.entries),
        (
            "SessionEvictions",
            delta(stats.evictions, previous.evictions),
        ),
        (
            "SessionExpirations",
            delta(stats.expirations, previous.expirations),
        ),
        ("SessionHits", delta(stats.hits, previous.hits)),
        ("SessionMisses", delta(stats.misses, previous.misses)),
    ];
    let mut line = String::with_capacity(768);
    line.push_str("{\"FunctionName\":");
    // A &str always serialises: this is serde_json's string escaping.
    line.push_str(&serde_json::to_string(function).unwrap_or_default());
    // `write!` to a String cannot fail.
    for (name, value) in values {
        let _ = write!(line, ",\"{name}\":{value}");
    }
    line.push_str(
        ",\"_aws\":{\"CloudWatchMetrics\":[{\"Dimensions\":[[\"FunctionName\"]],\"Metrics\":[",
    );
    for (i, (name, unit)) in METRICS.iter().enumerate() {
        let comma = if i == 0 { "" } else { "," };
        let _ = write!(line, "{comma}{{\"Name\":\"{name}\",\"Unit\":\"{unit}\"}}");
    }
    let _ = write!(
        line,
        "],\"Namespace\":\"{NAMESPACE}\"}}],\"Timestamp\":{now_ms}}}}}"
    );
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use serde_json::Value;

    #[test]
    fn the_line_is_byte_for_byte_the_emf_document() {
        let stats = StoreStats {
            entries: 3,
            bytes: 1_234,
            budget: 4_000_000,
            hits: 10,
            misses: 7,
            evictions: 2,
            expirations: 1,
        };
        let previous = StoreStats {
            hits: 4,
            misses: 9,
            ..StoreStats::default()
        };
        let line = emf_line("edge \"fn\"", &stats, &previous, 1_795_737_600_123);
        // What `json!` and `Value::to_string` wrote before (serde_json's sorted map).
        let expected = concat!(
            r#"{"FunctionName":"edge \"fn\"","SessionBudgetBytes":4000000,"SessionBytes":1234,"#,
            r#""SessionEntries":3,"SessionEvictions":2,"SessionExpirations":1,"SessionHits":6,"#,
            r#""SessionMisses":0,"_aws":{"CloudWatchMetrics":[{"Dimensions":[["FunctionName"]],"#,
            r#""Metrics":[{"Name":"SessionEntries","Unit":"Count"},{"Name":"SessionBytes","#,
            r#""Unit":"Bytes"},{"Name":"SessionBudgetBytes","Unit":"Bytes"},{"Name":"SessionHits","#,
            r#""Unit":"Count"},{"Name":"SessionMisses","Unit":"Count"},{"Name":"SessionEvictions","#,
            r#""Unit":"Count"},{"Name":"SessionExpirations","Unit":"Count"}],"#,
            r#""Namespace":"EdgePersist"}],"Timestamp":1795737600123}}"#,
        );
        assert_eq!(line, expected);
        let parsed: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            parsed.to_string(),
            line,
            "a JSON object in serde_json's own order"
        );
    }

    #[test]
    fn rate_limited_by_count_or_time_with_deltas() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap();
        let gate = MetricsGate::new(10, 60_000);
        let s = |hits| StoreStats {
            hits,
            entries: 3,
            ..StoreStats::default()
        };
        let first: Value = serde_json::from_str(&gate.poll("f", 1, || s(5), t0).unwrap()).unwrap();
        assert_eq!(
            (
                first["SessionHits"].as_u64(),
                first["SessionEntries"].as_u64()
            ),
            (Some(5), Some(3))
        );
        assert!(
            gate.poll("f", 2, || s(6), t0 + Duration::seconds(1))
                .is_none()
        );
        let by_count: Value = serde_json::from_str(
            &gate
                .poll("f", 11, || s(9), t0 + Duration::seconds(2))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(by_count["SessionHits"], 4, "delta since the last line");
        assert!(
            gate.poll("f", 12, || s(9), t0 + Duration::seconds(3))
                .is_none()
        );
        assert!(
            gate.poll("f", 13, || s(9), t0 + Duration::seconds(63))
                .is_some(),
            "by time"
        );
    }
}
