//! Lambda@Edge (CloudFront) event types.
//!
//! `aws_lambda_events` has none, so they are defined here from the CloudFront developer guide
//! ("Lambda@Edge event structure", "Generating HTTP responses"). Every struct keeps unknown
//! fields in `extra`: the function hands back the request it was given, and a field CloudFront
//! adds tomorrow must reach the origin untouched.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Unknown fields, kept for the round trip.
pub type Extra = Map<String, Value>;

/// Header map: lowercase name -> one `{key, value}` per repetition.
pub type Headers = BTreeMap<String, Vec<HeaderEntry>>;

/// The event CloudFront sends to a Lambda@Edge function (all four triggers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudFrontEvent {
    #[serde(rename = "Records")]
    pub records: Vec<Record>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub cf: Cf,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cf {
    pub config: Config,
    pub request: Request,
    /// Present in origin-response and viewer-response events only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Response>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    pub distribution_domain_name: String,
    pub distribution_id: String,
    pub event_type: EventType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The trigger that invoked the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventType {
    ViewerRequest,
    OriginRequest,
    OriginResponse,
    ViewerResponse,
}

impl EventType {
    pub const fn is_request(self) -> bool {
        matches!(self, Self::ViewerRequest | Self::OriginRequest)
    }

    pub const fn is_response(self) -> bool {
        !self.is_request()
    }

    pub const fn is_viewer(self) -> bool {
        matches!(self, Self::ViewerRequest | Self::ViewerResponse)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ViewerRequest => "viewer-request",
            Self::OriginRequest => "origin-request",
            Self::OriginResponse => "origin-response",
            Self::ViewerResponse => "viewer-response",
        }
    }

    /// The trigger named as CloudFront's `EventType` spells it (`origin-request`, ...).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }

    /// In the order CloudFront runs them for one request.
    pub const ALL: [Self; 4] = [
        Self::ViewerRequest,
        Self::OriginRequest,
        Self::OriginResponse,
        Self::ViewerResponse,
    ];

    /// Lambda@Edge's quotas for a function associated with this trigger (docs/AWS-BEHAVIOUR.md,
    /// "Lambda@Edge: what a function may be"). The one table of them: validation, the stack's
    /// start checks and its generated-response check all read it.
    pub const fn quotas(self) -> TriggerQuotas {
        if self.is_viewer() {
            TriggerQuotas {
                max_memory_mb: 128,
                max_timeout_secs: 5,
                max_generated_response_bytes: 40 * 1024,
                max_body_bytes: 40 * 1024,
            }
        } else {
            TriggerQuotas {
                max_memory_mb: 10_240,
                max_timeout_secs: 30,
                max_generated_response_bytes: 1024 * 1024,
                max_body_bytes: 1024 * 1024,
            }
        }
    }
}

/// What Lambda@Edge allows a function on one trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TriggerQuotas {
    pub max_memory_mb: u32,
    pub max_timeout_secs: u64,
    /// A generated response, headers and body counted together.
    pub max_generated_response_bytes: usize,
    /// Include Body: the request body a request trigger sees is truncated at this many bytes,
    /// and a body it returns is truncated at this many decoded bytes (the guide's 53.2 KB and
    /// 1.33 MB of base64 are these sizes encoded).
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderEntry {
    /// Original letter case. CloudFront allows it to be left out in what a function returns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub value: String,
}

impl HeaderEntry {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: Some(key.into()),
            value: value.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    pub client_ip: String,
    #[serde(default)]
    pub headers: Headers,
    pub method: String,
    #[serde(default)]
    pub querystring: String,
    pub uri: String,
    /// Present in origin-request and origin-response events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// Present only when the trigger has "Include body" on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Request {
    /// Values of header `name` (any letter case), in order.
    pub fn header_values<'a: 'n, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a str> + 'n {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.iter().map(|e| e.value.as_str()))
    }
}

/// Exactly one of `custom` or `s3`: an externally tagged enum rejects both and neither.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Origin {
    #[serde(rename = "custom")]
    Custom(CustomOrigin),
    #[serde(rename = "s3")]
    S3(S3Origin),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomOrigin {
    #[serde(default)]
    pub custom_headers: Headers,
    pub domain_name: String,
    pub keepalive_timeout: u32,
    pub path: String,
    pub port: u16,
    pub protocol: String,
    pub read_timeout: u32,
    pub ssl_protocols: Vec<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Origin {
    /// `origin-access-identity` or `none`.
    pub auth_method: String,
    #[serde(default)]
    pub custom_headers: Headers,
    pub domain_name: String,
    pub path: String,
    /// Required only with `authMethod: origin-access-identity`; real events with `none` leave it
    /// out (docs/AWS-BEHAVIOUR.md, "The CloudFront request event").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Body {
    pub input_truncated: bool,
    /// `read-only` or `replace`.
    pub action: String,
    /// `base64` or `text`.
    pub encoding: String,
    pub data: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The response in origin-response and viewer-response events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_description: Option<String>,
    #[serde(default)]
    pub headers: Headers,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A response generated by a request trigger instead of going to the origin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratedResponse {
    /// Required, and a string ("200"), not a number.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Headers>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_encoding: Option<BodyEncoding>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyEncoding {
    Text,
    Base64,
}

/// What a request trigger returns: the (modified) request or a generated response.
///
/// A generated response is told apart by its required `status`; a request has `uri`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestResult {
    Response(Box<GeneratedResponse>),
    Request(Box<Request>),
}

impl CloudFrontEvent {
    /// The single record CloudFront sends. More or fewer is a malformed event.
    pub fn single(&self) -> Option<&Cf> {
        match self.records.as_slice() {
            [one] => Some(&one.cf),
            _ => None,
        }
    }

    /// [`Self::single`], taken out of the event.
    pub fn into_single(self) -> Option<Cf> {
        let mut records = self.records;
        match records.len() {
            1 => records.pop().map(|one| one.cf),
            _ => None,
        }
    }
}
