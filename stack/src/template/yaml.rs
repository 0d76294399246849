//! YAML (or JSON) text -> CloudFormation's long form as JSON. `serde_yaml_ng` keeps YAML tags as
//! tagged values; the CloudFormation short forms are turned into the mappings they abbreviate
//! (AWS CloudFormation User Guide, "Intrinsic function reference": `!Name` is `Fn::Name`, except
//! `!Ref` and `!Condition`). Any other tag is an error: CloudFormation rejects it too.

use serde_json::{Map, Number, Value};
use serde_yaml_ng::Value as Yaml;

use super::TemplateError;

/// The short forms CloudFormation accepts, by tag name.
const FUNCTIONS: &[&str] = &[
    "Base64",
    "Cidr",
    "Equals",
    "FindInMap",
    "GetAtt",
    "GetAZs",
    "If",
    "ImportValue",
    "Join",
    "Length",
    "Not",
    "And",
    "Or",
    "Select",
    "Split",
    "Sub",
    "ToJsonString",
    "Transform",
];

pub fn to_long_form(text: &str) -> Result<Value, TemplateError> {
    let yaml: Yaml =
        serde_yaml_ng::from_str(text).map_err(|e| TemplateError::Syntax(e.to_string()))?;
    let value = convert(yaml, "")?;
    if !value.is_object() {
        return Err(TemplateError::Shape(
            "a template is a mapping at the top level".into(),
        ));
    }
    Ok(value)
}

/// `path` is where `yaml` sits (`Resources.A.Properties.X`), for errors.
fn convert(yaml: Yaml, path: &str) -> Result<Value, TemplateError> {
    let child = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => number(&n)?,
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => {
            let items = items.into_iter().enumerate();
            Value::Array(
                items
                    .map(|(i, item)| convert(item, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            )
        }
        Yaml::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let k = key(k)?;
                let v = convert(v, &child(&k))?;
                out.insert(k, v);
            }
            Value::Object(out)
        }
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = convert(tagged.value, path)?;
            let (long, inner) = match name {
                "Ref" | "Condition" => (name.to_owned(), inner),
                // `!GetAtt Resource.Attribute` is the string form of `[Resource, Attribute]`;
                // the attribute itself may hold dots (`Endpoint.Address`).
                "GetAtt" => match inner {
                    Value::String(s) => {
                        let (id, attr) = s.split_once('.').ok_or_else(|| TemplateError::At {
                            path: path.to_owned(),
                            message: format!("!GetAtt {s}: expected Resource.Attribute"),
                        })?;
                        (
                            "Fn::GetAtt".into(),
                            Value::Array(vec![id.into(), attr.into()]),
                        )
                    }
                    other => ("Fn::GetAtt".into(), other),
                },
                f if FUNCTIONS.contains(&f) => (format!("Fn::{f}"), inner),
                _ => {
                    return Err(TemplateError::At {
                        path: path.to_owned(),
                        message: format!(
                            "unknown tag {tag}: not a CloudFormation intrinsic function"
                        ),
                    });
                }
            };
            let mut out = Map::new();
            out.insert(long, inner);
            Value::Object(out)
        }
    })
}

fn number(n: &serde_yaml_ng::Number) -> Result<Value, TemplateError> {
    if let Some(i) = n.as_i64() {
        return Ok(Value::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Ok(Value::from(u));
    }
    n.as_f64()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| TemplateError::Shape(format!("{n} is not a number JSON can hold")))
}

fn key(k: Yaml) -> Result<String, TemplateError> {
    match k {
        Yaml::String(s) => Ok(s),
        Yaml::Number(n) => Ok(n.to_string()),
        Yaml::Bool(b) => Ok(b.to_string()),
        other => Err(TemplateError::Shape(format!(
            "mapping key {other:?} is not a string"
        ))),
    }
}
