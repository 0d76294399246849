//! Lambda@Edge (CloudFront) event types.
//!
//! `aws_lambda_events` has none, so they are defined here from the CloudFront developer guide
//! ("Lambda@Edge event structure", "Generating HTTP responses"). Every struct keeps unknown
//! fields in `extra`: the function hands back the request it was given, and a field CloudFront
//! adds tomorrow must reach the origin untouched.

use std::collections::BTreeMap;
use std::fmt;

pub use compact_str::CompactString;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
pub use smallvec::smallvec;

/// Unknown fields, kept for the round trip.
pub type Extra = Map<String, Value>;

/// A map key as the text gives it: borrowed where it can be (no escapes), owned otherwise.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Self::Borrowed(s) => s,
            Self::Owned(s) => s,
        }
    }

    fn into_owned(self) -> String {
        match self {
            Self::Borrowed(s) => s.to_owned(),
            Self::Owned(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// `Deserialize` for an event struct: its known fields typed, every other field kept in `extra`.
///
/// Written out rather than derived with `#[serde(flatten)] extra`: serde's derive then reads
/// every key through its private buffering (`Content`) and builds `extra` from a second pass over
/// what it buffered; no crate offers "typed fields plus the rest" without it. It words errors as the derive does (`missing field`,
/// `duplicate field`, `invalid type: ..., expected struct Request`), so a malformed event is
/// refused with the same message as before. `= default` marks a field that may be left out
/// (`Default::default()`, `None` for an `Option`); the others are required.
macro_rules! deserialize_with_extra {
    ($ty:ident { $($field:ident: $key:literal $(= $default:ident)?),* $(,)? }) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct StructVisitor;
                impl<'de> Visitor<'de> for StructVisitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str(concat!("struct ", stringify!($ty)))
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$ty, A::Error> {
                        $(let mut $field = None;)*
                        let mut extra = Extra::new();
                        while let Some(key) = map.next_key::<Key<'de>>()? {
                            match key.as_str() {
                                $($key => {
                                    if $field.is_some() {
                                        return Err(de::Error::duplicate_field($key));
                                    }
                                    $field = Some(map.next_value()?);
                                })*
                                _ => {
                                    let value = map.next_value()?;
                                    extra.insert(key.into_owned(), value);
                                }
                            }
                        }
                        Ok($ty {
                            $($field: match $field {
                                Some(v) => v,
                                None => deserialize_with_extra!(@missing $key $($default)?),
                            },)*
                            extra,
                        })
                    }
                }
                d.deserialize_map(StructVisitor)
            }
        }
    };
    (@missing $key:literal) => { return Err(de::Error::missing_field($key)) };
    (@missing $key:literal default) => { Default::default() };
}

deserialize_with_extra!(CloudFrontEvent { records: "Records" });
deserialize_with_extra!(Record { cf: "cf" });
deserialize_with_extra!(Cf {
    config: "config",
    request: "request",
    response: "response" = default,
});
deserialize_with_extra!(Config {
    distribution_domain_name: "distributionDomainName",
    distribution_id: "distributionId",
    event_type: "eventType",
    request_id: "requestId" = default,
});
deserialize_with_extra!(Request {
    client_ip: "clientIp",
    headers: "headers" = default,
    method: "method",
    querystring: "querystring" = default,
    uri: "uri",
    origin: "origin" = default,
    body: "body" = default,
});
deserialize_with_extra!(CustomOrigin {
    custom_headers: "customHeaders" = default,
    domain_name: "domainName",
    keepalive_timeout: "keepaliveTimeout",
    path: "path",
    port: "port",
    protocol: "protocol",
    read_timeout: "readTimeout",
    ssl_protocols: "sslProtocols",
});
deserialize_with_extra!(S3Origin {
    auth_method: "authMethod",
    custom_headers: "customHeaders" = default,
    domain_name: "domainName",
    path: "path",
    region: "region" = default,
});
deserialize_with_extra!(Body {
    input_truncated: "inputTruncated",
    action: "action",
    encoding: "encoding",
    data: "data",
});
deserialize_with_extra!(Response {
    status: "status",
    status_description: "statusDescription" = default,
    headers: "headers" = default,
});
deserialize_with_extra!(GeneratedResponse {
    status: "status",
    status_description: "statusDescription" = default,
    headers: "headers" = default,
    body: "body" = default,
    body_encoding: "bodyEncoding" = default,
});

/// Header map: lowercase name -> one `{key, value}` per repetition.
///
/// Names and keys are `CompactString`s (inline up to 24 bytes, 12 on wasm32) and a name's
/// entries a vector holding one inline: a header is almost always sent once, so a 1.7 KB event's
/// headers parse without an allocation each for the name, its vector and its key. Build one with
/// `smallvec![HeaderEntry::new(..)]` (re-exported here) or `HeaderEntries::from_iter`.
pub type Headers = BTreeMap<CompactString, HeaderEntries>;

/// The entries of one header name, in order: the first inline.
pub type HeaderEntries = smallvec::SmallVec<[HeaderEntry; 1]>;

/// The event CloudFront sends to a Lambda@Edge function (all four triggers).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CloudFrontEvent {
    #[serde(rename = "Records")]
    pub records: Vec<Record>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    pub cf: Cf,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cf {
    pub config: Config,
    pub request: Request,
    /// Present in origin-response and viewer-response events only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Response>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    pub distribution_domain_name: CompactString,
    pub distribution_id: CompactString,
    pub event_type: EventType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<CompactString>,
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
    pub key: Option<CompactString>,
    pub value: CompactString,
}

impl HeaderEntry {
    pub fn new(key: impl Into<CompactString>, value: impl Into<CompactString>) -> Self {
        Self {
            key: Some(key.into()),
            value: value.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    pub client_ip: CompactString,
    #[serde(default)]
    pub headers: Headers,
    pub method: CompactString,
    #[serde(default)]
    pub querystring: CompactString,
    pub uri: CompactString,
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

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomOrigin {
    #[serde(default)]
    pub custom_headers: Headers,
    pub domain_name: CompactString,
    pub keepalive_timeout: u32,
    pub path: CompactString,
    pub port: u16,
    pub protocol: CompactString,
    pub read_timeout: u32,
    pub ssl_protocols: Vec<CompactString>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Origin {
    /// `origin-access-identity` or `none`.
    pub auth_method: CompactString,
    #[serde(default)]
    pub custom_headers: Headers,
    pub domain_name: CompactString,
    pub path: CompactString,
    /// Required only with `authMethod: origin-access-identity`; real events with `none` leave it
    /// out (docs/AWS-BEHAVIOUR.md, "The CloudFront request event").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<CompactString>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum RequestResult {
    Response(Box<GeneratedResponse>),
    Request(Box<Request>),
}

impl RequestResult {
    /// A generated response when the object has `status` (which a request never has), else the
    /// request. One pass that skips every value to look, then one typed parse; an untagged
    /// derive would buffer the whole answer and try both shapes, and word a failure as neither.
    pub fn from_json(text: &[u8]) -> Result<Self, serde_json::Error> {
        #[derive(Deserialize)]
        #[serde(rename = "RequestOrResponse")]
        struct Shape {
            status: Option<serde::de::IgnoredAny>,
        }
        let shape: Shape = serde_json::from_slice(text)?;
        Ok(match shape.status {
            Some(_) => Self::Response(serde_json::from_slice(text)?),
            None => Self::Request(serde_json::from_slice(text)?),
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal origin-request event with `request` as given.
    fn event(config: &str, request: &str) -> String {
        format!(r#"{{"Records":[{{"cf":{{"config":{config},"request":{request}}}}}]}}"#)
    }

    const CONFIG: &str = r#"{"distributionDomainName":"d.cloudfront.net","distributionId":"E1","eventType":"origin-request"}"#;
    const REQUEST: &str =
        r#"{"clientIp":"203.0.113.1","headers":{},"method":"GET","querystring":"","uri":"/"}"#;

    /// [`REQUEST`] with `fields` added at its end.
    fn request_with(fields: &str) -> String {
        format!("{},{fields}}}", &REQUEST[..REQUEST.len() - 1])
    }

    /// What a malformed event is refused with: serde_json's words, where the text is wrong.
    #[test]
    fn malformed_events_say_what_is_wrong() {
        let cases = [
            (
                "not json".to_owned(),
                r#"expected ident at line 1 column 2"#,
            ),
            (
                "{}".to_owned(),
                r#"missing field `Records` at line 1 column 2"#,
            ),
            (
                r#"{"Records":5}"#.to_owned(),
                r#"invalid type: integer `5`, expected a sequence at line 1 column 12"#,
            ),
            (
                r#"{"Records":[5]}"#.to_owned(),
                r#"invalid type: integer `5`, expected struct Record at line 1 column 13"#,
            ),
            (
                r#"{"Records":[{}]}"#.to_owned(),
                r#"missing field `cf` at line 1 column 14"#,
            ),
            (
                r#"{"Records":[{"cf":[]}]}"#.to_owned(),
                r#"invalid type: sequence, expected struct Cf at line 1 column 18"#,
            ),
            (
                r#"{"Records":[{"cf":{}}]}"#.to_owned(),
                r#"missing field `config` at line 1 column 20"#,
            ),
            (
                event(CONFIG, r#"{"clientIp":"a","method":"GET"}"#),
                r#"missing field `uri` at line 1 column 166"#,
            ),
            (
                event(
                    CONFIG,
                    r#"{"clientIp":"a","method":"GET","uri":"/","uri":"/x"}"#,
                ),
                r#"duplicate field `uri` at line 1 column 181"#,
            ),
            (
                event(
                    CONFIG,
                    r#"{"clientIp":"a","method":"GET","uri":"/","headers":null}"#,
                ),
                r#"invalid type: null, expected a map at line 1 column 190"#,
            ),
            (
                event(
                    CONFIG,
                    r#"{"clientIp":"a","method":"GET","uri":"/","headers":{"a":[{"value":1}]}}"#,
                ),
                r#"invalid type: integer `1`, expected a string at line 1 column 202"#,
            ),
            (
                event(
                    CONFIG,
                    r#"{"clientIp":"a","method":"GET","uri":"/","headers":{"a":[{"key":"A"}]}}"#,
                ),
                r#"missing field `value` at line 1 column 203"#,
            ),
            (
                event(CONFIG, r#"{"clientIp":"a","method":"GET","uri":5}"#),
                r#"invalid type: integer `5`, expected a string at line 1 column 173"#,
            ),
            (
                event(CONFIG, r#"["a","GET","/"]"#),
                r#"invalid type: sequence, expected struct Request at line 1 column 135"#,
            ),
            (
                event(&CONFIG.replace("origin-request", "sideways"), REQUEST),
                r#"unknown variant `sideways`, expected one of `viewer-request`, `origin-request`, `origin-response`, `viewer-response` at line 1 column 117"#,
            ),
            (
                event(&CONFIG.replace(r#","distributionId":"E1""#, ""), REQUEST),
                r#"missing field `distributionId` at line 1 column 102"#,
            ),
            (
                event(CONFIG, &request_with(r#""origin":{"custom":{},"s3":{}}"#)),
                r#"missing field `domainName` at line 1 column 237"#,
            ),
            (
                event(
                    CONFIG,
                    &request_with(
                        r#""origin":{"custom":{"customHeaders":{},"domainName":"o","keepaliveTimeout":5,"path":"","port":70000,"protocol":"https","readTimeout":30,"sslProtocols":[]}}"#,
                    ),
                ),
                r#"invalid value: integer `70000`, expected u16 at line 1 column 315"#,
            ),
            (
                event(
                    CONFIG,
                    &request_with(r#""origin":{"s3":{"authMethod":"none","domainName":"b"}}"#),
                ),
                r#"missing field `path` at line 1 column 269"#,
            ),
            (
                event(
                    CONFIG,
                    &request_with(
                        r#""body":{"inputTruncated":"no","action":"read-only","encoding":"text","data":""}"#,
                    ),
                ),
                r#"invalid type: string "no", expected a boolean at line 1 column 245"#,
            ),
            (
                event(CONFIG, REQUEST) + "x",
                r#"trailing characters at line 1 column 221"#,
            ),
        ];
        for (text, want) in &cases {
            let got = serde_json::from_str::<CloudFrontEvent>(text).map(|_| ());
            assert_eq!(
                got.map_err(|e| e.to_string()),
                Err((*want).to_owned()),
                "{text}"
            );
        }
    }

    /// Fields we do not know, at every level, come back exactly as they came (the last of a
    /// repeated one, as a JSON object keeps it); known ones that may be left out stay out.
    #[test]
    fn unknown_fields_round_trip() {
        let unknown = r#""future":{"a":[1,2.5,null,true,"\u00e9"],"b":-7}"#;
        let config = CONFIG.replace('}', &format!(",{unknown}}}"));
        let request = request_with(&format!(
            r#""origin":{{"s3":{{"authMethod":"none","customHeaders":{{}},"domainName":"b","path":"",{unknown}}}}},"body":{{"inputTruncated":false,"action":"read-only","encoding":"text","data":"","x":1}},"dup":1,"dup":2,{unknown}"#
        ));
        let text = format!(
            r#"{{"Records":[{{"cf":{{"config":{config},"request":{request},{unknown}}},{unknown}}}],{unknown}}}"#
        );
        let event: CloudFrontEvent = serde_json::from_str(&text).unwrap();
        let from_value: CloudFrontEvent =
            serde_json::from_value(serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(event, from_value);
        let want: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(want["Records"][0]["cf"]["request"]["dup"], 2);
        assert_eq!(serde_json::to_value(&event).unwrap(), want);
        let cf = &event.records[0].cf;
        assert_eq!(
            (cf.request.extra.len(), cf.config.request_id.as_deref()),
            (2, None)
        );
    }

    /// Headers come back as they came: a name sent once, a repeated one (its entries past the
    /// first inline one), names, keys and values past the 24 bytes a `CompactString` holds
    /// inline, a key left out, escapes; and a long uri and querystring.
    #[test]
    fn headers_and_long_strings_round_trip() {
        let long = "x-a-header-name-longer-than-twenty-four-bytes";
        let request = format!(
            r#"{{"clientIp":"203.0.113.1","headers":{{"host":[{{"key":"Host","value":"d.cloudfront.net"}}],"cookie":[{{"key":"Cookie","value":"a=1"}},{{"key":"cookie","value":"b=2"}},{{"value":"c=\u00e9\"3"}}],"{long}":[{{"key":"X-A-Header-Name-Longer-Than-Twenty-Four-Bytes","value":"{v}"}}]}},"method":"GET","querystring":"{q}","uri":"/{u}"}}"#,
            v = "v".repeat(100),
            q = "q=1&".repeat(20),
            u = "path/".repeat(20),
        );
        let text = event(CONFIG, &request);
        let event: CloudFrontEvent = serde_json::from_str(&text).unwrap();
        let want: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_value(&event).unwrap(), want);
        let headers = &event.records[0].cf.request.headers;
        assert_eq!(headers["cookie"].len(), 3);
        assert_eq!(headers["cookie"][2].key, None);
        assert_eq!(headers["cookie"][2].value, "c=\u{e9}\"3");
        assert_eq!(headers[long][0].value.len(), 100);
    }

    /// A request trigger's result: a generated response is told from a request.
    #[test]
    fn request_results_are_told_apart() {
        let request = RequestResult::from_json(REQUEST.as_bytes()).unwrap();
        assert!(matches!(request, RequestResult::Request(_)));
        let response = RequestResult::from_json(br#"{"status":"200","body":"hi","x":1}"#).unwrap();
        let RequestResult::Response(r) = response else {
            panic!("{response:?}")
        };
        assert_eq!((r.status.as_str(), r.extra.len()), ("200", 1));
    }
}
