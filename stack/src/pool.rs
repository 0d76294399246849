//! The execution environments of one function: reuse while warm, scale out to a limit, throttle
//! beyond it, retire on idle time, lifetime, recycle or failure.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use serde::Serialize;

use crate::environment::{Environment, FunctionSpec, InvokeFailure, Served};

/// Lifecycle settings of a pool.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Most environments at once (the function's concurrency); beyond it invocations throttle.
    pub concurrency_limit: usize,
    /// An environment idle this long is reclaimed.
    pub idle_timeout: Duration,
    /// An environment older than this is retired after its current invocation.
    pub max_lifetime: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        // Observed idle lifetimes at AWS are minutes; recycling happens every few hours.
        Self {
            concurrency_limit: 10,
            idle_timeout: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(2 * 3600),
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
    pub invocations: u64,
    pub age_ms: u64,
    pub init_ms: Option<f64>,
}

struct Slot {
    env: Arc<Environment>,
    epoch: u64,
    idle_since: Option<Instant>,
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
    pub async fn invoke(&self, payload: Bytes) -> Result<Outcome, PoolError> {
        let (env, cold) = self.acquire().await?;
        let request_id = self.request_id();
        let result = env.invoke(&request_id, payload, self.spec.timeout).await;
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
        let mut retired = Vec::new();
        let found = {
            let mut inner = self.lock();
            let epoch = self.epoch.load(Ordering::Acquire);
            let settings = &self.settings;
            inner.slots.retain(|s| {
                let keep = s.idle_since.is_none()
                    || (!expired(s, settings) && s.epoch == epoch && !s.env.has_exited());
                if !keep {
                    retired.push(Arc::clone(&s.env));
                }
                keep
            });
            // Most recently used first: it is the warmest, and the others can age out.
            let idle = inner
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.idle_since.is_some())
                .max_by_key(|(_, s)| s.idle_since)
                .map(|(i, _)| i);
            match idle {
                Some(i) => {
                    let slot = &mut inner.slots[i];
                    slot.idle_since = None;
                    Some(Arc::clone(&slot.env))
                }
                None if inner.slots.len() + inner.starting < settings.concurrency_limit => {
                    inner.starting += 1;
                    None
                }
                None => {
                    drop(inner);
                    retire(retired);
                    return Err(PoolError::Throttled {
                        function: self.spec.name.clone(),
                        limit: self.settings.concurrency_limit,
                    });
                }
            }
        };
        retire(retired);
        if let Some(env) = found {
            return Ok((env, false));
        }
        let spawned = Environment::spawn(&self.spec, &self.logs_root, &[]).await;
        let mut inner = self.lock();
        inner.starting -= 1;
        let env = Arc::new(spawned.map_err(|source| PoolError::Spawn {
            function: self.spec.name.clone(),
            source,
        })?);
        inner.slots.push(Slot {
            env: Arc::clone(&env),
            epoch: self.epoch.load(Ordering::Acquire),
            idle_since: None,
        });
        Ok((env, true))
    }

    fn release(&self, env: &Arc<Environment>, discard: bool) {
        let mut inner = self.lock();
        let epoch = self.epoch.load(Ordering::Acquire);
        let Some(pos) = inner.slots.iter().position(|s| Arc::ptr_eq(&s.env, env)) else {
            return;
        };
        let slot = &mut inner.slots[pos];
        let old = slot.env.created.elapsed() >= self.settings.max_lifetime;
        if discard || old || slot.epoch != epoch || slot.env.has_exited() {
            let slot = inner.slots.swap_remove(pos);
            drop(inner);
            retire(vec![slot.env]);
        } else {
            slot.idle_since = Some(Instant::now());
        }
    }

    /// Retire every environment: idle ones now, busy ones after their invocation. Returns how
    /// many were retired or marked.
    pub fn recycle(&self) -> usize {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let mut inner = self.lock();
        let count = inner.slots.len();
        let mut retired = Vec::new();
        // Busy ones stay until `release` sees their old epoch.
        inner.slots.retain(|s| {
            let keep = s.idle_since.is_none();
            if !keep {
                retired.push(Arc::clone(&s.env));
            }
            keep
        });
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
                busy: s.idle_since.is_none(),
                invocations: s.env.invocations(),
                age_ms: s.env.created.elapsed().as_millis() as u64,
                init_ms: s.env.init_duration().map(|d| d.as_secs_f64() * 1000.0),
            })
            .collect()
    }
}

fn expired(slot: &Slot, settings: &PoolSettings) -> bool {
    let idle_for = slot.idle_since.map(|t| t.elapsed()).unwrap_or_default();
    idle_for >= settings.idle_timeout || slot.env.created.elapsed() >= settings.max_lifetime
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
        let mut retired = Vec::new();
        {
            let mut inner = pool.lock();
            let settings = &pool.settings;
            inner.slots.retain(|s| {
                let keep = s.idle_since.is_none() || !(expired(s, settings) || s.env.has_exited());
                if !keep {
                    retired.push(Arc::clone(&s.env));
                }
                keep
            });
        }
        retire(retired);
    }
}
