//! The live counters one worker writes (single writer, relaxed atomics) and the server's
//! stats readers sum: every driver counts requests, responses and panics here the same way.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use shockwave_arena::ArenaStats;

/// Counters of one worker. Each worker writes only its own (single writer), so the hot
/// path uses plain relaxed loads and stores; readers sum all workers.
#[derive(Debug, Default)]
pub(crate) struct WorkerCounters {
    pub connections_accepted: AtomicU64,
    pub connections_active: AtomicU64,
    pub connections_refused: AtomicU64,
    pub tls_handshake_failures: AtomicU64,
    pub requests: AtomicU64,
    /// Requests that ended without a response (see `ServerStats::requests_cancelled`).
    pub requests_cancelled: AtomicU64,
    pub responses_by_class: [AtomicU64; 5],
    /// 4xx and 5xx responses by code (index = code - 400).
    pub errors_by_code: ErrorCodes,
    pub handler_panics: AtomicU64,
    pub timeouts: AtomicU64,
    /// Request-body bytes the worker's connections hold now, and the most at once
    /// (published with the arena statistics).
    pub body_bytes_held: AtomicU64,
    pub body_bytes_held_peak: AtomicU64,
    /// QUIC handshakes in progress now (see `ServerStats::connections_handshaking`).
    pub connections_handshaking: AtomicU64,
    /// QUIC Retry packets sent (see `ServerStats::quic_retries`).
    pub quic_retries: AtomicU64,
    /// Connections closed for resetting too many requests (`ServerStats::reset_limit_closes`).
    pub reset_limit_closes: AtomicU64,
    /// Connections closed for too many oversized header sections
    /// (`ServerStats::header_limit_closes`).
    pub header_limit_closes: AtomicU64,
    /// Arena pool statistics, published by the worker every 100 ms and at exit.
    pub arena: Mutex<ArenaStats>,
}

#[derive(Debug)]
pub(crate) struct ErrorCodes(pub [AtomicU64; 200]);

impl Default for ErrorCodes {
    fn default() -> Self {
        ErrorCodes(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

/// Increments a single-writer counter without a locked instruction.
#[inline]
pub(crate) fn inc(c: &AtomicU64) {
    c.store(c.load(Relaxed).wrapping_add(1), Relaxed);
}

#[inline]
pub(crate) fn dec(c: &AtomicU64) {
    c.store(c.load(Relaxed).saturating_sub(1), Relaxed);
}

impl WorkerCounters {
    #[inline]
    pub(crate) fn response(&self, status: u16) {
        if let Some(class) = (status / 100).checked_sub(1) {
            if let Some(c) = self.responses_by_class.get(class as usize) {
                inc(c);
            }
        }
        if (400..600).contains(&status) {
            inc(&self.errors_by_code.0[(status - 400) as usize]);
        }
    }
}
