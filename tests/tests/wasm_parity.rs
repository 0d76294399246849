//! Parity: every CloudFront fixture through the shipped Node.js + wasm package gives what edge-fn
//! gives, checked against the same insta snapshots (`edge-<fixture>`) as tests/edge_handler.rs.

use edge_persist_tests::wasm::{describe, node, packages};
use edge_persist_tests::{fixtures, fixtures_dir, redact_edge};
use serde_json::{Value, json};

#[test]
fn every_cloudfront_fixture_matches_the_edge_fn_snapshot() {
    let built = packages();
    let stems: Vec<String> = fixtures("cloudfront-")
        .into_iter()
        .map(|(stem, _)| stem)
        .collect();
    let out = node()
        .arg(xtask::workspace_root().join("wasm/lambda-edge/test/run-fixtures.mjs"))
        .arg(&built.lambda_edge.dir)
        .args(
            stems
                .iter()
                .map(|s| fixtures_dir().join(format!("{s}.json"))),
        )
        .output()
        .expect("run node");
    assert!(out.status.success(), "{}", describe(&out));
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), stems.len(), "{}", describe(&out));
    for (stem, line) in stems.iter().zip(lines) {
        assert!(
            line["file"]
                .as_str()
                .unwrap()
                .ends_with(&format!("{stem}.json"))
        );
        // The shape tests/edge_handler.rs snapshots: the request, or Lambda's error object.
        let value = if line["ok"] == true {
            redact_edge(line["value"].clone())
        } else {
            json!({"errorType": line["errorType"], "errorMessage": line["errorMessage"]})
        };
        insta::with_settings!({prepend_module_to_snapshot => false}, {
            insta::assert_json_snapshot!(format!("edge-{stem}"), value);
        });
    }
}
