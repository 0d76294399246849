//! The Node.js side: the exported wasm API and the Lambda@Edge wrapper, tested with `node --test`
//! (wasm/lambda-edge/test/*.test.mjs) against what `cargo xtask` builds.

use edge_persist_tests::fixtures_dir;
use edge_persist_tests::wasm::{describe, js_test_file, node, packages};

/// `# pass N` / `# fail N` from node's test runner summary.
fn count(stdout: &str, key: &str) -> Option<u32> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("# {key} "))?.trim().parse().ok())
}

fn node_test(file: &str, expected_tests: u32) {
    let built = packages();
    let out = node()
        .args(["--test", "--test-reporter=tap"])
        .arg(js_test_file(file))
        .env("EDGE_PACKAGE_DIR", &built.lambda_edge.dir)
        .env("WASM_PKG_DIR", xtask::pkg_dir())
        .env("FIXTURES_DIR", fixtures_dir())
        .output()
        .expect("run node --test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{file}: {}", describe(&out));
    // A file that silently stopped registering tests would still exit 0: count them.
    assert_eq!(count(&stdout, "fail"), Some(0), "{}", describe(&out));
    assert_eq!(
        count(&stdout, "pass"),
        Some(expected_tests),
        "{}",
        describe(&out)
    );
}

#[test]
fn exported_api_in_node() {
    node_test("api.test.mjs", 9);
}

#[test]
fn lambda_edge_handler_in_node() {
    node_test("handler.test.mjs", 7);
}
