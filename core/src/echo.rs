//! The values the origin (alb-fn) hands back to the client in response headers, so a client
//! (curl, `edge-stack probe`) sees persistence without reading CloudWatch. One table: alb-fn
//! copies each edge header named here, and the probe reads the same response header names.

use crate::Config;
use crate::edge_headers::EDGE_HEADERS;

/// A value copied from the request the edge sent to the origin into the origin's response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Echoed {
    /// The persisted value (`persisted_header`).
    Persisted,
    /// The edge execution environment's id (`environment_id_header`).
    EdgeEnvironment,
    /// `cold` or `warm`: whether the request was the edge environment's first invocation
    /// (`temperature_header`).
    EdgeStart,
    /// The invocation number in the edge environment, from 1 (`invocation_header`).
    EdgeInvocation,
    /// `new` or `known`: the session in the edge environment (`sessions.state_header`).
    Session,
    /// The session's requests in the edge environment (`sessions.hits_header`).
    SessionHits,
}

/// Response header carrying the origin function's own environment id (not an echo: alb-fn's
/// own identity).
pub const ORIGIN_ENVIRONMENT_HEADER: &str = "x-persist-origin-env";

impl Echoed {
    pub const ALL: [Echoed; 6] = [
        Echoed::Persisted,
        Echoed::EdgeEnvironment,
        Echoed::EdgeStart,
        Echoed::EdgeInvocation,
        Echoed::Session,
        Echoed::SessionHits,
    ];

    /// The response header alb-fn sets. Fixed names, whatever the edge's config, so a client
    /// needs no configuration to read them.
    pub fn response_header(self) -> &'static str {
        match self {
            Echoed::Persisted => "x-persist-value",
            Echoed::EdgeEnvironment => "x-persist-edge-env",
            Echoed::EdgeStart => "x-persist-edge-start",
            Echoed::EdgeInvocation => "x-persist-edge-invocation",
            Echoed::Session => "x-persist-edge-session",
            Echoed::SessionHits => "x-persist-edge-session-hits",
        }
    }

    /// The config field naming the request header the edge sets (a field of
    /// [`crate::edge_headers::EDGE_HEADERS`], the one table of those names).
    pub fn field(self) -> &'static str {
        match self {
            Echoed::Persisted => "persisted_header",
            Echoed::EdgeEnvironment => "environment_id_header",
            Echoed::EdgeStart => "temperature_header",
            Echoed::EdgeInvocation => "invocation_header",
            Echoed::Session => "sessions.state_header",
            Echoed::SessionHits => "sessions.hits_header",
        }
    }

    /// The request header the edge sets, as `config` names it.
    pub fn request_header(self, config: &Config) -> &str {
        EDGE_HEADERS
            .iter()
            .find(|h| h.field == self.field())
            .map_or("", |h| (h.name)(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_names_are_distinct_valid_and_follow_the_edge_config() {
        let mut names: Vec<&str> = Echoed::ALL.iter().map(|e| e.response_header()).collect();
        names.push(ORIGIN_ENVIRONMENT_HEADER);
        for n in &names {
            assert!(
                http::HeaderName::from_lowercase(n.as_bytes()).is_ok(),
                "{n}"
            );
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Echoed::ALL.len() + 1);
        let config = Config {
            temperature_header: "x-temp".into(),
            ..Config::default()
        };
        assert_eq!(Echoed::EdgeStart.request_header(&config), "x-temp");
        assert_eq!(Echoed::Persisted.request_header(&config), "custom_header");
        // Every echoed value is a header of the edge's one table.
        for e in Echoed::ALL {
            assert!(EDGE_HEADERS.iter().any(|h| h.field == e.field()), "{e:?}");
        }
    }
}
