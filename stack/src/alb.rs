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

/// Bodies ALB passes as text; everything else is base64.
fn is_text(content_type: Option<&str>) -> bool {
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
        || ct.ends_with("+json")
        || ct.ends_with("+xml")
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
        format!(
            "Root=1-{:08x}-{}",
            chrono::Utc::now().timestamp(),
            random_hex(12)
        ),
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
        Ok(text) if is_text(content_type) => (text.to_owned(), false),
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

/// Turn the target's JSON into an HTTP response, in the mode the target group is in.
pub fn convert_response(payload: &[u8], options: AlbOptions) -> Result<Response, InvalidResponse> {
    if payload.len() > MAX_LAMBDA_BYTES {
        return Err(InvalidResponse::TooLarge(payload.len()));
    }
    let invalid = |m: String| InvalidResponse::Invalid(m);
    let r: TargetResponse = serde_json::from_slice(payload)
        .map_err(|e| invalid(format!("not a target response: {e}")))?;
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
    let Ok(body) = axum::body::to_bytes(body, MAX_LAMBDA_BYTES).await else {
        return error_page(StatusCode::PAYLOAD_TOO_LARGE);
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
    match alb.target.invoke(payload).await {
        Ok(outcome) => convert_response(&outcome.served.payload, alb.options).unwrap_or_else(|e| {
            tracing::warn!(error = %e, environment = %outcome.environment_id, "502 from the ALB");
            error_page(StatusCode::BAD_GATEWAY)
        }),
        Err(PoolError::Throttled { .. }) => error_page(StatusCode::SERVICE_UNAVAILABLE),
        Err(PoolError::Invoke {
            failure: InvokeFailure::Timeout(_),
            ..
        }) => error_page(StatusCode::GATEWAY_TIMEOUT),
        Err(e) => {
            tracing::warn!(error = %e, "502 from the ALB (LambdaUnhandled)");
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
        assert!(is_text(Some("application/json; charset=utf-8")));
        assert!(!is_text(Some("image/png")));
    }
}
