//! The origin-request event CloudFront sends for a viewer request (docs/AWS-BEHAVIOUR.md,
//! "The CloudFront request event"): config, clientIp, lowercase header map of `{key, value}`
//! lists, querystring, uri and a custom origin pointing at the ALB.

use axum::http::{HeaderMap, Method};
use base64::Engine;
use edge_persist_core::cloudfront::{
    Cf, CloudFrontEvent, Config, CustomOrigin, EventType, HeaderEntry, Headers, Origin, Record,
};

use super::HOP_BY_HOP;
use crate::environment::random_hex;

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

/// `User-Agent` for `user-agent`: the event's `key` keeps a letter case; hyper lowercases names
/// on arrival, so the conventional case is the closest to what the viewer sent.
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

fn push(headers: &mut Headers, name: &str, value: &str) {
    headers
        .entry(name.to_owned())
        .or_default()
        .push(HeaderEntry::new(title_case(name), value));
}

/// The origin-request event for a viewer request.
pub fn origin_request_event(
    target: OriginTarget,
    method: &Method,
    uri: &axum::http::Uri,
    viewer: &HeaderMap,
    client_ip: &str,
    request_id: &str,
) -> CloudFrontEvent {
    let mut headers = Headers::new();
    for (name, value) in viewer {
        let name = name.as_str();
        if HOP_BY_HOP.contains(&name) || name == "host" {
            continue;
        }
        push(
            &mut headers,
            name,
            &String::from_utf8_lossy(value.as_bytes()),
        );
    }
    push(&mut headers, "host", "127.0.0.1");
    let forwarded = headers
        .remove("x-forwarded-for")
        .and_then(|v| v.last().map(|e| e.value.clone()));
    let xff = forwarded.map_or_else(|| client_ip.to_owned(), |f| format!("{f}, {client_ip}"));
    push(&mut headers, "x-forwarded-for", &xff);
    headers.remove("via");
    push(
        &mut headers,
        "via",
        &format!("2.0 {}.cloudfront.net (CloudFront)", random_hex(16)),
    );
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
