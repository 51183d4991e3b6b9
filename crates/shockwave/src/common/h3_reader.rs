//! Reading one HTTP/3 message (request or response) from a quinn receive stream: the
//! stream's chunks are fed, zero copy, to a [`RequestStream`] state machine.
//!
//! Chunks are taken from quinn [`BATCH`] at a time (`read_chunks`): one lock of the
//! connection per batch instead of per received STREAM frame, and a FIN that arrives
//! with the last data is seen in the same call (quinn then needs no further call, and no
//! lock when the stream is dropped).

use std::future::Future;
use std::pin::pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf as _, Bytes};
use shockwave_arena::{Arena, ArenaError};
use shockwave_quic::request::{RequestEvent, RequestStream};
use shockwave_quic::Error as H3Error;

/// Most chunks taken from quinn at once.
const BATCH: usize = 8;

/// What went wrong while reading a message.
#[derive(Debug)]
pub(crate) enum ReadFail {
    /// An HTTP/3 protocol error (its scope says: stream or connection).
    H3(H3Error),
    /// The QUIC stream failed (reset by the peer, connection lost, ...).
    Quic(quinn::ReadError),
    /// The request arena is full.
    Arena(ArenaError),
}

impl From<H3Error> for ReadFail {
    fn from(e: H3Error) -> Self {
        ReadFail::H3(e)
    }
}

impl From<ArenaError> for ReadFail {
    fn from(e: ArenaError) -> Self {
        ReadFail::Arena(e)
    }
}

/// One step of a message.
#[derive(Debug)]
pub(crate) enum Ev<S, D = usize> {
    /// An encoded header section, stored by the caller's `store` (e.g. in the arena).
    Headers(S),
    /// Content: `n` bytes copied into the caller's buffer, or a shared slice.
    Data(D),
    /// An encoded trailer section, stored like a header section.
    Trailers(S),
    /// The stream ended cleanly (the message is complete).
    End,
}

/// What [`MessageReader::poll_raw`] produced.
enum Raw<T> {
    /// An event, mapped by the caller.
    Event(T),
    /// Content is waiting but the caller's limit is 0.
    Starved,
    /// The stream ended cleanly.
    End,
}

/// A receive stream plus the frame-level state machine of its message.
pub(crate) struct MessageReader {
    pub(crate) recv: quinn::RecvStream,
    pub(crate) state: RequestStream,
    /// Chunks from quinn; `chunks[next..filled]` are unread (the first possibly in part).
    chunks: [Bytes; BATCH],
    next: usize,
    filled: usize,
    fin: bool,
}

/// `part` as a slice of `whole` without copying when it lies inside it, else a copy
/// (e.g. a section the frame decoder had to reassemble).
fn share(whole: &Bytes, part: &[u8]) -> Bytes {
    let start = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
    match start.checked_add(part.len()) {
        Some(end) if start <= whole.len() && end <= whole.len() && !part.is_empty() => {
            whole.slice(start..end)
        }
        _ => Bytes::copy_from_slice(part),
    }
}

impl MessageReader {
    pub(crate) fn new(recv: quinn::RecvStream, state: RequestStream) -> Self {
        MessageReader {
            recv,
            state,
            chunks: Default::default(),
            next: 0,
            filled: 0,
            fin: false,
        }
    }

    /// True once the stream's FIN was seen and every byte consumed.
    pub(crate) fn is_finished(&self) -> bool {
        self.fin && self.current().is_none()
    }

    /// The index of the first chunk with unread bytes.
    fn current(&self) -> Option<usize> {
        (self.next..self.filled).find(|&i| !self.chunks[i].is_empty())
    }

    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), quinn::ReadError>> {
        for c in &mut self.chunks[..self.filled] {
            *c = Bytes::new();
        }
        self.next = 0;
        self.filled = 0;
        let fut = pin!(self.recv.read_chunks(&mut self.chunks));
        match ready!(fut.poll(cx)) {
            // A FIN that came with this data is reported by the next call, without
            // taking quinn's lock (quinn marks the stream fully read now).
            Ok(Some(n)) => self.filled = n,
            Ok(None) => self.fin = true,
            Err(e) => return Poll::Ready(Err(e)),
        }
        Poll::Ready(Ok(()))
    }

    /// The next event. Content is copied into `buf` (at most `buf.len()` bytes per
    /// event); header and trailer sections are copied into `arena`.
    pub(crate) fn poll_next<'a>(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        arena: &'a Arena,
    ) -> Poll<Result<Ev<&'a [u8]>, ReadFail>> {
        self.poll_next_with(cx, buf, |s| arena.alloc_bytes(s).map(|b| &*b))
    }

    /// As [`poll_next`](Self::poll_next), storing sections with `store`.
    pub(crate) fn poll_next_with<S>(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        mut store: impl FnMut(&[u8]) -> Result<S, ArenaError>,
    ) -> Poll<Result<Ev<S>, ReadFail>> {
        let limit = buf.len();
        let raw = ready!(self.poll_raw(cx, limit, |ev, _| {
            Ok(match ev {
                RequestEvent::Headers(s) => Ev::Headers(store(s)?),
                RequestEvent::Trailers(s) => Ev::Trailers(store(s)?),
                RequestEvent::Data(d) => {
                    buf[..d.len()].copy_from_slice(d);
                    Ev::Data(d.len())
                }
                RequestEvent::PushPromise { push_id, .. } => return Err(push_error(push_id)),
            })
        }))?;
        Poll::Ready(Ok(match raw {
            Raw::Event(ev) => ev,
            Raw::Starved => Ev::Data(0),
            Raw::End => Ev::End,
        }))
    }

    /// The next event with sections and content as shared slices of quinn's buffers
    /// (copied only when a section spans several chunks): no copy of the content.
    pub(crate) fn poll_next_bytes(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Ev<Bytes, Bytes>, ReadFail>> {
        let raw = ready!(self.poll_raw(cx, usize::MAX, |ev, chunk| {
            Ok(match ev {
                RequestEvent::Headers(s) => Ev::Headers(share(chunk, s)),
                RequestEvent::Trailers(s) => Ev::Trailers(share(chunk, s)),
                RequestEvent::Data(d) => Ev::Data(share(chunk, d)),
                RequestEvent::PushPromise { push_id, .. } => return Err(push_error(push_id)),
            })
        }))?;
        Poll::Ready(Ok(match raw {
            Raw::Event(ev) => ev,
            Raw::Starved => Ev::Data(Bytes::new()),
            Raw::End => Ev::End,
        }))
    }

    /// Feeds chunks to the state machine until it produces an event, mapped by `map`
    /// (given the event and the chunk it borrows from). After the header section, at
    /// most `limit` content bytes are fed at once, so a DATA event never exceeds it.
    fn poll_raw<T>(
        &mut self,
        cx: &mut Context<'_>,
        limit: usize,
        mut map: impl FnMut(RequestEvent<'_>, &Bytes) -> Result<T, ReadFail>,
    ) -> Poll<Result<Raw<T>, ReadFail>> {
        loop {
            let Some(i) = self.current() else {
                if self.fin {
                    self.state.finish()?;
                    return Poll::Ready(Ok(Raw::End));
                }
                ready!(self.poll_fill(cx)).map_err(ReadFail::Quic)?;
                continue;
            };
            self.next = i;
            // Before the header section DATA is an error anyway; afterwards never feed
            // more than the caller's limit.
            let limit = if self.state.headers_received() {
                if limit == 0 {
                    return Poll::Ready(Ok(Raw::Starved));
                }
                limit
            } else {
                usize::MAX
            };
            let chunk = &self.chunks[i];
            let input = &chunk[..chunk.len().min(limit)];
            let (n, ev) = self.state.recv(input)?;
            let out = match ev {
                None => None,
                // We never send MAX_PUSH_ID, so the state machine rejects PUSH_PROMISE
                // with H3_ID_ERROR before this point; `map` refuses it anyway.
                Some(ev) => Some(map(ev, chunk)?),
            };
            self.chunks[i].advance(n);
            if let Some(out) = out {
                return Poll::Ready(Ok(Raw::Event(out)));
            }
        }
    }
}

fn push_error(push_id: u64) -> ReadFail {
    ReadFail::H3(H3Error::IdError {
        id: push_id,
        reason: "PUSH_PROMISE without MAX_PUSH_ID",
    })
}

#[cfg(test)]
mod tests {
    use super::share;
    use bytes::Bytes;

    #[test]
    fn share_slices_inside_and_copies_outside() {
        let whole = Bytes::from_static(b"0123456789");
        let inner = share(&whole, &whole[2..5]);
        assert_eq!(&inner[..], b"234");
        assert_eq!(inner.as_ptr(), whole[2..].as_ptr());
        let other = b"abc".to_vec();
        let copied = share(&whole, &other);
        assert_eq!(&copied[..], b"abc");
        assert_ne!(copied.as_ptr(), other.as_ptr());
        assert!(share(&whole, &[]).is_empty());
    }
}
