//! The pool's decision, as a pure function of what the pool knows: which environment an
//! invocation takes, whether a new one starts, or whether it waits or is throttled. No clock, no
//! processes: the lifecycle rules are tested here without either.

use std::time::{Duration, Instant};

/// What the decision needs to know about one environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotView {
    /// Invocations running in it.
    pub in_flight: usize,
    /// Set while `in_flight` is 0.
    pub idle_since: Option<Instant>,
    /// Neither recycled (older epoch) nor exited: it may take new invocations.
    pub usable: bool,
}

/// Limits the decision applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most environments at once, starting ones included.
    pub concurrency: usize,
    /// Invocations one environment takes at once.
    pub per_environment: usize,
}

/// What an invocation does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Take the environment at this index.
    Warm(usize),
    /// Start a new environment (a cold start).
    Start,
    /// Wait for an environment being started (managed concurrency only).
    Wait,
    /// Refuse: Lambda does not queue synchronous invocations.
    Throttle,
}

/// Pick for one invocation. Environments already busy are filled first (managed concurrency),
/// then the most recently used idle one: it is the warmest, and the others can age out.
/// Environments that are not usable still count against the limit while they run.
pub fn decide(slots: &[SlotView], starting: usize, limits: Limits) -> Decision {
    let per_env = limits.per_environment.max(1);
    let free = slots
        .iter()
        .enumerate()
        .filter(|(_, s)| s.usable && s.in_flight < per_env)
        .max_by_key(|(_, s)| (s.in_flight, s.idle_since))
        .map(|(i, _)| i);
    match free {
        Some(i) => Decision::Warm(i),
        None if slots.len() + starting < limits.concurrency => Decision::Start,
        None if per_env > 1 && starting > 0 => Decision::Wait,
        None => Decision::Throttle,
    }
}

/// Whether an idle environment is past its idle time or its lifetime at `now`. A busy one is
/// never expired here: it is retired after its invocation.
pub fn expired(
    idle_since: Option<Instant>,
    created: Instant,
    now: Instant,
    idle_timeout: Duration,
    max_lifetime: Duration,
) -> bool {
    let Some(idle_since) = idle_since else {
        return false;
    };
    now.saturating_duration_since(idle_since) >= idle_timeout
        || now.saturating_duration_since(created) >= max_lifetime
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: Limits = Limits {
        concurrency: 2,
        per_environment: 1,
    };

    fn idle(t: Instant) -> SlotView {
        SlotView {
            in_flight: 0,
            idle_since: Some(t),
            usable: true,
        }
    }

    fn busy(n: usize) -> SlotView {
        SlotView {
            in_flight: n,
            idle_since: None,
            usable: true,
        }
    }

    #[test]
    fn an_empty_pool_starts_one_and_a_full_one_throttles() {
        assert_eq!(decide(&[], 0, ONE), Decision::Start);
        assert_eq!(decide(&[busy(1)], 0, ONE), Decision::Start);
        assert_eq!(decide(&[busy(1), busy(1)], 0, ONE), Decision::Throttle);
        assert_eq!(
            decide(&[busy(1)], 1, ONE),
            Decision::Throttle,
            "an environment being started counts against the limit"
        );
    }

    #[test]
    fn the_most_recently_idle_environment_is_taken() {
        let t = Instant::now();
        let older = idle(t);
        let newer = idle(t + Duration::from_secs(1));
        assert_eq!(decide(&[older, newer], 0, ONE), Decision::Warm(1));
        assert_eq!(decide(&[newer, older], 0, ONE), Decision::Warm(0));
        assert_eq!(decide(&[busy(1), older], 0, ONE), Decision::Warm(1));
    }

    #[test]
    fn retired_or_exited_environments_take_nothing_but_count_while_they_run() {
        let t = Instant::now();
        let retired_busy = SlotView {
            usable: false,
            ..busy(1)
        };
        let retired_idle = SlotView {
            usable: false,
            ..idle(t)
        };
        assert_eq!(decide(&[retired_idle], 0, ONE), Decision::Start);
        assert_eq!(decide(&[retired_busy, busy(1)], 0, ONE), Decision::Throttle);
    }

    #[test]
    fn managed_concurrency_fills_busy_environments_then_waits_for_a_start() {
        let managed = Limits {
            concurrency: 1,
            per_environment: 3,
        };
        let t = Instant::now();
        assert_eq!(
            decide(
                &[idle(t), busy(2)],
                0,
                Limits {
                    concurrency: 3,
                    ..managed
                }
            ),
            Decision::Warm(1)
        );
        assert_eq!(decide(&[busy(3)], 0, managed), Decision::Throttle);
        assert_eq!(decide(&[], 1, managed), Decision::Wait);
        let classic = Limits {
            per_environment: 1,
            ..managed
        };
        assert_eq!(
            decide(&[], 1, classic),
            Decision::Throttle,
            "one invocation per environment: no waiting, as Lambda"
        );
    }

    #[test]
    fn zero_per_environment_means_one() {
        let limits = Limits {
            concurrency: 1,
            per_environment: 0,
        };
        assert_eq!(
            decide(&[idle(Instant::now())], 0, limits),
            Decision::Warm(0)
        );
    }

    #[test]
    fn idle_and_old_environments_expire_busy_ones_do_not() {
        let created = Instant::now();
        let idle_timeout = Duration::from_secs(10);
        let lifetime = Duration::from_secs(100);
        let at = |s| created + Duration::from_secs(s);
        assert!(!expired(
            Some(at(5)),
            created,
            at(14),
            idle_timeout,
            lifetime
        ));
        assert!(expired(
            Some(at(5)),
            created,
            at(15),
            idle_timeout,
            lifetime
        ));
        assert!(expired(
            Some(at(95)),
            created,
            at(100),
            idle_timeout,
            lifetime
        ));
        assert!(!expired(None, created, at(1000), idle_timeout, lifetime));
    }
}
