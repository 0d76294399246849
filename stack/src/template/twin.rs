//! What the local twin runs, read from a template through the [`Resolver`]: the functions, the
//! distribution's default cache behaviour (policies, Lambda@Edge associations, custom error
//! responses) and the ALB in front of a `lambda` target group. Every default is Lambda's,
//! CloudFront's or ELB's documented one (docs/AWS-BEHAVIOUR.md, "Reading a template as
//! CloudFormation does"); what the stack cannot run is an error naming the template path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use edge_persist_core::cloudfront::EventType;
use serde_json::Value;

use super::resolve::{Inputs, LOCAL_HOST, Resolver, function_arn};
use super::{Resource, Template, TemplateError};
pub use crate::cloudfront::CustomErrorResponse;
use crate::cloudfront::policy::{CachePolicy, Includes, OriginRequestPolicy, Policies};
use crate::logs::LogFormat;

/// Resource types the twin reads; every other type is listed as ignored.
const EMULATED: &[&str] = &[
    "AWS::Lambda::Function",
    "AWS::Lambda::Version",
    "AWS::CloudFront::Distribution",
    "AWS::CloudFront::CachePolicy",
    "AWS::CloudFront::OriginRequestPolicy",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::Listener",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
];

/// Lambda's memory sizes and longest timeout (docs/AWS-BEHAVIOUR.md).
const MEMORY_MB: std::ops::RangeInclusive<u64> = 128..=10_240;
const MAX_TIMEOUT_S: u64 = 900;

/// Where a function's code is: a zip (what `aws cloudformation package` uploads) or a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    Zip(PathBuf),
    Dir(PathBuf),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    /// Logical id.
    pub id: String,
    /// The function's name (`FunctionName`, or `<stack>-<logical id>`).
    pub name: String,
    pub runtime: String,
    pub handler: Option<String>,
    pub code: Code,
    pub memory_mb: u32,
    pub timeout: Duration,
    pub environment: Vec<(String, String)>,
    pub log_format: LogFormat,
    pub log_group: Option<String>,
    pub architectures: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    pub event_type: EventType,
    pub include_body: bool,
    /// Logical id of the function behind the version.
    pub function: String,
    pub version_arn: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Distribution {
    pub id: String,
    pub policies: Policies,
    pub associations: Vec<Association>,
    pub custom_error_responses: Vec<CustomErrorResponse>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadBalancer {
    pub id: String,
    pub listener_port: u16,
    /// `routing.http.drop_invalid_header_fields.enabled` (default false).
    pub drop_invalid_header_fields: bool,
    /// The target group's `lambda.multi_value_headers.enabled` (default false).
    pub multi_value_headers: bool,
    /// Logical id of the target group's function.
    pub target: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Twin {
    pub stack_name: String,
    pub functions: BTreeMap<String, Function>,
    pub distribution: Distribution,
    /// None: the template has no load balancer (a distribution in front of another origin,
    /// which the stack does not emulate; `up` puts alb-fn in its place).
    pub load_balancer: Option<LoadBalancer>,
    /// Resources the stack does not emulate: (logical id, type).
    pub ignored: Vec<(String, String)>,
    /// Settings read but not emulated (an ALB attribute the stack has no behaviour for).
    pub ignored_settings: Vec<String>,
}

fn at(path: &str, message: impl Into<String>) -> TemplateError {
    TemplateError::At {
        path: path.to_owned(),
        message: message.into(),
    }
}

impl Twin {
    /// Read the twin from `t`; relative code paths are relative to `template_dir`.
    pub fn build(
        t: &Template,
        inputs: &Inputs,
        template_dir: &Path,
    ) -> Result<Self, TemplateError> {
        let r = Resolver::new(t, inputs)?;
        let mut functions = BTreeMap::new();
        for f in live(&r, t, "AWS::Lambda::Function") {
            functions.insert(f.id.clone(), function(&r, f, template_dir)?);
        }
        let has_alb = live(&r, t, "AWS::ElasticLoadBalancingV2::LoadBalancer")
            .next()
            .is_some();
        let distribution = distribution(&r, t, &functions, has_alb)?;
        let mut ignored_settings = Vec::new();
        let load_balancer = if has_alb {
            Some(load_balancer(&r, t, &functions, &mut ignored_settings)?)
        } else {
            None
        };
        let ignored = t
            .resources
            .values()
            .filter(|res| !EMULATED.contains(&res.kind.as_str()) || !r.exists(&res.id))
            .map(|res| (res.id.clone(), res.kind.clone()))
            .collect();
        Ok(Self {
            stack_name: r.stack_name().to_owned(),
            functions,
            distribution,
            load_balancer,
            ignored,
            ignored_settings,
        })
    }

    /// The function an association of this event type runs, if any.
    pub fn association(&self, event: EventType) -> Option<(&Association, &Function)> {
        let a = self
            .distribution
            .associations
            .iter()
            .find(|a| a.event_type == event)?;
        Some((a, self.functions.get(&a.function)?))
    }

    /// The load balancer's target function.
    pub fn origin(&self) -> Option<&Function> {
        self.functions.get(&self.load_balancer.as_ref()?.target)
    }
}

/// The project's deployment template, built into the binary: the stack's default policies are
/// read from it, so a local run forwards what AWS forwards.
const PROJECT_TEMPLATE: &str = include_str!("../../../infra/template.yaml");

/// The cache behaviour policies `infra/template.yaml` attaches, parameters at their defaults.
pub fn project_policies() -> Policies {
    let t = Template::parse(PROJECT_TEMPLATE);
    let dir = crate::binaries::workspace_root().join("infra");
    let twin = t.and_then(|t| Twin::build(&t, &Inputs::default(), &dir));
    // The template is part of the binary and a unit test reads it: it cannot fail at run time.
    twin.unwrap_or_else(|e| panic!("infra/template.yaml: {e}"))
        .distribution
        .policies
}

fn live<'t>(
    r: &'t Resolver<'_>,
    t: &'t Template,
    kind: &'t str,
) -> impl Iterator<Item = &'t Resource> + 't {
    t.of_kind(kind).filter(|res| r.exists(&res.id))
}

/// The one resource of a type the stack runs exactly one of.
fn one<'t>(
    r: &Resolver<'_>,
    t: &'t Template,
    kind: &str,
    role: &str,
) -> Result<&'t Resource, TemplateError> {
    let all: Vec<&Resource> = t
        .resources
        .values()
        .filter(|res| res.kind == kind && r.exists(&res.id))
        .collect();
    match all.as_slice() {
        [one] => Ok(one),
        [] => Err(at("Resources", format!("no {kind}: the stack runs {role}"))),
        many => Err(at(
            "Resources",
            format!(
                "{} resources of type {kind} ({}): the stack runs one ({role})",
                many.len(),
                many.iter()
                    .map(|m| m.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

fn path(r: &Resource, key: &str) -> String {
    format!("Resources.{}.Properties.{key}", r.id)
}

fn whole(path: &str, v: &Value) -> Result<u64, TemplateError> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| at(path, format!("{v} is not a whole number")))
}

fn boolean(path: &str, v: &Value) -> Result<bool, TemplateError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(at(path, format!("{other} is not true or false"))),
    }
}

fn text(path: &str, v: &Value) -> Result<String, TemplateError> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| at(path, format!("{v} is not a string")))
}

fn function(r: &Resolver<'_>, f: &Resource, dir: &Path) -> Result<Function, TemplateError> {
    let prop = |key: &str| r.property(f, key);
    let runtime = match prop("Runtime")? {
        Some(v) => text(&path(f, "Runtime"), &v)?,
        None => {
            return Err(at(
                &path(f, "Runtime"),
                "missing: the stack runs zip packages, which need a Runtime (container images are not run)",
            ));
        }
    };
    let handler = prop("Handler")?
        .map(|v| text(&path(f, "Handler"), &v))
        .transpose()?;
    let code_path = path(f, "Code");
    let code = match prop("Code")? {
        Some(Value::String(local)) => {
            let p = dir.join(&local);
            if p.is_dir() {
                Code::Dir(p)
            } else {
                Code::Zip(p)
            }
        }
        Some(Value::Object(m)) if m.contains_key("S3Bucket") || m.contains_key("S3Key") => {
            return Err(at(
                &code_path,
                "code in S3 cannot be run locally: give a local zip or directory (the path `aws cloudformation package` uploads)",
            ));
        }
        Some(Value::Object(m)) if m.contains_key("ZipFile") => {
            return Err(at(
                &code_path,
                "inline code (ZipFile) is not run by the stack: give a local zip or directory",
            ));
        }
        Some(Value::Object(m)) if m.contains_key("ImageUri") => {
            return Err(at(&code_path, "container images are not run by the stack"));
        }
        Some(other) => return Err(at(&code_path, format!("{other} is not a code location"))),
        None => return Err(at(&code_path, "missing")),
    };
    // Lambda's defaults: 128 MB, 3 s.
    let memory = match prop("MemorySize")? {
        Some(v) => whole(&path(f, "MemorySize"), &v)?,
        None => 128,
    };
    if !MEMORY_MB.contains(&memory) {
        return Err(at(
            &path(f, "MemorySize"),
            format!(
                "{memory} MB: Lambda takes {} to {} MB",
                MEMORY_MB.start(),
                MEMORY_MB.end()
            ),
        ));
    }
    let timeout = match prop("Timeout")? {
        Some(v) => whole(&path(f, "Timeout"), &v)?,
        None => 3,
    };
    if timeout == 0 || timeout > MAX_TIMEOUT_S {
        return Err(at(
            &path(f, "Timeout"),
            format!("{timeout} s: Lambda takes 1 to {MAX_TIMEOUT_S} s"),
        ));
    }
    let mut environment = Vec::new();
    if let Some(env) = prop("Environment")? {
        let vars = env.get("Variables").and_then(Value::as_object);
        for (k, v) in vars.into_iter().flatten() {
            let value = match v {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => v.to_string(),
                other => {
                    return Err(at(
                        &format!("{}.Variables.{k}", path(f, "Environment")),
                        format!("{other} is not a string"),
                    ));
                }
            };
            environment.push((k.clone(), value));
        }
    }
    let (mut log_format, mut log_group) = (LogFormat::Text, None);
    if let Some(logging) = prop("LoggingConfig")? {
        let lp = path(f, "LoggingConfig");
        if let Some(fmt) = logging.get("LogFormat") {
            log_format = match fmt.as_str() {
                Some("Text") => LogFormat::Text,
                Some("JSON") => LogFormat::Json,
                _ => {
                    return Err(at(
                        &format!("{lp}.LogFormat"),
                        format!("{fmt}: Lambda takes Text or JSON"),
                    ));
                }
            };
        }
        if let Some(group) = logging.get("LogGroup") {
            log_group = Some(text(&format!("{lp}.LogGroup"), group)?);
        }
    }
    let architectures = match prop("Architectures")? {
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| text(&format!("{}[{i}]", path(f, "Architectures")), v))
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(at(
                &path(f, "Architectures"),
                format!("{other} is not a list"),
            ));
        }
        None => vec!["x86_64".to_owned()],
    };
    Ok(Function {
        id: f.id.clone(),
        name: r.ref_of(&format!("Resources.{}", f.id), f)?,
        runtime,
        handler,
        code,
        memory_mb: u32::try_from(memory).unwrap_or(u32::MAX),
        timeout: Duration::from_secs(timeout),
        environment,
        log_format,
        log_group,
        architectures,
    })
}

/// The function of the template whose name or ARN `name_or_arn` is.
fn function_named<'f>(
    functions: &'f BTreeMap<String, Function>,
    name_or_arn: &str,
) -> Option<&'f Function> {
    functions
        .values()
        .find(|f| f.name == name_or_arn || function_arn(&f.name) == name_or_arn)
}

fn distribution(
    r: &Resolver<'_>,
    t: &Template,
    functions: &BTreeMap<String, Function>,
    has_alb: bool,
) -> Result<Distribution, TemplateError> {
    let d = one(
        r,
        t,
        "AWS::CloudFront::Distribution",
        "one CloudFront distribution",
    )?;
    let base = path(d, "DistributionConfig");
    let config = r
        .property(d, "DistributionConfig")?
        .ok_or_else(|| at(&base, "missing"))?;
    if config["CacheBehaviors"]
        .as_array()
        .is_some_and(|b| !b.is_empty())
    {
        return Err(at(
            &format!("{base}.CacheBehaviors"),
            "the stack emulates the default cache behaviour only",
        ));
    }
    let b_path = format!("{base}.DefaultCacheBehavior");
    let b = &config["DefaultCacheBehavior"];
    if !b.is_object() {
        return Err(at(&b_path, "missing"));
    }
    if b["FunctionAssociations"]
        .as_array()
        .is_some_and(|a| !a.is_empty())
    {
        return Err(at(
            &format!("{b_path}.FunctionAssociations"),
            "CloudFront Functions are not emulated (Lambda@Edge associations are)",
        ));
    }
    // The origin: the stack's only one is its ALB.
    let target = text(&format!("{b_path}.TargetOriginId"), &b["TargetOriginId"])?;
    let origins = config["Origins"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let (i, origin) = origins
        .iter()
        .enumerate()
        .find(|(_, o)| o["Id"] == target.as_str())
        .ok_or_else(|| {
            at(
                &format!("{b_path}.TargetOriginId"),
                format!("no origin with Id {target:?} in Origins"),
            )
        })?;
    let o_path = format!("{base}.Origins[{i}]");
    // Without a load balancer in the template, any origin: it is not emulated (alb-fn stands in).
    if has_alb && origin["DomainName"] != LOCAL_HOST {
        return Err(at(
            &format!("{o_path}.DomainName"),
            format!(
                "{} is not the template's load balancer (!GetAtt <LoadBalancer>.DNSName): the stack's only origin is its ALB",
                origin["DomainName"]
            ),
        ));
    }
    if origin["OriginPath"].as_str().is_some_and(|p| !p.is_empty()) {
        return Err(at(
            &format!("{o_path}.OriginPath"),
            "an origin path is not emulated",
        ));
    }
    let cache = match &b["CachePolicyId"] {
        Value::Null if !b["ForwardedValues"].is_null() => {
            return Err(at(
                &format!("{b_path}.ForwardedValues"),
                "legacy cache settings are not emulated: attach a cache policy (CachePolicyId)",
            ));
        }
        Value::Null => return Err(at(&format!("{b_path}.CachePolicyId"), "missing")),
        id => {
            let p = format!("{b_path}.CachePolicyId");
            let id = text(&p, id)?;
            match CachePolicy::managed_by_id(&id) {
                Some(managed) => managed,
                None => {
                    let res = own_policy(r, t, "AWS::CloudFront::CachePolicy", &id, &p)?;
                    let cp = format!(
                        "{}.ParametersInCacheKeyAndForwardedToOrigin",
                        path(res, "CachePolicyConfig")
                    );
                    let config = r.property(res, "CachePolicyConfig")?.unwrap_or_default();
                    CachePolicy {
                        name: res.id.clone(),
                        key: Includes::from_config(
                            &cp,
                            &config["ParametersInCacheKeyAndForwardedToOrigin"],
                        )
                        .map_err(TemplateError::Shape)?,
                    }
                }
            }
        }
    };
    let origin_request = match &b["OriginRequestPolicyId"] {
        Value::Null => None,
        id => {
            let p = format!("{b_path}.OriginRequestPolicyId");
            let id = text(&p, id)?;
            Some(match OriginRequestPolicy::managed_by_id(&id) {
                Some(managed) => managed,
                None => {
                    let res = own_policy(r, t, "AWS::CloudFront::OriginRequestPolicy", &id, &p)?;
                    let config = r
                        .property(res, "OriginRequestPolicyConfig")?
                        .unwrap_or_default();
                    OriginRequestPolicy {
                        name: res.id.clone(),
                        include: Includes::from_config(
                            &path(res, "OriginRequestPolicyConfig"),
                            &config,
                        )
                        .map_err(TemplateError::Shape)?,
                    }
                }
            })
        }
    };
    let mut associations = Vec::new();
    let list = b["LambdaFunctionAssociations"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (i, a) in list.iter().enumerate() {
        let ap = format!("{b_path}.LambdaFunctionAssociations[{i}]");
        let event = text(&format!("{ap}.EventType"), &a["EventType"])?;
        let event_type = EventType::parse(&event).ok_or_else(|| {
            at(
                &format!("{ap}.EventType"),
                format!("{event:?}: CloudFront takes viewer-request, origin-request, origin-response or viewer-response"),
            )
        })?;
        let include_body = match &a["IncludeBody"] {
            Value::Null => false,
            v => boolean(&format!("{ap}.IncludeBody"), v)?,
        };
        let arn_path = format!("{ap}.LambdaFunctionARN");
        let version_arn = text(&arn_path, &a["LambdaFunctionARN"])?;
        let version = live(r, t, "AWS::Lambda::Version")
            .find(|v| r.ref_of(&arn_path, v).is_ok_and(|arn| arn == version_arn))
            .ok_or_else(|| {
                at(
                    &arn_path,
                    format!("{version_arn} is no AWS::Lambda::Version of this template: the stack runs the template's own functions"),
                )
            })?;
        let fn_path = path(version, "FunctionName");
        let name = r.string(&fn_path, &version.properties["FunctionName"])?;
        let function = function_named(functions, &name).ok_or_else(|| {
            at(
                &fn_path,
                format!("{name} is no AWS::Lambda::Function of this template"),
            )
        })?;
        associations.push(Association {
            event_type,
            include_body,
            function: function.id.clone(),
            version_arn,
        });
    }
    let mut custom_error_responses = Vec::new();
    let list = config["CustomErrorResponses"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (i, e) in list.iter().enumerate() {
        let ep = format!("{base}.CustomErrorResponses[{i}]");
        let code = |key: &str| -> Result<Option<u16>, TemplateError> {
            match &e[key] {
                Value::Null => Ok(None),
                v => {
                    let n = whole(&format!("{ep}.{key}"), v)?;
                    u16::try_from(n)
                        .ok()
                        .filter(|c| (100..=599).contains(c))
                        .map(Some)
                        .ok_or_else(|| {
                            at(&format!("{ep}.{key}"), format!("{n} is not an HTTP status"))
                        })
                }
            }
        };
        let error_code =
            code("ErrorCode")?.ok_or_else(|| at(&format!("{ep}.ErrorCode"), "missing"))?;
        let response_page_path = match &e["ResponsePagePath"] {
            Value::Null => None,
            v => Some(text(&format!("{ep}.ResponsePagePath"), v)?),
        };
        let response_code = code("ResponseCode")?;
        // CloudFront takes a page path and a response code together.
        if response_code.is_some() != response_page_path.is_some() {
            return Err(at(&ep, "ResponseCode and ResponsePagePath go together"));
        }
        custom_error_responses.push(CustomErrorResponse {
            error_code,
            response_code,
            response_page_path,
            error_caching_min_ttl: match &e["ErrorCachingMinTTL"] {
                Value::Null => None,
                v => Some(whole(&format!("{ep}.ErrorCachingMinTTL"), v)?),
            },
        });
    }
    Ok(Distribution {
        id: d.id.clone(),
        policies: Policies {
            cache,
            origin_request,
        },
        associations,
        custom_error_responses,
    })
}

/// The template's own policy of `kind` whose id is `id`.
fn own_policy<'t>(
    r: &Resolver<'_>,
    t: &'t Template,
    kind: &str,
    id: &str,
    p: &str,
) -> Result<&'t Resource, TemplateError> {
    t.resources
        .values()
        .filter(|res| res.kind == kind && r.exists(&res.id))
        .find(|res| r.ref_of(p, res).is_ok_and(|v| v == id))
        .ok_or_else(|| {
            at(p, format!("{id} is neither a managed policy the stack models nor a {kind} of this template"))
        })
}

/// `[{Key, Value}]` attributes as a map, each value a string.
fn attributes(p: &str, v: Option<Value>) -> Result<BTreeMap<String, String>, TemplateError> {
    let mut out = BTreeMap::new();
    let list = v.unwrap_or(Value::Array(vec![]));
    let items = list
        .as_array()
        .ok_or_else(|| at(p, "not a list of Key/Value"))?;
    for (i, a) in items.iter().enumerate() {
        let key = text(&format!("{p}[{i}].Key"), &a["Key"])?;
        let value = match &a["Value"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.insert(key, value);
    }
    Ok(out)
}

fn load_balancer(
    r: &Resolver<'_>,
    t: &Template,
    functions: &BTreeMap<String, Function>,
    ignored_settings: &mut Vec<String>,
) -> Result<LoadBalancer, TemplateError> {
    const ROLE: &str =
        "one Application Load Balancer with one listener forwarding to a lambda target group";
    let lb = one(r, t, "AWS::ElasticLoadBalancingV2::LoadBalancer", ROLE)?;
    if let Some(kind) = r.property(lb, "Type")?
        && kind != "application"
    {
        return Err(at(
            &path(lb, "Type"),
            format!("{kind}: the stack emulates an application load balancer"),
        ));
    }
    let ap = path(lb, "LoadBalancerAttributes");
    let mut drop_invalid_header_fields = false;
    for (k, v) in attributes(&ap, r.property(lb, "LoadBalancerAttributes")?)? {
        if k == "routing.http.drop_invalid_header_fields.enabled" {
            drop_invalid_header_fields = boolean(&format!("{ap}.{k}"), &Value::String(v))?;
        } else {
            ignored_settings.push(format!("{}: load balancer attribute {k}={v}", lb.id));
        }
    }
    let lb_arn = r.ref_of(&path(lb, "Name"), lb)?;
    let listener = one(r, t, "AWS::ElasticLoadBalancingV2::Listener", ROLE)?;
    let arn = r.property(listener, "LoadBalancerArn")?.unwrap_or_default();
    if arn != lb_arn.as_str() {
        return Err(at(
            &path(listener, "LoadBalancerArn"),
            format!("{arn} is not {}'s ARN", lb.id),
        ));
    }
    let port = match r.property(listener, "Port")? {
        Some(v) => whole(&path(listener, "Port"), &v)?,
        None => 80,
    };
    let actions = r.property(listener, "DefaultActions")?.unwrap_or_default();
    let dp = path(listener, "DefaultActions");
    let action = actions
        .as_array()
        .and_then(|a| a.first())
        .ok_or_else(|| at(&dp, "missing"))?;
    if action["Type"] != "forward" {
        return Err(at(
            &format!("{dp}[0].Type"),
            format!("{}: the stack emulates a forward action", action["Type"]),
        ));
    }
    let tg_arn = match (
        &action["TargetGroupArn"],
        &action["ForwardConfig"]["TargetGroups"],
    ) {
        (Value::String(s), _) => s.clone(),
        (_, Value::Array(groups)) if groups.len() == 1 => text(
            &format!("{dp}[0].ForwardConfig.TargetGroups[0].TargetGroupArn"),
            &groups[0]["TargetGroupArn"],
        )?,
        _ => {
            return Err(at(
                &format!("{dp}[0]"),
                "forward to exactly one target group",
            ));
        }
    };
    let tg = live(r, t, "AWS::ElasticLoadBalancingV2::TargetGroup")
        .find(|g| r.ref_of(&dp, g).is_ok_and(|a| a == tg_arn))
        .ok_or_else(|| {
            at(
                &format!("{dp}[0]"),
                format!("{tg_arn} is no target group of this template"),
            )
        })?;
    if r.property(tg, "TargetType")?
        .as_ref()
        .and_then(Value::as_str)
        != Some("lambda")
    {
        return Err(at(
            &path(tg, "TargetType"),
            "the stack emulates a target group of type lambda",
        ));
    }
    let targets = r.property(tg, "Targets")?.unwrap_or_default();
    let tp = path(tg, "Targets");
    let [target] = targets.as_array().map(Vec::as_slice).unwrap_or_default() else {
        return Err(at(&tp, "a lambda target group has exactly one target"));
    };
    let id = text(&format!("{tp}[0].Id"), &target["Id"])?;
    let function = function_named(functions, &id).ok_or_else(|| {
        at(
            &format!("{tp}[0].Id"),
            format!("{id} is no AWS::Lambda::Function of this template"),
        )
    })?;
    let gp = path(tg, "TargetGroupAttributes");
    let mut multi_value_headers = false;
    for (k, v) in attributes(&gp, r.property(tg, "TargetGroupAttributes")?)? {
        if k == "lambda.multi_value_headers.enabled" {
            multi_value_headers = boolean(&format!("{gp}.{k}"), &Value::String(v))?;
        } else {
            ignored_settings.push(format!("{}: target group attribute {k}={v}", tg.id));
        }
    }
    Ok(LoadBalancer {
        id: lb.id.clone(),
        listener_port: u16::try_from(port)
            .map_err(|_| at(&path(listener, "Port"), format!("{port} is not a port")))?,
        drop_invalid_header_fields,
        multi_value_headers,
        target: function.id.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(params: &[(&str, &str)]) -> Result<Twin, String> {
        let t = Template::parse(PROJECT_TEMPLATE).map_err(|e| e.to_string())?;
        let inputs = Inputs {
            parameters: params
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            stack_name: String::new(),
        };
        Twin::build(&t, &inputs, Path::new("/infra")).map_err(|e| e.to_string())
    }

    #[test]
    fn the_projects_template_as_the_twin_runs_it() {
        let twin = project(&[]).unwrap();
        let (assoc, edge) = twin.association(EventType::OriginRequest).unwrap();
        assert_eq!(edge.id, "EdgeFunction");
        assert_eq!(edge.runtime, "nodejs22.x");
        assert_eq!(edge.handler.as_deref(), Some("index.handler"));
        assert_eq!(
            edge.code,
            Code::Zip(PathBuf::from("/infra/../dist/lambda-edge.zip"))
        );
        assert_eq!(
            (edge.memory_mb, edge.timeout),
            (128, Duration::from_secs(5))
        );
        assert_eq!(
            edge.log_format,
            LogFormat::Text,
            "Lambda's default without LoggingConfig"
        );
        assert!(!assoc.include_body);
        assert!(
            assoc
                .version_arn
                .ends_with(":function:edge-persist-EdgeFunction:1"),
            "{}",
            assoc.version_arn
        );
        let origin = twin.origin().unwrap();
        assert_eq!(origin.name, "edge-persist-origin");
        assert_eq!(origin.runtime, "provided.al2023");
        assert_eq!(origin.timeout, Duration::from_secs(3));
        assert_eq!(origin.log_format, LogFormat::Json);
        assert_eq!(
            origin.log_group.as_deref(),
            Some("/aws/lambda/edge-persist-origin")
        );
        assert_eq!(origin.architectures, ["x86_64"]);
        let p = &twin.distribution.policies;
        assert_eq!(p.cache.name, "NoCachePolicy");
        assert!(p.forwards_cookie("edge_session") && !p.forwards_cookie("other"));
        assert!(p.forwards_header("accept") && !p.forwards_header("user-agent"));
        let lb = twin.load_balancer.as_ref().unwrap();
        assert!(!lb.drop_invalid_header_fields && !lb.multi_value_headers);
        assert_eq!(
            (lb.listener_port, lb.target.as_str()),
            (80, "OriginFunction")
        );
        let ignored: Vec<&str> = twin.ignored.iter().map(|(id, _)| id.as_str()).collect();
        assert!(
            ignored.contains(&"EdgeRole") && ignored.contains(&"Vpc"),
            "{ignored:?}"
        );
        assert!(!ignored.contains(&"EdgeFunction"));
    }

    #[test]
    fn parameters_reach_the_model() {
        let twin = project(&[("SessionCookie", "sid"), ("OriginArchitecture", "arm64")]).unwrap();
        let p = &twin.distribution.policies;
        assert!(p.forwards_cookie("sid") && !p.forwards_cookie("edge_session"));
        assert_eq!(twin.origin().unwrap().architectures, ["arm64"]);
        let e = project(&[("OriginArchitecture", "sparc")]).unwrap_err();
        assert!(e.starts_with("Parameters.OriginArchitecture: --parameter value \"sparc\" is not one of AllowedValues"), "{e}");
    }

    fn edited(from: &str, to: &str) -> String {
        assert!(PROJECT_TEMPLATE.contains(from), "{from}");
        let t = Template::parse(&PROJECT_TEMPLATE.replacen(from, to, 1)).map_err(|e| e.to_string());
        t.and_then(|t| {
            Twin::build(&t, &Inputs::default(), Path::new("/infra")).map_err(|e| e.to_string())
        })
        .err()
        .unwrap_or_else(|| panic!("{to} was accepted"))
    }

    #[test]
    fn what_the_stack_cannot_run_names_the_path() {
        let e = edited(
            "Code: ../dist/lambda-edge.zip",
            "Code: {S3Bucket: b, S3Key: k}",
        );
        assert!(
            e.starts_with("Resources.EdgeFunction.Properties.Code: code in S3"),
            "{e}"
        );
        let e = edited(
            "      MemorySize: 128\n      Timeout: 5",
            "      MemorySize: 64\n      Timeout: 5",
        );
        assert!(
            e.starts_with("Resources.EdgeFunction.Properties.MemorySize: 64 MB"),
            "{e}"
        );
        let e = edited("Timeout: 3", "Timeout: 901");
        assert!(
            e.starts_with("Resources.OriginFunction.Properties.Timeout"),
            "{e}"
        );
        let e = edited("DomainName: !GetAtt Alb.DNSName", "DomainName: example.com");
        assert!(
            e.contains("Origins[0].DomainName") && e.contains("only origin is its ALB"),
            "{e}"
        );
        let e = edited("TargetType: lambda", "TargetType: ip");
        assert!(
            e.starts_with("Resources.OriginTargetGroup.Properties.TargetType"),
            "{e}"
        );
        let e = edited(
            "CachePolicyId: !Ref NoCachePolicy",
            "CachePolicyId: 00000000-0000-0000-0000-000000000000",
        );
        assert!(
            e.contains("DefaultCacheBehavior.CachePolicyId: 00000000"),
            "{e}"
        );
        let e = edited(
            "LambdaFunctionARN: !Ref EdgeVersion",
            "LambdaFunctionARN: arn:aws:lambda:us-east-1:1:function:x:1",
        );
        assert!(
            e.contains("LambdaFunctionAssociations[0].LambdaFunctionARN"),
            "{e}"
        );
        let e = edited("EventType: origin-request", "EventType: origin-requests");
        assert!(e.contains("LambdaFunctionAssociations[0].EventType"), "{e}");
        let e = edited("LogFormat: JSON", "LogFormat: Yaml");
        assert!(
            e.starts_with("Resources.OriginFunction.Properties.LoggingConfig.LogFormat"),
            "{e}"
        );
    }

    #[test]
    fn managed_policies_by_id_and_custom_error_responses() {
        let text = PROJECT_TEMPLATE
            .replace("CachePolicyId: !Ref NoCachePolicy", "CachePolicyId: 4135ea2d-6df8-44a3-9df3-4b5a84be39ad")
            .replace("OriginRequestPolicyId: !Ref OriginForwardPolicy", "OriginRequestPolicyId: 216adef6-5c7f-47e4-b989-5492eafa07d3")
            .replace(
                "        DefaultCacheBehavior:",
                "        CustomErrorResponses:\n          - {ErrorCode: 502, ResponseCode: 200, ResponsePagePath: /oops.html, ErrorCachingMinTTL: 0}\n          - {ErrorCode: 404}\n        DefaultCacheBehavior:",
            );
        let t = Template::parse(&text).unwrap();
        let twin = Twin::build(&t, &Inputs::default(), Path::new("/")).unwrap();
        let p = &twin.distribution.policies;
        assert_eq!(p.cache.name, "CachingDisabled");
        assert_eq!(p.origin_request.as_ref().unwrap().name, "AllViewer");
        assert_eq!(
            twin.distribution.custom_error_responses,
            [
                CustomErrorResponse {
                    error_code: 502,
                    response_code: Some(200),
                    response_page_path: Some("/oops.html".into()),
                    error_caching_min_ttl: Some(0)
                },
                CustomErrorResponse {
                    error_code: 404,
                    response_code: None,
                    response_page_path: None,
                    error_caching_min_ttl: None
                },
            ]
        );
    }
}
