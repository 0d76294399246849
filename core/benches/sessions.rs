//! Session store throughput against the raw cache crate and a plain HashMap, same run.
//!
//! `cargo bench -p edge-persist-core --bench sessions`

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use edge_persist_core::session::{ENTRY_OVERHEAD, SessionKey, SessionStore};
use quick_cache::sync::Cache;

const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];
/// Operations per iteration: keys cycle through a shuffled list so lookups miss the CPU cache
/// the way real sessions do.
const BATCH: usize = 1024;

fn token(i: usize) -> String {
    format!("session-token-{i:018}")
}

/// A multiplicative shuffle of 0..n, fixed so every run sees the same order.
fn order(n: usize) -> Vec<usize> {
    (0..BATCH)
        .map(|i| (i.wrapping_mul(2_654_435_761) ^ 0x5bd1e995) % n)
        .collect()
}

fn bench(c: &mut Criterion) {
    let now = Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap();
    for n in SIZES {
        let budget = (n as u64) * ENTRY_OVERHEAD * 2;
        let store = SessionStore::new(budget, 3_600_000, [1; 16]).unwrap();
        let keys: Vec<SessionKey> = (0..n).map(|i| store.key(&token(i))).collect();
        for k in &keys {
            store.visit(*k, now);
        }
        let raw: Cache<SessionKey, Arc<u64>> = Cache::new(n);
        let mut map: HashMap<SessionKey, u64> = HashMap::with_capacity(n);
        for (i, k) in keys.iter().enumerate() {
            raw.insert(*k, Arc::new(i as u64));
            map.insert(*k, i as u64);
        }
        let picks: Vec<SessionKey> = order(n).into_iter().map(|i| keys[i]).collect();

        let mut g = c.benchmark_group(format!("get/{n}"));
        g.throughput(Throughput::Elements(BATCH as u64));
        g.bench_function("store.get", |b| {
            b.iter(|| picks.iter().filter(|k| store.get(k, now).is_some()).count())
        });
        g.bench_function("store.visit", |b| {
            b.iter(|| picks.iter().map(|k| store.visit(*k, now).hits).sum::<u64>())
        });
        g.bench_function("quick_cache.get", |b| {
            b.iter(|| picks.iter().filter(|k| raw.get(*k).is_some()).count())
        });
        g.bench_function("HashMap.get", |b| {
            b.iter(|| picks.iter().filter(|k| map.contains_key(*k)).count())
        });
        g.finish();

        let mut g = c.benchmark_group(format!("insert/{n}"));
        g.throughput(Throughput::Elements(BATCH as u64));
        let fresh: Vec<SessionKey> = (0..BATCH).map(|i| store.key(&token(n + i))).collect();
        g.bench_function("store.insert", |b| {
            b.iter(|| {
                fresh
                    .iter()
                    .for_each(|k| store.insert(*k, Box::default(), now))
            })
        });
        g.bench_function("quick_cache.insert", |b| {
            b.iter(|| fresh.iter().for_each(|k| raw.insert(*k, Arc::new(1))))
        });
        g.bench_function("HashMap.insert", |b| {
            b.iter(|| fresh.iter().filter_map(|k| map.insert(*k, 1)).count());
        });
        g.finish();
    }
    let store = SessionStore::new(1 << 20, 1, [1; 16]).unwrap();
    c.bench_with_input(
        BenchmarkId::new("key", "32-char token"),
        &token(7),
        |b, t| b.iter(|| store.key(black_box(t))),
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(2)).warm_up_time(std::time::Duration::from_millis(500));
    targets = bench
}
criterion_main!(benches);
