//! Per-tenant request rate limit: one hub (or one set of credentials) polling hard cannot starve
//! the others of the bridge, nor get credentials shared with them throttled by the cloud.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::settings::RateLimitSettings;

/// Checks between two prunings of idle tenants' state.
const PRUNE_EVERY: u64 = 4096;

pub struct TenantRate {
    limiter: Option<DefaultKeyedRateLimiter<(String, [u8; 32])>>,
    checks: AtomicU64,
}

impl TenantRate {
    pub fn new(settings: &RateLimitSettings) -> Self {
        let limiter = NonZeroU32::new(settings.per_second).map(|rate| {
            let burst = NonZeroU32::new(settings.burst).unwrap_or(rate);
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        Self {
            limiter,
            checks: AtomicU64::new(0),
        }
    }

    /// Ok, or how long this tenant must wait before its next request is accepted.
    pub fn check(&self, hub: &str, cache_key: &[u8; 32]) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            // Tenants whose allowance is full again hold no state worth keeping.
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        limiter
            .check_key(&(hub.to_string(), *cache_key))
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}
