//! CloudFront's origin leg: the request a function returned, sent to the one origin (the local
//! ALB) with the path exactly as returned, and the origin's answer read back.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use super::{CloudFront, Failure, HOP_BY_HOP};

/// Largest origin response CloudFront's emulation reads (the ALB sends at most 1 MB of body).
const MAX_ORIGIN_BODY: usize = 16 * 1024 * 1024;
/// The origin leg's HTTP client (hyper's pooled client: it sends the path it is given as it is).
pub type OriginClient =
    hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, Body>;

/// A pooled client for the origin leg.
pub fn origin_client() -> OriginClient {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(5))
        .pool_timer(hyper_util::rt::TokioTimer::new())
        .build_http()
}

pub(super) async fn forward(
    cf: &CloudFront,
    req: &edge_persist_core::cloudfront::Request,
    body: Bytes,
    request_id: &str,
) -> Result<axum::http::Response<Bytes>, Failure> {
    let query = if req.querystring.is_empty() {
        String::new()
    } else {
        format!("?{}", req.querystring)
    };
    // The origin is always the local ALB, whatever the function wrote: the authority is ours, and
    // the path goes on the wire exactly as returned (checked to start with `/`).
    let target = format!("{}{query}", req.uri);
    let path = axum::http::uri::PathAndQuery::try_from(target.as_str())
        .map_err(|e| Failure::validation(format!("uri {target:?}: {e}")))?;
    let url = axum::http::Uri::builder()
        .scheme("http")
        .authority(cf.origin_authority.clone())
        .path_and_query(path)
        .build()
        .map_err(|e| Failure::validation(format!("uri {target:?}: {e}")))?;
    let method = Method::from_bytes(req.method.as_bytes())
        .map_err(|e| Failure::validation(e.to_string()))?;
    let mut out = HeaderMap::new();
    for (name, entries) in &req.headers {
        if matches!(name.as_str(), "host" | "content-length") || HOP_BY_HOP.contains(&name.as_str())
        {
            continue;
        }
        for e in entries {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&e.value),
            ) {
                out.append(n, v);
            }
        }
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        out.insert("x-amz-cf-id", v);
    }
    out.insert("host", cf.origin_host.clone());
    let origin_error = |status: StatusCode, detail: String| Failure::origin(status, detail);
    let mut request = axum::http::Request::new(Body::from(body));
    *request.method_mut() = method;
    *request.uri_mut() = url;
    *request.headers_mut() = out;
    let resp = match tokio::time::timeout(cf.read_timeout, cf.client.request(request)).await {
        Err(_) => {
            return Err(origin_error(
                StatusCode::GATEWAY_TIMEOUT,
                format!("origin read timeout ({:?})", cf.read_timeout),
            ));
        }
        Ok(Err(e)) => {
            return Err(origin_error(
                StatusCode::BAD_GATEWAY,
                format!("cannot reach the origin: {e}"),
            ));
        }
        Ok(Ok(resp)) => resp,
    };
    let status = resp.status();
    let mut headers = resp.headers().clone();
    for h in HOP_BY_HOP.iter().chain(&["content-length"]) {
        headers.remove(*h);
    }
    let bytes = axum::body::to_bytes(Body::new(resp.into_body()), MAX_ORIGIN_BODY)
        .await
        .map_err(|e| {
            origin_error(
                StatusCode::BAD_GATEWAY,
                format!("the origin response broke off: {e}"),
            )
        })?;
    let mut out = axum::http::Response::new(bytes);
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    Ok(out)
}
