//! infra/template.yaml and the example's examples/lambda-edge/template.yaml pass AWS's
//! CloudFormation linter (cfn-lint, pinned in
//! infra/requirements.txt, installed into .tools/py) with no error and no warning, for us-east-1;
//! and the linter, run the same way, does reject a broken copy.

use std::process::Output;

use edge_persist_tests::deploy::template_path;
use edge_persist_tests::pytools;
use edge_persist_tests::wasm::describe;

fn cfn_lint(template: &std::path::Path) -> Output {
    std::process::Command::new(pytools::bin_dir().join("cfn-lint"))
        .args(["--regions", "us-east-1", "--format", "parseable", "--"])
        .arg(template)
        .output()
        .expect("running cfn-lint")
}

#[test]
fn template_passes_cfn_lint_without_warnings() {
    let out = cfn_lint(&template_path());
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "{}",
        describe(&out)
    );
}

#[test]
fn the_lambda_edge_example_template_passes_cfn_lint_without_warnings() {
    let example = edge_stack::binaries::workspace_root().join("examples/lambda-edge/template.yaml");
    let out = cfn_lint(&example);
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "{}",
        describe(&out)
    );
}

#[test]
fn cfn_lint_rejects_an_unknown_runtime() {
    let dir = std::env::temp_dir().join(format!("edge-persist-cfn-lint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let broken = dir.join("template.yaml");
    let text = std::fs::read_to_string(template_path()).unwrap();
    assert!(text.contains("Runtime: nodejs22.x"));
    std::fs::write(
        &broken,
        text.replacen("Runtime: nodejs22.x", "Runtime: nodejs99.x", 1),
    )
    .unwrap();
    let out = cfn_lint(&broken);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("nodejs99.x"),
        "{}",
        describe(&out)
    );
}
