//! Application Load Balancer with a Lambda target group: each request becomes an ALB target
//! event, the target's JSON answer becomes the HTTP response (docs/AWS-BEHAVIOUR.md,
//! "Application Load Balancer with a Lambda target").

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::environment::{InvokeFailure, random_hex};
use crate::pool::{Pool, PoolError};

/// Request body and response JSON are limited to 1 MB each.
pub const MAX_LAMBDA_BYTES: usize = 1024 * 1024;
/// All response headers together.
pub const MAX_RESPONSE_HEADER_BYTES: usize = 32 * 1024;

/// Target-group and load-balancer attributes that change what the target sees.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlbOptions {
    /// `lambda.multi_value_headers.enabled` (default off).
    pub multi_value_headers: bool,
    /// `routing.http.drop_invalid_header_fields.enabled` (default off).
    pub drop_invalid_header_fields: bool,
}

pub struct Alb {
    pub target: Arc<Pool>,
    pub bodies: crate::serve::BodyBudget,
    pub options: AlbOptions,
    pub port: u16,
}

impl Alb {
    pub fn target_group_arn(&self) -> String {
        format!(
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{}/{:016x}",
            self.target.name(),
            u64::from(self.port)
        )
    }
}

/// ALB's own error page (`Server: awselb/2.0`).
pub fn error_page(status: StatusCode) -> Response {
    let line = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let body = format!(
        "<html>\r\n<head><title>{line}</title></head>\r\n<body>\r\n<center><h1>{line}</h1></center>\r\n</body>\r\n</html>\r\n"
    );
    let mut resp = (status, body).into_response();
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("text/html"));
    resp.headers_mut()
        .insert("server", HeaderValue::from_static("awselb/2.0"));
    resp
}

/// A name ALB keeps when `drop_invalid_header_fields` is on: `[-A-Za-z0-9]+`.
fn valid_field_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Whether ALB passes a request body as it is: only without `Content-Encoding`, and only for the
/// types it lists (`text/*`, `application/json`, `application/javascript`, `application/xml`).
/// `+json` / `+xml` suffixes are not on the list, so they go base64 (docs/AWS-BEHAVIOUR.md,
/// "Application Load Balancer with a Lambda target").
fn is_text(content_type: Option<&str>, content_encoding: bool) -> bool {
    if content_encoding {
        return false;
    }
    let Some(ct) = content_type else { return false };
    let ct = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    ct.starts_with("text/")
        || [
            "application/json",
            "application/javascript",
            "application/xml",
        ]
        .contains(&ct.as_str())
}

/// `X-Amzn-Trace-Id` as ALB forwards it: a new `Root` when there is none; otherwise the
/// incoming fields are kept and `Self` is inserted first (or updated).
fn trace_id(incoming: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> String {
    let fresh = || format!("1-{:08x}-{}", now.timestamp(), random_hex(12));
    let fields: Vec<&str> = incoming
        .unwrap_or("")
        .split(';')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect();
    if !fields.iter().any(|f| f.starts_with("Root=")) {
        return format!("Root={}", fresh());
    }
    let kept = fields.into_iter().filter(|f| !f.starts_with("Self="));
    std::iter::once(format!("Self={}", fresh()))
        .chain(kept.map(str::to_owned))
        .collect::<Vec<_>>()
        .join(";")
}

/// The target event for one request.
pub fn target_event(
    alb: &Alb,
    method: &str,
    uri: &axum::http::Uri,
    viewer: &HeaderMap,
    body: &[u8],
    client_ip: &str,
) -> Value {
    let mut headers: Vec<(String, String)> = Vec::new();
    for (name, value) in viewer {
        if alb.options.drop_invalid_header_fields && !valid_field_name(name.as_str()) {
            continue;
        }
        headers.push((
            name.as_str().to_owned(),
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        ));
    }
    let prior_trace = headers
        .iter()
        .rev()
        .find(|(n, _)| n == "x-amzn-trace-id")
        .map(|(_, v)| v.clone());
    let prior_xff: Vec<String> = headers
        .iter()
        .filter(|(n, _)| n == "x-forwarded-for")
        .map(|(_, v)| v.clone())
        .collect();
    headers.retain(|(n, _)| {
        !matches!(
            n.as_str(),
            "x-forwarded-for" | "x-forwarded-proto" | "x-forwarded-port" | "x-amzn-trace-id"
        )
    });
    let xff = prior_xff
        .into_iter()
        .chain([client_ip.to_owned()])
        .collect::<Vec<_>>()
        .join(", ");
    headers.push(("x-forwarded-for".into(), xff));
    headers.push(("x-forwarded-proto".into(), "http".into()));
    headers.push(("x-forwarded-port".into(), alb.port.to_string()));
    headers.push((
        "x-amzn-trace-id".into(),
        trace_id(prior_trace.as_deref(), chrono::Utc::now()),
    ));
    // Query parameters arrive as sent, not URL-decoded.
    let query: Vec<(String, String)> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (p.to_owned(), String::new()),
        })
        .collect();
    let content_type = viewer.get("content-type").and_then(|v| v.to_str().ok());
    let (body, base64) = match std::str::from_utf8(body) {
        _ if body.is_empty() => (String::new(), false),
        Ok(text) if is_text(content_type, viewer.contains_key("content-encoding")) => {
            (text.to_owned(), false)
        }
        _ => (base64::engine::general_purpose::STANDARD.encode(body), true),
    };
    let mut event = json!({
        "requestContext": {"elb": {"targetGroupArn": alb.target_group_arn()}},
        "httpMethod": method,
        "path": uri.path(),
        "body": body,
        "isBase64Encoded": base64,
    });
    if alb.options.multi_value_headers {
        event["multiValueQueryStringParameters"] = json!(group(query));
        event["multiValueHeaders"] = json!(group(headers));
    } else {
        // Single-value mode: the last of repeated names wins.
        event["queryStringParameters"] = json!(query.into_iter().collect::<BTreeMap<_, _>>());
        event["headers"] = json!(headers.into_iter().collect::<BTreeMap<_, _>>());
    }
    event
}

fn group(pairs: Vec<(String, String)>) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in pairs {
        out.entry(k).or_default().push(v);
    }
    out
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TargetResponse {
    status_code: u16,
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
    #[serde(default)]
    multi_value_headers: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    is_base64_encoded: Option<bool>,
}

/// Why a target response is refused (ALB answers 502 and logs the reason).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidResponse {
    #[error("LambdaResponseTooLarge: response is {0} bytes, more than 1 MB")]
    TooLarge(usize),
    #[error("LambdaInvalidResponse: {0}")]
    Invalid(String),
}

/// Response fields that may be left out but not be `null`.
const NOT_NULL: [&str; 4] = ["statusDescription", "headers", "multiValueHeaders", "body"];

/// Turn the target's JSON into an HTTP response, in the mode the target group is in.
pub fn convert_response(payload: &[u8], options: AlbOptions) -> Result<Response, InvalidResponse> {
    if payload.len() > MAX_LAMBDA_BYTES {
        return Err(InvalidResponse::TooLarge(payload.len()));
    }
    let invalid = |m: String| InvalidResponse::Invalid(m);
    let raw: Value = serde_json::from_slice(payload)
        .map_err(|e| invalid(format!("not a target response: {e}")))?;
    // Absent is fine; `null` is malformed (docs/AWS-BEHAVIOUR.md, "Application Load Balancer
    // with a Lambda target").
    for field in NOT_NULL {
        if raw.get(field).is_some_and(Value::is_null) {
            return Err(invalid(format!("{field} is null")));
        }
    }
    let r: TargetResponse =
        serde_json::from_value(raw).map_err(|e| invalid(format!("not a target response: {e}")))?;
    let status = StatusCode::from_u16(r.status_code).map_err(|_| {
        invalid(format!(
            "statusCode {} is not an HTTP status",
            r.status_code
        ))
    })?;
    let body = match (r.body, r.is_base64_encoded.unwrap_or(false)) {
        (None, _) => Vec::new(),
        (Some(b), true) => base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|e| invalid(format!("body is not base64: {e}")))?,
        (Some(b), false) => b.into_bytes(),
    };
    // The headers of the other mode are ignored, as ALB does.
    let pairs: Vec<(String, String)> = if options.multi_value_headers {
        r.multi_value_headers
            .unwrap_or_default()
            .into_iter()
            .flat_map(|(k, vs)| vs.into_iter().map(move |v| (k.clone(), v)))
            .collect()
    } else {
        r.headers.unwrap_or_default().into_iter().collect()
    };
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let mut size = 0;
    for (k, v) in pairs {
        size += k.len() + v.len() + 4;
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) else {
            return Err(invalid(format!("header {k:?} is not a valid HTTP header")));
        };
        if matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            continue;
        }
        resp.headers_mut().append(name, value);
    }
    if size > MAX_RESPONSE_HEADER_BYTES {
        return Err(invalid(format!(
            "response headers are {size} bytes, more than 32 KB"
        )));
    }
    Ok(resp)
}

pub async fn handle(
    State(alb): State<Arc<Alb>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let (body, _held) = match alb
        .bodies
        .read(&parts.headers, body, MAX_LAMBDA_BYTES)
        .await
    {
        Ok(read) => read,
        Err(e) => return error_page(e.status()),
    };
    let event = target_event(
        &alb,
        parts.method.as_str(),
        &parts.uri,
        &parts.headers,
        &body,
        &peer.ip().to_string(),
    );
    let payload = Bytes::from(event.to_string());
    // Every Lambda failure is a 502 at the ALB: timeout, throttle and function error alike
    // (503 means no registered targets; 504 is not used for a function timeout). The reason goes
    // to the log as the access log's `error_reason` would.
    match alb.target.invoke(payload).await {
        Ok(outcome) => convert_response(&outcome.served.payload, alb.options).unwrap_or_else(|e| {
            let e = crate::logs::sanitize(&e.to_string()).into_owned();
            tracing::warn!(error = %e, environment = %outcome.environment_id, "502 from the ALB");
            error_page(StatusCode::BAD_GATEWAY)
        }),
        Err(e) => {
            let reason = match &e {
                PoolError::Throttled { .. } => "LambdaThrottling",
                PoolError::Invoke {
                    failure: InvokeFailure::Timeout(_),
                    ..
                } => "LambdaUnhandled (timeout)",
                _ => "LambdaUnhandled",
            };
            let e = crate::logs::sanitize(&e.to_string()).into_owned();
            tracing::warn!(error = %e, "502 from the ALB ({reason})");
            error_page(StatusCode::BAD_GATEWAY)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_responses_are_refused() {
        let single = AlbOptions::default();
        assert!(convert_response(br#"{"statusCode":200,"body":"hi"}"#, single).is_ok());
        assert!(matches!(
            convert_response(b"{}", single),
            Err(InvalidResponse::Invalid(_))
        ));
        assert!(matches!(
            convert_response(br#"{"statusCode":"200"}"#, single),
            Err(InvalidResponse::Invalid(_))
        ));
        assert!(matches!(
            convert_response(br#"{"statusCode":99}"#, single),
            Err(InvalidResponse::Invalid(_))
        ));
        assert!(matches!(
            convert_response(br#"{"statusCode":200,"headers":{"a b":"x"}}"#, single),
            Err(InvalidResponse::Invalid(_))
        ));
        for field in NOT_NULL {
            let body = format!(r#"{{"statusCode":200,"{field}":null}}"#);
            assert!(
                matches!(
                    convert_response(body.as_bytes(), single),
                    Err(InvalidResponse::Invalid(_))
                ),
                "{field}: null"
            );
        }
        let big = format!(
            r#"{{"statusCode":200,"body":"{}"}}"#,
            "x".repeat(MAX_LAMBDA_BYTES)
        );
        assert!(matches!(
            convert_response(big.as_bytes(), single),
            Err(InvalidResponse::TooLarge(_))
        ));
    }

    #[test]
    fn field_names_and_text_types() {
        assert!(valid_field_name("x-persist-value"));
        assert!(!valid_field_name("custom_header"));
        assert!(is_text(Some("application/json; charset=utf-8"), false));
        assert!(is_text(Some("text/csv"), false));
        assert!(!is_text(Some("image/png"), false));
        assert!(
            !is_text(Some("application/ld+json"), false),
            "+json is not listed"
        );
        assert!(
            !is_text(Some("application/atom+xml"), false),
            "+xml is not listed"
        );
        assert!(
            !is_text(Some("text/plain"), true),
            "Content-Encoding: base64"
        );
        assert!(!is_text(None, false));
    }

    #[test]
    fn trace_id_keeps_root_and_adds_self() {
        let now = chrono::Utc::now();
        let fresh = trace_id(None, now);
        assert!(
            fresh.starts_with("Root=1-") && !fresh.contains(';'),
            "{fresh}"
        );
        let root = "Root=1-67891233-abcdef012345678912345678";
        let kept = trace_id(Some(&format!("{root};CalledFrom=app")), now);
        let fields: Vec<&str> = kept.split(';').collect();
        assert!(fields[0].starts_with("Self=1-"), "{kept}");
        assert_eq!(&fields[1..], [root, "CalledFrom=app"]);
        let updated = trace_id(Some(&format!("Self=1-0-old;{root}")), now);
        assert!(
            !updated.contains("Self=1-0-old") && updated.contains(root),
            "{updated}"
        );
        assert_eq!(
            trace_id(Some("CalledFrom=app"), now)
                .matches("Root=")
                .count(),
            1
        );
    }
}
