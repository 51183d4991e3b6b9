//! Giving freed heap memory back to the operating system after a bulk release.
//!
//! glibc's `malloc` keeps what the program frees in its arenas (one per thread that
//! contended for one, up to 8 × cores) and hands only the free *top* of an arena back to
//! the kernel (past `M_TRIM_THRESHOLD`). After a burst (hundreds of connections with
//! big bodies, then their arenas and buffers freed) the free memory in the middle of each
//! worker's arena stays resident: the process looks as big as at its peak although
//! nothing uses that memory. `malloc_trim(0)` returns every free whole page of every
//! arena to the kernel (`madvise(MADV_DONTNEED)`; the pages stay mapped and cost a page
//! fault when reused).
//!
//! Each worker checks on its tick (every 100 ms) whether it released memory *in bulk*
//! since its last trim: an arena grew past the pool's retained capacity (or found the
//! idle list full) and was dropped, idle keep-alive connections cut back at least
//! [`MIN_FREED_BYTES`] of grown buffers, or at least [`MIN_CLOSED`] connections closed
//! and the open connections fell to half of their peak since the last trim (an attack or
//! a burst ended). Steady traffic, even with
//! connection churn, never triggers it. Trims are rate-limited process-wide to one per
//! [`MIN_INTERVAL_MS`] (a trim walks every arena, whichever worker asks). Other
//! allocators (musl, jemalloc as global allocator) do not need this; the call compiles
//! only for Linux with glibc.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::Instant;

/// Closed connections since the last trim that can count as a bulk release.
pub(crate) const MIN_CLOSED: u64 = 16;

/// Bytes of connection buffers cut back since the last trim that count as a bulk
/// release (idle keep-alive connections giving back what a burst grew).
pub(crate) const MIN_FREED_BYTES: u64 = 4 * 1024 * 1024;

/// At most one trim per this many milliseconds in the whole process.
pub(crate) const MIN_INTERVAL_MS: u64 = 1000;

/// One worker's view of what it released since its last trim.
#[derive(Debug, Default)]
pub(crate) struct Trim {
    /// Connections closed by this worker, ever.
    closed: Cell<u64>,
    /// Buffer bytes this worker's idle connections gave back since the last trim.
    freed: Cell<u64>,
    /// `closed` at the last trim.
    closed_at_trim: Cell<u64>,
    /// The pool's discarded arenas at the last trim.
    discarded_at_trim: Cell<u64>,
    /// The most open connections seen on a tick since the last trim.
    peak_active: Cell<usize>,
}

impl Trim {
    /// Counts one closed connection.
    pub(crate) fn note_close(&self) {
        self.closed.set(self.closed.get() + 1);
    }

    /// Counts `bytes` of buffer capacity an idle connection gave back.
    pub(crate) fn note_freed(&self, bytes: usize) {
        self.freed
            .set(self.freed.get().saturating_add(bytes as u64));
    }

    /// Whether this worker released memory in bulk since its last trim, given its open
    /// connections now and the arenas its pool discarded so far. Records the peak.
    pub(crate) fn bulk_release(&self, active: usize, discarded: u64) -> bool {
        let peak = self.peak_active.get().max(active);
        self.peak_active.set(peak);
        if discarded > self.discarded_at_trim.get() || self.freed.get() >= MIN_FREED_BYTES {
            return true;
        }
        let closed = self.closed.get() - self.closed_at_trim.get();
        closed >= MIN_CLOSED && active <= peak / 2
    }

    /// Starts a new period after a trim.
    fn reset(&self, active: usize, discarded: u64) {
        self.closed_at_trim.set(self.closed.get());
        self.freed.set(0);
        self.discarded_at_trim.set(discarded);
        self.peak_active.set(active);
    }

    /// Trims the allocator if this worker released memory in bulk and no trim ran in the
    /// last [`MIN_INTERVAL_MS`]; returns whether it did.
    pub(crate) fn maybe_trim(&self, active: usize, discarded: u64) -> bool {
        if !self.bulk_release(active, discarded) || !take_slot(&LAST_TRIM, now_ms()) {
            return false;
        }
        self.reset(active, discarded);
        let started = Instant::now();
        let released = malloc_trim();
        tracing::debug!(
            released,
            micros = started.elapsed().as_micros() as u64,
            "returned free heap memory to the kernel"
        );
        true
    }
}

/// Milliseconds since the first call (a process-wide monotonic clock).
fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// When the last trim ran (ms since the epoch, plus one so 0 means never).
static LAST_TRIM: AtomicU64 = AtomicU64::new(0);

/// Claims the trim `slot` (the process-wide [`LAST_TRIM`]) at `now` (ms) if the last
/// trim is at least [`MIN_INTERVAL_MS`] old.
fn take_slot(slot: &AtomicU64, now: u64) -> bool {
    let last = slot.load(Relaxed);
    if last != 0 && now + 1 < last + MIN_INTERVAL_MS {
        return false;
    }
    slot.compare_exchange(last, now + 1, Relaxed, Relaxed)
        .is_ok()
}

/// `malloc_trim(0)`: whether glibc returned memory.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn malloc_trim() -> bool {
    // SAFETY: `malloc_trim` takes a plain integer and only touches the allocator's own
    // state, under the allocator's locks; it is safe to call from any thread at any time.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Other allocators give memory back by themselves (or offer no such call).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn malloc_trim() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_churn_is_not_a_bulk_release() {
        let t = Trim::default();
        // 100 connections open, connections closing and reopening at the same rate.
        for _ in 0..10 {
            for _ in 0..MIN_CLOSED {
                t.note_close();
            }
            assert!(!t.bulk_release(100, 0));
        }
    }

    #[test]
    fn connections_falling_to_half_their_peak_is_a_bulk_release() {
        let t = Trim::default();
        assert!(!t.bulk_release(200, 0));
        for _ in 0..150 {
            t.note_close();
        }
        assert!(t.bulk_release(50, 0));
        // A new period starts at the trim: nothing released since.
        t.reset(50, 0);
        assert!(!t.bulk_release(50, 0));
        assert!(!t.bulk_release(0, 0), "no connection closed since the trim");
    }

    #[test]
    fn few_closes_are_not_a_bulk_release() {
        let t = Trim::default();
        assert!(!t.bulk_release(4, 0));
        for _ in 0..4 {
            t.note_close();
        }
        assert!(!t.bulk_release(0, 0));
    }

    #[test]
    fn buffers_given_back_in_bulk_are_a_bulk_release() {
        let t = Trim::default();
        t.note_freed(MIN_FREED_BYTES as usize - 1);
        assert!(!t.bulk_release(100, 0));
        t.note_freed(1);
        assert!(t.bulk_release(100, 0));
        t.reset(100, 0);
        assert!(!t.bulk_release(100, 0));
    }

    #[test]
    fn a_discarded_arena_is_a_bulk_release() {
        let t = Trim::default();
        assert!(!t.bulk_release(10, 0));
        assert!(t.bulk_release(10, 1));
        t.reset(10, 1);
        assert!(!t.bulk_release(10, 1));
    }

    #[test]
    fn trims_are_rate_limited_process_wide() {
        let slot = AtomicU64::new(0);
        let base = 5;
        assert!(take_slot(&slot, base), "the first trim may run at once");
        assert!(!take_slot(&slot, base + 1));
        assert!(!take_slot(&slot, base + MIN_INTERVAL_MS - 1));
        assert!(take_slot(&slot, base + MIN_INTERVAL_MS));
        assert!(!take_slot(&slot, base + MIN_INTERVAL_MS + 1));
    }

    #[test]
    fn trimming_is_callable() {
        // Whatever it returns, the call is sound on this platform.
        let _ = malloc_trim();
    }
}
