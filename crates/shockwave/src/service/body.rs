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

    /// Reads the whole body into the request arena (no heap allocation). Bodies larger
    /// than the server's `max_body_size` (or the arena's limit) fail with
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
        // A declared Content-Length is not trusted for the first allocation: an 80-byte
        // request declaring 16 MB and sending nothing would otherwise pin 16 MB of zeroed
        // memory for as long as it stalls. The first 64 KiB go into a small buffer; once
        // they have arrived, the declared length is allocated exactly (one 64 KiB copy,
        // so a body near the limit still fits the arena). Unknown lengths (chunked) grow
        // by doubling inside the arena.
        let max = declared.unwrap_or(limit);
        if declared == Some(0) {
            return Ok(&[]);
        }
        if max == 0 {
            let mut probe = [0u8; 1];
            return match poll_fn(|cx| src.poll_read(cx, &mut probe)).await? {
                0 => Ok(&[]),
                _ => Err(BodyError::TooLarge { limit }),
            };
        }
        let first = if declared.is_some() { 64 * 1024 } else { 4096 };
        let mut cap = (max as usize).min(first);
        let mut buf: &mut [u8] = arena.alloc_zeroed(cap)?;
        let mut filled = 0usize;
        loop {
            if filled == cap {
                if declared.is_some() && cap as u64 >= max {
                    break; // every declared byte is here
                }
                if cap as u64 >= max {
                    // One more byte would exceed the limit: probe for the end.
                    let mut probe = [0u8; 1];
                    let n = poll_fn(|cx| src.poll_read(cx, &mut probe)).await?;
                    if n == 0 {
                        break;
                    }
                    return Err(BodyError::TooLarge { limit });
                }
                let new_cap = if declared.is_some() {
                    max as usize
                } else {
                    (cap * 2).min(max as usize)
                };
                let bigger = arena.alloc_zeroed(new_cap)?;
                bigger[..filled].copy_from_slice(&buf[..filled]);
                buf = bigger;
                cap = new_cap;
            }
            let n = poll_fn(|cx| src.poll_read(cx, &mut buf[filled..])).await?;
            if n == 0 {
                if declared.is_some() {
                    return Err(BodyError::Closed); // ended before its Content-Length
                }
                break;
            }
            filled += n;
        }
        Ok(&buf[..filled])
    }

    /// Reads the whole body into heap [`Bytes`] (one allocation, or more for chunked
    /// bodies).
    pub async fn to_bytes(&mut self) -> Result<Bytes, BodyError> {
        let limit = self.limit;
        let Some(src) = self.source.as_mut() else {
            return Ok(Bytes::new());
        };
        let mut out = Vec::with_capacity(src.content_length().unwrap_or(0).min(limit) as usize);
        let mut chunk = [0u8; 8192];
        loop {
            let n = poll_fn(|cx| src.poll_read(cx, &mut chunk)).await?;
            if n == 0 {
                break;
            }
            if (out.len() + n) as u64 > limit {
                return Err(BodyError::TooLarge { limit });
            }
            out.extend_from_slice(&chunk[..n]);
        }
        Ok(Bytes::from(out))
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
        assert!(
            arena.allocated_bytes() <= 64 * 1024,
            "{}",
            arena.allocated_bytes()
        );
        // A body that does arrive in full is still read exactly, past the first buffer,
        // and one near the arena's limit still fits (only 64 KiB are copied once).
        let big: &'static [u8] = Box::leak(vec![9u8; 900_000].into_boxed_slice());
        let arena = Arena::with_limit(8 * 1024, Some(1 << 20));
        let mut src = Chunks::new(vec![b"<", big, b">"], Some(900_002));
        let mut body = Body::new(&mut src, &arena, 1 << 20);
        let got = block_on(body.to_arena()).unwrap();
        assert_eq!(got.len(), 900_002);
        assert_eq!((got[0], got[100_000], got[900_001]), (b'<', 9, b'>'));
    }
}
