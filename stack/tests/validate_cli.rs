//! `edge-stack validate --template FILE`: exit 0 on infra/template.yaml, 1 with the finding named
//! on a broken copy, 1 with a clear message on a file that is not a template.

use std::path::PathBuf;
use std::process::Command;

fn validate(path: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_edge-stack"))
        .args(["validate", "--template"])
        .arg(path)
        .output()
        .unwrap()
}

#[test]
fn passes_the_projects_template_and_names_what_a_broken_one_breaks() {
    let template = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml");
    let out = validate(&template);
    assert!(out.status.success(), "{out:?}");

    let dir = std::env::temp_dir().join(format!("edge-stack-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let broken = dir.join("broken.yaml");
    let text = std::fs::read_to_string(&template).unwrap();
    std::fs::write(
        &broken,
        text.replacen("Runtime: nodejs22.x", "Runtime: java21", 1),
    )
    .unwrap();
    let out = validate(&broken);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("EdgeFunction [edge-runtime]"), "{stderr}");

    let not_yaml = dir.join("not.yaml");
    std::fs::write(&not_yaml, "Resources: {A: [").unwrap();
    let out = validate(&not_yaml);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a YAML or JSON template"));
    std::fs::remove_dir_all(&dir).unwrap();
}
