//! The same wasm as a Cloudflare module worker in the real `workerd` (npm, pinned), on loopback:
//! it adds core's headers to the request it proxies to an origin, and this test records whether
//! module state persists across requests (it does, within one isolate) and what resets it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use edge_persist_tests::http::{self, Request, Response, Server};
use edge_persist_tests::workerd::{config_dir, free_addr, start};

fn value<'a>(req: &'a Request, name: &str) -> &'a str {
    req.header(name)
        .unwrap_or_else(|| panic!("origin got no {name}: {:?}", req.headers))
}

#[test]
fn worker_adds_the_headers_and_module_state_persists_within_an_isolate() {
    let seen: Arc<Mutex<Vec<Request>>> = Arc::default();
    let record = Arc::clone(&seen);
    let origin = Server::start(move |req| {
        record.lock().unwrap().push(req);
        Response::new(200, "from origin").header("content-type", "text/plain")
    });
    let listen = free_addr();
    let dir = config_dir(listen, origin.addr);

    let workerd = start(&dir, listen);
    for i in 0..3 {
        let res = http::send(
            listen,
            "GET",
            &format!("/hello?n={i}"),
            &[("custom_header", "spoofed-by-client")],
            b"",
        )
        .unwrap();
        assert_eq!(
            (res.status, res.body_text().as_str()),
            (200, "from origin"),
            "{res:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(workerd);

    // A new workerd process is a new isolate: everything in module scope starts over.
    let _workerd = start(&dir, listen);
    let res = http::send(listen, "GET", "/again", &[], b"").unwrap();
    assert_eq!(res.status, 200, "{res:?}");

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 4);
    let first = &seen[0];
    for (i, req) in seen[..3].iter().enumerate() {
        assert_eq!(req.path, format!("/hello?n={i}"));
        assert_eq!(
            req.headers["custom_header"].len(),
            1,
            "the client's copy is replaced, not added to"
        );
        assert_ne!(value(req, "custom_header"), "spoofed-by-client");
        assert_eq!(
            value(req, "custom_header"),
            value(first, "custom_header"),
            "persisted value kept"
        );
        assert_eq!(
            value(req, "x-persist-env-id"),
            value(first, "x-persist-env-id"),
            "same isolate"
        );
        assert_eq!(value(req, "x-persist-invocation"), (i + 1).to_string());
        assert_eq!(
            value(req, "x-persist-start"),
            if i == 0 { "cold" } else { "warm" }
        );
    }
    assert!(edge_persist_tests::is_rfc3339_millis_utc(value(
        first,
        "custom_header"
    )));
    let restarted = &seen[3];
    assert_ne!(
        value(restarted, "x-persist-env-id"),
        value(first, "x-persist-env-id")
    );
    assert_ne!(
        value(restarted, "custom_header"),
        value(first, "custom_header")
    );
    assert_eq!(
        (
            value(restarted, "x-persist-invocation"),
            value(restarted, "x-persist-start")
        ),
        ("1", "cold")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The session store (per-session state under a memory budget) works in workerd too: per-cookie counters in the isolate's memory.
#[test]
fn sessions_are_counted_per_cookie_within_an_isolate() {
    let seen: Arc<Mutex<Vec<Request>>> = Arc::default();
    let record = Arc::clone(&seen);
    let origin = Server::start(move |req| {
        record.lock().unwrap().push(req);
        Response::new(200, "from origin")
    });
    let listen = free_addr();
    let dir = config_dir(listen, origin.addr);
    let _workerd = start(&dir, listen);
    let alice = "edge_session=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let bob = "edge_session=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    for cookie in [alice, alice, bob, alice, "edge_session=bad"] {
        let res = http::send(listen, "GET", "/", &[("cookie", cookie)], b"").unwrap();
        assert_eq!(res.status, 200, "{res:?}");
    }
    let seen = seen.lock().unwrap();
    let sessions: Vec<(Option<&str>, Option<&str>)> = seen
        .iter()
        .map(|r| {
            (
                r.header("x-persist-session"),
                r.header("x-persist-session-hits"),
            )
        })
        .collect();
    assert_eq!(
        sessions,
        [
            (Some("new"), Some("1")),
            (Some("known"), Some("2")),
            (Some("new"), Some("1")),
            (Some("known"), Some("3")),
            (None, None),
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
