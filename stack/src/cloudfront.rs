//! CloudFront: each viewer request becomes an origin-request event for the edge function; what
//! the function returns is checked as CloudFront checks it, then served (generated response) or
//! forwarded to the ALB. Cache policy TTL 0: nothing is cached, every request is a miss.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use edge_persist_core::cloudfront::{
    BodyEncoding, CloudFrontEvent, Cf, Config, CustomOrigin, EventType, GeneratedResponse, HeaderEntry, Headers, Origin, Record, RequestResult,
};
use edge_persist_core::headers;
use tokio::sync::broadcast;

use crate::environment::random_hex;
use crate::pool::{Outcome, Pool, PoolError};

/// Body size CloudFront's emulation reads from a viewer (larger gets 413).
const MAX_VIEWER_BODY: usize = 10 * 1024 * 1024;
/// A generated response from an origin-request trigger may be at most 1 MB.
const MAX_GENERATED_BODY: usize = 1024 * 1024;
/// Hop-by-hop headers CloudFront does not pass to the function or the origin.
const HOP_BY_HOP: &[&str] = &["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "expect"];
const DISTRIBUTION_ID: &str = "EDGESTACKLOCAL";

/// One line of the access log the CLI prints.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub method: String,
    pub uri: String,
    pub status: u16,
    /// `Miss`, `LambdaGeneratedResponse`, `LambdaValidationError`, `LambdaExecutionError`,
    /// `LambdaLimitExceeded`, `OriginError` (CloudFront's detailed result types).
    pub result: &'static str,
    pub persisted: Option<String>,
    pub edge_environment: Option<String>,
    pub edge_cold: Option<bool>,
    pub elapsed: Duration,
}

pub struct CloudFront {
    pub edge: Arc<Pool>,
    /// `http://127.0.0.1:<port>` of the ALB.
    pub origin_base: String,
    pub origin_port: u16,
    pub persisted_header: String,
    pub client: reqwest::Client,
    pub records: broadcast::Sender<RequestRecord>,
    /// The custom origin's read timeout (CloudFront's default is 30 s).
    pub read_timeout: Duration,
}

/// The 56-character id CloudFront puts in `X-Amz-Cf-Id` and `cf.config.requestId`.
fn cf_request_id() -> String {
    let mut raw = [0u8; 40];
    if getrandom::fill(&mut raw).is_err() {
        raw.iter_mut().zip(random_hex(40).bytes()).for_each(|(b, h)| *b = h);
    }
    base64::engine::general_purpose::URL_SAFE.encode(raw)
}

/// `User-Agent` for `user-agent`: the event's `key` keeps a letter case; hyper lowercases names
/// on arrival, so the conventional case is the closest to what the viewer sent.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn push(headers: &mut Headers, name: &str, value: &str) {
    headers.entry(name.to_owned()).or_default().push(HeaderEntry::new(title_case(name), value));
}

/// The origin-request event for a viewer request.
pub fn origin_request_event(cf: &CloudFront, method: &Method, uri: &axum::http::Uri, viewer: &HeaderMap, client_ip: &str, request_id: &str) -> CloudFrontEvent {
    let mut headers = Headers::new();
    for (name, value) in viewer {
        let name = name.as_str();
        if HOP_BY_HOP.contains(&name) || name == "host" {
            continue;
        }
        push(&mut headers, name, &String::from_utf8_lossy(value.as_bytes()));
    }
    push(&mut headers, "host", "127.0.0.1");
    let forwarded = headers.remove("x-forwarded-for").and_then(|v| v.last().map(|e| e.value.clone()));
    let xff = forwarded.map_or_else(|| client_ip.to_owned(), |f| format!("{f}, {client_ip}"));
    push(&mut headers, "x-forwarded-for", &xff);
    headers.remove("via");
    push(&mut headers, "via", &format!("2.0 {}.cloudfront.net (CloudFront)", random_hex(16)));
    let origin = CustomOrigin {
        custom_headers: Headers::new(),
        domain_name: "127.0.0.1".into(),
        keepalive_timeout: 5,
        path: String::new(),
        port: cf.origin_port,
        protocol: "http".into(),
        read_timeout: cf.read_timeout.as_secs() as u32,
        ssl_protocols: vec!["TLSv1.2".into()],
        extra: Default::default(),
    };
    let request = edge_persist_core::cloudfront::Request {
        client_ip: client_ip.to_owned(),
        headers,
        method: method.as_str().to_owned(),
        querystring: uri.query().unwrap_or("").to_owned(),
        uri: uri.path().to_owned(),
        origin: Some(Origin::Custom(origin)),
        body: None,
        extra: Default::default(),
    };
    let config = Config {
        distribution_domain_name: "localhost".into(),
        distribution_id: DISTRIBUTION_ID.into(),
        event_type: EventType::OriginRequest,
        request_id: Some(request_id.to_owned()),
        extra: Default::default(),
    };
    CloudFrontEvent { records: vec![Record { cf: Cf { config, request, response: None, extra: Default::default() }, extra: Default::default() }], extra: Default::default() }
}

/// CloudFront's HTML error page.
pub fn error_page(status: StatusCode, message: &str, request_id: &str) -> Response {
    let body = format!(
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" \"http://www.w3.org/TR/html4/loose.dtd\">\n\
         <HTML><HEAD><META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=iso-8859-1\">\n\
         <TITLE>ERROR: The request could not be satisfied</TITLE>\n</HEAD><BODY>\n\
         <H1>{} ERROR</H1>\n<H2>The request could not be satisfied.</H2>\n<HR noshade size=\"1px\">\n\
         {}\n<BR clear=\"all\">\n<HR noshade size=\"1px\">\n<PRE>\nGenerated by cloudfront (CloudFront)\nRequest ID: {request_id}\n</PRE>\n\
         <ADDRESS>\n</ADDRESS>\n</BODY></HTML>",
        status.as_u16(),
        html_escape(message)
    );
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert("content-type", HeaderValue::from_static("text/html"));
    resp.headers_mut().insert("x-cache", HeaderValue::from_static("Error from cloudfront"));
    resp
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A failure that becomes a CloudFront error page.
struct Failure {
    status: StatusCode,
    result: &'static str,
    message: String,
}

impl Failure {
    fn validation(detail: impl std::fmt::Display) -> Self {
        Self { status: StatusCode::BAD_GATEWAY, result: "LambdaValidationError", message: format!("The Lambda function result failed validation: {detail}.") }
    }
}

fn pool_failure(err: &PoolError) -> Failure {
    match err {
        PoolError::Throttled { .. } => Failure {
            status: StatusCode::SERVICE_UNAVAILABLE,
            result: "LambdaLimitExceeded",
            message: "The Lambda function associated with the CloudFront distribution was throttled.".into(),
        },
        other => Failure {
            status: StatusCode::SERVICE_UNAVAILABLE,
            result: "LambdaExecutionError",
            message: format!("The Lambda function associated with the CloudFront distribution failed: {other}."),
        },
    }
}

pub async fn handle(State(cf): State<Arc<CloudFront>>, ConnectInfo(peer): ConnectInfo<SocketAddr>, req: Request) -> Response {
    let started = Instant::now();
    let request_id = cf_request_id();
    let (parts, body) = req.into_parts();
    let mut record = RequestRecord {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        status: 0,
        result: "Miss",
        persisted: None,
        edge_environment: None,
        edge_cold: None,
        elapsed: Duration::ZERO,
    };
    let mut response = match axum::body::to_bytes(body, MAX_VIEWER_BODY).await {
        Err(_) => error_page(StatusCode::PAYLOAD_TOO_LARGE, "The request body is too large.", &request_id),
        Ok(body) => match serve(&cf, &parts, body, &peer.ip().to_string(), &request_id, &mut record).await {
            Ok(resp) => resp,
            Err(f) => {
                record.result = f.result;
                error_page(f.status, &f.message, &request_id)
            }
        },
    };
    let h = response.headers_mut();
    h.append("via", HeaderValue::from_str(&format!("1.1 {}.cloudfront.net (CloudFront)", random_hex(16))).unwrap_or(HeaderValue::from_static("1.1 local.cloudfront.net (CloudFront)")));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-amz-cf-id", v);
    }
    h.insert("x-amz-cf-pop", HeaderValue::from_static("LOCAL1-P1"));
    if !h.contains_key("x-cache") {
        h.insert("x-cache", HeaderValue::from_static("Miss from cloudfront"));
    }
    record.status = response.status().as_u16();
    record.elapsed = started.elapsed();
    let _ = cf.records.send(record);
    response
}

async fn serve(cf: &CloudFront, parts: &axum::http::request::Parts, body: Bytes, client_ip: &str, request_id: &str, record: &mut RequestRecord) -> Result<Response, Failure> {
    let event = origin_request_event(cf, &parts.method, &parts.uri, &parts.headers, client_ip, request_id);
    let sent = event.records[0].cf.request.clone();
    let payload = serde_json::to_vec(&event).map_err(|e| Failure::validation(format!("cannot encode the event: {e}")))?;
    let outcome: Outcome = cf.edge.invoke(Bytes::from(payload)).await.map_err(|e| {
        if let PoolError::Invoke { environment_id, cold, .. } = &e {
            record.edge_environment = Some(environment_id.clone());
            record.edge_cold = Some(*cold);
        }
        pool_failure(&e)
    })?;
    record.edge_environment = Some(outcome.environment_id.clone());
    record.edge_cold = Some(outcome.cold);
    let result: RequestResult = serde_json::from_slice(&outcome.served.payload).map_err(|e| Failure::validation(format!("the JSON output is not a request or a response: {e}")))?;
    match result {
        RequestResult::Response(generated) => {
            record.result = "LambdaGeneratedResponse";
            generated_response(*generated)
        }
        RequestResult::Request(returned) => {
            if returned.method != sent.method || returned.client_ip != sent.client_ip {
                return Err(Failure::validation("the function changed the read-only method or clientIp"));
            }
            headers::check_returned_request(EventType::OriginRequest, &sent, &returned).map_err(Failure::validation)?;
            record.persisted = returned.header_values(&cf.persisted_header).next().map(str::to_owned);
            forward(cf, &returned, body, request_id).await
        }
    }
}

fn generated_response(g: GeneratedResponse) -> Result<Response, Failure> {
    let status = g.status.parse::<u16>().ok().and_then(|s| StatusCode::from_u16(s).ok()).ok_or_else(|| Failure::validation(format!("status {:?} is not an HTTP status code", g.status)))?;
    let body = match (g.body, g.body_encoding) {
        (None, _) => Vec::new(),
        (Some(b), Some(BodyEncoding::Base64)) => base64::engine::general_purpose::STANDARD.decode(b).map_err(|e| Failure::validation(format!("body is not base64: {e}")))?,
        (Some(b), _) => b.into_bytes(),
    };
    if body.len() > MAX_GENERATED_BODY {
        return Err(Failure::validation(format!("the generated body is {} bytes; the limit is {MAX_GENERATED_BODY}", body.len())));
    }
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    for (name, entries) in g.headers.unwrap_or_default() {
        headers::validate_name(&name).map_err(Failure::validation)?;
        if headers::is_disallowed(&name) {
            return Err(Failure::validation(headers::HeaderError::Disallowed(name)));
        }
        for e in entries {
            headers::validate_value(&name, &e.value).map_err(Failure::validation)?;
            let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&e.value)) else {
                return Err(Failure::validation(format!("header {name:?} cannot be sent")));
            };
            resp.headers_mut().append(n, v);
        }
    }
    resp.headers_mut().insert("x-cache", HeaderValue::from_static("LambdaGeneratedResponse from cloudfront"));
    Ok(resp)
}

async fn forward(cf: &CloudFront, req: &edge_persist_core::cloudfront::Request, body: Bytes, request_id: &str) -> Result<Response, Failure> {
    let query = if req.querystring.is_empty() { String::new() } else { format!("?{}", req.querystring) };
    let url = format!("{}{}{}", cf.origin_base, req.uri, query);
    let method = Method::from_bytes(req.method.as_bytes()).map_err(|e| Failure::validation(e.to_string()))?;
    let mut out = HeaderMap::new();
    for (name, entries) in &req.headers {
        if matches!(name.as_str(), "host" | "content-length") || HOP_BY_HOP.contains(&name.as_str()) {
            continue;
        }
        for e in entries {
            if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&e.value)) {
                out.append(n, v);
            }
        }
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        out.insert("x-amz-cf-id", v);
    }
    let origin_error = |status: StatusCode, message: String| Failure { status, result: "OriginError", message };
    let resp = cf.client.request(method, &url).headers(out).body(body).timeout(cf.read_timeout).send().await.map_err(|e| {
        if e.is_timeout() {
            origin_error(StatusCode::GATEWAY_TIMEOUT, "CloudFront attempted to establish a connection with the origin, but either the attempt failed or the origin closed the connection.".into())
        } else {
            origin_error(StatusCode::BAD_GATEWAY, format!("CloudFront wasn't able to connect to the origin: {e}"))
        }
    })?;
    let status = resp.status();
    let mut headers = resp.headers().clone();
    for h in HOP_BY_HOP.iter().chain(&["content-length"]) {
        headers.remove(*h);
    }
    let bytes = resp.bytes().await.map_err(|e| origin_error(StatusCode::BAD_GATEWAY, format!("the origin response broke off: {e}")))?;
    let mut out = Response::new(Body::from(bytes));
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_title_cased() {
        assert_eq!(title_case("user-agent"), "User-Agent");
        assert_eq!(title_case("custom_header"), "Custom_header");
        assert_eq!(title_case("x-forwarded-for"), "X-Forwarded-For");
    }

    #[test]
    fn request_ids_look_like_cloudfront() {
        let id = cf_request_id();
        assert_eq!(id.len(), 56);
        assert_ne!(id, cf_request_id());
    }
}
