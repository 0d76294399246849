//! One probe request and what its response said, read from the headers alb-fn echoes
//! (`edge_persist_core::echo`) and the ones CloudFront adds.

use edge_persist_core::Echoed;
use edge_persist_core::echo::ORIGIN_ENVIRONMENT_HEADER;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};

/// CloudFront's edge location (POP) that served the request. The local stack sets a fixed id.
pub const POP_HEADER: &str = "x-amz-cf-pop";
/// CloudFront's result (`Miss from cloudfront`, `Error from cloudfront`, ...).
pub const X_CACHE_HEADER: &str = "x-cache";

/// The fields a probe reads from each response, with the header each comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Value,
    EdgeEnvironment,
    EdgeStart,
    EdgeInvocation,
    OriginEnvironment,
    Session,
    Pop,
    XCache,
}

impl Field {
    pub const ALL: [Field; 8] = [
        Field::Value,
        Field::EdgeEnvironment,
        Field::EdgeStart,
        Field::EdgeInvocation,
        Field::OriginEnvironment,
        Field::Session,
        Field::Pop,
        Field::XCache,
    ];

    pub fn header(self) -> &'static str {
        match self {
            Field::Value => Echoed::Persisted.response_header(),
            Field::EdgeEnvironment => Echoed::EdgeEnvironment.response_header(),
            Field::EdgeStart => Echoed::EdgeStart.response_header(),
            Field::EdgeInvocation => Echoed::EdgeInvocation.response_header(),
            Field::OriginEnvironment => ORIGIN_ENVIRONMENT_HEADER,
            Field::Session => Echoed::Session.response_header(),
            Field::Pop => POP_HEADER,
            Field::XCache => X_CACHE_HEADER,
        }
    }

    /// What a missing field costs the report, said plainly.
    pub fn meaning(self) -> &'static str {
        match self {
            Field::Value => "persisted value (value changes)",
            Field::EdgeEnvironment => "edge environment id (environments, lifetimes, reuse)",
            Field::EdgeStart => "cold/warm of the edge environment (cold starts)",
            Field::EdgeInvocation => "invocation number in the edge environment",
            Field::OriginEnvironment => "origin environment id",
            Field::Session => "session state in the edge environment (needs --cookie-jar)",
            Field::Pop => "CloudFront edge location",
            Field::XCache => "CloudFront result",
        }
    }
}

/// `cold` or `warm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Start {
    Cold,
    Warm,
}

/// One request of the probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Request number in send order, from 0.
    pub seq: u64,
    /// When the request was sent, ms since the probe started.
    pub sent_ms: f64,
    /// Time to the whole response (or to the failure), ms.
    pub latency_ms: f64,
    /// HTTP status; absent when there was no response.
    pub status: Option<u16>,
    /// Why there was no response: `timeout`, `connect` or `transport`.
    pub failure: Option<String>,
    pub value: Option<String>,
    pub edge_env: Option<String>,
    pub edge_start: Option<Start>,
    pub edge_invocation: Option<u64>,
    pub origin_env: Option<String>,
    pub session: Option<String>,
    pub pop: Option<String>,
    pub x_cache: Option<String>,
}

impl Observation {
    /// A request that got a response with these headers.
    pub fn answered(seq: u64, sent_ms: f64, latency_ms: f64, status: u16, h: &HeaderMap) -> Self {
        let get = |f: Field| {
            h.get(f.header())
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Self {
            seq,
            sent_ms,
            latency_ms,
            status: Some(status),
            failure: None,
            value: get(Field::Value),
            edge_env: get(Field::EdgeEnvironment),
            edge_start: get(Field::EdgeStart).and_then(|v| match v.as_str() {
                "cold" => Some(Start::Cold),
                "warm" => Some(Start::Warm),
                _ => None,
            }),
            edge_invocation: get(Field::EdgeInvocation).and_then(|v| v.parse().ok()),
            origin_env: get(Field::OriginEnvironment),
            session: get(Field::Session),
            pop: get(Field::Pop),
            x_cache: get(Field::XCache),
        }
    }

    /// A request that got no response.
    pub fn failed(seq: u64, sent_ms: f64, latency_ms: f64, failure: &str) -> Self {
        Self {
            seq,
            sent_ms,
            latency_ms,
            status: None,
            failure: Some(failure.to_owned()),
            value: None,
            edge_env: None,
            edge_start: None,
            edge_invocation: None,
            origin_env: None,
            session: None,
            pop: None,
            x_cache: None,
        }
    }

    /// No response, or a 4xx/5xx one.
    pub fn is_error(&self) -> bool {
        self.status.is_none_or(|s| s >= 400)
    }

    /// Whether the response carried `field`.
    pub fn has(&self, field: Field) -> bool {
        match field {
            Field::Value => self.value.is_some(),
            Field::EdgeEnvironment => self.edge_env.is_some(),
            Field::EdgeStart => self.edge_start.is_some(),
            Field::EdgeInvocation => self.edge_invocation.is_some(),
            Field::OriginEnvironment => self.origin_env.is_some(),
            Field::Session => self.session.is_some(),
            Field::Pop => self.pop.is_some(),
            Field::XCache => self.x_cache.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn reads_the_echoed_and_cloudfront_headers() {
        let mut h = HeaderMap::new();
        for (f, v) in [
            (Field::Value, "2026-11-27T10:00:00.000Z"),
            (Field::EdgeEnvironment, "e1"),
            (Field::EdgeStart, "cold"),
            (Field::EdgeInvocation, "1"),
            (Field::OriginEnvironment, "o1"),
            (Field::Session, "new"),
            (Field::Pop, "LOCAL1-P1"),
            (Field::XCache, "Miss from cloudfront"),
        ] {
            h.insert(f.header(), HeaderValue::from_static(v));
        }
        let o = Observation::answered(3, 10.0, 2.5, 200, &h);
        assert!(Field::ALL.iter().all(|f| o.has(*f)), "{o:?}");
        assert_eq!(o.edge_start, Some(Start::Cold));
        assert_eq!(o.edge_invocation, Some(1));
        assert!(!o.is_error());
    }

    #[test]
    fn unknown_or_empty_values_are_absent_not_errors() {
        let mut h = HeaderMap::new();
        h.insert(Field::EdgeStart.header(), HeaderValue::from_static("tepid"));
        h.insert(
            Field::EdgeInvocation.header(),
            HeaderValue::from_static("x"),
        );
        h.insert(Field::Value.header(), HeaderValue::from_static(""));
        let o = Observation::answered(0, 0.0, 1.0, 503, &h);
        assert!(Field::ALL.iter().all(|f| !o.has(*f)), "{o:?}");
        assert!(o.is_error());
        assert!(Observation::failed(1, 0.0, 1.0, "timeout").is_error());
    }
}
