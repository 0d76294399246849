//! The events CloudFront sends its four triggers (docs/AWS-BEHAVIOUR.md, "The CloudFront request
//! event" and "The four Lambda@Edge triggers"): config, clientIp, lowercase header map of
//! `{key, value}` lists, querystring, uri; origin triggers also a custom origin pointing at the
//! ALB, response triggers also the response. What of the viewer request the origin side sees is
//! what the cache behaviour's policies forward (`policy.rs`), minus the headers CloudFront
//! always removes.

use axum::http::{HeaderMap, Method};
use base64::Engine;
use edge_persist_core::cloudfront::{
    Cf, CloudFrontEvent, CompactString, Config, CustomOrigin, EventType, HeaderEntry, Headers,
    Origin, Record, Request, Response,
};
use edge_persist_core::headers;

use super::HOP_BY_HOP;
use super::policy::Policies;
use crate::environment::random_hex;
use crate::header_case::HeaderCase;

/// Viewer headers CloudFront removes whatever the policies say, besides the disallowed ones and
/// the hop-by-hop ones (docs/AWS-BEHAVIOUR.md, "Headers at the edge").
const REMOVED: &[&str] = &["x-http-method-override"];

/// Headers CloudFront sets itself; a viewer's copy is replaced, not forwarded.
const SET_BY_CLOUDFRONT: &[&str] = &["host", "user-agent", "x-forwarded-for", "via", "cookie"];

/// Headers that describe the body and always travel with it.
const BODY_HEADERS: &[&str] = &["content-length"];

/// `User-Agent` when the policies do not forward the viewer's.
pub const CLOUDFRONT_USER_AGENT: &str = "Amazon CloudFront";

/// Whether a viewer header never reaches the function or the origin.
pub fn removed_at_the_edge(name: &str) -> bool {
    HOP_BY_HOP.contains(&name) || REMOVED.contains(&name) || headers::is_disallowed(name)
}

const DISTRIBUTION_ID: &str = "EDGESTACKLOCAL";

/// Where CloudFront sends the request: the ALB's loopback port.
#[derive(Debug, Clone, Copy)]
pub struct OriginTarget {
    pub port: u16,
    pub read_timeout_s: u32,
}

/// The 56-character id CloudFront puts in `X-Amz-Cf-Id` and `cf.config.requestId`.
pub fn cf_request_id() -> String {
    let mut raw = [0u8; 40];
    if getrandom::fill(&mut raw).is_err() {
        raw.iter_mut()
            .zip(random_hex(40).bytes())
            .for_each(|(b, h)| *b = h);
    }
    base64::engine::general_purpose::URL_SAFE.encode(raw)
}

/// A header as CloudFront puts it in the event: `key` in the viewer's letter case when the
/// viewer sent it (`case`), else the conventional one.
fn push(headers: &mut Headers, case: Option<&HeaderCase>, name: &str, value: &str) {
    let key = case
        .and_then(|c| c.get(name))
        .map_or_else(|| headers::conventional_key(name), CompactString::from);
    headers
        .entry(name.into())
        .or_default()
        .push(HeaderEntry::new(key, value));
}

/// What of the viewer request goes into the event.
pub struct Viewer<'a> {
    pub method: &'a Method,
    pub uri: &'a axum::http::Uri,
    pub headers: &'a HeaderMap,
    pub client_ip: &'a str,
    /// How the viewer spelled its header names, where the listener recorded it.
    pub case: Option<&'a HeaderCase>,
}

/// The request as CloudFront received it from the viewer (the viewer-request event's
/// `request`): every header but the ones CloudFront removes at the edge, the whole query
/// string, no `origin`.
pub fn viewer_request(viewer: &Viewer<'_>) -> Request {
    let mut headers = Headers::new();
    for (name, value) in viewer.headers {
        if removed_at_the_edge(name.as_str()) {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes());
        push(&mut headers, viewer.case, name.as_str(), &value);
    }
    Request {
        client_ip: viewer.client_ip.into(),
        headers,
        method: viewer.method.as_str().into(),
        querystring: viewer.uri.query().unwrap_or("").into(),
        uri: viewer.uri.path().into(),
        origin: None,
        body: None,
        extra: Default::default(),
    }
}

/// The request CloudFront sends towards the origin for `viewer` (the viewer request after any
/// viewer-request function): what the cache behaviour's policies forward, with the headers
/// CloudFront sets itself, and a custom origin pointing at the ALB.
pub fn origin_request(target: OriginTarget, policies: &Policies, viewer: &Request) -> Request {
    let mut headers = Headers::new();
    for (name, entries) in &viewer.headers {
        if SET_BY_CLOUDFRONT.contains(&name.as_str()) {
            continue;
        }
        if BODY_HEADERS.contains(&name.as_str()) || policies.forwards_header(name) {
            headers.insert(name.clone(), entries.clone());
        }
    }
    // A header CloudFront sets keeps the viewer's spelling of its name when the viewer sent it.
    let mut set = |name: &str, value: &str| {
        let key = viewer
            .headers
            .get(name)
            .and_then(|e| e.first())
            .and_then(|e| e.key.clone())
            .unwrap_or_else(|| headers::conventional_key(name));
        headers
            .entry(name.into())
            .or_default()
            .push(HeaderEntry::new(key, value));
    };
    let first = |name: &str| viewer.header_values(name).next().map(str::to_owned);
    let host = match first("host") {
        Some(h) if policies.forwards_header("host") => h,
        _ => "127.0.0.1".into(),
    };
    set("host", &host);
    let agent = match first("user-agent") {
        Some(a) if policies.forwards_header("user-agent") => a,
        _ => CLOUDFRONT_USER_AGENT.into(),
    };
    set("user-agent", &agent);
    if let Some(kept) = policies.filter_cookies(viewer.header_values("cookie")) {
        set("cookie", &kept);
    }
    let client_ip = &viewer.client_ip;
    let xff = match first("x-forwarded-for") {
        Some(f) => format!("{f}, {client_ip}"),
        None => client_ip.to_string(),
    };
    set("x-forwarded-for", &xff);
    // CloudFront adds itself to the viewer's `Via`, it does not replace it.
    let hop = format!("2.0 {}.cloudfront.net (CloudFront)", random_hex(16));
    let via = match first("via") {
        Some(v) => format!("{v}, {hop}"),
        None => hop,
    };
    set("via", &via);
    let origin = CustomOrigin {
        custom_headers: Headers::new(),
        domain_name: "127.0.0.1".into(),
        keepalive_timeout: 5,
        path: Default::default(),
        port: target.port,
        protocol: "http".into(),
        read_timeout: target.read_timeout_s,
        ssl_protocols: vec!["TLSv1.2".into()],
        extra: Default::default(),
    };
    Request {
        client_ip: client_ip.clone(),
        headers,
        method: viewer.method.clone(),
        querystring: policies.filter_query(&viewer.querystring).into(),
        uri: viewer.uri.clone(),
        origin: Some(Origin::Custom(origin)),
        body: None,
        extra: Default::default(),
    }
}

/// The event of one trigger: `config`, the request, and for response triggers the response.
pub fn event(
    event_type: EventType,
    request_id: &str,
    request: Request,
    response: Option<Response>,
) -> CloudFrontEvent {
    let config = Config {
        distribution_domain_name: "localhost".into(),
        distribution_id: DISTRIBUTION_ID.into(),
        event_type,
        request_id: Some(request_id.into()),
        extra: Default::default(),
    };
    CloudFrontEvent {
        records: vec![Record {
            cf: Cf {
                config,
                request,
                response,
                extra: Default::default(),
            },
            extra: Default::default(),
        }],
        extra: Default::default(),
    }
}

/// The origin-request event for a viewer request (no viewer-request function ran).
pub fn origin_request_event(
    target: OriginTarget,
    policies: &Policies,
    viewer: &Viewer<'_>,
    request_id: &str,
) -> CloudFrontEvent {
    let request = origin_request(target, policies, &viewer_request(viewer));
    event(EventType::OriginRequest, request_id, request, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_look_like_cloudfront() {
        let id = cf_request_id();
        assert_eq!(id.len(), 56);
        assert_ne!(id, cf_request_id());
    }
}
