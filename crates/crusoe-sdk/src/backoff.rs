//! The SDK's one backoff, used between attempts of a call and between polls of an operation.

use std::time::Duration;

use rand::Rng;

/// Waits that grow by `factor` from `first` up to `max`. With `jitter`, each wait is drawn
/// uniformly from zero to that ceiling ("full jitter"), so that many clients failing together do
/// not retry together.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    /// Each ceiling is the previous one times this; below 1 counts as 1.
    pub factor: f64,
    pub jitter: bool,
}

impl Backoff {
    /// Doubling with full jitter: the scheme for retrying a failed attempt.
    pub fn jittered(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            factor: 2.0,
            jitter: true,
        }
    }

    /// Growing by `factor`, without jitter: the scheme for polling something that takes time.
    pub fn growing(first: Duration, max: Duration, factor: f64) -> Self {
        Self {
            first,
            max,
            factor,
            jitter: false,
        }
    }

    /// The ceiling of wait number `n` (1-based): `min(max, first * factor^(n-1))`.
    pub fn ceiling(&self, n: u32) -> Duration {
        if self.first.is_zero() {
            return Duration::ZERO;
        }
        let grown = self.first.as_secs_f64()
            * self
                .factor
                .max(1.0)
                .powi(n.saturating_sub(1).min(1_000) as i32);
        if !grown.is_finite() || grown >= self.max.as_secs_f64() {
            return self.max;
        }
        Duration::from_secs_f64(grown).min(self.max)
    }

    /// Wait number `n` (1-based).
    pub fn delay(&self, n: u32) -> Duration {
        let ceiling = self.ceiling(n);
        if !self.jitter || ceiling.is_zero() {
            return ceiling;
        }
        rand::rng().random_range(Duration::ZERO..=ceiling)
    }
}

/// How often a failed call is tried, and how long to wait between tries.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub backoff: Backoff,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            backoff: Backoff::jittered(Duration::from_millis(200), Duration::from_secs(5)),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based), never shorter than what the
    /// server asked for with `Retry-After`.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let drawn = self.backoff.delay(attempt);
        // A long Retry-After is honoured; the caller's deadline decides whether to wait for it.
        retry_after.map_or(drawn, |asked| drawn.max(asked))
    }
}

/// The default polling of an asynchronous operation: short first, growing to a ceiling.
pub fn default_operation_polling() -> Backoff {
    Backoff::growing(Duration::from_millis(500), Duration::from_secs(5), 1.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_grows_up_to_the_cap() {
        let b = Backoff::jittered(Duration::from_millis(100), Duration::from_millis(700));
        let got: Vec<_> = (1..=5).map(|n| b.ceiling(n).as_millis()).collect();
        assert_eq!(got, vec![100, 200, 400, 700, 700]);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_millis(700));
    }

    #[test]
    fn jitter_stays_within_the_ceiling_and_varies() {
        let p = RetryPolicy::default();
        let samples: Vec<_> = (0..200).map(|_| p.delay(3, None)).collect();
        assert!(samples.iter().all(|d| *d <= p.backoff.ceiling(3)));
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
    fn without_jitter_waits_grow_by_the_factor_to_their_ceiling() {
        let b = Backoff::growing(Duration::from_millis(100), Duration::from_millis(300), 2.0);
        let got: Vec<_> = (1..=4).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(got, vec![100, 200, 300, 300]);
        let slow = Backoff::growing(Duration::from_millis(100), Duration::from_secs(1), 0.5);
        assert_eq!(
            slow.delay(5),
            Duration::from_millis(100),
            "a factor below 1 counts as 1"
        );
    }
}
