//! The Lambda@Edge upload: dist/lambda-edge.zip holds exactly index.mjs and the .wasm, stays inside
//! the viewer-trigger budget, and runs with nothing else beside it.

use std::fs::File;

use edge_persist_tests::fixtures_dir;
use edge_persist_tests::wasm::{describe, node, packages};
use serde_json::Value;

#[test]
fn zip_holds_exactly_the_handler_and_the_wasm_within_budget() {
    let le = &packages().lambda_edge;
    assert!(
        le.zip_bytes <= xtask::ZIP_BUDGET_BYTES,
        "{} bytes",
        le.zip_bytes
    );
    let mut archive = zip::ZipArchive::new(File::open(&le.zip).unwrap()).unwrap();
    let mut names: Vec<String> = archive.file_names().map(str::to_owned).collect();
    names.sort();
    assert_eq!(names, ["edge_persist_wasm_bg.wasm", "index.mjs"]);
    for i in 0..archive.len() {
        let file = archive.by_index(i).unwrap();
        assert_eq!(
            file.unix_mode().map(|m| m & 0o777),
            Some(0o644),
            "{}: Lambda must be able to read it",
            file.name()
        );
    }
}

#[test]
fn the_unzipped_package_alone_handles_an_event() {
    let le = &packages().lambda_edge;
    let dir = std::env::temp_dir().join(format!("edge-persist-unzipped-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    zip::ZipArchive::new(File::open(&le.zip).unwrap())
        .unwrap()
        .extract(&dir)
        .unwrap();
    // Nothing from the repository is reachable: only the two unzipped files, as at Lambda.
    let script = r#"
        const { handler } = await import(process.argv[1] + '/index.mjs');
        const event = JSON.parse(require('node:fs').readFileSync(process.argv[2], 'utf8'));
        console.log(JSON.stringify(await handler(event, { awsRequestId: 'zip' })));
    "#
    .replace("require('node:fs')", "(await import('node:fs'))");
    let out = node()
        .current_dir(&dir)
        .args(["--input-type=module", "-e", &script])
        .arg(&dir)
        .arg(fixtures_dir().join("cloudfront-origin-request.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    // stdout: the handler's own JSON log lines (invocation, an EMF line when due), then the
    // request this script prints.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["message"] == "invocation"),
        "{stdout}"
    );
    let request = lines.last().unwrap();
    assert_eq!(request["headers"]["x-persist-start"][0]["value"], "cold");
    assert!(edge_persist_tests::is_rfc3339_millis_utc(
        request["headers"]["custom_header"][0]["value"]
            .as_str()
            .unwrap()
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("edge-persist-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_build_compiles_the_config_in_and_refuses_a_bad_one() {
    let dir = temp_dir("config");
    let config = dir.join("edge-config.json");
    std::fs::write(
        &config,
        r#"{"persisted_header": "X-Persisted-At", "environment_headers": false}"#,
    )
    .unwrap();
    let built = xtask::build_into(&dir.join("dist"), Some(&config)).expect("build with a config");
    let out = node()
        .arg(xtask::workspace_root().join("wasm/lambda-edge/test/run-fixtures.mjs"))
        .arg(&built.lambda_edge.dir)
        .arg(fixtures_dir().join("cloudfront-origin-request.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    let headers = line["value"]["headers"].as_object().unwrap();
    assert_eq!(headers["x-persisted-at"][0]["key"], "X-Persisted-At");
    assert!(
        !headers.contains_key("custom_header") && !headers.contains_key("x-persist-env-id"),
        "{headers:?}"
    );

    std::fs::write(&config, r#"{"persisted_header": "X-Edge-Location"}"#).unwrap();
    let err =
        xtask::build_into(&dir.join("bad"), Some(&config)).expect_err("a disallowed header name");
    assert!(err.to_string().contains("disallowed at the edge"), "{err}");
    assert!(
        !dir.join("bad").exists(),
        "nothing is built from a bad config"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
