//! Cache policies and origin request policies: which viewer headers, cookies and query strings
//! reach the origin-request function and the origin (docs/AWS-BEHAVIOUR.md, "What CloudFront
//! forwards to the origin and the origin-request function").
//!
//! Everything a cache policy puts in the cache key is also in the origin request; the origin
//! request policy adds more. Without either, only the path, the body and the headers CloudFront
//! always sets reach the origin. The stack caches nothing (TTL 0), so a cache policy matters here
//! only for what it forwards.

use serde_json::Value;

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

/// The managed cache policies by name and the id CloudFormation names them by (AWS CloudFront
/// Developer Guide, "Use managed cache policies").
const MANAGED_CACHE_IDS: &[(&str, &str)] = &[
    ("CachingDisabled", "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"),
    ("CachingOptimized", "658327ea-f89d-4fab-a63d-7e88639e58f6"),
    (
        "CachingOptimizedForUncompressedObjects",
        "b2884449-e4de-46a7-ac36-70bc7f1ddd6d",
    ),
    ("Amplify", "2e54312d-136d-493c-8eb9-b001f22f67d2"),
    (
        "Elemental-MediaPackage",
        "08627262-05a9-4f76-9ded-b50ca2e3a84f",
    ),
];

/// The managed origin request policies by name and id (AWS CloudFront Developer Guide, "Use
/// managed origin request policies").
const MANAGED_ORIGIN_REQUEST_IDS: &[(&str, &str)] = &[
    ("AllViewer", "216adef6-5c7f-47e4-b989-5492eafa07d3"),
    (
        "AllViewerAndCloudFrontHeaders-2022-06",
        "33f36d7e-f396-46d9-90e0-52428a34d9dc",
    ),
    (
        "AllViewerExceptHostHeader",
        "b689b0a8-53d0-40ab-baf2-68738e2966ac",
    ),
    ("CORS-CustomOrigin", "59781a5b-3903-41f3-afcb-af62929ccde1"),
    ("CORS-S3Origin", "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf"),
    (
        "UserAgentRefererHeaders",
        "acba4595-bd28-49b8-b9fe-13317c0390fa",
    ),
];

fn name_of(table: &[(&'static str, &str)], id: &str) -> Option<&'static str> {
    table.iter().find(|(_, i)| *i == id).map(|(n, _)| *n)
}

fn id_of(table: &[(&str, &'static str)], name: &str) -> Option<&'static str> {
    table.iter().find(|(n, _)| *n == name).map(|(_, i)| *i)
}

impl Includes {
    /// `HeadersConfig`, `CookiesConfig` and `QueryStringsConfig` of a cache policy's
    /// `ParametersInCacheKeyAndForwardedToOrigin` or an `OriginRequestPolicyConfig`
    /// (CloudFormation's shape, resolved). `path` names `config` in errors.
    pub fn from_config(path: &str, config: &Value) -> Result<Self, String> {
        let kind = |config_key: &str, behaviour: &str, list: &str| -> Result<Include, String> {
            let c = &config[config_key];
            let names = || -> Result<Vec<String>, String> {
                let items = c[list].as_array().map(Vec::as_slice).unwrap_or_default();
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        v.as_str().map(str::to_owned).ok_or_else(|| {
                            format!("{path}.{config_key}.{list}[{i}]: {v} is not a name")
                        })
                    })
                    .collect()
            };
            match c[behaviour].as_str() {
                None | Some("none") => Ok(Include::None),
                Some("all" | "allViewer" | "allViewerAndWhitelistCloudFront") => Ok(Include::All),
                Some("whitelist") => Ok(Include::Only(names()?)),
                Some("allExcept") => Ok(Include::AllExcept(names()?)),
                Some(other) => Err(format!(
                    "{path}.{config_key}.{behaviour}: {other:?} is not one CloudFront knows"
                )),
            }
        };
        Ok(Self {
            headers: kind("HeadersConfig", "HeaderBehavior", "Headers")?,
            cookies: kind("CookiesConfig", "CookieBehavior", "Cookies")?,
            query_strings: kind("QueryStringsConfig", "QueryStringBehavior", "QueryStrings")?,
        })
    }
}

impl CachePolicy {
    /// A managed cache policy by the id CloudFormation names it with.
    pub fn managed_by_id(id: &str) -> Option<Self> {
        Self::managed(name_of(MANAGED_CACHE_IDS, id)?)
    }

    /// The id of a managed cache policy.
    pub fn managed_id(name: &str) -> Option<&'static str> {
        id_of(MANAGED_CACHE_IDS, name)
    }

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

    /// A managed origin request policy by the id CloudFormation names it with.
    pub fn managed_by_id(id: &str) -> Option<Self> {
        Self::named(name_of(MANAGED_ORIGIN_REQUEST_IDS, id)?)
    }

    /// The id of a managed origin request policy.
    pub fn managed_id(name: &str) -> Option<&'static str> {
        id_of(MANAGED_ORIGIN_REQUEST_IDS, name)
    }

    /// What the project's deployment attaches with its TTL-0 cache policy: the origin request
    /// policy of `infra/template.yaml`'s distribution (the session cookie, and the headers and
    /// query strings alb-fn reads; the template says why for each), read through the twin.
    pub fn project() -> Self {
        let mut policy = crate::template::twin::project_policies()
            .origin_request
            .unwrap_or_else(|| panic!("infra/template.yaml attaches no origin request policy"));
        policy.name = PROJECT_ORIGIN_REQUEST_POLICY.into();
        policy
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
    }

    #[test]
    fn managed_ids_name_the_modelled_policies() {
        for name in CachePolicy::MANAGED {
            let id = CachePolicy::managed_id(name).unwrap();
            assert_eq!(CachePolicy::managed_by_id(id).unwrap().name, *name);
        }
        for name in &OriginRequestPolicy::NAMES[1..] {
            let id = OriginRequestPolicy::managed_id(name).unwrap();
            assert_eq!(OriginRequestPolicy::managed_by_id(id).unwrap().name, *name);
        }
        assert!(CachePolicy::managed_by_id("nope").is_none());
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
