//! Header injection into a CloudFront request.

use crate::cloudfront::{CompactString, HeaderEntry, Request, smallvec};
use crate::config::{Config, ConfigError};
use crate::edge_headers::{self, EdgeHeader};
use crate::environment::Invocation;
use crate::headers::{self, HeaderError};
use crate::session::Visit;

/// A validated [`Config`]: the only way to inject headers.
#[derive(Debug, Clone)]
pub struct Injector {
    config: Config,
    /// The headers this config sets, resolved once here: the warm path looks up no config and
    /// validates and lowercases none of our own names.
    slots: Vec<Slot>,
}

/// One header the config sets.
#[derive(Debug, Clone)]
struct Slot {
    header: &'static EdgeHeader,
    /// As configured: the entry's `key`.
    name: CompactString,
    /// The header map's key.
    lower: CompactString,
}

/// Two injectors are equal when their configs are: the rest is derived from it.
impl PartialEq for Injector {
    fn eq(&self, other: &Self) -> bool {
        self.config == other.config
    }
}

impl Eq for Injector {}

impl Injector {
    /// Validate `config` ([`Config::validate`]) and keep it.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        config.validate()?;
        let slots = edge_headers::enabled(&config)
            .map(|(header, name)| Slot {
                header,
                name: name.into(),
                lower: name.to_ascii_lowercase().into(),
            })
            .collect();
        Ok(Self { config, slots })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether header-map key `key` is one of the headers this config sets, in any letter case.
    pub fn is_ours(&self, key: &str) -> bool {
        self.slots.iter().any(|s| s.lower.eq_ignore_ascii_case(key))
    }

    /// The headers for one invocation, as (name as configured, value), from the one table
    /// ([`edge_headers::EDGE_HEADERS`]). `None` values are removed from the request.
    pub fn headers_for(
        &self,
        inv: &Invocation,
        visit: Option<&Visit>,
    ) -> impl Iterator<Item = (&str, Option<CompactString>)> {
        self.slots
            .iter()
            .map(move |s| (s.name.as_str(), (s.header.value)(inv, visit)))
    }

    /// Set our headers on `req`, replacing any client-sent header of the same name in any letter
    /// case (so a client cannot spoof the persisted value or a session count to the origin), then
    /// check the values and CloudFront's size limits on the result. On error `req` may be
    /// modified: callers keep the original when they need it.
    pub fn apply(
        &self,
        req: &mut Request,
        inv: &Invocation,
        visit: Option<&Visit>,
    ) -> Result<(), HeaderError> {
        // Config validation refuses two of our names equal in any case, so removing every
        // client-sent copy first and then inserting ours is the same as one header at a time.
        if req.headers.keys().any(|k| self.is_ours(k)) {
            req.headers.retain(|k, _| !self.is_ours(k));
        }
        for slot in &self.slots {
            if let Some(value) = (slot.header.value)(inv, visit) {
                headers::validate_value(&slot.name, &value)?;
                req.headers.insert(
                    slot.lower.clone(),
                    smallvec![HeaderEntry {
                        key: Some(slot.name.clone()),
                        value,
                    }],
                );
            }
        }
        headers::check_request_limits(req)
    }
}
