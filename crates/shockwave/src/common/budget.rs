//! The request-body budget every server driver uses: bytes of request bodies a connection
//! and a worker hold (received and not released: buffered by the driver or its engine, or
//! delivered to a handler whose request has not finished). Over budget, a driver stops
//! giving the peer flow-control credit (HTTP/2, HTTP/3) or stops reading (HTTP/1.1), and
//! HTTP/2 refuses new body-carrying streams; memory the handlers release brings it back.

use std::cell::Cell;

/// The bytes all connections of one worker hold (worker-local: one thread, no atomics).
#[derive(Debug)]
pub(crate) struct WorkerBudget {
    held: Cell<u64>,
    peak: Cell<u64>,
    limit: u64,
}

impl WorkerBudget {
    /// A budget of `limit` bytes for one worker.
    pub(crate) fn new(limit: u64) -> Self {
        WorkerBudget {
            held: Cell::new(0),
            peak: Cell::new(0),
            limit,
        }
    }

    /// Bytes held now by the worker's connections.
    pub(crate) fn held(&self) -> u64 {
        self.held.get()
    }

    /// The most bytes held at once since the worker started.
    pub(crate) fn peak(&self) -> u64 {
        self.peak.get()
    }

    fn add(&self, n: u64) {
        let held = self.held.get().saturating_add(n);
        self.held.set(held);
        if held > self.peak.get() {
            self.peak.set(held);
        }
    }

    fn sub(&self, n: u64) {
        self.held.set(self.held.get().saturating_sub(n));
    }
}

/// The bytes one connection holds, counted into its worker's [`WorkerBudget`] too (and
/// taken out again when the connection ends).
#[derive(Debug)]
pub(crate) struct ConnBudget<'w> {
    worker: Option<&'w WorkerBudget>,
    held: u64,
    limit: u64,
}

impl<'w> ConnBudget<'w> {
    /// A budget of `limit` bytes for one connection of `worker` (`None`: no worker limit).
    pub(crate) fn new(worker: Option<&'w WorkerBudget>, limit: u64) -> Self {
        ConnBudget {
            worker,
            held: 0,
            limit,
        }
    }

    /// The connection now holds `held` bytes (the worker's count follows).
    pub(crate) fn set(&mut self, held: u64) {
        if let Some(w) = self.worker {
            if held > self.held {
                w.add(held - self.held);
            } else {
                w.sub(self.held - held);
            }
        }
        self.held = held;
    }

    /// `n` more bytes held.
    pub(crate) fn add(&mut self, n: u64) {
        self.set(self.held.saturating_add(n));
    }

    /// True when the connection or its worker holds more than its budget allows.
    pub(crate) fn over(&self) -> bool {
        self.held > self.limit || self.worker.is_some_and(|w| w.held.get() > w.limit)
    }
}

impl Drop for ConnBudget<'_> {
    fn drop(&mut self) {
        self.set(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_count_into_their_worker_and_leave_nothing_behind() {
        let w = WorkerBudget::new(100);
        let mut a = ConnBudget::new(Some(&w), 60);
        let mut b = ConnBudget::new(Some(&w), 60);
        a.add(50);
        b.add(40);
        assert_eq!(w.held(), 90);
        assert!(!a.over() && !b.over());
        b.add(20);
        assert!(b.over(), "over its own budget");
        assert!(a.over(), "the worker is over (110 > 100)");
        b.set(10);
        assert!(!a.over());
        drop(b);
        assert_eq!(w.held(), 50);
        a.set(0);
        assert_eq!(w.held(), 0);
        assert_eq!(w.peak(), 110);
        assert!(!ConnBudget::new(None, 0).over());
    }
}
