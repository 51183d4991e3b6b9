//! Streaming request bodies: [`Body<'a>`] over a protocol's [`BodySource`].

use std::future::poll_fn;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::StatusCode;
use shockwave_arena::Arena;

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// The body is larger than the configured maximum (answered with 413).
    #[error("request body larger than {limit} bytes")]
    TooLarge {
        /// The configured limit.
        limit: u64,
    },
    /// The body's framing is malformed, e.g. a bad chunk size (answered with 400).
    #[error("malformed request body: {0}")]
    Malformed(String),
    /// The peer was too slow to send the body (answered with 408).
    #[error("timed out reading the request body")]
    Timeout,
    /// The connection closed before the body ended.
    #[error("connection closed before the request body ended")]
    Closed,
    /// An I/O error on the connection.
    #[error("I/O error reading the request body: {0}")]
    Io(#[from] std::io::Error),
    /// The request arena refused the allocation (answered with 413).
    #[error("request arena: {0}")]
    Arena(#[from] shockwave_arena::ArenaError),
}

impl BodyError {
    /// The status the server answers with when a handler hits this error.
    pub fn status(&self) -> StatusCode {
        match self {
            BodyError::TooLarge { .. } | BodyError::Arena(_) => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::Malformed(_) => StatusCode::BAD_REQUEST,
            BodyError::Timeout => StatusCode::REQUEST_TIMEOUT,
            BodyError::Closed | BodyError::Io(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// A protocol's request-body reader, poll-style so HTTP/1.1, HTTP/2 and HTTP/3 drivers can
/// each provide one (the handler only sees [`Body`]).
pub trait BodySource {
    /// Reads body bytes into `buf`; `Ok(0)` means the body ended. Sends
    /// `100 Continue` first where the protocol asks for it.
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8])
        -> Poll<Result<usize, BodyError>>;
    /// The declared length, when known (`content-length`).
    fn content_length(&self) -> Option<u64>;
    /// True once the whole body has been read.
    fn is_end(&self) -> bool;
    /// Body bytes that `poll_read` would return at once, without waiting (already
    /// received and buffered); 0 when none or unknown. [`Body::to_arena`] sizes its
    /// allocations by it, so that nothing is allocated ahead of the bytes received.
    fn readable_hint(&self) -> usize {
        0
    }
    /// The request's trailer fields, once the body has ended (`poll_read` returned
    /// `Ok(0)`); `None` if there were none (or the protocol driver does not keep them).
    fn trailers(&self) -> Option<super::Headers<'_>> {
        None
    }
}

/// The request body, streamed from the connection as the handler reads it.
///
/// Read it piecewise with [`Body::read`], or whole with [`Body::to_arena`] (no heap
/// allocation) or [`Body::to_bytes`]. A body the handler leaves unread is not kept: the
/// server closes the connection after the response instead.
pub struct Body<'a> {
    source: Option<&'a mut dyn BodySource>,
    arena: &'a Arena,
    limit: u64,
}

impl std::fmt::Debug for Body<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body")
            .field("content_length", &self.content_length())
            .field("is_end", &self.is_end())
            .finish()
    }
}

impl<'a> Body<'a> {
    /// The request's trailer fields (RFC 9110 §6.5), available after the body was read
    /// to its end; `None` before that, without trailers, or where the protocol driver
    /// does not keep them.
    pub fn trailers(&self) -> Option<super::Headers<'_>> {
        self.source.as_ref().and_then(|s| s.trailers())
    }

    /// A body read from `source`, at most `limit` bytes, collected into `arena`.
    pub fn new(source: &'a mut dyn BodySource, arena: &'a Arena, limit: u64) -> Self {
        Body {
            source: Some(source),
            arena,
            limit,
        }
    }

    /// An empty body.
    pub fn empty(arena: &'a Arena) -> Self {
        Body {
            source: None,
            arena,
            limit: 0,
        }
    }

    /// The most body bytes the server accepts for this request (`max_body_size`).
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The declared length (`Some(0)` for a request without a body).
    pub fn content_length(&self) -> Option<u64> {
        match &self.source {
            None => Some(0),
            Some(s) => s.content_length(),
        }
    }

    /// True once the whole body has been read (always for a request without one).
    pub fn is_end(&self) -> bool {
        self.source.as_ref().is_none_or(|s| s.is_end())
    }

    /// Reads the next bytes into `buf`; `Ok(0)` at the end of the body.
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize, BodyError> {
        match self.source.as_mut() {
            None => Ok(0),
            Some(src) => poll_fn(|cx| src.poll_read(cx, buf)).await,
        }
    }

    /// Reads the whole body into one exactly-sized slice of the request arena. Nothing is
    /// allocated ahead of the bytes received: a body that has arrived in full is read
    /// straight into the arena (no heap allocation); a longer one is collected as it
    /// arrives in a heap buffer, copied once into the arena at its end and freed. Bodies
    /// larger than the server's `max_body_size` (or the arena's limit) fail with
    /// [`BodyError::TooLarge`] / [`BodyError::Arena`].
    pub async fn to_arena(&mut self) -> Result<&'a [u8], BodyError> {
        let arena = self.arena;
        let limit = self.limit;
        let Some(src) = self.source.as_mut() else {
            return Ok(&[]);
        };
        let declared = src.content_length();
        if declared.is_some_and(|len| len > limit) {
            return Err(BodyError::TooLarge { limit });
        }
        // Nothing is allocated (let alone zeroed) ahead of the bytes received: a request
        // declaring 1 MB and sending nothing pins nothing. A body already here in full
        // (the usual small one) goes straight into an exactly-sized arena slice. Otherwise
        // the bytes are collected as they arrive in one heap buffer that grows with them,
        // and copied once into an exactly-sized arena slice when the body is complete: a
        // bump arena cannot grow a slice in place, and doubling inside it would leave every
        // old copy behind (3x the body for a chunked one).
        if declared == Some(0) {
            return Ok(&[]);
        }
        if let Some(len) = declared {
            if src.readable_hint() as u64 >= len {
                // Every byte is here: zeroing them costs what copying them does.
                let buf = arena.alloc_zeroed(len as usize)?;
                let mut filled = 0;
                while filled < buf.len() {
                    let n = poll_fn(|cx| src.poll_read(cx, &mut buf[filled..])).await?;
                    if n == 0 {
                        return Err(BodyError::Closed); // ended before its Content-Length
                    }
                    filled += n;
                }
                return Ok(buf);
            }
        }
        let staged = collect(&mut **src, limit).await?;
        if declared.is_some_and(|len| staged.len() as u64 != len) {
            return Err(BodyError::Closed); // ended before its Content-Length
        }
        Ok(arena.alloc_slice_copy(&staged)?)
    }

    /// Reads the whole body into heap [`Bytes`], read straight into one buffer that grows
    /// with the bytes received (a declared `Content-Length` reserves nothing ahead).
    pub async fn to_bytes(&mut self) -> Result<Bytes, BodyError> {
        let limit = self.limit;
        let Some(src) = self.source.as_mut() else {
            return Ok(Bytes::new());
        };
        Ok(Bytes::from(collect(&mut **src, limit).await?))
    }
}

/// Reads a body to its end into one heap buffer that grows only with the bytes received:
/// each read asks for what the source says is waiting ([`BodySource::readable_hint`]), or
/// 512 bytes when it cannot tell, so nothing is reserved or zeroed ahead of the data (a
/// declared length is not trusted). More than `limit` bytes is [`BodyError::TooLarge`].
async fn collect(src: &mut dyn BodySource, limit: u64) -> Result<Vec<u8>, BodyError> {
    /// What is read at once when the source cannot tell how much is waiting.
    const PROBE: usize = 512;
    let mut staged: Vec<u8> = Vec::new();
    loop {
        // At most one byte past the limit: enough to tell that it was exceeded.
        let room = (limit - (staged.len() as u64).min(limit)).saturating_add(1);
        let want = (src.readable_hint().max(PROBE) as u64).min(room) as usize;
        let start = staged.len();
        staged.resize(start + want, 0);
        let read = poll_fn(|cx| src.poll_read(cx, &mut staged[start..])).await;
        let n = match read {
            Ok(n) => n,
            Err(e) => return Err(e),
        };
        staged.truncate(start + n);
        if n == 0 {
            return Ok(staged);
        }
        if staged.len() as u64 > limit {
            return Err(BodyError::TooLarge { limit });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A protocol-neutral body source, as an HTTP/2 or HTTP/3 driver would provide.
    struct Chunks {
        chunks: std::vec::IntoIter<&'static [u8]>,
        current: &'static [u8],
        length: Option<u64>,
    }

    impl Chunks {
        fn new(chunks: Vec<&'static [u8]>, length: Option<u64>) -> Self {
            Chunks {
                chunks: chunks.into_iter(),
                current: &[],
                length,
            }
        }
    }

    impl BodySource for Chunks {
        fn poll_read(
            &mut self,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<Result<usize, BodyError>> {
            while self.current.is_empty() {
                match self.chunks.next() {
                    Some(c) => self.current = c,
                    None => return Poll::Ready(Ok(0)),
                }
            }
            let n = self.current.len().min(buf.len());
            buf[..n].copy_from_slice(&self.current[..n]);
            self.current = &self.current[n..];
            Poll::Ready(Ok(n))
        }
        fn content_length(&self) -> Option<u64> {
            self.length
        }
        fn is_end(&self) -> bool {
            self.current.is_empty() && self.chunks.len() == 0
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn bodies_collect_into_the_arena_with_and_without_a_length() {
        let arena = Arena::new();
        let mut src = Chunks::new(vec![b"hello ", b"", b"world"], Some(11));
        let mut body = Body::new(&mut src, &arena, 100);
        assert_eq!(block_on(body.to_arena()).unwrap(), b"hello world");
        assert!(body.is_end());
        let big: &'static [u8] = Box::leak(vec![7u8; 10_000].into_boxed_slice());
        let mut src = Chunks::new(vec![b"a", big, b"z"], None);
        let mut body = Body::new(&mut src, &arena, 20_000);
        let got = block_on(body.to_arena()).unwrap();
        assert_eq!(got.len(), 10_002);
        assert_eq!((got[0], got[10_001]), (b'a', b'z'));
    }

    #[test]
    fn limits_are_enforced() {
        let arena = Arena::new();
        let mut src = Chunks::new(vec![b"0123456789"], Some(10));
        let mut body = Body::new(&mut src, &arena, 5);
        let err = block_on(body.to_arena()).unwrap_err();
        assert!(matches!(err, BodyError::TooLarge { limit: 5 }));
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
        for limit in [9u64, 10] {
            let mut src = Chunks::new(vec![b"01234", b"56789"], None);
            let mut body = Body::new(&mut src, &arena, limit);
            let r = block_on(body.to_arena());
            assert_eq!(r.is_ok(), limit == 10, "limit {limit}: {r:?}");
            let mut src = Chunks::new(vec![b"01234", b"56789"], None);
            let mut body = Body::new(&mut src, &arena, limit);
            assert_eq!(block_on(body.to_bytes()).is_ok(), limit == 10);
        }
        let mut empty = Body::empty(&arena);
        assert_eq!(block_on(empty.to_arena()).unwrap(), b"");
        assert_eq!(empty.content_length(), Some(0));
    }

    #[test]
    fn a_declared_length_is_not_allocated_before_the_bytes_arrive() {
        // Found by `cargo xtask soak`: 50 requests declaring 16 MB each and sending
        // nothing pinned ~750 MiB when the declared length was allocated up front.
        let arena = Arena::new();
        let mut src = Chunks::new(vec![b"abc"], Some(16_000_000));
        let mut body = Body::new(&mut src, &arena, 16 * 1024 * 1024);
        let err = block_on(body.to_arena()).unwrap_err();
        assert!(matches!(err, BodyError::Closed), "{err:?}");
        // Nothing in the arena: the 3 bytes that came were staged, never a zeroed 64 KiB.
        assert_eq!(arena.allocated_bytes(), 0);
        // A body that does arrive in full is still read exactly, past the first buffer,
        // and one near the arena's limit still fits (only 64 KiB are copied once).
        let big: &'static [u8] = Box::leak(vec![9u8; 900_000].into_boxed_slice());
        let arena = Arena::with_limit(8 * 1024, Some(1 << 20));
        let mut src = Chunks::new(vec![b"<", big, b">"], Some(900_002));
        let mut body = Body::new(&mut src, &arena, 1 << 20);
        let got = block_on(body.to_arena()).unwrap();
        assert_eq!(got.len(), 900_002);
        assert_eq!((got[0], got[100_000], got[900_001]), (b'<', 9, b'>'));
        assert!(
            arena.allocated_bytes() <= 900_002 + 16 * 1024,
            "exactly sized: {}",
            arena.allocated_bytes()
        );
    }

    /// A source whose bytes have all arrived and says so (`readable_hint`).
    struct Arrived(&'static [u8]);

    impl BodySource for Arrived {
        fn poll_read(
            &mut self,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<Result<usize, BodyError>> {
            let n = self.0.len().min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Poll::Ready(Ok(n))
        }
        fn content_length(&self) -> Option<u64> {
            Some(11)
        }
        fn is_end(&self) -> bool {
            self.0.is_empty()
        }
        fn readable_hint(&self) -> usize {
            self.0.len()
        }
    }

    #[test]
    fn a_chunked_body_near_the_arena_limit_fits_and_an_arrived_one_needs_no_heap() {
        // Doubling inside a bump arena left every old copy behind: a 900 KB chunked body
        // failed under a 2 MiB arena limit. It is copied in once, exactly sized.
        let big: &'static [u8] = Box::leak(vec![5u8; 900_000].into_boxed_slice());
        let pieces: Vec<&'static [u8]> = big.chunks(16_384).collect();
        let arena = Arena::with_limit(8 * 1024, Some(2 << 20));
        let mut src = Chunks::new(pieces, None);
        let mut body = Body::new(&mut src, &arena, 16 << 20);
        assert_eq!(block_on(body.to_arena()).unwrap().len(), 900_000);
        // One exact copy (plus the unused tail of the first 8 KiB chunk).
        assert!(
            arena.allocated_bytes() <= 900_000 + 16 * 1024,
            "{}",
            arena.allocated_bytes()
        );

        let arena = Arena::new();
        let mut src = Arrived(b"hello world");
        let mut body = Body::new(&mut src, &arena, 100);
        assert_eq!(block_on(body.to_arena()).unwrap(), b"hello world");
        // Read straight into an exactly-sized slice.
        assert_eq!(arena.allocated_bytes(), 11);
    }
}
