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
//! Our SETTINGS advertise a QPACK dynamic table capacity of 0, so the server's encoder
//! uses the static table and literals only: response sections never block.
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
use shockwave_quic::control::{ControlEvent, ControlStream};
use shockwave_quic::frame::{self, FrameLimits, Settings};
use shockwave_quic::qpack::{Decoded, Decoder, DecoderConfig, Encoder};
use shockwave_quic::request::RequestStream;
use shockwave_quic::stream::{self as h3stream, PeerUniStreams, Role, UniStreamKind};
use shockwave_quic::{message, Error as H3Error, ErrorCode};

use super::error::Error;
use crate::common::h3_reader::{Ev, MessageReader, ReadFail};
use crate::http3::{format_u64, quic_client_config, varint, Http3Config, SetupError};

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
    decoder: Decoder,
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
                    decode_shared(&mut self.decoder, self.id, &s, &mut t)?;
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

struct ConnState {
    peer_settings: Mutex<Option<Settings>>,
    goaway: Mutex<Option<u64>>,
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
        let quic = connecting.await?;
        Self::from_quic(quic, config).await
    }

    /// Starts HTTP/3 on an established QUIC connection (ALPN `h3`).
    pub async fn from_quic(quic: quinn::Connection, config: &Http3Config) -> Result<Self, Error> {
        let decoder_config = DecoderConfig {
            max_table_capacity: 0,
            max_blocked_streams: 0,
            max_field_section_size: config.max_field_section_size,
        };
        let mut control = quic.open_uni().await?;
        let mut buf = Vec::with_capacity(32);
        let _ = h3stream::encode_uni_stream_header(UniStreamKind::Control, &mut buf);
        let _ = decoder_config
            .settings()
            .encode(Some(quic.stable_id() as u64), &mut buf);
        control.write_all(&buf).await?;
        let state = Arc::new(ConnState {
            peer_settings: Mutex::new(None),
            goaway: Mutex::new(None),
        });
        tokio::spawn(background(quic.clone(), state.clone(), control));
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
        *self
            .state
            .peer_settings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// True while new requests may be sent (no GOAWAY received, not closed).
    pub fn is_usable(&self) -> bool {
        self.quic.close_reason().is_none()
            && self
                .state
                .goaway
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_none()
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
        let mut decoder = self.decoder();
        match self.read_head(&mut reader, &mut decoder, id).await {
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
                        decoder,
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

    /// Opens a request stream and writes the request.
    async fn start(&self, req: Http3Request<'_>) -> Result<(MessageReader, u64), Error> {
        let (mut send, recv) = self.quic.open_bi().await?;
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
        Encoder::new()
            .encode_headers_frame(fields, &mut out)
            .map_err(|_| Error::invalid_url(req.authority, "header section too large"))?;
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

    fn decoder(&self) -> Decoder {
        Decoder::new(DecoderConfig {
            max_table_capacity: 0,
            max_blocked_streams: 0,
            max_field_section_size: self.max_field_section_size,
        })
    }

    /// Reads the response head (skipping interim responses): status, content-length
    /// and the fields, whose values share the received section's buffer.
    async fn read_head(
        &self,
        reader: &mut MessageReader,
        decoder: &mut Decoder,
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
            decode_shared(decoder, id, &section, &mut fields)?;
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
        let mut decoder = self.decoder();
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
            let list = decode(&mut decoder, id, section, arena)?;
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
                    let list = decode(&mut decoder, id, s, arena)?;
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

/// Decodes a field section into `(name, value)` pairs that share `section`'s buffer
/// where the encoding is a plain literal (copies only for Huffman-coded and static
/// table strings).
fn decode_shared(
    decoder: &mut Decoder,
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
    match decoder.decode_section_with(id, section, |n, v| out.push((piece(n), piece(v)))) {
        Ok(Decoded::Done(())) => Ok(()),
        Ok(Decoded::Blocked) => Err(H3Error::from(
            shockwave_quic::qpack::QpackError::Decompression("dynamic table reference"),
        )
        .into()),
        Err(e) => Err(H3Error::from(e).into()),
    }
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

fn decode<'a>(
    decoder: &mut Decoder,
    id: u64,
    section: &'a [u8],
    arena: &'a Arena,
) -> Result<HeaderList<'a>, Error> {
    match decoder.decode_section(id, section, arena) {
        Ok(Decoded::Done(list)) => Ok(list),
        // Our table capacity is 0: a section referencing the table is invalid.
        Ok(Decoded::Blocked) => Err(H3Error::from(
            shockwave_quic::qpack::QpackError::Decompression("dynamic table reference"),
        )
        .into()),
        Err(e) => Err(H3Error::from(e).into()),
    }
}

/// Reads the server's unidirectional streams and keeps our control stream open.
async fn background(quic: quinn::Connection, state: Arc<ConnState>, control: quinn::SendStream) {
    let uni = Arc::new(Mutex::new(PeerUniStreams::new(Role::Client)));
    loop {
        let recv = tokio::select! {
            r = quic.accept_uni() => match r {
                Ok(r) => r,
                Err(_) => break,
            },
            _ = quic.closed() => break,
        };
        tokio::spawn(client_uni(quic.clone(), state.clone(), uni.clone(), recv));
    }
    drop(control);
}

async fn client_uni(
    quic: quinn::Connection,
    state: Arc<ConnState>,
    uni: Arc<Mutex<PeerUniStreams>>,
    mut recv: quinn::RecvStream,
) {
    let close = |e: H3Error| quic.close(varint(e.code()), e.code().name().as_bytes());
    let mut header = h3stream::UniStreamHeaderReader::new();
    let (kind, mut rest) = loop {
        match recv.read_chunk(64 * 1024, true).await {
            Ok(Some(c)) => {
                let (n, kind) = header.decode(&c.bytes);
                if let Some(kind) = kind {
                    break (kind, c.bytes.slice(n..));
                }
            }
            _ => return,
        }
    };
    let opened = uni.lock().unwrap_or_else(|e| e.into_inner()).opened(kind);
    if let Err(e) = opened {
        return close(e);
    }
    let mut control = ControlStream::new(Role::Client);
    let mut qpack = Decoder::new(DecoderConfig {
        max_table_capacity: 0,
        max_blocked_streams: 0,
        ..DecoderConfig::default()
    });
    let mut encoder = Encoder::new();
    loop {
        let result = match kind {
            UniStreamKind::Control => control.recv_all(&rest, |ev| match ev {
                ControlEvent::Settings(s) => {
                    *state
                        .peer_settings
                        .lock()
                        .unwrap_or_else(|e| e.into_inner()) = Some(s)
                }
                ControlEvent::GoAway(id) => {
                    *state.goaway.lock().unwrap_or_else(|e| e.into_inner()) = Some(id)
                }
                _ => {}
            }),
            UniStreamKind::QpackEncoder => qpack.feed_encoder_stream(&rest).map_err(H3Error::from),
            UniStreamKind::QpackDecoder => {
                encoder.feed_decoder_stream(&rest).map_err(H3Error::from)
            }
            // We never send MAX_PUSH_ID: a push stream is H3_ID_ERROR (RFC 9114 §4.6).
            UniStreamKind::Push { push_id } => Err(H3Error::IdError {
                id: push_id,
                reason: "push stream without MAX_PUSH_ID",
            }),
            UniStreamKind::Unknown(_) => {
                let _ = recv.stop(varint(ErrorCode::StreamCreationError));
                return;
            }
        };
        if let Err(e) = result {
            return close(e);
        }
        match recv.read_chunk(64 * 1024, true).await {
            Ok(Some(c)) => rest = c.bytes,
            Ok(None) | Err(quinn::ReadError::Reset(_)) => {
                if kind.is_critical() {
                    close(H3Error::ClosedCriticalStream { stream: "critical" });
                }
                return;
            }
            Err(_) => return,
        }
    }
}

/// A QUIC client endpoint (an unspecified-address UDP socket, IPv6 if available) whose
/// default configuration speaks HTTP/3 with `tls` (ALPN replaced by `h3`) and `config`'s
/// transport limits. Must be called inside a tokio runtime.
pub(crate) fn client_endpoint(
    tls: &rustls::ClientConfig,
    config: &Http3Config,
) -> Result<quinn::Endpoint, Error> {
    let mut endpoint = quinn::Endpoint::client((std::net::Ipv6Addr::UNSPECIFIED, 0).into())
        .or_else(|_| quinn::Endpoint::client((std::net::Ipv4Addr::UNSPECIFIED, 0).into()))
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
