//! One environment's Runtime API driven directly, without a pool or a log stream: how a runtime
//! client is tested (or timed) against the stack's own server instead of a second one.

use std::time::Duration;

use axum::body::Bytes;
use tokio::sync::oneshot;

use super::{FunctionError, Invocation, Reply, RuntimeApi};

impl RuntimeApi {
    /// Start `cmd` as this API's runtime: `AWS_LAMBDA_RUNTIME_API` names this server, and the
    /// child leads a process group of its own, which owns the API (as an environment's does).
    pub fn spawn_runtime(
        &self,
        cmd: &mut std::process::Command,
    ) -> std::io::Result<std::process::Child> {
        use std::os::unix::process::CommandExt;
        let child = cmd
            .env("AWS_LAMBDA_RUNTIME_API", self.addr.to_string())
            .process_group(0)
            .spawn()?;
        self.set_owner(libc::pid_t::try_from(child.id()).unwrap_or_default());
        Ok(child)
    }

    /// Queue one invocation; what the runtime answers comes on the receiver (closed when the
    /// server is gone).
    pub fn invoke(
        &self,
        request_id: &str,
        payload: Bytes,
        timeout: Duration,
    ) -> oneshot::Receiver<Reply> {
        let (reply, answer) = oneshot::channel();
        let (dispatched, _) = oneshot::channel();
        // An unbounded queue: only a dropped server refuses, and the receiver then says so.
        let _ = self.inbox.send(Invocation {
            request_id: request_id.to_owned(),
            payload,
            timeout,
            trace_id: "Root=1-00000000-000000000000000000000000;Sampled=0".into(),
            dispatched,
            start_log: None,
            reply,
        });
        answer
    }

    /// The error the runtime posted to `/init/error`, once it has (`None` after `within`).
    pub async fn init_error_within(&self, within: Duration) -> Option<FunctionError> {
        let mut reported = self.init_error.clone();
        tokio::time::timeout(within, reported.wait_for(Option::is_some))
            .await
            .ok()?
            .ok()
            .and_then(|e| e.clone())
    }
}
