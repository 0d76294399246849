//! The ALB target event for one request (docs/AWS-BEHAVIOUR.md, "Application Load Balancer with
//! a Lambda target"): headers as ALB forwards them, the body encoding rule, the trace header.

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use base64::Engine;
use serde_json::{Value, json};

use super::Alb;
use crate::environment::random_hex;

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

#[cfg(test)]
mod tests {
    use super::*;

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
