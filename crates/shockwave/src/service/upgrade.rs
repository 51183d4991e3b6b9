//! Leaving request/response mode: the HTTP/1.1 `Upgrade` mechanism (RFC 9110 §7.8) and
//! CONNECT tunnels (RFC 9110 §9.3.6, HTTP/2 CONNECT of RFC 9113 §8.5, extended CONNECT
//! of RFC 8441 / RFC 9220).
//!
//! A handler that wants the connection (or, on HTTP/2 and HTTP/3, the stream) after its
//! response calls [`RequestContext::on_upgrade`](super::RequestContext::on_upgrade) with
//! a callback and answers with the status that switches:
//!
//! | request | the driver offers an upgrade when | switching answer |
//! |---|---|---|
//! | HTTP/1.1 with an `Upgrade` field, no body | always (not while shutting down) | `101 Switching Protocols` with an `Upgrade` field |
//! | HTTP/1.1 `CONNECT host:port` (authority form, no body) | always | any 2xx (written without `Content-Length`, §9.3.6) |
//! | HTTP/2 `CONNECT` (no `:path`, RFC 9113 §8.5) | always | any 2xx (HEADERS without END_STREAM) |
//! | HTTP/2 extended CONNECT (`:protocol`, RFC 8441) | `Http2Config::enable_connect_protocol` | any 2xx |
//! | HTTP/3 CONNECT (`:authority` only, RFC 9114 §4.4) or extended CONNECT (RFC 9220) | always (extended CONNECT: `Http3Config::enable_connect_protocol`); not once a shutdown began | any 2xx (HEADERS without FIN; the stream's DATA frames both ways, FIN = end of file, dropped = reset `H3_REQUEST_CANCELLED`) |
//!
//! The driver writes the head, then runs the callback with an [`Upgraded`] stream: a
//! tokio [`AsyncRead`] + [`AsyncWrite`]. On HTTP/1.1 it first yields the bytes the peer
//! sent after the request head (already in the driver's read buffer), then reads the
//! socket. On HTTP/2 it carries the stream's DATA frames both ways: END_STREAM from the
//! peer is the end of the reads, [`shutdown`](tokio::io::AsyncWriteExt::shutdown) sends
//! END_STREAM, dropping it before both directions ended resets the stream (CANCEL).
//! A tunnel is still flow-controlled: credit goes back to the peer as the callback reads
//! (an unread tunnel holds at most its window), but it is exempt from the request-body
//! size limit and the minimum body rate. The callback's future runs on the connection's
//! worker task (it need not be `Send`); [`RequestContext::protocol`](super::RequestContext::protocol)
//! is the `:protocol` of an extended CONNECT.
//!
//! If the handler answers anything else, the callback is dropped unrun: an `Upgrade`
//! request goes on as usual; a refused HTTP/1.1 CONNECT closes the connection after the
//! answer.
//! [`RequestContext::can_upgrade`](super::RequestContext::can_upgrade) says whether the
//! driver offers an upgrade for this request.
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

/// What kind of switch a driver offers, which decides the status that accepts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum UpgradeKind {
    /// HTTP/1.1 `Upgrade` (RFC 9110 §7.8): accepted with 101.
    #[default]
    Switch,
    /// CONNECT or extended CONNECT (RFC 9110 §9.3.6, RFC 9113 §8.5, RFC 8441, RFC 9220):
    /// accepted with any 2xx.
    Connect,
}

/// Where a handler leaves its upgrade callback for the driver (one per request that may
/// be upgraded: the driver creates it and passes it with
/// [`RequestContext::with_upgrade`](super::RequestContext::with_upgrade)).
#[derive(Default)]
pub(crate) struct UpgradeSlot {
    callback: RefCell<Option<UpgradeFn>>,
    kind: UpgradeKind,
}

impl UpgradeSlot {
    /// A slot for a CONNECT request (accepted with a 2xx).
    pub(crate) fn connect() -> Self {
        UpgradeSlot {
            callback: RefCell::new(None),
            kind: UpgradeKind::Connect,
        }
    }

    pub(crate) fn kind(&self) -> UpgradeKind {
        self.kind
    }

    /// True when `status` accepts this kind of upgrade: 101 for `Upgrade`, 2xx for
    /// CONNECT.
    pub(crate) fn accepts(&self, status: http::StatusCode) -> bool {
        match self.kind {
            UpgradeKind::Switch => status == http::StatusCode::SWITCHING_PROTOCOLS,
            UpgradeKind::Connect => status.is_success(),
        }
    }

    /// The callback if `status` accepts the upgrade and one was registered; otherwise
    /// the callback (if any) is dropped unrun and `None` returned.
    #[cfg_attr(not(feature = "http2"), allow(dead_code))]
    pub(crate) fn take_if_accepted(&self, status: http::StatusCode) -> Option<UpgradeFn> {
        let callback = self.take();
        callback.filter(|_| self.accepts(status))
    }

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

/// A connection after `101 Switching Protocols` or a tunnel after a 2xx to CONNECT: on
/// HTTP/1.1 the bytes the peer sent after the request head first, then the transport
/// (TCP or TLS), with writes straight to the transport and the connection closed when
/// it is dropped; on HTTP/2 (and HTTP/3) the request stream's data both ways (see the
/// [module docs](self)). It is `Send`: the callback may move it to a task of its own
/// (it then outlives the server's connection accounting).
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
    /// `io` with `buffered` (bytes already read from it) to be read first. This is how
    /// every driver builds one: HTTP/1.1 passes its socket, HTTP/2 and HTTP/3 an adapter
    /// of the request stream (which must be `Send`: channels or shared state with the
    /// connection's task, never the connection itself).
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
