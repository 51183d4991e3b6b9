//! Reading one HTTP/3 message (request or response) from a quinn receive stream: the
//! stream's chunks are fed, zero copy, to a [`RequestStream`] state machine.

use std::future::Future;
use std::pin::pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf as _, Bytes};
use shockwave_arena::{Arena, ArenaError};
use shockwave_quic::request::{RequestEvent, RequestStream};
use shockwave_quic::Error as H3Error;

/// Largest chunk taken from quinn at once.
const MAX_CHUNK: usize = 64 * 1024;

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
pub(crate) enum Ev<S> {
    /// An encoded header section, stored by the caller's `store` (e.g. in the arena).
    Headers(S),
    /// `n` content bytes were copied into the caller's buffer.
    Data(usize),
    /// An encoded trailer section, stored like a header section.
    Trailers(S),
    /// The stream ended cleanly (the message is complete).
    End,
}

/// A receive stream plus the frame-level state machine of its message.
pub(crate) struct MessageReader {
    pub(crate) recv: quinn::RecvStream,
    pub(crate) state: RequestStream,
    chunk: Bytes,
    fin: bool,
}

impl MessageReader {
    pub(crate) fn new(recv: quinn::RecvStream, state: RequestStream) -> Self {
        MessageReader {
            recv,
            state,
            chunk: Bytes::new(),
            fin: false,
        }
    }

    /// True once the stream's FIN was seen and every byte consumed.
    pub(crate) fn is_finished(&self) -> bool {
        self.fin && self.chunk.is_empty()
    }

    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), quinn::ReadError>> {
        let fut = pin!(self.recv.read_chunk(MAX_CHUNK, true));
        match ready!(fut.poll(cx)) {
            Ok(Some(c)) => self.chunk = c.bytes,
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
        loop {
            if self.chunk.is_empty() {
                if self.fin {
                    self.state.finish()?;
                    return Poll::Ready(Ok(Ev::End));
                }
                ready!(self.poll_fill(cx)).map_err(ReadFail::Quic)?;
                continue;
            }
            // Before the header section DATA is an error anyway; afterwards never feed
            // more than fits in `buf`, so a DATA event always fits.
            let limit = if self.state.headers_received() {
                if buf.is_empty() {
                    return Poll::Ready(Ok(Ev::Data(0)));
                }
                buf.len()
            } else {
                usize::MAX
            };
            let input = &self.chunk[..self.chunk.len().min(limit)];
            let (n, ev) = self.state.recv(input)?;
            let out = match ev {
                None => None,
                Some(RequestEvent::Headers(s)) => Some(Ev::Headers(store(s)?)),
                Some(RequestEvent::Trailers(s)) => Some(Ev::Trailers(store(s)?)),
                Some(RequestEvent::Data(d)) => {
                    buf[..d.len()].copy_from_slice(d);
                    Some(Ev::Data(d.len()))
                }
                // We never send MAX_PUSH_ID, so the state machine rejects PUSH_PROMISE
                // with H3_ID_ERROR before this point.
                Some(RequestEvent::PushPromise { push_id, .. }) => {
                    return Poll::Ready(Err(ReadFail::H3(H3Error::IdError {
                        id: push_id,
                        reason: "PUSH_PROMISE without MAX_PUSH_ID",
                    })))
                }
            };
            self.chunk.advance(n);
            if let Some(out) = out {
                return Poll::Ready(Ok(out));
            }
        }
    }
}
