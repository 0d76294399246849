//! CloudFront's custom error responses (the distribution's `CustomErrorResponses`): when the
//! origin answers, or CloudFront assumes, an error status that one of them names with a page
//! path, CloudFront fetches that path from the origin and answers the viewer with the page and
//! the configured response code (docs/AWS-BEHAVIOUR.md, "Custom error responses"). The error
//! caching TTL is kept but has no effect: the stack caches nothing.

use axum::body::Bytes;
use axum::http::StatusCode;

use super::{Answer, CloudFront, Failure, RequestRecord, ResultType};

/// One entry of the distribution's `CustomErrorResponses`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomErrorResponse {
    /// The status (from the origin, or CloudFront's assumed 502/504) this entry is for.
    pub error_code: u16,
    /// The status the viewer gets with the page; the original status when absent.
    pub response_code: Option<u16>,
    /// The page CloudFront requests from the origin in the error's place.
    pub response_page_path: Option<String>,
    /// How long CloudFront caches the error: read, not applied (nothing is cached).
    pub error_caching_min_ttl: Option<u64>,
}

/// The entry that replaces an answer with status `status`: one with a page path. An entry
/// without one only sets the error caching TTL, which changes nothing here.
pub(super) fn replacing(
    responses: &[CustomErrorResponse],
    status: StatusCode,
) -> Option<&CustomErrorResponse> {
    responses
        .iter()
        .find(|r| r.error_code == status.as_u16() && r.response_page_path.is_some())
}

/// The status the viewer gets with the page: the configured response code, or the original.
fn viewer_status(entry: &CustomErrorResponse, original: StatusCode) -> StatusCode {
    entry
        .response_code
        .and_then(|c| StatusCode::from_u16(c).ok())
        .unwrap_or(original)
}

/// The custom error page for an error `status` of `request`, or `None` when no entry replaces
/// it. CloudFront requests the page path from the origin with a GET (no function runs for it);
/// a page the origin serves (2xx) goes to the viewer with the entry's response code, anything
/// else the origin answers for the page goes to the viewer as it is, with the page's status.
pub(super) async fn page(
    cf: &CloudFront,
    request: &edge_persist_core::cloudfront::Request,
    request_id: &str,
    status: StatusCode,
    record: &mut RequestRecord,
) -> Option<Result<Answer, Failure>> {
    let entry = replacing(&cf.error_responses, status)?;
    let path = entry.response_page_path.as_deref()?;
    // The access log keeps the result type of the origin's answer: an error.
    record.result = ResultType::Error;
    let mut page_request = request.clone();
    page_request.method = "GET".into();
    page_request.uri = path.into();
    page_request.querystring.clear();
    page_request.body = None;
    page_request.headers.remove("content-type");
    let fetched = super::fetch(cf, &page_request, Bytes::new(), request_id).await;
    Some(fetched.map(|mut page| {
        if page.status.is_success() {
            page.status = viewer_status(entry, status);
            page.description = page.status.canonical_reason().map(str::to_owned);
        }
        page
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(code: u16, response: Option<u16>, path: Option<&str>) -> CustomErrorResponse {
        CustomErrorResponse {
            error_code: code,
            response_code: response,
            response_page_path: path.map(str::to_owned),
            error_caching_min_ttl: None,
        }
    }

    #[test]
    fn only_an_entry_with_a_page_for_the_status_replaces_it() {
        let list = [
            entry(404, None, None),
            entry(500, Some(200), Some("/oops.html")),
        ];
        assert_eq!(replacing(&list, StatusCode::NOT_FOUND), None);
        assert_eq!(replacing(&list, StatusCode::BAD_GATEWAY), None);
        assert_eq!(
            replacing(&list, StatusCode::INTERNAL_SERVER_ERROR),
            Some(&list[1])
        );
    }

    #[test]
    fn the_viewer_gets_the_response_code_or_the_original_status() {
        let with = entry(500, Some(200), Some("/p"));
        let without = entry(503, None, Some("/p"));
        assert_eq!(
            viewer_status(&with, StatusCode::INTERNAL_SERVER_ERROR),
            StatusCode::OK
        );
        assert_eq!(
            viewer_status(&without, StatusCode::SERVICE_UNAVAILABLE),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
