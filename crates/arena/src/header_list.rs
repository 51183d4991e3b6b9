use std::fmt;

use bumpalo::collections::Vec as BumpVec;

use crate::{Arena, ArenaError};

/// How many header pairs a [`HeaderList`] stores inline before spilling into its arena.
pub const HEADER_LIST_INLINE: usize = 16;

type Pair<'a> = (&'a [u8], &'a [u8]);

/// Iterator over a [`HeaderList`]'s pairs, in insertion order.
pub type Iter<'a, 's> = std::iter::Copied<
    std::iter::Chain<std::slice::Iter<'s, Pair<'a>>, std::slice::Iter<'s, Pair<'a>>>,
>;

/// An ordered list of `(name, value)` byte-slice pairs: the first
/// [`HEADER_LIST_INLINE`] live inline, the rest overflow into the arena (the seed
/// design's "header overflow in arena"). Lookups by name are ASCII case-insensitive.
///
/// ```
/// use shockwave_arena::{Arena, HeaderList};
///
/// let arena = Arena::new();
/// let mut headers = HeaderList::new_in(&arena);
/// headers.push(b"Set-Cookie", b"a=1").unwrap();
/// headers.push(b"Content-Type", b"text/plain").unwrap();
/// headers.push(b"set-cookie", b"b=2").unwrap();
/// assert_eq!(headers.get(b"content-type"), Some(&b"text/plain"[..]));
/// let cookies: Vec<&[u8]> = headers.get_all(b"SET-COOKIE").collect();
/// assert_eq!(cookies, [&b"a=1"[..], &b"b=2"[..]]);
/// ```
pub struct HeaderList<'a> {
    arena: &'a Arena,
    inline: [Pair<'a>; HEADER_LIST_INLINE],
    inline_len: usize,
    overflow: BumpVec<'a, Pair<'a>>,
}

impl<'a> HeaderList<'a> {
    /// An empty list whose overflow storage comes from `arena`. Does not allocate.
    pub fn new_in(arena: &'a Arena) -> Self {
        HeaderList {
            arena,
            inline: [(&[], &[]); HEADER_LIST_INLINE],
            inline_len: 0,
            overflow: BumpVec::new_in(arena.bump()),
        }
    }

    /// The arena this list overflows into.
    pub fn arena(&self) -> &'a Arena {
        self.arena
    }

    /// Appends a pair. Fails only if the arena's allocation limit is reached.
    pub fn push(&mut self, name: &'a [u8], value: &'a [u8]) -> Result<(), ArenaError> {
        if self.inline_len < HEADER_LIST_INLINE {
            self.inline[self.inline_len] = (name, value);
            self.inline_len += 1;
            return Ok(());
        }
        if self.overflow.len() == self.overflow.capacity() {
            // Grow geometrically, starting at the inline size, through the fallible path.
            let extra = self.overflow.capacity().max(HEADER_LIST_INLINE);
            self.overflow
                .try_reserve_exact(extra)
                .map_err(|_| self.arena_error(extra))?;
        }
        self.overflow.push((name, value));
        Ok(())
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.inline_len + self.overflow.len()
    }

    /// True when the list holds no pairs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True once the list has spilled into the arena.
    pub fn spilled(&self) -> bool {
        !self.overflow.is_empty()
    }

    /// Removes every pair (overflow capacity stays in the arena for reuse).
    pub fn clear(&mut self) {
        self.inline_len = 0;
        self.overflow.clear();
    }

    /// The pair at `index`, in insertion order.
    pub fn get_index(&self, index: usize) -> Option<(&'a [u8], &'a [u8])> {
        if index < self.inline_len {
            Some(self.inline[index])
        } else {
            self.overflow.get(index - self.inline_len).copied()
        }
    }

    /// The first value whose name matches `name` (ASCII case-insensitive).
    pub fn get(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.get_all(name).next()
    }

    /// True if some pair has this name (ASCII case-insensitive).
    pub fn contains(&self, name: &[u8]) -> bool {
        self.get(name).is_some()
    }

    /// Every value whose name matches `name`, in order.
    pub fn get_all<'s>(&'s self, name: &'s [u8]) -> impl Iterator<Item = &'a [u8]> + 's {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every pair in insertion order.
    pub fn iter(&self) -> Iter<'a, '_> {
        self.inline[..self.inline_len]
            .iter()
            .chain(self.overflow.iter())
            .copied()
    }

    fn arena_error(&self, extra: usize) -> ArenaError {
        let requested = extra * std::mem::size_of::<Pair<'a>>();
        match self.arena.allocation_limit() {
            Some(limit) => ArenaError::LimitExceeded { limit, requested },
            None => ArenaError::OutOfMemory { requested },
        }
    }
}

impl fmt::Debug for HeaderList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            }))
            .finish()
    }
}

impl<'a, 's> IntoIterator for &'s HeaderList<'a> {
    type Item = (&'a [u8], &'a [u8]);
    type IntoIter = Iter<'a, 's>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_then_overflow_keeps_order() {
        let arena = Arena::new();
        let names: std::vec::Vec<std::string::String> =
            (0..40).map(|i| format!("X-Header-{i}")).collect();
        let mut list = HeaderList::new_in(&arena);
        for (i, name) in names.iter().enumerate() {
            list.push(name.as_bytes(), b"v").unwrap();
            assert_eq!(list.len(), i + 1);
            assert_eq!(list.spilled(), i >= HEADER_LIST_INLINE);
        }
        let got: std::vec::Vec<&[u8]> = list.iter().map(|(n, _)| n).collect();
        let want: std::vec::Vec<&[u8]> = names.iter().map(|n| n.as_bytes()).collect();
        assert_eq!(got, want);
        assert_eq!(list.get_index(39).unwrap().0, b"X-Header-39");
        assert_eq!(list.get_index(40), None);
        assert!(arena.allocated_bytes() > 0, "overflow lives in the arena");
    }

    #[test]
    fn case_insensitive_lookup() {
        let arena = Arena::new();
        let mut list = HeaderList::new_in(&arena);
        list.push(b"Content-Length", b"10").unwrap();
        list.push(b"ACCEPT", b"a").unwrap();
        list.push(b"accept", b"b").unwrap();
        assert_eq!(list.get(b"content-length"), Some(&b"10"[..]));
        assert_eq!(list.get(b"CONTENT-LENGTH"), Some(&b"10"[..]));
        assert_eq!(list.get(b"content-lengt"), None);
        assert_eq!(list.get_all(b"Accept").count(), 2);
        assert!(list.contains(b"accept"));
        assert!(!list.contains(b"host"));
        list.clear();
        assert!(list.is_empty());
        assert_eq!(list.get(b"accept"), None);
    }

    #[test]
    fn overflow_respects_the_arena_limit() {
        let arena = Arena::with_limit(64, Some(512));
        let mut list = HeaderList::new_in(&arena);
        let mut result = Ok(());
        for _ in 0..1000 {
            result = list.push(b"a", b"b");
            if result.is_err() {
                break;
            }
        }
        assert!(matches!(
            result,
            Err(ArenaError::LimitExceeded { limit: 512, .. })
        ));
        assert!(list.len() >= HEADER_LIST_INLINE);
    }
}
