//! Application Load Balancer with a Lambda target group: each request becomes an ALB target
//! event, the target's JSON answer becomes the HTTP response (docs/AWS-BEHAVIOUR.md,
//! "Application Load Balancer with a Lambda target").

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

use crate::environment::InvokeFailure;
use crate::pool::{Pool, PoolError};
pub use event::target_event;

mod event;

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
            "arn:aws:elasticloadbalancing:{}:{}:targetgroup/{}/{:016x}",
            crate::logs::REGION,
            crate::logs::ACCOUNT_ID,
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
}
