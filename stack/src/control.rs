//! Loopback control endpoint of a running stack: `GET /status`, `POST /recycle[?function=NAME]`.
//! `edge-stack recycle` and the tests use it; it is never bound to anything but 127.0.0.1.
//!
//! Every request must carry `Authorization: Bearer <token>`, the per-run secret the stack writes
//! to its state file (mode 0600): another local user, or a web page a browser on this machine
//! opens (it can send requests to loopback ports, but cannot read the file), gets 401.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::pool::Pool;

pub fn router(pools: Vec<Arc<Pool>>, token: String) -> Router {
    let expected = Arc::new(format!("Bearer {token}"));
    Router::new()
        .route("/status", get(status))
        .route("/recycle", post(recycle))
        .with_state(Arc::new(pools))
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let expected = Arc::clone(&expected);
                async move {
                    let given = req
                        .headers()
                        .get(axum::http::header::AUTHORIZATION)
                        .map(|v| v.as_bytes());
                    if given.is_some_and(|g| constant_time_eq(g, expected.as_bytes())) {
                        next.run(req).await
                    } else {
                        (
                            StatusCode::UNAUTHORIZED,
                            Json(json!({ "error": "the control endpoint needs the token of the stack's state file" })),
                        )
                            .into_response()
                    }
                }
            },
        ))
}

/// Equality whose time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn status(State(pools): State<Arc<Vec<Arc<Pool>>>>) -> Response {
    let map: BTreeMap<_, _> = pools
        .iter()
        .map(|p| (p.name().to_owned(), p.status()))
        .collect();
    Json(json!({ "functions": map })).into_response()
}

#[derive(Debug, Deserialize)]
struct RecycleQuery {
    function: Option<String>,
}

async fn recycle(
    State(pools): State<Arc<Vec<Arc<Pool>>>>,
    Query(q): Query<RecycleQuery>,
) -> Response {
    let chosen: Vec<_> = pools
        .iter()
        .filter(|p| q.function.as_deref().is_none_or(|f| f == p.name()))
        .collect();
    if chosen.is_empty() {
        let names: Vec<_> = pools.iter().map(|p| p.name().to_owned()).collect();
        let msg = format!(
            "no function {:?}; functions: {}",
            q.function.unwrap_or_default(),
            names.join(", ")
        );
        return (StatusCode::NOT_FOUND, Json(json!({ "error": msg }))).into_response();
    }
    let recycled: BTreeMap<_, _> = chosen
        .iter()
        .map(|p| (p.name().to_owned(), p.recycle()))
        .collect();
    Json(json!({ "recycled": recycled })).into_response()
}
