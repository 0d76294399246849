//! One execution environment's state: identity, invocation counter and the persisted value.
//!
//! State lives per execution environment, not globally: AWS runs one environment per concurrent
//! request (per Region at the edge) and recycles them, so two environments hold two values.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};

/// The article's `dataToPersist`: RFC 3339 UTC with milliseconds, e.g. `2026-11-27T00:21:07.123Z`.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An environment id from 128 random bits (the caller owns randomness): 32 lowercase hex digits.
pub fn id_from_bytes(bytes: [u8; 16]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How many invocations the environment runs at once: `AWS_LAMBDA_MAX_CONCURRENCY` (Lambda
/// Managed Instances), else 1 (classic Lambda: one at a time). The functions size their async
/// runtime by it: a single thread when invocations come one at a time.
pub fn max_concurrency(lookup: impl Fn(&str) -> Option<String>) -> usize {
    lookup("AWS_LAMBDA_MAX_CONCURRENCY")
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1)
}

/// One life of an environment: replaced wholesale by [`Environment::reset`].
#[derive(Debug)]
struct Generation {
    id: Arc<str>,
    started_at: DateTime<Utc>,
    invocations: AtomicU64,
    persisted: OnceLock<Arc<str>>,
}

/// What one invocation learns about its environment. The id and the persisted value are shared
/// with the environment (`Arc<str>`): they do not change between invocations, so an invocation
/// copies no text of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invocation {
    #[serde(serialize_with = "serialize_str")]
    pub environment_id: Arc<str>,
    /// 1 for the first invocation of this environment.
    pub number: u64,
    /// True for exactly one invocation per environment: the first.
    pub cold: bool,
    /// Milliseconds since the environment started (0 when the clock went back).
    pub age_ms: u64,
    #[serde(serialize_with = "serialize_str")]
    pub persisted: Arc<str>,
}

/// An `Arc<str>` as a JSON string (serde's own impl needs its `rc` feature for the whole build).
fn serialize_str<S: Serializer>(s: &Arc<str>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(s)
}

impl Invocation {
    pub fn temperature(&self) -> &'static str {
        if self.cold { "cold" } else { "warm" }
    }
}

/// `Send + Sync` state shared by every invocation of one execution environment.
#[derive(Debug)]
pub struct Environment {
    current: RwLock<Arc<Generation>>,
}

impl Environment {
    /// `id` comes from the caller (the functions use 128-bit random hex), `now` is the start time.
    pub fn new(id: impl Into<String>, now: DateTime<Utc>) -> Self {
        Self {
            current: RwLock::new(Arc::new(Generation::new(id.into(), now))),
        }
    }

    /// Counts one invocation and returns the persisted value, created from `now` if this is the
    /// first invocation. Race-free: concurrent first invocations all return the one value that
    /// won `OnceLock::get_or_init`.
    pub fn invoke(&self, now: DateTime<Utc>) -> Invocation {
        let generation = self.generation();
        let number = generation.invocations.fetch_add(1, Ordering::AcqRel) + 1;
        let persisted = generation
            .persisted
            .get_or_init(|| format_time(now).into())
            .clone();
        let age_ms = (now - generation.started_at).num_milliseconds().max(0) as u64;
        Invocation {
            environment_id: Arc::clone(&generation.id),
            number,
            cold: number == 1,
            age_ms,
            persisted,
        }
    }

    /// New identity after a SnapStart restore (or a test's "new environment"): the id and random
    /// seeds made during init would otherwise be shared by every restored copy.
    pub fn reset(&self, id: impl Into<String>, now: DateTime<Utc>) {
        let fresh = Arc::new(Generation::new(id.into(), now));
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
    }

    pub fn id(&self) -> String {
        self.generation().id.to_string()
    }

    pub fn started_at(&self) -> DateTime<Utc> {
        self.generation().started_at
    }

    pub fn invocations(&self) -> u64 {
        self.generation().invocations.load(Ordering::Acquire)
    }

    /// The persisted value, if the first invocation has happened.
    pub fn persisted(&self) -> Option<String> {
        self.generation().persisted.get().map(|p| p.to_string())
    }

    fn generation(&self) -> Arc<Generation> {
        // A panic while holding the lock cannot leave a half-written Arc: recover the value.
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Generation {
    fn new(id: String, started_at: DateTime<Utc>) -> Self {
        Self {
            id: id.into(),
            started_at,
            invocations: AtomicU64::new(0),
            persisted: OnceLock::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap()
    }

    #[test]
    fn first_invocation_sets_the_value_then_it_stays() {
        let env = Environment::new("e1", t0());
        let first = env.invoke(t0() + Duration::milliseconds(5));
        assert!(first.cold);
        assert_eq!(&*first.persisted, "2026-11-27T00:00:00.005Z");
        for i in 2..=100u64 {
            let now = t0() + Duration::seconds(i as i64);
            let inv = env.invoke(now);
            assert_eq!(
                (inv.number, inv.cold, &*inv.persisted),
                (i, false, "2026-11-27T00:00:00.005Z")
            );
            assert_eq!(inv.age_ms, i * 1000);
        }
    }

    #[test]
    fn reset_starts_a_new_generation() {
        let env = Environment::new("e1", t0());
        env.invoke(t0());
        env.reset("e2", t0() + Duration::seconds(1));
        let inv = env.invoke(t0() + Duration::seconds(2));
        assert_eq!(
            (&*inv.environment_id, inv.number, inv.cold),
            ("e2", 1, true)
        );
        assert_eq!(&*inv.persisted, "2026-11-27T00:00:02.000Z");
    }

    #[test]
    fn clock_going_back_gives_age_zero() {
        let env = Environment::new("e1", t0());
        assert_eq!(env.invoke(t0() - Duration::seconds(3)).age_ms, 0);
    }
}
