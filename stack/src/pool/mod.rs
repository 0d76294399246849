//! The execution environments of one function: reuse while warm, scale out to a limit, throttle
//! beyond it, retire on idle time, lifetime, recycle or failure.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use serde::Serialize;

use crate::environment::{Environment, FunctionSpec, InvokeFailure, Served};

mod decision;
pub use decision::{Decision, Limits, SlotView, decide};

/// Lifecycle settings of a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    /// Most environments at once (the function's concurrency); beyond it invocations throttle.
    pub concurrency_limit: usize,
    /// An environment idle this long is reclaimed.
    pub idle_timeout: Duration,
    /// An environment older than this is retired after its current invocation.
    pub max_lifetime: Duration,
    /// Invocations one environment takes at once: 1 as in classic Lambda, N with Lambda Managed
    /// Instances (the runtime is told through `AWS_LAMBDA_MAX_CONCURRENCY`).
    pub per_environment_concurrency: usize,
}

impl Default for PoolSettings {
    fn default() -> Self {
        // Observed idle lifetimes at AWS are minutes; recycling happens every few hours.
        Self {
            concurrency_limit: 10,
            idle_timeout: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(2 * 3600),
            per_environment_concurrency: 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("throttled: all {limit} environments of {function} are busy (Rate Exceeded)")]
    Throttled { function: String, limit: usize },
    #[error("cannot start an environment of {function}: {source}")]
    Spawn {
        function: String,
        source: std::io::Error,
    },
    #[error("environment {environment_id}: {failure}")]
    Invoke {
        environment_id: String,
        cold: bool,
        failure: InvokeFailure,
    },
}

/// A served invocation and where it ran.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub served: Served,
    pub environment_id: String,
    pub cold: bool,
}

/// What `status` reports per environment.
#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentStatus {
    pub id: String,
    pub pid: u32,
    pub busy: bool,
    pub in_flight: usize,
    pub invocations: u64,
    pub age_ms: u64,
    pub init_ms: Option<f64>,
}

struct Slot {
    env: Arc<Environment>,
    epoch: u64,
    in_flight: usize,
    /// Set while `in_flight` is 0.
    idle_since: Option<Instant>,
}

impl Slot {
    fn view(&self, epoch: u64) -> SlotView {
        SlotView {
            in_flight: self.in_flight,
            idle_since: self.idle_since,
            usable: self.epoch == epoch && !self.env.has_exited(),
        }
    }

    /// An idle environment past its idle time or lifetime at `now`.
    fn expired(&self, now: Instant, settings: &PoolSettings) -> bool {
        decision::expired(
            self.idle_since,
            self.env.created,
            now,
            settings.idle_timeout,
            settings.max_lifetime,
        )
    }
}

#[derive(Default)]
struct Inner {
    slots: Vec<Slot>,
    /// Environments being spawned: they count against the limit already.
    starting: usize,
}

pub struct Pool {
    pub spec: FunctionSpec,
    settings: PoolSettings,
    logs_root: PathBuf,
    inner: Mutex<Inner>,
    epoch: AtomicU64,
    request_counter: AtomicU64,
    /// Told when a new environment joined the pool.
    ready: tokio::sync::Notify,
}

impl Pool {
    /// A pool with a reaper task that retires idle and old environments.
    pub fn new(spec: FunctionSpec, settings: PoolSettings, logs_root: PathBuf) -> Arc<Self> {
        let pool = Arc::new(Self {
            spec,
            settings,
            logs_root,
            inner: Mutex::default(),
            epoch: AtomicU64::new(0),
            request_counter: AtomicU64::new(0),
            ready: tokio::sync::Notify::new(),
        });
        let weak = Arc::downgrade(&pool);
        tokio::spawn(reap(weak));
        pool
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn settings(&self) -> &PoolSettings {
        &self.settings
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Invoke the function once with `payload` (synchronous invocation, as CloudFront and ALB do).
    ///
    /// The invocation runs in a task of its own, detached from the caller: a caller that goes
    /// away (its client hung up, CloudFront gave up on the origin) does not stop it, as in Lambda
    /// an invocation runs to its end once started. The environment stays busy until the function
    /// answers, END and REPORT are written, and a cold start in progress completes.
    pub async fn invoke(self: &Arc<Self>, payload: Bytes) -> Result<Outcome, PoolError> {
        let pool = Arc::clone(self);
        let task = tokio::spawn(async move { pool.invoke_to_end(payload).await });
        match task.await {
            Ok(result) => result,
            // The task panicked or the runtime is shutting down: an invocation with no answer.
            Err(e) => Err(PoolError::Invoke {
                environment_id: String::new(),
                cold: false,
                failure: InvokeFailure::Exited(format!("invocation task ended: {e}")),
            }),
        }
    }

    async fn invoke_to_end(&self, payload: Bytes) -> Result<Outcome, PoolError> {
        // A warm environment found dead before it took the invocation is discarded and the
        // invocation goes to another one: it never reached a function. Bounded, so a function
        // that always dies between invocations still fails.
        let mut attempts = 0;
        let (env, cold, result) = loop {
            attempts += 1;
            let (env, cold) = self.acquire().await?;
            let request_id = self.request_id();
            let result = env
                .invoke(&request_id, payload.clone(), self.spec.timeout)
                .await;
            match result {
                Err(InvokeFailure::Gone(_)) if attempts < 3 => self.release(&env, true),
                result => break (env, cold, result),
            }
        };
        match result {
            Ok(served) => {
                self.release(&env, false);
                Ok(Outcome {
                    served,
                    environment_id: env.id.clone(),
                    cold,
                })
            }
            Err(failure) => {
                self.release(&env, failure.discards_environment());
                Err(PoolError::Invoke {
                    environment_id: env.id.clone(),
                    cold,
                    failure,
                })
            }
        }
    }

    /// A UUID-shaped request id, as Lambda's.
    fn request_id(&self) -> String {
        let n = self.request_counter.fetch_add(1, Ordering::Relaxed);
        let r = crate::environment::random_hex(14);
        format!(
            "{}-{}-{}-{}-{:04x}{}",
            &r[0..8],
            &r[8..12],
            &r[12..16],
            &r[16..20],
            n & 0xffff,
            &r[20..28]
        )
    }

    async fn acquire(&self) -> Result<(Arc<Environment>, bool), PoolError> {
        loop {
            let notified = self.ready.notified();
            match self.choose() {
                Chosen::Warm(env) => return Ok((env, false)),
                Chosen::Start => return self.spawn().await,
                // With managed concurrency a starting environment has room for more: wait for it
                // instead of throttling (bounded by Lambda's init limit).
                Chosen::Wait => {
                    if tokio::time::timeout(crate::environment::INIT_TIMEOUT, notified)
                        .await
                        .is_err()
                    {
                        return Err(self.throttled());
                    }
                }
                Chosen::Throttle => return Err(self.throttled()),
            }
        }
    }

    fn throttled(&self) -> PoolError {
        PoolError::Throttled {
            function: self.spec.name.clone(),
            limit: self.settings.concurrency_limit,
        }
    }

    /// Drop idle environments that may take nothing more, then apply [`decide`] and book its
    /// choice (a slot taken, a start counted) under the same lock.
    fn choose(&self) -> Chosen {
        let now = Instant::now();
        let mut inner = self.lock();
        let epoch = self.epoch.load(Ordering::Acquire);
        let settings = &self.settings;
        let retired = drain_retired(&mut inner.slots, |s| {
            s.idle_since.is_some()
                && (s.expired(now, settings) || s.epoch != epoch || s.env.has_exited())
        });
        let views: Vec<SlotView> = inner.slots.iter().map(|s| s.view(epoch)).collect();
        let limits = Limits {
            concurrency: settings.concurrency_limit,
            per_environment: settings.per_environment_concurrency,
        };
        let chosen = match decide(&views, inner.starting, limits) {
            Decision::Warm(i) => {
                let slot = &mut inner.slots[i];
                slot.in_flight += 1;
                slot.idle_since = None;
                Chosen::Warm(Arc::clone(&slot.env))
            }
            Decision::Start => {
                inner.starting += 1;
                Chosen::Start
            }
            Decision::Wait => Chosen::Wait,
            Decision::Throttle => Chosen::Throttle,
        };
        drop(inner);
        retire(retired);
        chosen
    }

    async fn spawn(&self) -> Result<(Arc<Environment>, bool), PoolError> {
        let per_env = self.settings.per_environment_concurrency.max(1);
        let extra: Vec<(String, String)> = if per_env > 1 {
            vec![("AWS_LAMBDA_MAX_CONCURRENCY".into(), per_env.to_string())]
        } else {
            vec![]
        };
        let spawned = Environment::spawn(&self.spec, &self.logs_root, &extra).await;
        let result = {
            let mut inner = self.lock();
            inner.starting -= 1;
            spawned.map(Arc::new).inspect(|env| {
                inner.slots.push(Slot {
                    env: Arc::clone(env),
                    epoch: self.epoch.load(Ordering::Acquire),
                    in_flight: 1,
                    idle_since: None,
                });
            })
        };
        self.ready.notify_waiters();
        let env = result.map_err(|source| PoolError::Spawn {
            function: self.spec.name.clone(),
            source,
        })?;
        Ok((env, true))
    }

    fn release(&self, env: &Arc<Environment>, discard: bool) {
        let mut inner = self.lock();
        let epoch = self.epoch.load(Ordering::Acquire);
        let Some(pos) = inner.slots.iter().position(|s| Arc::ptr_eq(&s.env, env)) else {
            return;
        };
        let slot = &mut inner.slots[pos];
        slot.in_flight = slot.in_flight.saturating_sub(1);
        let old = slot.env.created.elapsed() >= self.settings.max_lifetime;
        // A crash or timeout ends the environment at once (its other invocations fail with it);
        // retirement for age or recycling waits until nothing runs in it.
        let retiring = old || slot.epoch != epoch;
        if discard || slot.env.has_exited() || (retiring && slot.in_flight == 0) {
            let slot = inner.slots.swap_remove(pos);
            drop(inner);
            retire(vec![slot.env]);
        } else if slot.in_flight == 0 {
            slot.idle_since = Some(Instant::now());
        }
    }

    /// Retire every environment: idle ones now, busy ones after their invocation. Returns how
    /// many were retired or marked.
    pub fn recycle(&self) -> usize {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let mut inner = self.lock();
        let count = inner.slots.len();
        // Busy ones stay until `release` sees their old epoch.
        let retired = drain_retired(&mut inner.slots, |s| s.idle_since.is_some());
        drop(inner);
        retire(retired);
        count
    }

    /// Kill every environment and wait for them to be gone.
    pub async fn shutdown(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let envs: Vec<_> = self.lock().slots.drain(..).map(|s| s.env).collect();
        for env in envs {
            env.shutdown().await;
        }
    }

    pub fn status(&self) -> Vec<EnvironmentStatus> {
        self.lock()
            .slots
            .iter()
            .map(|s| EnvironmentStatus {
                id: s.env.id.clone(),
                pid: s.env.pid,
                busy: s.in_flight > 0,
                in_flight: s.in_flight,
                invocations: s.env.invocations(),
                age_ms: s.env.created.elapsed().as_millis() as u64,
                init_ms: s.env.init_duration().map(|d| d.as_secs_f64() * 1000.0),
            })
            .collect()
    }
}

/// What `choose` books for one invocation.
enum Chosen {
    Warm(Arc<Environment>),
    Start,
    Wait,
    Throttle,
}

/// Remove the slots `retire_it` picks and return their environments.
fn drain_retired(
    slots: &mut Vec<Slot>,
    retire_it: impl Fn(&Slot) -> bool,
) -> Vec<Arc<Environment>> {
    let mut retired = Vec::new();
    slots.retain(|s| {
        let gone = retire_it(s);
        if gone {
            retired.push(Arc::clone(&s.env));
        }
        !gone
    });
    retired
}

/// Kill environments in the background: callers hold no lock and do not wait for exits.
fn retire(envs: Vec<Arc<Environment>>) {
    for env in envs {
        tokio::spawn(async move { env.shutdown().await });
    }
}

/// Retire idle environments past their idle time or lifetime, a few times a second.
async fn reap(pool: Weak<Pool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tick.tick().await;
        let Some(pool) = pool.upgrade() else { return };
        let now = Instant::now();
        let retired = {
            let mut inner = pool.lock();
            let settings = &pool.settings;
            drain_retired(&mut inner.slots, |s| {
                s.idle_since.is_some() && (s.expired(now, settings) || s.env.has_exited())
            })
        };
        retire(retired);
    }
}
