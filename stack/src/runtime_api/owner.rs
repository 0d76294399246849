//! Who may use an environment's Runtime API: the processes of the environment's process group,
//! no other local process (docs/SECURITY.md).
//!
//! `AWS_LAMBDA_RUNTIME_API` is `host:port` only, so a runtime has no secret to show. The kernel
//! knows who holds the other end of a loopback connection, though. On Linux, the peer's socket is
//! the one whose local address is the peer's and whose remote address is the listener's; one exact
//! `sock_diag` query over netlink gives its inode (the `netlink-packet-sock-diag` crate; it is
//! what `ss` uses, and unlike `/proc/net/tcp` it does not list every socket of the machine). That
//! inode appears as an fd link `socket:[inode]` in `/proc/<pid>/fd` of each process that holds it,
//! and `/proc/<pid>/stat` gives that process's group (the `procfs` crate reads both).
//!
//! Checked once per connection, when it is accepted ([`crate::serve::Admit`]): a runtime's
//! keep-alive connection costs nothing more per invocation.
//!
//! Races, and why the function is never refused:
//! - The child is put in its own group (`setpgid`) before it execs, so its first connection
//!   already comes from the group; the environment names the group right after the spawn
//!   returns, and a connection that comes first waits for the name ([`OWNER_KNOWN_WITHIN`]).
//! - A peer that closed its socket before the check (a runtime that posts its answer and exits at
//!   once) has no holder any more: the row's inode is 0. It is admitted: a closed socket can read
//!   nothing, so no invocation can be taken through it; what it already sent is served.
//!
//! Elsewhere than Linux there is no `/proc` to ask: every local connection is admitted (the
//! stack targets Linux; docs/SECURITY.md states the gap).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// How long an accepted connection waits for the environment to name its process group (it does
/// so as soon as its child is spawned; the environment's Init limit bounds it anyway).
pub const OWNER_KNOWN_WITHIN: Duration = Duration::from_secs(10);

/// Who holds the other end of an accepted connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// A process of the owner's group (its pid).
    Member(i32),
    /// The peer closed its socket already, or no process holds it any more (an exiting runtime):
    /// nobody can read an answer on it.
    Closed,
    /// Held by a process of another group.
    Foreign,
    /// The kernel has no such socket (it is gone already).
    Gone,
    /// The kernel cannot be asked (the reason).
    Unreadable(String),
    /// Not checked: not Linux.
    Unchecked,
}

impl Peer {
    /// Whether the connection is served.
    pub fn admitted(&self) -> bool {
        matches!(self, Self::Member(_) | Self::Closed | Self::Unchecked)
    }
}

/// The process group allowed to use one environment's Runtime API, named once it exists.
pub struct Owner {
    group: watch::Sender<Option<i32>>,
}

impl Default for Owner {
    fn default() -> Self {
        Self {
            group: watch::channel(None).0,
        }
    }
}

impl Owner {
    /// From now on, connections from processes of process group `pgid` are served.
    pub fn set(&self, pgid: i32) {
        self.group.send_replace(Some(pgid));
    }

    /// The listener's hook: admit a connection when its peer is of the group. A refusal is
    /// logged (once per connection) with `label`, the environment's name.
    pub fn guard(&self, label: String) -> crate::serve::Admit {
        let group = self.group.subscribe();
        let label: Arc<str> = label.into();
        Arc::new(move |local, peer| {
            let mut group = group.clone();
            let label = Arc::clone(&label);
            Box::pin(async move {
                let known =
                    tokio::time::timeout(OWNER_KNOWN_WITHIN, group.wait_for(Option::is_some))
                        .await
                        .ok()
                        .and_then(|g| g.ok().and_then(|g| *g));
                let Some(pgid) = known else {
                    tracing::warn!(
                        "Runtime API of {label}: refused the connection from {peer}: the environment's process group is not known (it did not start)"
                    );
                    return false;
                };
                let found = tokio::task::spawn_blocking(move || peer_of(pgid, local, peer))
                    .await
                    .unwrap_or_else(|e| Peer::Unreadable(e.to_string()));
                if !found.admitted() {
                    let why = match &found {
                        Peer::Gone => "its socket is gone already".to_owned(),
                        Peer::Unreadable(e) => format!("its socket cannot be looked up: {e}"),
                        _ => format!(
                            "its socket belongs to no process of the environment's process group {pgid}"
                        ),
                    };
                    tracing::warn!(
                        "Runtime API of {label}: refused the connection from {peer}: {why}"
                    );
                }
                found.admitted()
            })
        })
    }
}

/// Who holds the other end of the connection `peer` -> `local` (a listener's view), judged
/// against process group `pgid`. Blocking: it reads `/proc`.
#[cfg(target_os = "linux")]
pub fn peer_of(pgid: i32, local: SocketAddr, peer: SocketAddr) -> Peer {
    let inode = match socket_inode(local, peer) {
        Ok(Some(inode)) => inode,
        Ok(None) => return Peer::Gone,
        Err(e) => return Peer::Unreadable(e.to_string()),
    };
    if inode == 0 {
        return Peer::Closed;
    }
    match holder(pgid, inode) {
        Ok(Some(Holder { pid, pgrp })) if pgrp == pgid => Peer::Member(pid),
        Ok(Some(_)) => Peer::Foreign,
        // Held by no process: a runtime that is exiting (it posted its answer and exits) has lost
        // its fds a moment before the kernel closes its socket. Only a process holding the socket
        // can read an answer, so one held by nobody is let in like a closed one; a stranger is
        // refused only when it is seen holding its socket.
        Ok(None) => Peer::Closed,
        Err(e) => Peer::Unreadable(e.to_string()),
    }
}

/// A process holding a socket, and its process group.
#[cfg(target_os = "linux")]
struct Holder {
    pid: i32,
    pgrp: i32,
}

/// A process that holds socket `inode`: the group's leader first (it is the runtime itself nearly
/// always), then every other process of the machine that can be read.
#[cfg(target_os = "linux")]
fn holder(pgid: i32, inode: u64) -> procfs::ProcResult<Option<Holder>> {
    if let Ok(leader) = procfs::process::Process::new(pgid)
        && let Some(found) = holding(&leader, inode)
    {
        return Ok(Some(found));
    }
    // Processes of other users, or gone since the listing, cannot be read.
    Ok(procfs::process::all_processes()?
        .flatten()
        .filter(|p| p.pid != pgid)
        .find_map(|p| holding(&p, inode)))
}

#[cfg(not(target_os = "linux"))]
pub fn peer_of(_pgid: i32, _local: SocketAddr, _peer: SocketAddr) -> Peer {
    Peer::Unchecked
}

/// `process` and its group when it holds socket `inode`.
#[cfg(target_os = "linux")]
fn holding(process: &procfs::process::Process, inode: u64) -> Option<Holder> {
    use procfs::process::FDTarget;
    let holds = process
        .fd()
        .is_ok_and(|mut fds| fds.any(|fd| fd.is_ok_and(|fd| fd.target == FDTarget::Socket(inode))));
    if !holds {
        return None;
    }
    let pgrp = process.stat().ok()?.pgrp;
    Some(Holder {
        pid: process.pid,
        pgrp,
    })
}

/// The inode of the peer's socket: the TCP socket whose local address is `peer` and remote
/// address is `local`, by one exact `SOCK_DIAG_BY_FAMILY` query (the kernel looks the socket up in
/// its hash table; a dump or `/proc/net/tcp` would list every socket of the machine). `None`
/// when there is no such socket. An IPv4 peer connected to an IPv4 listener: the stack's
/// listeners are all 127.0.0.1.
#[cfg(target_os = "linux")]
fn socket_inode(local: SocketAddr, peer: SocketAddr) -> std::io::Result<Option<u64>> {
    use netlink_packet_core::{NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload};
    use netlink_packet_sock_diag::SockDiagMessage;
    use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
    use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
    use netlink_sys::{Socket, protocols::NETLINK_SOCK_DIAG};

    let family = if peer.is_ipv4() { AF_INET } else { AF_INET6 };
    let mut header = NetlinkHeader::default();
    // No NLM_F_DUMP: one socket, found by its id.
    header.flags = NLM_F_REQUEST;
    let mut request = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::empty(),
            states: StateFlags::all(),
            socket_id: SocketId {
                source_port: peer.port(),
                destination_port: local.port(),
                source_address: peer.ip(),
                destination_address: local.ip(),
                interface_id: 0,
                // INET_DIAG_NOCOOKIE: match by address alone.
                cookie: [0xff; 8],
            },
        })
        .into(),
    );
    request.finalize();
    let mut bytes = vec![0; request.buffer_len()];
    request.serialize(&mut bytes);
    let socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.send_to(&bytes, &netlink_sys::SocketAddr::new(0, 0), 0)?;
    let mut answer = Vec::with_capacity(8192);
    socket.recv(&mut answer, 0)?;
    let parsed = NetlinkMessage::<SockDiagMessage>::deserialize(&answer)
        .map_err(|e| std::io::Error::other(format!("sock_diag answer: {e}")))?;
    match parsed.payload {
        NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(found)) => {
            Ok(Some(u64::from(found.header.inode)))
        }
        // ENOENT: no such socket (any more).
        NetlinkPayload::Error(e) if e.code.map(|c| c.get()) == Some(-libc::ENOENT) => Ok(None),
        NetlinkPayload::Error(e) => Err(e.to_io()),
        other => Err(std::io::Error::other(format!(
            "unexpected sock_diag answer: {other:?}"
        ))),
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::os::unix::process::CommandExt;

    use super::*;

    fn pgrp() -> i32 {
        // SAFETY: getpgrp takes nothing and cannot fail.
        unsafe { libc::getpgrp() }
    }

    /// This process holds the client end: a member of its own group, a stranger to any other;
    /// once the client end is closed, nobody holds it.
    #[test]
    fn the_peer_socket_is_found_by_its_holder() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(local).unwrap();
        let (_server, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        let me = i32::try_from(std::process::id()).unwrap();
        assert_eq!(peer_of(pgrp(), local, peer), Peer::Member(me));
        // Another group: a child that leads its own.
        let mut other = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let other_group = i32::try_from(other.id()).unwrap();
        assert_eq!(peer_of(other_group, local, peer), Peer::Foreign);
        let _ = other.kill();
        let _ = other.wait();
        drop(client);
        assert_eq!(peer_of(pgrp(), local, peer), Peer::Closed);
        let nobody: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(peer_of(pgrp(), local, nobody), Peer::Gone);
    }
}
