//! The minimum-data-rate meter every server driver uses for request bodies and responses
//! (HTTP/1.1, HTTP/2 and HTTP/3 alike).
//!
//! A "progress" timeout (any byte moved restarts the clock) lets a peer hold a stream or
//! a connection forever by trickling one byte now and then. A minimum rate does not: once
//! the grace period is over, the transfer must have averaged at least
//! [`MinDataRate::bytes_per_second`] over the time it spent *waiting on the peer*, or it is
//! cut. Time the transfer spends waiting on the application (a handler that does not read
//! its body yet, a response body that is not produced yet) is not counted: the meter only
//! runs between [`RateMeter::wait`] and [`RateMeter::resume`]. The same rule as Kestrel's
//! `MinRequestBodyDataRate` / `MinResponseDataRate`, whose defaults (240 B/s after a 5 s
//! grace) we take.
//!
//! The meter reads no clock: the driver passes `now` to every call, and arms its own timer
//! at [`RateMeter::deadline`].

use std::future::Future as _;
use std::time::{Duration, Instant};

/// A minimum transfer rate with a grace period (see [`Timeouts::min_request_body_rate`](crate::server::Timeouts::min_request_body_rate)).
///
/// Only the time a transfer spends waiting on the peer counts; time the handler takes to
/// read a body or to produce a response does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinDataRate {
    /// Lowest average rate, in bytes per second.
    pub bytes_per_second: u64,
    /// Waiting time allowed before the rate is enforced.
    pub grace: Duration,
}

impl MinDataRate {
    /// The default for request bodies and responses: 240 bytes per second after a 5 s
    /// grace period (as in ASP.NET Core's Kestrel).
    pub const DEFAULT: MinDataRate = MinDataRate {
        bytes_per_second: 240,
        grace: Duration::from_secs(5),
    };
}

/// Tracks one transfer (one request body or one response) against a [`MinDataRate`].
#[derive(Debug, Clone)]
pub(crate) struct RateMeter {
    min: Option<MinDataRate>,
    /// Time spent waiting on the peer before the current wait.
    waited: Duration,
    /// Start of the current wait, if the transfer is waiting on the peer now.
    waiting_since: Option<Instant>,
    /// Bytes moved so far.
    bytes: u64,
}

impl RateMeter {
    /// A meter for one transfer; `None` turns the check off.
    pub(crate) fn new(min: Option<MinDataRate>) -> Self {
        RateMeter {
            min,
            waited: Duration::ZERO,
            waiting_since: None,
            bytes: 0,
        }
    }

    /// The transfer now waits on the peer (for body bytes, or for the peer to read).
    /// Calling it while already waiting changes nothing.
    pub(crate) fn wait(&mut self, now: Instant) {
        if self.waiting_since.is_none() {
            self.waiting_since = Some(now);
        }
    }

    /// The transfer stopped waiting on the peer (the application has the next move).
    pub(crate) fn resume(&mut self, now: Instant) {
        if let Some(since) = self.waiting_since.take() {
            self.waited += now.saturating_duration_since(since);
        }
    }

    /// `n` bytes moved.
    pub(crate) fn add(&mut self, n: usize) {
        self.bytes = self.bytes.saturating_add(n as u64);
    }

    /// Bytes moved so far.
    #[allow(dead_code)] // for tests and diagnostics
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    fn waited_at(&self, now: Instant) -> Duration {
        match self.waiting_since {
            Some(since) => self.waited + now.saturating_duration_since(since),
            None => self.waited,
        }
    }

    /// The waiting time the bytes moved so far pay for: the grace period, or longer if
    /// more bytes than the minimum arrived.
    fn allowance(&self, min: MinDataRate) -> Duration {
        if min.bytes_per_second == 0 {
            return Duration::MAX;
        }
        let earned = Duration::from_secs_f64(self.bytes as f64 / min.bytes_per_second as f64);
        earned.max(min.grace)
    }

    /// Whether the transfer is below the minimum rate at `now` (it should be cut).
    pub(crate) fn is_too_slow(&self, now: Instant) -> bool {
        match self.min {
            Some(min) => self.waited_at(now) > self.allowance(min),
            None => false,
        }
    }

    /// When the transfer becomes too slow if no further byte moves and it keeps waiting;
    /// `None` while it does not wait on the peer or the check is off.
    pub(crate) fn deadline(&self, now: Instant) -> Option<Instant> {
        let min = self.min?;
        self.waiting_since?;
        let allowance = self.allowance(min);
        let left = allowance.saturating_sub(self.waited_at(now));
        now.checked_add(left).map(|t| t + Duration::from_millis(1))
    }
}

/// A [`RateMeter`] with its timer, for a driver whose transfer is polled: the transfer
/// reports progress and waits, and learns when it became too slow (the timer, armed at
/// the meter's deadline, wakes the task then). The sleep is created on the first wait
/// only (a transfer that never waits on the peer costs nothing).
pub(crate) struct RateTimer {
    meter: RateMeter,
    timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    waiting: bool,
}

impl RateTimer {
    /// A timer for one transfer; `None` turns the check off.
    pub(crate) fn new(min: Option<MinDataRate>) -> Self {
        RateTimer {
            meter: RateMeter::new(min),
            timer: None,
            waiting: false,
        }
    }

    /// `n` bytes moved (the wait on the peer, if any, is over).
    pub(crate) fn progress(&mut self, n: usize) {
        self.pause();
        self.meter.add(n);
    }

    /// The transfer does not wait on the peer now (the application, or the server's own
    /// flow control, has the next move): the time until the next wait does not count.
    pub(crate) fn pause(&mut self) {
        if std::mem::take(&mut self.waiting) {
            self.meter.resume(tokio::time::Instant::now().into_std());
        }
    }

    /// The transfer waits on the peer: `true` once it is below the minimum rate (cut it);
    /// otherwise the timer is armed at the deadline and wakes `cx`'s task then.
    pub(crate) fn poll_too_slow(&mut self, cx: &mut std::task::Context<'_>) -> bool {
        if self.meter.min.is_none() {
            return false;
        }
        let now = tokio::time::Instant::now().into_std();
        self.meter.wait(now);
        self.waiting = true;
        if self.meter.is_too_slow(now) {
            return true;
        }
        let Some(deadline) = self.meter.deadline(now) else {
            return false;
        };
        let deadline = tokio::time::Instant::from_std(deadline);
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        if timer.as_mut().poll(cx).is_ready() {
            return self
                .meter
                .is_too_slow(tokio::time::Instant::now().into_std());
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(bps: u64, grace_ms: u64) -> Option<MinDataRate> {
        Some(MinDataRate {
            bytes_per_second: bps,
            grace: Duration::from_millis(grace_ms),
        })
    }

    #[test]
    fn a_trickle_is_cut_after_the_grace_period_even_though_bytes_keep_moving() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(rate(1000, 2000));
        m.wait(t0);
        // One byte per second: a progress timeout would never fire.
        for s in 1..=2 {
            m.add(1);
            assert!(
                !m.is_too_slow(t0 + Duration::from_secs(s)),
                "inside the grace period"
            );
        }
        m.add(1);
        assert!(m.is_too_slow(t0 + Duration::from_secs(3)));
    }

    #[test]
    fn bytes_earn_waiting_time_beyond_the_grace_period() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(rate(1000, 1000));
        m.wait(t0);
        m.add(10_000); // pays for 10 s of waiting
        assert!(!m.is_too_slow(t0 + Duration::from_secs(9)));
        assert!(m.is_too_slow(t0 + Duration::from_millis(10_001)));
        let d = m.deadline(t0).unwrap();
        assert!(d >= t0 + Duration::from_secs(10) && d <= t0 + Duration::from_millis(10_002));
    }

    #[test]
    fn time_spent_waiting_on_the_application_does_not_count() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(rate(1000, 1000));
        m.wait(t0);
        m.resume(t0 + Duration::from_millis(900));
        // The handler sits on the body for a minute: not the peer's fault.
        assert!(!m.is_too_slow(t0 + Duration::from_secs(60)));
        assert_eq!(m.deadline(t0 + Duration::from_secs(60)), None);
        m.wait(t0 + Duration::from_secs(60));
        assert!(!m.is_too_slow(t0 + Duration::from_millis(60_099)));
        assert!(m.is_too_slow(t0 + Duration::from_millis(60_101)));
    }

    #[test]
    fn no_minimum_means_never_too_slow() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(None);
        m.wait(t0);
        assert!(!m.is_too_slow(t0 + Duration::from_secs(3600)));
        assert_eq!(m.deadline(t0), None);
        let mut z = RateMeter::new(rate(0, 0));
        z.wait(t0);
        assert!(!z.is_too_slow(t0 + Duration::from_secs(3600)));
    }
}
