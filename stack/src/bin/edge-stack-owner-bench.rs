//! What the Runtime API's owner check costs (not a test: numbers go to docs/PERFORMANCE.md).
//!
//! Two servers of the same routes in one process, one with the owner check at accept and one
//! without (the baseline), answer the same request (`GET` of an unknown route, 404) from this
//! process, alternating rounds:
//! - a new connection per request (the check runs for each),
//! - requests on one keep-alive connection after its first (the check ran once, when it was
//!   accepted, and the first request waited for it).
//!
//! Twice: first with the owner group being this process's group while another process leads it
//! (the check scans `/proc` for the group's members), then with this process leading its own group
//! (the check finds the socket with the leader, as it does for a runtime, which leads its
//! environment's group).
//!
//! `cargo run --release -p edge-stack --bin edge-stack-owner-bench [-- --runs 7 --requests 500]`

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use clap::Parser;
use edge_stack::runtime_api::{RuntimeApi, owner, unfed_router};
use edge_stack::serve::{ListenerLimits, serve};

#[derive(Parser)]
struct Opts {
    /// Rounds per measurement; medians are reported.
    #[arg(long, default_value_t = 7)]
    runs: usize,
    /// Requests per round.
    #[arg(long, default_value_t = 500)]
    requests: usize,
}

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:bench";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One request and its whole answer (head, then `content-length` bytes).
fn exchange(conn: &mut TcpStream, close: bool) {
    let connection = if close { "close" } else { "keep-alive" };
    write!(
        conn,
        "GET /2018-06-01/runtime/bench HTTP/1.1\r\nhost: bench\r\nconnection: {connection}\r\n\r\n"
    )
    .expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = conn.read(&mut buf).expect("read");
        assert!(
            n > 0,
            "closed before the answer: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some(end) = text.find("\r\n\r\n") {
            let head = &text[..end];
            assert!(head.starts_with("HTTP/1.1 404"), "{head}");
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse().ok())
                .expect("content-length");
            if got.len() >= end + 4 + length {
                return;
            }
        }
    }
}

/// Microseconds per request: a new connection each, or all on one.
fn round(addr: SocketAddr, requests: usize, keep_alive: bool) -> f64 {
    if keep_alive {
        let mut conn = TcpStream::connect(addr).expect("connect");
        conn.set_nodelay(true).expect("nodelay");
        // The connection's first request waits for its check: not timed, this is the hot path.
        exchange(&mut conn, false);
        let start = Instant::now();
        for _ in 0..requests {
            exchange(&mut conn, false);
        }
        return start.elapsed().as_secs_f64() * 1e6 / requests as f64;
    }
    let start = Instant::now();
    {
        for _ in 0..requests {
            let mut conn = TcpStream::connect(addr).expect("connect");
            conn.set_nodelay(true).expect("nodelay");
            exchange(&mut conn, true);
        }
    }
    start.elapsed().as_secs_f64() * 1e6 / requests as f64
}

/// (checked, baseline) medians in us per request, alternating rounds.
fn compare(
    checked: SocketAddr,
    plain: SocketAddr,
    opts: &Opts,
    keep_alive: bool,
) -> (f64, f64, Vec<f64>, Vec<f64>) {
    let (mut c, mut p) = (Vec::new(), Vec::new());
    // Warm-up of both.
    round(checked, 50, keep_alive);
    round(plain, 50, keep_alive);
    for _ in 0..opts.runs {
        c.push(round(checked, opts.requests, keep_alive));
        p.push(round(plain, opts.requests, keep_alive));
    }
    (median(c.clone()), median(p.clone()), c, p)
}

fn report(mode: &str, checked: SocketAddr, plain: SocketAddr, pgid: i32, opts: &Opts) {
    for keep_alive in [false, true] {
        let (c, p, cs, ps) = compare(checked, plain, opts, keep_alive);
        let how = if keep_alive {
            "on one keep-alive connection"
        } else {
            "new connection each"
        };
        println!(
            "| {mode} | {how} | {c:.1} | {p:.1} | {:.2}x | {:+.1} |",
            c / p,
            c - p
        );
        eprintln!("rounds us: {mode} {how}: checked {cs:.1?} baseline {ps:.1?}");
    }
    // The check alone, as the accept hook runs it (blocking part).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let local = listener.local_addr().expect("addr");
    let client = TcpStream::connect(local).expect("connect");
    let (_server, peer) = listener.accept().expect("accept");
    let mut rounds = Vec::new();
    for _ in 0..opts.runs {
        let start = Instant::now();
        for _ in 0..opts.requests {
            assert!(owner::peer_of(pgid, local, peer).admitted());
        }
        rounds.push(start.elapsed().as_secs_f64() * 1e6 / opts.requests as f64);
    }
    drop(client);
    println!(
        "| {mode} | `owner::peer_of` alone | {:.1} | - | - | - |",
        median(rounds)
    );
}

fn main() {
    let opts = Opts::parse();
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    let (api, plain) = runtime.block_on(async {
        let api = RuntimeApi::start(ARN.into()).await.expect("guarded server");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = serve(
            listener,
            unfed_router(ARN.into()),
            ListenerLimits::RUNTIME_API,
        );
        (api, (addr, server))
    });
    let processes = std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
                .count()
        })
        .unwrap_or(0);
    println!(
        "{processes} processes on the machine; {} rounds x {} requests, medians\n",
        opts.runs, opts.requests
    );
    println!(
        "| owner check finds the socket | requests | checked us/request | baseline us/request | ratio | us added |\n|---|---|---|---|---|---|"
    );
    // SAFETY: getpgrp, getpid and setpgid take plain integers and touch no memory of ours.
    let (group, me) = unsafe { (libc::getpgrp(), libc::getpid()) };
    if group != me {
        api.set_owner(group);
        report(
            "by scanning /proc (a member)",
            api.addr,
            plain.0,
            group,
            &opts,
        );
    }
    // SAFETY: as above.
    let led = unsafe { libc::setpgid(0, 0) };
    assert_eq!(led, 0, "setpgid: {}", std::io::Error::last_os_error());
    // A new owner for a new group: connections accepted from now on are checked against it.
    api.set_owner(me);
    report("with the leader", api.addr, plain.0, me, &opts);
    drop(api);
    plain.1.abort();
}
