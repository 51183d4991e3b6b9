//! Budgets that defend the connection against a peer that makes us work for nothing:
//! request streams it resets or abandons (the QUIC form of Rapid Reset, CVE-2023-44487)
//! and field sections far over our limits (RFC 9114 §10.5: `H3_EXCESSIVE_LOAD`).
//! The time always comes in as a parameter.

use std::time::{Duration, Instant};

/// Counts events in a fixed time window, restarted when it expires.
#[derive(Debug, Clone)]
pub(crate) struct RateLimit {
    max: u32,
    window: Duration,
    start: Option<Instant>,
    count: u32,
}

impl RateLimit {
    pub(crate) fn new(max: u32, window: Duration) -> Self {
        RateLimit {
            max,
            window,
            start: None,
            count: 0,
        }
    }

    /// Records one event at `now`; true when the limit is exceeded.
    pub(crate) fn hit(&mut self, now: Instant) -> bool {
        match self.start {
            Some(s) if now.saturating_duration_since(s) < self.window => {
                self.count = self.count.saturating_add(1);
            }
            _ => {
                self.start = Some(now);
                self.count = 1;
            }
        }
        self.count > self.max
    }
}
