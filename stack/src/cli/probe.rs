//! `edge-stack probe URL`: measure how long memory persists at the edge (docs/PROBE.md). A
//! progress bar with live counts while it runs, a table at the end, `--json` and `--plot`
//! files; Ctrl-C stops it and still reports what was collected.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use edge_stack::probe::{self, Ask, Observation, Plan, Report, Start};
use indicatif::{ProgressBar, ProgressStyle};

use super::Result;

#[derive(Args)]
pub struct Probe {
    /// URL of a distribution (or the local stack) whose origin is alb-fn.
    url: String,
    /// Stop after this many requests (default 100 unless --duration is given).
    #[arg(long, short = 'n')]
    requests: Option<u64>,
    /// Stop after this long (e.g. 90s, 10m, at most 6h).
    #[arg(long, short = 'd', value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Requests in flight at once (each concurrent request may need its own environment).
    #[arg(long, short = 'c', default_value_t = 1)]
    concurrency: usize,
    /// Requests per second at most (at most 20 for a URL not on loopback).
    #[arg(long, short = 'r', default_value_t = 2.0)]
    rate: f64,
    /// Give up on one request after this long.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Keep cookies (alb-fn's session cookie), so requests form one session.
    #[arg(long)]
    cookie_jar: bool,
    /// Write the report as JSON (schema: docs/PROBE.md).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Draw the run as an SVG timeline.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
}

pub fn run(args: Probe) -> Result<()> {
    let plan = Plan::new(Ask {
        url: args.url.clone(),
        requests: args.requests,
        duration: args.duration,
        concurrency: args.concurrency,
        rate: args.rate,
        timeout: args.timeout,
        cookie_jar: args.cookie_jar,
    })?;
    let client = plan.client()?;
    eprintln!(
        "edge-stack probe: {} — up to {} requests, {} at most, {} /s, {} at once",
        plan.url,
        plan.max_requests,
        humantime::format_duration(plan.max_duration),
        plan.rate,
        plan.concurrency
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let bar = ProgressBar::new(plan.max_requests);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .map_err(|e| e.to_string())?
            .progress_chars("=> "),
    );
    let mut live = Live::default();
    let outcome = runtime.block_on(async {
        let stop = async {
            use tokio::signal::unix::{SignalKind, signal};
            match (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) {
                (Ok(mut int), Ok(mut term)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => std::future::pending().await,
            }
        };
        probe::run(
            &plan,
            client,
            |o| {
                live.add(o);
                bar.inc(1);
                bar.set_message(live.message());
            },
            stop,
        )
        .await
    });
    bar.finish_and_clear();
    let report = Report::new(
        plan.url.as_str(),
        edge_persist_core::format_time(outcome.started_at),
        outcome.elapsed.as_secs_f64() * 1000.0,
        outcome.interrupted,
        plan.settings(),
        outcome.observations,
    );
    if report.interrupted {
        eprintln!("edge-stack probe: interrupted; reporting what was collected");
    }
    // Files first: a closed stdout must not lose them.
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        write(path, &text)?;
    }
    if let Some(path) = &args.plot {
        write(path, &probe::plot::svg(&report)?)?;
    }
    print!("{}", report.table());
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()).into())
}

/// The counts the progress bar shows.
#[derive(Default)]
struct Live {
    environments: BTreeSet<String>,
    cold: u64,
    errors: u64,
    value: Option<String>,
}

impl Live {
    fn add(&mut self, o: &Observation) {
        if let Some(e) = &o.edge_env {
            self.environments.insert(e.clone());
        }
        self.cold += u64::from(o.edge_start == Some(Start::Cold));
        self.errors += u64::from(o.is_error());
        if o.value.is_some() {
            self.value.clone_from(&o.value);
        }
    }

    fn message(&self) -> String {
        format!(
            "envs {}  cold {}  errors {}  value {}",
            self.environments.len(),
            self.cold,
            self.errors,
            self.value.as_deref().unwrap_or("-")
        )
    }
}
