//! Rate limits and short memories that defend the connection: reset floods
//! (CVE-2023-44487 Rapid Reset, CVE-2019-9514), glitch floods (frames that carry
//! nothing), frames in flight for reset streams.
//! The time always comes in as a parameter.

use std::time::{Duration, Instant};

use super::StreamId;

/// Counts events in a fixed time window, restarted when it expires.
#[derive(Debug)]
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
            Some(s) if now.saturating_duration_since(s) < self.window => self.count += 1,
            _ => {
                self.start = Some(now);
                self.count = 1;
            }
        }
        self.count > self.max
    }

    /// Events counted in the window that is current at `now` (0 once it has expired).
    pub(crate) fn current(&self, now: Instant) -> u32 {
        match self.start {
            Some(s) if now.saturating_duration_since(s) < self.window => self.count,
            _ => 0,
        }
    }
}

/// Recently reset, refused or closed stream ids (the last 64): frames the peer had in
/// flight for them are ignored instead of answered (RFC 9113 §5.4.2, §6.4).
#[derive(Debug)]
pub(crate) struct RecentIds {
    ids: [u32; 64],
    next: usize,
}

impl RecentIds {
    pub(crate) fn new() -> Self {
        RecentIds {
            ids: [0; 64],
            next: 0,
        }
    }
    pub(crate) fn insert(&mut self, id: StreamId) {
        self.ids[self.next % 64] = id.value();
        self.next += 1;
    }
    pub(crate) fn contains(&self, id: StreamId) -> bool {
        !id.is_zero() && self.ids.contains(&id.value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_ids_forget_after_64() {
        let mut r = RecentIds::new();
        assert!(!r.contains(StreamId::ZERO));
        for i in 0..65u32 {
            r.insert(StreamId::new(2 * i + 1));
        }
        assert!(!r.contains(StreamId::new(1)));
        assert!(r.contains(StreamId::new(3)));
        assert!(r.contains(StreamId::new(129)));
    }
}
