//! `dist/alb-fn.zip`: alb-fn as a Lambda `provided.al2023` function. Lambda's OS-only runtimes
//! start the executable named `bootstrap` at the root of the unpacked zip (docs/AWS-BEHAVIOUR.md,
//! "Deploy"), so the zip holds exactly that file, executable. The binary is static musl: it
//! depends on no glibc at all, so it runs on Amazon Linux 2023 whatever glibc that ships.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use zip::write::SimpleFileOptions;

use crate::{Error, tools, workspace_root};

/// Lambda's two instruction set architectures (the `Architectures` setting of a function).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Arm64,
}

impl Arch {
    /// The name Lambda and CloudFormation use (`Architectures: [x86_64]`).
    pub fn lambda_name(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Arm64 => "arm64",
        }
    }

    pub fn rust_target(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64-unknown-linux-musl",
            Self::Arm64 => "aarch64-unknown-linux-musl",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "x86_64" | "x86-64" | "amd64" => Ok(Self::X86_64),
            "arm64" | "aarch64" | "graviton" => Ok(Self::Arm64),
            other => Err(format!("unknown architecture {other:?}: x86_64 or arm64").into()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AlbFn {
    pub arch: Arch,
    /// `dist/alb-fn/bootstrap`: what Lambda unpacks.
    pub bootstrap: PathBuf,
    /// `dist/alb-fn.zip`: the upload (`infra/template.yaml` names this path).
    pub zip: PathBuf,
    pub zip_bytes: u64,
    pub bootstrap_bytes: u64,
}

/// Build alb-fn (release, static musl for `arch`) and package it into `dist`.
pub fn alb_fn(dist: &Path, arch: Arch) -> Result<AlbFn, Error> {
    let exe = cargo_build(arch)?;
    let dir = dist.join("alb-fn");
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::create_dir_all(&dir)?;
    let bootstrap = dir.join("bootstrap");
    fs::copy(&exe, &bootstrap)?;
    let zip = dist.join("alb-fn.zip");
    write_bootstrap_zip(&zip, &fs::read(&bootstrap)?)?;
    Ok(AlbFn {
        arch,
        zip_bytes: zip.metadata()?.len(),
        bootstrap_bytes: bootstrap.metadata()?.len(),
        bootstrap,
        zip,
    })
}

/// `cargo build --release --target <musl> -p alb-fn`; returns the executable.
///
/// arm64 is linked by `rust-lld`, which ships with the Rust toolchain: a static musl binary needs
/// no C toolchain (Rust's musl targets bring their own libc and start files, and alb-fn has no C
/// dependencies), so cross-building for Graviton needs nothing from outside the registries.
fn cargo_build(arch: Arch) -> Result<PathBuf, Error> {
    let target = arch.rust_target();
    // x86_64 musl is one of rust-toolchain.toml's targets; arm64 musl is added on demand.
    crate::ensure_target(target)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root()).args([
        "build",
        "--quiet",
        "--release",
        "--package",
        "alb-fn",
        "--bin",
        "alb-fn",
        "--target",
        target,
    ]);
    if arch == Arch::Arm64 {
        cmd.env(
            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER",
            std::env::var_os("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER")
                .unwrap_or_else(|| "rust-lld".into()),
        );
    }
    tools::run(&mut cmd)?;
    let exe = crate::target_dir()
        .join(target)
        .join("release")
        .join("alb-fn");
    if !exe.exists() {
        return Err(format!("cargo built no {}", exe.display()).into());
    }
    Ok(exe)
}

/// Deterministic zip with exactly `bootstrap` at its root, mode 0755: Lambda runs it as is.
fn write_bootstrap_zip(zip: &Path, bootstrap: &[u8]) -> Result<(), Error> {
    crate::write_zip_atomically(zip, |file| {
        let mut out = zip::ZipWriter::new(file);
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o755);
        out.start_file("bootstrap", options)?;
        out.write_all(bootstrap)?;
        out.finish()?;
        Ok(())
    })
}
