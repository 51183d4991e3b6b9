use std::cell::Cell;
use std::time::Duration;

/// A snapshot of an arena pool's counters (see [`crate::ArenaPool::stats`]).
///
/// Counters are plain per-pool integers, so keeping them costs a few additions per
/// request. Byte figures are counted when an arena comes back to its pool: when no arena
/// is in use, `bytes_freed == bytes_allocated` ("balanced").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArenaStats {
    /// Arenas created by the pool (cold starts and replacements of discarded arenas).
    pub arenas_created: u64,
    /// Arenas currently lent out.
    pub arenas_in_use: u64,
    /// Arenas idle in the pool, ready for reuse.
    pub arenas_idle: u64,
    /// Arenas dropped on return because they outgrew the retained capacity or the pool
    /// was full.
    pub arenas_discarded: u64,
    /// Arenas handed out by `get` in total.
    pub gets: u64,
    /// Arenas reset and put back for reuse.
    pub resets: u64,
    /// Bytes handed out by arenas of this pool, summed over every returned arena.
    pub bytes_allocated: u64,
    /// Bytes freed at once by resets and discards of returned arenas.
    pub bytes_freed: u64,
    /// Chunk bytes currently held by idle arenas (memory the pool keeps for reuse).
    pub retained_bytes: u64,
    /// The largest number of bytes a single arena handed out before its return.
    pub peak_arena_bytes: u64,
    /// Sum of the lifetimes (get to return) of every returned arena. [`crate::ArenaPool`]
    /// times one arena in [`crate::LIFETIME_SAMPLE_EVERY`] and extrapolates (so
    /// [`ArenaStats::average_lifetime`] is the sample's average).
    pub total_lifetime: Duration,
}

impl ArenaStats {
    /// Average time an arena was lent out, from `get` to its return.
    pub fn average_lifetime(&self) -> Duration {
        let returned = self.gets.saturating_sub(self.arenas_in_use);
        if returned == 0 {
            Duration::ZERO
        } else {
            self.total_lifetime / returned.min(u32::MAX as u64) as u32
        }
    }

    /// Average bytes handed out per returned arena.
    pub fn average_bytes_per_arena(&self) -> u64 {
        let returned = self.gets.saturating_sub(self.arenas_in_use);
        self.bytes_allocated.checked_div(returned).unwrap_or(0)
    }
}

/// Single-threaded counters behind [`ArenaStats`].
#[derive(Default)]
pub(crate) struct LocalCounters {
    pub arenas_created: Cell<u64>,
    pub arenas_in_use: Cell<u64>,
    pub arenas_discarded: Cell<u64>,
    pub gets: Cell<u64>,
    pub resets: Cell<u64>,
    pub bytes_allocated: Cell<u64>,
    pub bytes_freed: Cell<u64>,
    pub retained_bytes: Cell<u64>,
    pub peak_arena_bytes: Cell<u64>,
    /// Sum of the sampled lifetimes, in nanoseconds.
    pub total_lifetime_nanos: Cell<u64>,
    /// Returned arenas whose lifetime was timed.
    pub lifetime_samples: Cell<u64>,
}

pub(crate) fn bump(cell: &Cell<u64>, by: u64) {
    cell.set(cell.get().wrapping_add(by));
}

pub(crate) fn drop_by(cell: &Cell<u64>, by: u64) {
    cell.set(cell.get().saturating_sub(by));
}
