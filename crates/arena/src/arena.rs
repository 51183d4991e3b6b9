use std::alloc::Layout;
use std::fmt;

use bumpalo::Bump;

use crate::ArenaError;

/// A per-request bump arena: allocation is a pointer bump, and everything is freed at
/// once by [`Arena::reset`] or by dropping the arena.
///
/// `Arena` wraps [`bumpalo::Bump`] and adds an optional allocation limit whose violation
/// is a typed [`ArenaError`] (never an abort), plus byte accounting. It is `Send` but not
/// `Sync`, which is why Shockwave runs one pool per worker thread.
///
/// Values stored in an arena are never dropped: store arena types (slices, `&'a [u8]`,
/// [`crate::Vec`], [`crate::String`], [`crate::HeaderList`]), not `std` collections whose
/// heap buffers would leak.
pub struct Arena {
    bump: Bump,
}

impl Arena {
    /// An empty arena without a limit; its first chunk is allocated lazily.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An arena whose first chunk holds at least `bytes` bytes.
    pub fn with_capacity(bytes: usize) -> Self {
        Arena {
            bump: Bump::with_capacity(bytes),
        }
    }

    /// An arena with a first chunk of `bytes` and an allocation `limit` (total chunk
    /// bytes the arena may ever hold).
    pub fn with_limit(bytes: usize, limit: Option<usize>) -> Self {
        let arena = Self::with_capacity(bytes);
        arena.set_allocation_limit(limit);
        arena
    }

    /// Sets (or clears) the allocation limit. As in bumpalo, the limit is checked when a
    /// new chunk is needed, so the arena never holds more than `limit` chunk bytes.
    pub fn set_allocation_limit(&self, limit: Option<usize>) {
        self.bump.set_allocation_limit(limit);
    }

    /// The allocation limit, if any.
    pub fn allocation_limit(&self) -> Option<usize> {
        self.bump.allocation_limit()
    }

    /// The underlying bump allocator, for arena collections such as
    /// `Vec::new_in(arena.bump())`. Note that the infallible methods of `Bump` and of the
    /// collections abort when the limit is hit; prefer this type's `try`-style methods or
    /// the collections' `try_reserve` on untrusted sizes.
    pub fn bump(&self) -> &Bump {
        &self.bump
    }

    /// Moves `value` into the arena and returns a reference to it.
    pub fn alloc<T>(&self, value: T) -> Result<&mut T, ArenaError> {
        let size = std::mem::size_of::<T>();
        self.bump.try_alloc(value).map_err(|_| self.error(size))
    }

    /// Copies a byte slice into the arena.
    pub fn alloc_bytes(&self, bytes: &[u8]) -> Result<&mut [u8], ArenaError> {
        self.alloc_slice_copy(bytes)
    }

    /// Copies a slice of `Copy` values into the arena.
    pub fn alloc_slice_copy<T: Copy>(&self, src: &[T]) -> Result<&mut [T], ArenaError> {
        self.bump
            .try_alloc_slice_copy(src)
            .map_err(|_| self.error(std::mem::size_of_val(src)))
    }

    /// Copies a string into the arena.
    pub fn alloc_str(&self, s: &str) -> Result<&mut str, ArenaError> {
        self.bump.try_alloc_str(s).map_err(|_| self.error(s.len()))
    }

    /// Allocates a zeroed byte buffer of `len` bytes (a read or scratch buffer).
    pub fn alloc_zeroed(&self, len: usize) -> Result<&mut [u8], ArenaError> {
        self.bump
            .try_alloc_slice_fill_copy(len, 0u8)
            .map_err(|_| self.error(len))
    }

    /// Checks that a block of `layout` could be allocated, and allocates it. Used by
    /// collections that want to pre-check untrusted sizes.
    pub fn reserve_layout(&self, layout: Layout) -> Result<(), ArenaError> {
        self.bump
            .try_alloc_layout(layout)
            .map(|_| ())
            .map_err(|_| self.error(layout.size()))
    }

    /// Frees everything allocated in the arena at once. Keeps the largest chunk, so a
    /// `work(); reset()` loop stops touching the system allocator after a couple of
    /// iterations. The borrow checker ensures nothing allocated before is still in use.
    pub fn reset(&mut self) {
        self.bump.reset();
    }

    /// Bytes handed out since the last reset (approximate: includes alignment padding
    /// and the unused tails of earlier chunks).
    pub fn allocated_bytes(&self) -> usize {
        self.bump
            .allocated_bytes()
            .saturating_sub(self.bump.chunk_capacity())
    }

    /// Total bytes of chunk memory the arena currently owns.
    pub fn capacity_bytes(&self) -> usize {
        self.bump.allocated_bytes()
    }

    /// Bytes still free in the current chunk before a new chunk is needed.
    pub fn remaining_in_chunk(&self) -> usize {
        self.bump.chunk_capacity()
    }

    fn error(&self, requested: usize) -> ArenaError {
        match self.bump.allocation_limit() {
            Some(limit) => ArenaError::LimitExceeded { limit, requested },
            None => ArenaError::OutOfMemory { requested },
        }
    }
}

impl Default for Arena {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Arena {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Arena")
            .field("allocated_bytes", &self.allocated_bytes())
            .field("capacity_bytes", &self.capacity_bytes())
            .field("limit", &self.allocation_limit())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alloc_and_accounting() {
        let arena = Arena::with_capacity(4096);
        assert_eq!(arena.allocated_bytes(), 0);
        let v = arena.alloc(7u64).unwrap();
        *v += 1;
        assert_eq!(*v, 8);
        let s = arena.alloc_str("hello").unwrap();
        assert_eq!(s, "hello");
        let b = arena.alloc_bytes(&[1, 2, 3]).unwrap();
        assert_eq!(b, &[1, 2, 3]);
        assert!(arena.allocated_bytes() >= 16);
        assert!(arena.capacity_bytes() >= 4096);
    }

    #[test]
    fn limit_is_a_typed_error_not_an_abort() {
        let arena = Arena::with_limit(1024, Some(4096));
        // Fits in the first chunk.
        assert!(arena.alloc_zeroed(512).is_ok());
        // Needs a new chunk past the limit.
        let err = arena.alloc_zeroed(1 << 20).unwrap_err();
        assert_eq!(
            err,
            ArenaError::LimitExceeded {
                limit: 4096,
                requested: 1 << 20
            }
        );
        assert!(err.to_string().contains("4096"));
        // The arena is still usable after the failure.
        assert!(arena.alloc(1u8).is_ok());
    }

    #[test]
    fn reset_frees_and_keeps_capacity() {
        let mut arena = Arena::new();
        for _ in 0..3 {
            for i in 0..100u32 {
                arena.alloc_bytes(&i.to_le_bytes().repeat(16)).unwrap();
            }
            assert!(arena.allocated_bytes() >= 6400);
            let cap = arena.capacity_bytes();
            arena.reset();
            assert_eq!(arena.allocated_bytes(), 0);
            assert!(arena.capacity_bytes() > 0 && arena.capacity_bytes() <= cap);
        }
    }
}
