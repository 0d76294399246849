//! The project's Lambda@Edge template rules: infra/template.yaml keeps them all, and each rule
//! catches a template broken in exactly its way (one edit of the real template per test).

use std::path::PathBuf;

use edge_stack::template::{Rule, Template, validate};

const COOKIE: &str = "edge_session";

fn template_text() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml");
    std::fs::read_to_string(path).unwrap()
}

/// The rules broken by the template with `from` replaced by `to` (which must be there).
fn broken(from: &str, to: &str) -> Vec<Rule> {
    let text = template_text();
    assert!(text.contains(from), "the template no longer holds {from:?}");
    let t = Template::parse(&text.replacen(from, to, 1)).expect("still a template");
    let findings = validate(&t, COOKIE);
    for f in &findings {
        eprintln!("{f}");
    }
    findings.into_iter().map(|f| f.rule).collect()
}

#[test]
fn the_projects_template_keeps_every_rule() {
    let t = Template::parse(&template_text()).unwrap();
    assert_eq!(validate(&t, COOKIE), vec![]);
}

#[test]
fn environment_variables_on_the_edge_function() {
    let rules = broken(
        "      Runtime: nodejs22.x\n",
        "      Runtime: nodejs22.x\n      Environment:\n        Variables:\n          EDGE_PERSIST_HEADER: x-a\n",
    );
    assert_eq!(rules, [Rule::NoEnvironment]);
}

#[test]
fn custom_runtime_at_the_edge() {
    let rules = broken("Runtime: nodejs22.x", "Runtime: provided.al2023");
    assert_eq!(rules, [Rule::Runtime]);
}

#[test]
fn arm64_at_the_edge() {
    let rules = broken(
        "      Handler: index.handler\n      Architectures: [x86_64]",
        "      Handler: index.handler\n      Architectures: [arm64]",
    );
    assert_eq!(rules, [Rule::Runtime]);
}

#[test]
fn memory_over_the_origin_trigger_quota() {
    let rules = broken(
        "      MemorySize: 128\n      Timeout: 5",
        "      MemorySize: 10241\n      Timeout: 5",
    );
    assert_eq!(rules, [Rule::Limits]);
}

#[test]
fn timeout_over_the_viewer_trigger_quota() {
    // 10 s is fine for origin-request, not for viewer-request.
    let text = template_text().replacen("      Timeout: 5", "      Timeout: 10", 1);
    let t = Template::parse(&text).unwrap();
    assert_eq!(validate(&t, COOKIE), vec![]);
    let t = Template::parse(&text.replacen(
        "EventType: origin-request",
        "EventType: viewer-request",
        1,
    ))
    .unwrap();
    let rules: Vec<Rule> = validate(&t, COOKIE).into_iter().map(|f| f.rule).collect();
    assert_eq!(rules, [Rule::Limits]);
}

#[test]
fn association_on_the_function_not_a_version() {
    let rules = broken(
        "LambdaFunctionARN: !Ref EdgeVersion",
        "LambdaFunctionARN: !GetAtt EdgeFunction.Arn",
    );
    assert_eq!(rules, [Rule::NumberedVersion]);
}

#[test]
fn association_on_latest() {
    let rules = broken(
        "LambdaFunctionARN: !Ref EdgeVersion",
        "LambdaFunctionARN: !Sub \"${EdgeFunction.Arn}:$LATEST\"",
    );
    assert_eq!(rules, [Rule::NumberedVersion]);
}

#[test]
fn association_in_another_region() {
    let rules = broken(
        "LambdaFunctionARN: !Ref EdgeVersion",
        "LambdaFunctionARN: arn:aws:lambda:eu-west-1:123456789012:function:edge:3",
    );
    assert_eq!(rules, [Rule::UsEast1]);
}

#[test]
fn no_region_rule() {
    let rules = broken(
        "- Assert: !Equals [!Ref \"AWS::Region\", us-east-1]",
        "- Assert: !Equals [!Ref \"AWS::Region\", eu-west-1]",
    );
    assert_eq!(rules, [Rule::UsEast1]);
}

#[test]
fn role_without_edgelambda() {
    let rules = broken(
        "Service: [lambda.amazonaws.com, edgelambda.amazonaws.com]",
        "Service: [lambda.amazonaws.com]",
    );
    assert_eq!(rules, [Rule::Trust]);
}

#[test]
fn cache_policy_with_a_ttl() {
    let rules = broken("        DefaultTTL: 0\n", "");
    assert_eq!(rules, [Rule::CachePolicy]);
}

#[test]
fn cache_key_with_cookies() {
    let rules = broken(
        "          CookiesConfig:\n            CookieBehavior: none",
        "          CookiesConfig:\n            CookieBehavior: all",
    );
    assert_eq!(rules, [Rule::CachePolicy]);
}

#[test]
fn session_cookie_not_forwarded() {
    let rules = broken(
        "          Cookies: [!Ref SessionCookie]",
        "          Cookies: [other]",
    );
    assert_eq!(rules, [Rule::SessionCookie]);
    let rules = broken(
        "          OriginRequestPolicyId: !Ref OriginForwardPolicy\n",
        "",
    );
    assert_eq!(rules, [Rule::SessionCookie]);
}
