//! The Lambda Runtime API ("Using the Lambda runtime API for custom runtimes") for one execution
//! environment.
//!
//! Each environment gets its own server: `AWS_LAMBDA_RUNTIME_API` is only `host:port`, so one
//! shared server could not tell which environment asks for the next invocation, and the pool, not
//! the environments, must decide who serves what.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};

/// Largest synchronous response payload Lambda accepts: "6 MB", which the error Lambda reports
/// spells out as 6,291,556 bytes (docs/AWS-BEHAVIOUR.md).
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;

/// What the invoker sees when a response is over [`MAX_RESPONSE_BYTES`] (docs/AWS-BEHAVIOUR.md).
pub fn response_too_large() -> FunctionError {
    FunctionError {
        error_type: "Function.ResponseSizeTooLarge".into(),
        error_message: format!(
            "Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
        ),
    }
}

/// One invocation handed to an environment.
#[derive(Debug)]
pub struct Invocation {
    pub request_id: String,
    pub payload: Bytes,
    pub timeout: Duration,
    pub trace_id: String,
    /// Told the instant `next` hands the invocation to the runtime (the Invoke phase starts).
    pub dispatched: oneshot::Sender<Instant>,
    /// START (after the end of Init, on a cold start), written before the runtime gets the
    /// event (see `LogStream::platform_now`).
    pub start_log: Option<StartLog>,
    pub reply: oneshot::Sender<Reply>,
}

/// The platform lines `next` writes before it hands out an invocation.
#[derive(Debug)]
pub struct StartLog {
    pub log: crate::logs::LogStream,
    pub format: crate::logs::LogFormat,
    pub start: String,
    /// On a cold start, when the environment was spawned: Init ends with this `next`.
    pub init_since: Option<Instant>,
}

/// What the runtime answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Response(Bytes),
    Error(FunctionError),
}

/// An error a function reported (`/error` or `/init/error`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionError {
    #[serde(default)]
    pub error_type: String,
    #[serde(default)]
    pub error_message: String,
}

/// The error shape the Runtime API answers with.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiError<'a> {
    error_message: String,
    error_type: &'a str,
}

fn api_error(status: StatusCode, error_type: &str, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(ApiError {
            error_message: message.into(),
            error_type,
        }),
    )
        .into_response()
}

fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        axum::Json(serde_json::json!({"status": "OK"})),
    )
        .into_response()
}

/// Shared state of one environment's API server.
struct ApiState {
    /// Freezes the environment while the runtime waits in `next` with nothing to do.
    freezer: Arc<crate::sandbox::Freezer>,
    /// `Lambda-Runtime-Invoked-Function-Arn`, checked once (`None`: not a header value).
    function_arn: Option<HeaderValue>,
    /// tokio's Mutex: the runtime's long-poll `next` holds it across the wait.
    inbox: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Reply>>>,
    /// Ids of the last invocations that were handed out and are over (answered, or given up on
    /// after a timeout): a late answer gets 410, an unknown id 400. Bounded: the oldest go.
    finished: Mutex<std::collections::VecDeque<String>>,
    /// Set by the first `next`: init is over.
    init_done: watch::Sender<Option<Instant>>,
    init_error: watch::Sender<Option<FunctionError>>,
}

/// Handles the environment keeps on its API server.
pub struct RuntimeApi {
    pub addr: SocketAddr,
    pub inbox: mpsc::UnboundedSender<Invocation>,
    pub init_done: watch::Receiver<Option<Instant>>,
    pub init_error: watch::Receiver<Option<FunctionError>>,
    /// Whose connections are served ([`owner`]).
    owner: owner::Owner,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    /// Bind 127.0.0.1:0 and serve until dropped, only to the processes of the group named by
    /// [`Self::set_owner`] (connections wait for it).
    pub async fn start(function_arn: String) -> std::io::Result<Self> {
        Self::start_freezing(function_arn, Arc::default()).await
    }

    /// [`Self::start`], telling `freezer` when the runtime waits in `next` (an environment's
    /// API; a freezer that was never armed signals nothing).
    pub async fn start_freezing(
        function_arn: String,
        freezer: Arc<crate::sandbox::Freezer>,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let owner = owner::Owner::default();
        let guard = owner.guard(function_arn.clone());
        let state = ApiState::new(function_arn, rx, freezer);
        let (init_done, init_error) = (state.init_done.subscribe(), state.init_error.subscribe());
        let server = crate::serve::serve_admitting(
            listener,
            router(Arc::new(state)),
            crate::serve::ListenerLimits::RUNTIME_API,
            Some(guard),
        );
        Ok(Self {
            addr,
            inbox: tx,
            init_done,
            init_error,
            owner,
            server,
        })
    }

    /// Serve the processes of process group `pgid` (the environment's child leads it).
    pub fn set_owner(&self, pgid: i32) {
        self.owner.set(pgid);
    }
}

/// The API's routes over a state of their own that no environment feeds (`next` answers at
/// once that the environment is shutting down): the request handlers alone, for fuzzing.
pub fn unfed_router(function_arn: String) -> Router {
    let (_, rx) = mpsc::unbounded_channel();
    router(Arc::new(ApiState::new(function_arn, rx, Arc::default())))
}

impl ApiState {
    fn new(
        function_arn: String,
        inbox: mpsc::UnboundedReceiver<Invocation>,
        freezer: Arc<crate::sandbox::Freezer>,
    ) -> Self {
        Self {
            freezer,
            function_arn: HeaderValue::try_from(function_arn).ok(),
            inbox: tokio::sync::Mutex::new(inbox),
            pending: Mutex::new(HashMap::new()),
            finished: Mutex::new(std::collections::VecDeque::new()),
            init_done: watch::channel(None).0,
            init_error: watch::channel(None).0,
        }
    }
}

fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            // The body is read by the handler with its own limit, to fail the invocation.
            post(response).layer(DefaultBodyLimit::disable()),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .fallback(unknown_route)
        .method_not_allowed_fallback(unknown_route)
        // One byte over the limit is enough to answer 413 instead of storing huge bodies.
        .layer(DefaultBodyLimit::max(MAX_RESPONSE_BYTES + 1))
        .with_state(state)
}

async fn unknown_route(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        "InvalidRoute",
        format!("no Runtime API route for {method} {uri}"),
    )
}

async fn next(State(state): State<Arc<ApiState>>) -> Response {
    state.init_done.send_if_modified(|done| {
        let first = done.is_none();
        if first {
            *done = Some(Instant::now());
        }
        first
    });
    let invocation = {
        // The runtime is done with what it had: the environment may be frozen until an
        // invocation comes (or the runtime hangs up).
        let _waiting = state.freezer.runtime_waits();
        let mut inbox = state.inbox.lock().await;
        inbox.recv().await
    };
    let Some(mut inv) = invocation else {
        return api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Runtime.Shutdown",
            "the environment is shutting down",
        );
    };
    if let Some(start) = inv.start_log.take() {
        let init = start.init_since.map(|since| {
            start
                .format
                .init_end(since.elapsed(), &crate::logs::InitStatus::Success)
        });
        for line in init.into_iter().flatten().chain([start.start]) {
            start.log.platform_now(&line);
        }
    }
    let deadline = chrono::Utc::now() + inv.timeout;
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    set("lambda-runtime-aws-request-id", &inv.request_id);
    set(
        "lambda-runtime-deadline-ms",
        &deadline.timestamp_millis().to_string(),
    );
    set("lambda-runtime-trace-id", &inv.trace_id);
    if let Some(arn) = &state.function_arn {
        headers.insert("lambda-runtime-invoked-function-arn", arn.clone());
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    state
        .pending
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(inv.request_id.clone(), inv.reply);
    // The waiting side may be gone (the stack is stopping); the runtime still gets its event.
    let _ = inv.dispatched.send(Instant::now());
    (StatusCode::OK, headers, inv.payload).into_response()
}

/// The reply channel of a pending invocation, which is over from now on; or the answer for an id
/// that is not pending: 410 for a finished invocation (the runtime answered late, or twice), 400
/// for an id never handed out.
fn take_pending(state: &ApiState, id: &str) -> Result<oneshot::Sender<Reply>, Box<Response>> {
    let taken = state
        .pending
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(id);
    let mut finished = state
        .finished
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let mut finish = |id: &str| {
        if finished.len() >= FINISHED_KEPT {
            finished.pop_front();
        }
        finished.push_back(id.to_owned());
    };
    match taken {
        // A sender whose receiver is gone: the environment gave up on the invocation (timeout).
        Some(reply) if !reply.is_closed() => {
            finish(id);
            Ok(reply)
        }
        Some(_) => {
            finish(id);
            Err(Box::new(late(id)))
        }
        None if finished.iter().any(|f| f == id) => Err(Box::new(late(id))),
        None => Err(Box::new(api_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            format!("no pending invocation {id}"),
        ))),
    }
}

/// How many finished invocation ids an environment remembers for the 410 answer.
const FINISHED_KEPT: usize = 256;

fn late(id: &str) -> Response {
    api_error(
        StatusCode::GONE,
        "InvocationFinished",
        format!("invocation {id} is already over"),
    )
}

/// Run a handler's work to its end even when the runtime hangs up before it is answered (it
/// posted its answer and exited): hyper drops the handler's future with the connection. Work that
/// is done at its first poll (the usual case: the answer's body came with its head) cannot be
/// dropped half-way, and is not handed to another task.
async fn detached(work: impl Future<Output = Response> + Send + 'static) -> Response {
    let mut work = Box::pin(work);
    let first = {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        work.as_mut().poll(&mut cx)
    };
    if let std::task::Poll::Ready(done) = first {
        return done;
    }
    tokio::spawn(work).await.unwrap_or_else(|e| {
        api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Runtime.Unknown",
            format!("handler failed: {e}"),
        )
    })
}

async fn response(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    body: axum::body::Body,
) -> Response {
    detached(take_response(state, id, body)).await
}

async fn take_response(state: Arc<ApiState>, id: String, body: axum::body::Body) -> Response {
    // Never more than one byte over the limit is held.
    let body = axum::body::to_bytes(body, MAX_RESPONSE_BYTES).await;
    let reply = match take_pending(&state, &id) {
        Ok(reply) => reply,
        Err(answer) => return *answer,
    };
    match body {
        Ok(body) => {
            let _ = reply.send(Reply::Response(body));
            accepted()
        }
        // Too large (or broken off): the invocation fails now, with Lambda's error, instead of
        // waiting for its timeout; the runtime is told as Lambda tells it.
        Err(_) => {
            let _ = reply.send(Reply::Error(response_too_large()));
            api_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
            )
        }
    }
}

/// An error report: any body is accepted. The type is the body's `errorType` when the body is an
/// ErrorRequest that names one (the payload Lambda returns carries it), else the
/// `Lambda-Runtime-Function-Error-Type` header (runtimes send a category such as `unhandled`
/// there), else `Unhandled`; the message is the body's `errorMessage`, else the body as text.
fn parse_error(headers: &HeaderMap, body: &[u8]) -> FunctionError {
    let parsed: Option<FunctionError> = serde_json::from_slice(body).ok();
    let header = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty());
    let error_type = parsed
        .as_ref()
        .map(|e| e.error_type.clone())
        .filter(|t| !t.is_empty())
        .or_else(|| header.map(str::to_owned))
        .unwrap_or_else(|| "Unhandled".to_owned());
    let error_message = match parsed {
        Some(e) => e.error_message,
        None => String::from_utf8_lossy(body).into_owned(),
    };
    FunctionError {
        error_type,
        error_message,
    }
}

async fn error(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    detached(async move { take_error(&state, &id, &headers, &body) }).await
}

fn take_error(state: &ApiState, id: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    // Lambda takes any body here: the error type comes from the body or the header.
    let err = parse_error(headers, body);
    let reply = match take_pending(state, id) {
        Ok(reply) => reply,
        Err(answer) => return *answer,
    };
    let _ = reply.send(Reply::Error(err));
    accepted()
}

async fn init_error(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let err = parse_error(&headers, &body);
    state.init_error.send_replace(Some(err));
    accepted()
}

mod direct;
pub mod owner;
#[cfg(test)]
mod tests;
