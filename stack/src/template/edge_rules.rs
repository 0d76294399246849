//! The Lambda@Edge rules a generic linter (cfn-lint) does not check, applied to every function a
//! distribution's cache behaviour associates. Each rule is an AWS fact in docs/AWS-BEHAVIOUR.md,
//! "Deploying the article's architecture"; a template that breaks one deploys (or half deploys)
//! and then fails at CloudFront, or silently stops doing the article's experiment.

use edge_persist_core::cloudfront::EventType;
use serde_json::Value;

use super::{Resource, Template, reference};

use crate::cloudfront::policy::{CachePolicy, OriginRequestPolicy};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Lambda@Edge functions have no environment variables.
    NoEnvironment,
    /// Node.js or Python, x86_64, a zip package, no layers, no VPC.
    Runtime,
    /// Memory and timeout within the quotas of the association's event type.
    Limits,
    /// The association names a numbered version, never `$LATEST`, an alias or the function.
    NumberedVersion,
    /// The function is created in us-east-1.
    UsEast1,
    /// The role trusts lambda.amazonaws.com and edgelambda.amazonaws.com.
    Trust,
    /// The origin-request behaviour's cache policy has TTL 0 and an empty cache key.
    CachePolicy,
    /// The origin-request behaviour forwards the session cookie to the edge and the origin.
    SessionCookie,
}

impl Rule {
    pub fn id(self) -> &'static str {
        match self {
            Self::NoEnvironment => "edge-no-environment",
            Self::Runtime => "edge-runtime",
            Self::Limits => "edge-limits",
            Self::NumberedVersion => "edge-numbered-version",
            Self::UsEast1 => "edge-us-east-1",
            Self::Trust => "edge-role-trust",
            Self::CachePolicy => "ttl0-cache-policy",
            Self::SessionCookie => "session-cookie-forwarded",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: Rule,
    /// Logical id of the resource at fault.
    pub resource: String,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The template path of the resource at fault (`Rules` is a section of its own).
        let section = if self.resource == "Rules" {
            ""
        } else {
            "Resources."
        };
        write!(
            f,
            "{section}{} [{}]: {}",
            self.resource,
            self.rule.id(),
            self.message
        )
    }
}

/// Every finding, in template order; empty when the template keeps every rule.
pub fn validate(t: &Template, session_cookie: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut found = |rule, resource: &str, message: String| {
        out.push(Finding {
            rule,
            resource: resource.to_owned(),
            message,
        })
    };
    let mut any_association = false;
    for dist in t.of_kind("AWS::CloudFront::Distribution") {
        let config = &dist.properties["DistributionConfig"];
        let behaviours = std::iter::once(&config["DefaultCacheBehavior"])
            .chain(config["CacheBehaviors"].as_array().into_iter().flatten());
        for behaviour in behaviours {
            let associations = behaviour["LambdaFunctionAssociations"].as_array();
            for assoc in associations.into_iter().flatten() {
                any_association = true;
                let event = assoc["EventType"].as_str().unwrap_or("");
                match edge_function(t, &assoc["LambdaFunctionARN"]) {
                    Ok(Some(function)) => check_function(t, function, event, &mut found),
                    Ok(None) => {}
                    Err((rule, message)) => found(rule, &dist.id, message),
                }
                if event == "origin-request" {
                    check_cache_policy(t, &behaviour["CachePolicyId"], &dist.id, &mut found);
                    check_forwarding(
                        t,
                        &behaviour["OriginRequestPolicyId"],
                        session_cookie,
                        &dist.id,
                        &mut found,
                    );
                }
            }
        }
    }
    if any_association && !asserts_us_east_1(&t.document["Rules"]) {
        found(
            Rule::UsEast1,
            "Rules",
            "no rule asserts AWS::Region = us-east-1: deployed elsewhere the edge function would \
             be created in a Region CloudFront cannot use"
                .into(),
        );
    }
    out
}

type Check<'a> = dyn FnMut(Rule, &str, String) + 'a;

/// The function an association's `LambdaFunctionARN` names, if it is in the template; an error
/// when the value cannot be a numbered version.
fn edge_function<'t>(t: &'t Template, arn: &Value) -> Result<Option<&'t Resource>, (Rule, String)> {
    if let Some(text) = arn.as_str() {
        // arn:aws:lambda:REGION:ACCOUNT:function:NAME:VERSION
        let parts: Vec<&str> = text.split(':').collect();
        if parts.len() != 8 || parts[5] != "function" || parts[7].parse::<u64>().is_err() {
            return Err((
                Rule::NumberedVersion,
                format!("{text} is not the ARN of a numbered version"),
            ));
        }
        if parts[3] != "us-east-1" {
            return Err((Rule::UsEast1, format!("{text} is not in us-east-1")));
        }
        return Ok(None);
    }
    if let Some(sub) = arn.get("Fn::Sub").and_then(Value::as_str)
        && !sub.ends_with("$LATEST")
        && sub
            .rsplit(':')
            .next()
            .is_some_and(|v| v.parse::<u64>().is_ok())
    {
        return Ok(None);
    }
    let Some(target) = t.target(arn) else {
        return Err((
            Rule::NumberedVersion,
            format!(
                "{arn} is not a numbered version this template can check: use !Ref of an AWS::Lambda::Version"
            ),
        ));
    };
    let is_ref = reference(arn).is_some_and(|(_, attr)| attr.is_none());
    match target.kind.as_str() {
        "AWS::Lambda::Version" if is_ref => {
            let function = t.target(&target.properties["FunctionName"]);
            Ok(function.filter(|f| f.kind == "AWS::Lambda::Function"))
        }
        kind => Err((
            Rule::NumberedVersion,
            format!(
                "{arn} is {kind}'s {}, not a numbered version's ARN (use !Ref of an AWS::Lambda::Version)",
                if is_ref { "Ref" } else { "attribute" }
            ),
        )),
    }
}

fn check_function(t: &Template, f: &Resource, event: &str, found: &mut Check<'_>) {
    let p = &f.properties;
    if p["Environment"]["Variables"]
        .as_object()
        .is_some_and(|v| !v.is_empty())
    {
        found(
            Rule::NoEnvironment,
            &f.id,
            "Lambda@Edge functions cannot have environment variables (compile the config in: cargo xtask --config)".into(),
        );
    }
    let runtime = p["Runtime"].as_str().unwrap_or("");
    if !(runtime.starts_with("nodejs") || runtime.starts_with("python")) {
        found(
            Rule::Runtime,
            &f.id,
            format!("runtime {runtime:?}: Lambda@Edge runs only Node.js and Python"),
        );
    }
    if let Some(archs) = p["Architectures"].as_array()
        && archs.iter().any(|a| a != "x86_64")
    {
        found(Rule::Runtime, &f.id, "Lambda@Edge runs x86_64 only".into());
    }
    for (key, what) in [
        ("Layers", "layers"),
        ("VpcConfig", "a VPC"),
        ("ImageConfig", "container images"),
    ] {
        if !p[key].is_null() {
            found(
                Rule::Runtime,
                &f.id,
                format!("Lambda@Edge allows no {what}"),
            );
        }
    }
    // Lambda's defaults (128 MB, 3 s) apply when the property is left out. An unknown event
    // type is cfn-lint's to report; it gets the origin quotas here.
    let quotas = EventType::parse(event)
        .unwrap_or(EventType::OriginRequest)
        .quotas();
    let (max_mb, max_s) = (u64::from(quotas.max_memory_mb), quotas.max_timeout_secs);
    for (key, default, max, unit) in [
        ("MemorySize", 128, max_mb, "MB"),
        ("Timeout", 3, max_s, "s"),
    ] {
        if let Some(v) = number(t, &p[key], default)
            && v > max
        {
            found(
                Rule::Limits,
                &f.id,
                format!("{key} {v} {unit} is over the {max} {unit} a {event} function may have"),
            );
        }
    }
    let role = t.target(&p["Role"]);
    let services = role.map(|r| trusted_services(&r.properties["AssumeRolePolicyDocument"]));
    if let Some(services) = services {
        for needed in ["lambda.amazonaws.com", "edgelambda.amazonaws.com"] {
            if !services.iter().any(|s| s == needed) {
                found(
                    Rule::Trust,
                    &f.id,
                    format!("its role does not let {needed} assume it"),
                );
            }
        }
    }
}

/// A literal number, or a parameter's default; `None` when it is computed at deploy time.
fn number(t: &Template, v: &Value, default: u64) -> Option<u64> {
    match v {
        Value::Null => Some(default),
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        other => match reference(other) {
            Some((name, None)) => number(t, &t.document["Parameters"][name]["Default"], default),
            _ => None,
        },
    }
}

fn trusted_services(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for s in doc["Statement"].as_array().into_iter().flatten() {
        let allows_assume =
            s["Effect"] == "Allow" && one_or_many(&s["Action"]).any(|a| a == "sts:AssumeRole");
        if allows_assume {
            out.extend(one_or_many(&s["Principal"]["Service"]).map(str::to_owned));
        }
    }
    out
}

fn one_or_many(v: &Value) -> impl Iterator<Item = &str> {
    let many = v.as_array().map(|a| a.iter().filter_map(Value::as_str));
    v.as_str().into_iter().chain(many.into_iter().flatten())
}

fn asserts_us_east_1(rules: &Value) -> bool {
    let region = serde_json::json!({"Ref": "AWS::Region"});
    rules
        .as_object()
        .into_iter()
        .flat_map(|r| r.values())
        .flat_map(|rule| rule["Assertions"].as_array().into_iter().flatten())
        .filter_map(|a| a["Assert"]["Fn::Equals"].as_array())
        .any(|pair| {
            pair.len() == 2 && pair.contains(&region) && pair.contains(&Value::from("us-east-1"))
        })
}

fn check_cache_policy(t: &Template, id: &Value, dist: &str, found: &mut Check<'_>) {
    // The managed CachingDisabled policy: TTL 0, empty cache key.
    if id.as_str().is_some() && id.as_str() == CachePolicy::managed_id("CachingDisabled") {
        return;
    }
    let Some(policy) = t
        .target(id)
        .filter(|r| r.kind == "AWS::CloudFront::CachePolicy")
    else {
        found(
            Rule::CachePolicy,
            dist,
            format!(
                "cache policy {id} is neither CachingDisabled nor a policy in this template: every request must reach the origin-request function"
            ),
        );
        return;
    };
    let c = &policy.properties["CachePolicyConfig"];
    // DefaultTTL and MaxTTL default to one day and one year when left out.
    for (key, default) in [
        ("MinTTL", 0),
        ("DefaultTTL", 86_400),
        ("MaxTTL", 31_536_000),
    ] {
        let ttl = number(t, &c[key], default);
        if ttl != Some(0) {
            found(
                Rule::CachePolicy,
                &policy.id,
                format!(
                    "{key} is {ttl:?}, not 0: cached responses never reach the origin-request function"
                ),
            );
        }
    }
    let key = &c["ParametersInCacheKeyAndForwardedToOrigin"];
    for (path, none) in [
        (["HeadersConfig", "HeaderBehavior"], "none"),
        (["CookiesConfig", "CookieBehavior"], "none"),
        (["QueryStringsConfig", "QueryStringBehavior"], "none"),
    ] {
        if key[path[0]][path[1]] != none {
            found(
                Rule::CachePolicy,
                &policy.id,
                format!(
                    "{}.{} must be none: with TTL 0 the cache key is empty (forward with an origin request policy)",
                    path[0], path[1]
                ),
            );
        }
    }
    for flag in ["EnableAcceptEncodingGzip", "EnableAcceptEncodingBrotli"] {
        if key[flag] == true {
            found(
                Rule::CachePolicy,
                &policy.id,
                format!("{flag} must be false in a TTL-0 cache key"),
            );
        }
    }
}

fn check_forwarding(t: &Template, id: &Value, cookie: &str, dist: &str, found: &mut Check<'_>) {
    // The managed AllViewer policy forwards every cookie.
    if id.as_str().is_some() && id.as_str() == OriginRequestPolicy::managed_id("AllViewer") {
        return;
    }
    let policy = t
        .target(id)
        .filter(|r| r.kind == "AWS::CloudFront::OriginRequestPolicy");
    let cookies = policy.map(|p| &p.properties["OriginRequestPolicyConfig"]["CookiesConfig"]);
    let forwarded = cookies.is_some_and(|c| match c["CookieBehavior"].as_str() {
        Some("all") => true,
        Some("whitelist") => c["Cookies"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|name| literal(t, name).as_deref() == Some(cookie)),
        _ => false,
    });
    if !forwarded {
        found(
            Rule::SessionCookie,
            policy.map_or(dist, |p| p.id.as_str()),
            format!(
                "the origin-request behaviour does not forward the {cookie:?} cookie: without it the edge and the origin see no session"
            ),
        );
    }
}

/// A string literal, or a parameter's default.
fn literal(t: &Template, v: &Value) -> Option<String> {
    match reference(v) {
        Some((name, None)) => t.document["Parameters"][name]["Default"]
            .as_str()
            .map(str::to_owned),
        _ => v.as_str().map(str::to_owned),
    }
}
