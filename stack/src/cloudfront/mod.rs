//! CloudFront: each viewer request becomes an origin-request event for the edge function; what
//! the function returns is checked as CloudFront checks it, then served (generated response) or
//! forwarded to the ALB. Cache policy TTL 0: nothing is cached, every request is a miss.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine;
use edge_persist_core::cloudfront::{BodyEncoding, EventType, GeneratedResponse, RequestResult};
use edge_persist_core::headers;
use tokio::sync::broadcast;

use crate::environment::{InvokeFailure, random_hex};
use crate::pool::{Outcome, Pool, PoolError};
use event::{OriginTarget, Viewer, cf_request_id, origin_request_event};
pub use failure::{Failure, ResultType};
pub use policy::Policies;

pub mod event;
mod failure;
mod origin;
pub mod policy;

use origin::forward;
pub use origin::{OriginClient, origin_client};

/// Body size CloudFront's emulation reads from a viewer (larger gets 413): no more than the one
/// origin, the ALB, accepts.
const MAX_VIEWER_BODY: usize = crate::alb::MAX_LAMBDA_BYTES;
/// A generated response from an origin-request trigger, headers and body counted together.
const MAX_GENERATED_BYTES: usize = EventType::OriginRequest
    .quotas()
    .max_generated_response_bytes;
/// Hop-by-hop headers CloudFront does not pass to the function or the origin.
pub(crate) const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
];

/// One line of the access log the CLI prints.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub method: String,
    pub uri: String,
    pub status: u16,
    /// CloudFront's detailed result type.
    pub result: ResultType,
    pub persisted: Option<String>,
    pub edge_environment: Option<String>,
    pub edge_cold: Option<bool>,
    /// Why the request failed, for the operator (never on the viewer's error page).
    pub detail: Option<String>,
    pub elapsed: Duration,
}

pub struct CloudFront {
    pub edge: Arc<Pool>,
    /// `127.0.0.1:<port>` of the ALB.
    pub origin_authority: String,
    pub origin_port: u16,
    pub persisted_header: String,
    pub client: OriginClient,
    pub records: broadcast::Sender<RequestRecord>,
    /// The custom origin's read timeout (CloudFront's default is 30 s).
    pub read_timeout: Duration,
    pub bodies: crate::serve::BodyBudget,
    /// The cache behaviour's cache and origin request policies.
    pub policies: Policies,
}

fn pool_failure(err: &PoolError) -> Failure {
    match err {
        PoolError::Throttled { .. } => Failure::limit_exceeded("was throttled"),
        // A function timeout is a Lambda limit, not an execution error.
        PoolError::Invoke {
            failure: InvokeFailure::Timeout(t),
            ..
        } => Failure::limit_exceeded(format!(
            "exceeded its timeout of {:.2} seconds",
            t.as_secs_f64()
        )),
        other => Failure::execution(other),
    }
}

/// CloudFront's limits on a viewer request, checked before any function runs: the request line
/// and headers at most 20,480 bytes, the URL at most 8,192 bytes (docs/AWS-BEHAVIOUR.md, "Headers
/// at the edge"). The URL is measured as the request target (path and query string).
fn check_viewer_limits(parts: &axum::http::request::Parts) -> Result<(), Failure> {
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    if target.len() > headers::MAX_URL_CHARS {
        return Err(Failure::too_large(format!(
            "the URL is {} bytes, more than {}",
            target.len(),
            headers::MAX_URL_CHARS
        )));
    }
    let line = parts.method.as_str().len() + 1 + target.len() + " HTTP/1.1\r\n".len();
    let fields: usize = parts
        .headers
        .iter()
        .map(|(n, v)| n.as_str().len() + 2 + v.len() + 2)
        .sum();
    if line + fields > headers::MAX_REQUEST_BYTES {
        return Err(Failure::too_large(format!(
            "the request is {} bytes, more than {}",
            line + fields,
            headers::MAX_REQUEST_BYTES
        )));
    }
    Ok(())
}

pub async fn handle(
    State(cf): State<Arc<CloudFront>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let started = Instant::now();
    let request_id = cf_request_id();
    let (parts, body) = req.into_parts();
    let mut record = RequestRecord {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        status: 0,
        result: ResultType::Miss,
        persisted: None,
        edge_environment: None,
        edge_cold: None,
        detail: None,
        elapsed: Duration::ZERO,
    };
    let served = match check_viewer_limits(&parts) {
        Err(f) => Err(f),
        Ok(()) => match cf.bodies.read(&parts.headers, body, MAX_VIEWER_BODY).await {
            Err(e) => Err(Failure::client(e.status(), format!("request body: {e:?}"))),
            Ok((body, _held)) => {
                let viewer = Viewer {
                    method: &parts.method,
                    uri: &parts.uri,
                    headers: &parts.headers,
                    client_ip: &peer.ip().to_string(),
                    case: parts.extensions.get(),
                };
                serve(&cf, &viewer, body, &request_id, &mut record).await
            }
        },
    };
    let mut response = served.unwrap_or_else(|f| {
        record.result = f.result;
        record.detail = Some(f.detail.clone());
        f.page(&request_id)
    });
    let h = response.headers_mut();
    h.append(
        "via",
        HeaderValue::from_str(&format!(
            "1.1 {}.cloudfront.net (CloudFront)",
            random_hex(16)
        ))
        .unwrap_or(HeaderValue::from_static(
            "1.1 local.cloudfront.net (CloudFront)",
        )),
    );
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-amz-cf-id", v);
    }
    h.insert("x-amz-cf-pop", HeaderValue::from_static("LOCAL1-P1"));
    if !h.contains_key("x-cache") {
        h.insert("x-cache", ResultType::Miss.x_cache());
    }
    record.status = response.status().as_u16();
    record.elapsed = started.elapsed();
    // Client- and function-controlled text: one line, no terminal escapes.
    record.uri = crate::logs::sanitize(&record.uri).into_owned();
    record.persisted = record
        .persisted
        .map(|p| crate::logs::sanitize(&p).into_owned());
    record.detail = record
        .detail
        .map(|d| crate::logs::sanitize(&d).into_owned());
    let _ = cf.records.send(record);
    response
}

async fn serve(
    cf: &CloudFront,
    viewer: &Viewer<'_>,
    body: Bytes,
    request_id: &str,
    record: &mut RequestRecord,
) -> Result<Response, Failure> {
    let target = OriginTarget {
        port: cf.origin_port,
        read_timeout_s: cf.read_timeout.as_secs() as u32,
    };
    let event = origin_request_event(target, &cf.policies, viewer, request_id);
    let sent = event.records[0].cf.request.clone();
    let payload = serde_json::to_vec(&event)
        .map_err(|e| Failure::validation(format!("cannot encode the event: {e}")))?;
    let outcome: Outcome = cf.edge.invoke(Bytes::from(payload)).await.map_err(|e| {
        if let PoolError::Invoke {
            environment_id,
            cold,
            ..
        } = &e
        {
            record.edge_environment = Some(environment_id.clone());
            record.edge_cold = Some(*cold);
        }
        pool_failure(&e)
    })?;
    record.edge_environment = Some(outcome.environment_id.clone());
    record.edge_cold = Some(outcome.cold);
    let result: RequestResult = serde_json::from_slice(&outcome.served.payload).map_err(|e| {
        Failure::validation(format!(
            "the JSON output is not a request or a response: {e}"
        ))
    })?;
    match result {
        RequestResult::Response(generated) => {
            record.result = ResultType::LambdaGeneratedResponse;
            generated_response(*generated)
        }
        RequestResult::Request(returned) => {
            if returned.method != sent.method || returned.client_ip != sent.client_ip {
                return Err(Failure::validation(
                    "the function changed the read-only method or clientIp",
                ));
            }
            check_querystring(&returned.querystring)?;
            headers::check_returned_request(EventType::OriginRequest, &sent, &returned)
                .map_err(Failure::validation)?;
            record.persisted = returned
                .header_values(&cf.persisted_header)
                .next()
                .map(str::to_owned);
            let mut response = forward(cf, &returned, body, request_id).await?;
            if !cf.policies.forwards_cookies() {
                // Cookies not forwarded: CloudFront drops the origin's Set-Cookie too.
                response.headers_mut().remove("set-cookie");
            }
            Ok(response)
        }
    }
}

/// A query string a function sets may not hold spaces, control characters or `#`.
fn check_querystring(query: &str) -> Result<(), Failure> {
    match query
        .chars()
        .find(|c| *c == ' ' || *c == '#' || c.is_control())
    {
        Some(c) => Err(Failure::validation(format!(
            "the querystring holds {c:?}, which CloudFront does not accept"
        ))),
        None => Ok(()),
    }
}

fn generated_response(g: GeneratedResponse) -> Result<Response, Failure> {
    let status = g
        .status
        .parse::<u16>()
        .ok()
        .filter(|s| (200..=599).contains(s))
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| {
            Failure::validation(format!(
                "status {:?} is not an HTTP status from 200 to 599",
                g.status
            ))
        })?;
    let body = match (g.body, g.body_encoding) {
        (None, _) => Vec::new(),
        (Some(b), Some(BodyEncoding::Base64)) => base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|e| Failure::validation(format!("body is not base64: {e}")))?,
        (Some(b), _) => b.into_bytes(),
    };
    let generated_headers = g.headers.unwrap_or_default();
    let size = body.len() + headers::headers_size(&generated_headers);
    if size > MAX_GENERATED_BYTES {
        return Err(Failure::validation(format!(
            "the generated response is {size} bytes with its headers; the limit is {MAX_GENERATED_BYTES}"
        )));
    }
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    if let Some(reason) = g
        .status_description
        .and_then(|d| hyper::ext::ReasonPhrase::try_from(d.into_bytes()).ok())
    {
        resp.extensions_mut().insert(reason);
    }
    for (name, entries) in generated_headers {
        // Framing is ours: the body's real length goes on the wire, whatever the function wrote.
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            continue;
        }
        headers::validate_name(&name).map_err(Failure::validation)?;
        if headers::is_disallowed(&name) {
            return Err(Failure::validation(headers::HeaderError::Disallowed(name)));
        }
        for e in entries {
            headers::validate_value(&name, &e.value).map_err(Failure::validation)?;
            let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&e.value),
            ) else {
                return Err(Failure::validation(format!(
                    "header {name:?} cannot be sent"
                )));
            };
            resp.headers_mut().append(n, v);
        }
    }
    resp.headers_mut()
        .insert("x-cache", ResultType::LambdaGeneratedResponse.x_cache());
    Ok(resp)
}
