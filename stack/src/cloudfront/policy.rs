//! Cache policies and origin request policies: which viewer headers, cookies and query strings
//! reach the origin-request function and the origin (docs/AWS-BEHAVIOUR.md, "What CloudFront
//! forwards to the origin and the origin-request function").
//!
//! Everything a cache policy puts in the cache key is also in the origin request; the origin
//! request policy adds more. Without either, only the path, the body and the headers CloudFront
//! always sets reach the origin. The stack caches nothing (TTL 0), so a cache policy matters here
//! only for what it forwards.

use serde_json::Value;

use crate::template::{Template, reference};

/// Which values of one kind (headers, cookies or query strings) a policy includes. Names are
/// compared without regard to letter case for headers and as written for cookies and query
/// strings, as CloudFront does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Include {
    None,
    All,
    /// These names only.
    Only(Vec<String>),
    /// Every name but these.
    AllExcept(Vec<String>),
}

impl Include {
    fn only(names: &[&str]) -> Self {
        Self::Only(names.iter().map(|n| (*n).to_owned()).collect())
    }

    fn matches(&self, name: &str, case_insensitive: bool) -> bool {
        let eq = |n: &String| {
            if case_insensitive {
                n.eq_ignore_ascii_case(name)
            } else {
                n == name
            }
        };
        match self {
            Self::None => false,
            Self::All => true,
            Self::Only(names) => names.iter().any(eq),
            Self::AllExcept(names) => !names.iter().any(eq),
        }
    }

    fn is_none(&self) -> bool {
        matches!(self, Self::None) || matches!(self, Self::Only(n) if n.is_empty())
    }
}

/// Headers, cookies and query strings one policy includes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Includes {
    pub headers: Include,
    pub cookies: Include,
    pub query_strings: Include,
}

impl Includes {
    const NOTHING: Self = Self {
        headers: Include::None,
        cookies: Include::None,
        query_strings: Include::None,
    };
}

/// A cache policy by name: what it puts in the cache key (and so in the origin request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachePolicy {
    pub name: String,
    pub key: Includes,
}

/// An origin request policy by name: what it adds to the origin request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginRequestPolicy {
    pub name: String,
    pub include: Includes,
}

/// The name of the project's own origin request policy (what its deployment attaches).
pub const PROJECT_ORIGIN_REQUEST_POLICY: &str = "edge-persist";

/// The project's deployment template: the one place the policies it attaches are written. The
/// stack's default (`edge-persist`) is read from it, so local runs forward what AWS forwards.
const PROJECT_TEMPLATE: &str = include_str!("../../../infra/template.yaml");

impl CachePolicy {
    /// The managed cache policies whose key we model, by name.
    pub fn managed(name: &str) -> Option<Self> {
        let key = match name {
            // Nothing in the key. (CachingOptimized's normalised Accept-Encoding is not modelled.)
            "CachingDisabled" | "CachingOptimized" | "CachingOptimizedForUncompressedObjects" => {
                Includes::NOTHING
            }
            "Amplify" => Includes {
                headers: Include::only(&["Authorization", "CloudFront-Viewer-Country", "Host"]),
                cookies: Include::All,
                query_strings: Include::All,
            },
            "Elemental-MediaPackage" => Includes {
                headers: Include::only(&["Origin"]),
                cookies: Include::None,
                query_strings: Include::only(&["aws.manifestfilter", "start", "end", "m"]),
            },
            _ => return None,
        };
        Some(Self {
            name: name.to_owned(),
            key,
        })
    }

    pub const MANAGED: &[&str] = &[
        "CachingDisabled",
        "CachingOptimized",
        "CachingOptimizedForUncompressedObjects",
        "Amplify",
        "Elemental-MediaPackage",
    ];
}

impl OriginRequestPolicy {
    /// A managed origin request policy by name, or the project's own (`edge-persist`).
    pub fn named(name: &str) -> Option<Self> {
        let include = match name {
            // CloudFront-* headers of AllViewerAndCloudFrontHeaders-2022-06 are not generated.
            "AllViewer" | "AllViewerAndCloudFrontHeaders-2022-06" => Includes {
                headers: Include::All,
                cookies: Include::All,
                query_strings: Include::All,
            },
            "AllViewerExceptHostHeader" => Includes {
                headers: Include::AllExcept(vec!["Host".into()]),
                cookies: Include::All,
                query_strings: Include::All,
            },
            "CORS-CustomOrigin" => Includes {
                headers: Include::only(&["Origin"]),
                ..Includes::NOTHING
            },
            "CORS-S3Origin" => Includes {
                headers: Include::only(&[
                    "Origin",
                    "Access-Control-Request-Headers",
                    "Access-Control-Request-Method",
                ]),
                ..Includes::NOTHING
            },
            "UserAgentRefererHeaders" => Includes {
                headers: Include::only(&["User-Agent", "Referer"]),
                ..Includes::NOTHING
            },
            PROJECT_ORIGIN_REQUEST_POLICY => Self::project().include,
            _ => return None,
        };
        Some(Self {
            name: name.to_owned(),
            include,
        })
    }

    pub const NAMES: &[&str] = &[
        PROJECT_ORIGIN_REQUEST_POLICY,
        "AllViewer",
        "AllViewerAndCloudFrontHeaders-2022-06",
        "AllViewerExceptHostHeader",
        "CORS-CustomOrigin",
        "CORS-S3Origin",
        "UserAgentRefererHeaders",
    ];

    /// What the project's deployment attaches with its TTL-0 cache policy: the origin request
    /// policy of `infra/template.yaml`'s distribution (the session cookie, and the headers and
    /// query strings alb-fn reads; the template says why for each).
    pub fn project() -> Self {
        let template = Template::parse(PROJECT_TEMPLATE)
            .map_err(|e| e.to_string())
            .and_then(|t| Self::attached(&t));
        // The template is part of the binary and a unit test reads it: it cannot fail at run time.
        let mut policy = template.unwrap_or_else(|e| panic!("infra/template.yaml: {e}"));
        policy.name = PROJECT_ORIGIN_REQUEST_POLICY.into();
        policy
    }

    /// The origin request policy the template's distribution attaches to its default cache
    /// behaviour, with parameters at their defaults.
    pub fn attached(t: &Template) -> Result<Self, String> {
        let distribution = t
            .of_kind("AWS::CloudFront::Distribution")
            .next()
            .ok_or("the template has no AWS::CloudFront::Distribution")?;
        let id = &distribution.properties["DistributionConfig"]["DefaultCacheBehavior"]["OriginRequestPolicyId"];
        let resource = t
            .target(id)
            .filter(|r| r.kind == "AWS::CloudFront::OriginRequestPolicy")
            .ok_or("the default cache behaviour names no origin request policy of the template")?;
        Self::from_config(
            t,
            &resource.id,
            &resource.properties["OriginRequestPolicyConfig"],
        )
    }

    /// An `OriginRequestPolicyConfig` (CloudFormation's shape) as the stack models it.
    pub fn from_config(t: &Template, name: &str, config: &Value) -> Result<Self, String> {
        let kind = |config_key: &str, behaviour: &str, list: &str| -> Result<Include, String> {
            let c = &config[config_key];
            let names = || -> Result<Vec<String>, String> {
                c[list]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .map(|v| parameter_value(t, v))
                    .collect()
            };
            match c[behaviour].as_str() {
                None | Some("none") => Ok(Include::None),
                Some("all" | "allViewer" | "allViewerAndWhitelistCloudFront") => Ok(Include::All),
                Some("whitelist") => Ok(Include::Only(names()?)),
                Some("allExcept") => Ok(Include::AllExcept(names()?)),
                Some(other) => Err(format!(
                    "{name}: {config_key}.{behaviour} {other:?} is not one CloudFront knows"
                )),
            }
        };
        Ok(Self {
            name: name.to_owned(),
            include: Includes {
                headers: kind("HeadersConfig", "HeaderBehavior", "Headers")?,
                cookies: kind("CookiesConfig", "CookieBehavior", "Cookies")?,
                query_strings: kind("QueryStringsConfig", "QueryStringBehavior", "QueryStrings")?,
            },
        })
    }
}

/// A literal, or `{"Ref": parameter}` at the parameter's default.
fn parameter_value(t: &Template, v: &Value) -> Result<String, String> {
    if let Some(s) = v.as_str() {
        return Ok(s.to_owned());
    }
    match reference(v) {
        Some((param, None)) => t.document["Parameters"][param]["Default"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("parameter {param} has no string default")),
        _ => Err(format!(
            "{v} is neither a name nor a reference to a parameter"
        )),
    }
}

/// A cache behaviour's policies together: what reaches the function and the origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policies {
    pub cache: CachePolicy,
    pub origin_request: Option<OriginRequestPolicy>,
}

impl Default for Policies {
    /// The project's deployment: CachingDisabled + the `edge-persist` origin request policy.
    fn default() -> Self {
        Self {
            cache: CachePolicy::managed("CachingDisabled").unwrap_or(CachePolicy {
                name: "CachingDisabled".into(),
                key: Includes::NOTHING,
            }),
            origin_request: Some(OriginRequestPolicy::project()),
        }
    }
}

impl Policies {
    /// By names, as the CLI takes them (`none` for no origin request policy).
    pub fn by_name(cache: &str, origin_request: &str) -> Result<Self, String> {
        let cache = CachePolicy::managed(cache).ok_or_else(|| {
            format!(
                "unknown cache policy {cache:?}; known: {}",
                CachePolicy::MANAGED.join(", ")
            )
        })?;
        let origin_request = match origin_request {
            "none" => None,
            name => Some(OriginRequestPolicy::named(name).ok_or_else(|| {
                format!(
                    "unknown origin request policy {name:?}; known: none, {}",
                    OriginRequestPolicy::NAMES.join(", ")
                )
            })?),
        };
        Ok(Self {
            cache,
            origin_request,
        })
    }

    fn any(&self, pick: impl Fn(&Includes) -> bool) -> bool {
        pick(&self.cache.key)
            || self
                .origin_request
                .as_ref()
                .is_some_and(|o| pick(&o.include))
    }

    /// Whether the viewer header `name` is forwarded.
    pub fn forwards_header(&self, name: &str) -> bool {
        self.any(|i| i.headers.matches(name, true))
    }

    /// Whether the cookie `name` is forwarded.
    pub fn forwards_cookie(&self, name: &str) -> bool {
        self.any(|i| i.cookies.matches(name, false))
    }

    /// Whether any cookie at all is forwarded: without, `Set-Cookie` is removed from responses.
    pub fn forwards_cookies(&self) -> bool {
        self.any(|i| !i.cookies.is_none())
    }

    /// The `Cookie` header value with only the forwarded cookies, or `None` when none is left.
    pub fn filter_cookies<'a>(&self, values: impl Iterator<Item = &'a str>) -> Option<String> {
        let kept: Vec<&str> = values
            .flat_map(|v| v.split(';'))
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .filter(|c| self.forwards_cookie(c.split_once('=').map_or(*c, |(n, _)| n).trim()))
            .collect();
        (!kept.is_empty()).then(|| kept.join("; "))
    }

    /// The query string with only the forwarded parameters, in the viewer's order.
    pub fn filter_query(&self, query: &str) -> String {
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .filter(|p| {
                let name = p.split_once('=').map_or(*p, |(n, _)| n);
                self.any(|i| i.query_strings.matches(name, false))
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Names of the policies, for the banner.
    pub fn describe(&self) -> String {
        let orp = self
            .origin_request
            .as_ref()
            .map_or("none", |o| o.name.as_str());
        format!(
            "cache policy {}, origin request policy {orp}",
            self.cache.name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caching_disabled_alone_forwards_nothing() {
        let p = Policies::by_name("CachingDisabled", "none").unwrap();
        assert!(!p.forwards_header("accept") && !p.forwards_header("user-agent"));
        assert!(!p.forwards_cookies());
        assert_eq!(p.filter_cookies(["a=1; edge_session=x"].into_iter()), None);
        assert_eq!(p.filter_query("a=1&b=2"), "");
    }

    #[test]
    fn the_project_default_is_what_the_deployment_template_attaches() {
        let p = Policies::default();
        assert!(p.forwards_header("Accept") && p.forwards_header("content-type"));
        assert!(!p.forwards_header("user-agent") && !p.forwards_header("host"));
        assert_eq!(
            p.filter_cookies(["theme=dark; edge_session=abc", "other=1"].into_iter()),
            Some("edge_session=abc".into())
        );
        assert_eq!(p.filter_query("a=1"), "a=1");
        // Read from the template, not written twice: another template, another policy.
        let other = PROJECT_TEMPLATE
            .replace("Headers: [Accept, Content-Type]", "Headers: [X-Other]")
            .replace("QueryStringBehavior: all", "QueryStringBehavior: none");
        let t = Template::parse(&other).unwrap();
        let policy = OriginRequestPolicy::attached(&t).unwrap();
        assert_eq!(policy.include.headers, Include::only(&["X-Other"]));
        assert_eq!(policy.include.query_strings, Include::None);
        assert_eq!(policy.include.cookies, Include::only(&["edge_session"]));
    }

    #[test]
    fn managed_all_viewer_policies() {
        let all = Policies::by_name("CachingDisabled", "AllViewer").unwrap();
        assert!(all.forwards_header("host") && all.forwards_header("x-anything"));
        assert_eq!(all.filter_query("a=1&b"), "a=1&b");
        let except = Policies::by_name("CachingDisabled", "AllViewerExceptHostHeader").unwrap();
        assert!(!except.forwards_header("Host") && except.forwards_header("accept"));
        let media = Policies::by_name("Elemental-MediaPackage", "none").unwrap();
        assert_eq!(media.filter_query("start=1&x=2&m=3"), "start=1&m=3");
        assert!(Policies::by_name("Nope", "none").is_err());
        assert!(Policies::by_name("CachingDisabled", "Nope").is_err());
    }
}
