//! The request-body budget every server driver uses: bytes of request bodies a connection
//! and a worker hold (received and not released: buffered by the driver or its engine, or
//! delivered to a handler whose request has not finished). Over budget, a driver stops
//! giving the peer flow-control credit (HTTP/2, HTTP/3) or stops reading (HTTP/1.1), and
//! HTTP/2 refuses new body-carrying streams; memory the handlers release brings it back.

use std::cell::{Cell, RefCell};
use std::task::{Context, Waker};

/// The bytes all connections of one worker hold (worker-local: one thread, no atomics).
#[derive(Debug)]
pub(crate) struct WorkerBudget {
    held: Cell<u64>,
    peak: Cell<u64>,
    limit: u64,
    /// Drivers that cannot hold credit back per connection (HTTP/3: QUIC gives credit as
    /// bytes are read) stop reading while the worker is over budget, except one request,
    /// the leader, until it finishes.
    leader: Cell<Option<u64>>,
    next_token: Cell<u64>,
    /// Readers waiting for the budget (woken when it frees or the leader finishes).
    waiters: RefCell<Vec<Waker>>,
}

impl WorkerBudget {
    /// A budget of `limit` bytes for one worker.
    pub(crate) fn new(limit: u64) -> Self {
        WorkerBudget {
            held: Cell::new(0),
            peak: Cell::new(0),
            limit,
            leader: Cell::new(None),
            next_token: Cell::new(0),
            waiters: RefCell::new(Vec::new()),
        }
    }

    /// A token naming one reader for [`WorkerBudget::may_read`].
    pub(crate) fn token(&self) -> u64 {
        let t = self.next_token.get().wrapping_add(1);
        self.next_token.set(t);
        t
    }

    /// Whether the reader `token` may read more body bytes now: yes under budget, and
    /// for the leader (the first reader over budget, until [`WorkerBudget::finished`]);
    /// otherwise `cx` is woken once the budget frees or the leader finishes.
    pub(crate) fn may_read(&self, token: u64, cx: &Context<'_>) -> bool {
        if self.held.get() <= self.limit {
            return true;
        }
        match self.leader.get() {
            None => {
                self.leader.set(Some(token));
                true
            }
            Some(l) if l == token => true,
            Some(_) => {
                let mut w = self.waiters.borrow_mut();
                if !w.iter().any(|x| x.will_wake(cx.waker())) {
                    w.push(cx.waker().clone());
                }
                false
            }
        }
    }

    /// The reader `token`'s request finished: another may lead.
    pub(crate) fn finished(&self, token: u64) {
        if self.leader.get() == Some(token) {
            self.leader.set(None);
            self.wake();
        }
    }

    fn wake(&self) {
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        waiters.into_iter().for_each(Waker::wake);
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
        if self.held.get() <= self.limit && !self.waiters.borrow().is_empty() {
            self.leader.set(None);
            self.wake();
        }
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
    fn over_budget_one_reader_leads_and_the_others_wait_to_be_woken() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        struct Count(AtomicUsize);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let cx = Context::from_waker(&waker);
        let w = WorkerBudget::new(10);
        let (a, b) = (w.token(), w.token());
        assert!(w.may_read(b, &cx), "under budget");
        let mut conn = ConnBudget::new(Some(&w), u64::MAX);
        conn.add(20);
        assert!(w.may_read(a, &cx), "a leads");
        assert!(!w.may_read(b, &cx), "b waits");
        assert!(w.may_read(a, &cx));
        w.finished(a);
        assert_eq!(count.0.load(Ordering::Relaxed), 1, "b woken");
        assert!(w.may_read(b, &cx), "b leads now");
        assert!(!w.may_read(a, &cx));
        conn.set(0);
        assert_eq!(
            count.0.load(Ordering::Relaxed),
            2,
            "woken when the budget frees"
        );
        assert!(w.may_read(a, &cx));
    }

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
