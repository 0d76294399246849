//! Per-session state under a hard memory budget.
//!
//! The article's closing warning: per-session data kept in a function's memory can exhaust it.
//! This store never holds more than its budget in bytes (keys, values and per-entry overhead all
//! counted), evicts when full (quick_cache's CLOCK-Pro-like policy: scan resistant, better than
//! plain LRU), expires idle entries, and never keys anything by the raw session token: tokens are
//! hashed with a per-environment secret, so logs and memory dumps show no token.

use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use quick_cache::sync::Cache;
use quick_cache::{Lifecycle, Weighter};
use serde::Serialize;
use siphasher::sip128::{Hasher128, SipHasher13};

/// A session token after keyed hashing: 128 bits, never the token itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey([u8; 16]);

/// One session's state in this environment.
#[derive(Debug)]
pub struct Session {
    first_seen_ms: i64,
    hits: AtomicU64,
    /// Idle expiry, pushed forward on every hit.
    expires_at_ms: AtomicI64,
    data: Box<[u8]>,
}

impl Session {
    pub fn first_seen(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.first_seen_ms).unwrap_or_default()
    }

    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }

    fn expired(&self, now_ms: i64) -> bool {
        self.expires_at_ms.load(Ordering::Relaxed) <= now_ms
    }
}

/// Bytes one entry costs besides its data, measured rather than guessed (see
/// docs/PERFORMANCE.md, "bytes per entry"): the key and `Arc` pointer in quick_cache's slab
/// entry with its bookkeeping, the hash-table slot, the `Arc` allocation (two counters and a
/// [`Session`]) and the allocator's per-allocation overhead.
pub const ENTRY_OVERHEAD: u64 = 16 + 8 + 32 + 16 + 16 + std::mem::size_of::<Session>() as u64;

/// Bytes the allocator really takes for `len` bytes of data (16-byte granules; none for empty).
fn data_cost(len: usize) -> u64 {
    if len == 0 {
        0
    } else {
        (len as u64).div_ceil(16) * 16 + 8
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct SessionWeighter;

impl Weighter<SessionKey, Arc<Session>> for SessionWeighter {
    fn weight(&self, _key: &SessionKey, value: &Arc<Session>) -> u64 {
        ENTRY_OVERHEAD + data_cost(value.data.len())
    }
}

/// Counts evictions (quick_cache reports them through its lifecycle hooks).
#[derive(Debug, Clone, Default)]
struct CountEvictions(Arc<AtomicU64>);

impl Lifecycle<SessionKey, Arc<Session>> for CountEvictions {
    type RequestState = ();

    fn on_evict(&self, _state: &mut (), _key: SessionKey, _value: Arc<Session>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// The key is already a keyed 128-bit hash the client cannot choose, so hashing it again would
/// only cost time: take its first 64 bits. Written here because no crate offers "use these bytes
/// as the hash" for a fixed-size key.
#[derive(Debug, Default)]
struct KeyBitsHasher(u64);

impl Hasher for KeyBitsHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }
}

type KeyBits = BuildHasherDefault<KeyBitsHasher>;

/// What a visit did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Visit {
    /// First time this environment saw the session.
    pub first_seen: DateTime<Utc>,
    /// Requests of this session in this environment, this one included.
    pub hits: u64,
    /// True when this request created the entry (first visit, or after eviction/expiry).
    pub new: bool,
}

/// Counters and gauges of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct StoreStats {
    pub entries: u64,
    pub bytes: u64,
    pub budget: u64,
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    pub expirations: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("session budget of {budget} bytes is below the minimum of {min} (one entry)")]
    BudgetTooSmall { budget: u64, min: u64 },
    #[error("session TTL must be at least 1 ms")]
    ZeroTtl,
}

/// A session store: `Send + Sync`, O(1) expected per operation.
#[derive(Debug)]
pub struct SessionStore {
    cache: Cache<SessionKey, Arc<Session>, SessionWeighter, KeyBits, CountEvictions>,
    secret: [u8; 16],
    ttl_ms: i64,
    budget: u64,
    hits: AtomicU64,
    misses: AtomicU64,
    expirations: AtomicU64,
    evictions: Arc<AtomicU64>,
}

impl SessionStore {
    /// `secret` comes from the caller's randomness, one per environment.
    pub fn new(budget_bytes: u64, ttl_ms: u64, secret: [u8; 16]) -> Result<Self, SessionError> {
        if budget_bytes < ENTRY_OVERHEAD {
            return Err(SessionError::BudgetTooSmall {
                budget: budget_bytes,
                min: ENTRY_OVERHEAD,
            });
        }
        if ttl_ms == 0 {
            return Err(SessionError::ZeroTtl);
        }
        let evictions = Arc::new(AtomicU64::new(0));
        let estimated_items = (budget_bytes / ENTRY_OVERHEAD).max(1) as usize;
        let cache = Cache::with(
            estimated_items,
            budget_bytes,
            SessionWeighter,
            KeyBits::default(),
            CountEvictions(Arc::clone(&evictions)),
        );
        Ok(Self {
            cache,
            secret,
            ttl_ms: i64::try_from(ttl_ms).unwrap_or(i64::MAX),
            budget: budget_bytes,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            expirations: AtomicU64::new(0),
            evictions,
        })
    }

    /// The stored form of a token: SipHash-1-3 (128-bit) keyed with this environment's secret.
    pub fn key(&self, token: &str) -> SessionKey {
        let mut h = SipHasher13::new_with_key(&self.secret);
        h.write(token.as_bytes());
        SessionKey(h.finish128().as_bytes())
    }

    /// The live entry for `key`, or `None` (a miss) when absent or expired. An expired entry is
    /// removed on the way and counted.
    pub fn get(&self, key: &SessionKey, now: DateTime<Utc>) -> Option<Arc<Session>> {
        let now_ms = now.timestamp_millis();
        match self.cache.get(key) {
            Some(s) if !s.expired(now_ms) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(s)
            }
            Some(_) => {
                if self.cache.remove_if(key, |s| s.expired(now_ms)).is_some() {
                    self.expirations.fetch_add(1, Ordering::Relaxed);
                }
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Store `data` for `key` (replacing what was there), first seen now, one hit.
    pub fn insert(&self, key: SessionKey, data: Box<[u8]>, now: DateTime<Utc>) {
        self.cache.insert(key, Arc::new(self.fresh(data, now)));
    }

    /// Record one request of the session: a hit on a live entry (its idle expiry moves on),
    /// or a new entry. Concurrent first requests of one session create one entry.
    pub fn visit(&self, key: SessionKey, now: DateTime<Utc>) -> Visit {
        if let Some(s) = self.get(&key, now) {
            return self.touch(&s, now);
        }
        let mut created = false;
        let entry = self.cache.get_or_insert_with(&key, || {
            created = true;
            Ok::<_, std::convert::Infallible>(Arc::new(self.fresh(Box::default(), now)))
        });
        match entry {
            Ok(s) if created => Visit {
                first_seen: s.first_seen(),
                hits: s.hits(),
                new: true,
            },
            Ok(s) => self.touch(&s, now),
            Err(never) => match never {},
        }
    }

    fn fresh(&self, data: Box<[u8]>, now: DateTime<Utc>) -> Session {
        let now_ms = now.timestamp_millis();
        Session {
            first_seen_ms: now_ms,
            hits: AtomicU64::new(1),
            expires_at_ms: AtomicI64::new(now_ms.saturating_add(self.ttl_ms)),
            data,
        }
    }

    fn touch(&self, s: &Session, now: DateTime<Utc>) -> Visit {
        let hits = s.hits.fetch_add(1, Ordering::Relaxed) + 1;
        s.expires_at_ms.store(
            now.timestamp_millis().saturating_add(self.ttl_ms),
            Ordering::Relaxed,
        );
        Visit {
            first_seen: s.first_seen(),
            hits,
            new: false,
        }
    }

    pub fn remove(&self, key: &SessionKey) -> bool {
        self.cache.remove(key).is_some()
    }

    pub fn stats(&self) -> StoreStats {
        StoreStats {
            entries: self.cache.len() as u64,
            bytes: self.cache.weight(),
            budget: self.budget,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            expirations: self.expirations.load(Ordering::Relaxed),
        }
    }

    /// Drop everything (a new environment generation starts with no sessions).
    pub fn clear(&self) {
        self.cache.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap()
    }

    #[test]
    fn visits_count_and_expire() {
        let store = SessionStore::new(64 * 1024, 1_000, [7; 16]).unwrap();
        let k = store.key("0123456789abcdef");
        assert!(store.visit(k, t0()).new);
        let second = store.visit(k, t0() + Duration::milliseconds(999));
        assert_eq!(
            (second.hits, second.new, second.first_seen),
            (2, false, t0())
        );
        // Idle expiry moved to 1,999 ms by the second visit.
        assert!(!store.visit(k, t0() + Duration::milliseconds(1_998)).new);
        let later = t0() + Duration::milliseconds(1_998 + 1_000);
        assert!(store.get(&k, later).is_none());
        assert_eq!(store.stats().expirations, 1);
    }

    #[test]
    fn keys_depend_on_the_secret_and_hide_the_token() {
        let a = SessionStore::new(4096, 1, [1; 16]).unwrap();
        let b = SessionStore::new(4096, 1, [2; 16]).unwrap();
        let token = "0123456789abcdef0123456789abcdef";
        assert_ne!(a.key(token), b.key(token));
        assert!(!format!("{:?}", a.key(token)).contains(token));
    }

    #[test]
    fn tiny_budget_refused() {
        assert!(matches!(
            SessionStore::new(10, 1, [0; 16]),
            Err(SessionError::BudgetTooSmall { .. })
        ));
        assert_eq!(
            SessionStore::new(4096, 0, [0; 16]).err(),
            Some(SessionError::ZeroTtl)
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, usize),
        Visit(u8),
        Get(u8),
        Remove(u8),
        Advance(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any::<u8>(), 0usize..600).prop_map(|(k, n)| Op::Insert(k, n)),
            any::<u8>().prop_map(Op::Visit),
            any::<u8>().prop_map(Op::Get),
            any::<u8>().prop_map(Op::Remove),
            (0i64..300).prop_map(Op::Advance),
        ]
    }

    /// Data that names its session, so a mix-up shows.
    fn data_for(k: u8, n: usize) -> Box<[u8]> {
        std::iter::repeat_n(k, n).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn budget_expiry_and_isolation_hold(budget in 200u64..8_000, ttl in 1u64..500, ops in prop::collection::vec(op(), 1..300)) {
            let store = SessionStore::new(budget, ttl, [9; 16]).unwrap();
            let key = |k: u8| store.key(&format!("session-token-{k:03}"));
            // What each session should hold and until when, if the store still has it.
            let mut model: HashMap<u8, (Box<[u8]>, i64)> = HashMap::new();
            let mut now = t0();
            for op in ops {
                let now_ms = now.timestamp_millis();
                match op {
                    Op::Insert(k, n) => {
                        store.insert(key(k), data_for(k, n), now);
                        model.insert(k, (data_for(k, n), now_ms + ttl as i64));
                    }
                    Op::Visit(k) => {
                        let visit = store.visit(key(k), now);
                        let entry = model.entry(k).or_insert_with(|| (Box::default(), 0));
                        if visit.new {
                            *entry = (Box::default(), now_ms + ttl as i64);
                        } else {
                            prop_assert!(entry.1 > now_ms, "a live hit on an entry that should have expired");
                            entry.1 = now_ms + ttl as i64;
                        }
                    }
                    Op::Get(k) => {
                        if let Some(s) = store.get(&key(k), now) {
                            let (data, expires) = model.get(&k).expect("store returned a session never stored");
                            prop_assert!(*expires > now_ms, "expired entry returned");
                            prop_assert_eq!(s.data(), &data[..], "another session's data");
                        }
                    }
                    Op::Remove(k) => {
                        store.remove(&key(k));
                        model.remove(&k);
                    }
                    Op::Advance(ms) => now += Duration::milliseconds(ms),
                }
                let stats = store.stats();
                prop_assert!(stats.bytes <= budget, "{} bytes over a budget of {}", stats.bytes, budget);
                let counted: u64 = store.cache.iter().map(|(k, v)| SessionWeighter.weight(&k, &v)).sum();
                prop_assert_eq!(counted, stats.bytes, "the cache's weight is the sum of our weights");
            }
        }
    }
}
