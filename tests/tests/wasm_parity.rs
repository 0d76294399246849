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

/// Malformed and oversized events: the Node package must fail exactly as edge-fn fails (same
/// `errorType`, same `errorMessage`), and accept exactly what edge-fn accepts.
#[test]
fn malformed_events_fail_with_edge_fns_error_type_and_message() {
    use chrono::Utc;
    use edge_fn::{EdgeState, handle_at};
    use edge_persist_core::Config;
    use edge_persist_tests::{fixture, init};
    use lambda_runtime::{Context, Diagnostic, LambdaEvent};

    let base = fixture("cloudfront-origin-request");
    let mut oversized = base.clone();
    oversized["Records"][0]["cf"]["request"]["headers"]["x-big"] =
        json!([{"key": "X-Big", "value": "v".repeat(20_400)}]);
    let mut long_url = base;
    long_url["Records"][0]["cf"]["request"]["uri"] = json!(format!("/{}", "a".repeat(8_200)));
    let mut cases = edge_persist_tests::malformed_cloudfront_events();
    cases.extend([oversized, long_url, fixture("cloudfront-viewer-response")]);

    let dir = std::env::temp_dir().join(format!("edge-persist-parity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files: Vec<_> = cases
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let path = dir.join(format!("case-{i}.json"));
            std::fs::write(&path, case.to_string()).unwrap();
            path
        })
        .collect();
    let out = node()
        .arg(xtask::workspace_root().join("wasm/lambda-edge/test/run-fixtures.mjs"))
        .arg(&packages().lambda_edge.dir)
        .args(&files)
        .output()
        .expect("run node");
    assert!(out.status.success(), "{}", describe(&out));
    let node_results: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(node_results.len(), cases.len(), "{}", describe(&out));

    for (case, from_node) in cases.into_iter().zip(node_results) {
        let state = EdgeState::new(Config::default(), init(&"0".repeat(32), Utc::now())).unwrap();
        // The text, as the runtime hands it to edge-fn (and as Node's JSON.stringify gives it
        // to the wasm): a parse error names the same line and column in both.
        let text = serde_json::value::RawValue::from_string(case.to_string()).unwrap();
        let native = handle_at(
            &state,
            LambdaEvent::new(text, Context::default()),
            Utc::now(),
        )
        .map_err(Diagnostic::from);
        let Err(native) = native else {
            panic!("edge-fn accepted {case}")
        };
        assert_eq!(
            from_node["ok"], false,
            "node accepted what edge-fn refused: {case}"
        );
        assert_eq!(from_node["errorType"], native.error_type.as_str(), "{case}");
        let node_message = from_node["errorMessage"].as_str().unwrap_or_default();
        if native.error_type == "RequestTooLarge" {
            // The size counts `x-persist-env-age-ms`, whose digits depend on how long each
            // environment has lived: the same words and limit, the size may differ by a digit.
            let words = |m: &str| m.replace(|c: char| c.is_ascii_digit(), "");
            let limit = |m: &str| m.rsplit(' ').next().unwrap_or_default().to_owned();
            assert_eq!(words(node_message), words(&native.error_message), "{case}");
            assert_eq!(limit(node_message), limit(&native.error_message), "{case}");
        } else {
            assert_eq!(node_message, native.error_message.as_str(), "{case}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
