//! CloudFront's header rules for Lambda@Edge (docs/AWS-BEHAVIOUR.md, "Headers at the edge").

use crate::cloudfront::{CompactString, EventType, Headers, Request};

/// Headers a Lambda@Edge function may not add or change: CloudFront answers 502.
pub const DISALLOWED: &[&str] = &[
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "trailer",
    "upgrade",
    "x-accel-buffering",
    "x-accel-charset",
    "x-accel-limit-rate",
    "x-accel-redirect",
    "x-amzn-auth",
    "x-amzn-cf-billing",
    "x-amzn-cf-id",
    "x-amzn-cf-xff",
    "x-amzn-errortype",
    "x-amzn-fle-profile",
    "x-amzn-header-count",
    "x-amzn-header-order",
    "x-amzn-lambda-integration-tag",
    "x-amzn-requestid",
    "x-cache",
    "x-forwarded-proto",
    "x-real-ip",
];

/// Disallowed name prefixes (`X-Amz-Cf-*`, `X-Edge-*`).
pub const DISALLOWED_PREFIXES: &[&str] = &["x-amz-cf-", "x-edge-"];

/// Read-only in origin-request events.
pub const READ_ONLY_ORIGIN_REQUEST: &[&str] = &[
    "accept-encoding",
    "content-length",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "transfer-encoding",
    "via",
];

/// Read-only in viewer-request events (CloudFront developer guide, "Read-only headers for
/// CloudFront viewer request events").
pub const READ_ONLY_VIEWER_REQUEST: &[&str] =
    &["content-length", "host", "transfer-encoding", "via"];

/// Read-only in origin-response events (CloudFront developer guide, "Read-only headers in origin
/// response events").
pub const READ_ONLY_ORIGIN_RESPONSE: &[&str] = &["transfer-encoding", "via"];

/// Read-only in viewer-response events (CloudFront developer guide, "Read-only headers in viewer
/// response events").
pub const READ_ONLY_VIEWER_RESPONSE: &[&str] = &["via", "warning"];

/// Whole request a request trigger may return, request line and headers (bytes).
pub const MAX_REQUEST_BYTES: usize = 20_480;
/// `uri` + `querystring` must stay below this many characters.
pub const MAX_URL_CHARS: usize = 8_192;
/// ALB: one request header.
pub const MAX_ALB_HEADER_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("header name {0:?} is not an RFC 9110 token")]
    InvalidName(String),
    #[error(
        "header {0:?} is disallowed at the edge (CloudFront answers 502 when a function adds it)"
    )]
    Disallowed(String),
    #[error("header {name:?} is read-only in {event} events")]
    ReadOnly { name: String, event: &'static str },
    #[error("value of header {0:?} holds CR, LF, NUL or another control character")]
    InvalidValue(String),
    #[error("header {name:?} is {len} bytes; one header may be at most {max}")]
    HeaderTooLarge {
        name: String,
        len: usize,
        max: usize,
    },
    #[error("request is {len} bytes; a Lambda@Edge request may be at most {max}")]
    RequestTooLarge { len: usize, max: usize },
    #[error("uri and querystring are {len} characters; they must stay below {max}")]
    UrlTooLong { len: usize, max: usize },
    #[error("header map key {0:?} is not the lowercase of its name")]
    KeyNotLowercase(String),
    #[error("header entry key {key:?} is filed under {map_key:?}, another name")]
    KeyMismatch { map_key: String, key: String },
    #[error(
        "the returned uri or querystring {0:?} is not a path starting with / (or a query) of URL characters"
    )]
    InvalidUri(String),
}

impl HeaderError {
    /// Stable identifier for error types in Lambda diagnostics and JS errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidName(_) => "InvalidHeaderName",
            Self::Disallowed(_) => "DisallowedHeader",
            Self::ReadOnly { .. } => "ReadOnlyHeader",
            Self::InvalidValue(_) => "InvalidHeaderValue",
            Self::HeaderTooLarge { .. } => "HeaderTooLarge",
            Self::RequestTooLarge { .. } => "RequestTooLarge",
            Self::UrlTooLong { .. } => "UrlTooLong",
            Self::KeyNotLowercase(_) => "HeaderKeyNotLowercase",
            Self::KeyMismatch { .. } => "HeaderKeyMismatch",
            Self::InvalidUri(_) => "InvalidUri",
        }
    }
}

/// Whether `name` (any case) is on the disallowed list or under a disallowed prefix.
pub fn is_disallowed(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    DISALLOWED.contains(&lower.as_str()) || DISALLOWED_PREFIXES.iter().any(|p| lower.starts_with(p))
}

/// The read-only headers of a trigger.
pub fn read_only_for(event: EventType) -> &'static [&'static str] {
    match event {
        EventType::OriginRequest => READ_ONLY_ORIGIN_REQUEST,
        EventType::ViewerRequest => READ_ONLY_VIEWER_REQUEST,
        EventType::OriginResponse => READ_ONLY_ORIGIN_RESPONSE,
        EventType::ViewerResponse => READ_ONLY_VIEWER_RESPONSE,
    }
}

/// The `key` Lambda@Edge inserts for a header a function returned without one: each
/// hyphen-separated part with an initial capital (`user-agent` -> `User-Agent`).
pub fn conventional_key(name: &str) -> CompactString {
    let mut key = CompactString::with_capacity(name.len());
    for (i, part) in name.split('-').enumerate() {
        if i > 0 {
            key.push('-');
        }
        let mut c = part.chars();
        if let Some(first) = c.next() {
            key.push(first.to_ascii_uppercase());
            key.push_str(c.as_str());
        }
    }
    key
}

/// Give every entry without a `key` the one Lambda@Edge inserts.
pub fn fill_keys(headers: &mut Headers) {
    for (name, entries) in headers.iter_mut() {
        for e in entries.iter_mut().filter(|e| e.key.is_none()) {
            e.key = Some(conventional_key(name));
        }
    }
}

/// Whether `name` is read-only in any request trigger.
pub fn is_read_only_anywhere(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    READ_ONLY_ORIGIN_REQUEST.contains(&lower.as_str())
        || READ_ONLY_VIEWER_REQUEST.contains(&lower.as_str())
}

/// Whether `name` is an RFC 9110 token (section 5.6.2: one or more `tchar`, the field-name
/// rule): letters, digits and ``!#$%&'*+-.^_`|~``. The workspace's one copy of the rule; the
/// `http` crate's `HeaderName` parser accepts the same bytes (the test below holds the two
/// together), but its table of standard names is 12 KB of the edge's `.wasm` for a yes or no.
/// (`http` also refuses names over 64 KiB; RFC 9110 sets no length, the size limits below do.)
pub fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// A header name must be an RFC 9110 token ([`is_token`]).
pub fn validate_name(name: &str) -> Result<(), HeaderError> {
    if !is_token(name) {
        return Err(HeaderError::InvalidName(name.to_owned()));
    }
    Ok(())
}

/// A field value: visible ASCII, spaces, tabs and obs-text; never CR, LF, NUL or other controls.
pub fn validate_value(name: &str, value: &str) -> Result<(), HeaderError> {
    // `http::HeaderValue::from_str`'s rule, checked in place: building the `HeaderValue` would
    // copy the value for every header of every request (the test below holds the two together).
    if !value
        .bytes()
        .all(|b| (b >= b' ' && b != 0x7f) || b == b'\t')
    {
        return Err(HeaderError::InvalidValue(name.to_owned()));
    }
    let len = name.len() + 2 + value.len();
    if len > MAX_ALB_HEADER_BYTES {
        return Err(HeaderError::HeaderTooLarge {
            name: name.to_owned(),
            len,
            max: MAX_ALB_HEADER_BYTES,
        });
    }
    Ok(())
}

/// A name a function may set in a request trigger: a token, not disallowed, not read-only in
/// any request trigger (the strict reading: one config serves both triggers).
pub fn validate_settable_name(name: &str) -> Result<(), HeaderError> {
    validate_name(name)?;
    if is_disallowed(name) {
        return Err(HeaderError::Disallowed(name.to_owned()));
    }
    if is_read_only_anywhere(name) {
        let event = if READ_ONLY_ORIGIN_REQUEST.contains(&name.to_ascii_lowercase().as_str()) {
            "origin-request"
        } else {
            "viewer-request"
        };
        return Err(HeaderError::ReadOnly {
            name: name.to_owned(),
            event,
        });
    }
    Ok(())
}

/// Size of the request as CloudFront counts it for the 20,480-byte limit: request line plus
/// header lines (`Name: value\r\n`). The body has its own limits.
pub fn request_size(req: &Request) -> usize {
    let line = req.method.len() + 1 + req.uri.len() + query_len(req) + " HTTP/1.1\r\n".len();
    line + headers_size(&req.headers)
}

fn query_len(req: &Request) -> usize {
    if req.querystring.is_empty() {
        0
    } else {
        1 + req.querystring.len()
    }
}

/// Bytes of the header lines of a header map.
pub fn headers_size(headers: &Headers) -> usize {
    headers
        .iter()
        .flat_map(|(name, entries)| {
            entries
                .iter()
                .map(move |e| e.key.as_deref().unwrap_or(name).len() + e.value.len() + 4)
        })
        .sum()
}

/// Size limits of a request a trigger returns.
pub fn check_request_limits(req: &Request) -> Result<(), HeaderError> {
    let url = req.uri.chars().count() + req.querystring.chars().count();
    if url >= MAX_URL_CHARS {
        return Err(HeaderError::UrlTooLong {
            len: url,
            max: MAX_URL_CHARS,
        });
    }
    let len = request_size(req);
    if len > MAX_REQUEST_BYTES {
        return Err(HeaderError::RequestTooLarge {
            len,
            max: MAX_REQUEST_BYTES,
        });
    }
    Ok(())
}

/// What CloudFront checks on the headers a trigger returns, given the ones it sent: every header
/// is well formed and filed under its lowercase name, no disallowed header was added or changed,
/// no read-only header of that trigger was added, changed or removed.
pub fn check_returned_headers(
    event: EventType,
    sent: &Headers,
    returned: &Headers,
) -> Result<(), HeaderError> {
    for (map_key, entries) in returned {
        if map_key.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(HeaderError::KeyNotLowercase(map_key.to_string()));
        }
        validate_name(map_key)?;
        for e in entries {
            if let Some(key) = &e.key
                && !key.eq_ignore_ascii_case(map_key)
            {
                return Err(HeaderError::KeyMismatch {
                    map_key: map_key.to_string(),
                    key: key.to_string(),
                });
            }
            validate_value(map_key, &e.value)?;
        }
    }
    let changed = |name: &str| values(sent, name) != values(returned, name);
    for name in sent.keys().chain(returned.keys()) {
        if is_disallowed(name) && changed(name) {
            return Err(HeaderError::Disallowed(name.to_string()));
        }
        if read_only_for(event).contains(&name.as_str()) && changed(name) {
            return Err(HeaderError::ReadOnly {
                name: name.to_string(),
                event: event.as_str(),
            });
        }
    }
    Ok(())
}

/// What CloudFront checks on the request a request trigger returns, given the one it sent: the
/// headers (`check_returned_headers`), the uri and querystring, and the size limits. The emulator
/// answers 502 on any error.
pub fn check_returned_request(
    event: EventType,
    sent: &Request,
    returned: &Request,
) -> Result<(), HeaderError> {
    check_returned_headers(event, &sent.headers, &returned.headers)?;
    // What the viewer sent passes as it is; what the function wrote must be a path (and query).
    if returned.uri != sent.uri && !crate::uri::valid_uri(&returned.uri) {
        return Err(HeaderError::InvalidUri(returned.uri.to_string()));
    }
    if returned.querystring != sent.querystring
        && !crate::uri::valid_querystring(&returned.querystring)
    {
        return Err(HeaderError::InvalidUri(returned.querystring.to_string()));
    }
    check_request_limits(returned)
}

fn values<'a>(headers: &'a Headers, name: &str) -> Vec<&'a str> {
    headers
        .get(name)
        .map(|v| v.iter().map(|e| e.value.as_str()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudfront::{HeaderEntry, smallvec};

    #[test]
    fn response_triggers_have_their_own_read_only_headers() {
        let sent: Headers = [("via".into(), smallvec![HeaderEntry::new("Via", "1.1 a")])].into();
        let mut returned = sent.clone();
        returned.insert(
            "warning".into(),
            smallvec![HeaderEntry::new("Warning", "199 x")],
        );
        assert!(check_returned_headers(EventType::OriginResponse, &sent, &returned).is_ok());
        assert!(matches!(
            check_returned_headers(EventType::ViewerResponse, &sent, &returned),
            Err(HeaderError::ReadOnly { .. })
        ));
        let mut removed = sent.clone();
        removed.remove("via");
        for event in [EventType::OriginResponse, EventType::ViewerResponse] {
            assert!(check_returned_headers(event, &sent, &removed).is_err());
        }
        let mut keyless = returned.clone();
        keyless.insert(
            "x-frame-options".into(),
            smallvec![HeaderEntry {
                key: None,
                value: "DENY".into(),
            }],
        );
        fill_keys(&mut keyless);
        assert_eq!(
            keyless["x-frame-options"][0].key.as_deref(),
            Some("X-Frame-Options")
        );
        assert_eq!(conventional_key("custom_header"), "Custom_header");
    }

    #[test]
    fn prefixes_and_case() {
        assert!(is_disallowed("X-Amz-Cf-Pop"));
        assert!(is_disallowed("x-edge-anything"));
        assert!(is_disallowed("Connection"));
        assert!(!is_disallowed("x-amzn-trace-id"));
        assert!(!is_disallowed("custom_header"));
    }

    #[test]
    fn names_must_be_tokens() {
        assert!(validate_name("custom_header").is_ok());
        for bad in ["", "a b", "a:b", "é", "a\r\nb", "(x)"] {
            assert_eq!(
                validate_name(bad),
                Err(HeaderError::InvalidName(bad.into())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn tokens_are_what_the_http_crate_parses() {
        // Every byte alone and inside a name, and a few characters beyond ASCII.
        let chars = (0..=0xff_u8)
            .map(char::from)
            .chain(['€', '\u{10ffff}'])
            .collect::<Vec<_>>();
        for c in chars {
            for name in [c.to_string(), format!("a{c}b"), format!("X-{c}")] {
                assert_eq!(
                    is_token(&name),
                    http::HeaderName::from_bytes(name.as_bytes()).is_ok(),
                    "{name:?}"
                );
            }
        }
        // Longer than the http crate's 64-byte scratch buffer, which it parses another way.
        let long = format!("X-{}", "Ab_9~".repeat(40));
        assert!(is_token(&long) && http::HeaderName::from_bytes(long.as_bytes()).is_ok());
        assert!(!is_token(&format!("{long} ")));
    }

    #[test]
    fn values_refuse_controls() {
        for bad in ["a\rb", "a\nb", "a\0b"] {
            assert!(
                matches!(validate_value("x", bad), Err(HeaderError::InvalidValue(_))),
                "{bad:?}"
            );
        }
        assert!(validate_value("x", "tab\tok").is_ok());
        // The same rule as the `http` crate's, for every ASCII byte and a few beyond.
        let chars = (0..=0x7f_u8)
            .map(char::from)
            .chain(['é', '\u{80}', '€', '\u{10ffff}']);
        for c in chars {
            let value = format!("a{c}b");
            assert_eq!(
                validate_value("x", &value).is_ok(),
                http::HeaderValue::from_str(&value).is_ok(),
                "{c:?}"
            );
        }
        let big = "v".repeat(MAX_ALB_HEADER_BYTES);
        assert!(matches!(
            validate_value("x", &big),
            Err(HeaderError::HeaderTooLarge { .. })
        ));
    }
}
