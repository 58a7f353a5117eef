//! The client's one retry policy: exponential backoff with full jitter inside an overall deadline.

use std::time::Duration;

use rand::Rng;

/// How often an idempotent call (GET, PUT, DELETE) is tried, and how long to wait between tries.
///
/// None of CloudSigma's own clients retries (CLOUDSIGMA.md §10); this client retries what the
/// error model calls transient (§4): transport failures, 500/502/503/504 and `concurrency` errors.
/// POSTs are retried only when the request provably never left this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Ceiling of the first wait; each next ceiling doubles.
    pub initial: Duration,
    /// Largest ceiling of a wait.
    pub max_delay: Duration,
    /// Longest time one call may take, attempts and waits included.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            deadline: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The ceiling of the wait after failed attempt `attempt` (1-based):
    /// `min(max_delay, initial * 2^(attempt-1))`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(32);
        let grown = self.initial.saturating_mul(1u32 << exp.min(31));
        grown.min(self.max_delay)
    }

    /// The wait after failed attempt `attempt` (1-based), drawn uniformly between zero and
    /// [`RetryPolicy::ceiling`] ("full jitter"), so that clients failing together do not retry
    /// together.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        if ceiling.is_zero() {
            return ceiling;
        }
        rand::rng().random_range(Duration::ZERO..=ceiling)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let p = RetryPolicy {
            initial: Duration::from_millis(100),
            max_delay: Duration::from_millis(700),
            ..RetryPolicy::default()
        };
        let got: Vec<_> = (1..=5).map(|n| p.ceiling(n).as_millis()).collect();
        assert_eq!(got, vec![100, 200, 400, 700, 700]);
        assert_eq!(p.ceiling(u32::MAX), Duration::from_millis(700));
    }

    #[test]
    fn jittered_waits_stay_under_the_ceiling_and_spread() {
        let p = RetryPolicy::default();
        let samples: Vec<_> = (0..200).map(|_| p.delay(3)).collect();
        assert!(samples.iter().all(|d| *d <= p.ceiling(3)));
        let distinct: std::collections::HashSet<_> = samples.iter().collect();
        assert!(distinct.len() > 50);
    }
}
