//! A loopback Lambda Runtime API (`/2018-06-01/runtime/...`) that serves queued events and
//! records what the function posts back: enough to run a real runtime client against.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::http::{Response, Server};

/// What the function posted for one invocation (or for its init).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Response {
        request_id: String,
        body: Value,
    },
    Error {
        request_id: String,
        error_type: String,
        body: Value,
    },
    InitError {
        error_type: String,
        body: Value,
    },
}

#[derive(Default)]
struct Queue {
    events: Mutex<VecDeque<(String, Value)>>,
    ready: Condvar,
}

pub struct RuntimeApi {
    pub addr: SocketAddr,
    queue: Arc<Queue>,
    outcomes: Receiver<Outcome>,
}

impl RuntimeApi {
    pub fn start() -> Self {
        let queue = Arc::new(Queue::default());
        let (tx, outcomes) = mpsc::channel::<Outcome>();
        let tx: Mutex<Sender<Outcome>> = Mutex::new(tx);
        let q = Arc::clone(&queue);
        let server = Server::start(move |req| {
            let path = req
                .path
                .strip_prefix("/2018-06-01/runtime")
                .unwrap_or(&req.path)
                .to_owned();
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            let error_type = req
                .header("lambda-runtime-function-error-type")
                .unwrap_or_default()
                .to_owned();
            let send = |o: Outcome| {
                // The receiver is gone only after the test finished: nothing left to tell.
                let _ = tx.lock().unwrap().send(o);
                Response::new(202, r#"{"status":"OK"}"#)
            };
            match (req.method.as_str(), path.as_str()) {
                ("GET", "/invocation/next") => {
                    // Long poll, as Lambda does: the client waits here until there is an event.
                    let mut events = q.events.lock().unwrap();
                    let (id, event) = loop {
                        match events.pop_front() {
                            Some(next) => break next,
                            None => events = q.ready.wait(events).unwrap(),
                        }
                    };
                    let deadline = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_millis()
                        + 5000;
                    Response::new(200, event.to_string())
                        .header("lambda-runtime-aws-request-id", &id)
                        .header("lambda-runtime-deadline-ms", &deadline.to_string())
                        .header(
                            "lambda-runtime-invoked-function-arn",
                            "arn:aws:lambda:us-east-1:123456789012:function:edge-fn:1",
                        )
                        .header("content-type", "application/json")
                }
                ("POST", "/init/error") => send(Outcome::InitError { error_type, body }),
                ("POST", p) => match p
                    .strip_prefix("/invocation/")
                    .and_then(|p| p.split_once('/'))
                {
                    Some((id, "response")) => send(Outcome::Response {
                        request_id: id.into(),
                        body,
                    }),
                    Some((id, "error")) => send(Outcome::Error {
                        request_id: id.into(),
                        error_type,
                        body,
                    }),
                    _ => Response::new(404, ""),
                },
                _ => Response::new(404, ""),
            }
        });
        Self {
            addr: server.addr,
            queue,
            outcomes,
        }
    }

    /// Queue one invocation.
    pub fn invoke(&self, request_id: &str, event: Value) {
        self.queue
            .events
            .lock()
            .unwrap()
            .push_back((request_id.to_owned(), event));
        self.queue.ready.notify_all();
    }

    /// The next thing the function posted, or `None` after `timeout`.
    pub fn next_outcome(&self, timeout: Duration) -> Option<Outcome> {
        self.outcomes.recv_timeout(timeout).ok()
    }
}
