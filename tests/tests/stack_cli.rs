//! The `edge-stack` binary as a user runs it: `up`, `recycle`, `logs`, and no orphaned function
//! process after SIGTERM, SIGINT or even SIGKILL of the stack.

use std::process::Command;
use std::time::{Duration, Instant};

use edge_persist_tests::stack::{Running, bins, cli, client, fetch, run_dir, up_cli};

fn up(tag: &str) -> Running {
    let b = bins();
    let (edge, alb) = (
        b.edge_fn.display().to_string(),
        b.alb_fn.display().to_string(),
    );
    up_cli(
        tag,
        &["--edge-bin", &edge, "--alb-bin", &alb],
        Duration::from_secs(30),
    )
}

/// PIDs of the stack's function processes, from its control endpoint.
async fn function_pids(r: &Running) -> Vec<u32> {
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(r.dir.join(format!("stack-{}.json", r.port))).unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("state file: {e}"));
    let control = state["control"]
        .as_str()
        .unwrap_or_else(|| panic!("no control in {state}"));
    let token = state["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token in {state}"));
    let bearer = format!("Bearer {token}");
    let status = fetch(
        &client(),
        &format!("{control}/status"),
        &[("authorization", bearer.as_str())],
    )
    .await;
    let doc: serde_json::Value =
        serde_json::from_str(&status.body).unwrap_or_else(|e| panic!("{e}"));
    doc["functions"]
        .as_object()
        .into_iter()
        .flat_map(|f| f.values())
        .flat_map(|envs| envs.as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["pid"].as_u64())
        .map(|p| p as u32)
        .collect()
}

/// Gone, or a zombie nobody has reaped yet (it runs nothing).
fn dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

fn wait_dead(pids: &[u32], within: Duration) -> Vec<u32> {
    let deadline = Instant::now() + within;
    loop {
        let alive: Vec<u32> = pids.iter().copied().filter(|p| !dead(*p)).collect();
        if alive.is_empty() || Instant::now() > deadline {
            return alive;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill {sig} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_recycle_logs_and_sigterm_leave_no_orphans() {
    let mut r = up("cli");
    let c = client();
    let first = fetch(&c, &format!("{}/", r.url), &[]).await;
    let second = fetch(&c, &format!("{}/", r.url), &[]).await;
    assert_eq!(first.persisted(), second.persisted());

    let (ok, out, err) = cli(
        &r.dir,
        &["recycle", "--port", &r.port.to_string(), "edge-fn"],
    );
    assert!(ok, "recycle failed: {out} {err}");
    assert!(out.contains("\"edge-fn\":1"), "{out}");
    let third = fetch(&c, &format!("{}/", r.url), &[]).await;
    assert_ne!(third.persisted(), first.persisted(), "recycled");

    // One access-log line per request, with the persisted value and cold/warm.
    let mut printed = Vec::new();
    while printed.len() < 3 {
        let line = r
            .lines
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("no request line: {e}; got {printed:?}"));
        // Skip the banner: request lines start with the status code.
        if line
            .split(' ')
            .next()
            .is_some_and(|s| s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
        {
            printed.push(line);
        }
    }
    assert!(
        printed[0].starts_with("200 GET / Miss")
            && printed[0].contains(&first.persisted())
            && printed[0].contains(" cold "),
        "{printed:?}"
    );
    assert!(
        printed[1].contains(" warm ") && printed[2].contains(" cold "),
        "{printed:?}"
    );

    let (ok, out, _) = cli(&r.dir, &["logs", "alb-fn"]);
    assert!(ok);
    assert_eq!(
        out.lines()
            .filter(|l| l.contains("\"type\":\"platform.report\""))
            .count(),
        3,
        "{out}"
    );
    assert!(out.contains(&third.persisted()), "{out}");
    let (ok, _, err) = cli(&r.dir, &["logs", "nope"]);
    assert!(!ok && err.contains("no log group"), "{err}");

    let pids = function_pids(&r).await;
    assert_eq!(
        pids.len(),
        2,
        "one edge and one origin environment: {pids:?}"
    );
    signal(r.child.id(), "-TERM");
    let status = r
        .child
        .wait()
        .unwrap_or_else(|e| panic!("waiting for edge-stack: {e}"));
    assert!(
        status.success(),
        "edge-stack exits cleanly on SIGTERM: {status}"
    );
    assert_eq!(
        wait_dead(&pids, Duration::from_secs(2)),
        Vec::<u32>::new(),
        "function processes outlived the stack"
    );
    let (ok, _, err) = cli(&r.dir, &["recycle", "--port", &r.port.to_string()]);
    assert!(
        !ok && err.contains("no stack on port"),
        "the state file is gone: {err}"
    );
    let _ = std::fs::remove_dir_all(&r.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_and_even_sigkill_of_the_stack_leave_no_orphans() {
    for sig in ["-INT", "-KILL"] {
        let mut r = up("signals");
        let answer = fetch(&client(), &format!("{}/", r.url), &[]).await;
        assert_eq!(answer.status, 200);
        let pids = function_pids(&r).await;
        assert_eq!(pids.len(), 2, "{pids:?}");
        signal(r.child.id(), sig);
        let _ = r.child.wait();
        assert_eq!(
            wait_dead(&pids, Duration::from_secs(3)),
            Vec::<u32>::new(),
            "function processes outlived the stack after kill {sig}"
        );
        let _ = std::fs::remove_dir_all(&r.dir);
    }
}

#[test]
fn a_non_loopback_address_needs_an_explicit_flag() {
    let dir = run_dir("bind");
    let (ok, _, err) = cli(
        &dir,
        &[
            "up",
            "--bind",
            "0.0.0.0",
            "--port",
            "0",
            "--edge-bin",
            "/nonexistent",
            "--alb-bin",
            "/nonexistent",
        ],
    );
    assert!(!ok && err.contains("--allow-non-loopback"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
