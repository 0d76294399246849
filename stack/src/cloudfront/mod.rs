//! CloudFront: a viewer request runs through the cache behaviour's Lambda@Edge triggers in
//! CloudFront's order, viewer-request -> [cache] -> origin-request -> origin (the ALB) ->
//! origin-response -> [cache] -> viewer-response (docs/AWS-BEHAVIOUR.md, "The four Lambda@Edge
//! triggers"). What each function returns is checked as CloudFront checks it for that trigger,
//! then forwarded, served (a generated response) or sent on to the viewer. Cache policy TTL 0:
//! nothing is cached, every request is a miss.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine;
use edge_persist_core::cloudfront::{
    BodyEncoding, CloudFrontEvent, EventType, GeneratedResponse, Headers, RequestResult,
};
use edge_persist_core::headers;
use tokio::sync::broadcast;

use crate::environment::{InvokeFailure, random_hex};
use crate::pool::{Outcome, Pool, PoolError};
pub use error_pages::CustomErrorResponse;
use event::{OriginTarget, Viewer, cf_request_id};
pub use failure::{Failure, ResultType};
pub use policy::Policies;

mod error_pages;
pub mod event;
mod failure;
mod origin;
pub mod policy;

use origin::forward;
pub use origin::{OriginClient, origin_client};

/// Body size CloudFront's emulation reads from a viewer (larger gets 413): no more than the one
/// origin, the ALB, accepts.
const MAX_VIEWER_BODY: usize = crate::alb::MAX_LAMBDA_BYTES;
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

/// One Lambda@Edge association as CloudFront runs it.
#[derive(Clone)]
pub struct Trigger {
    pub event_type: EventType,
    pub include_body: bool,
    pub pool: Arc<Pool>,
}

/// The cache behaviour's triggers, at most one per event type.
#[derive(Clone, Default)]
pub struct Triggers([Option<Trigger>; 4]);

impl Triggers {
    fn slot(event: EventType) -> usize {
        EventType::ALL
            .iter()
            .position(|e| *e == event)
            .unwrap_or_default()
    }

    pub fn set(&mut self, trigger: Trigger) {
        let i = Self::slot(trigger.event_type);
        self.0[i] = Some(trigger);
    }

    pub fn get(&self, event: EventType) -> Option<&Trigger> {
        self.0[Self::slot(event)].as_ref()
    }
}

pub struct CloudFront {
    pub triggers: Triggers,
    /// `127.0.0.1:<port>` of the ALB, parsed once: the origin leg's authority and `Host`.
    pub origin_authority: axum::http::uri::Authority,
    pub origin_host: HeaderValue,
    pub origin_port: u16,
    pub persisted_header: String,
    pub client: OriginClient,
    pub records: broadcast::Sender<RequestRecord>,
    /// The custom origin's read timeout (CloudFront's default is 30 s).
    pub read_timeout: Duration,
    pub bodies: crate::serve::BodyBudget,
    /// The cache behaviour's cache and origin request policies.
    pub policies: Policies,
    /// The distribution's custom error responses.
    pub error_responses: Vec<CustomErrorResponse>,
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
    // An origin's 4xx or 5xx is an error in CloudFront's words (x-edge-result-type, X-Cache),
    // though it went to the origin like a miss.
    if record.result == ResultType::Miss && response.status().as_u16() >= 400 {
        record.result = ResultType::Error;
    }
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
        h.insert("x-cache", record.result.x_cache());
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

/// A response on its way to the viewer, in the shape the response triggers see it.
struct Answer {
    status: StatusCode,
    description: Option<String>,
    /// Lowercase name -> `{key, value}` entries, as in the events.
    headers: Headers,
    /// The origin's disallowed headers: never shown to a function, passed on to the viewer.
    hidden: Headers,
    body: Bytes,
}

impl Answer {
    fn from_origin(response: Response<Bytes>) -> Self {
        let (parts, body) = response.into_parts();
        let (mut headers, mut hidden) = (Headers::new(), Headers::new());
        for (name, value) in &parts.headers {
            let map = if headers::is_disallowed(name.as_str()) {
                &mut hidden
            } else {
                &mut headers
            };
            map.entry(name.as_str().into()).or_default().push(
                edge_persist_core::cloudfront::HeaderEntry::new(
                    headers::conventional_key(name.as_str()),
                    String::from_utf8_lossy(value.as_bytes()),
                ),
            );
        }
        // The origin's body was read whole: its length is what the response triggers see.
        headers.insert(
            "content-length".into(),
            edge_persist_core::cloudfront::smallvec![
                edge_persist_core::cloudfront::HeaderEntry::new(
                    "Content-Length",
                    body.len().to_string(),
                )
            ],
        );
        Self {
            description: parts.status.canonical_reason().map(str::to_owned),
            status: parts.status,
            headers,
            hidden,
            body,
        }
    }

    /// `Records[0].cf.response`: status, statusDescription, headers (never the body).
    fn event_response(&self) -> edge_persist_core::cloudfront::Response {
        edge_persist_core::cloudfront::Response {
            status: self.status.as_u16().to_string(),
            status_description: self.description.clone(),
            headers: self.headers.clone(),
            extra: Default::default(),
        }
    }

    fn into_response(self) -> Result<Response, Failure> {
        let mut resp = Response::new(Body::from(self.body));
        *resp.status_mut() = self.status;
        if let Some(reason) = self
            .description
            .filter(|d| Some(d.as_str()) != self.status.canonical_reason())
            .and_then(|d| hyper::ext::ReasonPhrase::try_from(d.into_bytes()).ok())
        {
            resp.extensions_mut().insert(reason);
        }
        for (name, entries) in self.headers.into_iter().chain(self.hidden) {
            // Framing is ours: the body's real length goes on the wire, whatever a function wrote.
            if name == "content-length" || HOP_BY_HOP.contains(&name.as_str()) {
                continue;
            }
            for e in entries {
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
        Ok(resp)
    }
}

/// Invoke the function of `trigger` with `event`; its answer, or the failure CloudFront shows.
async fn invoke(
    trigger: &Trigger,
    event: &CloudFrontEvent,
    record: &mut RequestRecord,
) -> Result<Bytes, Failure> {
    let payload = serde_json::to_vec(event)
        .map_err(|e| Failure::validation(format!("cannot encode the event: {e}")))?;
    let outcome: Outcome = trigger
        .pool
        .invoke(Bytes::from(payload))
        .await
        .map_err(|e| {
            if let PoolError::Invoke {
                environment_id,
                cold,
                ..
            } = &e
            {
                record.edge_environment = Some(environment_id.clone());
                record.edge_cold = Some(*cold);
            }
            pool_failure(&e).in_trigger(trigger.event_type)
        })?;
    record.edge_environment = Some(outcome.environment_id.clone());
    record.edge_cold = Some(outcome.cold);
    Ok(outcome.served.payload)
}

/// What a request trigger decided.
enum Decision {
    /// Go on with this request and body.
    Forward(Box<edge_persist_core::cloudfront::Request>, Bytes),
    /// Answer the viewer with this generated response.
    Generated(Answer),
}

/// The Include Body view of `body`: base64, truncated at the trigger's quota.
fn event_body(event: EventType, body: &Bytes) -> edge_persist_core::cloudfront::Body {
    let max = event.quotas().max_body_bytes;
    let shown = &body[..body.len().min(max)];
    edge_persist_core::cloudfront::Body {
        input_truncated: body.len() > max,
        action: "read-only".into(),
        encoding: "base64".into(),
        data: base64::engine::general_purpose::STANDARD.encode(shown),
        extra: Default::default(),
    }
}

/// A request trigger: the function gets `sent` (and the body with Include Body) and returns the
/// request to go on with, or a generated response.
async fn request_trigger(
    trigger: &Trigger,
    request_id: &str,
    mut sent: edge_persist_core::cloudfront::Request,
    body: Bytes,
    record: &mut RequestRecord,
) -> Result<Decision, Failure> {
    let event_type = trigger.event_type;
    if trigger.include_body {
        sent.body = Some(event_body(event_type, &body));
    }
    let ev = event::event(event_type, request_id, sent.clone(), None);
    let payload = invoke(trigger, &ev, record).await?;
    let invalid = |f: Failure| f.in_trigger(event_type);
    let result = RequestResult::from_json(&payload).map_err(|e| {
        invalid(Failure::validation(format!(
            "the JSON output is not a request or a response: {e}"
        )))
    })?;
    match result {
        RequestResult::Response(generated) => {
            generated_answer(event_type, *generated, None).map(Decision::Generated)
        }
        RequestResult::Request(mut returned) => {
            if returned.method != sent.method || returned.client_ip != sent.client_ip {
                return Err(invalid(Failure::validation(
                    "the function changed the read-only method or clientIp",
                )));
            }
            check_querystring(&returned.querystring).map_err(invalid)?;
            headers::check_returned_request(event_type, &sent, &returned)
                .map_err(|e| invalid(Failure::validation(e)))?;
            headers::fill_keys(&mut returned.headers);
            let body = match returned.body.take() {
                Some(b) if trigger.include_body && b.action == "replace" => {
                    replaced_body(event_type, &b).map_err(invalid)?
                }
                _ => body,
            };
            Ok(Decision::Forward(returned, body))
        }
    }
}

/// The body a request trigger replaced (`action: replace`): base64 (the default) or text,
/// truncated at the trigger's quota.
fn replaced_body(
    event: EventType,
    b: &edge_persist_core::cloudfront::Body,
) -> Result<Bytes, Failure> {
    let mut bytes = match b.encoding.as_str() {
        "text" => b.data.clone().into_bytes(),
        "base64" | "" => base64::engine::general_purpose::STANDARD
            .decode(&b.data)
            .map_err(|e| Failure::validation(format!("the replaced body is not base64: {e}")))?,
        other => {
            return Err(Failure::validation(format!(
                "body encoding {other:?}: CloudFront takes base64 or text"
            )));
        }
    };
    bytes.truncate(event.quotas().max_body_bytes);
    Ok(Bytes::from(bytes))
}

/// A response trigger: the function gets the request and `answer` (without its body) and
/// returns the response to go on with.
async fn response_trigger(
    trigger: &Trigger,
    request_id: &str,
    request: &edge_persist_core::cloudfront::Request,
    answer: Answer,
    record: &mut RequestRecord,
) -> Result<Answer, Failure> {
    let event_type = trigger.event_type;
    let ev = event::event(
        event_type,
        request_id,
        request.clone(),
        Some(answer.event_response()),
    );
    let payload = invoke(trigger, &ev, record).await?;
    let returned: GeneratedResponse = serde_json::from_slice(&payload).map_err(|e| {
        Failure::validation(format!("the JSON output is not a response: {e}"))
            .in_trigger(event_type)
    })?;
    generated_answer(event_type, returned, Some(answer))
}

/// The response a function returned at `event`, checked as CloudFront checks it: a status from
/// 200 to 599 (a viewer-response function may not change it), well-formed headers, none
/// disallowed, none of the trigger's read-only ones changed (response triggers), a body in
/// `text` or `base64`, and a generated body within the trigger's size quota. `sent` is the
/// response a response trigger was given; a request trigger generates one from nothing.
fn generated_answer(
    event: EventType,
    g: GeneratedResponse,
    sent: Option<Answer>,
) -> Result<Answer, Failure> {
    let invalid = |detail: String| Failure::validation(detail).in_trigger(event);
    let status = g
        .status
        .parse::<u16>()
        .ok()
        .filter(|s| (200..=599).contains(s))
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| {
            invalid(format!(
                "status {:?} is not an HTTP status from 200 to 599",
                g.status
            ))
        })?;
    if let Some(sent) = &sent
        && event == EventType::ViewerResponse
        && sent.status != status
    {
        return Err(invalid(format!(
            "a viewer-response function cannot change the status ({} to {status})",
            sent.status.as_u16()
        )));
    }
    let mut returned_headers = g.headers.unwrap_or_default();
    match &sent {
        Some(sent) => headers::check_returned_headers(event, &sent.headers, &returned_headers)
            .map_err(|e| invalid(e.to_string()))?,
        None => {
            for (name, entries) in &returned_headers {
                headers::validate_name(name).map_err(|e| invalid(e.to_string()))?;
                if headers::is_disallowed(name) {
                    return Err(invalid(
                        headers::HeaderError::Disallowed(name.to_string()).to_string(),
                    ));
                }
                for e in entries {
                    headers::validate_value(name, &e.value).map_err(|e| invalid(e.to_string()))?;
                }
            }
        }
    }
    headers::fill_keys(&mut returned_headers);
    let generated_body = match (g.body, g.body_encoding) {
        (None, _) => None,
        (Some(b), Some(BodyEncoding::Base64)) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(b)
                .map_err(|e| invalid(format!("body is not base64: {e}")))?,
        ),
        (Some(b), _) => Some(b.into_bytes()),
    };
    if event == EventType::ViewerRequest
        && status == StatusCode::NO_CONTENT
        && generated_body.is_some()
    {
        return Err(invalid("a 204 response with a body".into()));
    }
    let hidden = sent.as_ref().map(|s| s.hidden.clone()).unwrap_or_default();
    let body = match (generated_body, sent) {
        (Some(b), _) => {
            let max = event.quotas().max_generated_response_bytes;
            let size = b.len() + headers::headers_size(&returned_headers);
            if size > max {
                return Err(invalid(format!(
                    "the generated response is {size} bytes with its headers; the limit is {max}"
                )));
            }
            if let Some(length) = returned_headers.get_mut("content-length") {
                for e in length.iter_mut() {
                    e.value = b.len().to_string().into();
                }
            }
            Bytes::from(b)
        }
        // A response trigger that leaves the body out keeps the origin's.
        (None, Some(sent)) => sent.body,
        (None, None) => Bytes::new(),
    };
    Ok(Answer {
        status,
        description: g.status_description,
        headers: returned_headers,
        hidden,
        body,
    })
}

async fn serve(
    cf: &CloudFront,
    viewer: &Viewer<'_>,
    body: Bytes,
    request_id: &str,
    record: &mut RequestRecord,
) -> Result<Response, Failure> {
    let mut body = body;
    let mut request = event::viewer_request(viewer);
    if let Some(t) = cf.triggers.get(EventType::ViewerRequest) {
        match request_trigger(t, request_id, request.clone(), body, record).await? {
            // Returned to the viewer as it is: no origin-side trigger, no viewer-response.
            Decision::Generated(answer) => {
                record.result = ResultType::LambdaGeneratedResponse;
                return answer.into_response();
            }
            Decision::Forward(returned, b) => {
                request = *returned;
                body = b;
            }
        }
    }
    // [cache]: TTL 0, a miss; the request goes on towards the origin.
    let target = OriginTarget {
        port: cf.origin_port,
        read_timeout_s: cf.read_timeout.as_secs() as u32,
    };
    let mut origin_request = event::origin_request(target, &cf.policies, &request);
    let mut origin_status = None;
    let answer = match cf.triggers.get(EventType::OriginRequest) {
        Some(t) => {
            match request_trigger(t, request_id, origin_request.clone(), body.clone(), record)
                .await?
            {
                Decision::Generated(answer) => {
                    // No origin and no origin-response; viewer-response still runs.
                    record.result = ResultType::LambdaGeneratedResponse;
                    Some(answer)
                }
                Decision::Forward(returned, b) => {
                    origin_request = *returned;
                    body = b;
                    None
                }
            }
        }
        None => None,
    };
    let answer = match answer {
        Some(generated) => generated,
        None => {
            record.persisted = origin_request
                .header_values(&cf.persisted_header)
                .next()
                .map(str::to_owned);
            let answer = match fetch(cf, &origin_request, body, request_id).await {
                // CloudFront's own 502/504 for an origin it could not read: a custom error
                // page replaces it as it replaces the origin's.
                Err(f) => {
                    let page =
                        error_pages::page(cf, &origin_request, request_id, f.status, record).await;
                    record.detail = Some(f.detail.clone());
                    return page.ok_or(f)??.into_response();
                }
                Ok(answer) => answer,
            };
            origin_status = Some(answer.status);
            let answer = match cf.triggers.get(EventType::OriginResponse) {
                Some(t) => response_trigger(t, request_id, &origin_request, answer, record).await?,
                None => answer,
            };
            // A custom error page goes to the viewer without viewer-response.
            if let Some(page) =
                error_pages::page(cf, &origin_request, request_id, answer.status, record).await
            {
                return page?.into_response();
            }
            answer
        }
    };
    // [cache]; then viewer-response, except when the origin answered 400 or more.
    let answer = match cf.triggers.get(EventType::ViewerResponse) {
        Some(t) if origin_status.is_none_or(|s| s.as_u16() < 400) => {
            response_trigger(t, request_id, &request, answer, record).await?
        }
        _ => answer,
    };
    answer.into_response()
}

/// `req` sent to the origin, its answer read whole in the shape the response triggers see.
async fn fetch(
    cf: &CloudFront,
    req: &edge_persist_core::cloudfront::Request,
    body: Bytes,
    request_id: &str,
) -> Result<Answer, Failure> {
    let mut response = forward(cf, req, body, request_id).await?;
    if !cf.policies.forwards_cookies() {
        // Cookies not forwarded: CloudFront drops the origin's Set-Cookie too.
        response.headers_mut().remove("set-cookie");
    }
    Ok(Answer::from_origin(response))
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
