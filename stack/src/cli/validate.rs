//! `edge-stack validate --template FILE`: the project's Lambda@Edge rules
//! (`edge_stack::template::validate`) on a CloudFormation template, for CI and before a deploy.

use std::path::PathBuf;

use edge_stack::template::{Template, validate};

#[derive(clap::Args)]
pub struct Validate {
    /// CloudFormation template (YAML or JSON), e.g. infra/template.yaml.
    #[arg(long)]
    template: PathBuf,
    /// Session cookie the origin-request behaviour must forward (the functions'
    /// EDGE_PERSIST_SESSION_COOKIE).
    #[arg(long, default_value = "edge_session")]
    session_cookie: String,
}

pub fn run(v: &Validate) -> Result<(), Box<dyn std::error::Error>> {
    let template = Template::from_file(&v.template)?;
    let findings = validate(&template, &v.session_cookie);
    for f in &findings {
        eprintln!("{}: {f}", v.template.display());
    }
    if !findings.is_empty() {
        return Err(format!(
            "{}: {} Lambda@Edge rule(s) broken",
            v.template.display(),
            findings.len()
        )
        .into());
    }
    println!("{}: every Lambda@Edge rule kept", v.template.display());
    Ok(())
}
