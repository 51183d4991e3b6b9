//! Leaving request/response mode: the HTTP/1.1 `Upgrade` mechanism (RFC 9110 §7.8).
//!
//! A handler that wants the connection after its response calls
//! [`RequestContext::on_upgrade`](super::RequestContext::on_upgrade) with a callback and
//! answers `101 Switching Protocols` with an `Upgrade` field naming the protocol. The
//! HTTP/1.1 driver writes the 101 head, then runs the callback with the connection as an
//! [`Upgraded`] stream: a tokio [`AsyncRead`] + [`AsyncWrite`] that first yields the bytes
//! the peer sent after the request head (already in the driver's read buffer), then reads
//! the socket. The callback's future runs on the connection's worker task (it need not
//! be `Send`); the connection closes when it ends.
//!
//! Only HTTP/1.1 connections can be upgraded: on HTTP/2 and HTTP/3 (and for HTTP/1.0
//! requests) `on_upgrade` returns `false`. If the handler answers anything other than
//! 101, the callback is dropped unrun and the connection goes on as usual.
//!
//! ```
//! use shockwave::server::{handler_fn, Response};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! // A raw echo protocol behind `Upgrade: echo`.
//! let h = handler_fn(async |cx| {
//!     let asked = cx.headers().get_str("upgrade") == Some("echo");
//!     if !asked || !cx.on_upgrade(|mut io| async move {
//!         let mut buf = [0u8; 1024];
//!         while let Ok(n @ 1..) = io.read(&mut buf).await {
//!             if io.write_all(&buf[..n]).await.is_err() {
//!                 break;
//!             }
//!         }
//!     }) {
//!         return Response::status_code(400);
//!     }
//!     Response::status_code(101).header("upgrade", "echo")
//! });
//! # let _ = h;
//! ```

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A byte stream both ways: what an upgraded connection runs on.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> Io for T {}

/// The callback run with the upgraded connection.
pub(crate) type UpgradeFn = Box<dyn FnOnce(Upgraded) -> Pin<Box<dyn Future<Output = ()>>>>;

/// Where a handler leaves its upgrade callback for the driver (one per HTTP/1.1 request
/// that may be upgraded).
#[derive(Default)]
pub(crate) struct UpgradeSlot {
    callback: RefCell<Option<UpgradeFn>>,
}

impl UpgradeSlot {
    pub(crate) fn set(&self, f: UpgradeFn) {
        *self.callback.borrow_mut() = Some(f);
    }

    pub(crate) fn is_set(&self) -> bool {
        self.callback.borrow().is_some()
    }

    pub(crate) fn take(&self) -> Option<UpgradeFn> {
        self.callback.borrow_mut().take()
    }
}

/// A connection after `101 Switching Protocols`: the bytes the peer sent after the
/// request head first, then the transport (TCP or TLS). Writes go straight to the
/// transport. Dropping it closes the connection. It is `Send`: the callback may move it
/// to a task of its own (it then outlives the server's connection accounting).
pub struct Upgraded {
    io: Box<dyn Io + Send + 'static>,
    buffered: Vec<u8>,
    pos: usize,
    /// The server's shutdown signal (true once a graceful shutdown began).
    shutdown: Option<tokio::sync::watch::Receiver<bool>>,
}

impl std::fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upgraded")
            .field("buffered", &(self.buffered.len() - self.pos))
            .finish_non_exhaustive()
    }
}

impl Upgraded {
    /// `io` with `buffered` (bytes already read from it) to be read first.
    pub(crate) fn new(
        io: Box<dyn Io + Send + 'static>,
        buffered: Vec<u8>,
        shutdown: Option<tokio::sync::watch::Receiver<bool>>,
    ) -> Self {
        Upgraded {
            io,
            buffered,
            pos: 0,
            shutdown,
        }
    }

    /// The server's shutdown signal, for protocols that close cleanly on shutdown.
    pub(crate) fn take_shutdown(&mut self) -> Option<tokio::sync::watch::Receiver<bool>> {
        self.shutdown.take()
    }

    /// True once the server began a graceful shutdown (the connection is then closed
    /// when the server's grace period ends: close the protocol cleanly before).
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.as_ref().is_some_and(|rx| *rx.borrow())
    }

    /// The bytes read from the transport but not yet from this stream (the peer's first
    /// bytes after its request head).
    pub fn buffered(&self) -> &[u8] {
        &self.buffered[self.pos..]
    }

    /// Takes the buffered bytes out (they will not be read again).
    pub fn take_buffered(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buffered);
        out.drain(..self.pos);
        self.pos = 0;
        out
    }
}

impl AsyncRead for Upgraded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.pos < this.buffered.len() {
            let n = (this.buffered.len() - this.pos).min(buf.remaining());
            buf.put_slice(&this.buffered[this.pos..this.pos + n]);
            this.pos += n;
            if this.pos == this.buffered.len() {
                this.buffered = Vec::new();
                this.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Upgraded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
