//! wasm-bindgen exports of `edge-persist-core` for JavaScript edge hosts (Lambda@Edge's Node.js,
//! Cloudflare's workerd).
//!
//! The edge logic stays in core: [`Edge`] only turns JSON strings and `Date.now()` milliseconds
//! into core calls, and core errors into a stable kind + message. [`EdgeFunction`] is the thin
//! JS-facing wrapper, whose errors are JS `Error`s with `name` = that kind. State lives in this
//! wasm instance's memory: one instance is one execution environment.

mod edge;

pub use edge::{Edge, Failure, HostInit};

use wasm_bindgen::prelude::*;

/// One execution environment's edge function, held in the JS module scope by the wrapper.
#[wasm_bindgen]
pub struct EdgeFunction {
    inner: Edge,
}

#[wasm_bindgen]
impl EdgeFunction {
    /// `config_json`: a `Config` as JSON (`""` or `"{}"` for the defaults). `environment_id`
    /// and the 16-byte `session_secret`: random, made by the caller. `function_name` and
    /// `memory_mb`: Lambda's reserved variables, when known. `now_ms`: `Date.now()`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        config_json: &str,
        environment_id: &str,
        session_secret: &[u8],
        function_name: &str,
        memory_mb: Option<f64>,
        now_ms: f64,
    ) -> Result<EdgeFunction, JsValue> {
        let init = HostInit {
            config_json,
            environment_id,
            session_secret,
            function_name,
            memory_mb,
            now_ms,
        };
        Edge::new(init).map(|inner| Self { inner }).map_err(to_js)
    }

    /// Handle one CloudFront event (JSON). Returns lines: the header changes to apply to the
    /// event's request object, `{"removed": [key, ...], "set": {key: [entry, ...], ...}}` (delete
    /// the `removed` keys from `request.headers`, then set each `set` key); the invocation's log
    /// line; and, when one is due, an EMF line. Each is JSON and goes to stdout alone on its line.
    /// `request_id`: Lambda's `awsRequestId`, logged when given.
    pub fn handle(
        &self,
        event_json: &str,
        now_ms: f64,
        request_id: Option<String>,
    ) -> Result<String, JsValue> {
        self.inner
            .handle(event_json, now_ms, request_id.as_deref())
            .map_err(to_js)
    }

    /// Start a new generation (new id, cold again), e.g. after a snapshot restore.
    pub fn reset(&self, environment_id: &str, now_ms: f64) -> Result<(), JsValue> {
        self.inner.reset(environment_id, now_ms).map_err(to_js)
    }

    #[wasm_bindgen(getter, js_name = environmentId)]
    pub fn environment_id(&self) -> String {
        self.inner.environment().id()
    }

    /// Invocations handled by this generation (f64: a JS number, exact below 2^53).
    #[wasm_bindgen(getter)]
    pub fn invocations(&self) -> f64 {
        self.inner.environment().invocations() as f64
    }

    /// The persisted value, once the first invocation has set it.
    #[wasm_bindgen(getter)]
    pub fn persisted(&self) -> Option<String> {
        self.inner.environment().persisted()
    }

    /// The validated configuration in effect, as JSON.
    #[wasm_bindgen(js_name = configJson)]
    pub fn config_json(&self) -> String {
        self.inner.config_json()
    }
}

// `JsError` cannot set `name`; binding `Error` directly avoids pulling in js-sys for one setter.
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = Error)]
    type JsErrorObject;
    #[wasm_bindgen(constructor, js_class = "Error")]
    fn new(message: &str) -> JsErrorObject;
    #[wasm_bindgen(method, setter = name, js_class = "Error")]
    fn set_name(this: &JsErrorObject, name: &str);
}

fn to_js(failure: Failure) -> JsValue {
    let error = JsErrorObject::new(&failure.message);
    error.set_name(failure.kind);
    error.into()
}
