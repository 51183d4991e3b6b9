//! The state one worker thread's connections share, whatever their protocol: the handler,
//! the arena pool, the buffer pool, the cached `Date` and coarse clock (refreshed by the
//! worker's 50 ms tick), the counters and the shutdown signal. The protocol drivers
//! (`h1`, `h2`, `h3`) take it; the accept loops in `worker` create it.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use shockwave_arena::ArenaPool;
use shockwave_http11 as h11;
use tokio::sync::{watch, Notify};

use super::config::ServerConfig;
use super::stats::WorkerCounters;
use super::trim::Trim;
use crate::common::budget::WorkerBudget;

/// Most buffers a worker keeps for new connections (two per HTTP/1.1 connection, each of
/// `read_buffer_size` capacity: 2 MiB with the default 16 KiB).
pub(crate) const MAX_POOLED_BUFFERS: usize = 128;

/// Everything a worker's connections share (one per worker thread, behind an `Rc`).
pub(crate) struct WorkerState<H> {
    pub handler: Arc<H>,
    pub config: Arc<ServerConfig>,
    pub h11_limits: h11::Limits,
    pub pool: ArenaPool,
    date_cache: RefCell<h11::DateCache>,
    /// The `Date` value, refreshed by the worker's 50 ms tick (no clock read per request).
    date: Cell<h11::HttpDate>,
    /// Incremented whenever `date` changes: lets connections reuse a serialized response
    /// head while the date it holds is current.
    date_gen: Cell<u64>,
    /// A coarse clock, refreshed by the same tick: timeouts need no clock read per request.
    now: Cell<tokio::time::Instant>,
    /// Set once the worker saw the shutdown signal.
    pub(super) stopping: Cell<bool>,
    pub counters: Arc<WorkerCounters>,
    pub shutdown: watch::Receiver<bool>,
    buffers: RefCell<Vec<Vec<u8>>>,
    pub(super) active: Cell<usize>,
    pub(super) closed: Notify,
    /// Wakes this worker's idle connections on shutdown (worker-local: no cross-core
    /// traffic on the per-request path).
    pub(super) stop_notify: Notify,
    /// Request-body bytes this worker's connections hold, against
    /// `ServerLimits::max_body_bytes_per_worker`.
    pub body_budget: WorkerBudget,
    /// What this worker released since it last returned free heap memory to the kernel.
    pub(super) trim: Trim,
}

impl<H> WorkerState<H> {
    /// The state of a new worker (its date is set by the first [`Self::tick`]).
    pub(crate) fn new(
        handler: Arc<H>,
        config: Arc<ServerConfig>,
        counters: Arc<WorkerCounters>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let limits = &config.limits;
        let h11_limits = h11::Limits {
            max_request_line: limits.max_request_line,
            max_headers: limits.max_headers,
            max_header_bytes: limits.max_header_bytes,
            ..h11::Limits::default()
        };
        let body_limit = limits.max_body_bytes_per_worker;
        WorkerState {
            handler,
            pool: ArenaPool::new(config.arena.clone()),
            config,
            h11_limits,
            date_cache: RefCell::new(h11::DateCache::new(std::time::UNIX_EPOCH)),
            date: Cell::new(h11::HttpDate::from_system_time(std::time::UNIX_EPOCH)),
            date_gen: Cell::new(0),
            now: Cell::new(tokio::time::Instant::now()),
            stopping: Cell::new(false),
            counters,
            shutdown,
            buffers: RefCell::new(Vec::new()),
            active: Cell::new(0),
            closed: Notify::new(),
            stop_notify: Notify::new(),
            body_budget: WorkerBudget::new(body_limit),
            trim: Trim::default(),
        }
    }

    /// A cleared buffer from the worker's pool (reused across connections).
    pub(crate) fn take_buffer(&self) -> Vec<u8> {
        self.buffers
            .borrow_mut()
            .pop()
            // A new buffer starts small (an idle connection holds two): it grows to what
            // the connection needs, and the pool keeps up to the read buffer size.
            .unwrap_or_else(|| Vec::with_capacity(self.config.read_buffer_size.min(4096)))
    }

    /// Gives a buffer back to the pool: at most [`MAX_POOLED_BUFFERS`], each cut back to
    /// the read buffer size (a buffer a big request or response grew is not kept big).
    pub(crate) fn return_buffer(&self, mut buf: Vec<u8>) {
        let mut pool = self.buffers.borrow_mut();
        // An empty `Vec` is what a connection holds after giving its buffer back.
        if pool.len() < MAX_POOLED_BUFFERS && buf.capacity() > 0 {
            buf.clear();
            buf.shrink_to(self.config.read_buffer_size);
            pool.push(buf);
        }
    }

    /// The cached `Date` header value (for the HTTP/2 and HTTP/3 drivers).
    #[cfg(any(feature = "http2", feature = "http3"))]
    pub(crate) fn date(&self) -> [u8; 29] {
        *self.date.get().as_bytes()
    }

    /// The cached `Date` header value, checked once per change (for HTTP/1.1 heads).
    pub(crate) fn http_date(&self) -> h11::HttpDate {
        self.date.get()
    }

    /// Changes whenever [`Self::date`] does.
    pub(crate) fn date_gen(&self) -> u64 {
        self.date_gen.get()
    }

    /// The coarse current time (at most ~50 ms old).
    pub(crate) fn now(&self) -> tokio::time::Instant {
        self.now.get()
    }

    /// Resolves when a graceful shutdown begins (check [`Self::stopping`] first).
    pub(crate) fn stop_signal(&self) -> tokio::sync::futures::Notified<'_> {
        self.stop_notify.notified()
    }

    /// True once a graceful shutdown began.
    pub(crate) fn stopping(&self) -> bool {
        self.stopping.get()
    }

    pub(crate) fn tick(&self) {
        self.now.set(tokio::time::Instant::now());
        // The protocol crate reads no clock: the tick passes the time in.
        let mut cache = self.date_cache.borrow_mut();
        cache.refresh(std::time::SystemTime::now());
        let value = cache.date();
        if value != self.date.get() {
            self.date.set(value);
            self.date_gen.set(self.date_gen.get().wrapping_add(1));
        }
    }

    /// Publishes the arena pool's statistics and the body budget for `/stats`; returns the
    /// arenas the pool discarded so far.
    pub(crate) fn publish_arena_stats(&self) -> u64 {
        use std::sync::atomic::Ordering::Relaxed;
        let c = &self.counters;
        c.body_bytes_held.store(self.body_budget.held(), Relaxed);
        c.body_bytes_held_peak
            .store(self.body_budget.peak(), Relaxed);
        let stats = self.pool.stats();
        let discarded = stats.arenas_discarded;
        *self
            .counters
            .arena
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = stats;
        discarded
    }
}

/// Spawns (on the current `LocalSet`) the worker's 50 ms tick: the cached date and coarse
/// clock, and every other tick the arena statistics and a check whether to return free
/// heap memory to the kernel (after a bulk release: see `super::trim`).
pub(crate) fn spawn_ticker<H: 'static>(state: Rc<WorkerState<H>>) -> tokio::task::JoinHandle<()> {
    tokio::task::spawn_local(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut publish = false;
        loop {
            tick.tick().await;
            state.tick();
            // Arena statistics every other tick (100 ms).
            publish = !publish;
            if publish {
                let discarded = state.publish_arena_stats();
                state.trim.maybe_trim(state.active.get(), discarded);
            }
        }
    })
}
