//! The parts of the LocalStack suite (tests/tests/deploy_localstack.rs) that need no Docker: when
//! the suite may run and what is missing when it may not, which template to deploy, how to reach
//! an ALB through LocalStack's single port, the shape an invocation's result is compared in, and
//! the checks on an answer. Unit-tested here so they are right before anyone has a token.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::deploy::render_without;
use crate::redact_edge;

/// Turns the suite on.
pub const ENABLE: &str = "EDGE_PERSIST_LOCALSTACK";
/// LocalStack's auth token: its images require one, and ELBv2 and CloudFront are paid features.
pub const TOKEN: &str = "LOCALSTACK_AUTH_TOKEN";
/// Set to 1 when the LocalStack tier has CloudFront: the whole template is deployed then.
pub const WITH_CLOUDFRONT: &str = "EDGE_PERSIST_LOCALSTACK_CLOUDFRONT";
/// LocalStack's one port for every service (and for ALB listeners, chosen by Host).
pub const EDGE_PORT: u16 = 4566;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub token: String,
    pub cloudfront: bool,
}

/// What the environment allows, or what is missing, said plainly. `docker_socket` is where the
/// Docker engine is expected when `DOCKER_HOST` is not set.
pub fn settings(env: &HashMap<String, String>, docker_socket: &Path) -> Result<Settings, String> {
    if env.get(ENABLE).map(String::as_str) != Some("1") {
        return Err(format!(
            "the LocalStack suite is off: set {ENABLE}=1 and {TOKEN} (docs/DEPLOY.md, \"The LocalStack route\")"
        ));
    }
    let token = env
        .get(TOKEN)
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            format!("{TOKEN} is not set: LocalStack's image needs an auth token, and its ELBv2 is a paid feature")
        })?
        .clone();
    if !env.contains_key("DOCKER_HOST") {
        docker_engine_at(docker_socket)?;
    }
    Ok(Settings {
        token,
        cloudfront: env.get(WITH_CLOUDFRONT).map(String::as_str) == Some("1"),
    })
}

/// A Docker engine answers on this Unix socket.
pub fn docker_engine_at(socket: &Path) -> Result<(), String> {
    std::os::unix::net::UnixStream::connect(socket).map(drop).map_err(|e| {
        format!(
            "no Docker engine at {} ({e}): the LocalStack suite runs LocalStack, and LocalStack runs the functions, in Docker; start Docker or set DOCKER_HOST",
            socket.display()
        )
    })
}

/// The template LocalStack gets: all of it when the tier has CloudFront, else without the
/// CloudFront resources (and the outputs that name them).
pub fn template(settings: &Settings) -> Value {
    if settings.cloudfront {
        render_without(&[])
    } else {
        render_without(&["AWS::CloudFront::"])
    }
}

/// LocalStack serves an ALB's listener on its own port, choosing the load balancer by the Host
/// header: the URL to ask (the mapped port on loopback) and the Host to send.
pub fn alb_request(
    alb_url: &str,
    mapped_port: u16,
    path: &str,
) -> Result<(String, String), String> {
    let rest = alb_url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{alb_url}: expected an http:// ALB URL"))?;
    let host = rest.split(['/', ':']).next().unwrap_or_default();
    if host.is_empty() {
        return Err(format!("{alb_url}: no host"));
    }
    Ok((
        format!("http://127.0.0.1:{mapped_port}{path}"),
        format!("{host}:{EDGE_PORT}"),
    ))
}

/// `aws lambda invoke`'s output file and whether it reported a `FunctionError`, in the shape the
/// `edge-<fixture>` snapshots hold: the redacted request, or Lambda's error object.
pub fn invocation_outcome(output: &Value, function_error: bool) -> Value {
    if function_error {
        json!({"errorType": output["errorType"], "errorMessage": output["errorMessage"]})
    } else {
        redact_edge(output.clone())
    }
}

/// One answer of alb-fn through the ALB, without the edge: 200, the article's text, no persisted
/// value (nothing set one), and the origin environment's id. Returns that id.
pub fn check_origin_answer(
    status: u16,
    headers: &HashMap<String, String>,
    body: &str,
) -> Result<String, String> {
    if status != 200 {
        return Err(format!("status {status}: {body}"));
    }
    if !body.starts_with("Hello from Lambda!") {
        return Err(format!("not alb-fn's answer: {body:?}"));
    }
    if headers.contains_key("x-persist-value") {
        return Err("a persisted value without an edge in front".into());
    }
    headers
        .get("x-persist-origin-env")
        .filter(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .cloned()
        .ok_or_else(|| format!("no origin environment id in {headers:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn each_missing_piece_is_named() {
        let nowhere = Path::new("/nonexistent/docker.sock");
        let off = settings(&env(&[]), nowhere).unwrap_err();
        assert!(off.contains(ENABLE), "{off}");
        let no_token = settings(&env(&[(ENABLE, "1")]), nowhere).unwrap_err();
        assert!(no_token.contains(TOKEN), "{no_token}");
        let no_docker = settings(&env(&[(ENABLE, "1"), (TOKEN, "t")]), nowhere).unwrap_err();
        assert!(
            no_docker.contains("no Docker engine at /nonexistent/docker.sock"),
            "{no_docker}"
        );
        let remote = settings(
            &env(&[(ENABLE, "1"), (TOKEN, "t"), ("DOCKER_HOST", "tcp://x:2375")]),
            nowhere,
        );
        assert_eq!(
            remote,
            Ok(Settings {
                token: "t".into(),
                cloudfront: false
            })
        );
    }

    #[test]
    fn the_template_has_cloudfront_only_when_the_tier_does() {
        let mut s = Settings {
            token: "t".into(),
            cloudfront: false,
        };
        assert!(template(&s)["Resources"].get("Distribution").is_none());
        s.cloudfront = true;
        assert!(template(&s)["Resources"].get("Distribution").is_some());
        assert!(template(&s)["Outputs"].get("DistributionUrl").is_some());
    }

    #[test]
    fn alb_requests_go_to_the_mapped_port_with_the_albs_host() {
        assert_eq!(
            alb_request(
                "http://edge-persist-Alb-1.elb.localhost.localstack.cloud/",
                49153,
                "/x?a=1"
            ),
            Ok((
                "http://127.0.0.1:49153/x?a=1".into(),
                "edge-persist-Alb-1.elb.localhost.localstack.cloud:4566".into()
            ))
        );
        assert!(alb_request("https://x/", 1, "/").is_err());
        assert!(alb_request("http:///", 1, "/").is_err());
    }

    #[test]
    fn outcomes_take_the_snapshot_shape() {
        let error = json!({"errorType": "InvalidEvent", "errorMessage": "m", "trace": []});
        assert_eq!(
            invocation_outcome(&error, true),
            json!({"errorType": "InvalidEvent", "errorMessage": "m"})
        );
        let request = json!({"uri": "/", "headers": {"x-persist-env-id": [{"key": "x-persist-env-id", "value": "abc"}]}});
        let shaped = invocation_outcome(&request, false);
        assert_eq!(shaped["uri"], "/");
        assert_ne!(shaped, request, "volatile values are redacted");
    }

    #[test]
    fn origin_answers_are_checked() {
        let id = "0123456789abcdef0123456789abcdef";
        let good = env(&[("x-persist-origin-env", id)]);
        assert_eq!(
            check_origin_answer(200, &good, "Hello from Lambda! 2026-01-01T00:00:00.000Z"),
            Ok(id.into())
        );
        assert!(check_origin_answer(502, &good, "Hello from Lambda!").is_err());
        assert!(check_origin_answer(200, &good, "Bad Gateway").is_err());
        assert!(check_origin_answer(200, &env(&[]), "Hello from Lambda!").is_err());
        let with_value = env(&[("x-persist-origin-env", id), ("x-persist-value", "t")]);
        assert!(check_origin_answer(200, &with_value, "Hello from Lambda!").is_err());
    }
}
