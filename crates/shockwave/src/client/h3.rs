//! The HTTP/3 client driver (RFC 9114 over quinn): [`Http3Connection`] is one QUIC
//! connection to an origin (cheap to clone, `Send + Sync`) that sends requests as
//! concurrent streams. The [`Client`](super::Client) keeps one per origin in its pool
//! ([`Client::http3_connection`](super::Client::http3_connection)).
//!
//! Three ways to receive a response:
//! * **owned** ([`Http3Connection::send`]): an [`Http3Response`] with an `http::HeaderMap`
//!   and the body as [`Bytes`] (header values and a body that arrived in one packet
//!   share the received buffers; a longer body is copied once);
//! * **arena** (the client's [`Client::send_in`](super::Client::send_in)): header fields
//!   QPACK-decoded straight into the caller's [`Arena`], and the body in it too;
//! * **streaming** ([`Http3Connection::send_streaming`]): the head, then the body piece
//!   by piece as it arrives ([`Http3Body::chunk`]), without copying or buffering it.
//!
//! The protocol above the request streams (our control stream and SETTINGS, the server's
//! control and QPACK streams, GOAWAY, QPACK encoding and decoding) is one sans-I/O
//! [`Connection`] per QUIC connection, shared by the connection's requests; this driver
//! only moves bytes between it and quinn. Our SETTINGS advertise a QPACK dynamic table
//! capacity of 0, so the server's encoder uses the static table and literals only:
//! response sections never block.
//!
//! ```no_run
//! # async fn demo() -> Result<(), shockwave::client::Error> {
//! use shockwave::client::{Client, Http3Request};
//!
//! let client = Client::builder().http3().build()?;
//! let conn = client.http3_connection("https://localhost:4433/").await?;
//! let resp = conn
//!     .send(Http3Request {
//!         method: &http::Method::GET,
//!         authority: "localhost:4433",
//!         path: "/",
//!         headers: &[],
//!         body: &[],
//!     })
//!     .await?;
//! println!("{} {} bytes", resp.status, resp.body.len());
//! # Ok(()) }
//! ```

use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, StatusCode};
use shockwave_arena::{Arena, HeaderList};
use shockwave_quic::connection::{self, Connection, Event};
use shockwave_quic::frame::{self, FrameLimits, Settings};
use shockwave_quic::qpack::{Decoded, DecoderConfig, QpackError};
use shockwave_quic::request::RequestStream;
use shockwave_quic::stream::Role;
use shockwave_quic::{message, Error as H3Error, ErrorCode};
use tokio::sync::Notify;

use super::error::{ClosedDuring, Error};
use crate::common::h3_reader::{Ev, MessageReader, ReadFail};
use crate::common::h3_tunnel::H3Tunnel;
use crate::common::h3_uni::{has_pending, uni_reader, uni_writer, H3Driver};
use crate::http3::{quic_client_config, varint, Http3Config, SetupError};
use crate::websocket::{WebSocketConfig, WebSocketError};
use shockwave_http11::format_decimal as format_u64;

impl From<ReadFail> for Error {
    fn from(e: ReadFail) -> Self {
        match e {
            ReadFail::H3(e) => e.into(),
            ReadFail::Quic(e) => e.into(),
            ReadFail::Arena(e) => e.into(),
        }
    }
}

/// A request: method, URL parts, extra header fields and a body.
#[derive(Debug, Clone, Copy)]
pub struct Http3Request<'r> {
    /// The method.
    pub method: &'r Method,
    /// `:authority` (`host[:port]`).
    pub authority: &'r str,
    /// `:path` (path and query).
    pub path: &'r str,
    /// Extra header fields (lowercase names; connection-specific ones are not allowed).
    pub headers: &'r [(&'r [u8], &'r [u8])],
    /// The request body (sent with a `content-length`).
    pub body: &'r [u8],
}

/// A response whose head and body live in an arena (the client turns it into its public
/// [`ArenaResponse`](super::ArenaResponse)).
#[derive(Debug)]
pub(crate) struct H3ArenaResponse<'a> {
    /// The status.
    pub status: StatusCode,
    /// The header fields (without `:status`), decoded into the arena.
    pub headers: HeaderList<'a>,
    /// The whole body, in the arena.
    pub body: &'a [u8],
    /// The trailer fields, if any were sent.
    pub trailers: Option<HeaderList<'a>>,
}

/// An owned response.
#[derive(Debug, Clone)]
pub struct Http3Response {
    /// The status.
    pub status: StatusCode,
    /// The header fields.
    pub headers: http::HeaderMap,
    /// The body.
    pub body: Bytes,
    /// The trailer fields, if the server sent a trailer section.
    pub trailers: Option<http::HeaderMap>,
}

/// A response whose body is read as it arrives ([`Http3Connection::send_streaming`]).
#[derive(Debug)]
pub struct Http3StreamingResponse {
    /// The status.
    pub status: StatusCode,
    /// The header fields.
    pub headers: http::HeaderMap,
    /// The body, read with [`Http3Body::chunk`].
    pub body: Http3Body,
}

/// The body of an [`Http3StreamingResponse`]. Dropping it before the end stops the
/// stream with `H3_REQUEST_CANCELLED` (RFC 9114 §4.1.1).
pub struct Http3Body {
    reader: MessageReader,
    state: Arc<ConnState>,
    id: u64,
    max_body: u64,
    /// The announced content-length (0 when none), checked and used as a capacity hint
    /// by [`collect`](Self::collect).
    expected: u64,
    received: u64,
    trailers: Option<http::HeaderMap>,
    done: bool,
}

impl std::fmt::Debug for Http3Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http3Body")
            .field("stream", &self.id)
            .field("received", &self.received)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Http3Body {
    /// The next piece of content, `None` once the body (and any trailers) ended. The
    /// pieces follow QUIC's packets, not the server's writes. After an error the stream
    /// is stopped and further calls return `None`.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        let result = self.next().await;
        if result.is_err() {
            self.done = true;
            let _ = self.reader.recv.stop(varint(ErrorCode::RequestCancelled));
        }
        result
    }

    async fn next(&mut self) -> Result<Option<Bytes>, Error> {
        while !self.done {
            match poll_fn(|cx| self.reader.poll_next_bytes(cx)).await? {
                Ev::Data(d) if d.is_empty() => {}
                Ev::Data(d) => {
                    self.received += d.len() as u64;
                    return Ok(Some(d));
                }
                Ev::Trailers(s) => {
                    let mut t = Vec::new();
                    self.state.decode_shared(self.id, &s, &mut t)?;
                    message::validate_trailers(t.iter().map(|(n, v)| (&n[..], &v[..])))?;
                    self.trailers = Some(header_map(t));
                }
                Ev::Headers(_) => {}
                Ev::End => self.done = true,
            }
        }
        Ok(None)
    }

    /// The trailer fields, once [`chunk`](Self::chunk) returned `None`, if the server
    /// sent any.
    pub fn trailers(&self) -> Option<&http::HeaderMap> {
        self.trailers.as_ref()
    }

    /// Content bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Reads the rest of the body into one buffer: a body that arrived in one piece is
    /// not copied at all, a longer one once. A body (or announced content-length) above
    /// the configured maximum ([`Http3Config::max_body_size`], at least 64 MiB) is
    /// [`Error::BodyTooLarge`] and stops the stream; [`chunk`](Self::chunk)
    /// itself has no limit, as it keeps nothing.
    pub async fn collect(&mut self) -> Result<Bytes, Error> {
        let result = self.collect_limited().await;
        if result.is_err() && !self.done {
            self.done = true;
            let _ = self.reader.recv.stop(varint(ErrorCode::RequestCancelled));
        }
        result
    }

    async fn collect_limited(&mut self) -> Result<Bytes, Error> {
        let limit = self.max_body;
        let too_large = || Error::BodyTooLarge { limit };
        if self.expected > self.max_body {
            return Err(too_large());
        }
        let start = self.received;
        let Some(first) = self.chunk().await? else {
            return Ok(Bytes::new());
        };
        let Some(second) = self.chunk().await? else {
            return Ok(first);
        };
        let hint = usize::try_from(self.expected).unwrap_or(0);
        let mut all = Vec::with_capacity(hint.max(first.len() + second.len()));
        all.extend_from_slice(&first);
        all.extend_from_slice(&second);
        drop((first, second));
        while let Some(piece) = self.chunk().await? {
            if self.received - start > self.max_body {
                return Err(too_large());
            }
            all.extend_from_slice(&piece);
        }
        if self.received - start > self.max_body {
            return Err(too_large());
        }
        Ok(Bytes::from(all))
    }
}

impl Drop for Http3Body {
    fn drop(&mut self) {
        if !self.done && !self.reader.is_finished() {
            let _ = self.reader.recv.stop(varint(ErrorCode::RequestCancelled));
        }
    }
}

/// What a connection's requests and its background tasks share.
struct ConnState {
    quic: quinn::Connection,
    /// The HTTP/3 connection state machine (never locked across an `.await`).
    h3: Mutex<Connection>,
    /// Wakes the writer of our control stream ([`uni_writer`]).
    uni_out: Notify,
    /// Notified when the server's SETTINGS arrive (extended CONNECT waits for them).
    settings: Notify,
}

impl ConnState {
    fn h3(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.h3.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// After any call into the connection, with `h3` still locked: closes the QUIC
    /// connection on a connection error (RFC 9114 §8) and wakes [`uni_writer`] when our
    /// streams have bytes to send. (Our table capacity is 0: no stream is ever blocked;
    /// SETTINGS and GOAWAY are read from the connection when needed.)
    fn dispatch(&self, h3: &mut Connection) {
        while let Some(ev) = h3.poll_event() {
            match ev {
                Event::ConnectionError(e) => {
                    self.quic
                        .close(varint(e.code()), e.code().name().as_bytes());
                    self.settings.notify_waiters();
                }
                Event::PeerSettings(_) => self.settings.notify_waiters(),
                _ => {}
            }
        }
        if has_pending(h3) {
            self.uni_out.notify_one();
        }
    }

    /// Decodes a response field section into `arena`.
    fn decode<'a>(
        &self,
        id: u64,
        section: &'a [u8],
        arena: &'a Arena,
    ) -> Result<HeaderList<'a>, Error> {
        let mut h3 = self.h3();
        let result = h3.decode_section(id, section, arena);
        self.dispatch(&mut h3);
        match result? {
            Decoded::Done(list) => Ok(list),
            // Our table capacity is 0: the connection already refuses a section that
            // references the table; this arm is defensive.
            Decoded::Blocked => Err(blocked()),
        }
    }

    /// Decodes a field section into `(name, value)` pairs that share `section`'s buffer
    /// where the encoding is a plain literal (copies only for Huffman-coded and static
    /// table strings).
    fn decode_shared(
        &self,
        id: u64,
        section: &Bytes,
        out: &mut Vec<(Bytes, Bytes)>,
    ) -> Result<(), Error> {
        let piece = |s: &[u8]| {
            let start = (s.as_ptr() as usize).wrapping_sub(section.as_ptr() as usize);
            match start.checked_add(s.len()) {
                Some(end) if start <= section.len() && end <= section.len() => {
                    section.slice(start..end)
                }
                _ => Bytes::copy_from_slice(s),
            }
        };
        let mut h3 = self.h3();
        let result = h3.decode_section_with(id, section, |n, v| out.push((piece(n), piece(v))));
        self.dispatch(&mut h3);
        match result? {
            Decoded::Done(()) => Ok(()),
            Decoded::Blocked => Err(blocked()),
        }
    }
}

impl H3Driver for ConnState {
    fn quic(&self) -> &quinn::Connection {
        &self.quic
    }

    fn uni_out(&self) -> &Notify {
        &self.uni_out
    }

    fn with_h3<R>(&self, f: impl FnOnce(&mut Connection) -> R) -> R {
        f(&mut self.h3())
    }

    fn after(&self) {
        self.dispatch(&mut self.h3());
    }
}

/// A section that would wait for the dynamic table we do not allow (defensive).
fn blocked() -> Error {
    H3Error::from(QpackError::Decompression("dynamic table reference")).into()
}

/// One HTTP/3 connection (QUIC connection + our control stream + a task reading the
/// server's control and QPACK streams). Clones share the connection; requests on it run
/// as concurrent streams.
#[derive(Clone)]
pub struct Http3Connection {
    quic: quinn::Connection,
    state: Arc<ConnState>,
    max_body: u64,
    max_field_section_size: u64,
}

impl std::fmt::Debug for Http3Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http3Connection")
            .field("remote", &self.quic.remote_address())
            .finish_non_exhaustive()
    }
}

impl Http3Connection {
    /// Connects to `addr` (TLS server name `server_name`) with `endpoint`, whose default
    /// client configuration must come from [`quic_client_config`].
    pub async fn connect(
        endpoint: &quinn::Endpoint,
        addr: SocketAddr,
        server_name: &str,
        config: &Http3Config,
    ) -> Result<Self, Error> {
        let connecting = endpoint
            .connect(addr, server_name)
            .map_err(|e| Error::Connect {
                host: server_name.to_owned(),
                port: addr.port(),
                source: std::io::Error::other(e),
            })?;
        let quic = connecting
            .await
            .map_err(|e| super::error::quic_handshake(e, server_name))?;
        Self::from_quic(quic, config).await
    }

    /// Starts HTTP/3 on an established QUIC connection (ALPN `h3`).
    pub async fn from_quic(quic: quinn::Connection, config: &Http3Config) -> Result<Self, Error> {
        // Table capacity 0 and no blocked streams: the server's encoder is static-only.
        let cfg = connection::Config {
            qpack: DecoderConfig {
                max_table_capacity: 0,
                max_blocked_streams: 0,
                max_field_section_size: config.max_field_section_size,
                max_fields: config.max_header_fields,
            },
            grease: Some(quic.stable_id() as u64),
            // SETTINGS_ENABLE_CONNECT_PROTOCOL is the server's offer (RFC 9220 §3): a
            // client does not send it.
            ..connection::Config::default()
        };
        let state = Arc::new(ConnState {
            quic: quic.clone(),
            h3: Mutex::new(Connection::new(Role::Client, cfg)),
            uni_out: Notify::new(),
            settings: Notify::new(),
        });
        // Our control stream (type + SETTINGS, RFC 9114 §6.2.1) goes out before any
        // request: open it now, the writer task keeps it.
        let control = quic.open_uni().await?;
        let writer = state.clone();
        tokio::spawn(async move { uni_writer(&*writer, [Some(control), None, None]).await });
        tokio::spawn(background(state.clone()));
        Ok(Http3Connection {
            quic,
            state,
            max_body: config.max_body_size.max(64 * 1024 * 1024),
            max_field_section_size: config.max_field_section_size,
        })
    }

    /// The underlying QUIC connection.
    pub fn quic(&self) -> &quinn::Connection {
        &self.quic
    }

    /// The server's SETTINGS, once received.
    pub fn peer_settings(&self) -> Option<Settings> {
        self.state.h3().peer_settings().copied()
    }

    /// True while new requests may be sent (no GOAWAY received, no HTTP/3 connection
    /// error, not closed).
    pub fn is_usable(&self) -> bool {
        if self.quic.close_reason().is_some() {
            return false;
        }
        let h3 = self.state.h3();
        h3.goaway_received().is_none() && h3.error().is_none()
    }

    /// Sends a request and reads the whole response into `arena`.
    pub(crate) async fn send_in<'a>(
        &self,
        arena: &'a Arena,
        req: Http3Request<'_>,
    ) -> Result<H3ArenaResponse<'a>, Error> {
        let (mut reader, id) = self.start(req).await?;
        let result = self
            .read_response(arena, &mut reader, id, req.method == Method::HEAD)
            .await;
        if result.is_err() {
            let _ = reader.recv.stop(varint(ErrorCode::RequestCancelled));
        }
        result
    }

    /// Sends a request and returns an owned response (the future is `Send`).
    pub async fn send(&self, req: Http3Request<'_>) -> Result<Http3Response, Error> {
        let mut r = self.send_streaming(req).await?;
        let body = r.body.collect().await?;
        Ok(Http3Response {
            status: r.status,
            headers: r.headers,
            body,
            trailers: r.body.trailers.take(),
        })
    }

    /// Sends a request and returns the response head; the body is then read piece by
    /// piece with [`Http3Body::chunk`], each piece a shared slice of the received
    /// packets (no copy, nothing buffered beyond QUIC's flow-control window). The
    /// future is `Send`.
    pub async fn send_streaming(
        &self,
        req: Http3Request<'_>,
    ) -> Result<Http3StreamingResponse, Error> {
        let (mut reader, id) = self.start(req).await?;
        match self.read_head(&mut reader, id).await {
            Ok((status, content_length, fields)) => {
                let no_body = req.method == Method::HEAD
                    || status == StatusCode::NO_CONTENT
                    || status == StatusCode::NOT_MODIFIED;
                let mut expected = 0;
                if let (Some(len), false) = (content_length, no_body) {
                    if let Err(e) = reader.state.set_content_length(len) {
                        let _ = reader.recv.stop(varint(ErrorCode::RequestCancelled));
                        return Err(e.into());
                    }
                    expected = len;
                }
                Ok(Http3StreamingResponse {
                    status,
                    headers: header_map(fields),
                    body: Http3Body {
                        reader,
                        state: self.state.clone(),
                        id,
                        max_body: self.max_body,
                        expected,
                        received: 0,
                        trailers: None,
                        done: false,
                    },
                })
            }
            Err(e) => {
                let _ = reader.recv.stop(varint(ErrorCode::RequestCancelled));
                Err(e)
            }
        }
    }

    /// Encodes the HEADERS frame of the request on stream `id` (`send`/`recv`) into
    /// `out`, under one lock of the connection. RFC 9114 §5.2: no request on a stream
    /// the server's GOAWAY excluded (or after a connection error); the stream is then
    /// reset and stopped, and the request, never sent, may go on a new connection
    /// ([`ClosedDuring::BeforeResponse`]). The encoder is static-only (the connection's
    /// default): it queues no encoder stream bytes.
    fn encode_request_head<'f>(
        &self,
        id: u64,
        fields: impl Iterator<Item = (&'f [u8], &'f [u8])>,
        out: &mut Vec<u8>,
        authority: &str,
        send: &mut quinn::SendStream,
        recv: &mut quinn::RecvStream,
    ) -> Result<(), Error> {
        let encoded = {
            let mut h3 = self.state.h3();
            h3.may_open_request(id)
                .then(|| h3.encode_headers_frame(id, fields, out))
        };
        match encoded {
            Some(Ok(_)) => Ok(()),
            Some(Err(_)) => Err(Error::invalid_url(authority, "header section too large")),
            None => {
                let _ = send.reset(varint(ErrorCode::RequestCancelled));
                let _ = recv.stop(varint(ErrorCode::RequestCancelled));
                Err(Error::ConnectionClosed(ClosedDuring::BeforeResponse))
            }
        }
    }

    /// Opens a request stream and writes the request.
    async fn start(&self, req: Http3Request<'_>) -> Result<(MessageReader, u64), Error> {
        let (mut send, mut recv) = self.quic.open_bi().await?;
        let id = u64::from(send.id());
        let mut out = Vec::with_capacity(256 + req.body.len().min(64 * 1024));
        let mut len_buf = [0u8; 20];
        let len = format_u64(req.body.len() as u64, &mut len_buf);
        let pseudo: [(&[u8], &[u8]); 4] = [
            (b":method", req.method.as_str().as_bytes()),
            (b":scheme", b"https"),
            (b":authority", req.authority.as_bytes()),
            (b":path", req.path.as_bytes()),
        ];
        let with_len = !req.body.is_empty() || matches!(*req.method, Method::POST | Method::PUT);
        let cl: &[(&[u8], &[u8])] = if with_len {
            &[(b"content-length", len)]
        } else {
            &[]
        };
        let fields = pseudo
            .iter()
            .copied()
            .chain(req.headers.iter().copied())
            .chain(cl.iter().copied());
        self.encode_request_head(id, fields, &mut out, req.authority, &mut send, &mut recv)?;
        if !req.body.is_empty() {
            let _ = frame::encode_data_header(req.body.len() as u64, &mut out);
            if req.body.len() <= 16 * 1024 {
                out.extend_from_slice(req.body);
                send.write_all(&out).await?;
            } else {
                send.write_all(&out).await?;
                send.write_all(req.body).await?;
            }
        } else {
            send.write_all(&out).await?;
        }
        let _ = send.finish();
        let limits = FrameLimits {
            max_field_section_len: self.max_field_section_size,
            ..FrameLimits::default()
        };
        let reader = MessageReader::new(recv, RequestStream::with_limits(Role::Client, limits));
        Ok((reader, id))
    }

    /// Reads the response head (skipping interim responses): status, content-length
    /// and the fields, whose values share the received section's buffer.
    async fn read_head(
        &self,
        reader: &mut MessageReader,
        id: u64,
    ) -> Result<(StatusCode, Option<u64>, Vec<(Bytes, Bytes)>), Error> {
        let mut fields: Vec<(Bytes, Bytes)> = Vec::new();
        loop {
            let section = match poll_fn(|cx| reader.poll_next_bytes(cx)).await? {
                Ev::Headers(s) => s,
                _ => {
                    return Err(H3Error::MessageError {
                        reason: "response without a header section",
                    }
                    .into())
                }
            };
            fields.clear();
            self.state.decode_shared(id, &section, &mut fields)?;
            let head = message::validate_response(fields.iter().map(|(n, v)| (&n[..], &v[..])))?;
            if head.status < 200 {
                reader.state.interim_response()?;
                continue;
            }
            let status = StatusCode::from_u16(head.status).map_err(|_| H3Error::MessageError {
                reason: "invalid :status",
            })?;
            return Ok((status, head.content_length, fields));
        }
    }

    async fn read_response<'a>(
        &self,
        arena: &'a Arena,
        reader: &mut MessageReader,
        id: u64,
        is_head: bool,
    ) -> Result<H3ArenaResponse<'a>, Error> {
        // The head, skipping interim (1xx) responses.
        let (status, headers, content_length) = loop {
            let section = match poll_fn(|cx| reader.poll_next(cx, &mut [], arena)).await? {
                Ev::Headers(s) => s,
                _ => {
                    return Err(H3Error::MessageError {
                        reason: "response without a header section",
                    }
                    .into())
                }
            };
            let list = self.state.decode(id, section, arena)?;
            let head = message::validate_response(list.iter())?;
            if head.status < 200 {
                reader.state.interim_response()?;
                continue;
            }
            let status = StatusCode::from_u16(head.status).map_err(|_| H3Error::MessageError {
                reason: "invalid :status",
            })?;
            let mut regular = HeaderList::new_in(arena);
            for (n, v) in list.iter().filter(|(n, _)| !n.starts_with(b":")) {
                regular.push(n, v)?;
            }
            break (status, regular, head.content_length);
        };
        let no_body =
            is_head || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
        if let (Some(len), false) = (content_length, no_body) {
            if len > self.max_body {
                return Err(Error::BodyTooLarge {
                    limit: self.max_body,
                });
            }
            reader.state.set_content_length(len)?;
        }
        // The body, straight into the arena.
        let mut cap = content_length
            .filter(|_| !no_body)
            .unwrap_or(16 * 1024)
            .max(1) as usize;
        let mut buf: &mut [u8] = arena.alloc_zeroed(cap)?;
        let mut filled = 0usize;
        let mut trailers = None;
        loop {
            if filled == cap {
                if cap as u64 >= self.max_body {
                    return Err(Error::BodyTooLarge {
                        limit: self.max_body,
                    });
                }
                let new_cap = (cap * 2).min(self.max_body as usize);
                let bigger = arena.alloc_zeroed(new_cap)?;
                bigger[..filled].copy_from_slice(&buf[..filled]);
                buf = bigger;
                cap = new_cap;
            }
            match poll_fn(|cx| reader.poll_next(cx, &mut buf[filled..], arena)).await? {
                Ev::Data(n) => filled += n,
                Ev::Trailers(s) => {
                    let list = self.state.decode(id, s, arena)?;
                    message::validate_trailers(list.iter())?;
                    trailers = Some(list);
                }
                Ev::Headers(_) => {}
                Ev::End => break,
            }
        }
        Ok(H3ArenaResponse {
            status,
            headers,
            body: &buf[..filled],
            trailers,
        })
    }
}

/// A CONNECT (RFC 9114 §4.4) or extended CONNECT (RFC 9220 §3) request, sent with
/// [`Http3Connection::open_tunnel`].
#[derive(Debug, Clone, Copy)]
pub struct Http3ConnectRequest<'r> {
    /// `:authority`: the tunnel's target (`host:port`) for a plain CONNECT, the origin
    /// for an extended CONNECT.
    pub authority: &'r str,
    /// `:protocol` of an extended CONNECT (e.g. `websocket`), sent with `:scheme`
    /// `https` and [`path`](Self::path); `None`: a plain CONNECT (`:method` and
    /// `:authority` only).
    pub protocol: Option<&'r str>,
    /// `:path` (extended CONNECT only; ignored for a plain CONNECT).
    pub path: &'r str,
    /// Extra header fields (lowercase names; connection-specific ones are not allowed).
    pub headers: &'r [(&'r [u8], &'r [u8])],
}

/// The answer to a CONNECT ([`Http3Connection::open_tunnel`]): its status and header
/// fields, and the request stream as a tokio [`AsyncRead`](tokio::io::AsyncRead) +
/// [`AsyncWrite`](tokio::io::AsyncWrite) byte stream.
///
/// After a 2xx it is the tunnel: bytes travel in DATA frames both ways (at most 16 KiB
/// per frame written, flow-controlled by QUIC: nothing is buffered beyond one frame);
/// [`shutdown`](tokio::io::AsyncWriteExt::shutdown) sends our FIN, the server's FIN is
/// end of file, dropping it before `shutdown` resets the stream with
/// `H3_REQUEST_CANCELLED`. After another status there is no tunnel: reads return the
/// response body. It is `Send` (it may move to a task of its own).
pub struct Http3Tunnel {
    /// The final status (interim responses are skipped).
    pub status: StatusCode,
    /// The response header fields.
    pub headers: http::HeaderMap,
    io: H3Tunnel,
}

impl std::fmt::Debug for Http3Tunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http3Tunnel")
            .field("status", &self.status)
            .field("io", &self.io)
            .finish_non_exhaustive()
    }
}

impl Http3Tunnel {
    /// True for a 2xx answer: the stream is a tunnel.
    pub fn is_established(&self) -> bool {
        self.status.is_success()
    }
}

impl tokio::io::AsyncRead for Http3Tunnel {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Http3Tunnel {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl Http3Connection {
    /// True once the server's SETTINGS enabled extended CONNECT
    /// (SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 9220 §3); false until they arrived.
    pub fn peer_enables_connect_protocol(&self) -> bool {
        self.state.h3().peer_enables_connect_protocol()
    }

    /// Waits for the server's SETTINGS (they come first on its control stream, within
    /// a round trip of the handshake). Errors if the connection closes first.
    pub async fn wait_for_settings(&self) -> Result<Settings, Error> {
        loop {
            let arrived = self.state.settings.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if let Some(s) = self.peer_settings() {
                return Ok(s);
            }
            if let Some(reason) = self.quic.close_reason() {
                return Err(Error::Quic(reason));
            }
            if let Some(e) = self.state.h3().error() {
                return Err(e.clone().into());
            }
            tokio::select! {
                _ = arrived => {}
                reason = self.quic.closed() => return Err(Error::Quic(reason)),
            }
        }
    }

    /// Sends a CONNECT or extended CONNECT and reads the final response head. An
    /// extended CONNECT first waits for the server's SETTINGS and fails with
    /// `H3_MESSAGE_ERROR` ([`Error::Http3Protocol`]) when they do not enable it
    /// (RFC 9220 §3). See [`Http3Tunnel`] for what the stream then does. The future is
    /// `Send`.
    ///
    /// ```no_run
    /// # async fn demo(conn: shockwave::client::Http3Connection) -> Result<(), shockwave::client::Error> {
    /// use shockwave::client::Http3ConnectRequest;
    /// use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    ///
    /// let mut tunnel = conn
    ///     .open_tunnel(Http3ConnectRequest {
    ///         authority: "example.com:443",
    ///         protocol: None,
    ///         path: "",
    ///         headers: &[],
    ///     })
    ///     .await?;
    /// assert!(tunnel.is_established());
    /// tunnel.write_all(b"ping").await?;
    /// tunnel.shutdown().await?;
    /// let mut answer = Vec::new();
    /// tunnel.read_to_end(&mut answer).await?;
    /// # Ok(()) }
    /// ```
    pub async fn open_tunnel(&self, req: Http3ConnectRequest<'_>) -> Result<Http3Tunnel, Error> {
        if req.protocol.is_some() {
            self.wait_for_settings().await?;
            self.state.h3().check_extended_connect()?;
        }
        let (mut send, mut recv) = self.quic.open_bi().await?;
        let id = u64::from(send.id());
        let mut out = Vec::with_capacity(256);
        let extended: [(&[u8], &[u8]); 5];
        let plain: [(&[u8], &[u8]); 2];
        let pseudo: &[(&[u8], &[u8])] = match req.protocol {
            Some(protocol) => {
                extended = [
                    (b":method", b"CONNECT"),
                    (b":protocol", protocol.as_bytes()),
                    (b":scheme", b"https"),
                    (b":authority", req.authority.as_bytes()),
                    (b":path", req.path.as_bytes()),
                ];
                &extended
            }
            None => {
                plain = [
                    (b":method", b"CONNECT"),
                    (b":authority", req.authority.as_bytes()),
                ];
                &plain
            }
        };
        let fields = pseudo.iter().copied().chain(req.headers.iter().copied());
        self.encode_request_head(id, fields, &mut out, req.authority, &mut send, &mut recv)?;
        // No FIN: the stream stays open for the tunnel.
        send.write_all(&out).await?;
        let limits = FrameLimits {
            max_field_section_len: self.max_field_section_size,
            ..FrameLimits::default()
        };
        let mut reader = MessageReader::new(recv, RequestStream::with_limits(Role::Client, limits));
        let (status, content_length, fields) = match self.read_head(&mut reader, id).await {
            Ok(head) => head,
            Err(e) => {
                let _ = send.reset(varint(ErrorCode::RequestCancelled));
                let _ = reader.recv.stop(varint(ErrorCode::RequestCancelled));
                return Err(e);
            }
        };
        if let (Some(len), false) = (content_length, status.is_success()) {
            // A refusal's body; a 2xx to CONNECT has no content-length meaning
            // (RFC 9110 §9.3.6).
            reader.state.set_content_length(len)?;
        }
        Ok(Http3Tunnel {
            status,
            headers: header_map(fields),
            io: H3Tunnel::new(reader, send, self.quic.clone()),
        })
    }
}

/// WebSocket over HTTP/3 (RFC 9220 §3): an extended CONNECT with `:protocol =
/// websocket` to `http_url` (`https://`) on a stream of the client's pooled QUIC
/// connection, with the permessage-deflate offer and the subprotocols; the answer is the
/// caller's to check (a 2xx, no accept key: RFC 8441 §5). A server whose SETTINGS do not
/// enable extended CONNECT is [`WebSocketError::ExtendedConnectUnsupported`], and
/// nothing is sent.
pub(crate) async fn websocket_tunnel(
    client: &super::Client,
    http_url: &str,
    config: &WebSocketConfig,
    protocols: &[&str],
) -> Result<Http3Tunnel, WebSocketError> {
    let error = |e: Error| WebSocketError::Handshake(e.to_string());
    let target = super::target::Target::parse(http_url).map_err(error)?;
    let conn = client.http3_connection(http_url).await.map_err(error)?;
    conn.wait_for_settings().await.map_err(error)?;
    if !conn.peer_enables_connect_protocol() {
        return Err(WebSocketError::ExtendedConnectUnsupported(
            http::Version::HTTP_3,
        ));
    }
    let offer = config.deflate.as_ref().map(|d| d.offer());
    let joined = protocols.join(", ");
    let mut fields: Vec<(&[u8], &[u8])> = vec![(b"sec-websocket-version", b"13")];
    if let Some(offer) = &offer {
        fields.push((b"sec-websocket-extensions", offer.as_bytes()));
    }
    if !protocols.is_empty() {
        fields.push((b"sec-websocket-protocol", joined.as_bytes()));
    }
    let request = Http3ConnectRequest {
        authority: target.authority,
        protocol: Some("websocket"),
        path: target.path_and_query,
        headers: &fields,
    };
    conn.open_tunnel(request).await.map_err(error)
}

/// The regular (non-pseudo) fields as a header map; values keep sharing their buffer.
/// Fields `http` refuses are left out.
fn header_map(fields: Vec<(Bytes, Bytes)>) -> http::HeaderMap {
    let mut map = http::HeaderMap::with_capacity(fields.len());
    for (n, v) in fields.into_iter().filter(|(n, _)| !n.starts_with(b":")) {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(&n),
            http::HeaderValue::from_maybe_shared(v),
        ) {
            map.append(n, v);
        }
    }
    map
}

/// Accepts the server's unidirectional streams, one [`uni_reader`] task each.
async fn background(state: Arc<ConnState>) {
    loop {
        let recv = tokio::select! {
            r = state.quic.accept_uni() => match r {
                Ok(r) => r,
                Err(_) => break,
            },
            _ = state.quic.closed() => break,
        };
        let state = state.clone();
        tokio::spawn(async move { uni_reader(&*state, recv).await });
    }
}

/// A QUIC client endpoint (an unspecified-address UDP socket, IPv6 if available) whose
/// default configuration speaks HTTP/3 with `tls` (ALPN replaced by `h3`) and `config`'s
/// transport limits. Must be called inside a tokio runtime.
pub(crate) fn client_endpoint(
    tls: &rustls::ClientConfig,
    config: &Http3Config,
) -> Result<quinn::Endpoint, Error> {
    // As `quinn::Endpoint::client` binds, but with `config`'s endpoint configuration
    // (its `max_udp_payload_size`).
    let bind = |addr: std::net::SocketAddr| -> std::io::Result<std::net::UdpSocket> {
        use socket2::{Domain, Protocol, Socket, Type};
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        if addr.is_ipv6() {
            // Dual-stack where the platform allows it; IPv6-only otherwise.
            let _ = socket.set_only_v6(false);
        }
        socket.bind(&addr.into())?;
        Ok(socket.into())
    };
    let socket = bind((std::net::Ipv6Addr::UNSPECIFIED, 0).into())
        .or_else(|_| bind((std::net::Ipv4Addr::UNSPECIFIED, 0).into()))
        .map_err(SetupError::Io)?;
    let mut endpoint = quinn::Endpoint::new(
        config.endpoint_config(),
        None,
        socket,
        Arc::new(quinn::TokioRuntime),
    )
    .map_err(SetupError::Io)?;
    endpoint.set_default_client_config(quic_client_config(tls, config)?);
    Ok(endpoint)
}

/// Resolves `host:port` and opens an HTTP/3 connection to it on `endpoint`.
pub(crate) async fn connect_origin(
    endpoint: &quinn::Endpoint,
    host: &str,
    port: u16,
    config: &Http3Config,
) -> Result<Http3Connection, Error> {
    let connect_err = |source| Error::Connect {
        host: host.to_owned(),
        port,
        source,
    };
    let addr = tokio::net::lookup_host((host, port))
        .await
        .map_err(connect_err)?
        .next()
        .ok_or_else(|| connect_err(std::io::Error::other("no address")))?;
    Http3Connection::connect(endpoint, addr, host, config).await
}
