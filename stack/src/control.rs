//! Loopback control endpoint of a running stack: `GET /status`, `POST /recycle[?function=NAME]`.
//! `edge-stack recycle` and the tests use it; it is never bound to anything but 127.0.0.1.

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

pub fn router(pools: Vec<Arc<Pool>>) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/recycle", post(recycle))
        .with_state(Arc::new(pools))
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
