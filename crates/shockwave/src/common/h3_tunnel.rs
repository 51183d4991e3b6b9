//! An HTTP/3 request stream after a successful CONNECT (RFC 9114 §4.4) or extended
//! CONNECT (RFC 9220 §3) as a byte stream both ways: a tokio `AsyncRead + AsyncWrite`
//! over the QUIC bidirectional stream, used by the server (the handler's `Upgraded`)
//! and the client (`Client::websocket` over HTTP/3).
//!
//! - Tunnel bytes travel inside DATA frames. Reads hand out the payload of the peer's
//!   DATA frames (unknown and reserved frame types are skipped); any other known frame
//!   (a HEADERS frame after the response, i.e. trailers) is the connection error
//!   `H3_FRAME_UNEXPECTED` (RFC 9114 §4.4). Writes frame each chunk (at most
//!   [`MAX_FRAME`] bytes) as one DATA frame.
//! - The peer's FIN is end of file; `shutdown` sends our FIN (RFC 9220 §3: the TCP FIN
//!   of RFC 6455 maps to the stream's FIN).
//! - Dropping the tunnel before `shutdown` resets the stream and stops reading it with
//!   `H3_REQUEST_CANCELLED` (the TCP RST of RFC 6455); dropping it after `shutdown`
//!   stops the unread rest of the peer's side with `H3_NO_ERROR`.
//! - No unbounded buffering: at most one DATA frame of ours waits here (the writer is
//!   held back until quinn took it, so quinn's stream and connection flow-control
//!   windows are the back-pressure), and received bytes are read from quinn only as the
//!   reader asks (credit goes back to the peer as they are read). A tunnel has no
//!   body-size limit and no minimum data rate: it lives as long as both ends want.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf as _, Bytes};
use shockwave_quic::{frame, Error as H3Error, ErrorCode, Scope};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::h3_reader::{Ev, MessageReader, ReadFail};
use crate::http3::varint;

/// The largest DATA frame payload one write produces.
pub(crate) const MAX_FRAME: usize = 16 * 1024;

/// A CONNECT stream as a byte stream (see the [module docs](self)).
pub(crate) struct H3Tunnel {
    reader: MessageReader,
    send: quinn::SendStream,
    quic: quinn::Connection,
    /// Received tunnel bytes not read yet (a slice of quinn's buffer).
    pending: Bytes,
    /// The receive side ended (FIN) or failed: nothing more to read.
    read_done: bool,
    /// One DATA frame (header and payload) accepted from the writer, from `out_pos` on
    /// not yet taken by quinn.
    out: Vec<u8>,
    out_pos: usize,
    /// Our FIN was sent.
    finished: bool,
}

impl std::fmt::Debug for H3Tunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H3Tunnel")
            .field("stream", &self.send.id())
            .field("pending", &self.pending.len())
            .field("read_done", &self.read_done)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl H3Tunnel {
    /// A tunnel on a request stream whose header sections (request, or the 2xx
    /// response) `reader` has already consumed.
    pub(crate) fn new(
        reader: MessageReader,
        send: quinn::SendStream,
        quic: quinn::Connection,
    ) -> Self {
        H3Tunnel {
            reader,
            send,
            quic,
            pending: Bytes::new(),
            read_done: false,
            out: Vec::new(),
            out_pos: 0,
            finished: false,
        }
    }

    /// A failure of the receive side, as an `io::Error`, after acting on it: a
    /// connection error closes the QUIC connection, a stream error resets the stream.
    fn read_failed(&mut self, e: ReadFail) -> io::Error {
        self.read_done = true;
        match e {
            ReadFail::H3(h) if h.scope() == Scope::Connection => {
                self.quic
                    .close(varint(h.code()), h.code().name().as_bytes());
                io::Error::new(io::ErrorKind::InvalidData, h.to_string())
            }
            ReadFail::H3(h) => {
                let _ = self.send.reset(varint(h.code()));
                let _ = self.reader.recv.stop(varint(h.code()));
                self.finished = true;
                io::Error::new(io::ErrorKind::InvalidData, h.to_string())
            }
            ReadFail::Quic(quinn::ReadError::Reset(code)) => io::Error::new(
                io::ErrorKind::ConnectionReset,
                format!("tunnel stream reset by the peer (code {code})"),
            ),
            ReadFail::Quic(q) => io::Error::new(io::ErrorKind::BrokenPipe, q),
            ReadFail::Arena(a) => io::Error::other(a.to_string()),
        }
    }

    /// Hands the waiting DATA frame to quinn.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.out_pos < self.out.len() {
            let n = ready!(AsyncWrite::poll_write(
                Pin::new(&mut self.send),
                cx,
                &self.out[self.out_pos..]
            ))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.out_pos += n;
        }
        self.out.clear();
        self.out_pos = 0;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for H3Tunnel {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.pending.is_empty() {
                let n = this.pending.len().min(buf.remaining());
                buf.put_slice(&this.pending[..n]);
                this.pending.advance(n);
                return Poll::Ready(Ok(()));
            }
            if this.read_done || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            match ready!(this.reader.poll_next_bytes(cx)) {
                Ok(Ev::Data(b)) => this.pending = b,
                Ok(Ev::End) => {
                    this.read_done = true;
                    return Poll::Ready(Ok(()));
                }
                // RFC 9114 §4.4: once CONNECT completed, only DATA frames.
                Ok(Ev::Headers(_) | Ev::Trailers(_)) => {
                    let e = H3Error::FrameUnexpected {
                        frame_type: frame::frame_type::HEADERS,
                        reason: "HEADERS on a CONNECT stream",
                    };
                    return Poll::Ready(Err(this.read_failed(ReadFail::H3(e))));
                }
                Err(e) => return Poll::Ready(Err(this.read_failed(e))),
            }
        }
    }
}

impl AsyncWrite for H3Tunnel {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        ready!(this.poll_drain(cx))?;
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let n = buf.len().min(MAX_FRAME);
        frame::encode_data_header(n as u64, &mut this.out).map_err(io::Error::other)?;
        this.out.extend_from_slice(&buf[..n]);
        // Start sending now; what quinn does not take yet goes out on the next write,
        // flush or shutdown (the bytes are accepted either way).
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_drain(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(Ok(()));
        }
        ready!(this.poll_drain(cx))?;
        this.finished = true;
        // Closed already (e.g. the peer stopped the stream): nothing more to finish.
        let _ = this.send.finish();
        Poll::Ready(Ok(()))
    }
}

impl Drop for H3Tunnel {
    fn drop(&mut self) {
        let cancelled = varint(ErrorCode::RequestCancelled);
        if !self.finished {
            let _ = self.send.reset(cancelled);
        }
        if !self.read_done && !self.reader.is_finished() {
            // After our clean FIN the rest of the peer's side is not wanted: stopped
            // with H3_NO_ERROR (as an unread request after a complete response,
            // RFC 9114 §4.1.1); otherwise the tunnel was abandoned.
            let code = if self.finished && self.out.is_empty() {
                varint(ErrorCode::NoError)
            } else {
                cancelled
            };
            let _ = self.reader.recv.stop(code);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tunnels_are_send() {
        fn send<T: Send + Unpin>() {}
        send::<super::H3Tunnel>();
    }
}
