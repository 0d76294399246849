//! Header injection into a CloudFront request.

use crate::cloudfront::{HeaderEntry, Request};
use crate::config::{Config, ConfigError};
use crate::edge_headers;
use crate::environment::Invocation;
use crate::headers::{self, HeaderError};
use crate::session::Visit;

/// A validated [`Config`]: the only way to inject headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injector {
    config: Config,
}

impl Injector {
    /// Validate `config` ([`Config::validate`]) and keep it.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self { config })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The headers for one invocation, as (name as configured, value), from the one table
    /// ([`edge_headers::EDGE_HEADERS`]). `None` values are removed from the request.
    pub fn headers_for(
        &self,
        inv: &Invocation,
        visit: Option<&Visit>,
    ) -> Vec<(&str, Option<String>)> {
        edge_headers::enabled(&self.config)
            .map(|(h, name)| (name, (h.value)(inv, visit)))
            .collect()
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
        for (name, value) in self.headers_for(inv, visit) {
            req.headers.retain(|k, _| !k.eq_ignore_ascii_case(name));
            if let Some(value) = value {
                headers::validate_value(name, &value)?;
                req.headers.insert(
                    name.to_ascii_lowercase(),
                    vec![HeaderEntry::new(name, value)],
                );
            }
        }
        headers::check_request_limits(req)
    }
}
