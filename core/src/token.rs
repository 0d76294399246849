//! Finding a session token in a request: a cookie (name configurable) or a header.
//!
//! Only well-formed tokens are used; a missing or malformed one means "no session", never an
//! error page. Cookie parsing is by hand because the cookie crates parse `Set-Cookie` semantics
//! and allocate; reading one name out of `Cookie` headers is a split and a compare.

/// Shortest and longest token accepted (alb-fn issues 32 hex digits).
pub const MIN_TOKEN_LEN: usize = 16;
pub const MAX_TOKEN_LEN: usize = 128;

/// 16 to 128 characters of `[A-Za-z0-9_-]`: what session ids look like, and nothing a log or a
/// header could be confused by.
pub fn is_well_formed(token: &str) -> bool {
    (MIN_TOKEN_LEN..=MAX_TOKEN_LEN).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The value of cookie `name` in a list of `Cookie` header values, if present and well formed.
/// When the cookie appears several times the first well-formed one wins.
pub fn from_cookies<'a>(
    cookie_headers: impl IntoIterator<Item = &'a str>,
    name: &str,
) -> Option<&'a str> {
    cookie_headers
        .into_iter()
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
        .find(|v| is_well_formed(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies() {
        let id = "0123456789abcdef0123456789abcdef";
        let header = format!("a=1; edge_session={id}; b=2");
        assert_eq!(from_cookies([header.as_str()], "edge_session"), Some(id));
        assert_eq!(from_cookies(["edge_session=short"], "edge_session"), None);
        assert_eq!(
            from_cookies(["edge_session=has space in it...."], "edge_session"),
            None
        );
        assert_eq!(
            from_cookies(["x=1", "edge_session=\"0123456789abcdef\""], "edge_session"),
            Some("0123456789abcdef")
        );
        assert_eq!(
            from_cookies(["Edge_Session=0123456789abcdef"], "edge_session"),
            None,
            "names are case-sensitive"
        );
        assert_eq!(from_cookies(["edge_session"], "edge_session"), None);
    }

    #[test]
    fn well_formed() {
        assert!(is_well_formed(&"a".repeat(128)));
        assert!(!is_well_formed(&"a".repeat(129)));
        assert!(!is_well_formed("abc\r\ndefghijklmnop"));
        assert!(!is_well_formed("ééééééééééééééééé"));
    }
}
