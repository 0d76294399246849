//! The origin-request event CloudFront sends for a viewer request (docs/AWS-BEHAVIOUR.md,
//! "The CloudFront request event"): config, clientIp, lowercase header map of `{key, value}`
//! lists, querystring, uri and a custom origin pointing at the ALB. What of the viewer request
//! it holds is what the cache behaviour's policies forward (`policy.rs`), minus the headers
//! CloudFront always removes.

use axum::http::{HeaderMap, Method};
use base64::Engine;
use edge_persist_core::cloudfront::{
    Cf, CloudFrontEvent, Config, CustomOrigin, EventType, HeaderEntry, Headers, Origin, Record,
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

/// `User-Agent` for `user-agent`: the `key` of a header the viewer did not send (CloudFront's own).
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// A header as CloudFront puts it in the event: `key` in the viewer's letter case when the
/// viewer sent it (`case`), else the conventional one.
fn push(headers: &mut Headers, case: Option<&HeaderCase>, name: &str, value: &str) {
    let key = case
        .and_then(|c| c.get(name))
        .map_or_else(|| title_case(name), str::to_owned);
    headers
        .entry(name.to_owned())
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

/// The origin-request event for a viewer request.
pub fn origin_request_event(
    target: OriginTarget,
    policies: &Policies,
    viewer: &Viewer<'_>,
    request_id: &str,
) -> CloudFrontEvent {
    let mut headers = Headers::new();
    let value_of = |v: &axum::http::HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned();
    for (name, value) in viewer.headers {
        let name = name.as_str();
        if removed_at_the_edge(name) || SET_BY_CLOUDFRONT.contains(&name) {
            continue;
        }
        if BODY_HEADERS.contains(&name) || policies.forwards_header(name) {
            push(&mut headers, viewer.case, name, &value_of(value));
        }
    }
    let first = |name: &str| viewer.headers.get(name).map(value_of);
    let host = match first("host") {
        Some(h) if policies.forwards_header("host") => h,
        _ => "127.0.0.1".into(),
    };
    push(&mut headers, viewer.case, "host", &host);
    let agent = match first("user-agent") {
        Some(a) if policies.forwards_header("user-agent") => a,
        _ => CLOUDFRONT_USER_AGENT.into(),
    };
    push(&mut headers, viewer.case, "user-agent", &agent);
    let cookies = viewer
        .headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok());
    if let Some(kept) = policies.filter_cookies(cookies) {
        push(&mut headers, viewer.case, "cookie", &kept);
    }
    let client_ip = viewer.client_ip;
    let xff = match first("x-forwarded-for") {
        Some(f) => format!("{f}, {client_ip}"),
        None => client_ip.to_owned(),
    };
    push(&mut headers, viewer.case, "x-forwarded-for", &xff);
    // CloudFront adds itself to the viewer's `Via`, it does not replace it.
    let hop = format!("2.0 {}.cloudfront.net (CloudFront)", random_hex(16));
    let via = match first("via") {
        Some(v) => format!("{v}, {hop}"),
        None => hop,
    };
    push(&mut headers, viewer.case, "via", &via);
    let origin = CustomOrigin {
        custom_headers: Headers::new(),
        domain_name: "127.0.0.1".into(),
        keepalive_timeout: 5,
        path: String::new(),
        port: target.port,
        protocol: "http".into(),
        read_timeout: target.read_timeout_s,
        ssl_protocols: vec!["TLSv1.2".into()],
        extra: Default::default(),
    };
    let request = edge_persist_core::cloudfront::Request {
        client_ip: client_ip.to_owned(),
        headers,
        method: viewer.method.as_str().to_owned(),
        querystring: policies.filter_query(viewer.uri.query().unwrap_or("")),
        uri: viewer.uri.path().to_owned(),
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
    CloudFrontEvent {
        records: vec![Record {
            cf: Cf {
                config,
                request,
                response: None,
                extra: Default::default(),
            },
            extra: Default::default(),
        }],
        extra: Default::default(),
    }
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
