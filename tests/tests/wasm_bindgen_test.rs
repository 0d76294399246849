//! The exported API under `wasm-bindgen-test` in Node.js: `wasm/tests/exports.rs`, compiled for
//! wasm32 and run by `wasm-bindgen-test-runner` (installed once per machine, pinned).

use std::process::Command;

use edge_persist_tests::wasm::{node, wasm_bindgen_test_runner};

#[test]
fn exported_api_passes_wasm_bindgen_test_in_node() {
    // The runner runs the tests in Node: fail with the install hint when it is missing.
    drop(node());
    xtask::ensure_toolchain().unwrap_or_else(|e| panic!("installing the wasm32 target: {e}"));
    let runner = wasm_bindgen_test_runner();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(xtask::workspace_root())
        .args([
            "test",
            "-p",
            "edge-persist-wasm",
            "--target",
            "wasm32-unknown-unknown",
            "--test",
            "exports",
        ])
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", &runner)
        .output()
        .unwrap_or_else(|e| panic!("running cargo test for wasm32: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("test result: ok. 3 passed"),
        "expected the 3 exported-API tests to run:\n{text}"
    );
}
