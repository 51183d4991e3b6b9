//! One HTTP/1.1 client connection: the transport plus its reused read and write buffers.
//! Every HTTP/1.1 byte goes through `shockwave_http11`: requests are serialized with
//! `RequestHead::write_to` (chunked bodies with `write_chunk` / `write_last_chunk`),
//! response heads are located with `find_head_end` and parsed, bodies decoded with
//! `BodyDecoder`, and the trailer section read back with `parse_trailer_section`. This
//! module owns the socket and the buffers.

use std::io;

use shockwave_http11::{find_head_end, parse_trailer_section, TrailerFields};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::error::{ClosedDuring, Error, Result};
use super::transport::Transport;

/// Initial read buffer size; it grows (up to the head limit) only for huge heads.
const READ_BUF: usize = 16 * 1024;
/// Largest read buffer while reading a body (chunk lines are bounded far below this).
pub(crate) const BODY_BUF_MAX: usize = 1024 * 1024;
/// Bodies up to this size are copied behind the head and sent in one write.
const COALESCE_BODY: usize = 16 * 1024;

/// An HTTP/1.1 connection owned by the pool between requests.
#[derive(Debug)]
pub(crate) struct Http1Conn {
    pub io: Transport,
    rbuf: Vec<u8>,
    start: usize,
    end: usize,
    pub wbuf: Vec<u8>,
    /// Bytes received since the current request was written (0 = nothing yet: a failure
    /// now means the server never saw or never answered the request).
    pub received: u64,
    pub heap_headers: shockwave_http11::HeapHeaders,
    pub scratch: shockwave_arena::Arena,
    /// Chunked framing seen since the last body data (ends with the trailer section).
    tail: Vec<u8>,
    /// This connection goes to an HTTP proxy that forwards `http://` requests: they are
    /// written in absolute form, with this `Proxy-Authorization` (RFC 9112 §3.2.2).
    pub forward: Option<Forward>,
}

/// A forwarding HTTP proxy's request decoration (see [`Http1Conn::forward`]).
#[derive(Debug, Clone)]
pub(crate) struct Forward {
    pub authorization: Option<http::HeaderValue>,
}

/// One body decoding step on the buffered bytes (see [`Http1Conn::decode_step`]).
pub(crate) struct Step {
    /// Buffered bytes used.
    pub consumed: usize,
    /// Where the body data is in [`Http1Conn::buffered`].
    pub data: std::ops::Range<usize>,
    /// The body is complete.
    pub done: bool,
}

/// Most chunked framing kept for trailers (the decoder's own limits are far lower).
const TAIL_MAX: usize = 256 * 1024;

impl Http1Conn {
    pub fn new(io: Transport) -> Box<Http1Conn> {
        Box::new(Http1Conn {
            io,
            rbuf: vec![0; READ_BUF],
            start: 0,
            end: 0,
            wbuf: Vec::with_capacity(1024),
            received: 0,
            heap_headers: shockwave_http11::HeapHeaders::new(),
            scratch: shockwave_arena::Arena::with_capacity(4096),
            tail: Vec::new(),
            forward: None,
        })
    }

    /// Runs `decoder` on the buffered bytes (consuming nothing) and, for chunked bodies
    /// (`track`), remembers the framing after the last data so the trailer section can
    /// be read once the body is done ([`Http1Conn::trailer_section`]).
    pub fn decode_step(
        &mut self,
        decoder: &mut shockwave_http11::BodyDecoder,
        track: bool,
    ) -> std::result::Result<Step, shockwave_http11::Error> {
        let input = &self.rbuf[self.start..self.end];
        let c = decoder.decode(input)?;
        let off = if c.data.is_empty() {
            0
        } else {
            c.data.as_ptr() as usize - input.as_ptr() as usize
        };
        let data = off..off + c.data.len();
        if track {
            if !c.data.is_empty() {
                self.tail.clear();
                self.tail.extend_from_slice(&input[data.end..c.consumed]);
            } else {
                self.tail.extend_from_slice(&input[..c.consumed]);
            }
            if self.tail.len() > TAIL_MAX {
                self.tail.clear();
            }
        }
        Ok(Step {
            consumed: c.consumed,
            data,
            done: c.done,
        })
    }

    /// The trailer fields of the chunked body just decoded (RFC 9112 §7.1.2); empty if
    /// there were none. `limits` must be those the body decoder used (see
    /// [`trailer_section`]).
    pub fn trailer_fields(&self, limits: &shockwave_http11::Limits) -> Result<TrailerFields<'_>> {
        trailer_section(&self.tail, limits)
    }

    /// Forgets the framing of the previous body.
    pub fn reset_tail(&mut self) {
        self.tail.clear();
    }

    /// See [`Transport::idle_is_usable`]; also false if unread bytes are buffered.
    pub fn idle_is_usable(&self) -> bool {
        self.start == self.end && self.io.idle_is_usable()
    }

    /// The buffered, not yet consumed bytes.
    pub fn buffered(&self) -> &[u8] {
        &self.rbuf[self.start..self.end]
    }

    /// Marks `n` buffered bytes as consumed.
    pub fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.end - self.start);
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Takes up to `dst.len()` buffered bytes into `dst`; returns how many.
    pub fn take_buffered(&mut self, dst: &mut [u8]) -> usize {
        let n = dst.len().min(self.end - self.start);
        dst[..n].copy_from_slice(&self.rbuf[self.start..self.start + n]);
        self.consume(n);
        n
    }

    /// Parses the buffered head of `len` bytes with the chosen strategy and hands the
    /// parsed response to `f`.
    pub fn with_head<R>(
        &mut self,
        len: usize,
        alloc: super::AllocStrategy,
        limits: &shockwave_http11::Limits,
        f: impl FnOnce(&shockwave_http11::Response<'_>) -> R,
    ) -> Result<R> {
        let head = &self.rbuf[self.start..self.start + len];
        let parsed = match alloc {
            super::AllocStrategy::Arena => {
                self.scratch.reset();
                shockwave_http11::parse_response(head, &self.scratch, limits)?
            }
            super::AllocStrategy::Heap => {
                shockwave_http11::parse_response_heap(head, &mut self.heap_headers, limits)?
            }
        };
        match parsed {
            shockwave_http11::Status::Complete((resp, _)) => Ok(f(&resp)),
            shockwave_http11::Status::Partial => Err(Error::MalformedHead),
        }
    }

    /// Reads more bytes into the buffer (growing it up to `max` if it is full). Returns
    /// the number read; 0 means the peer closed the connection.
    pub async fn fill(&mut self, max: usize) -> Result<usize> {
        if self.end == self.rbuf.len() {
            if self.start > 0 {
                self.rbuf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.rbuf.len() < max {
                let new_len = (self.rbuf.len() * 2).min(max);
                self.rbuf.resize(new_len, 0);
            } else {
                return Err(Error::HeadTooLarge { limit: max });
            }
        }
        let n = self.io.read(&mut self.rbuf[self.end..]).await?;
        self.end += n;
        self.received += n as u64;
        Ok(n)
    }

    /// Reads straight into `dst` (for bodies, bypassing the buffer); 0 means EOF.
    pub async fn read_direct(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        let n = self.io.read(dst).await?;
        self.received += n as u64;
        Ok(n)
    }

    /// Writes the request head already serialized in `wbuf`, plus `body`, then flushes.
    pub async fn write_head_and_body(&mut self, body: &[u8]) -> io::Result<()> {
        self.received = 0;
        if !body.is_empty() && body.len() <= COALESCE_BODY {
            self.wbuf.extend_from_slice(body);
            self.io.write_all(&self.wbuf).await?;
        } else {
            self.io.write_all(&self.wbuf).await?;
            if !body.is_empty() {
                self.io.write_all(body).await?;
            }
        }
        self.io.flush().await
    }

    /// Writes `wbuf` as is and flushes (used for streamed body pieces).
    pub async fn write_wbuf(&mut self) -> io::Result<()> {
        self.io.write_all(&self.wbuf).await?;
        self.io.flush().await
    }

    /// Waits until a complete response head is buffered; returns its length in bytes
    /// (from [`Http1Conn::buffered`]'s start, through the blank line).
    pub async fn read_head(&mut self, max_head: usize) -> Result<usize> {
        let mut scanned = 0;
        loop {
            if let Some(len) = find_head_end(self.buffered(), scanned) {
                return Ok(len);
            }
            let have = self.end - self.start;
            if have >= max_head {
                return Err(Error::HeadTooLarge { limit: max_head });
            }
            scanned = have.saturating_sub(3);
            let n = match self.fill(max_head.saturating_add(READ_BUF)).await {
                Ok(n) => n,
                Err(Error::Io(e)) if self.received == 0 => return Err(stale_io(e)),
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Err(Error::ConnectionClosed(if self.end == self.start {
                    ClosedDuring::BeforeResponse
                } else {
                    ClosedDuring::Head
                }));
            }
        }
    }
}

/// The fields of the trailer section at the end of `framing` (the chunked framing after
/// the last data: an optional CRLF, the last-chunk line `0[;ext]`, the fields, and an
/// empty line), read with [`parse_trailer_section`].
///
/// The body decoder has already accepted these bytes with the same `limits`, so an error
/// means the kept framing is not what the decoder saw (e.g. cut at `TAIL_MAX`): the
/// response fails with a protocol error rather than yielding fields read from a
/// fragment (malformed trailers are never merged or guessed at).
fn trailer_section<'t>(
    framing: &'t [u8],
    limits: &shockwave_http11::Limits,
) -> Result<TrailerFields<'t>> {
    parse_trailer_section(framing, limits).map_err(Error::Protocol)
}

fn stale_io(e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => Error::ConnectionClosed(ClosedDuring::BeforeResponse),
        _ => Error::Io(e),
    }
}

#[cfg(test)]
mod tests {
    use super::{trailer_section, Error};
    use shockwave_http11::Limits;

    fn trailer_fields(framing: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        trailer_section(framing, &Limits::default()).unwrap()
    }

    #[test]
    fn trailer_section_is_read() {
        let got: Vec<_> = trailer_fields(b"\r\n0;x=1\r\nA: b \r\nC:d\r\n\r\n").collect();
        assert_eq!(got, [(&b"A"[..], &b"b"[..]), (b"C", b"d")]);
        assert_eq!(trailer_fields(b"0\r\n\r\n").count(), 0);
        assert_eq!(trailer_fields(b"").count(), 0);
    }

    /// Framing the decoder would not have accepted (a fragment, a bad field line) is a
    /// protocol error, never fields guessed from it.
    #[test]
    fn malformed_trailer_section_is_a_protocol_error() {
        let limits = Limits::default();
        for bad in [
            &b"A: b\r\n\r\n"[..],            // no last-chunk line (a cut tail)
            b"0\r\nA b\r\n\r\n",             // no colon
            b"0\r\nA : b\r\n\r\n",           // whitespace before the colon
            b"0\r\nA: b\r\n",                // no empty line
            b"0\r\nA: b\r\n folded\r\n\r\n", // obs-fold
            b"0\r\nA: b\x01c\r\n\r\n",       // control byte in a value
        ] {
            let err = trailer_section(bad, &limits).map(|f| f.count());
            assert!(
                matches!(err, Err(Error::Protocol(_))),
                "{:?}: {err:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
