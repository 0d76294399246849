//! The control endpoint answers only whoever can read the stack's state file; an environment's
//! Runtime API answers only the processes of that environment.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use edge_persist_tests::stack::{TestStack, bins, client, config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_endpoint_needs_the_token_of_the_state_file() {
    let b = bins();
    let stack = TestStack::start(config("owner", &b.fault_fn, &b.alb_fn)).await;
    let state_file = edge_stack::stack::state_file(&stack.run_dir, stack.stack.cloudfront.port());
    let mode = std::fs::metadata(&state_file)
        .unwrap_or_else(|e| panic!("{}: {e}", state_file.display()))
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "only the owner reads the token");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap_or_default())
            .unwrap_or_else(|e| panic!("state file: {e}"));
    assert_eq!(state["token"], stack.stack.control_token.as_str());

    let base = format!("http://{}", stack.stack.control);
    let c = client();
    for (name, auth) in [
        ("no token", None),
        ("wrong token", Some("Bearer 0000")),
        (
            "token without scheme",
            Some(stack.stack.control_token.as_str()),
        ),
    ] {
        for req in [
            c.get(format!("{base}/status")),
            c.post(format!("{base}/recycle")),
        ] {
            let req = match auth {
                Some(a) => req.header("authorization", a),
                None => req,
            };
            let resp = req.send().await.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(resp.status(), 401, "{name}");
        }
    }
    // Nothing was recycled by the refused calls; the owner's call works.
    assert_eq!(stack.get("/ok").await.status, 200);
    let before = stack.status().await;
    assert_eq!(
        before["functions"]["edge-fn"].as_array().map(Vec::len),
        Some(1)
    );
    let recycled = stack.recycle(Some("edge-fn")).await;
    assert_eq!(recycled["recycled"]["edge-fn"], 1, "{recycled}");
    stack.stop().await;
}

/// What the stack logs (its `tracing` warnings), kept for the test to read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(
            &self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_owned()
    }
}

/// `AWS_LAMBDA_RUNTIME_API` of a running process, read as any local process of the user can.
fn runtime_api_of(pid: u64) -> String {
    let environ = std::fs::read(format!("/proc/{pid}/environ"))
        .unwrap_or_else(|e| panic!("environ of {pid}: {e}"));
    environ
        .split(|b| *b == 0)
        .find_map(|var| var.strip_prefix(b"AWS_LAMBDA_RUNTIME_API="))
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_else(|| panic!("{pid} has no AWS_LAMBDA_RUNTIME_API"))
}

/// A foreign process (this test, in no environment's process group) long-polls
/// `/invocation/next` of a warm environment's Runtime API while the stack hands that environment
/// an invocation: the stranger is refused (403, no event), the refusal is logged once, and the
/// real runtime takes the invocation and answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_api_answers_only_its_own_environment() {
    let log = Captured::default();
    let writer = log.clone();
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();
    let b = bins();
    let (python, script) = edge_persist_tests::stack::raw_runtime();
    let mut config = config("owner-api", &b.fault_fn, &b.alb_fn);
    // The origin is the Python raw runtime: a new connection for each call, each to be let in.
    config.origin.program = python;
    config.origin.args = script;
    let stack = TestStack::start(config).await;
    assert_eq!(stack.get("/ok").await.status, 200, "both environments warm");
    let status = stack.status().await;
    for function in ["edge-fn", "alb-fn"] {
        let pid = status["functions"][function][0]["pid"]
            .as_u64()
            .unwrap_or_else(|| panic!("no {function} environment: {status}"));
        let api = runtime_api_of(pid);
        let stranger = tokio::task::spawn_blocking(move || {
            let mut conn =
                std::net::TcpStream::connect(&api).unwrap_or_else(|e| panic!("connect {api}: {e}"));
            let me = conn.local_addr().unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            write!(
                conn,
                "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {api}\r\n\r\n"
            )
            .unwrap();
            let mut answer = Vec::new();
            // Refused: the answer and the close. Let in, the long poll would wait for an event.
            let read = conn.read_to_end(&mut answer);
            (
                me,
                read.map(|_| String::from_utf8_lossy(&answer).into_owned()),
            )
        });
        // Let the stranger's connection be accepted first.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let answer = stack.get("/ok").await;
        assert_eq!(
            answer.status, 200,
            "{function}: the real runtime answered: {answer:?}"
        );
        let (me, read) = stranger.await.unwrap();
        let text = read.unwrap_or_else(|e| panic!("{function}: the stranger got no answer: {e}"));
        assert!(text.starts_with("HTTP/1.1 403 "), "{function}: {text}");
        assert!(
            !text
                .to_ascii_lowercase()
                .contains("lambda-runtime-aws-request-id"),
            "{function}: the stranger took an invocation: {text}"
        );
        let refusals: Vec<String> = log
            .text()
            .lines()
            .filter(|l| l.contains(&format!("refused the connection from {me}")))
            .map(str::to_owned)
            .collect();
        assert_eq!(refusals.len(), 1, "{function}: {}", log.text());
        assert!(
            refusals[0].contains("WARN") && refusals[0].contains("no process of the environment"),
            "{}",
            refusals[0]
        );
    }
    // The environments were not disturbed: still one each, and they keep serving.
    assert_eq!(stack.get("/ok").await.status, 200);
    let after = stack.status().await;
    for function in ["edge-fn", "alb-fn"] {
        assert_eq!(
            after["functions"][function].as_array().map(Vec::len),
            Some(1),
            "{after}"
        );
        assert_eq!(after["functions"][function][0]["invocations"], 4, "{after}");
    }
    stack.stop().await;
}
