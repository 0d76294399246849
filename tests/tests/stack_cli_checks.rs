//! `edge-stack up` refuses, before it builds or starts anything, values with which every request
//! would fail, and says why.

use edge_persist_tests::stack::{bins, cli, run_dir};

#[test]
fn values_that_fail_every_request_are_refused_at_start() {
    let b = bins();
    let dir = run_dir("cli-checks");
    let edge = b.edge_fn.to_string_lossy().into_owned();
    let alb = b.alb_fn.to_string_lossy().into_owned();
    for (args, says) in [
        (&["--concurrency", "0"][..], "--concurrency 0"),
        (
            &["--per-environment-concurrency", "0"],
            "--per-environment-concurrency",
        ),
        (
            &["--memory", "0"],
            "--memory 0 MB: Lambda takes 128 to 10240 MB",
        ),
        (&["--memory", "10241"], "--memory 10241"),
        (&["--edge-timeout", "0s"], "--edge-timeout"),
        (&["--edge-timeout", "31s"], "at most 30s"),
        (&["--alb-timeout", "0s"], "--alb-timeout"),
        (&["--alb-timeout", "901s"], "at most 15m"),
        (&["--persisted-header", "x-cache"], "CloudFront refuses it"),
        (&["--persisted-header", "bad name"], "CloudFront refuses it"),
        (&["--persisted-header", "via"], "CloudFront refuses it"),
    ] {
        let mut all = vec!["up", "--port", "0", "--edge-bin", &edge, "--alb-bin", &alb];
        all.extend_from_slice(args);
        let (ok, _, stderr) = cli(&dir, &all);
        assert!(!ok, "{args:?} started");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    assert!(!dir.join("logs").exists(), "nothing was started or written");
    let _ = std::fs::remove_dir_all(&dir);
}
