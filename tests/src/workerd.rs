//! Run the built worker (dist/workerd) in the pinned `workerd` on loopback, proxying to an origin.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::wasm::{packages, workerd};

/// A running workerd, killed on drop.
pub struct Workerd(pub Child);

impl Drop for Workerd {
    /// `node_modules/.bin/workerd` can be npm's JS shim, which runs the native binary as its
    /// child: killing the shim alone left that child serving the port. Kill the whole group.
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback address nothing listens on yet (workerd takes the port by itself).
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// The worker's files plus a capnp config in a directory of their own (capnp `embed`s relative
/// paths), serving on `listen` and proxying to `origin`.
pub fn config_dir(listen: SocketAddr, origin: SocketAddr) -> PathBuf {
    let src = &packages().workerd.dir;
    let dir = std::env::temp_dir().join(format!(
        "edge-persist-workerd-{}-{}",
        std::process::id(),
        listen.port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let config = format!(
        r#"using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .edge),
    (name = "origin", external = (address = "{origin}", http = ())),
  ],
  sockets = [(name = "http", address = "{listen}", http = (), service = "main")],
);
const edge :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    (name = "edge_persist_wasm.js", esModule = embed "edge_persist_wasm.js"),
    (name = "config.mjs", esModule = embed "config.mjs"),
    (name = "edge_persist_wasm_bg.wasm", wasm = embed "edge_persist_wasm_bg.wasm"),
  ],
  bindings = [(name = "ORIGIN", service = "origin")],
  compatibilityDate = "2025-01-01",
);
"#
    );
    std::fs::write(dir.join("config.capnp"), config).unwrap();
    dir
}

/// Start workerd on `dir`'s config and wait until it accepts connections on `listen`.
pub fn start(dir: &Path, listen: SocketAddr) -> Workerd {
    use std::os::unix::process::CommandExt;
    let child = Command::new(workerd())
        .args(["serve", "config.capnp"])
        // Its own process group, so drop can end the shim and the binary it starts together.
        .process_group(0)
        .current_dir(dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn workerd");
    let mut workerd = Workerd(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(listen).is_err() {
        if let Some(status) = workerd.0.try_wait().unwrap() {
            panic!("workerd exited before listening: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "workerd did not listen on {listen} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    workerd
}
