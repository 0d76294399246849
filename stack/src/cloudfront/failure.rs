//! CloudFront's result types (the access log's `x-edge-detailed-result-type`) and the error
//! page each failure renders, in one place (docs/AWS-BEHAVIOUR.md, "CloudFront's answers when a
//! Lambda@Edge function fails").

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// How CloudFront served one request: the word of its access log and of the stack's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultType {
    /// Went to the origin (TTL 0: every request does).
    Miss,
    /// The edge function answered itself.
    LambdaGeneratedResponse,
    /// What the function returned broke CloudFront's rules: 502.
    LambdaValidationError,
    /// The function failed (error, crash, init failure): 503.
    LambdaExecutionError,
    /// The function was throttled or ran past its timeout: 503.
    LambdaLimitExceeded,
    /// The origin could not be reached or broke off.
    OriginError,
    /// CloudFront refused the viewer request before any function ran (413).
    Error,
}

impl ResultType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Miss => "Miss",
            Self::LambdaGeneratedResponse => "LambdaGeneratedResponse",
            Self::LambdaValidationError => "LambdaValidationError",
            Self::LambdaExecutionError => "LambdaExecutionError",
            Self::LambdaLimitExceeded => "LambdaLimitExceeded",
            Self::OriginError => "OriginError",
            Self::Error => "Error",
        }
    }

    /// The `X-Cache` value: `<result type> from cloudfront`.
    pub fn x_cache(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::Miss => "Miss from cloudfront",
            Self::LambdaGeneratedResponse => "LambdaGeneratedResponse from cloudfront",
            Self::LambdaValidationError => "LambdaValidationError from cloudfront",
            Self::LambdaExecutionError => "LambdaExecutionError from cloudfront",
            Self::LambdaLimitExceeded => "LambdaLimitExceeded from cloudfront",
            Self::OriginError | Self::Error => "Error from cloudfront",
        })
    }
}

impl std::fmt::Display for ResultType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request CloudFront answers with its own error page. The page says only what kind of
/// failure it was (a fixed text per result type and status); the detail (a function's error
/// message, an environment id, a path) goes to the access log, never to the viewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub result: ResultType,
    pub status: StatusCode,
    /// For the operator: the access log's detail, never the page.
    pub detail: String,
}

impl Failure {
    fn new(result: ResultType, status: StatusCode, detail: impl std::fmt::Display) -> Self {
        Self {
            result,
            status,
            detail: detail.to_string(),
        }
    }

    pub fn validation(detail: impl std::fmt::Display) -> Self {
        Self::new(
            ResultType::LambdaValidationError,
            StatusCode::BAD_GATEWAY,
            detail,
        )
    }

    pub fn execution(detail: impl std::fmt::Display) -> Self {
        Self::new(
            ResultType::LambdaExecutionError,
            StatusCode::SERVICE_UNAVAILABLE,
            detail,
        )
    }

    /// Throttled, or past the function's timeout.
    pub fn limit_exceeded(detail: impl std::fmt::Display) -> Self {
        Self::new(
            ResultType::LambdaLimitExceeded,
            StatusCode::SERVICE_UNAVAILABLE,
            detail,
        )
    }

    pub fn origin(status: StatusCode, detail: impl std::fmt::Display) -> Self {
        Self::new(ResultType::OriginError, status, detail)
    }

    /// A viewer request over CloudFront's size limits: 413 before any function runs.
    pub fn too_large(detail: impl std::fmt::Display) -> Self {
        Self::client(StatusCode::PAYLOAD_TOO_LARGE, detail)
    }

    /// CloudFront refused the viewer's request itself (too large, too slow, too many bodies).
    pub fn client(status: StatusCode, detail: impl std::fmt::Display) -> Self {
        Self::new(ResultType::Error, status, detail)
    }

    /// The same failure, its detail naming the trigger whose function caused it.
    pub fn in_trigger(mut self, event: edge_persist_core::cloudfront::EventType) -> Self {
        self.detail = format!("{} function: {}", event.as_str(), self.detail);
        self
    }

    /// The viewer's text: fixed per result type and status.
    pub fn page_text(&self) -> &'static str {
        match (self.result, self.status) {
            (ResultType::LambdaValidationError, _) => {
                "The Lambda function result failed validation."
            }
            (ResultType::LambdaLimitExceeded, _) => {
                "The Lambda function associated with the CloudFront distribution was throttled or ran out of time."
            }
            (ResultType::LambdaExecutionError, _) => {
                "The Lambda function associated with the CloudFront distribution failed."
            }
            (ResultType::OriginError, StatusCode::GATEWAY_TIMEOUT) => {
                "CloudFront attempted to establish a connection with the origin, but either the attempt failed or the origin closed the connection."
            }
            (ResultType::OriginError, _) => "CloudFront wasn't able to connect to the origin.",
            (_, StatusCode::PAYLOAD_TOO_LARGE) => "Bad request: the request is too large.",
            (_, StatusCode::REQUEST_TIMEOUT) => "The request body did not arrive in time.",
            (_, StatusCode::SERVICE_UNAVAILABLE) => {
                "CloudFront is receiving too many request bodies at once."
            }
            _ => "The request could not be satisfied.",
        }
    }

    /// CloudFront's HTML error page, with `X-Cache` naming the result type.
    pub fn page(&self, request_id: &str) -> Response {
        let body = format!(
            "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" \"http://www.w3.org/TR/html4/loose.dtd\">\n\
             <HTML><HEAD><META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=iso-8859-1\">\n\
             <TITLE>ERROR: The request could not be satisfied</TITLE>\n</HEAD><BODY>\n\
             <H1>{} ERROR</H1>\n<H2>The request could not be satisfied.</H2>\n<HR noshade size=\"1px\">\n\
             {}\n<BR clear=\"all\">\n<HR noshade size=\"1px\">\n<PRE>\nGenerated by cloudfront (CloudFront)\nRequest ID: {request_id}\n</PRE>\n\
             <ADDRESS>\n</ADDRESS>\n</BODY></HTML>",
            self.status.as_u16(),
            html_escape(self.page_text())
        );
        let mut resp = (self.status, body).into_response();
        let h = resp.headers_mut();
        h.insert("content-type", HeaderValue::from_static("text/html"));
        h.insert("x-cache", self.result.x_cache());
        resp
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_names_its_result_in_x_cache() {
        for (f, word, status) in [
            (Failure::validation("x"), "LambdaValidationError", 502),
            (Failure::execution("x"), "LambdaExecutionError", 503),
            (Failure::limit_exceeded("x"), "LambdaLimitExceeded", 503),
            (Failure::too_large("x"), "Error", 413),
        ] {
            let page = f.page("id");
            assert_eq!(page.status().as_u16(), status);
            let x_cache = page.headers()["x-cache"].to_str().unwrap_or("").to_owned();
            assert!(x_cache.starts_with(word), "{x_cache}");
            assert_eq!(f.result.as_str(), word);
            assert_eq!(f.detail, "x");
        }
        // The detail never reaches the viewer's page.
        let secret = Failure::execution("panicked at /home/me/secret.rs env 0123abcd");
        let body = secret.page_text();
        assert!(
            !body.contains("secret") && !body.contains("0123abcd"),
            "{body}"
        );
        for f in [
            Failure::origin(StatusCode::GATEWAY_TIMEOUT, "x"),
            Failure::client(StatusCode::REQUEST_TIMEOUT, "x"),
        ] {
            assert!(!f.page_text().is_empty());
        }
    }
}
