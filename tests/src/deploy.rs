//! Deploying infra/template.yaml with the commands docs/DEPLOY.md gives users (`aws cloudformation
//! package` then `deploy`), against an AWS API implementation on loopback: moto here, LocalStack in
//! the opt-in suite. What is not Docker or network is plain functions, unit-tested in CI.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use edge_stack::binaries::workspace_root;
use edge_stack::template::Template;
use serde_json::Value;

/// infra/template.yaml.
pub fn template_path() -> PathBuf {
    workspace_root().join("infra/template.yaml")
}

/// The template without the resources of the given types (and the outputs that name them), in
/// JSON long form, with the `Code` paths made absolute so the file can live anywhere.
pub fn render_without(types: &[&str]) -> Value {
    let t = Template::from_file(&template_path()).expect("infra/template.yaml parses");
    let mut doc = t.document.clone();
    let dropped: Vec<&str> = t
        .resources
        .values()
        .filter(|r| types.iter().any(|p| r.kind.starts_with(p)))
        .map(|r| r.id.as_str())
        .collect();
    let resources = doc["Resources"].as_object_mut().expect("Resources");
    resources.retain(|id, _| !dropped.contains(&id.as_str()));
    for body in resources.values_mut() {
        if let Some(code) = body["Properties"]["Code"].as_str() {
            let absolute = workspace_root().join("infra").join(code);
            body["Properties"]["Code"] = Value::from(absolute.display().to_string());
        }
    }
    if let Some(outputs) = doc["Outputs"].as_object_mut() {
        outputs.retain(|_, out| !dropped.iter().any(|id| names(&out["Value"], id)));
    }
    doc
}

/// Whether a value refers to resource `id` (Ref, GetAtt, or `${id}` / `${id.Attr}` in a Sub).
pub fn names(value: &Value, id: &str) -> bool {
    match value {
        Value::String(s) => s.contains(&format!("${{{id}}}")) || s.contains(&format!("${{{id}.")),
        Value::Array(items) => items.iter().any(|v| names(v, id)),
        Value::Object(map) => map.iter().any(|(k, v)| {
            (k == "Ref" && v == id)
                || (k == "Fn::GetAtt" && v.get(0).is_some_and(|first| first == id))
                || names(v, id)
        }),
        _ => false,
    }
}

/// The AWS CLI (from the project's venv) with credentials for a fake account and every service
/// endpoint pointed at `endpoint` (`AWS_ENDPOINT_URL`): the command lines stay the users' own.
pub struct Aws {
    pub bin: PathBuf,
    pub endpoint: String,
}

impl Aws {
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs and panics with the output on failure.
    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().expect("running aws");
        assert!(
            out.status.success(),
            "aws {}: {}",
            args.join(" "),
            crate::wasm::describe(&out)
        );
        out
    }

    /// `aws ... --output json`, parsed.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        let out = self.run(&all);
        if out.stdout.iter().all(u8::is_ascii_whitespace) {
            return Value::Null;
        }
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("aws {}: not JSON ({e})", args.join(" ")))
    }

    /// `aws cloudformation package` then `deploy`, as docs/DEPLOY.md has them.
    pub fn package_and_deploy(&self, template: &Path, bucket: &str, stack: &str, work: &Path) {
        let packaged = work.join("packaged.yaml");
        self.run(&[
            "cloudformation",
            "package",
            "--template-file",
            template.to_str().unwrap(),
            "--s3-bucket",
            bucket,
            "--output-template-file",
            packaged.to_str().unwrap(),
        ]);
        self.run(&[
            "cloudformation",
            "deploy",
            "--template-file",
            packaged.to_str().unwrap(),
            "--stack-name",
            stack,
            "--capabilities",
            "CAPABILITY_IAM",
        ]);
    }
}

/// A free loopback port (the listener is dropped before the server binds it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Waits until something accepts connections on `addr`.
pub fn wait_listening(addr: SocketAddr, child: &mut Child, timeout: Duration) {
    let start = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the server exited ({status}) before listening on {addr}");
        }
        assert!(start.elapsed() < timeout, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A child process killed (and reaped) when dropped, even when the test fails.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_cloudfront_the_template_keeps_the_rest_and_drops_outputs_naming_it() {
        let doc = render_without(&["AWS::CloudFront::"]);
        let resources = doc["Resources"].as_object().unwrap();
        assert!(resources.contains_key("OriginFunction"));
        assert!(resources.contains_key("Alb"));
        assert!(!resources.contains_key("Distribution"));
        assert!(!resources.contains_key("NoCachePolicy"));
        let outputs = doc["Outputs"].as_object().unwrap();
        assert!(outputs.contains_key("AlbUrl"));
        assert!(!outputs.contains_key("DistributionUrl"));
        let code = resources["OriginFunction"]["Properties"]["Code"]
            .as_str()
            .unwrap();
        assert!(
            Path::new(code).is_absolute() && code.ends_with("dist/alb-fn.zip"),
            "{code}"
        );
    }

    #[test]
    fn names_finds_every_way_of_referring_to_a_resource() {
        let yes = [
            serde_json::json!({"Ref": "Alb"}),
            serde_json::json!({"Fn::GetAtt": ["Alb", "DNSName"]}),
            serde_json::json!({"Fn::Sub": "http://${Alb.DNSName}/"}),
            serde_json::json!({"Fn::Join": ["", [{"Ref": "Alb"}]]}),
        ];
        for v in yes {
            assert!(names(&v, "Alb"), "{v}");
        }
        for v in [
            serde_json::json!({"Ref": "AlbListener"}),
            serde_json::json!({"Fn::Sub": "${AlbListener}"}),
        ] {
            assert!(!names(&v, "Alb"), "{v}");
        }
    }
}
