use thiserror::Error;

/// Why an arena allocation failed. Allocation never panics or aborts: a request that
/// asks for more than its arena may hold gets this error, which servers map to
/// `413`/`431` or an HTTP/2 stream reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ArenaError {
    /// The allocation would grow the arena past its configured allocation limit.
    #[error("arena allocation limit of {limit} bytes exceeded (requested {requested} bytes)")]
    LimitExceeded {
        /// The arena's allocation limit in bytes.
        limit: usize,
        /// The size of the allocation that failed.
        requested: usize,
    },
    /// The system allocator could not provide a new chunk (or the size overflowed).
    #[error("arena out of memory (requested {requested} bytes)")]
    OutOfMemory {
        /// The size of the allocation that failed.
        requested: usize,
    },
}
