//! The network part of the probe, kept thin: send requests at a capped rate with bounded
//! concurrency until a limit or a stop signal, and turn each answer into an [`Observation`].

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc};

use super::observation::Observation;
use super::report::Settings;

/// `User-Agent` of every probe request: who is asking, and which version.
pub const USER_AGENT: &str = concat!(
    "edge-persist-probe/",
    env!("CARGO_PKG_VERSION"),
    " (edge-stack probe; measures Lambda@Edge memory persistence)"
);

/// Limits of a run that are not the user's to raise: the probe is meant to be polite to a real
/// distribution.
pub const MAX_REQUESTS: u64 = 100_000;
pub const MAX_DURATION: Duration = Duration::from_secs(6 * 3600);
pub const MAX_CONCURRENCY: usize = 32;
/// Rate cap for a URL that is not on loopback (requests per second).
pub const MAX_REMOTE_RATE: f64 = 20.0;
/// Rate cap on loopback (the local stack).
pub const MAX_LOCAL_RATE: f64 = 1000.0;
/// Slowest rate: one request every 1,000 s.
pub const MIN_RATE: f64 = 0.001;
/// Requests when neither a count nor a duration is given.
pub const DEFAULT_REQUESTS: u64 = 100;

/// What the user asked for, before checks.
#[derive(Debug, Clone)]
pub struct Ask {
    pub url: String,
    pub requests: Option<u64>,
    pub duration: Option<Duration>,
    pub concurrency: usize,
    pub rate: f64,
    pub timeout: Duration,
    pub cookie_jar: bool,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanError {
    #[error("{0:?} is not an http(s) URL: {1}")]
    Url(String, String),
    #[error("{0}")]
    Limit(String),
}

/// A checked run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub url: reqwest::Url,
    pub max_requests: u64,
    pub max_duration: Duration,
    pub concurrency: usize,
    pub rate: f64,
    pub timeout: Duration,
    pub cookie_jar: bool,
}

impl Plan {
    pub fn new(ask: Ask) -> Result<Self, PlanError> {
        let url = reqwest::Url::parse(&ask.url)
            .map_err(|e| PlanError::Url(ask.url.clone(), e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(PlanError::Url(
                ask.url,
                "need http:// or https:// and a host".into(),
            ));
        }
        let host = url.host_str().unwrap_or_default();
        let local = host == "localhost"
            || host
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        let limit = |m: String| Err(PlanError::Limit(m));
        let max_rate = if local {
            MAX_LOCAL_RATE
        } else {
            MAX_REMOTE_RATE
        };
        if !(MIN_RATE..=max_rate).contains(&ask.rate) {
            return limit(format!(
                "--rate {} is outside [{MIN_RATE}, {max_rate}] requests/s{}",
                ask.rate,
                if local {
                    ""
                } else {
                    " for a URL not on loopback"
                }
            ));
        }
        if !(1..=MAX_CONCURRENCY).contains(&ask.concurrency) {
            return limit(format!("--concurrency must be 1..={MAX_CONCURRENCY}"));
        }
        if ask.timeout.is_zero() || ask.timeout > Duration::from_secs(60) {
            return limit("--timeout must be more than 0 and at most 60s".into());
        }
        let (max_requests, max_duration) = match (ask.requests, ask.duration) {
            (None, None) => (DEFAULT_REQUESTS, MAX_DURATION),
            (Some(n), None) => (n, MAX_DURATION),
            (None, Some(d)) => (MAX_REQUESTS, d),
            (Some(n), Some(d)) => (n, d),
        };
        if !(1..=MAX_REQUESTS).contains(&max_requests) {
            return limit(format!("--requests must be 1..={MAX_REQUESTS}"));
        }
        if max_duration.is_zero() || max_duration > MAX_DURATION {
            return limit("--duration must be more than 0 and at most 6h".into());
        }
        Ok(Self {
            url,
            max_requests,
            max_duration,
            concurrency: ask.concurrency,
            rate: ask.rate,
            timeout: ask.timeout,
            cookie_jar: ask.cookie_jar,
        })
    }

    pub fn settings(&self) -> Settings {
        Settings {
            max_requests: self.max_requests,
            max_duration_ms: self.max_duration.as_millis() as u64,
            concurrency: self.concurrency,
            rate_per_second: self.rate,
            timeout_ms: self.timeout.as_millis() as u64,
            cookie_jar: self.cookie_jar,
            user_agent: USER_AGENT.to_owned(),
        }
    }

    /// The HTTP client: rustls with the platform's root certificates (reqwest's `rustls`
    /// feature), our User-Agent, the per-request timeout, a cookie jar when asked.
    pub fn client(&self) -> reqwest::Result<reqwest::Client> {
        reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(self.timeout)
            .cookie_store(self.cookie_jar)
            .build()
    }
}

/// How a run ended.
#[derive(Debug)]
pub struct Outcome {
    /// When the first request was sent.
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub elapsed: Duration,
    pub observations: Vec<Observation>,
    pub interrupted: bool,
}

/// Run `plan` until its limits or until `stop` resolves (then requests in flight are dropped
/// and the report covers what was answered). Each observation also goes to `seen` as it comes.
///
/// Pacing: a request is sent no earlier than one gap (1/rate) after the one before, counted
/// from when that one was actually sent, so a stall (all C in flight) never turns into a burst.
pub async fn run(
    plan: &Plan,
    client: reqwest::Client,
    mut seen: impl FnMut(&Observation),
    stop: impl Future<Output = ()>,
) -> Outcome {
    let started_at = chrono::Utc::now();
    let start = Instant::now();
    let deadline = start + plan.max_duration;
    let gap = Duration::from_secs_f64(1.0 / plan.rate);
    let permits = Arc::new(Semaphore::new(plan.concurrency));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut observations = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut sent = 0u64;
    let mut next = start;
    tokio::pin!(stop);
    let mut interrupted = false;
    loop {
        let can_send = sent < plan.max_requests && next < deadline;
        if !can_send && tasks.is_empty() && rx.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            () = &mut stop => {
                interrupted = true;
                break;
            }
            Some(o) = rx.recv() => {
                seen(&o);
                observations.push(o);
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            permit = wait_then_acquire(next, &permits), if can_send => {
                let Ok(permit) = permit else { break };
                let now = Instant::now();
                next = now + gap;
                let (client, url, tx, seq) = (client.clone(), plan.url.clone(), tx.clone(), sent);
                tasks.spawn(async move {
                    let o = request(&client, url, seq, start, now).await;
                    drop(permit);
                    let _ = tx.send(o);
                });
                sent += 1;
            }
            () = tokio::time::sleep_until(deadline.into()), if !can_send && Instant::now() < deadline => {}
        }
    }
    tasks.abort_all();
    while let Ok(o) = rx.try_recv() {
        seen(&o);
        observations.push(o);
    }
    Outcome {
        started_at,
        elapsed: start.elapsed(),
        observations,
        interrupted,
    }
}

async fn wait_then_acquire(
    at: Instant,
    permits: &Arc<Semaphore>,
) -> Result<tokio::sync::OwnedSemaphorePermit, tokio::sync::AcquireError> {
    tokio::time::sleep_until(at.into()).await;
    Arc::clone(permits).acquire_owned().await
}

/// One request, dispatched at `sent`.
async fn request(
    client: &reqwest::Client,
    url: reqwest::Url,
    seq: u64,
    start: Instant,
    sent: Instant,
) -> Observation {
    let sent_ms = ms(sent - start);
    let result = async {
        let resp = client.get(url).send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        // The whole body, so latency is the full answer and the connection can be reused.
        resp.bytes().await?;
        Ok::<_, reqwest::Error>((status, headers))
    }
    .await;
    let latency_ms = ms(sent.elapsed());
    match result {
        Ok((status, headers)) => Observation::answered(seq, sent_ms, latency_ms, status, &headers),
        Err(e) => {
            let failure = if e.is_timeout() {
                "timeout"
            } else if e.is_connect() {
                "connect"
            } else {
                "transport"
            };
            Observation::failed(seq, sent_ms, latency_ms, failure)
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(url: &str) -> Ask {
        Ask {
            url: url.into(),
            requests: None,
            duration: None,
            concurrency: 1,
            rate: 2.0,
            timeout: Duration::from_secs(10),
            cookie_jar: false,
        }
    }

    #[test]
    fn defaults_are_bounded() {
        let p = Plan::new(ask("https://d111111abcdef8.cloudfront.net/")).unwrap();
        assert_eq!(p.max_requests, DEFAULT_REQUESTS);
        assert_eq!(p.max_duration, MAX_DURATION);
        assert!(USER_AGENT.starts_with("edge-persist-probe/0."));
    }

    #[test]
    fn impolite_or_bad_asks_are_refused_with_the_reason() {
        let remote = "https://example.com/";
        let cases: Vec<(Ask, &str)> = vec![
            (
                Ask {
                    rate: 50.0,
                    ..ask(remote)
                },
                "not on loopback",
            ),
            (
                Ask {
                    rate: 0.0,
                    ..ask(remote)
                },
                "--rate",
            ),
            (
                Ask {
                    rate: f64::NAN,
                    ..ask(remote)
                },
                "--rate",
            ),
            (
                Ask {
                    rate: 1e-300,
                    ..ask(remote)
                },
                "--rate",
            ),
            (
                Ask {
                    concurrency: 0,
                    ..ask(remote)
                },
                "--concurrency",
            ),
            (
                Ask {
                    requests: Some(0),
                    ..ask(remote)
                },
                "--requests",
            ),
            (
                Ask {
                    duration: Some(Duration::ZERO),
                    ..ask(remote)
                },
                "--duration",
            ),
            (
                Ask {
                    timeout: Duration::from_secs(600),
                    ..ask(remote)
                },
                "--timeout",
            ),
            (ask("ftp://example.com/"), "http"),
            (ask("not a url"), "not an http(s) URL"),
        ];
        for (a, why) in cases {
            let e = Plan::new(a.clone()).unwrap_err().to_string();
            assert!(e.contains(why), "{a:?}: {e}");
        }
        assert!(
            Plan::new(Ask {
                rate: 50.0,
                ..ask("http://127.0.0.1:8080/")
            })
            .is_ok()
        );
    }
}
