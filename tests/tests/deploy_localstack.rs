//! infra/template.yaml in LocalStack, started with testcontainers: the ALB + Lambda part (and the
//! CloudFront part when the LocalStack tier has it) deployed from the `dist/` zips with the users'
//! commands, HTTP through the ALB endpoint LocalStack exposes, and the edge function invoked with
//! every CloudFront fixture against edge-fn's snapshots.
//!
//! Off by default: LocalStack's image needs an auth token, its ELBv2 and CloudFront are paid
//! features, and its Lambda runs functions in Docker. docs/DEPLOY.md, "The LocalStack route".
//! The parts that need no Docker are unit tests in `edge_persist_tests::localstack`.

use std::collections::HashMap;
use std::path::Path;

use edge_persist_tests::deploy::Aws;
use edge_persist_tests::localstack::{
    EDGE_PORT, alb_request, check_origin_answer, invocation_outcome, settings, template,
};
use edge_persist_tests::{fixtures, fixtures_dir, pytools};
use serde_json::Value;
use testcontainers::ImageExt;
use testcontainers::core::Mount;
use testcontainers::runners::AsyncRunner;
use testcontainers_modules::localstack::LocalStackPro;

const STACK: &str = "edge-persist";
const BUCKET: &str = "edge-persist-artifacts";

async fn get(url: &str, host: &str) -> (u16, HashMap<String, String>, String) {
    let client = reqwest::Client::new();
    let answer = client
        .get(url)
        .header("host", host)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url} (Host {host}): {e}"));
    let status = answer.status().as_u16();
    let headers = answer
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    (status, headers, answer.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Docker, LocalStack's image and a LocalStack auth token: \
            EDGE_PERSIST_LOCALSTACK=1 LOCALSTACK_AUTH_TOKEN=... \
            cargo test -p edge-persist-tests --test deploy_localstack -- --ignored"]
async fn template_in_localstack_serves_the_article() {
    let env: HashMap<String, String> = std::env::vars().collect();
    let settings =
        settings(&env, Path::new("/var/run/docker.sock")).unwrap_or_else(|e| panic!("{e}"));

    let edge_zip = edge_persist_tests::wasm::packages().lambda_edge.zip.clone();
    xtask::build_alb_fn(&xtask::dist_dir(), xtask::Arch::X86_64).expect("alb-fn zip");
    assert!(edge_zip.exists());

    // LocalStack's Lambda starts each function in a container of its own: it needs the engine.
    let container = LocalStackPro::new(settings.token.clone())
        .with_mount(Mount::bind_mount(
            "/var/run/docker.sock",
            "/var/run/docker.sock",
        ))
        .start()
        .await
        .unwrap_or_else(|e| panic!("starting LocalStack: {e}"));
    let port = container
        .get_host_port_ipv4(EDGE_PORT)
        .await
        .expect("LocalStack's port");
    let aws = Aws {
        bin: pytools::bin_dir().join("aws"),
        endpoint: format!("http://127.0.0.1:{port}"),
    };

    let work = std::env::temp_dir().join(format!("edge-persist-localstack-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let template_file = work.join("template.json");
    std::fs::write(
        &template_file,
        serde_json::to_string_pretty(&template(&settings)).unwrap(),
    )
    .unwrap();
    aws.run(&["s3", "mb", &format!("s3://{BUCKET}")]);
    aws.package_and_deploy(&template_file, BUCKET, STACK, &work);

    let stack =
        &aws.json(&["cloudformation", "describe-stacks", "--stack-name", STACK])["Stacks"][0];
    let output = |key: &str| -> String {
        stack["Outputs"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|o| o["OutputKey"] == key)
            .and_then(|o| o["OutputValue"].as_str())
            .unwrap_or_else(|| panic!("no output {key}: {stack}"))
            .to_owned()
    };

    // HTTP through the ALB: alb-fn answers, and sequential requests reuse its warm environment.
    let (url, host) = alb_request(&output("AlbUrl"), port, "/").unwrap();
    let mut origin_envs = Vec::new();
    for _ in 0..3 {
        let (status, headers, body) = get(&url, &host).await;
        origin_envs
            .push(check_origin_answer(status, &headers, &body).unwrap_or_else(|e| panic!("{e}")));
    }
    assert!(
        origin_envs.windows(2).all(|w| w[0] == w[1]),
        "{origin_envs:?}"
    );

    // The edge function (deployed version 1) with every CloudFront fixture, against the same
    // snapshots as edge-fn and the Node.js package.
    let edge = format!(
        "{}:1",
        output("EdgeFunctionVersionArn").rsplit_once(':').unwrap().0
    );
    for (stem, _) in fixtures("cloudfront-") {
        let out_file = work.join(format!("{stem}.out.json"));
        let result = aws.json(&[
            "lambda",
            "invoke",
            "--function-name",
            &edge,
            "--payload",
            &format!(
                "fileb://{}",
                fixtures_dir().join(format!("{stem}.json")).display()
            ),
            out_file.to_str().unwrap(),
        ]);
        let output: Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
        let value = invocation_outcome(&output, !result["FunctionError"].is_null());
        insta::with_settings!({prepend_module_to_snapshot => false}, {
            insta::assert_json_snapshot!(format!("edge-{stem}"), value);
        });
    }

    // Through CloudFront, where the tier has it: the article's experiment, one persisted value
    // across sequential requests.
    if settings.cloudfront {
        let dist = output("DistributionUrl").replacen("https://", "http://", 1);
        let (url, host) = alb_request(&dist, port, "/").unwrap();
        let mut values = Vec::new();
        for _ in 0..3 {
            let (status, headers, body) = get(&url, &host).await;
            assert_eq!(status, 200, "{body}");
            values.push(headers.get("x-persist-value").cloned().unwrap_or_default());
        }
        assert!(
            edge_persist_tests::is_rfc3339_millis_utc(&values[0]),
            "{values:?}"
        );
        assert!(values.windows(2).all(|w| w[0] == w[1]), "{values:?}");
    }
    let _ = std::fs::remove_dir_all(&work);
}
