//! Configuration and header injection into a CloudFront request.

use serde::{Deserialize, Serialize};

use crate::cloudfront::{HeaderEntry, Request};
use crate::environment::Invocation;
use crate::headers::{self, HeaderError};

/// Everything the edge function can be told. Lambda@Edge has no environment variables, so at the
/// edge this is compiled in or passed by the wrapper; the native functions also read env vars
/// ([`Config::from_lookup`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Header that carries the persisted value (the article's `custom_header`).
    pub persisted_header: String,
    /// Also add the environment headers below.
    pub environment_headers: bool,
    /// Execution-environment id (128-bit random hex).
    pub environment_id_header: String,
    /// Invocation number in this environment, from 1.
    pub invocation_header: String,
    /// `cold` on the first invocation of the environment, `warm` after.
    pub temperature_header: String,
    /// Milliseconds since the environment started.
    pub age_header: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            persisted_header: "custom_header".into(),
            environment_headers: true,
            environment_id_header: "x-persist-env-id".into(),
            invocation_header: "x-persist-invocation".into(),
            temperature_header: "x-persist-start".into(),
            age_header: "x-persist-env-age-ms".into(),
        }
    }
}

/// Environment variables read by [`Config::from_lookup`], with the field each sets.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("EDGE_PERSIST_HEADER", "persisted_header"),
    ("EDGE_PERSIST_ENV_HEADERS", "environment_headers"),
    ("EDGE_PERSIST_ENV_ID_HEADER", "environment_id_header"),
    ("EDGE_PERSIST_INVOCATION_HEADER", "invocation_header"),
    ("EDGE_PERSIST_TEMPERATURE_HEADER", "temperature_header"),
    ("EDGE_PERSIST_AGE_HEADER", "age_header"),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("config field {field}: {source}")]
    Header {
        field: &'static str,
        source: HeaderError,
    },
    #[error("config fields {0} and {1} name the same header")]
    Duplicate(&'static str, &'static str),
    #[error("{var}={value:?}: expected true or false")]
    NotABool { var: &'static str, value: String },
    #[error("config JSON: {0}")]
    Json(String),
}

impl Config {
    /// Defaults overridden by the variables in [`ENV_VARS`]; `lookup` is `std::env::var(..).ok()`
    /// natively (core reads no environment itself).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        for &(var, _) in ENV_VARS {
            let Some(value) = lookup(var) else { continue };
            match var {
                "EDGE_PERSIST_ENV_HEADERS" => {
                    config.environment_headers = match value.trim().to_ascii_lowercase().as_str() {
                        "true" | "1" | "on" => true,
                        "false" | "0" | "off" => false,
                        _ => return Err(ConfigError::NotABool { var, value }),
                    }
                }
                "EDGE_PERSIST_HEADER" => config.persisted_header = value,
                "EDGE_PERSIST_ENV_ID_HEADER" => config.environment_id_header = value,
                "EDGE_PERSIST_INVOCATION_HEADER" => config.invocation_header = value,
                "EDGE_PERSIST_TEMPERATURE_HEADER" => config.temperature_header = value,
                _ => config.age_header = value,
            }
        }
        Ok(config)
    }

    /// Parse a JSON config (the wasm wrapper's form); missing fields take their defaults.
    pub fn from_json(json: &str) -> Result<Self, ConfigError> {
        if json.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_json::from_str(json).map_err(|e| ConfigError::Json(e.to_string()))
    }

    /// The header names this config sets, with the field that names each.
    fn names(&self) -> Vec<(&'static str, &str)> {
        let mut names = vec![("persisted_header", self.persisted_header.as_str())];
        if self.environment_headers {
            names.extend([
                ("environment_id_header", self.environment_id_header.as_str()),
                ("invocation_header", self.invocation_header.as_str()),
                ("temperature_header", self.temperature_header.as_str()),
                ("age_header", self.age_header.as_str()),
            ]);
        }
        names
    }

    /// Validate once, at start: every name a token, not disallowed, not read-only, no two alike.
    pub fn validate(self) -> Result<Injector, ConfigError> {
        let names = self.names();
        for (i, &(field, name)) in names.iter().enumerate() {
            headers::validate_settable_name(name)
                .map_err(|source| ConfigError::Header { field, source })?;
            if let Some(&(other, _)) = names[..i]
                .iter()
                .find(|(_, n)| n.eq_ignore_ascii_case(name))
            {
                return Err(ConfigError::Duplicate(other, field));
            }
        }
        Ok(Injector { config: self })
    }
}

/// A validated [`Config`]: the only way to inject headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injector {
    config: Config,
}

impl Injector {
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The headers for one invocation, as (name as configured, value).
    pub fn headers_for(&self, inv: &Invocation) -> Vec<(&str, String)> {
        let c = &self.config;
        let mut out = vec![(c.persisted_header.as_str(), inv.persisted.clone())];
        if c.environment_headers {
            out.extend([
                (c.environment_id_header.as_str(), inv.environment_id.clone()),
                (c.invocation_header.as_str(), inv.number.to_string()),
                (c.temperature_header.as_str(), inv.temperature().to_owned()),
                (c.age_header.as_str(), inv.age_ms.to_string()),
            ]);
        }
        out
    }

    /// Set our headers on `req`, replacing any client-sent header of the same name in any letter
    /// case (so a client cannot spoof the persisted value to the origin), then check the values
    /// and CloudFront's size limits on the result. On error `req` may be modified: callers keep
    /// the original when they need it.
    pub fn apply(&self, req: &mut Request, inv: &Invocation) -> Result<(), HeaderError> {
        for (name, value) in self.headers_for(inv) {
            headers::validate_value(name, &value)?;
            req.headers.retain(|k, _| !k.eq_ignore_ascii_case(name));
            req.headers.insert(
                name.to_ascii_lowercase(),
                vec![HeaderEntry::new(name, value)],
            );
        }
        headers::check_request_limits(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert!(Config::default().validate().is_ok());
    }

    #[test]
    fn env_lookup_overrides_and_rejects_bad_bools() {
        let c = Config::from_lookup(|k| (k == "EDGE_PERSIST_HEADER").then(|| "x-value".to_owned()))
            .unwrap();
        assert_eq!(c.persisted_header, "x-value");
        let err =
            Config::from_lookup(|k| (k == "EDGE_PERSIST_ENV_HEADERS").then(|| "maybe".to_owned()));
        assert!(matches!(err, Err(ConfigError::NotABool { .. })));
    }

    #[test]
    fn duplicate_names_in_any_case_are_refused() {
        let c = Config {
            invocation_header: "Custom_Header".into(),
            ..Config::default()
        };
        assert_eq!(
            c.validate(),
            Err(ConfigError::Duplicate(
                "persisted_header",
                "invocation_header"
            ))
        );
    }

    #[test]
    fn environment_headers_can_be_turned_off() {
        let c = Config {
            environment_headers: false,
            age_header: "x-edge-bad".into(),
            ..Config::default()
        };
        assert!(c.validate().is_ok(), "unused names are not checked");
    }

    #[test]
    fn json_config_rejects_unknown_fields() {
        assert!(matches!(
            Config::from_json(r#"{"persisted_headr":"x"}"#),
            Err(ConfigError::Json(_))
        ));
        assert_eq!(Config::from_json("").unwrap(), Config::default());
    }
}
