//! The owned response: head in an `http::HeaderMap`, body streamed from the connection.

use std::fmt;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use shockwave_http11::{BodyDecoder, BodyFraming};

use super::decompress::Decoding;
use super::error::{ClosedDuring, Error, Result, TimeoutKind};
use super::h1::Http1Conn;
#[cfg(feature = "http2")]
use super::h2::H2Stream;
use super::pool::Checkout;
use super::request_url::RequestUrl;
use super::{AllocStrategy, Client};
#[cfg(feature = "http2")]
use crate::http2::RequestHead as H2Head;

/// A response head copied out of the connection buffer.
pub(crate) struct OwnedHead {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
    pub framing: BodyFraming,
    pub keep_alive: bool,
}

/// Parses the head buffered on `conn` and copies it into owned types.
pub(crate) fn parse_owned_head(
    conn: &mut Http1Conn,
    head_len: usize,
    method: &Method,
    limits: &shockwave_http11::Limits,
    alloc: AllocStrategy,
) -> Result<OwnedHead> {
    // One copy of the head; every header value is a zero-copy slice of it.
    let raw = Bytes::copy_from_slice(&conn.buffered()[..head_len]);
    let base = conn.buffered().as_ptr() as usize;
    let head = conn.with_head(head_len, alloc, limits, |resp| {
        let mut headers = HeaderMap::with_capacity(resp.headers().len());
        for (name, value) in resp.headers().iter() {
            // The codec validated both; a field `http` still refuses is skipped.
            let value = if value.is_empty() {
                HeaderValue::from_static("")
            } else {
                // Values borrow the head buffer; find the same bytes in `raw` by offset.
                let at = (value.as_ptr() as usize).wrapping_sub(base);
                let range = at..at.saturating_add(value.len());
                let shared = match raw.get(range.clone()) {
                    Some(same) if same == value => raw.slice(range),
                    _ => Bytes::copy_from_slice(value),
                };
                match HeaderValue::from_maybe_shared(shared) {
                    Ok(v) => v,
                    Err(_) => continue,
                }
            };
            if let Ok(n) = HeaderName::from_bytes(name) {
                headers.append(n, value);
            }
        }
        OwnedHead {
            status: resp.status(),
            version: resp.version(),
            headers,
            framing: resp.framing(method),
            keep_alive: resp.keep_alive(),
        }
    })?;
    conn.consume(head_len);
    Ok(head)
}

/// A response whose head is owned and whose body is read from the connection on demand.
///
/// Read the body with [`Response::chunk`] (streaming), [`Response::bytes`] or
/// [`Response::text`]. When the body has been read completely the connection goes back
/// to the pool (HTTP/1.1) or the stream is released (HTTP/2); dropping the response
/// earlier closes the connection (HTTP/1.1) or resets the stream (HTTP/2). Over HTTP/3
/// the body is received whole before the response is returned.
pub struct Response {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    url: RequestUrl,
    body: BodyReader,
}

struct Live {
    client: Client,
    slot: Checkout,
    conn: Box<Http1Conn>,
    decoder: BodyDecoder,
    reusable: bool,
    chunked: bool,
}

/// Where the body comes from.
enum Source {
    /// An HTTP/1.1 connection, checked out until the body ends.
    H1(Live),
    /// An HTTP/2 stream; `buf` is the spare room the next pieces are read into, `left`
    /// what `content-length` says is still to come.
    #[cfg(feature = "http2")]
    H2 {
        stream: H2Stream,
        buf: BytesMut,
        left: Option<u64>,
    },
    /// A body received whole (HTTP/3).
    #[cfg(feature = "http3")]
    Buffered(Bytes),
}

/// The body half of a [`Response`]: the connection and the decoder state.
struct BodyReader {
    live: Option<Source>,
    deadline: Option<(Instant, Duration)>,
    received: u64,
    max_body: u64,
    trailers: Option<HeaderMap>,
    /// The content decoder (automatic decompression), if any.
    decoding: Decoding,
}

/// HTTP/2 body pieces are read into buffers of this size.
#[cfg(feature = "http2")]
const H2_READ_BUF: usize = 32 * 1024;

/// Copies header fields into an `HeaderMap` (fields `http` refuses are skipped; the
/// protocol layers validated them already).
pub(crate) fn header_map<'f>(fields: impl Iterator<Item = (&'f [u8], &'f [u8])>) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (n, v) in fields {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(n), HeaderValue::from_bytes(v)) {
            map.append(n, v);
        }
    }
    map
}

impl Response {
    pub(crate) fn new(
        client: &Client,
        slot: Checkout,
        conn: Box<Http1Conn>,
        head: OwnedHead,
        url: RequestUrl,
        deadline: Option<(Instant, Duration)>,
    ) -> Response {
        let limits = &client.config().limits;
        let reusable = head.keep_alive && !matches!(head.framing, BodyFraming::CloseDelimited);
        let empty = matches!(head.framing, BodyFraming::Empty | BodyFraming::Length(0));
        let live = if empty {
            client.finish(slot, conn, reusable);
            None
        } else {
            Some(Source::H1(Live {
                client: client.clone(),
                slot,
                conn,
                decoder: BodyDecoder::new(head.framing, limits),
                reusable,
                chunked: matches!(head.framing, BodyFraming::Chunked),
            }))
        };
        Response {
            status: head.status,
            version: head.version,
            headers: head.headers,
            url,
            body: BodyReader {
                live,
                deadline,
                received: 0,
                max_body: client.config().max_body,
                trailers: None,
                decoding: Decoding::default(),
            },
        }
    }

    /// A response on an HTTP/2 stream whose head has arrived.
    #[cfg(feature = "http2")]
    pub(crate) fn h2(
        client: &Client,
        stream: H2Stream,
        head: H2Head,
        method: &Method,
        url: RequestUrl,
        deadline: Option<(Instant, Duration)>,
    ) -> Response {
        let status = head
            .status()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::OK);
        let headers = header_map(head.regular());
        let left = head.content_length();
        // RFC 9110 §6.4.1: no content for HEAD, 204 and 304 (END_STREAM follows anyway).
        let ended = head.end_stream();
        stream.recycle(head);
        let no_body = *method == Method::HEAD
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED;
        let live = (!(ended && no_body)).then(|| Source::H2 {
            stream,
            buf: BytesMut::new(),
            left,
        });
        Response {
            status,
            version: Version::HTTP_2,
            headers,
            url,
            body: BodyReader {
                live,
                deadline,
                received: 0,
                max_body: client.config().max_body,
                trailers: None,
                decoding: Decoding::default(),
            },
        }
    }

    /// A response received whole (HTTP/3).
    #[cfg(feature = "http3")]
    pub(crate) fn buffered(
        client: &Client,
        resp: super::h3::Http3Response,
        url: RequestUrl,
    ) -> Response {
        Response {
            status: resp.status,
            version: Version::HTTP_3,
            headers: resp.headers,
            url,
            body: BodyReader {
                live: (!resp.body.is_empty()).then_some(Source::Buffered(resp.body)),
                deadline: None,
                received: 0,
                max_body: client.config().max_body,
                trailers: resp.trailers,
                decoding: Decoding::default(),
            },
        }
    }

    /// Decodes the body as it is read when its `Content-Encoding` is one the client
    /// offered (see `ClientBuilder::decompress`); bodiless responses are left alone.
    pub(crate) fn decode_content(&mut self, settings: &super::decompress::Settings) {
        if self.body.live.is_some() {
            let max = self.body.max_body;
            self.body.decoding = Decoding::for_response(&mut self.headers, settings, max);
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The HTTP version of the response.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The first value of header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        self.headers.get(name)
    }

    /// The trailer fields (HTTP/1.1 chunked trailer section, HTTP/2 or HTTP/3 trailing
    /// HEADERS), once the body has been read to its end with [`Response::chunk`];
    /// `None` before that, or if the server sent none. [`Response::bytes_and_trailers`]
    /// returns both at once.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.body.trailers.as_ref()
    }

    /// The final URL (after redirects).
    pub fn url(&self) -> &url::Url {
        self.url.url()
    }

    /// The URL, the rest dropped (the body, if unread, closes its connection).
    pub(crate) fn into_url(self) -> RequestUrl {
        self.url
    }

    /// The `Content-Length`, if the response declared one.
    pub fn content_length(&self) -> Option<u64> {
        self.headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    }

    /// The next piece of the body, or `None` at its end. Pieces are as they arrived
    /// (chunk framing removed).
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        let deadline = self.body.deadline;
        super::with_deadline(deadline, self.body.next_chunk()).await
    }

    /// Reads the whole body (at most the client's `max_response_body_size`).
    pub async fn bytes(mut self) -> Result<Bytes> {
        self.read_all().await
    }

    /// Reads the whole body, then returns it with the trailer fields (if any).
    pub async fn bytes_and_trailers(mut self) -> Result<(Bytes, Option<HeaderMap>)> {
        let body = self.read_all().await?;
        Ok((body, self.body.trailers.take()))
    }

    async fn read_all(&mut self) -> Result<Bytes> {
        let max = self.body.max_body;
        let hint = self.content_length().unwrap_or(0);
        if hint > max {
            return Err(Error::BodyTooLarge { limit: max });
        }
        let first = match self.chunk().await? {
            None => return Ok(Bytes::new()),
            Some(b) => b,
        };
        if first.len() as u64 > max {
            return Err(Error::BodyTooLarge { limit: max });
        }
        if first.len() as u64 == hint || self.body.live.is_none() {
            // Often the whole body arrives in one piece.
            if self.chunk().await?.is_none() {
                return Ok(first);
            }
            return Err(Error::Protocol(shockwave_http11::Error::IncompleteBody));
        }
        let mut all = BytesMut::with_capacity(hint.max(first.len() as u64 * 2).min(max) as usize);
        all.extend_from_slice(&first);
        while let Some(piece) = self.chunk().await? {
            if (all.len() + piece.len()) as u64 > max {
                return Err(Error::BodyTooLarge { limit: max });
            }
            all.extend_from_slice(&piece);
        }
        Ok(all.freeze())
    }

    /// Reads the whole body as UTF-8 text (invalid sequences replaced).
    pub async fn text(self) -> Result<String> {
        let bytes = self.bytes().await?;
        Ok(match String::from_utf8(bytes.to_vec()) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// Reads the whole body and deserializes it from JSON (at most the client's
    /// `max_response_body_size`). The `Content-Type` is not checked. Needs the `json`
    /// feature; a body that is not valid JSON for `T` is an [`Error::Decode`].
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), shockwave::client::Error> {
    /// #[derive(serde::Deserialize)]
    /// struct User {
    ///     name: String,
    /// }
    /// let client = shockwave::client::Client::new();
    /// let user: User = client
    ///     .get("http://127.0.0.1:8080/users/1")
    ///     .send()
    ///     .await?
    ///     .error_for_status()?
    ///     .json()
    ///     .await?;
    /// println!("{}", user.name);
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "json")]
    pub async fn json<T: serde::de::DeserializeOwned>(self) -> Result<T> {
        let body = self.bytes().await?;
        serde_json::from_slice(&body).map_err(|e| Error::Decode(Box::new(e)))
    }

    /// Turns a client (4xx) or server (5xx) error status into an [`Error::Status`]
    /// (`is_status()`, `status()`), like reqwest; other responses are returned as
    /// they are. The error drops the response (and its body).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), shockwave::client::Error> {
    /// let client = shockwave::client::Client::new();
    /// match client.get("http://127.0.0.1:8080/missing").send().await?.error_for_status() {
    ///     Ok(resp) => println!("{}", resp.text().await?),
    ///     Err(e) if e.status() == Some(http::StatusCode::NOT_FOUND) => println!("not there"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn error_for_status(self) -> Result<Response> {
        match self.status_error() {
            Some(e) => Err(e),
            None => Ok(self),
        }
    }

    /// Like [`Response::error_for_status`], but borrows the response (its body can
    /// still be read after an error, e.g. for the server's error message).
    pub fn error_for_status_ref(&self) -> Result<&Response> {
        match self.status_error() {
            Some(e) => Err(e),
            None => Ok(self),
        }
    }

    fn status_error(&self) -> Option<Error> {
        (self.status.is_client_error() || self.status.is_server_error()).then(|| Error::Status {
            status: self.status,
            url: Box::new(self.url.url().clone()),
        })
    }

    /// Converts into an `http::Response` whose body is this response's body reader.
    pub fn into_http(self) -> http::Response<ResponseBody> {
        let mut builder = http::Response::builder()
            .status(self.status)
            .version(self.version);
        if let Some(h) = builder.headers_mut() {
            *h = self.headers;
        }
        builder
            .body(ResponseBody { inner: self.body })
            .unwrap_or_else(|_| http::Response::new(ResponseBody::empty()))
    }
}

/// A response body detached from its head (see [`Response::into_http`]).
pub struct ResponseBody {
    inner: BodyReader,
}

impl ResponseBody {
    fn empty() -> ResponseBody {
        ResponseBody {
            inner: BodyReader {
                live: None,
                deadline: None,
                received: 0,
                max_body: 0,
                trailers: None,
                decoding: Decoding::default(),
            },
        }
    }

    /// The next piece of the body, or `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        let deadline = self.inner.deadline;
        super::with_deadline(deadline, self.inner.next_chunk()).await
    }

    /// The trailer fields, once [`ResponseBody::chunk`] returned `None`.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.inner.trailers.as_ref()
    }
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody")
            .field("done", &self.inner.live.is_none())
            .finish()
    }
}

impl BodyReader {
    /// The next piece of the body, decoded when a content decoder is installed.
    async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        if !self.decoding.is_active() {
            return self.next_wire_chunk().await;
        }
        loop {
            let Some(piece) = self.next_wire_chunk().await? else {
                let tail = self.decoding.finish()?;
                return Ok((!tail.is_empty()).then_some(tail));
            };
            let mut out = match self.decoding.decode(&piece) {
                Ok(out) => out,
                Err(e) => {
                    self.live = None; // closes the connection
                    return Err(e);
                }
            };
            if self.live.is_none() {
                // The body as received has ended: finish now, so that "no source left"
                // keeps meaning "no more pieces" for the callers.
                let tail = self.decoding.finish()?;
                if !tail.is_empty() {
                    let mut all = BytesMut::with_capacity(out.len() + tail.len());
                    all.extend_from_slice(&out);
                    all.extend_from_slice(&tail);
                    out = all.freeze();
                }
            }
            if !out.is_empty() {
                return Ok(Some(out));
            }
            if self.live.is_none() {
                return Ok(None);
            }
        }
    }

    /// The next piece of the body as received (chunk framing removed).
    async fn next_wire_chunk(&mut self) -> Result<Option<Bytes>> {
        loop {
            let live = match self.live.as_mut() {
                None => return Ok(None),
                Some(Source::H1(live)) => live,
                #[cfg(feature = "http3")]
                Some(Source::Buffered(_)) => {
                    let Some(Source::Buffered(b)) = self.live.take() else {
                        return Ok(None);
                    };
                    self.received += b.len() as u64;
                    return Ok(Some(b));
                }
                #[cfg(feature = "http2")]
                Some(Source::H2 { stream, buf, left }) => {
                    if *left == Some(0) {
                        // All declared bytes are in: only END_STREAM (and maybe the
                        // trailers) to wait for; no buffer needed.
                        let mut probe = [0u8; 1];
                        let n = match stream.read(&mut probe).await {
                            Ok(n) => n,
                            Err(e) => {
                                self.live = None;
                                return Err(e);
                            }
                        };
                        if n > 0 {
                            *left = None;
                            self.received += 1;
                            return Ok(Some(Bytes::copy_from_slice(&probe)));
                        }
                        if let Some(t) = stream.take_trailers() {
                            self.trailers = Some(header_map(t.iter()));
                            stream.recycle(t);
                        }
                        self.live = None;
                        return Ok(None);
                    }
                    if buf.capacity() < 4096 {
                        // Sized to what is expected (small bodies get small buffers).
                        let want = match *left {
                            Some(n) => n.max(1) as usize,
                            None => stream.buffered().max(4096),
                        };
                        let cap = want.min(H2_READ_BUF);
                        if buf.capacity() < cap {
                            *buf = BytesMut::with_capacity(cap);
                        }
                    }
                    let room = buf.capacity();
                    buf.resize(room, 0);
                    let n = match stream.read(&mut buf[..]).await {
                        Ok(n) => n,
                        Err(e) => {
                            self.live = None; // resets the stream
                            return Err(e);
                        }
                    };
                    if n == 0 {
                        if let Some(t) = stream.take_trailers() {
                            self.trailers = Some(header_map(t.iter()));
                            stream.recycle(t);
                        }
                        self.live = None;
                        return Ok(None);
                    }
                    let piece = buf.split_to(n).freeze();
                    buf.clear();
                    if let Some(l) = left.as_mut() {
                        *l = l.saturating_sub(n as u64);
                    }
                    self.received += n as u64;
                    return Ok(Some(piece));
                }
            };
            let chunked = live.chunked;
            let step = match live.conn.decode_step(&mut live.decoder, chunked) {
                Ok(c) => c,
                Err(e) => {
                    self.live = None; // close the connection
                    return Err(e.into());
                }
            };
            if step.consumed > 0 || step.done {
                let data = (!step.data.is_empty())
                    .then(|| Bytes::copy_from_slice(&live.conn.buffered()[step.data.clone()]));
                live.conn.consume(step.consumed);
                if step.done {
                    if chunked {
                        let limits = &live.client.config().limits;
                        let fields = match live.conn.trailer_fields(limits) {
                            Ok(fields) => fields,
                            Err(e) => {
                                self.live = None; // close the connection
                                return Err(e);
                            }
                        };
                        let map = header_map(fields);
                        if !map.is_empty() {
                            self.trailers = Some(map);
                        }
                    }
                    if let Some(Source::H1(l)) = self.live.take() {
                        l.client.finish(l.slot, l.conn, l.reusable);
                    }
                }
                if let Some(d) = data {
                    self.received += d.len() as u64;
                    return Ok(Some(d));
                }
                continue;
            }
            // Need more bytes.
            let n = match live.conn.fill(super::h1::BODY_BUF_MAX).await {
                Ok(n) => n,
                Err(e) => {
                    self.live = None;
                    return Err(e);
                }
            };
            if n == 0 {
                let r = live.decoder.finish_at_eof();
                self.live = None;
                return match r {
                    Ok(()) => Ok(None),
                    Err(_) => Err(Error::ConnectionClosed(ClosedDuring::Body)),
                };
            }
        }
    }
}

impl Drop for BodyReader {
    /// A response dropped before its body was read keeps its connection if the rest of
    /// the body is already buffered (common for small bodies); otherwise it is closed.
    fn drop(&mut self) {
        let Some(Source::H1(mut live)) = self.live.take() else {
            return;
        };
        loop {
            match live.decoder.decode(live.conn.buffered()) {
                Ok(c) if c.done => {
                    live.conn.consume(c.consumed);
                    live.client.finish(live.slot, live.conn, live.reusable);
                    return;
                }
                Ok(c) if c.consumed > 0 => live.conn.consume(c.consumed),
                _ => return,
            }
        }
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("url", &self.url.as_str())
            .field("status", &self.status)
            .field("version", &self.version)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

#[allow(dead_code)]
fn _assert_send() {
    fn is_send<T: Send>() {}
    is_send::<Response>();
    let _ = TimeoutKind::Request;
}
