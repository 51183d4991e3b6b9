//! WebSocket messages and the socket both roles use (RFC 6455, permessage-deflate of
//! RFC 7692), driving the sans-I/O codec of [`shockwave_websocket`] over a byte stream.
//!
//! The server gets a [`WebSocket`] from
//! [`WebSocketUpgrade::on_upgrade`](crate::server::ws::WebSocketUpgrade::on_upgrade), the
//! client from [`Client::websocket`](crate::client::Client::websocket); both send and
//! receive the same [`Message`]s:
//!
//! - [`WebSocket::recv`] returns the next message (pings and pongs included: the pong
//!   for a ping is sent by the socket itself), `None` once the connection is closed.
//! - [`WebSocket::send`] encodes one message and waits until the transport took it
//!   (back-pressure: a slow peer slows the sender down).
//! - [`WebSocket::close`] sends a Close frame and waits for the peer's (bounded by
//!   [`WebSocketConfig::close_timeout`]).
//!
//! Limits ([`WebSocketConfig`]): the largest message and frame (a larger one fails the
//! connection with close code 1009), a ping after [`WebSocketConfig::ping_interval`] of
//! silence and a close (1001) after [`WebSocketConfig::idle_timeout`] without any frame
//! from the peer, checked while [`WebSocket::recv`] waits. A server socket closes with
//! 1001 ("going away") when the server shuts down.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use shockwave_websocket as codec;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::sync::watch;
use tokio::time::Instant;

pub use codec::deflate::DeflateConfig;
pub use codec::CloseCode;

/// A byte stream both ways (what a WebSocket runs on).
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> Io for T {}

/// One WebSocket message (or control frame), owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message (valid UTF-8: the socket checks every received one).
    Text(String),
    /// A binary message.
    Binary(Bytes),
    /// A ping (at most 125 bytes). A received ping is already answered.
    Ping(Bytes),
    /// A pong (at most 125 bytes).
    Pong(Bytes),
    /// A Close frame: the peer's (received), or ours (sent; `None` sends no code).
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(s: impl Into<String>) -> Message {
        Message::Text(s.into())
    }

    /// A binary message.
    pub fn binary(b: impl Into<Bytes>) -> Message {
        Message::Binary(b.into())
    }

    /// The payload as bytes (empty for a Close).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(s) => s.as_bytes(),
            Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b,
            Message::Close(_) => &[],
        }
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Message {
        Message::Text(s.to_owned())
    }
}

impl From<String> for Message {
    fn from(s: String) -> Message {
        Message::Text(s)
    }
}

impl From<Vec<u8>> for Message {
    fn from(b: Vec<u8>) -> Message {
        Message::Binary(b.into())
    }
}

/// A close code and reason (RFC 6455 §7.4; the reason at most 123 bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// The close code.
    pub code: CloseCode,
    /// The reason (possibly empty).
    pub reason: String,
}

/// One WebSocket message (or control frame) borrowed from the socket's buffers, as
/// [`WebSocket::recv_ref`] returns it, or from the caller's data, as
/// [`WebSocket::send_ref`] takes it: no copy, no allocation.
///
/// A received one borrows the socket until the next call on it (the borrow checker
/// enforces this); [`MessageRef::to_owned`] makes an owned [`Message`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageRef<'a> {
    /// A text message (valid UTF-8: the socket checks every received one).
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
    /// A ping (at most 125 bytes). A received ping is already answered.
    Ping(&'a [u8]),
    /// A pong (at most 125 bytes).
    Pong(&'a [u8]),
    /// A Close frame: its code and reason (`None`: a Close without a code).
    Close(Option<(CloseCode, &'a str)>),
}

impl<'a> MessageRef<'a> {
    /// The payload as bytes (the reason for a Close).
    pub fn as_bytes(&self) -> &'a [u8] {
        match *self {
            MessageRef::Text(s) => s.as_bytes(),
            MessageRef::Binary(b) | MessageRef::Ping(b) | MessageRef::Pong(b) => b,
            MessageRef::Close(Some((_, reason))) => reason.as_bytes(),
            MessageRef::Close(None) => &[],
        }
    }

    /// True for a text or binary message (not a control frame).
    pub fn is_data(&self) -> bool {
        matches!(self, MessageRef::Text(_) | MessageRef::Binary(_))
    }

    /// An owned copy (one allocation for a non-empty payload).
    #[allow(clippy::wrong_self_convention, clippy::should_implement_trait)]
    pub fn to_owned(&self) -> Message {
        match *self {
            MessageRef::Text(s) => Message::Text(s.to_owned()),
            MessageRef::Binary(b) => Message::Binary(Bytes::copy_from_slice(b)),
            MessageRef::Ping(b) => Message::Ping(Bytes::copy_from_slice(b)),
            MessageRef::Pong(b) => Message::Pong(Bytes::copy_from_slice(b)),
            MessageRef::Close(c) => Message::Close(c.map(|(code, reason)| CloseFrame {
                code,
                reason: reason.to_owned(),
            })),
        }
    }
}

impl<'a> From<&'a Message> for MessageRef<'a> {
    fn from(m: &'a Message) -> MessageRef<'a> {
        match m {
            Message::Text(s) => MessageRef::Text(s),
            Message::Binary(b) => MessageRef::Binary(b),
            Message::Ping(b) => MessageRef::Ping(b),
            Message::Pong(b) => MessageRef::Pong(b),
            Message::Close(f) => MessageRef::Close(f.as_ref().map(|f| (f.code, f.reason.as_str()))),
        }
    }
}

/// Why a WebSocket operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebSocketError {
    /// The peer broke the protocol (or a limit): the connection was failed with the
    /// error's close code ([`codec::Error::close_code`]).
    #[error("WebSocket protocol error: {0}")]
    Protocol(#[from] codec::Error),
    /// The transport failed, or closed without a Close frame (1006).
    #[error("WebSocket transport error: {0}")]
    Io(#[from] io::Error),
    /// The connection is closed (or closing: nothing may be sent after our Close).
    #[error("the WebSocket connection is closed")]
    Closed,
    /// No frame arrived within the idle timeout, or a write made no progress within the
    /// write timeout.
    #[error("WebSocket timeout")]
    Timeout,
    /// The handshake was refused or malformed (client).
    #[error("WebSocket handshake failed: {0}")]
    Handshake(String),
    /// Client, over HTTP/2 (or HTTP/3): the server did not announce
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3, RFC 9220 §3), so it cannot take a
    /// WebSocket on that connection (HTTP/1.1 may still work).
    #[error("the server does not accept WebSocket over {0:?} (no extended CONNECT)")]
    ExtendedConnectUnsupported(http::Version),
}

/// Limits and timers of a [`WebSocket`].
#[derive(Clone, Debug)]
pub struct WebSocketConfig {
    /// The largest message accepted, after decompression (1 MiB by default): a larger
    /// one fails the connection with close code 1009.
    pub max_message_size: usize,
    /// The largest frame payload accepted (1 MiB by default; 1009 as well).
    pub max_frame_size: usize,
    /// Send a ping after this long without a frame from the peer (20 s by default, below
    /// the 30 s idle timeouts of QUIC connections and common proxies, so a silent socket
    /// keeps its HTTP/3 connection; `None`: never).
    pub ping_interval: Option<Duration>,
    /// Close (1001) after this long without any frame from the peer (60 s by default;
    /// `None`: never). Checked while [`WebSocket::recv`] waits.
    pub idle_timeout: Option<Duration>,
    /// How long a send may wait for the transport to take any byte (30 s by default).
    pub write_timeout: Duration,
    /// How long to wait for the peer's Close after ours (5 s by default).
    pub close_timeout: Duration,
    /// permessage-deflate (RFC 7692): offered by a client, accepted by a server when
    /// the client offers it. On by default; `None` turns it off.
    pub deflate: Option<DeflateConfig>,
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        WebSocketConfig {
            max_message_size: 1 << 20,
            max_frame_size: 1 << 20,
            ping_interval: Some(Duration::from_secs(20)),
            idle_timeout: Some(Duration::from_secs(60)),
            write_timeout: Duration::from_secs(30),
            close_timeout: Duration::from_secs(5),
            deflate: Some(DeflateConfig::default()),
        }
    }
}

/// The smallest read buffer.
const READ_CHUNK: usize = 8 * 1024;

/// Buffers up to this size (a 128 KiB message plus a frame header) stay allocated
/// between messages, so a socket exchanging messages up to 128 KiB reuses them and makes
/// no allocation per message; larger ones are released once the message is through.
const RETAIN: usize = 128 * 1024 + 64;

/// `recv_and_reply` holds answers back (to write several with one system call) while
/// they take less than this and the next message is already buffered.
const HOLD_BACK: usize = 64 * 1024;

/// `recv_and_reply` sends an echoed payload of at least this size from the read buffer
/// (vectored write) instead of copying it into the output buffer.
const VECTORED_MIN: usize = 16 * 1024;

/// An open WebSocket connection, for either role: see the [module docs](self).
///
/// It is `Send`: a server socket runs on the connection's worker task unless the
/// callback moves it elsewhere; a client socket can be moved into a spawned task.
pub struct WebSocket {
    io: Box<dyn Io + Send + 'static>,
    conn: codec::Connection,
    rbuf: Vec<u8>,
    start: usize,
    end: usize,
    assembly: Vec<u8>,
    wbuf: Vec<u8>,
    config: WebSocketConfig,
    /// Resolves when the server shuts down (kept across reads: registered once).
    shutdown: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    /// The ping, idle and close timer, kept across reads and re-armed only when it must
    /// fire earlier or has fired (a late wake-up re-checks the deadlines).
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    last_rx: Instant,
    ping_sent: bool,
    /// When our Close went out: the peer's must come within the close timeout.
    close_deadline: Option<Instant>,
    protocol: Option<String>,
    done: bool,
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("conn", &self.conn)
            .field("protocol", &self.protocol)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl WebSocket {
    /// A socket over `io` after a successful handshake; `buffered` holds bytes already
    /// read from `io`.
    pub(crate) fn new(
        io: Box<dyn Io + Send + 'static>,
        buffered: Vec<u8>,
        role: codec::Role,
        config: WebSocketConfig,
        deflate: Option<codec::deflate::DeflateParams>,
        protocol: Option<String>,
        shutdown: Option<watch::Receiver<bool>>,
    ) -> WebSocket {
        let conn = codec::Connection::new(
            role,
            codec::Config {
                max_frame_size: config.max_frame_size,
                max_message_size: config.max_message_size,
                auto_pong: true,
                auto_close: true,
                deflate,
            },
        );
        let end = buffered.len();
        let mut rbuf = buffered;
        if rbuf.len() < READ_CHUNK {
            rbuf.resize(READ_CHUNK, 0);
        }
        WebSocket {
            io,
            conn,
            rbuf,
            start: 0,
            end,
            assembly: Vec::new(),
            wbuf: Vec::new(),
            config,
            shutdown: shutdown
                .map(|rx| Box::pin(stopped(rx)) as Pin<Box<dyn Future<Output = ()> + Send>>),
            timer: None,
            last_rx: Instant::now(),
            ping_sent: false,
            close_deadline: None,
            protocol,
            done: false,
        }
    }

    /// The subprotocol chosen in the handshake (`Sec-WebSocket-Protocol`), if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// True when permessage-deflate was negotiated.
    pub fn is_compressed(&self) -> bool {
        self.conn.config().deflate.is_some()
    }

    /// The limits and timers in force.
    pub fn config(&self) -> &WebSocketConfig {
        &self.config
    }

    /// True once the connection is closed (nothing more to receive or send).
    pub fn is_closed(&self) -> bool {
        self.done
    }

    /// The next message: `Some(Ok(..))` for each message or control frame received
    /// (the peer's [`Message::Close`] last), `Some(Err(..))` when the connection failed
    /// (the transport is then closed), `None` once it is closed.
    ///
    /// This copies the message out of the socket's buffers (one allocation per
    /// non-empty message); [`WebSocket::recv_ref`] borrows it instead.
    pub async fn recv(&mut self) -> Option<Result<Message, WebSocketError>> {
        let r = match self.recv_ref().await? {
            Ok(m) => Ok(m.to_owned()),
            Err(e) => Err(e),
        };
        // A big message's assembly space is not kept by an idle socket (a data message
        // is complete here: nothing in it is still needed).
        if matches!(r, Ok(Message::Text(_) | Message::Binary(_)))
            && self.assembly.capacity() > RETAIN
        {
            self.assembly = Vec::new();
        }
        Some(r)
    }

    /// The next message, borrowed from the socket's buffers: as [`WebSocket::recv`],
    /// without copying it. The message lives until the next call on the socket (the
    /// borrow checker enforces it); [`MessageRef::to_owned`] keeps it longer.
    ///
    /// Once the buffers have grown to the largest message seen, receiving this way
    /// makes no heap allocation per message (an unfragmented, uncompressed frame is
    /// unmasked in place in the read buffer; a fragmented or compressed message is
    /// assembled in a buffer the socket keeps). A received text message is checked as
    /// UTF-8 by the codec and once more when it is handed out.
    ///
    /// ```no_run
    /// # async fn echo(mut socket: shockwave::websocket::WebSocket) {
    /// use shockwave::websocket::MessageRef;
    ///
    /// // An echo that copies nothing: the reply is encoded straight from the read buffer.
    /// let mut out = Vec::new();
    /// while let Some(Ok(msg)) = socket.recv_ref().await {
    ///     if !msg.is_data() {
    ///         continue;
    ///     }
    ///     out.clear();
    ///     out.extend_from_slice(msg.as_bytes());
    ///     let reply = match msg {
    ///         MessageRef::Text(_) => MessageRef::Text(std::str::from_utf8(&out).unwrap()),
    ///         _ => MessageRef::Binary(&out),
    ///     };
    ///     if socket.send_ref(reply).await.is_err() {
    ///         break;
    ///     }
    /// }
    /// # }
    /// ```
    pub async fn recv_ref(&mut self) -> Option<Result<MessageRef<'_>, WebSocketError>> {
        match self.recv_slot().await? {
            Ok(slot) => Some(Ok(self.message_at(slot))),
            Err(e) => Some(Err(e)),
        }
    }

    /// Receives the next message and copies its payload into `buf` (cleared first): the
    /// caller keeps the bytes past the next call, and its buffer is reused, so this makes
    /// no allocation per message either once `buf` is large enough. Returns the
    /// message's kind with an empty payload (`MessageRef::Binary(&[])` for a binary
    /// message; a Close keeps its code and reason).
    pub async fn recv_into(
        &mut self,
        buf: &mut Vec<u8>,
    ) -> Option<Result<MessageRef<'_>, WebSocketError>> {
        buf.clear();
        let slot = match self.recv_slot().await? {
            Ok(slot) => slot,
            Err(e) => return Some(Err(e)),
        };
        let m = self.message_at(slot);
        Some(Ok(match m {
            MessageRef::Close(_) => m,
            _ => {
                buf.extend_from_slice(m.as_bytes());
                match m {
                    MessageRef::Text(_) => MessageRef::Text(""),
                    MessageRef::Binary(_) => MessageRef::Binary(&[]),
                    MessageRef::Ping(_) => MessageRef::Ping(&[]),
                    _ => MessageRef::Pong(&[]),
                }
            }
        }))
    }

    /// The message a [`Slot`] describes, borrowed from the buffers.
    fn message_at(&self, slot: Slot) -> MessageRef<'_> {
        message_at(&self.rbuf, &self.assembly, slot)
    }

    /// Decodes (reading as needed) up to the next message and says where its bytes are
    /// (a slot, not a borrow: the loop reads into the buffers it would borrow).
    async fn recv_slot(&mut self) -> Option<Result<Slot, WebSocketError>> {
        loop {
            if self.done {
                return None;
            }
            if self.start < self.end {
                // Where the read buffer lies: a borrowed message is located from it.
                let base = self.rbuf.as_ptr() as usize;
                let len = self.rbuf.len();
                let decoded = self
                    .conn
                    .decode(&mut self.rbuf[self.start..self.end], &mut self.assembly);
                match decoded {
                    Ok(d) => {
                        let needed = d.needed;
                        let consumed = d.consumed;
                        let slot = d.message.map(|m| Slot::of(m, base, len));
                        self.start += consumed;
                        if self.start == self.end {
                            // The bytes stay where they are until the next read.
                            self.start = 0;
                            self.end = 0;
                        }
                        if self.conn.has_pending() {
                            if let Err(e) = self.write_pending().await {
                                self.abort();
                                return Some(Err(e));
                            }
                        }
                        if let Some(slot) = slot {
                            self.last_rx = Instant::now();
                            self.ping_sent = false;
                            if self.conn.is_closed() {
                                self.finish().await;
                            }
                            return Some(Ok(slot));
                        }
                        if self.conn.received_close() {
                            self.finish().await;
                            return None;
                        }
                        self.make_room(needed);
                    }
                    Err(e) => {
                        // The failing Close (with the error's code) is queued.
                        let _ = self.write_pending().await;
                        self.finish().await;
                        return Some(Err(WebSocketError::Protocol(e)));
                    }
                }
            } else {
                self.make_room(0);
            }
            // Answers held back by `recv_and_reply` go out before waiting for the peer.
            if !self.wbuf.is_empty() {
                if let Err(e) = self.write_out().await {
                    self.abort();
                    return Some(Err(e));
                }
            }
            match self.read_more().await {
                Ok(true) => {}
                Ok(false) => {
                    self.abort();
                    if self.conn.sent_close() {
                        return None;
                    }
                    return Some(Err(WebSocketError::Io(io::ErrorKind::UnexpectedEof.into())));
                }
                Err(e) => {
                    self.abort();
                    return Some(Err(e));
                }
            }
        }
    }

    /// Sends one message and waits until the transport took it. A
    /// [`Message::Close`] starts the closing handshake (receive until `None` to see the
    /// peer's answer, or use [`WebSocket::close`]); sending a Close once one was sent is
    /// a no-op. Anything else after our Close fails with [`WebSocketError::Closed`].
    pub async fn send(&mut self, message: Message) -> Result<(), WebSocketError> {
        self.send_ref(MessageRef::from(&message)).await
    }

    /// Sends one message from borrowed data, as [`WebSocket::send`] does with an owned
    /// one. The frame is encoded (masked, for a client; compressed, with
    /// permessage-deflate) into an output buffer the socket reuses, so once that buffer
    /// has grown to the largest message sent this makes no heap allocation.
    /// `MessageRef::Close(None)` sends a Close without a code.
    pub async fn send_ref(&mut self, message: MessageRef<'_>) -> Result<(), WebSocketError> {
        if self.done {
            return Err(WebSocketError::Closed);
        }
        let encoded = encode(&mut self.conn, &mut self.wbuf, message);
        self.sent(encoded).await
    }

    /// Receives the next message and answers it while it is still borrowed: `reply`
    /// sees the message and returns what to send back, if anything, which may borrow
    /// the received message itself (an echo: `|m| m.is_data().then_some(m)`). The answer
    /// is encoded straight from the read buffer into the output buffer, so an echo this
    /// way copies each payload once and makes no allocation once warm.
    ///
    /// When the next message has already arrived, the answer is held back and written
    /// with the next ones (one system call for a batch of answers to pipelined
    /// messages); it goes out at the latest before the socket waits for the peer, on the
    /// next send or close, or once 64 KiB of answers are waiting. Dropping the socket
    /// right after this call may drop such an answer: end with [`WebSocket::close`].
    ///
    /// Returns `Some(Ok(true))` when an answer was sent (or queued), `Some(Ok(false))` when `reply`
    /// returned `None`, `Some(Err(..))` when receiving or sending failed and `None` once
    /// the connection is closed (as [`WebSocket::recv`]).
    ///
    /// ```no_run
    /// # async fn echo(mut socket: shockwave::websocket::WebSocket) {
    /// while let Some(Ok(_)) = socket.recv_and_reply(|m| m.is_data().then_some(m)).await {}
    /// # }
    /// ```
    pub async fn recv_and_reply(
        &mut self,
        reply: impl for<'m> FnOnce(MessageRef<'m>) -> Option<MessageRef<'m>>,
    ) -> Option<Result<bool, WebSocketError>> {
        let slot = match self.recv_slot().await? {
            Ok(slot) => slot,
            Err(e) => return Some(Err(e)),
        };
        let message = message_at(&self.rbuf, &self.assembly, slot);
        let Some(answer) = reply(message) else {
            return Some(Ok(false));
        };
        if self.done {
            return Some(Err(WebSocketError::Closed));
        }
        // A large answer that is the received payload itself (an echo) goes out from the
        // read buffer with a vectored write instead of being copied (server: unmasked).
        if let (Place::Read(a, b), codec::Role::Server) = (slot.place, self.conn.role()) {
            let bytes = answer.as_bytes();
            if b - a >= VECTORED_MIN
                && answer.is_data()
                && bytes.len() == b - a
                && std::ptr::eq(bytes.as_ptr(), self.rbuf[a..].as_ptr())
            {
                let mut sink = HeaderSink {
                    buf: &mut self.wbuf,
                    skip: (bytes.as_ptr() as usize, bytes.len()),
                    skipped: false,
                };
                let encoded = encode_into(&mut self.conn, &mut sink, answer);
                let skipped = sink.skipped;
                if let Err(e) = encoded {
                    return Some(self.sent(Err(e)).await.map(|()| true));
                }
                let extra = skipped.then_some((a, b));
                if let Err(e) = self.write_parts(extra).await {
                    self.abort();
                    return Some(Err(e));
                }
                if self.conn.is_closed() {
                    self.finish().await;
                }
                return Some(Ok(true));
            }
        }
        let encoded = encode(&mut self.conn, &mut self.wbuf, answer);
        if matches!(encoded, Ok(false)) && self.wbuf.len() < HOLD_BACK && self.frame_buffered() {
            // The next message is already here: its answer goes out with this one.
            return Some(Ok(true));
        }
        Some(self.sent(encoded).await.map(|()| true))
    }

    /// True when the read buffer holds a whole frame (header and payload).
    fn frame_buffered(&self) -> bool {
        let rest = &self.rbuf[self.start..self.end];
        match codec::frame::FrameHeader::parse(rest) {
            Ok(Some((h, hlen))) => ((rest.len() - hlen) as u64) >= h.payload_len,
            _ => false,
        }
    }

    /// Writes what [`encode`] put in the output buffer (or clears it after an error).
    async fn sent(&mut self, encoded: Result<bool, codec::Error>) -> Result<(), WebSocketError> {
        match encoded {
            Ok(true) => {
                if self.close_deadline.is_none() {
                    self.close_deadline = Some(Instant::now() + self.config.close_timeout);
                }
            }
            Ok(false) => {}
            Err(codec::Error::Closing) => {
                self.wbuf.clear();
                return Err(WebSocketError::Closed);
            }
            Err(e) => {
                self.wbuf.clear();
                return Err(WebSocketError::Protocol(e));
            }
        }
        if let Err(e) = self.write_out().await {
            self.abort();
            return Err(e);
        }
        if self.conn.is_closed() {
            self.finish().await;
        }
        Ok(())
    }

    /// Sends a text message (takes ownership; [`WebSocket::send_str`] sends from a
    /// borrowed `&str` without allocating).
    pub async fn send_text(&mut self, text: impl Into<String>) -> Result<(), WebSocketError> {
        self.send(Message::Text(text.into())).await
    }

    /// Sends a binary message (takes ownership; [`WebSocket::send_bytes`] sends from a
    /// borrowed slice without allocating).
    pub async fn send_binary(&mut self, data: impl Into<Bytes>) -> Result<(), WebSocketError> {
        self.send(Message::Binary(data.into())).await
    }

    /// Sends a text message from a borrowed `&str` (no allocation once warm).
    pub async fn send_str(&mut self, text: &str) -> Result<(), WebSocketError> {
        self.send_ref(MessageRef::Text(text)).await
    }

    /// Sends a binary message from a borrowed slice (no allocation once warm).
    pub async fn send_bytes(&mut self, data: &[u8]) -> Result<(), WebSocketError> {
        self.send_ref(MessageRef::Binary(data)).await
    }

    /// Closes the connection cleanly: sends a Close with `code` and `reason` (unless
    /// one was sent), then receives (and drops) messages until the peer's Close, at
    /// most [`WebSocketConfig::close_timeout`].
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), WebSocketError> {
        if self.done {
            return Ok(());
        }
        self.send_ref(MessageRef::Close(Some((code, reason))))
            .await?;
        while let Some(r) = self.recv().await {
            r?;
        }
        Ok(())
    }

    /// Grows or compacts the read buffer so that it can hold `needed` bytes from
    /// `start` plus at least one more byte.
    fn make_room(&mut self, needed: usize) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.rbuf.len() > RETAIN {
                self.rbuf.truncate(READ_CHUNK);
                self.rbuf.shrink_to_fit();
            }
        }
        let want = needed.max(self.end - self.start + 1);
        if self.rbuf.len() - self.start < want || self.end == self.rbuf.len() {
            if self.start > 0 {
                self.rbuf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.rbuf.len() < want {
                let len = want.max(READ_CHUNK).max(self.rbuf.len().saturating_mul(2));
                // Never past what one frame may need (the codec bounds `needed`).
                self.rbuf.resize(len.min(want.max(READ_CHUNK) * 2), 0);
            }
        }
    }

    /// Reads more bytes (false: end of stream), sending pings and closing on the timers
    /// and on shutdown meanwhile.
    async fn read_more(&mut self) -> Result<bool, WebSocketError> {
        loop {
            let now = Instant::now();
            let ping_at = match (self.config.ping_interval, self.ping_sent) {
                (Some(i), false) if !self.conn.sent_close() => Some(self.last_rx + i),
                _ => None,
            };
            let idle_at = self.config.idle_timeout.map(|t| self.last_rx + t);
            let wake = [ping_at, idle_at, self.close_deadline]
                .into_iter()
                .flatten()
                .min();
            if let Some(w) = wake {
                match &mut self.timer {
                    Some(t) => {
                        let armed = t.deadline();
                        if armed > w || armed <= now {
                            t.as_mut().reset(w);
                        }
                    }
                    None => self.timer = Some(Box::pin(tokio::time::sleep_until(w))),
                }
            }
            let stopping = self.shutdown.is_some() && !self.conn.sent_close();
            let end = self.end;
            let event = {
                let io = &mut self.io;
                let buf = &mut self.rbuf[end..];
                // Data already waiting needs neither the timer nor the shutdown signal.
                let ready = std::future::poll_fn(|cx| {
                    let mut rb = ReadBuf::new(buf);
                    match Pin::new(&mut **io).poll_read(cx, &mut rb) {
                        Poll::Ready(r) => Poll::Ready(Some(r.map(|()| rb.filled().len()))),
                        Poll::Pending => Poll::Ready(None),
                    }
                })
                .await;
                match ready {
                    Some(r) => Event::Read(r),
                    None => {
                        let shutdown = &mut self.shutdown;
                        let timer = &mut self.timer;
                        tokio::select! {
                            biased;
                            r = io.read(buf) => Event::Read(r),
                            _ = async { shutdown.as_mut().expect("checked").await }, if stopping => Event::Stop,
                            _ = async { timer.as_mut().expect("armed").await }, if wake.is_some() => Event::Timer,
                        }
                    }
                }
            };
            match event {
                Event::Read(r) => {
                    let n = r?;
                    if n == 0 {
                        return Ok(false);
                    }
                    self.end += n;
                    return Ok(true);
                }
                Event::Stop => {
                    self.shutdown = None;
                    self.start_close(CloseCode::GOING_AWAY, "server shutting down")
                        .await?;
                }
                Event::Timer => {
                    let now = Instant::now();
                    if self.close_deadline.is_some_and(|d| now >= d) {
                        return Err(WebSocketError::Timeout);
                    }
                    if idle_at.is_some_and(|d| now >= d) {
                        self.start_close(CloseCode::GOING_AWAY, "idle timeout")
                            .await?;
                        // The peer gets the close timeout to answer.
                        self.last_rx = now;
                        continue;
                    }
                    if ping_at.is_some_and(|d| now >= d) {
                        self.ping_sent = true;
                        self.conn.encode_ping(b"", &mut self.wbuf)?;
                        self.write_out().await?;
                    }
                }
            }
        }
    }

    /// Sends our Close (if not sent yet) and starts the close timer.
    async fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<(), WebSocketError> {
        if !self.conn.sent_close() {
            self.conn.encode_close(code, reason, &mut self.wbuf)?;
            self.write_out().await?;
        }
        if self.close_deadline.is_none() {
            self.close_deadline = Some(Instant::now() + self.config.close_timeout);
        }
        Ok(())
    }

    async fn write_pending(&mut self) -> Result<(), WebSocketError> {
        if self.conn.write_pending(&mut self.wbuf) {
            if self.close_deadline.is_none() && self.conn.sent_close() {
                self.close_deadline = Some(Instant::now() + self.config.close_timeout);
            }
            self.write_out().await?;
        }
        Ok(())
    }

    /// Writes `wbuf` within the write timeout.
    async fn write_out(&mut self) -> Result<(), WebSocketError> {
        self.write_parts(None).await
    }

    /// Writes `wbuf` and then `rbuf[a..b]` (an answer's payload sent from the read
    /// buffer, when given) within the write timeout.
    async fn write_parts(&mut self, extra: Option<(usize, usize)>) -> Result<(), WebSocketError> {
        if self.wbuf.is_empty() && extra.is_none() {
            return Ok(());
        }
        let mut done = 0;
        let r = {
            let io = &mut self.io;
            let parts: [&[u8]; 2] = [&self.wbuf, extra.map_or(&[][..], |(a, b)| &self.rbuf[a..b])];
            // Fast path: the transport usually takes everything at once, and then no
            // write timer is needed.
            let fast =
                std::future::poll_fn(|cx| match poll_write_parts(io, cx, parts, &mut done) {
                    Poll::Ready(r) => Poll::Ready(Some(r)),
                    Poll::Pending => Poll::Ready(None),
                })
                .await;
            match fast {
                Some(r) => Ok(r),
                None => {
                    let rest =
                        std::future::poll_fn(|cx| poll_write_parts(io, cx, parts, &mut done));
                    tokio::time::timeout(self.config.write_timeout, rest).await
                }
            }
        };
        self.wbuf.clear();
        if self.wbuf.capacity() > RETAIN {
            self.wbuf.shrink_to(READ_CHUNK);
        }
        match r {
            Ok(r) => Ok(r?),
            Err(_) => Err(WebSocketError::Timeout),
        }
    }

    /// Both Close frames went (or the connection failed): close the transport.
    async fn finish(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        let _ = tokio::time::timeout(self.config.close_timeout, self.io.shutdown()).await;
    }

    fn abort(&mut self) {
        self.done = true;
    }
}

/// What ended a wait for the peer.
enum Event {
    Read(io::Result<usize>),
    Stop,
    Timer,
}

/// Resolves once the shutdown signal is true (never if the sender is gone).
async fn stopped(mut rx: watch::Receiver<bool>) {
    if rx.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Writes `parts[0]` then `parts[1]` from byte `done` on (vectored while both are left),
/// then flushes.
fn poll_write_parts(
    io: &mut Box<dyn Io + Send + 'static>,
    cx: &mut std::task::Context<'_>,
    parts: [&[u8]; 2],
    done: &mut usize,
) -> Poll<io::Result<()>> {
    let [head, tail] = parts;
    while *done < head.len() + tail.len() {
        let r = if *done < head.len() && !tail.is_empty() {
            let bufs = [io::IoSlice::new(&head[*done..]), io::IoSlice::new(tail)];
            Pin::new(&mut **io).poll_write_vectored(cx, &bufs)
        } else if *done < head.len() {
            Pin::new(&mut **io).poll_write(cx, &head[*done..])
        } else {
            Pin::new(&mut **io).poll_write(cx, &tail[*done - head.len()..])
        };
        match r {
            Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            Poll::Ready(Ok(n)) => *done += n,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
    }
    Pin::new(&mut **io).poll_flush(cx)
}

/// An output sink that leaves out one payload the caller writes itself from where it
/// lies (recognised by its address and length): a server's unmasked, uncompressed answer
/// sent straight from the read buffer. Never used where frames are masked.
struct HeaderSink<'w> {
    buf: &'w mut Vec<u8>,
    skip: (usize, usize),
    skipped: bool,
}

impl codec::frame::FrameSink for HeaderSink<'_> {
    fn len(&self) -> usize {
        self.buf.len() + if self.skipped { self.skip.1 } else { 0 }
    }
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        if !self.skipped && (bytes.as_ptr() as usize, bytes.len()) == self.skip {
            self.skipped = true;
        } else {
            self.buf.extend_from_slice(bytes);
        }
    }
    fn tail_mut(&mut self, start: usize) -> &mut [u8] {
        // Only for masking, which a server never does.
        let start = start.min(self.buf.len());
        &mut self.buf[start..]
    }
}

/// Encodes `message` into `wbuf`: `Ok(true)` when it was our Close (the close timer
/// starts), `Ok(false)` for anything else, including a Close once one was sent (a no-op).
fn encode(
    conn: &mut codec::Connection,
    wbuf: &mut Vec<u8>,
    message: MessageRef<'_>,
) -> Result<bool, codec::Error> {
    encode_into(conn, wbuf, message)
}

/// [`encode`] into any frame sink.
fn encode_into<S: codec::frame::FrameSink + ?Sized>(
    conn: &mut codec::Connection,
    wbuf: &mut S,
    message: MessageRef<'_>,
) -> Result<bool, codec::Error> {
    match message {
        MessageRef::Text(s) => conn.encode_text(s, wbuf).map(|()| false),
        MessageRef::Binary(b) => conn.encode_binary(b, wbuf).map(|()| false),
        MessageRef::Ping(b) => conn.encode_ping(b, wbuf).map(|()| false),
        MessageRef::Pong(b) => conn.encode_pong(b, wbuf).map(|()| false),
        MessageRef::Close(_) if conn.sent_close() => Ok(false),
        MessageRef::Close(frame) => {
            let (code, reason) = frame.unwrap_or((CloseCode::NO_STATUS, ""));
            conn.encode_close(code, reason, wbuf).map(|()| true)
        }
    }
}

/// The message a [`Slot`] describes, borrowed from the read or the assembly buffer.
fn message_at<'a>(rbuf: &'a [u8], assembly: &'a [u8], slot: Slot) -> MessageRef<'a> {
    let bytes: &[u8] = match slot.place {
        Place::Read(a, b) => &rbuf[a..b],
        Place::Assembly => assembly,
        Place::Empty => &[],
    };
    match slot.kind {
        // Checked by the codec already; the check cannot fail on the same bytes.
        SlotKind::Text => MessageRef::Text(std::str::from_utf8(bytes).unwrap_or("")),
        SlotKind::Binary => MessageRef::Binary(bytes),
        SlotKind::Ping => MessageRef::Ping(bytes),
        SlotKind::Pong => MessageRef::Pong(bytes),
        SlotKind::Close(None) => MessageRef::Close(None),
        SlotKind::Close(Some(code)) => {
            MessageRef::Close(Some((code, std::str::from_utf8(bytes).unwrap_or(""))))
        }
    }
}

/// What a received message is, without its bytes.
#[derive(Clone, Copy, Debug)]
enum SlotKind {
    Text,
    Binary,
    Ping,
    Pong,
    Close(Option<CloseCode>),
}

/// Where a received message's bytes are.
#[derive(Clone, Copy, Debug)]
enum Place {
    /// `rbuf[a..b]` (an unfragmented, uncompressed frame, unmasked in place).
    Read(usize, usize),
    /// The whole assembly buffer (fragmented or compressed).
    Assembly,
    /// No bytes.
    Empty,
}

/// A received message between decoding and handing out.
#[derive(Clone, Copy, Debug)]
struct Slot {
    kind: SlotKind,
    place: Place,
}

impl Slot {
    /// Locates `m`'s bytes: within the read buffer (`base`, `len` bytes long) or else in
    /// the assembly buffer (the codec returns either a slice of its input or the whole
    /// assembly buffer).
    fn of(m: codec::Message<'_>, base: usize, len: usize) -> Slot {
        let (kind, bytes) = match m {
            codec::Message::Text(s) => (SlotKind::Text, s.as_bytes()),
            codec::Message::Binary(b) => (SlotKind::Binary, b),
            codec::Message::Ping(b) => (SlotKind::Ping, b),
            codec::Message::Pong(b) => (SlotKind::Pong, b),
            codec::Message::Close { code, reason } => (
                SlotKind::Close((code != CloseCode::NO_STATUS).then_some(code)),
                reason.as_bytes(),
            ),
        };
        let at = bytes.as_ptr() as usize;
        let place = if bytes.is_empty() {
            Place::Empty
        } else if at >= base && at - base + bytes.len() <= len {
            Place::Read(at - base, at - base + bytes.len())
        } else {
            Place::Assembly
        };
        Slot { kind, place }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sockets_can_move_between_tasks() {
        fn send<T: Send>() {}
        send::<super::WebSocket>();
        #[cfg(feature = "server")]
        send::<crate::server::Upgraded>();
    }
}
