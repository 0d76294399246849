//! CloudFormation's resolution, done locally: parameters (defaults, `--parameter` values and their
//! constraints), pseudo parameters, conditions, and the intrinsic functions between resources.
//! Every fact used here is in docs/AWS-BEHAVIOUR.md, "Reading a template as CloudFormation does".
//!
//! Resolution is lazy: `value` resolves what the twin reads and nothing else, so an intrinsic
//! in a resource the stack does not emulate (`!GetAZs` in a subnet) is never evaluated. What
//! CloudFormation checks over the whole template before it creates anything (every reference
//! names something, every `Fn::` is a function) is checked in `Resolver::new`.
//! Hand-written: no Rust crate evaluates CloudFormation intrinsics.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::{Resource, Template, TemplateError};
use crate::logs::{ACCOUNT_ID, REGION};

/// What the caller gives: `--parameter Name=Value` pairs and the stack name.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub parameters: BTreeMap<String, String>,
    pub stack_name: String,
}

/// The stack name a local run uses unless told otherwise (docs/DEPLOY.md deploys under it).
pub const DEFAULT_STACK_NAME: &str = "edge-persist";

/// The host name a local load balancer or distribution answers on (`DNSName`, `DomainName`).
pub const LOCAL_HOST: &str = "127.0.0.1";

/// The version a local `AWS::Lambda::Version` publishes (the stack's edge function runs as it).
const LOCAL_VERSION: &str = crate::function::EDGE_VERSION;

/// Intrinsic functions CloudFormation knows that the twin cannot evaluate locally.
const UNSUPPORTED: &[&str] = &[
    "Fn::GetAZs",
    "Fn::ImportValue",
    "Fn::Cidr",
    "Fn::Length",
    "Fn::ToJsonString",
    "Fn::Transform",
    "Fn::ForEach",
];

/// Intrinsic functions the resolver evaluates in values.
const SUPPORTED: &[&str] = &[
    "Ref",
    "Fn::GetAtt",
    "Fn::Sub",
    "Fn::Join",
    "Fn::If",
    "Fn::Select",
    "Fn::Split",
    "Fn::FindInMap",
    "Fn::Base64",
];

/// Functions only allowed in `Conditions` (and `Fn::If`'s first argument names a condition).
const CONDITION_FUNCTIONS: &[&str] = &["Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not", "Condition"];

fn at(path: &str, message: impl Into<String>) -> TemplateError {
    TemplateError::At {
        path: path.to_owned(),
        message: message.into(),
    }
}

pub struct Resolver<'t> {
    t: &'t Template,
    /// Parameter values after checks: a string, or a list for list types.
    params: BTreeMap<String, Value>,
    conditions: BTreeMap<String, bool>,
    stack_name: String,
}

impl<'t> Resolver<'t> {
    pub fn new(t: &'t Template, inputs: &Inputs) -> Result<Self, TemplateError> {
        let stack_name = if inputs.stack_name.is_empty() {
            DEFAULT_STACK_NAME.to_owned()
        } else {
            inputs.stack_name.clone()
        };
        let declared = t.document["Parameters"].as_object();
        for name in inputs.parameters.keys() {
            if !declared.is_some_and(|p| p.contains_key(name)) {
                return Err(at(
                    &format!("Parameters.{name}"),
                    "--parameter names a parameter the template does not declare",
                ));
            }
        }
        let mut params = BTreeMap::new();
        for (name, decl) in declared.into_iter().flatten() {
            let path = format!("Parameters.{name}");
            let given = inputs.parameters.get(name).cloned();
            let value = parameter(&path, decl, given)?;
            params.insert(name.clone(), value);
        }
        let mut r = Self {
            t,
            params,
            conditions: BTreeMap::new(),
            stack_name,
        };
        r.check_references()?;
        let names: Vec<String> = t.document["Conditions"]
            .as_object()
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default();
        for name in names {
            let value = r.condition(&name, &mut Vec::new())?;
            r.conditions.insert(name, value);
        }
        Ok(r)
    }

    pub fn stack_name(&self) -> &str {
        &self.stack_name
    }

    /// Whether the resource is created: it exists and its `Condition`, if any, is true.
    pub fn exists(&self, id: &str) -> bool {
        let Some(body) = self.t.document["Resources"].get(id) else {
            return false;
        };
        match body.get("Condition").and_then(Value::as_str) {
            Some(c) => self.conditions.get(c).copied().unwrap_or(false),
            None => true,
        }
    }

    /// A resource's property, resolved; `None` when absent or removed with `AWS::NoValue`.
    pub fn property(&self, r: &Resource, key: &str) -> Result<Option<Value>, TemplateError> {
        let path = format!("Resources.{}.Properties.{key}", r.id);
        match r.properties.get(key) {
            None => Ok(None),
            Some(v) => self.value(&path, v),
        }
    }

    /// Resolve `v`, found at `path`. `None`: the value is `AWS::NoValue` (the property is
    /// removed, as CloudFormation removes it).
    pub fn value(&self, path: &str, v: &Value) -> Result<Option<Value>, TemplateError> {
        match v {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    if let Some(x) = self.value(&format!("{path}[{i}]"), item)? {
                        out.push(x);
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            Value::Object(map) => {
                if let Some((name, arg)) = intrinsic(map) {
                    return self.function(path, name, arg);
                }
                let mut out = Map::new();
                for (k, x) in map {
                    if let Some(x) = self.value(&format!("{path}.{k}"), x)? {
                        out.insert(k.clone(), x);
                    }
                }
                Ok(Some(Value::Object(out)))
            }
            other => Ok(Some(other.clone())),
        }
    }

    /// Resolve `v` to a value that must be there (`AWS::NoValue` is an error).
    fn present(&self, path: &str, v: &Value) -> Result<Value, TemplateError> {
        self.value(path, v)?
            .ok_or_else(|| at(path, "AWS::NoValue where a value is required"))
    }

    /// Resolve `v` to a string (numbers and booleans as CloudFormation writes them).
    pub fn string(&self, path: &str, v: &Value) -> Result<String, TemplateError> {
        match self.present(path, v)? {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(at(path, format!("expected a string, got {other}"))),
        }
    }

    fn list(&self, path: &str, v: &Value) -> Result<Vec<Value>, TemplateError> {
        match self.present(path, v)? {
            Value::Array(items) => Ok(items),
            other => Err(at(path, format!("expected a list, got {other}"))),
        }
    }

    fn function(
        &self,
        path: &str,
        name: &str,
        arg: &Value,
    ) -> Result<Option<Value>, TemplateError> {
        let here = format!("{path}.{name}");
        let args = |n: usize| -> Result<&Vec<Value>, TemplateError> {
            arg.as_array()
                .filter(|a| a.len() == n)
                .ok_or_else(|| at(&here, format!("takes a list of {n} arguments, got {arg}")))
        };
        let value = match name {
            "Ref" => {
                let target = arg.as_str().ok_or_else(|| {
                    at(&here, format!("names a parameter or resource, got {arg}"))
                })?;
                if target == "AWS::NoValue" {
                    return Ok(None);
                }
                self.reference(&here, target)?
            }
            "Fn::GetAtt" => {
                let (id, attr) = get_att_parts(arg).ok_or_else(|| {
                    at(&here, format!("expected [Resource, Attribute], got {arg}"))
                })?;
                let attr = match attr {
                    Value::String(s) => s.clone(),
                    other => self.string(&format!("{here}[1]"), other)?,
                };
                self.attribute(&here, id, &attr)?
            }
            "Fn::Sub" => Value::String(self.sub(&here, arg)?),
            "Fn::Join" => {
                let a = args(2)?;
                let sep = a[0]
                    .as_str()
                    .ok_or_else(|| at(&here, "the delimiter is a literal string"))?;
                let parts = self.list(&format!("{here}[1]"), &a[1])?;
                let mut out = Vec::with_capacity(parts.len());
                for (i, p) in parts.iter().enumerate() {
                    out.push(self.string(&format!("{here}[1][{i}]"), p)?);
                }
                Value::String(out.join(sep))
            }
            "Fn::If" => {
                let a = args(3)?;
                let cond = a[0]
                    .as_str()
                    .ok_or_else(|| at(&here, "the first argument names a condition"))?;
                let chosen = *self
                    .conditions
                    .get(cond)
                    .ok_or_else(|| at(&here, format!("no condition {cond:?} in Conditions")))?;
                let (i, branch) = if chosen { (1, &a[1]) } else { (2, &a[2]) };
                return self.value(&format!("{here}[{i}]"), branch);
            }
            "Fn::Select" => {
                let a = args(2)?;
                let index = self.string(&format!("{here}[0]"), &a[0])?;
                let index: usize = index
                    .parse()
                    .map_err(|_| at(&here, format!("index {index:?} is not a whole number")))?;
                let items = self.list(&format!("{here}[1]"), &a[1])?;
                let len = items.len();
                items
                    .into_iter()
                    .nth(index)
                    .ok_or_else(|| at(&here, format!("index {index} is out of a list of {len}")))?
            }
            "Fn::Split" => {
                let a = args(2)?;
                let sep = a[0]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| at(&here, "the delimiter is a non-empty literal string"))?;
                let text = self.string(&format!("{here}[1]"), &a[1])?;
                Value::Array(text.split(sep).map(|s| Value::String(s.into())).collect())
            }
            "Fn::FindInMap" => {
                let a = args(3)?;
                let mut keys = Vec::with_capacity(3);
                for (i, k) in a.iter().enumerate() {
                    keys.push(self.string(&format!("{here}[{i}]"), k)?);
                }
                let found = self.t.document["Mappings"]
                    .get(&keys[0])
                    .and_then(|m| m.get(&keys[1]))
                    .and_then(|m| m.get(&keys[2]))
                    .ok_or_else(|| {
                        at(
                            &here,
                            format!(
                                "Mappings.{}.{}.{} does not exist",
                                keys[0], keys[1], keys[2]
                            ),
                        )
                    })?;
                found.clone()
            }
            "Fn::Base64" => {
                use base64::Engine;
                let text = self.string(&here, arg)?;
                Value::String(base64::engine::general_purpose::STANDARD.encode(text))
            }
            f if UNSUPPORTED.contains(&f) => {
                return Err(at(
                    &here,
                    format!(
                        "{f} needs AWS (its value is known only at deploy time): the local twin cannot resolve it"
                    ),
                ));
            }
            f if CONDITION_FUNCTIONS.contains(&f) => {
                return Err(at(
                    &here,
                    format!("{f} belongs in Conditions (or Fn::If's condition), not in a value"),
                ));
            }
            f => {
                return Err(at(
                    &here,
                    format!("{f} is not a CloudFormation intrinsic function"),
                ));
            }
        };
        Ok(Some(value))
    }

    /// `Ref` of a parameter, pseudo parameter or resource.
    fn reference(&self, path: &str, name: &str) -> Result<Value, TemplateError> {
        if let Some(v) = self.params.get(name) {
            return Ok(v.clone());
        }
        if let Some(v) = self.pseudo(name) {
            return Ok(v);
        }
        let r = self.resource(path, name)?;
        self.ref_of(path, r).map(Value::String)
    }

    fn pseudo(&self, name: &str) -> Option<Value> {
        let s = |v: &str| Some(Value::String(v.to_owned()));
        match name {
            "AWS::Region" => s(REGION),
            "AWS::Partition" => s("aws"),
            "AWS::AccountId" => s(ACCOUNT_ID),
            "AWS::URLSuffix" => s("amazonaws.com"),
            "AWS::StackName" => s(&self.stack_name),
            "AWS::StackId" => s(&format!(
                "arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{}/local",
                self.stack_name
            )),
            "AWS::NotificationARNs" => Some(Value::Array(vec![])),
            _ => None,
        }
    }

    fn resource(&self, path: &str, id: &str) -> Result<&'t Resource, TemplateError> {
        let r = self.t.resources.get(id).ok_or_else(|| {
            at(
                path,
                format!("{id} is not a parameter, pseudo parameter or resource of the template"),
            )
        })?;
        if !self.exists(id) {
            return Err(at(
                path,
                format!("{id} is not created: its Condition is false"),
            ));
        }
        Ok(r)
    }

    /// What `Ref` of a resource returns, computed locally (docs/AWS-BEHAVIOUR.md lists each).
    pub fn ref_of(&self, path: &str, r: &Resource) -> Result<String, TemplateError> {
        let named = |key: &str| -> Result<String, TemplateError> {
            match self.property(r, key)? {
                Some(v) => self.string(&format!("Resources.{}.Properties.{key}", r.id), &v),
                None => Ok(format!("{}-{}", self.stack_name, r.id)),
            }
        };
        Ok(match r.kind.as_str() {
            "AWS::Lambda::Function" => named("FunctionName")?,
            "AWS::Lambda::Version" => format!("{}:{LOCAL_VERSION}", self.version_function_arn(r)?),
            "AWS::Logs::LogGroup" => match self.property(r, "LogGroupName")? {
                Some(v) => {
                    self.string(&format!("Resources.{}.Properties.LogGroupName", r.id), &v)?
                }
                None => format!("/aws/{}-{}", self.stack_name, r.id),
            },
            "AWS::CloudFront::CachePolicy"
            | "AWS::CloudFront::OriginRequestPolicy"
            | "AWS::CloudFront::ResponseHeadersPolicy"
            | "AWS::CloudFront::Distribution" => r.id.clone(),
            "AWS::ElasticLoadBalancingV2::LoadBalancer" => format!(
                "arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:loadbalancer/app/{}/local",
                named("Name")?
            ),
            "AWS::ElasticLoadBalancingV2::TargetGroup" => format!(
                "arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:targetgroup/{}/local",
                named("Name")?
            ),
            "AWS::ElasticLoadBalancingV2::Listener" => format!(
                "arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:listener/app/{}/local",
                r.id
            ),
            kind => {
                return Err(at(
                    path,
                    format!(
                        "Ref of {} ({kind}): the stack does not emulate {kind}, so it has no local value",
                        r.id
                    ),
                ));
            }
        })
    }

    /// The ARN of the function a version publishes (`FunctionName`: a name or an ARN).
    fn version_function_arn(&self, r: &Resource) -> Result<String, TemplateError> {
        let path = format!("Resources.{}.Properties.FunctionName", r.id);
        let v = r
            .properties
            .get("FunctionName")
            .ok_or_else(|| at(&path, "a version needs FunctionName"))?;
        let name = self.string(&path, v)?;
        Ok(if name.starts_with("arn:") {
            name
        } else {
            function_arn(&name)
        })
    }

    fn attribute(&self, path: &str, id: &str, attr: &str) -> Result<Value, TemplateError> {
        let r = self.resource(path, id)?;
        let s = |v: String| Ok(Value::String(v));
        match (r.kind.as_str(), attr) {
            ("AWS::Lambda::Function", "Arn") => s(function_arn(&self.ref_of(path, r)?)),
            ("AWS::Lambda::Version", "Version") => s(LOCAL_VERSION.into()),
            ("AWS::Lambda::Version", "FunctionArn") => s(self.ref_of(path, r)?),
            ("AWS::Logs::LogGroup", "Arn") => s(format!(
                "arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{}:*",
                self.ref_of(path, r)?
            )),
            (
                "AWS::CloudFront::CachePolicy"
                | "AWS::CloudFront::OriginRequestPolicy"
                | "AWS::CloudFront::Distribution",
                "Id",
            ) => s(r.id.clone()),
            ("AWS::CloudFront::Distribution", "DomainName")
            | ("AWS::ElasticLoadBalancingV2::LoadBalancer", "DNSName") => s(LOCAL_HOST.into()),
            ("AWS::ElasticLoadBalancingV2::LoadBalancer", "LoadBalancerArn")
            | ("AWS::ElasticLoadBalancingV2::TargetGroup", "TargetGroupArn")
            | ("AWS::ElasticLoadBalancingV2::Listener", "ListenerArn") => s(self.ref_of(path, r)?),
            (kind, attr) => Err(at(
                path,
                format!("{id}.{attr} ({kind}): the stack gives no such attribute locally"),
            )),
        }
    }

    /// `Fn::Sub`: `"text"` or `["text", {Var: value}]`. `${Name}` is a variable, parameter,
    /// pseudo parameter or resource's `Ref`, `${Res.Attr}` an attribute, `${!Text}` the literal
    /// `${Text}`.
    fn sub(&self, path: &str, arg: &Value) -> Result<String, TemplateError> {
        let (text, vars) = match arg {
            Value::String(s) => (s.as_str(), None),
            Value::Array(a) if a.len() == 2 => {
                let text = a[0]
                    .as_str()
                    .ok_or_else(|| at(path, "the first argument is a literal string"))?;
                let vars = a[1]
                    .as_object()
                    .ok_or_else(|| at(path, "the second argument is a mapping of variables"))?;
                (text, Some(vars))
            }
            other => {
                return Err(at(
                    path,
                    format!("expected a string or [string, mapping], got {other}"),
                ));
            }
        };
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| at(path, format!("unclosed ${{ in {text:?}")))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(v) = vars.and_then(|m| m.get(name)) {
                out.push_str(&self.string(&format!("{path}[1].{name}"), v)?);
            } else if let Some((id, attr)) = name.split_once('.')
                && self.t.resources.contains_key(id)
            {
                let v = self.attribute(path, id, attr)?;
                out.push_str(&self.string(path, &v)?);
            } else {
                let v = self.reference(path, name)?;
                out.push_str(&self.string(path, &v)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn condition(&self, name: &str, seen: &mut Vec<String>) -> Result<bool, TemplateError> {
        if let Some(v) = self.conditions.get(name) {
            return Ok(*v);
        }
        let path = format!("Conditions.{name}");
        if seen.iter().any(|s| s == name) {
            return Err(at(
                &path,
                format!(
                    "conditions refer to each other in a loop: {}",
                    seen.join(" -> ")
                ),
            ));
        }
        let body = self.t.document["Conditions"]
            .get(name)
            .ok_or_else(|| at(&path, "no such condition"))?;
        seen.push(name.to_owned());
        let v = self.condition_value(&path, body, seen);
        seen.pop();
        v
    }

    fn condition_value(
        &self,
        path: &str,
        v: &Value,
        seen: &mut Vec<String>,
    ) -> Result<bool, TemplateError> {
        let Some((name, arg)) = v.as_object().and_then(intrinsic_or_condition) else {
            return Err(at(
                path,
                format!("expected Fn::Equals, Fn::And, Fn::Or, Fn::Not or Condition, got {v}"),
            ));
        };
        let here = format!("{path}.{name}");
        let list = |min: usize, max: usize| -> Result<&Vec<Value>, TemplateError> {
            arg.as_array()
                .filter(|a| (min..=max).contains(&a.len()))
                .ok_or_else(|| at(&here, format!("takes {min} to {max} conditions, got {arg}")))
        };
        match name {
            "Condition" => {
                let other = arg.as_str().ok_or_else(|| at(&here, "names a condition"))?;
                self.condition(other, seen)
            }
            "Fn::Equals" => {
                let a = arg
                    .as_array()
                    .filter(|a| a.len() == 2)
                    .ok_or_else(|| at(&here, "takes two values"))?;
                let left = self.string(&format!("{here}[0]"), &a[0])?;
                let right = self.string(&format!("{here}[1]"), &a[1])?;
                Ok(left == right)
            }
            "Fn::Not" => {
                let a = list(1, 1)?;
                Ok(!self.condition_value(&format!("{here}[0]"), &a[0], seen)?)
            }
            "Fn::And" | "Fn::Or" => {
                let a = list(2, 10)?;
                let mut values = Vec::with_capacity(a.len());
                for (i, c) in a.iter().enumerate() {
                    values.push(self.condition_value(&format!("{here}[{i}]"), c, seen)?);
                }
                Ok(if name == "Fn::And" {
                    values.iter().all(|v| *v)
                } else {
                    values.iter().any(|v| *v)
                })
            }
            other => Err(at(&here, format!("{other} cannot decide a condition"))),
        }
    }

    /// What CloudFormation refuses before it creates anything: a `Ref`, `Fn::GetAtt` or
    /// `${...}` naming nothing, an `Fn::If` naming no condition, a key starting `Fn::` that is no
    /// intrinsic function.
    fn check_references(&self) -> Result<(), TemplateError> {
        let conditions: BTreeSet<&str> = self.t.document["Conditions"]
            .as_object()
            .map(|c| c.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let known = |name: &str| {
            self.params.contains_key(name)
                || self.pseudo(name).is_some()
                || name == "AWS::NoValue"
                || self.t.resources.contains_key(name)
        };
        let mut problems = Vec::new();
        let mut visit = |path: &str, name: &str, arg: &Value| match name {
            "Ref" => {
                if let Some(target) = arg.as_str()
                    && !known(target)
                {
                    problems.push(at(
                        path,
                        format!(
                            "Ref {target}: no parameter, pseudo parameter or resource of that name"
                        ),
                    ));
                }
            }
            "Fn::GetAtt" => {
                if let Some((id, _)) = get_att_parts(arg)
                    && !self.t.resources.contains_key(id)
                {
                    problems.push(at(
                        path,
                        format!("Fn::GetAtt {id}: no resource of that name"),
                    ));
                }
            }
            "Fn::Sub" => {
                let (text, vars) = match arg {
                    Value::String(s) => (s.as_str(), None),
                    Value::Array(a) => (a.first().and_then(Value::as_str).unwrap_or(""), a.get(1)),
                    _ => ("", None),
                };
                for var in sub_variables(text) {
                    let head = var.split_once('.').map_or(var, |(id, _)| id);
                    let local = vars.is_some_and(|m| m.get(var).is_some());
                    if !local && !known(var) && !self.t.resources.contains_key(head) {
                        problems.push(at(path, format!("Fn::Sub ${{{var}}}: no variable, parameter, pseudo parameter or resource of that name")));
                    }
                }
            }
            "Fn::If" => {
                if let Some(c) = arg.get(0).and_then(Value::as_str)
                    && !conditions.contains(c)
                {
                    problems.push(at(path, format!("Fn::If {c}: no condition of that name")));
                }
            }
            f if f.starts_with("Fn::")
                && !SUPPORTED.contains(&f)
                && !UNSUPPORTED.contains(&f)
                && !CONDITION_FUNCTIONS.contains(&f) =>
            {
                problems.push(at(
                    path,
                    format!("{f} is not a CloudFormation intrinsic function"),
                ));
            }
            _ => {}
        };
        for section in ["Resources", "Outputs", "Conditions"] {
            walk(section, &self.t.document[section], &mut visit);
        }
        match problems.into_iter().next() {
            Some(first) => Err(first),
            None => Ok(()),
        }
    }
}

/// `arn:aws:lambda:us-east-1:<account>:function:<name>`, the ARN the stack's functions carry.
pub fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}")
}

/// A one-key mapping whose key is an intrinsic function (or `Ref`).
fn intrinsic(map: &Map<String, Value>) -> Option<(&str, &Value)> {
    if map.len() != 1 {
        return None;
    }
    let (k, v) = map.iter().next()?;
    (k == "Ref" || k.starts_with("Fn::")).then_some((k.as_str(), v))
}

fn intrinsic_or_condition(map: &Map<String, Value>) -> Option<(&str, &Value)> {
    if map.len() == 1
        && let Some(v) = map.get("Condition")
    {
        return Some(("Condition", v));
    }
    intrinsic(map)
}

/// `["Res", "Attr"]` or `"Res.Attr"`.
fn get_att_parts(arg: &Value) -> Option<(&str, &Value)> {
    match arg {
        Value::Array(a) if a.len() == 2 => Some((a[0].as_str()?, &a[1])),
        _ => None,
    }
}

/// The `${...}` names of a `Fn::Sub` string, without the `${!...}` literals.
fn sub_variables(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.starts_with('!') {
            out.push(name);
        }
        rest = &after[end + 1..];
    }
    out
}

fn walk(path: &str, v: &Value, visit: &mut dyn FnMut(&str, &str, &Value)) {
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(&format!("{path}[{i}]"), item, visit);
            }
        }
        Value::Object(map) => {
            if let Some((name, arg)) = intrinsic(map) {
                visit(path, name, arg);
            }
            for (k, x) in map {
                walk(&format!("{path}.{k}"), x, visit);
            }
        }
        _ => {}
    }
}

/// A constraint written as a number or a string holding one.
fn number_of(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// One parameter's value: the given one or the default, checked against the declaration as
/// CloudFormation checks it (docs/AWS-BEHAVIOUR.md, "Reading a template as CloudFormation does").
fn parameter(path: &str, decl: &Value, given: Option<String>) -> Result<Value, TemplateError> {
    let kind = decl["Type"]
        .as_str()
        .ok_or_else(|| at(path, "a parameter needs a Type"))?;
    let default = match &decl["Default"] {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => Some(
            items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(","),
        ),
        other => return Err(at(path, format!("Default {other} is not a value"))),
    };
    let from_default = given.is_none();
    let value = given
        .or(default)
        .ok_or_else(|| at(path, "has no Default: give it with --parameter NAME=VALUE"))?;
    let whence = if from_default {
        "Default"
    } else {
        "--parameter value"
    };
    let fail = |why: String| {
        let hint = decl["ConstraintDescription"]
            .as_str()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        Err(at(path, format!("{whence} {value:?} {why}{hint}")))
    };
    let is_list = kind == "CommaDelimitedList" || kind.starts_with("List<");
    let items: Vec<&str> = if is_list {
        value.split(',').collect()
    } else {
        vec![value.as_str()]
    };
    let numeric = kind == "Number" || kind == "List<Number>";
    if kind.starts_with("AWS::SSM::Parameter") {
        return Err(at(
            path,
            format!("type {kind} reads AWS Systems Manager: the local twin cannot"),
        ));
    }
    for item in &items {
        if numeric {
            let Ok(n) = item.trim().parse::<f64>() else {
                return fail("is not a number".into());
            };
            if let Some(min) = number_of(&decl["MinValue"])
                && n < min
            {
                return fail(format!("is below MinValue {min}"));
            }
            if let Some(max) = number_of(&decl["MaxValue"])
                && n > max
            {
                return fail(format!("is above MaxValue {max}"));
            }
        } else {
            let len = item.chars().count() as u64;
            if let Some(min) = decl["MinLength"].as_u64()
                && len < min
            {
                return fail(format!("is shorter than MinLength {min}"));
            }
            if let Some(max) = decl["MaxLength"].as_u64()
                && len > max
            {
                return fail(format!("is longer than MaxLength {max}"));
            }
            if let Some(pattern) = decl["AllowedPattern"].as_str() {
                // The pattern must match the whole value.
                let re = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
                    at(
                        &format!("{path}.AllowedPattern"),
                        format!("not a regular expression: {e}"),
                    )
                })?;
                if !re.is_match(item) {
                    return fail(format!("does not match AllowedPattern {pattern}"));
                }
            }
        }
        if let Some(allowed) = decl["AllowedValues"].as_array() {
            let allowed: Vec<String> = allowed
                .iter()
                .map(|a| a.as_str().map_or_else(|| a.to_string(), str::to_owned))
                .collect();
            let same = |a: &String| {
                if numeric {
                    a.parse::<f64>().ok() == item.trim().parse::<f64>().ok()
                } else {
                    a == item
                }
            };
            if !allowed.iter().any(same) {
                return fail(format!(
                    "is not one of AllowedValues [{}]",
                    allowed.join(", ")
                ));
            }
        }
    }
    Ok(if is_list {
        Value::Array(
            items
                .into_iter()
                .map(|i| Value::String(i.to_owned()))
                .collect(),
        )
    } else {
        Value::String(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BASE: &str = r#"
Parameters:
  Env: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Name: {Type: String, Default: app, AllowedPattern: "[a-z]+"}
  Size: {Type: Number, Default: 7, AllowedValues: [1, 7, 14]}
  Mem: {Type: Number, Default: 256, MinValue: 128, MaxValue: 1024}
  Zones: {Type: CommaDelimitedList, Default: "a,b,c"}
Mappings:
  Sizes:
    dev: {Mem: 128}
    prod: {Mem: 512}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Not [!Condition IsProd]
  Both: !And [!Condition IsDev, !Equals [!Ref Size, 7]]
  Either: !Or [!Condition IsProd, !Equals [x, y]]
Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: !Sub ${AWS::StackName}-fn
  Anon:
    Type: AWS::Lambda::Function
  Ver:
    Type: AWS::Lambda::Version
    Properties: {FunctionName: !Ref Fn}
  Lb:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
  OnlyProd:
    Type: AWS::Lambda::Function
    Condition: IsProd
  Role:
    Type: AWS::IAM::Role
"#;

    fn eval(extra: &str, params: &[(&str, &str)], v: Value) -> Result<Option<Value>, String> {
        let t = Template::parse(&format!("{BASE}{extra}")).map_err(|e| e.to_string())?;
        let inputs = Inputs {
            parameters: params
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            stack_name: "st".into(),
        };
        let r = Resolver::new(&t, &inputs).map_err(|e| e.to_string())?;
        r.value("X", &v).map_err(|e| e.to_string())
    }

    fn ok(v: Value) -> Value {
        eval("", &[], v).unwrap().unwrap()
    }

    fn err(v: Value) -> String {
        eval("", &[], v).unwrap_err()
    }

    #[test]
    fn ref_parameters_defaults_and_given() {
        assert_eq!(ok(json!({"Ref": "Env"})), "dev");
        assert_eq!(
            ok(json!({"Ref": "Size"})),
            "7",
            "a Number's Ref is a string"
        );
        assert_eq!(ok(json!({"Ref": "Zones"})), json!(["a", "b", "c"]));
        let prod = eval("", &[("Env", "prod")], json!({"Ref": "Env"}));
        assert_eq!(prod.unwrap().unwrap(), "prod");
    }

    #[test]
    fn parameter_constraints() {
        let e = eval("", &[("Env", "test")], json!(1)).unwrap_err();
        assert!(
            e.contains("Parameters.Env") && e.contains("AllowedValues [dev, prod]"),
            "{e}"
        );
        let e = eval("", &[("Name", "App1")], json!(1)).unwrap_err();
        assert!(
            e.contains("Parameters.Name") && e.contains("AllowedPattern"),
            "{e}"
        );
        // The pattern must match the whole value, not a part.
        assert!(eval("", &[("Name", "ab-")], json!(1)).is_err());
        assert!(eval("", &[("Size", "14")], json!(1)).is_ok());
        assert!(
            eval("", &[("Size", "14.0")], json!(1)).is_ok(),
            "numbers compare as numbers"
        );
        let e = eval("", &[("Size", "seven")], json!(1)).unwrap_err();
        assert!(e.contains("is not a number"), "{e}");
        assert!(
            eval("", &[("Mem", "64")], json!(1))
                .unwrap_err()
                .contains("MinValue")
        );
        assert!(
            eval("", &[("Mem", "2048")], json!(1))
                .unwrap_err()
                .contains("MaxValue")
        );
        let e = eval("", &[("Nope", "1")], json!(1)).unwrap_err();
        assert!(
            e.contains("Parameters.Nope") && e.contains("does not declare"),
            "{e}"
        );
    }

    #[test]
    fn a_parameter_without_default_needs_a_value() {
        let text = BASE.replace("Parameters:\n", "Parameters:\n  Req: {Type: String}\n");
        let t = Template::parse(&text).unwrap();
        let e = Resolver::new(&t, &Inputs::default())
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("Parameters.Req") && e.contains("--parameter"),
            "{e}"
        );
    }

    #[test]
    fn pseudo_parameters() {
        assert_eq!(ok(json!({"Ref": "AWS::Region"})), "us-east-1");
        assert_eq!(ok(json!({"Ref": "AWS::Partition"})), "aws");
        assert_eq!(ok(json!({"Ref": "AWS::AccountId"})), ACCOUNT_ID);
        assert_eq!(ok(json!({"Ref": "AWS::StackName"})), "st");
        assert_eq!(ok(json!({"Ref": "AWS::URLSuffix"})), "amazonaws.com");
        // AWS::NoValue removes the property, and the element of a list.
        assert_eq!(
            ok(json!({"A": {"Ref": "AWS::NoValue"}, "B": 1})),
            json!({"B": 1})
        );
        assert_eq!(ok(json!([1, {"Ref": "AWS::NoValue"}, 2])), json!([1, 2]));
    }

    #[test]
    fn ref_and_get_att_of_resources() {
        assert_eq!(ok(json!({"Ref": "Fn"})), "st-fn");
        assert_eq!(ok(json!({"Ref": "Anon"})), "st-Anon");
        let arn = format!("arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:st-fn");
        assert_eq!(ok(json!({"Fn::GetAtt": ["Fn", "Arn"]})), json!(arn));
        assert_eq!(ok(json!({"Ref": "Ver"})), json!(format!("{arn}:1")));
        assert_eq!(ok(json!({"Fn::GetAtt": ["Ver", "Version"]})), "1");
        assert_eq!(ok(json!({"Fn::GetAtt": ["Lb", "DNSName"]})), LOCAL_HOST);
        let e = err(json!({"Fn::GetAtt": ["Fn", "Nope"]}));
        assert!(e.starts_with("X.Fn::GetAtt: Fn.Nope"), "{e}");
        let e = err(json!({"Fn::GetAtt": ["Role", "Arn"]}));
        assert!(e.contains("no such attribute locally"), "{e}");
        let e = err(json!({"Ref": "OnlyProd"}));
        assert!(e.contains("Condition is false"), "{e}");
    }

    #[test]
    fn sub_both_forms() {
        assert_eq!(
            ok(json!({"Fn::Sub": "${AWS::Region}-${Env}"})),
            "us-east-1-dev"
        );
        assert_eq!(
            ok(json!({"Fn::Sub": "http://${Lb.DNSName}/"})),
            "http://127.0.0.1/"
        );
        assert_eq!(
            ok(json!({"Fn::Sub": "${!Literal} and ${!Env}"})),
            "${Literal} and ${Env}"
        );
        assert_eq!(
            ok(json!({"Fn::Sub": ["${A}-${Env}", {"A": {"Ref": "Size"}}]})),
            "7-dev"
        );
        assert!(err(json!({"Fn::Sub": "${Env"})).contains("unclosed"));
    }

    #[test]
    fn join_select_split_find_in_map_base64() {
        assert_eq!(
            ok(json!({"Fn::Join": ["-", ["a", {"Ref": "Env"}, 3]]})),
            "a-dev-3"
        );
        assert_eq!(ok(json!({"Fn::Join": [",", {"Ref": "Zones"}]})), "a,b,c");
        assert_eq!(ok(json!({"Fn::Select": [1, {"Ref": "Zones"}]})), "b");
        assert_eq!(ok(json!({"Fn::Select": ["2", ["x", "y", "z"]]})), "z");
        assert!(err(json!({"Fn::Select": [3, ["x"]]})).contains("out of a list of 1"));
        assert_eq!(
            ok(json!({"Fn::Split": ["|", "a|b||c"]})),
            json!(["a", "b", "", "c"])
        );
        assert_eq!(
            ok(json!({"Fn::Select": [0, {"Fn::Split": ["/", {"Fn::Sub": "${Env}/x"}]}]})),
            "dev"
        );
        assert_eq!(
            ok(json!({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Mem"]})),
            128
        );
        assert!(
            err(json!({"Fn::FindInMap": ["Sizes", "qa", "Mem"]})).contains("Mappings.Sizes.qa.Mem")
        );
        assert_eq!(ok(json!({"Fn::Base64": "hi"})), "aGk=");
    }

    #[test]
    fn conditions_and_if() {
        let pick = |params: &[(&str, &str)], c: &str| {
            eval("", params, json!({"Fn::If": [c, "yes", "no"]}))
                .unwrap()
                .unwrap()
        };
        assert_eq!(pick(&[], "IsProd"), "no");
        assert_eq!(pick(&[("Env", "prod")], "IsProd"), "yes");
        assert_eq!(pick(&[], "IsDev"), "yes");
        assert_eq!(pick(&[], "Both"), "yes");
        assert_eq!(pick(&[("Size", "1")], "Both"), "no");
        assert_eq!(pick(&[], "Either"), "no");
        assert_eq!(pick(&[("Env", "prod")], "Either"), "yes");
        // Fn::If's branch may remove the property.
        assert_eq!(
            ok(json!({"P": {"Fn::If": ["IsProd", 1, {"Ref": "AWS::NoValue"}]}})),
            json!({})
        );
    }

    #[test]
    fn condition_loops_are_errors() {
        let text = BASE.replace(
            "Conditions:\n",
            "Conditions:\n  A: !Condition B\n  B: !Condition A\n",
        );
        let t = Template::parse(&text).unwrap();
        let e = Resolver::new(&t, &Inputs::default())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("loop"), "{e}");
    }

    #[test]
    fn whole_template_checks_name_the_path() {
        let bad = |extra: &str| eval(extra, &[], json!(1)).unwrap_err();
        let e = bad(
            "  B:\n    Type: AWS::Lambda::Version\n    Properties:\n      FunctionName: !Ref Missing\n",
        );
        assert_eq!(
            e,
            "Resources.B.Properties.FunctionName: Ref Missing: no parameter, pseudo parameter or resource of that name"
        );
        let e = bad("  B:\n    Type: T\n    Properties:\n      X: {\"Fn::Bogus\": 1}\n");
        assert!(
            e.starts_with("Resources.B.Properties.X: Fn::Bogus is not"),
            "{e}"
        );
        let e = bad("  B:\n    Type: T\n    Properties:\n      X: !GetAtt Nope.Arn\n");
        assert!(e.contains("Fn::GetAtt Nope"), "{e}");
        let e = bad("  B:\n    Type: T\n    Properties:\n      X: !Sub '${Nope}'\n");
        assert!(e.contains("${Nope}"), "{e}");
        let e = bad("  B:\n    Type: T\n    Properties:\n      X: !If [Nope, 1, 2]\n");
        assert!(e.contains("Fn::If Nope"), "{e}");
    }

    #[test]
    fn unsupported_intrinsics_are_errors_when_read() {
        // Known to CloudFormation, unknown locally: fine until the twin reads it.
        assert!(eval("", &[], json!(1)).is_ok());
        let e = err(json!({"Fn::GetAZs": ""}));
        assert!(e.starts_with("X.Fn::GetAZs: Fn::GetAZs needs AWS"), "{e}");
        assert!(err(json!({"Fn::Equals": [1, 1]})).contains("belongs in Conditions"));
        assert!(err(json!({"Fn::Join": ["-"]})).contains("takes a list of 2"));
    }
}
