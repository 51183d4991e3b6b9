//! The owned response: head in an `http::HeaderMap`, body streamed from the connection.

use std::fmt;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use shockwave_http11::{BodyDecoder, BodyFraming};

use super::conn::Http1Conn;
use super::error::{ClosedDuring, Error, Result, TimeoutKind};
use super::pool::Checkout;
use super::{AllocStrategy, Client};

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
/// to the pool; dropping the response earlier closes it.
pub struct Response {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    url: url::Url,
    body: BodyReader,
}

struct Live {
    client: Client,
    slot: Checkout,
    conn: Box<Http1Conn>,
    decoder: BodyDecoder,
    reusable: bool,
}

/// The body half of a [`Response`]: the connection and the decoder state.
struct BodyReader {
    live: Option<Live>,
    deadline: Option<(Instant, Duration)>,
    received: u64,
    max_body: u64,
}

impl Response {
    pub(crate) fn new(
        client: &Client,
        slot: Checkout,
        conn: Box<Http1Conn>,
        head: OwnedHead,
        url: url::Url,
        deadline: Option<(Instant, Duration)>,
    ) -> Response {
        let limits = &client.config().limits;
        let reusable = head.keep_alive && !matches!(head.framing, BodyFraming::CloseDelimited);
        let empty = matches!(head.framing, BodyFraming::Empty | BodyFraming::Length(0));
        let live = if empty {
            client.finish(slot, conn, reusable);
            None
        } else {
            Some(Live {
                client: client.clone(),
                slot,
                conn,
                decoder: BodyDecoder::new(head.framing, limits),
                reusable,
            })
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
            },
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

    /// The final URL (after redirects).
    pub fn url(&self) -> &url::Url {
        &self.url
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
        let max = self.body.max_body;
        let hint = self.content_length().unwrap_or(0);
        if hint > max {
            return Err(Error::BodyTooLarge { limit: max });
        }
        let first = match self.chunk().await? {
            None => return Ok(Bytes::new()),
            Some(b) => b,
        };
        if first.len() as u64 == hint || self.body.live.is_none() {
            // Often the whole body arrives in one piece.
            if self.chunk().await?.is_none() {
                return Ok(first);
            }
            return Err(Error::Protocol(shockwave_http11::Error::IncompleteBody));
        }
        let mut all = BytesMut::with_capacity(hint.max(first.len() as u64 * 2) as usize);
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
            },
        }
    }

    /// The next piece of the body, or `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        let deadline = self.inner.deadline;
        super::with_deadline(deadline, self.inner.next_chunk()).await
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
    async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        loop {
            let Some(live) = self.live.as_mut() else {
                return Ok(None);
            };
            let step = live.decoder.decode(live.conn.buffered());
            let chunk = match step {
                Ok(c) => c,
                Err(e) => {
                    self.live = None; // close the connection
                    return Err(e.into());
                }
            };
            if chunk.consumed > 0 || chunk.done {
                let data = (!chunk.data.is_empty()).then(|| Bytes::copy_from_slice(chunk.data));
                let (consumed, done) = (chunk.consumed, chunk.done);
                live.conn.consume(consumed);
                if done {
                    if let Some(l) = self.live.take() {
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
            let n = match live.conn.fill(super::conn::BODY_BUF_MAX).await {
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
        let Some(mut live) = self.live.take() else {
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
