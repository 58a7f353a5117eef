//! How long to wait between attempts, and between polls of an operation.

use std::time::Duration;

use rand::Rng;

/// Exponential backoff with full jitter: the n-th wait is uniform in `[0, min(max, base * 2^(n-1))]`,
/// and never shorter than what the server asked for with `Retry-After`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The ceiling of the wait after failed attempt number `attempt` (1-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self.ceiling(attempt);
        let jittered = if ceiling.is_zero() {
            Duration::ZERO
        } else {
            rand::rng().random_range(Duration::ZERO..=ceiling)
        };
        // A long Retry-After is honoured; the caller's deadline decides whether to wait for it.
        retry_after.map_or(jittered, |asked| jittered.max(asked))
    }
}

/// Polling of an asynchronous operation: short first, growing to a ceiling.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitPolicy {
    pub initial_interval: Duration,
    pub max_interval: Duration,
    /// Each interval is the previous one times this factor.
    pub growth: f64,
}

impl Default for WaitPolicy {
    fn default() -> Self {
        Self {
            initial_interval: Duration::from_millis(500),
            max_interval: Duration::from_secs(5),
            growth: 1.5,
        }
    }
}

impl WaitPolicy {
    pub fn next(&self, current: Duration) -> Duration {
        current.mul_f64(self.growth.max(1.0)).min(self.max_interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(700),
        };
        let got: Vec<_> = (1..=5).map(|n| p.ceiling(n).as_millis()).collect();
        assert_eq!(got, vec![100, 200, 400, 700, 700]);
        assert_eq!(p.ceiling(u32::MAX), Duration::from_millis(700));
    }

    #[test]
    fn jitter_stays_within_the_ceiling_and_varies() {
        let p = RetryPolicy::default();
        let samples: Vec<_> = (0..200).map(|_| p.delay(3, None)).collect();
        assert!(samples.iter().all(|d| *d <= p.ceiling(3)));
        let distinct: std::collections::HashSet<_> = samples.iter().collect();
        assert!(distinct.len() > 50, "full jitter should spread waits");
    }

    #[test]
    fn retry_after_is_a_floor() {
        let p = RetryPolicy::default();
        for _ in 0..50 {
            assert!(p.delay(1, Some(Duration::from_secs(2))) >= Duration::from_secs(2));
        }
    }

    #[test]
    fn wait_interval_grows_to_its_ceiling() {
        let w = WaitPolicy {
            initial_interval: Duration::from_millis(100),
            max_interval: Duration::from_millis(300),
            growth: 2.0,
        };
        let a = w.next(w.initial_interval);
        let b = w.next(a);
        assert_eq!((a.as_millis(), b.as_millis()), (200, 300));
    }
}
