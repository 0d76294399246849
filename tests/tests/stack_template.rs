//! `edge-stack up --template`: the deployment template run as the local twin, through the real
//! CLI and the real packages (`dist/lambda-edge.zip` on the Node.js launcher, `dist/alb-fn.zip`'s
//! `bootstrap`): what the template says shows in behaviour, parameters and flags change it, and a
//! template the stack cannot run starts nothing.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use edge_persist_tests::stack::{
    Running, bins, cli, client, fetch, read_logs, run_dir, up_cli, what_the_origin_received,
};

/// A template run builds the packages with `cargo xtask` first (minutes on a cold machine).
const READY: Duration = Duration::from_secs(900);
const EDGE_GROUP: &str = "/aws/lambda/us-east-1.edge-fn";
const ORIGIN_GROUP: &str = "/aws/lambda/alb-fn";
/// A session token alb-fn accepts (16-128 of `[A-Za-z0-9_-]`).
const TOKEN: &str = "0123456789abcdef0123";

fn project_template() -> PathBuf {
    edge_stack::binaries::workspace_root().join("infra/template.yaml")
}

/// The project's template with `edits` applied, written to a fresh directory; its code paths
/// point at the project's `dist/` (so the packages are still built on demand).
fn template_with(tag: &str, edits: &[(&str, &str)]) -> (PathBuf, PathBuf) {
    let dist = edge_stack::binaries::workspace_root().join("dist");
    let mut text = std::fs::read_to_string(project_template()).unwrap_or_else(|e| panic!("{e}"));
    for (from, to) in [
        ("../dist/lambda-edge.zip", dist.join("lambda-edge.zip")),
        ("../dist/alb-fn.zip", dist.join("alb-fn.zip")),
    ] {
        text = text.replace(from, &to.display().to_string());
    }
    for (from, to) in edits {
        assert!(text.contains(from), "the template has no {from:?}");
        text = text.replacen(from, to, 1);
    }
    let dir = run_dir(tag);
    let path = dir.join("template.yaml");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    (dir, path)
}

/// The test-only fault-fn as a `provided.al2023` code directory (a `bootstrap`) under `dir`:
/// the template's origin `Code` line to replace, and the directory to put in its place.
fn fault_fn_origin(dir: &Path) -> (String, PathBuf) {
    let code = dir.join("origin-code");
    std::fs::create_dir_all(&code).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(&bins().fault_fn, code.join("bootstrap")).unwrap_or_else(|e| panic!("{e}"));
    let alb_zip = edge_stack::binaries::workspace_root().join("dist/alb-fn.zip");
    (format!("Code: {}", alb_zip.display()), code)
}

/// Lines of a log group that contain `needle`, waiting up to 5 s for one (the writer task
/// writes REPORT after the answer).
fn log_lines(r: &Running, group: &str, needle: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let lines: Vec<String> = read_logs(&r.dir.join("logs"), group)
            .into_iter()
            .flat_map(|(_, text)| text.lines().map(str::to_owned).collect::<Vec<_>>())
            .filter(|l| l.contains(needle))
            .collect();
        if !lines.is_empty() || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_projects_template_runs_as_it_deploys() {
    // No --template: the project's own, as the README's first command runs it.
    let r = up_cli("template-project", &[], READY);
    let c = client();
    let first = fetch(&c, &format!("{}/", r.url), &[]).await;
    assert_eq!(first.status, 200, "{first:?}");
    let value = first.persisted();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let again = fetch(&c, &format!("{}/", r.url), &[]).await;
        assert_eq!(again.status, 200);
        assert_eq!(
            again.persisted(),
            value,
            "the warm edge environment keeps its value"
        );
    }
    // The template's origin request policy forwards the session cookie and no other: with a
    // valid `edge_session` alb-fn sees a session and issues none.
    let cookie = format!("theme=dark; edge_session={TOKEN}");
    let with = fetch(&c, &format!("{}/", r.url), &[("cookie", &cookie)]).await;
    assert_eq!(with.header("set-cookie"), None, "{with:?}");
    assert!(
        first
            .header("set-cookie")
            .is_some_and(|s| s.starts_with("edge_session="))
    );
    // Memory from the template in REPORT; the edge function has no LoggingConfig (Lambda's
    // Text), the origin's says JSON.
    let edge_reports = log_lines(&r, EDGE_GROUP, "REPORT RequestId:");
    assert!(!edge_reports.is_empty(), "no text REPORT in the edge's log");
    assert!(
        edge_reports
            .iter()
            .all(|l| l.contains("Memory Size: 128 MB")),
        "{edge_reports:?}"
    );
    let origin_reports = log_lines(&r, ORIGIN_GROUP, "\"platform.report\"");
    assert!(
        origin_reports
            .iter()
            .any(|l| l.contains("\"memorySizeMB\":128")),
        "{origin_reports:?}"
    );
    // The edge function is the template's Node.js package, not the native test mode.
    let init = log_lines(&r, EDGE_GROUP, "INIT_START");
    assert!(init.iter().all(|l| l.contains("nodejs")), "{init:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parameter_changes_which_cookie_is_forwarded() {
    let r = up_cli(
        "template-param",
        &["--parameter", "SessionCookie=sid"],
        READY,
    );
    let c = client();
    // `edge_session` is no longer forwarded: alb-fn sees no session and issues one every time.
    let cookie = format!("edge_session={TOKEN}");
    let a = fetch(&c, &format!("{}/", r.url), &[("cookie", &cookie)]).await;
    assert_eq!(a.status, 200, "{a:?}");
    assert!(
        a.header("set-cookie")
            .is_some_and(|s| s.starts_with("edge_session=")),
        "{a:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_memory_and_timeout_apply_and_a_flag_overrides_them() {
    // The origin is the test-only fault-fn as a `provided.al2023` directory with a `bootstrap`,
    // 256 MB and a 1 s timeout.
    let (dir, _) = template_with("template-limits-code", &[]);
    let (code_line, code) = fault_fn_origin(&dir);
    let (_, template) = template_with(
        "template-limits",
        &[
            ("Timeout: 3", "Timeout: 1"),
            (
                "Handler: bootstrap\n      Architectures: [!Ref OriginArchitecture]\n      MemorySize: 128",
                "Handler: bootstrap\n      Architectures: [!Ref OriginArchitecture]\n      MemorySize: 256",
            ),
            (&code_line, &format!("Code: {}", code.display())),
        ],
    );
    let t = template.display().to_string();
    {
        let r = up_cli("template-limits-run", &["--template", &t], READY);
        let c = client();
        let slow = fetch(&c, &format!("{}/alb/sleep-2500", r.url), &[]).await;
        assert_eq!(
            slow.status, 502,
            "the 1 s timeout of the template: ALB answers 502"
        );
        let reports = log_lines(&r, ORIGIN_GROUP, "\"platform.report\"");
        assert!(
            reports.iter().any(|l| l.contains("\"memorySizeMB\":256") && l.contains("\"status\":\"timeout\"")),
            "{reports:?}"
        );
    }
    // --alb-timeout wins over the template's Timeout; --memory over its MemorySize.
    let r = up_cli(
        "template-limits-flag",
        &["--template", &t, "--alb-timeout", "5s", "--memory", "512"],
        READY,
    );
    let c = client();
    let slow = fetch(&c, &format!("{}/alb/sleep-2500", r.url), &[]).await;
    assert_eq!(slow.status, 200, "{slow:?}");
    let reports = log_lines(&r, ORIGIN_GROUP, "\"platform.report\"");
    assert!(
        reports.iter().any(|l| l.contains("\"memorySizeMB\":512")),
        "{reports:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_custom_error_responses_apply() {
    // The origin is the test-only fault-fn (`/alb/status-<n>` answers status `n`, any other path
    // 200 `ok` naming the path); the distribution replaces its 404 with a page and a 200.
    let (dir, _) = template_with("template-errors-code", &[]);
    let (code_line, code) = fault_fn_origin(&dir);
    let (_, template) = template_with(
        "template-errors",
        &[
            (&code_line, &format!("Code: {}", code.display())),
            (
                "        DefaultCacheBehavior:",
                "        CustomErrorResponses:\n          - {ErrorCode: 404, ResponseCode: 200, ResponsePagePath: /errors/404.html, ErrorCachingMinTTL: 10}\n          - {ErrorCode: 500, ErrorCachingMinTTL: 0}\n        DefaultCacheBehavior:",
            ),
        ],
    );
    let t = template.display().to_string();
    let r = up_cli("template-errors-run", &["--template", &t], READY);
    let c = client();
    let page = fetch(&c, &format!("{}/alb/status-404", r.url), &[]).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.body, "ok");
    assert_eq!(page.header("x-fault-path"), Some("/errors/404.html"));
    assert_eq!(page.header("x-cache"), Some("Error from cloudfront"));
    // 500 has only an error caching TTL: the origin's answer goes to the viewer as it is.
    let plain = fetch(&c, &format!("{}/alb/status-500", r.url), &[]).await;
    assert_eq!(plain.status, 500, "{plain:?}");
    assert_eq!(plain.body, "origin 500");
    drop(r);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_templates_alb_attributes_apply() {
    // The target group's multi-value mode and the load balancer's header-name rule, from the
    // template (the project's sets both to false); the viewer's headers reach the ALB only with a
    // policy that forwards them.
    let (dir, template) = template_with(
        "template-alb-attributes",
        &[
            (
                "Key: routing.http.drop_invalid_header_fields.enabled\n          Value: \"false\"",
                "Key: routing.http.drop_invalid_header_fields.enabled\n          Value: \"true\"",
            ),
            (
                "Key: lambda.multi_value_headers.enabled\n          Value: \"false\"",
                "Key: lambda.multi_value_headers.enabled\n          Value: \"true\"",
            ),
        ],
    );
    let t = template.display().to_string();
    let r = up_cli(
        "template-alb-attributes-run",
        &["--template", &t, "--origin-request-policy", "AllViewer"],
        READY,
    );
    let doc = what_the_origin_received(&client(), &format!("{}/?k=1&k=2", r.url)).await;
    assert_eq!(
        doc["headers"]["x-repeat"],
        serde_json::json!(["a", "b"]),
        "the target group's multi-value mode: {doc}"
    );
    assert!(
        doc["headers"].get("custom_header").is_none(),
        "the load balancer drops header names with an underscore: {doc}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `up` with this template and these flags fails before it starts anything, saying `says`.
fn refused(tag: &str, template: &Path, extra: &[&str], says: &str) {
    let dir = run_dir(tag);
    let t = template.display().to_string();
    let mut args = vec!["up", "--port", "0", "--template", &t];
    args.extend_from_slice(extra);
    let (ok, out, err) = cli(&dir, &args);
    assert!(!ok, "{tag}: started; stdout {out}");
    assert!(err.contains(says), "{tag}: expected {says:?} in:\n{err}");
    assert!(!out.contains("edge-stack is up"), "{tag}: {out}");
    // Nothing was started or written: no log group, no state file, no unpacked code.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{tag}: the run directory has {left:?}");
    // The stack announces every build it runs ("edge-stack: cargo ..."): none before refusing.
    assert!(
        !err.contains("edge-stack: cargo"),
        "{tag}: it built before refusing:\n{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// (tag, edits of the project's template, extra flags, what stderr says).
type BadCase<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [&'a str], &'a str);

#[test]
fn a_template_the_stack_cannot_run_starts_nothing() {
    let cases: &[BadCase] = &[
        (
            "unknown-tag",
            &[(
                "Description: !Sub edge-persist ${EdgeRelease}",
                "Description: !Bogus x",
            )],
            &[],
            "Resources.EdgeVersion.Properties.Description: unknown tag !Bogus",
        ),
        (
            "unknown-function",
            &[(
                "Description: !Sub edge-persist ${EdgeRelease}",
                "Description: {\"Fn::Bogus\": x}",
            )],
            &[],
            "Resources.EdgeVersion.Properties.Description: Fn::Bogus is not a CloudFormation intrinsic function",
        ),
        (
            "missing-ref",
            &[(
                "FunctionName: !Ref EdgeFunction",
                "FunctionName: !Ref Missing",
            )],
            &[],
            "Resources.EdgeVersion.Properties.FunctionName: Ref Missing: no parameter, pseudo parameter or resource of that name",
        ),
        (
            "runtime",
            &[("Runtime: nodejs22.x", "Runtime: java21")],
            &[],
            "Resources.EdgeFunction [edge-runtime]: runtime \"java21\": Lambda@Edge runs only Node.js and Python",
        ),
        (
            "environment",
            &[(
                "      Handler: index.handler\n",
                "      Handler: index.handler\n      Environment:\n        Variables: {MODE: test}\n",
            )],
            &[],
            "Resources.EdgeFunction [edge-no-environment]",
        ),
        (
            "allowed-values",
            &[],
            &["--parameter", "OriginArchitecture=sparc"],
            "Parameters.OriginArchitecture: --parameter value \"sparc\" is not one of AllowedValues [x86_64, arm64]",
        ),
        (
            "undeclared-parameter",
            &[],
            &["--parameter", "Nope=1"],
            "Parameters.Nope: --parameter names a parameter the template does not declare",
        ),
    ];
    for (tag, edits, extra, says) in cases {
        let (dir, template) = template_with(&format!("bad-{tag}"), edits);
        refused(&format!("bad-{tag}-run"), &template, extra, says);
        let _ = std::fs::remove_dir_all(&dir);
    }
    let (dir, template) = template_with("bad-s3", &[]);
    let alb_zip = edge_stack::binaries::workspace_root().join("dist/alb-fn.zip");
    let text = std::fs::read_to_string(&template)
        .unwrap_or_default()
        .replace(
            &format!("Code: {}", alb_zip.display()),
            "Code:\n        S3Bucket: my-bucket\n        S3Key: alb-fn.zip",
        );
    std::fs::write(&template, text).unwrap_or_else(|e| panic!("{e}"));
    refused(
        "bad-s3-run",
        &template,
        &[],
        "Resources.OriginFunction.Properties.Code: code in S3 cannot be run locally",
    );
    let _ = std::fs::remove_dir_all(&dir);
}
