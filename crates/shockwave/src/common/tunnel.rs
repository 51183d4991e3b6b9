//! A `Send` byte stream over one request stream of a multiplexed connection (an HTTP/2
//! or HTTP/3 CONNECT tunnel, RFC 9113 §8.5, RFC 8441, RFC 9220), for the server's
//! [`Upgraded`](crate::service::upgrade::Upgraded).
//!
//! The connection (and its sans-I/O engine) lives on the connection's task and is not
//! `Send`; the tunnel may move to any task. The two meet in a small shared state under a
//! mutex: [`pair`] gives the application's end ([`TunnelIo`], tokio `AsyncRead` +
//! `AsyncWrite`) and the driver's end ([`TunnelPort`]), which the driver's stream future
//! pumps:
//!
//! - peer → application: the driver moves stream data into the inbound buffer while it
//!   holds less than [`INBOUND_CAP`]; the application's reads count the bytes they took
//!   ([`TunnelPort::take_consumed`]) and the driver gives exactly that much flow-control
//!   credit back. An application that does not read therefore holds at most the stream
//!   window (plus one chunk) in memory, and the peer is stopped by flow control.
//! - application → peer: writes fill an outbound buffer of at most `out_cap` bytes (the
//!   writer waits beyond it: back-pressure from the peer's window), which the driver
//!   sends as flow control allows. `poll_flush` waits until the driver took everything.
//! - `shutdown` of the application's end asks for END_STREAM (after the outbound bytes);
//!   the peer's END_STREAM is the end of the reads.
//! - dropping the application's end before both directions ended lets the driver reset
//!   the stream (CANCEL); dropping the driver's end (the stream was reset, the
//!   connection closed) fails the application's reads and writes.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::{Buf as _, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How many received bytes the driver moves into the tunnel ahead of the application's
/// reads (the rest waits in the connection, unacknowledged).
pub(crate) const INBOUND_CAP: usize = 64 * 1024;

/// The state both ends share.
#[derive(Default)]
pub(crate) struct State {
    /// Received, not yet read by the application.
    pub(crate) inbound: BytesMut,
    /// The peer ended its side (END_STREAM).
    pub(crate) in_eof: bool,
    /// Bytes the application read since the driver last gave credit back.
    consumed: usize,
    /// Written by the application, not yet taken by the driver.
    pub(crate) outbound: BytesMut,
    /// The application shut its write side down (END_STREAM after `outbound`).
    pub(crate) out_shutdown: bool,
    /// The driver sent END_STREAM.
    pub(crate) fin_sent: bool,
    /// The application's end was dropped.
    pub(crate) app_dropped: bool,
    /// The stream or connection failed (reset, closed): reads and writes fail.
    pub(crate) broken: bool,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
    driver_waker: Option<Waker>,
}

impl State {
    fn wake_driver(&mut self) {
        if let Some(w) = self.driver_waker.take() {
            w.wake();
        }
    }

    /// Wakes the application's reader (data or end arrived).
    pub(crate) fn wake_reader(&mut self) {
        if let Some(w) = self.read_waker.take() {
            w.wake();
        }
    }

    /// Wakes the application's writer (room in the outbound buffer).
    pub(crate) fn wake_writer(&mut self) {
        if let Some(w) = self.write_waker.take() {
            w.wake();
        }
    }

    /// Takes the count of bytes read by the application since the last call: the
    /// flow-control credit to give back.
    pub(crate) fn take_consumed(&mut self) -> usize {
        std::mem::take(&mut self.consumed)
    }

    /// True when nothing is left to do on the stream: both directions ended and the
    /// application read everything (or the application's end is gone).
    pub(crate) fn finished(&self) -> bool {
        self.fin_sent && self.in_eof && self.inbound.is_empty()
    }
}

type Shared = Arc<Mutex<State>>;

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// The two ends of one tunnel; `out_cap` bounds the application's unsent bytes.
pub(crate) fn pair(out_cap: usize) -> (TunnelIo, TunnelPort) {
    let shared: Shared = Arc::default();
    (
        TunnelIo {
            shared: shared.clone(),
            out_cap: out_cap.max(1),
        },
        TunnelPort { shared },
    )
}

/// The application's end: a tokio byte stream, `Send`.
pub(crate) struct TunnelIo {
    shared: Shared,
    out_cap: usize,
}

impl Drop for TunnelIo {
    fn drop(&mut self) {
        let mut s = lock(&self.shared);
        s.app_dropped = true;
        s.wake_driver();
    }
}

fn broken() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "the tunnel's stream was reset or closed",
    )
}

impl AsyncRead for TunnelIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut s = lock(&self.shared);
        if !s.inbound.is_empty() {
            let n = s.inbound.len().min(buf.remaining());
            buf.put_slice(&s.inbound[..n]);
            s.inbound.advance(n);
            s.consumed += n;
            s.wake_driver();
            return Poll::Ready(Ok(()));
        }
        if s.in_eof {
            return Poll::Ready(Ok(()));
        }
        if s.broken {
            return Poll::Ready(Err(broken()));
        }
        s.read_waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl AsyncWrite for TunnelIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut s = lock(&self.shared);
        if s.broken || s.out_shutdown {
            return Poll::Ready(Err(broken()));
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let room = self.out_cap.saturating_sub(s.outbound.len());
        if room == 0 {
            s.write_waker = Some(cx.waker().clone());
            s.wake_driver();
            return Poll::Pending;
        }
        let n = room.min(data.len());
        s.outbound.extend_from_slice(&data[..n]);
        s.wake_driver();
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut s = lock(&self.shared);
        if s.outbound.is_empty() {
            return Poll::Ready(Ok(()));
        }
        if s.broken {
            return Poll::Ready(Err(broken()));
        }
        s.write_waker = Some(cx.waker().clone());
        s.wake_driver();
        Poll::Pending
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut s = lock(&self.shared);
        if s.fin_sent {
            return Poll::Ready(Ok(()));
        }
        if s.broken {
            return Poll::Ready(Err(broken()));
        }
        s.out_shutdown = true;
        s.write_waker = Some(cx.waker().clone());
        s.wake_driver();
        Poll::Pending
    }
}

/// The driver's end, pumped by the stream's future on the connection's task.
pub(crate) struct TunnelPort {
    shared: Shared,
}

impl TunnelPort {
    /// The shared state, with `cx`'s waker registered as the driver's (woken by the
    /// application's reads, writes, shutdown and drop).
    pub(crate) fn lock(&self, cx: &Context<'_>) -> MutexGuard<'_, State> {
        let mut s = lock(&self.shared);
        match &s.driver_waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => s.driver_waker = Some(cx.waker().clone()),
        }
        s
    }
}

impl Drop for TunnelPort {
    /// The stream is gone: the application's pending reads and writes fail.
    fn drop(&mut self) {
        let mut s = lock(&self.shared);
        s.broken = true;
        s.wake_reader();
        s.wake_writer();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[tokio::test]
    async fn reads_count_consumed_bytes_and_the_port_drop_fails_the_io() {
        let (mut io, port) = pair(4);
        {
            let mut s = lock(&port.shared);
            s.inbound.extend_from_slice(b"hello");
        }
        let mut buf = [0u8; 3];
        assert_eq!(io.read(&mut buf).await.unwrap(), 3);
        assert_eq!(lock(&port.shared).take_consumed(), 3);
        // The outbound buffer holds at most `out_cap` bytes.
        assert_eq!(io.write(b"abcdef").await.unwrap(), 4);
        assert_eq!(&lock(&port.shared).outbound[..], b"abcd");
        drop(port);
        // Buffered bytes are still delivered, then the failure shows.
        assert_eq!(io.read(&mut buf).await.unwrap(), 2);
        assert!(io.read(&mut buf).await.is_err());
        assert!(io.write(b"x").await.is_err());
    }
}
