//! What a probe's observations say: per edge environment and overall. Pure: the same
//! observations always give the same statistics.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::observation::{Field, Observation, Start};

/// One edge execution environment as the probe saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeEnvironment {
    pub id: String,
    /// Send time of the first and last request it served, ms since the probe started.
    pub first_seen_ms: f64,
    pub last_seen_ms: f64,
    /// `last_seen_ms - first_seen_ms`: a lower bound of how long its memory lasted.
    pub observed_lifetime_ms: f64,
    /// Probe requests it served.
    pub requests: u64,
    /// Responses that said `cold` (its first invocation): 0 when the probe came after it
    /// started, never more than 1 for one environment.
    pub cold_starts: u64,
    /// Highest invocation number it reported: requests it served, the probe's and others'.
    pub invocations: Option<u64>,
    /// Distinct persisted values it returned (1 when its memory held).
    pub values: Vec<String>,
    /// CloudFront edge locations it was reached through.
    pub pops: Vec<String>,
}

/// Nearest-rank percentiles of the latency of every request, answered or not, in ms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// Requests that failed: no response, or status 400 and up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Errors {
    pub total: u64,
    /// Key: the status (`"503"`) or, without a response, the failure (`"timeout"`).
    pub by_status: BTreeMap<String, u64>,
    /// Key: the `X-Cache` value of failed responses (`"Error from cloudfront"`), `"-"` without.
    pub by_x_cache: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overall {
    pub requests: u64,
    /// Requests that got an HTTP response (any status).
    pub responses: u64,
    pub distinct_environments: u64,
    /// Of the requests that named an edge environment, the share served by one seen before.
    pub reuse_ratio: Option<f64>,
    pub cold_starts: u64,
    /// Of the requests that said cold or warm, the share that said cold.
    pub cold_start_ratio: Option<f64>,
    /// Times a response (in send order) carried another persisted value than the response
    /// before it that had one.
    pub value_changes: u64,
    pub distinct_values: u64,
    pub latency_ms: Option<Latency>,
    pub errors: Errors,
    /// Every response by `X-Cache` (`"-"` without one).
    pub x_cache: BTreeMap<String, u64>,
}

/// How many responses carried each field; the report names the ones none did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldCount {
    pub field: Field,
    pub header: String,
    pub responses: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statistics {
    pub overall: Overall,
    /// By first seen.
    pub environments: Vec<EdgeEnvironment>,
    pub fields: Vec<FieldCount>,
    /// Fields no response carried (when there was at least one response).
    pub missing_fields: Vec<Field>,
}

/// The statistics of `observations` (any order; they are taken in send order).
pub fn statistics(observations: &[Observation]) -> Statistics {
    let mut obs: Vec<&Observation> = observations.iter().collect();
    obs.sort_by_key(|o| o.seq);

    let mut environments: Vec<EdgeEnvironment> = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut with_env, mut reused) = (0u64, 0u64);
    for o in &obs {
        let Some(id) = o.edge_env.as_deref() else {
            continue;
        };
        with_env += 1;
        let i = match index.get(id) {
            Some(&i) => {
                reused += 1;
                i
            }
            None => {
                index.insert(id, environments.len());
                environments.push(EdgeEnvironment {
                    id: id.to_owned(),
                    first_seen_ms: o.sent_ms,
                    last_seen_ms: o.sent_ms,
                    observed_lifetime_ms: 0.0,
                    requests: 0,
                    cold_starts: 0,
                    invocations: None,
                    values: Vec::new(),
                    pops: Vec::new(),
                });
                environments.len() - 1
            }
        };
        let e = &mut environments[i];
        e.first_seen_ms = e.first_seen_ms.min(o.sent_ms);
        e.last_seen_ms = e.last_seen_ms.max(o.sent_ms);
        e.observed_lifetime_ms = e.last_seen_ms - e.first_seen_ms;
        e.requests += 1;
        e.cold_starts += u64::from(o.edge_start == Some(Start::Cold));
        e.invocations = e.invocations.max(o.edge_invocation);
        push_distinct(&mut e.values, o.value.as_deref());
        push_distinct(&mut e.pops, o.pop.as_deref());
    }
    environments.sort_by(|a, b| a.first_seen_ms.total_cmp(&b.first_seen_ms));

    let told_start: Vec<Start> = obs.iter().filter_map(|o| o.edge_start).collect();
    let cold_starts = told_start.iter().filter(|s| **s == Start::Cold).count() as u64;
    let mut values: Vec<&str> = Vec::new();
    let mut value_changes = 0;
    let mut previous: Option<&str> = None;
    for v in obs.iter().filter_map(|o| o.value.as_deref()) {
        if previous.is_some_and(|p| p != v) {
            value_changes += 1;
        }
        previous = Some(v);
        if !values.contains(&v) {
            values.push(v);
        }
    }

    let mut errors = Errors::default();
    let mut x_cache = BTreeMap::new();
    for o in &obs {
        let cache = o.x_cache.clone().unwrap_or_else(|| "-".to_owned());
        if o.status.is_some() {
            *x_cache.entry(cache.clone()).or_default() += 1;
        }
        if o.is_error() {
            errors.total += 1;
            let status = o
                .status
                .map(|s| s.to_string())
                .or_else(|| o.failure.clone())
                .unwrap_or_else(|| "failure".to_owned());
            *errors.by_status.entry(status).or_default() += 1;
            if o.status.is_some() {
                *errors.by_x_cache.entry(cache).or_default() += 1;
            }
        }
    }

    let responses: Vec<&&Observation> = obs.iter().filter(|o| o.status.is_some()).collect();
    let fields: Vec<FieldCount> = Field::ALL
        .iter()
        .map(|&field| FieldCount {
            field,
            header: field.header().to_owned(),
            responses: responses.iter().filter(|o| o.has(field)).count() as u64,
        })
        .collect();
    let missing_fields = if responses.is_empty() {
        Vec::new()
    } else {
        fields
            .iter()
            .filter(|f| f.responses == 0)
            .map(|f| f.field)
            .collect()
    };

    let latencies: Vec<f64> = obs.iter().map(|o| o.latency_ms).collect();
    Statistics {
        overall: Overall {
            requests: obs.len() as u64,
            responses: responses.len() as u64,
            distinct_environments: environments.len() as u64,
            reuse_ratio: ratio(reused, with_env),
            cold_starts,
            cold_start_ratio: ratio(cold_starts, told_start.len() as u64),
            value_changes,
            distinct_values: values.len() as u64,
            latency_ms: latency(latencies),
            errors,
            x_cache,
        },
        environments,
        fields,
        missing_fields,
    }
}

fn push_distinct(list: &mut Vec<String>, value: Option<&str>) {
    if let Some(v) = value
        && !list.iter().any(|x| x == v)
    {
        list.push(v.to_owned());
    }
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Nearest-rank percentile (the smallest value with at least p% of the values at or below it).
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn latency(mut values: Vec<f64>) -> Option<Latency> {
    values.retain(|v| v.is_finite());
    values.sort_by(f64::total_cmp);
    Some(Latency {
        p50: percentile(&values, 50.0)?,
        p90: percentile(&values, 90.0)?,
        p99: percentile(&values, 99.0)?,
        max: *values.last()?,
    })
}

#[cfg(test)]
mod tests;
