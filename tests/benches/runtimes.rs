//! Benchmarks for docs/PERFORMANCE.md (## wasm) and docs/RUNTIMES.md, not tests: nothing here is
//! asserted. `cargo bench -p edge-persist-tests --bench runtimes` prints a Markdown report.
//!
//! - per invocation: the Node.js + wasm handler vs the article's plain-JS handler and the floor
//!   of a text boundary (wasm/bench/text-floor), one Node process, alternating rounds
//!   (wasm/bench/invoke.mjs); edge-fn's handler natively beside them.
//! - cold init: process start to the first handled event, each package under
//!   wasm/lambda-edge/runtime.mjs (native edge-fn as its own custom runtime) against the stack's
//!   own Runtime API server, interleaved runs.
//! - sizes of the shipped files.
//!
//! `EDGE_PERSIST_BENCH=native` runs only the native per-invocation rounds (no wasm build, Node.js
//! or workerd): what a change to core's warm path is measured with.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use edge_fn::{EdgeState, handle_at};
use edge_persist_core::Config;
use edge_persist_tests::http::{self, Response, Server};
use edge_persist_tests::workerd;
use edge_persist_tests::{fixture, fixtures_dir, init};
use edge_stack::runtime_api::{Reply, RuntimeApi};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use serde_json::value::RawValue;

const COLD_RUNS: usize = 11;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// ns per call of each handler directory, in the order given, then Lambda's Node.js runtime's own
/// work on the event (`JSON.parse` of it, `JSON.stringify` of the returned request).
fn node_invoke(dirs: &[&Path]) -> (Vec<Vec<f64>>, Vec<f64>) {
    let results =
        std::env::temp_dir().join(format!("edge-persist-invoke-{}.json", std::process::id()));
    // The wasm handler logs a line per invocation, as at Lambda: that cost is part of it.
    let status = Command::new("node")
        .arg(xtask::workspace_root().join("wasm/bench/invoke.mjs"))
        .arg(&results)
        .arg(fixtures_dir().join("cloudfront-origin-request.json"))
        .args(dirs)
        .stdout(Stdio::null())
        .status()
        .expect("node");
    assert!(status.success());
    let v: Value = serde_json::from_slice(&std::fs::read(&results).unwrap()).unwrap();
    let rounds = |key: &str| {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    (
        dirs.iter().map(|d| rounds(d.to_str().unwrap())).collect(),
        rounds("runtime-json"),
    )
}

/// edge-fn's handler as lambda_runtime calls it, from the event's text to the answer's text:
/// `text` parses the event straight into the typed event (what edge-fn does now), `value` goes
/// through a `serde_json::Value` first (what it did before). ns per call, rounds alternating.
fn native_invoke() -> (Vec<f64>, Vec<f64>) {
    let state = EdgeState::new(Config::default(), init("bench", Utc::now())).unwrap();
    let text = std::fs::read(fixtures_dir().join("cloudfront-origin-request.json")).unwrap();
    let text_path = |calls: u32| {
        let start = Instant::now();
        for _ in 0..calls {
            let e: Box<RawValue> = serde_json::from_slice(&text).unwrap();
            let req =
                handle_at(&state, LambdaEvent::new(e, Context::default()), Utc::now()).unwrap();
            std::hint::black_box(serde_json::to_vec(&req).unwrap());
        }
        start.elapsed().as_nanos() as f64 / f64::from(calls)
    };
    let value_path = |calls: u32| {
        let start = Instant::now();
        for _ in 0..calls {
            let e: Value = serde_json::from_slice(&text).unwrap();
            let req =
                handle_at(&state, LambdaEvent::new(e, Context::default()), Utc::now()).unwrap();
            std::hint::black_box(serde_json::to_vec(&req).unwrap());
        }
        start.elapsed().as_nanos() as f64 / f64::from(calls)
    };
    text_path(5000);
    value_path(5000);
    let (mut text_rounds, mut value_rounds) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        text_rounds.push(text_path(20000));
        value_rounds.push(value_path(20000));
    }
    (text_rounds, value_rounds)
}

/// Where the native call's time goes, each step alone (ns per call, median of 7 rounds): the
/// runtime's `Box<RawValue>`, the typed parse, the whole core call (parse, invocation, session,
/// headers), the answer's serialisation.
fn native_split() -> Vec<(&'static str, f64)> {
    let state = EdgeState::new(Config::default(), init("bench", Utc::now())).unwrap();
    let text = std::fs::read(fixtures_dir().join("cloudfront-origin-request.json")).unwrap();
    let text = std::str::from_utf8(&text).unwrap();
    let now = Utc::now();
    let answer = state.edge.handle_json(text, now).unwrap().request;
    let time = |f: &dyn Fn()| {
        let rounds = (0..7)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..20_000 {
                    f();
                }
                start.elapsed().as_nanos() as f64 / 20_000.0
            })
            .collect();
        median(rounds)
    };
    vec![
        (
            "serde_json::from_str::<Box<RawValue>> (the runtime's step)",
            time(&|| {
                std::hint::black_box(serde_json::from_str::<Box<RawValue>>(text).unwrap());
            }),
        ),
        (
            "serde_json::from_str::<CloudFrontEvent> (typed parse alone)",
            time(&|| {
                std::hint::black_box(
                    serde_json::from_str::<edge_persist_core::cloudfront::CloudFrontEvent>(text)
                        .unwrap(),
                );
            }),
        ),
        (
            "EdgeFunction::handle_json (parse, invocation, session, headers)",
            time(&|| {
                std::hint::black_box(state.edge.handle_json(text, now).unwrap());
            }),
        ),
        (
            "serde_json::to_vec of the answer",
            time(&|| {
                std::hint::black_box(serde_json::to_vec(&answer).unwrap());
            }),
        ),
    ]
}

/// Spawn to the first response posted to the Runtime API, in ms.
fn cold_start(runtime: &tokio::runtime::Runtime, mut cmd: Command) -> f64 {
    runtime.block_on(async {
        let api =
            RuntimeApi::start("arn:aws:lambda:us-east-1:123456789012:function:edge-fn:1".into())
                .await
                .unwrap();
        let event = serde_json::to_vec(&fixture("cloudfront-origin-request")).unwrap();
        let reply = api.invoke("cold", event.into(), Duration::from_secs(60));
        let start = Instant::now();
        let mut child = api
            .spawn_runtime(cmd.stdout(Stdio::null()).stderr(Stdio::null()))
            .unwrap();
        let outcome = tokio::time::timeout(Duration::from_secs(60), reply).await;
        let elapsed = start.elapsed().as_secs_f64() * 1000.0;
        let _ = child.kill();
        let _ = child.wait();
        assert!(matches!(outcome, Ok(Ok(Reply::Response(_)))), "{outcome:?}");
        elapsed
    })
}

fn node_runtime(task_root: &Path) -> Command {
    let mut cmd = Command::new("node");
    cmd.arg(xtask::workspace_root().join("wasm/lambda-edge/runtime.mjs"))
        .env("LAMBDA_TASK_ROOT", task_root)
        .env("_HANDLER", "index.handler");
    cmd
}

fn edge_fn_binary() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(xtask::workspace_root())
        .args([
            "build",
            "--quiet",
            "--release",
            "--package",
            "edge-fn",
            "--bin",
            "edge-fn",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    xtask::target_dir().join("release/edge-fn")
}

/// workerd: spawn -> first response through the worker, and per-request round trips through
/// the worker vs straight to the origin (the difference is the worker's share).
fn workerd_numbers() -> (Vec<f64>, f64, f64) {
    let origin = Server::start(|_| Response::new(200, "ok"));
    let mut cold = Vec::new();
    let mut through = Vec::new();
    for _ in 0..COLD_RUNS {
        let listen = workerd::free_addr();
        let dir = workerd::config_dir(listen, origin.addr);
        let start = Instant::now();
        let _w = workerd::start(&dir, listen);
        let res = http::send(listen, "GET", "/", &[], b"").unwrap();
        assert_eq!(res.status, 200);
        cold.push(start.elapsed().as_secs_f64() * 1000.0);
        if through.is_empty() {
            for _ in 0..50 {
                http::send(listen, "GET", "/", &[], b"").unwrap();
            }
            for _ in 0..7 {
                let t = Instant::now();
                for _ in 0..200 {
                    http::send(listen, "GET", "/", &[], b"").unwrap();
                }
                through.push(t.elapsed().as_secs_f64() * 1e6 / 200.0);
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    let direct: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..200 {
                http::send(origin.addr, "GET", "/", &[], b"").unwrap();
            }
            t.elapsed().as_secs_f64() * 1e6 / 200.0
        })
        .collect();
    (cold, median(through), median(direct))
}

fn main() {
    // `cargo test --all-targets` runs bench binaries too: measure only under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "runtimes: a benchmark report; run `cargo bench -p edge-persist-tests --bench runtimes`"
        );
        return;
    }
    if std::env::var("EDGE_PERSIST_BENCH").as_deref() == Ok("native") {
        let (native_rounds, value_rounds) = native_invoke();
        println!("\n| per invocation (median of 7 rounds x 20,000 calls) | ns/call |\n|---|---|");
        println!(
            "| native edge-fn handler, event text -> typed -> answer text (Rust, no runtime) | {:.0} |",
            median(native_rounds.clone())
        );
        println!(
            "| native, the same through a serde_json::Value (before) | {:.0} |",
            median(value_rounds.clone())
        );
        println!("\nrounds ns: native {native_rounds:.0?} value {value_rounds:.0?}");
        println!("\n| the native call, step by step | ns/call |\n|---|---|");
        for (step, ns) in native_split() {
            println!("| {step} | {ns:.0} |");
        }
        return;
    }
    let built = xtask::build(None).expect("build the wasm packages");
    let wasm_dir = built.lambda_edge.dir.clone();
    let plain_dir = xtask::workspace_root().join("wasm/bench/plain-js");
    let floor_dir = xtask::workspace_root().join("wasm/bench/text-floor");
    let native_bin = edge_fn_binary();
    let node_version = String::from_utf8(
        Command::new("node")
            .arg("--version")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();

    let (handlers, runtime_rounds) = node_invoke(&[&wasm_dir, &plain_dir, &floor_dir]);
    let [wasm_rounds, plain_rounds, floor_rounds] = <[Vec<f64>; 3]>::try_from(handlers).unwrap();
    let floor_ns = median(floor_rounds.clone());
    let (native_rounds, value_rounds) = native_invoke();
    let (wasm_ns, plain_ns, runtime_ns, native_ns, value_ns) = (
        median(wasm_rounds.clone()),
        median(plain_rounds.clone()),
        median(runtime_rounds.clone()),
        median(native_rounds.clone()),
        median(value_rounds.clone()),
    );

    let (mut cold_wasm, mut cold_plain, mut cold_native) = (Vec::new(), Vec::new(), Vec::new());
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    for _ in 0..COLD_RUNS {
        cold_wasm.push(cold_start(&runtime, node_runtime(&wasm_dir)));
        cold_plain.push(cold_start(&runtime, node_runtime(&plain_dir)));
        let mut native = Command::new(&native_bin);
        native
            .env("AWS_LAMBDA_FUNCTION_NAME", "edge-fn")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128");
        cold_native.push(cold_start(&runtime, native));
    }
    let (cw, cp, cn) = (
        median(cold_wasm.clone()),
        median(cold_plain.clone()),
        median(cold_native.clone()),
    );

    let (cold_workerd, through_us, direct_us) = workerd_numbers();
    let size = |p: PathBuf| p.metadata().map(|m| m.len()).unwrap_or(0);
    println!("node {}", node_version.trim());
    println!(
        "\n| per invocation (median of 7 rounds x 20,000 calls) | ns/call | vs the Node.js runtime's JSON work | vs plain JS |\n|---|---|---|---|"
    );
    println!(
        "| Node.js + wasm handler (dist/lambda-edge) | {wasm_ns:.0} | {:.2}x | {:.2}x |",
        wasm_ns / runtime_ns,
        wasm_ns / plain_ns
    );
    println!(
        "| Lambda's Node.js runtime: JSON.parse(event) + JSON.stringify(request) | {runtime_ns:.0} | 1.00x | {:.2}x |",
        runtime_ns / plain_ns
    );
    println!(
        "| plain-JS handler (article) | {plain_ns:.0} | {:.2}x | 1.00x |",
        plain_ns / runtime_ns
    );
    println!(
        "| the floor of a text boundary: stringify, copy into wasm, one log line (wasm/bench/text-floor) | {floor_ns:.0} | {:.2}x | {:.2}x |",
        floor_ns / runtime_ns,
        floor_ns / plain_ns
    );
    println!(
        "| native edge-fn handler, event text -> typed -> answer text (Rust, no runtime) | {native_ns:.0} | {:.2}x | {:.2}x |",
        native_ns / runtime_ns,
        native_ns / plain_ns
    );
    println!(
        "| native, the same through a serde_json::Value (before) | {value_ns:.0} | {:.2}x | {:.2}x |",
        value_ns / runtime_ns,
        value_ns / plain_ns
    );
    println!(
        "\nrounds ns: wasm {wasm_rounds:.0?} runtime-json {runtime_rounds:.0?} plain {plain_rounds:.0?} floor {floor_rounds:.0?} native {native_rounds:.0?} value {value_rounds:.0?}"
    );
    println!(
        "\n| cold init: spawn -> first response at the Runtime API (median of {COLD_RUNS}) | ms | vs plain JS |\n|---|---|---|"
    );
    println!(
        "| Node.js + wasm (runtime.mjs + dist/lambda-edge) | {cw:.1} | {:.2}x |",
        cw / cp
    );
    println!("| plain JS (runtime.mjs + wasm/bench/plain-js) | {cp:.1} | 1.00x |");
    println!(
        "| native edge-fn (release, its own runtime client) | {cn:.1} | {:.2}x |",
        cn / cp
    );
    println!("\nruns ms: wasm {cold_wasm:.1?} plain {cold_plain:.1?} native {cold_native:.1?}");
    println!(
        "\n| workerd | value |\n|---|---|\n| cold: spawn -> first proxied response (median of {COLD_RUNS}) | {:.1} ms |",
        median(cold_workerd.clone())
    );
    println!(
        "| request through the worker to a loopback origin (median of 7 x 200) | {through_us:.0} us |"
    );
    println!("| same request straight to the origin | {direct_us:.0} us |");
    println!("\nruns ms: workerd {cold_workerd:.1?}");
    println!("\n| size | bytes |\n|---|---|");
    println!(
        "| dist/lambda-edge/edge_persist_wasm_bg.wasm | {} |",
        built.lambda_edge.wasm_bytes
    );
    println!(
        "| dist/lambda-edge/index.mjs | {} |",
        built.lambda_edge.index_bytes
    );
    println!("| dist/lambda-edge.zip | {} |", built.lambda_edge.zip_bytes);
    println!("| target/release/edge-fn | {} |", size(native_bin));
}
