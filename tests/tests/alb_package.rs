//! The alb-fn upload (`cargo xtask alb-fn`): a `provided.al2023` zip holding exactly an
//! executable `bootstrap`, a static ELF of the requested architecture, that starts on its own
//! (nothing from the repository beside it) against the stack's own Runtime API server and answers
//! an ALB event.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use edge_persist_tests::fixture;
use edge_stack::runtime_api::{Reply, RuntimeApi};
use object::elf;
use object::read::elf::{Dyn, ElfFile64, FileHeader, ProgramHeader};
use xtask::Arch;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("edge-persist-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Opens the zip: exactly `bootstrap`, mode 0755; returns the unzipped directory.
fn unzip_checked(zip: &Path, into: &Path) -> PathBuf {
    let mut archive = zip::ZipArchive::new(File::open(zip).unwrap()).unwrap();
    let names: Vec<&str> = archive.file_names().collect();
    assert_eq!(names, ["bootstrap"], "{}", zip.display());
    let mode = archive.by_index(0).unwrap().unix_mode().map(|m| m & 0o777);
    assert_eq!(
        mode,
        Some(0o755),
        "Lambda must be able to execute bootstrap"
    );
    archive.extract(into).unwrap();
    into.join("bootstrap")
}

/// The ELF's machine, and whether it asks for a dynamic loader or shared libraries.
struct ElfFacts {
    machine: u16,
    interpreter: bool,
    needed: usize,
}

fn elf_facts(path: &Path) -> ElfFacts {
    let data = std::fs::read(path).unwrap();
    let file = ElfFile64::<object::Endianness>::parse(&*data).expect("a 64-bit ELF");
    let endian = file.endian();
    let header = file.elf_header();
    let mut facts = ElfFacts {
        machine: header.e_machine(endian),
        interpreter: false,
        needed: 0,
    };
    for segment in header.program_headers(endian, &*data).unwrap() {
        if segment.p_type(endian) == elf::PT_INTERP {
            facts.interpreter = true;
        }
        if let Ok(Some(dynamic)) = segment.dynamic(endian, &*data) {
            facts.needed += dynamic
                .iter()
                .filter(|d| d.d_tag(endian) == elf::DT_NEEDED)
                .count();
        }
    }
    facts
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the local stack runs (`edge-stack up`, the bench) is the build Lambda runs: static, like
/// the zip's bootstrap, not the host's dynamically linked build.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn the_functions_the_stack_builds_are_static_like_the_zip() {
    let built = edge_stack::binaries::function_binaries(&["edge-fn", "alb-fn"])
        .expect("building the functions");
    for name in ["edge-fn", "alb-fn"] {
        let facts = elf_facts(&built[name]);
        assert_eq!(facts.machine, elf::EM_X86_64, "{name}");
        assert!(
            !facts.interpreter && facts.needed == 0,
            "{name} ({}): static, no dynamic loader, no shared libraries",
            built[name].display()
        );
    }
}

#[tokio::test]
async fn x86_64_zip_is_a_static_bootstrap_that_answers_an_alb_event() {
    let dir = scratch("alb-package");
    let built = xtask::build_alb_fn(&dir.join("dist"), Arch::X86_64).expect("cargo xtask alb-fn");
    eprintln!(
        "alb-fn.zip {} bytes, bootstrap {} bytes",
        built.zip_bytes, built.bootstrap_bytes
    );
    let bootstrap = unzip_checked(&built.zip, &dir.join("unzipped"));
    let facts = elf_facts(&bootstrap);
    assert_eq!(facts.machine, elf::EM_X86_64);
    assert!(
        !facts.interpreter && facts.needed == 0,
        "static: no dynamic loader, no shared libraries"
    );

    // As Lambda starts it: the unzipped directory as task root and working directory, the
    // reserved variables, nothing inherited from this test.
    let api = RuntimeApi::start(
        "arn:aws:lambda:us-east-1:123456789012:function:edge-persist-origin".into(),
    )
    .await
    .unwrap();
    let child = api
        .spawn_runtime(
            Command::new(&bootstrap)
                .current_dir(bootstrap.parent().unwrap())
                .env_clear()
                .envs([
                    ("AWS_LAMBDA_FUNCTION_NAME", "edge-persist-origin"),
                    ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
                    ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
                    (
                        "AWS_LAMBDA_LOG_GROUP_NAME",
                        "/aws/lambda/edge-persist-origin",
                    ),
                    ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]zip"),
                    ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
                    (
                        "LAMBDA_TASK_ROOT",
                        bootstrap.parent().unwrap().to_str().unwrap(),
                    ),
                    ("_HANDLER", "bootstrap"),
                ])
                .stdout(Stdio::null()),
        )
        .expect("start bootstrap");
    let _child = Killed(child);
    let event = serde_json::to_vec(&fixture("alb-request-headers-only")).unwrap();
    let reply = api.invoke("zip-1", event.into(), Duration::from_secs(20));
    match tokio::time::timeout(Duration::from_secs(20), reply).await {
        Ok(Ok(Reply::Response(body))) => {
            let body: serde_json::Value = serde_json::from_slice(&body).expect("a JSON response");
            assert_eq!(body["statusCode"], 200, "{body}");
            let text = body["body"].as_str().unwrap_or_default();
            assert!(text.starts_with("Hello from Lambda!"), "{body}");
        }
        other => panic!("expected a response from bootstrap to zip-1, got {other:?}"),
    }
}

#[test]
#[ignore = "builds a second release binary for aarch64 (minutes, and `rustup target add` on first \
            use); run: cargo test -p edge-persist-tests --test alb_package -- --ignored"]
fn arm64_zip_is_a_static_aarch64_bootstrap() {
    let dir = scratch("alb-package-arm64");
    let built = xtask::build_alb_fn(&dir.join("dist"), Arch::Arm64).expect("alb-fn --arch arm64");
    eprintln!(
        "alb-fn.zip (arm64) {} bytes, bootstrap {} bytes",
        built.zip_bytes, built.bootstrap_bytes
    );
    let bootstrap = unzip_checked(&built.zip, &dir.join("unzipped"));
    let facts = elf_facts(&bootstrap);
    assert_eq!(facts.machine, elf::EM_AARCH64);
    assert!(!facts.interpreter && facts.needed == 0, "static");
    // This machine cannot execute aarch64 code: the start-up check runs on the x86_64 zip.
}
