//! # shockwave-arena
//!
//! Scoped allocators for every Shockwave crate: the per-request [`Arena`], a bounded
//! [`ArenaPool`] that resets arenas and hands them out again (the `sync.Pool` analogue),
//! [`ArenaStats`] counters, arena-backed collections ([`HeaderList`], [`Vec`], [`String`]),
//! and a counting global allocator ([`alloc_count`]) so tests can assert "zero heap
//! allocations per request".
//!
//! Everything that lives in an arena borrows it, so the borrow checker enforces the
//! arena's lifetime rule — *the arena outlives everything allocated in it* — at compile
//! time. A value allocated in an arena cannot escape it:
//!
//! ```compile_fail,E0597
//! use shockwave_arena::Arena;
//!
//! let escaped: &[u8];
//! {
//!     let arena = Arena::new();
//!     escaped = arena.alloc_bytes(b"header value").unwrap();
//! } // `arena` is dropped here while `escaped` still borrows it: error[E0597]
//! println!("{:?}", escaped);
//! ```
//!
//! Nor can a pooled arena be reset or returned while something still borrows it:
//!
//! ```compile_fail,E0502
//! use shockwave_arena::ArenaPool;
//!
//! let pool = ArenaPool::new(Default::default());
//! let mut arena = pool.get();
//! let value = arena.alloc(42u64).unwrap();
//! arena.reset(); // error[E0502]: cannot borrow `arena` as mutable while `value` is alive
//! assert_eq!(*value, 42);
//! ```
//!
//! A typical request lifecycle:
//!
//! ```
//! use shockwave_arena::{ArenaPool, HeaderList, PoolConfig};
//!
//! let pool = ArenaPool::new(PoolConfig::default());
//! {
//!     let arena = pool.get(); // a reset arena from the pool (or a new one)
//!     let mut headers = HeaderList::new_in(&arena);
//!     headers.push(b"Host", b"example.com").unwrap();
//!     headers.push(b"Accept", b"*/*").unwrap();
//!     assert_eq!(headers.get(b"host"), Some(&b"example.com"[..]));
//! } // the guard drops: the arena is reset and returned, freeing everything at once
//! assert_eq!(pool.stats().arenas_in_use, 0);
//! assert_eq!(pool.stats().resets, 1);
//! ```

#![warn(missing_docs)]

pub mod alloc_count;
mod arena;
mod error;
mod header_list;
mod pool;
mod stats;
mod sync_pool;

pub use arena::Arena;
pub use error::ArenaError;
pub use header_list::{HeaderList, Iter as HeaderIter, HEADER_LIST_INLINE};
pub use pool::{ArenaPool, PoolConfig, PooledArena, LIFETIME_SAMPLE_EVERY};
pub use stats::ArenaStats;
pub use sync_pool::{SyncArenaPool, SyncPooledArena};

/// The bump allocator underneath every [`Arena`], for use with the collections below.
pub use bumpalo::Bump;

/// Arena-backed growable vector (`bumpalo::collections::Vec`). Create it with
/// `Vec::new_in(arena.bump())`. Its elements are never dropped individually: store only
/// plain data or other arena types in it.
pub use bumpalo::collections::Vec;

/// Arena-backed growable string (`bumpalo::collections::String`).
pub use bumpalo::collections::String;
