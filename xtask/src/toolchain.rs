//! The pinned toolchain of `rust-toolchain.toml`, with its targets and components, installed
//! explicitly.
//!
//! rustup reads the file, but when the pinned toolchain is already installed it neither adds the
//! targets nor the components the file lists (`rustup toolchain install` says "using existing
//! install" and stops), and with `RUSTUP_AUTO_INSTALL=0` it installs nothing on first use. So a
//! machine that has the toolchain without `wasm32-unknown-unknown` fails the wasm build. This
//! module reads the file (the one place the channel, targets and components are written) and adds
//! what is missing. It is idempotent, runs rustup at most once per process, keeps rustup's output
//! to itself unless a step fails, and serialises installs across processes with a file lock
//! (parallel test binaries would otherwise run `rustup target add` at the same time).

use std::fs::{self, File};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use crate::{Error, target_dir, workspace_root};

/// What `rust-toolchain.toml` pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolchain {
    pub channel: String,
    pub targets: Vec<String>,
    pub components: Vec<String>,
}

impl Toolchain {
    /// The workspace's `rust-toolchain.toml`.
    pub fn pinned() -> Result<Self, Error> {
        let path = workspace_root().join("rust-toolchain.toml");
        let text = fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()).into())
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("not TOML: {e}"))?;
        let table = doc
            .get("toolchain")
            .and_then(|t| t.as_table_like())
            .ok_or("no [toolchain] table")?;
        let channel = table
            .get("channel")
            .and_then(|c| c.as_str())
            .ok_or("[toolchain] has no `channel` string")?
            .to_owned();
        let list = |key: &str| -> Result<Vec<String>, String> {
            let Some(item) = table.get(key) else {
                return Ok(Vec::new());
            };
            let array = item
                .as_array()
                .ok_or_else(|| format!("[toolchain] `{key}` is not an array"))?;
            array
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("[toolchain] `{key}` holds a non-string"))
                })
                .collect()
        };
        Ok(Self {
            channel,
            targets: list("targets")?,
            components: list("components")?,
        })
    }
}

/// Make sure the pinned toolchain has every target and component `rust-toolchain.toml` lists.
/// The first call in a process does the work (two quick `rustup ... list --installed` calls when
/// everything is there); later calls return its result. Without rustup on PATH it does nothing,
/// and cargo's own error ("the wasm32-unknown-unknown target may not be installed") speaks.
pub fn ensure_toolchain() -> Result<(), Error> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| ensure_uncached().map_err(|e| e.to_string()))
        .clone()
        .map_err(Into::into)
}

/// A target `rust-toolchain.toml` does not list because most builds never need it (arm64 musl
/// for Graviton), added to the pinned toolchain the same way: quietly, once, under the lock.
pub fn ensure_target(target: &str) -> Result<(), Error> {
    ensure_toolchain()?;
    if !rustup_available() {
        return Ok(());
    }
    let pinned = Toolchain::pinned()?;
    let wanted = [target.to_owned()];
    let lacking = || -> Result<bool, Error> {
        let listing = installed_targets(&pinned.channel)?;
        Ok(!absent(&wanted, &listing, false).is_empty())
    };
    if lacking()? {
        let _lock = install_lock()?;
        if lacking()? {
            rustup(&["target", "add", "--toolchain", &pinned.channel, target])?;
        }
    }
    Ok(())
}

fn ensure_uncached() -> Result<(), Error> {
    if !rustup_available() {
        return Ok(());
    }
    let pinned = Toolchain::pinned()?;
    if missing(&pinned)?.is_empty() {
        return Ok(());
    }
    // Another process may be installing the same things: wait for it, then look again.
    let _lock = install_lock()?;
    let todo = missing(&pinned)?;
    if todo.is_empty() {
        return Ok(());
    }
    install(&pinned, &todo)
}

/// rustup on PATH (without it, nothing here can install anything).
pub fn rustup_available() -> bool {
    Command::new("rustup")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// What is missing, as the step that adds it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Missing {
    toolchain: bool,
    targets: Vec<String>,
    components: Vec<String>,
}

impl Missing {
    fn is_empty(&self) -> bool {
        !self.toolchain && self.targets.is_empty() && self.components.is_empty()
    }
}

fn missing(pinned: &Toolchain) -> Result<Missing, Error> {
    let installed = rustup(&["toolchain", "list"])?;
    // Lines look like "1.95.0-x86_64-unknown-linux-gnu (active, default)".
    let has_toolchain = installed.lines().any(|line| {
        let name = line.split_whitespace().next().unwrap_or("");
        name == pinned.channel || name.starts_with(&format!("{}-", pinned.channel))
    });
    if !has_toolchain {
        return Ok(Missing {
            toolchain: true,
            ..Missing::default()
        });
    }
    let targets = installed_targets(&pinned.channel)?;
    let components = rustup(&[
        "component",
        "list",
        "--installed",
        "--toolchain",
        &pinned.channel,
    ])?;
    Ok(Missing {
        toolchain: false,
        targets: absent(&pinned.targets, &targets, false),
        components: absent(&pinned.components, &components, true),
    })
}

/// The wanted names not in rustup's listing. Installed components are listed with the host
/// triple appended (`clippy-x86_64-unknown-linux-gnu`), targets as they are.
fn absent(wanted: &[String], listing: &str, suffixed: bool) -> Vec<String> {
    wanted
        .iter()
        .filter(|want| {
            !listing.lines().map(str::trim).any(|have| {
                have == want.as_str()
                    || (suffixed
                        && have
                            .strip_prefix(want.as_str())
                            .is_some_and(|rest| rest.starts_with('-')))
            })
        })
        .cloned()
        .collect()
}

fn install(pinned: &Toolchain, todo: &Missing) -> Result<(), Error> {
    let channel = pinned.channel.as_str();
    if todo.toolchain {
        let mut args = vec!["toolchain", "install", channel, "--profile", "minimal"];
        for c in &pinned.components {
            args.extend(["--component", c]);
        }
        for t in &pinned.targets {
            args.extend(["--target", t]);
        }
        rustup(&args)?;
        // Older rustups ignore --target/--component for a toolchain they think they have: check.
        let again = missing(pinned)?;
        if again.toolchain {
            return Err(format!("rustup did not install toolchain {channel}").into());
        }
        return add(channel, &again);
    }
    add(channel, todo)
}

fn add(channel: &str, todo: &Missing) -> Result<(), Error> {
    if !todo.targets.is_empty() {
        let mut args = vec!["target", "add", "--toolchain", channel];
        args.extend(todo.targets.iter().map(String::as_str));
        rustup(&args)?;
    }
    if !todo.components.is_empty() {
        let mut args = vec!["component", "add", "--toolchain", channel];
        args.extend(todo.components.iter().map(String::as_str));
        rustup(&args)?;
    }
    Ok(())
}

/// The targets rustup lists as installed for `channel`, one per line.
fn installed_targets(channel: &str) -> Result<String, Error> {
    rustup(&["target", "list", "--installed", "--toolchain", channel])
}

/// rustup with its output captured: returned on success, put in the error otherwise.
fn rustup(args: &[&str]) -> Result<String, Error> {
    let out = Command::new("rustup")
        .args(args)
        .current_dir(workspace_root())
        .output()
        .map_err(|e| format!("cannot start `rustup {}`: {e}", args.join(" ")))?;
    if !out.status.success() {
        return Err(format!(
            "`rustup {}` failed ({}):\n{}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn install_lock() -> Result<File, Error> {
    let dir = target_dir();
    fs::create_dir_all(&dir)?;
    let file = File::create(Path::new(&dir).join("xtask-toolchain.lock"))?;
    file.lock()?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_channel_targets_and_components_from_the_workspace_file() {
        let pinned = Toolchain::pinned().unwrap();
        assert!(!pinned.channel.is_empty());
        assert!(pinned.targets.iter().any(|t| t == "wasm32-unknown-unknown"));
        assert!(pinned.components.iter().any(|c| c == "clippy"));
    }

    #[test]
    fn parses_a_file_without_lists_and_refuses_one_without_channel() {
        let t = Toolchain::parse("[toolchain]\nchannel = \"1.95.0\"\n").unwrap();
        assert_eq!(t.channel, "1.95.0");
        assert!(t.targets.is_empty() && t.components.is_empty());
        assert!(Toolchain::parse("[toolchain]\ntargets = []\n").is_err());
        assert!(Toolchain::parse("[toolchain]\nchannel = \"x\"\ntargets = [1]\n").is_err());
        assert!(Toolchain::parse("channel = \"1.95.0\"\n").is_err());
    }

    #[test]
    fn finds_what_rustup_does_not_list() {
        let want = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let targets = "x86_64-unknown-linux-gnu\n";
        assert_eq!(
            absent(&want(&["wasm32-unknown-unknown"]), targets, false),
            want(&["wasm32-unknown-unknown"])
        );
        assert!(absent(&want(&["x86_64-unknown-linux-gnu"]), targets, false).is_empty());
        let components = "cargo-x86_64-unknown-linux-gnu\nclippy-x86_64-unknown-linux-gnu\n";
        assert!(absent(&want(&["clippy", "cargo"]), components, true).is_empty());
        assert_eq!(
            absent(&want(&["rustfmt", "clippy"]), components, true),
            want(&["rustfmt"])
        );
    }
}
