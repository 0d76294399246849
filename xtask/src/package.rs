//! Assemble `dist/lambda-edge/` (+ zip) and `dist/workerd/` from `wasm/pkg`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use edge_persist_core::{Config, EdgeFunction, Init};
use zip::write::SimpleFileOptions;

use crate::{Error, STEM, ZIP_BUDGET_BYTES, pkg_dir, tools, workspace_root};

#[derive(Debug, Clone)]
pub struct LambdaEdge {
    /// `dist/lambda-edge/`: `index.mjs` and the `.wasm`, what Lambda unpacks.
    pub dir: PathBuf,
    /// `dist/lambda-edge.zip`, ready for `aws lambda create-function --zip-file`.
    pub zip: PathBuf,
    pub zip_bytes: u64,
    pub wasm_bytes: u64,
    pub index_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct Workerd {
    /// `dist/workerd/`: `worker.mjs`, the glue and the `.wasm`, as workerd modules.
    pub dir: PathBuf,
}

/// The config compiled into the packages, validated here so a bad header name fails the build,
/// not the edge. `None`: the defaults (what edge-fn uses without environment variables).
pub fn config_json(path: Option<&Path>) -> Result<String, Error> {
    let config = match path {
        None => Config::default(),
        Some(p) => {
            let text = fs::read_to_string(p).map_err(|e| format!("config {}: {e}", p.display()))?;
            Config::from_json(&text).map_err(|e| format!("config {}: {e}", p.display()))?
        }
    };
    // Built once the way the edge builds it, so session settings are checked too.
    let init = Init {
        function_name: "xtask".into(),
        environment_id: "build".into(),
        session_secret: [0; 16],
        memory_mb: None,
        now: chrono::DateTime::UNIX_EPOCH,
    };
    let function = EdgeFunction::new(config, init).map_err(|e| format!("config: {e}"))?;
    Ok(serde_json::to_string(function.injector().config())?)
}

pub fn lambda_edge(dist: &Path, config_json: &str) -> Result<LambdaEdge, Error> {
    let wasm_name = format!("{STEM}_bg.wasm");
    let wrapper = workspace_root().join("wasm/lambda-edge/index.mjs");
    let inputs = [
        fs::read(&wrapper)?,
        fs::read(pkg_dir().join(format!("{STEM}.js")))?,
        fs::read(pkg_dir().join(&wasm_name))?,
    ];
    let stamp = crate::stamp(&[
        &inputs[0],
        &inputs[1],
        &inputs[2],
        config_json.as_bytes(),
        env!("CARGO_PKG_VERSION").as_bytes(),
    ]);
    let dir = dist.join("lambda-edge");
    let index = dir.join("index.mjs");
    let zip = dist.join("lambda-edge.zip");
    let stamp_file = dist.join(".lambda-edge.stamp");
    let current = fs::read_to_string(&stamp_file).ok().as_deref() == Some(&stamp)
        && zip.exists()
        && index.exists();
    if !current {
        bundle(&dir, &wrapper, config_json, &wasm_name, &zip)?;
        fs::write(&stamp_file, &stamp)?;
    }
    let size = |p: &Path| p.metadata().map(|m| m.len());
    let built = LambdaEdge {
        zip_bytes: size(&zip)?,
        wasm_bytes: size(&dir.join(&wasm_name))?,
        index_bytes: size(&index)?,
        zip,
        dir,
    };
    if built.zip_bytes > ZIP_BUDGET_BYTES {
        return Err(format!(
            "{} is {} bytes, over the {ZIP_BUDGET_BYTES}-byte viewer-trigger budget of Lambda@Edge",
            built.zip.display(),
            built.zip_bytes
        )
        .into());
    }
    Ok(built)
}

fn bundle(
    dir: &Path,
    wrapper: &Path,
    config_json: &str,
    wasm_name: &str,
    zip: &Path,
) -> Result<(), Error> {
    let dir = fresh_dir(dir)?;
    let index = dir.join("index.mjs");
    // One file for the wrapper, the glue and the config: Lambda loads only `index.mjs` and the
    // `.wasm` it reads beside itself.
    tools::run(
        Command::new(tools::bin("esbuild")?)
            .arg(wrapper)
            .args([
                "--bundle",
                "--format=esm",
                "--platform=node",
                "--target=node20",
                "--legal-comments=none",
                "--log-level=warning",
            ])
            .arg(format!(
                "--define:EDGE_PERSIST_CONFIG={}",
                serde_json::to_string(config_json)?
            ))
            .arg(format!("--outfile={}", index.display())),
    )?;
    fs::copy(pkg_dir().join(wasm_name), dir.join(wasm_name))?;
    write_zip(zip, &dir, &["index.mjs", wasm_name])
}

pub fn workerd(dist: &Path, config_json: &str) -> Result<Workerd, Error> {
    let dir = fresh_dir(&dist.join("workerd"))?;
    // workerd resolves module names itself, so the worker ships unbundled; the config goes in a
    // module of its own.
    fs::copy(
        workspace_root().join("wasm/workerd/worker.mjs"),
        dir.join("worker.mjs"),
    )?;
    for name in [format!("{STEM}.js"), format!("{STEM}_bg.wasm")] {
        fs::copy(pkg_dir().join(&name), dir.join(&name))?;
    }
    fs::write(
        dir.join("config.mjs"),
        format!("export default {};\n", serde_json::to_string(config_json)?),
    )?;
    Ok(Workerd { dir })
}

/// Emptied first, so nothing left from an older build can end up in a package.
fn fresh_dir(dir: &Path) -> Result<PathBuf, Error> {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    fs::create_dir_all(dir)?;
    Ok(dir.to_path_buf())
}

/// Deterministic zip (fixed timestamps, 0644) with exactly `files` at its root.
fn write_zip(zip: &Path, dir: &Path, files: &[&str]) -> Result<(), Error> {
    crate::write_zip_atomically(zip, |file| {
        let mut out = zip::ZipWriter::new(file);
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o644);
        for name in files {
            out.start_file(*name, options)?;
            out.write_all(&fs::read(dir.join(name))?)?;
        }
        out.finish()?;
        Ok(())
    })
}
