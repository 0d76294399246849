//! What a Lambda@Edge function may put in a returned request's `uri` and `querystring`
//! (docs/AWS-BEHAVIOUR.md): the `uri` must begin with `/`; beyond that CloudFront documents no
//! character set, so only RFC 3986 path (and query) characters and well-formed `%XX` escapes
//! pass. Nothing that could end the request line, start a fragment or change the host passes.

/// `unreserved / sub-delims / ":" / "@"` of RFC 3986 (a `pchar` without `pct-encoded`).
fn is_pchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b)
}

/// Every byte is `allowed` or starts a `%XX` escape.
fn well_formed(text: &str, allowed: impl Fn(u8) -> bool) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3);
            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
            i += 3;
        } else if allowed(b) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// A returned `uri`: `/` first, then path characters.
pub fn valid_uri(uri: &str) -> bool {
    uri.starts_with('/') && well_formed(uri, |b| is_pchar(b) || b == b'/')
}

/// A returned `querystring` (without `?`): query characters.
pub fn valid_querystring(query: &str) -> bool {
    well_formed(query, |b| is_pchar(b) || b == b'/' || b == b'?')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_start_with_a_slash_and_hold_path_characters() {
        for good in [
            "/",
            "/a/b.html",
            "/a/../b",
            "//host/x",
            "/%2e%2e/x",
            "/@x:1;a=b",
        ] {
            assert!(valid_uri(good), "{good:?}");
        }
        for bad in [
            "",
            "a",
            "@host/x",
            "http://h/x",
            "/a b",
            "/a\\b",
            "/a#f",
            "/a?q",
            "/%zz",
            "/%2",
            "/a\r\nX: y",
            "/é",
            "/a\"b",
        ] {
            assert!(!valid_uri(bad), "{bad:?}");
        }
    }

    #[test]
    fn querystrings_hold_query_characters() {
        assert!(valid_querystring(""));
        assert!(valid_querystring("a=1&b=%20/?x"));
        for bad in ["a b", "a#b", "a\nb", "%g0"] {
            assert!(!valid_querystring(bad), "{bad:?}");
        }
    }
}
