//! One HTTP/1.1 client connection: the transport plus its reused read and write buffers.
//! Requests are serialized with `shockwave_http11::RequestHead::write_to`, response heads
//! are located here and parsed by `shockwave_http11`.

use std::io;

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

    /// The trailer fields of the chunked body just decoded (RFC 9112 §7.1.2), already
    /// validated by the body decoder; empty if there were none.
    pub fn trailer_fields(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        trailer_fields(&self.tail)
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
/// empty line).
fn trailer_fields(framing: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
    let mut seen_last_chunk = false;
    framing
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter_map(move |line| {
            if line.is_empty() {
                return None;
            }
            if !seen_last_chunk {
                seen_last_chunk = true;
                return None;
            }
            let colon = memchr::memchr(b':', line)?;
            let trim = |b: &u8| *b == b' ' || *b == b'\t';
            let value = &line[colon + 1..];
            let start = value.iter().position(|b| !trim(b)).unwrap_or(value.len());
            let end = value
                .iter()
                .rposition(|b| !trim(b))
                .map_or(start, |e| e + 1);
            Some((&line[..colon], &value[start..end]))
        })
}

fn stale_io(e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => Error::ConnectionClosed(ClosedDuring::BeforeResponse),
        _ => Error::Io(e),
    }
}

/// Finds the end of a message head (the empty line), accepting CRLF and bare LF line
/// endings (the parser then decides whether bare LF is allowed). `from` is where the
/// previous scan stopped. Returns the head's length including the empty line.
pub(crate) fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(off) = memchr::memchr(b'\n', &buf[i..]) {
        let lf = i + off;
        match buf.get(lf + 1) {
            Some(b'\n') => return Some(lf + 2),
            Some(b'\r') if buf.get(lf + 2) == Some(&b'\n') => return Some(lf + 3),
            Some(_) => i = lf + 1,
            None => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{find_head_end, trailer_fields};

    #[test]
    fn trailer_section() {
        let got: Vec<_> = trailer_fields(b"\r\n0;x=1\r\nA: b \r\nC:d\r\n\r\n").collect();
        assert_eq!(got, [(&b"A"[..], &b"b"[..]), (b"C", b"d")]);
        assert_eq!(trailer_fields(b"0\r\n\r\n").count(), 0);
        assert_eq!(trailer_fields(b"").count(), 0);
    }

    #[test]
    fn head_end() {
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\r\n\r\nbody", 0), Some(19));
        assert_eq!(
            find_head_end(b"HTTP/1.1 200 OK\r\nA: b\r\n\r\n", 0),
            Some(25)
        );
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\n\nx", 0), Some(17));
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\r\nA: b\r\n", 0), None);
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\r\n\r", 0), None);
        assert_eq!(find_head_end(b"", 0), None);
        assert_eq!(find_head_end(b"\r\n\r\n", 1), Some(4));
    }
}
