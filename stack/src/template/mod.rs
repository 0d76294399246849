//! CloudFormation templates as the project reads them: `infra/template.yaml` (or any template of
//! the same shape) parsed into CloudFormation's long form, and the Lambda@Edge rules a generic
//! linter does not check ([`validate`]). The parsing is shared: the local stack can read the
//! functions' settings from the same template.
//!
//! Parsing keeps CloudFormation's meaning, not YAML's: short-form tags (`!Ref X`,
//! `!GetAtt A.B`, `!Sub ...`) become the long form (`{"Ref": "X"}`, `{"Fn::GetAtt": ["A", "B"]}`,
//! `{"Fn::Sub": ...}`), so JSON and YAML templates, and both spellings in one template, read the
//! same. Nothing is resolved: a value computed at deploy time stays an intrinsic.

pub mod code;
mod edge_rules;
pub mod resolve;
pub mod twin;
mod yaml;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

pub use edge_rules::{Finding, Rule, validate};

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("not a YAML or JSON template: {0}")]
    Syntax(String),
    #[error("{0}")]
    Shape(String),
    /// Something at one place of the template: `Resources.Edge.Properties.Code: ...`.
    #[error("{path}: {message}")]
    At { path: String, message: String },
}

/// One resource: its logical id, type and properties (long form; `{}` when it has none).
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub id: String,
    pub kind: String,
    pub properties: Value,
}

/// A parsed template: the whole document in long form, and its resources by logical id.
#[derive(Debug, Clone)]
pub struct Template {
    pub document: Value,
    pub resources: BTreeMap<String, Resource>,
}

impl Template {
    pub fn from_file(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let document = yaml::to_long_form(text)?;
        let Some(map) = document.get("Resources").and_then(Value::as_object) else {
            return Err(TemplateError::Shape(
                "the template has no Resources mapping".into(),
            ));
        };
        let mut resources = BTreeMap::new();
        for (id, body) in map {
            let kind = body
                .get("Type")
                .and_then(Value::as_str)
                .ok_or_else(|| TemplateError::Shape(format!("resource {id} has no Type")))?;
            let properties = body
                .get("Properties")
                .cloned()
                .unwrap_or_else(|| Value::Object(Default::default()));
            if !properties.is_object() {
                return Err(TemplateError::Shape(format!(
                    "resource {id}: Properties is not a mapping"
                )));
            }
            resources.insert(
                id.clone(),
                Resource {
                    id: id.clone(),
                    kind: kind.to_owned(),
                    properties,
                },
            );
        }
        Ok(Self {
            document,
            resources,
        })
    }

    /// Resources of one type, in logical-id order.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Resource> + 'a {
        self.resources.values().filter(move |r| r.kind == kind)
    }

    /// The resource a value points at with `Ref` or `Fn::GetAtt` (any attribute), if it names
    /// one of this template's resources.
    pub fn target(&self, value: &Value) -> Option<&Resource> {
        self.resources.get(reference(value)?.0)
    }
}

/// `{"Ref": "X"}` -> `("X", None)`; `{"Fn::GetAtt": ["X", "Arn"]}` -> `("X", Some("Arn"))`.
pub fn reference(value: &Value) -> Option<(&str, Option<&str>)> {
    let map = value.as_object().filter(|m| m.len() == 1)?;
    if let Some(name) = map.get("Ref").and_then(Value::as_str) {
        return Some((name, None));
    }
    let parts = map.get("Fn::GetAtt")?.as_array()?;
    match parts.as_slice() {
        [id, attr] => Some((id.as_str()?, attr.as_str())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_and_long_forms_read_the_same() {
        let short = Template::parse(
            "Resources:\n  A:\n    Type: T\n    Properties:\n      X: !Ref B\n      Y: !GetAtt B.Arn\n      Z: !Sub 'a-${B}'\n      W: !Select [0, !GetAZs '']\n",
        )
        .unwrap();
        let long = Template::parse(
            r#"{"Resources": {"A": {"Type": "T", "Properties": {"X": {"Ref": "B"}, "Y": {"Fn::GetAtt": ["B", "Arn"]}, "Z": {"Fn::Sub": "a-${B}"}, "W": {"Fn::Select": [0, {"Fn::GetAZs": ""}]}}}}}"#,
        )
        .unwrap();
        assert_eq!(short.resources, long.resources);
        let props = &short.resources["A"].properties;
        assert_eq!(reference(&props["X"]), Some(("B", None)));
        assert_eq!(reference(&props["Y"]), Some(("B", Some("Arn"))));
        assert_eq!(props["W"], json!({"Fn::Select": [0, {"Fn::GetAZs": ""}]}));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        for text in [
            "",
            "[1, 2]",
            "Resources: 3",
            "Resources:\n  A: {}\n",
            "Resources:\n  A:\n    Type: T\n    Properties: [1]\n",
            "Resources: {A: {Type: T}\n",
            "Resources:\n  A:\n    Type: T\n    Properties:\n      X: !Unknown 1\n",
        ] {
            assert!(Template::parse(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn the_projects_template_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml");
        let t = Template::from_file(&path).unwrap();
        assert_eq!(t.of_kind("AWS::Lambda::Function").count(), 2);
        assert_eq!(t.of_kind("AWS::CloudFront::Distribution").count(), 1);
    }
}
