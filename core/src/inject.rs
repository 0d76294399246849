//! Header injection into a CloudFront request.

use crate::cloudfront::{HeaderEntry, Request};
use crate::config::Config;
use crate::environment::{Invocation, format_time};
use crate::headers::{self, HeaderError};
use crate::session::Visit;

/// A validated [`Config`] (made by [`Config::validate`]): the only way to inject headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injector {
    config: Config,
}

impl Injector {
    pub(crate) fn new(config: Config) -> Self {
        Self { config }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The headers for one invocation, as (name as configured, value). Every name the config
    /// sets is listed; `None` values are removed from the request rather than set.
    pub fn headers_for(
        &self,
        inv: &Invocation,
        visit: Option<&Visit>,
    ) -> Vec<(&str, Option<String>)> {
        let c = &self.config;
        let mut out = vec![(c.persisted_header.as_str(), Some(inv.persisted.clone()))];
        if c.environment_headers {
            out.extend([
                (
                    c.environment_id_header.as_str(),
                    Some(inv.environment_id.clone()),
                ),
                (c.invocation_header.as_str(), Some(inv.number.to_string())),
                (
                    c.temperature_header.as_str(),
                    Some(inv.temperature().to_owned()),
                ),
                (c.age_header.as_str(), Some(inv.age_ms.to_string())),
            ]);
        }
        let s = &c.sessions;
        if s.enabled {
            out.extend([
                (
                    s.state_header.as_str(),
                    visit.map(|v| if v.new { "new" } else { "known" }.to_owned()),
                ),
                (
                    s.first_seen_header.as_str(),
                    visit.map(|v| format_time(v.first_seen)),
                ),
                (s.hits_header.as_str(), visit.map(|v| v.hits.to_string())),
            ]);
        }
        out
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
