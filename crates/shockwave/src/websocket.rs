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

use std::io;
use std::time::Duration;

use bytes::Bytes;
use shockwave_websocket as codec;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
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
    shutdown: Option<watch::Receiver<bool>>,
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
            shutdown,
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
    pub async fn recv(&mut self) -> Option<Result<Message, WebSocketError>> {
        loop {
            if self.done {
                return None;
            }
            if self.start < self.end {
                let decoded = self
                    .conn
                    .decode(&mut self.rbuf[self.start..self.end], &mut self.assembly);
                match decoded {
                    Ok(d) => {
                        let needed = d.needed;
                        let consumed = d.consumed;
                        let message = d.message.map(owned);
                        // A big message's assembly space is not kept by an idle socket (a
                        // data message is complete here: nothing in it is still needed).
                        if matches!(message, Some(Message::Text(_) | Message::Binary(_)))
                            && self.assembly.capacity() > 8 * READ_CHUNK
                        {
                            self.assembly = Vec::new();
                        }
                        self.start += consumed;
                        if self.start == self.end {
                            self.start = 0;
                            self.end = 0;
                        }
                        if let Err(e) = self.write_pending().await {
                            self.abort();
                            return Some(Err(e));
                        }
                        if let Some(message) = message {
                            self.last_rx = Instant::now();
                            self.ping_sent = false;
                            if self.conn.is_closed() {
                                self.finish().await;
                            }
                            return Some(Ok(message));
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
        if self.done {
            return Err(WebSocketError::Closed);
        }
        let encoded = match &message {
            Message::Text(s) => self.conn.encode_text(s, &mut self.wbuf),
            Message::Binary(b) => self.conn.encode_binary(b, &mut self.wbuf),
            Message::Ping(b) => self.conn.encode_ping(b, &mut self.wbuf),
            Message::Pong(b) => self.conn.encode_pong(b, &mut self.wbuf),
            Message::Close(frame) => {
                if self.conn.sent_close() {
                    return Ok(());
                }
                let (code, reason) = match frame {
                    Some(f) => (f.code, f.reason.as_str()),
                    None => (CloseCode::NO_STATUS, ""),
                };
                let r = self.conn.encode_close(code, reason, &mut self.wbuf);
                if r.is_ok() {
                    self.close_deadline = Some(Instant::now() + self.config.close_timeout);
                }
                r
            }
        };
        match encoded {
            Ok(()) => {}
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

    /// Sends a text message.
    pub async fn send_text(&mut self, text: impl Into<String>) -> Result<(), WebSocketError> {
        self.send(Message::Text(text.into())).await
    }

    /// Sends a binary message.
    pub async fn send_binary(&mut self, data: impl Into<Bytes>) -> Result<(), WebSocketError> {
        self.send(Message::Binary(data.into())).await
    }

    /// Closes the connection cleanly: sends a Close with `code` and `reason` (unless
    /// one was sent), then receives (and drops) messages until the peer's Close, at
    /// most [`WebSocketConfig::close_timeout`].
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), WebSocketError> {
        if self.done {
            return Ok(());
        }
        let frame = CloseFrame {
            code,
            reason: reason.to_owned(),
        };
        self.send(Message::Close(Some(frame))).await?;
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
            if self.rbuf.len() > 8 * READ_CHUNK {
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
            let sleep = tokio::time::sleep_until(wake.unwrap_or(now + Duration::from_secs(86400)));
            let stopping = self.shutdown.is_some() && !self.conn.sent_close();
            let end = self.end;
            let event = {
                let io = &mut self.io;
                let buf = &mut self.rbuf[end..];
                let shutdown = &mut self.shutdown;
                tokio::select! {
                    biased;
                    r = io.read(buf) => Event::Read(r),
                    _ = stopped(shutdown), if stopping => Event::Stop,
                    _ = sleep, if wake.is_some() => Event::Timer,
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
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let write = async {
            self.io.write_all(&self.wbuf).await?;
            self.io.flush().await
        };
        let r = tokio::time::timeout(self.config.write_timeout, write).await;
        self.wbuf.clear();
        if self.wbuf.capacity() > 8 * READ_CHUNK {
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

/// Resolves once the shutdown signal is true (never without a signal).
async fn stopped(rx: &mut Option<watch::Receiver<bool>>) {
    match rx {
        Some(rx) => {
            if rx.wait_for(|s| *s).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}

fn owned(m: codec::Message<'_>) -> Message {
    match m {
        codec::Message::Text(s) => Message::Text(s.to_owned()),
        codec::Message::Binary(b) => Message::Binary(Bytes::copy_from_slice(b)),
        codec::Message::Ping(b) => Message::Ping(Bytes::copy_from_slice(b)),
        codec::Message::Pong(b) => Message::Pong(Bytes::copy_from_slice(b)),
        codec::Message::Close { code, reason } => Message::Close(if code == CloseCode::NO_STATUS {
            None
        } else {
            Some(CloseFrame {
                code,
                reason: reason.to_owned(),
            })
        }),
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
