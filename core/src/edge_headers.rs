//! The one table of the headers the edge sets on a request. Configuration validation, header
//! injection and alb-fn's echo all read it, so a header added here is checked at start, set on
//! every request and shown by the origin, with no second list to forget.

use compact_str::{CompactString, ToCompactString};

use crate::config::Config;
use crate::environment::{Invocation, format_time};
use crate::session::Visit;

/// When a header of the table is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Always: the persisted value.
    Persisted,
    /// With `environment_headers` on.
    Environment,
    /// With `sessions.enabled` on; removed (not set) on requests without a session.
    Session,
}

/// One header the edge sets.
#[derive(Debug, Clone, Copy)]
pub struct EdgeHeader {
    /// The config field naming the header (`persisted_header`, `sessions.hits_header`, ...).
    pub field: &'static str,
    /// Short label alb-fn uses when it echoes the value (`environment_id`, `start`, ...).
    pub label: &'static str,
    pub group: Group,
    /// The configured name.
    pub name: fn(&Config) -> &str,
    /// The value for one invocation; `None` removes the header. A [`CompactString`]: on 64-bit
    /// targets every value but the environment id fits inline, with no allocation.
    pub value: fn(&Invocation, Option<&Visit>) -> Option<CompactString>,
}

/// Every header the edge can set, in the order it sets them.
pub const EDGE_HEADERS: &[EdgeHeader] = &[
    EdgeHeader {
        field: "persisted_header",
        label: "persisted",
        group: Group::Persisted,
        name: |c| &c.persisted_header,
        value: |inv, _| Some((*inv.persisted).into()),
    },
    EdgeHeader {
        field: "environment_id_header",
        label: "environment_id",
        group: Group::Environment,
        name: |c| &c.environment_id_header,
        value: |inv, _| Some((*inv.environment_id).into()),
    },
    EdgeHeader {
        field: "invocation_header",
        label: "invocation",
        group: Group::Environment,
        name: |c| &c.invocation_header,
        value: |inv, _| Some(inv.number.to_compact_string()),
    },
    EdgeHeader {
        field: "temperature_header",
        label: "start",
        group: Group::Environment,
        name: |c| &c.temperature_header,
        value: |inv, _| Some(inv.temperature().into()),
    },
    EdgeHeader {
        field: "age_header",
        label: "age_ms",
        group: Group::Environment,
        name: |c| &c.age_header,
        value: |inv, _| Some(inv.age_ms.to_compact_string()),
    },
    EdgeHeader {
        field: "sessions.state_header",
        label: "session",
        group: Group::Session,
        name: |c| &c.sessions.state_header,
        value: |_, v| v.map(|v| if v.new { "new" } else { "known" }.into()),
    },
    EdgeHeader {
        field: "sessions.first_seen_header",
        label: "session_first_seen",
        group: Group::Session,
        name: |c| &c.sessions.first_seen_header,
        value: |_, v| v.map(|v| format_time(v.first_seen).into()),
    },
    EdgeHeader {
        field: "sessions.hits_header",
        label: "session_hits",
        group: Group::Session,
        name: |c| &c.sessions.hits_header,
        value: |_, v| v.map(|v| v.hits.to_compact_string()),
    },
];

impl Group {
    /// Whether `config` turns this group on.
    pub fn enabled(self, config: &Config) -> bool {
        match self {
            Self::Persisted => true,
            Self::Environment => config.environment_headers,
            Self::Session => config.sessions.enabled,
        }
    }
}

/// The headers `config` sets, each with its configured name.
pub fn enabled(config: &Config) -> impl Iterator<Item = (&'static EdgeHeader, &str)> + '_ {
    EDGE_HEADERS
        .iter()
        .filter(|h| h.group.enabled(config))
        .map(move |h| (h, (h.name)(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_labels_are_unique_and_every_name_field_is_listed() {
        let mut fields: Vec<_> = EDGE_HEADERS.iter().map(|h| h.field).collect();
        let mut labels: Vec<_> = EDGE_HEADERS.iter().map(|h| h.label).collect();
        fields.sort_unstable();
        fields.dedup();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(fields.len(), EDGE_HEADERS.len());
        assert_eq!(labels.len(), EDGE_HEADERS.len());
        // Every `*_header` field of the config (but the token header, which is read, not set)
        // appears in the table: serialise the default config and look.
        let json = serde_json::to_value(Config::default()).unwrap_or_default();
        let mut named = Vec::new();
        for (k, v) in json.as_object().into_iter().flatten() {
            if k.ends_with("_header") {
                named.push(k.clone());
            }
            for (k2, _) in v.as_object().into_iter().flatten() {
                if k2.ends_with("_header") && k2 != "token_header" {
                    named.push(format!("{k}.{k2}"));
                }
            }
        }
        for n in &named {
            assert!(fields.contains(&n.as_str()), "{n} is not in EDGE_HEADERS");
        }
        assert_eq!(named.len(), EDGE_HEADERS.len());
    }
}
