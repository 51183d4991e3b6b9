//! The arena API: the response head and body are allocated in the caller's arena.

use std::fmt;
use std::time::Duration;

use http::{Method, StatusCode, Version};
use shockwave_arena::{Arena, ArenaError};
use shockwave_http11::{BodyDecoder, BodyFraming, Status};

use super::error::{ClosedDuring, Error, Result};
use super::h1::{Http1Conn, BODY_BUF_MAX};
#[cfg(feature = "http2")]
use super::h2::H2Stream;
use super::redirect::{self, Follow};
use super::target::Target;
use super::{with_deadline, Client, Exchange, OutBody, Outgoing};
#[cfg(feature = "http2")]
use crate::http2::RequestHead as H2Head;

/// A request for [`Client::send_in`], borrowing everything it sends (no allocation).
///
/// `headers` must not contain `Host`, `Content-Length` or `Transfer-Encoding`: the
/// client writes those from the URL and the body (a request carrying them fails with
/// [`Error::InvalidHeader`]).
#[derive(Debug, Clone)]
pub struct ArenaRequest<'r> {
    /// The method.
    pub method: Method,
    /// An absolute `http://` or `https://` URL.
    pub url: &'r str,
    /// Extra header fields, in order.
    pub headers: &'r [(&'r [u8], &'r [u8])],
    /// The body (empty for none).
    pub body: &'r [u8],
    /// Overrides the client's request timeout.
    pub timeout: Option<Duration>,
    /// The HTTP version asked for (see [`ArenaRequest::version`]); `None`: the client's
    /// configuration decides.
    pub version: Option<Version>,
}

impl<'r> ArenaRequest<'r> {
    /// A `GET` of `url`.
    pub fn get(url: &'r str) -> Self {
        ArenaRequest {
            method: Method::GET,
            url,
            headers: &[],
            body: &[],
            timeout: None,
            version: None,
        }
    }

    /// A `POST` of `body` to `url`.
    pub fn post(url: &'r str, body: &'r [u8]) -> Self {
        ArenaRequest {
            method: Method::POST,
            body,
            ..ArenaRequest::get(url)
        }
    }

    /// Sets the method.
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// Sets the extra header fields.
    pub fn headers(mut self, headers: &'r [(&'r [u8], &'r [u8])]) -> Self {
        self.headers = headers;
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: &'r [u8]) -> Self {
        self.body = body;
        self
    }

    /// Sets a per-request timeout.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// Asks for an HTTP version (`HTTP_3`, `HTTP_2` or `HTTP_11`), as
    /// [`RequestBuilder::version`](super::RequestBuilder::version).
    pub fn version(mut self, version: Version) -> Self {
        self.version = Some(version);
        self
    }
}

/// Header (or trailer) fields living in an arena, in received order. Lookups are ASCII
/// case-insensitive.
#[derive(Clone, Copy, Default)]
pub struct ArenaFields<'a> {
    pairs: &'a [(&'a [u8], &'a [u8])],
}

impl<'a> ArenaFields<'a> {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The first value of the field called `name`.
    pub fn get(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.pairs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// True if a field called `name` is present.
    pub fn contains(&self, name: &[u8]) -> bool {
        self.get(name).is_some()
    }

    /// Every value of the field called `name`, in order.
    pub fn get_all<'n>(&self, name: &'n [u8]) -> impl Iterator<Item = &'a [u8]> + 'n
    where
        'a: 'n,
    {
        self.pairs
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The field at `index`.
    pub fn get_index(&self, index: usize) -> Option<(&'a [u8], &'a [u8])> {
        self.pairs.get(index).copied()
    }

    /// Every `(name, value)` pair in order.
    pub fn iter(&self) -> std::iter::Copied<std::slice::Iter<'a, (&'a [u8], &'a [u8])>> {
        self.pairs.iter().copied()
    }

    /// The pairs as a slice.
    pub fn as_slice(&self) -> &'a [(&'a [u8], &'a [u8])] {
        self.pairs
    }
}

impl<'a> IntoIterator for ArenaFields<'a> {
    type Item = (&'a [u8], &'a [u8]);
    type IntoIter = std::iter::Copied<std::slice::Iter<'a, (&'a [u8], &'a [u8])>>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl fmt::Debug for ArenaFields<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            }))
            .finish()
    }
}

/// Collects `pairs` (already in the arena) into an exact-size arena slice.
fn pairs_in<'a>(
    arena: &'a Arena,
    n: usize,
    pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>,
) -> Result<ArenaFields<'a>> {
    let mut v = shockwave_arena::Vec::new_in(arena.bump());
    v.try_reserve_exact(n)
        .map_err(|_| limit_error(arena, n * std::mem::size_of::<(&[u8], &[u8])>()))?;
    v.extend(pairs);
    Ok(ArenaFields {
        pairs: v.into_bump_slice(),
    })
}

/// Copies `fields` (names, values and the pair slice) into the arena.
fn copy_fields_in<'a, 'f, I: Iterator<Item = (&'f [u8], &'f [u8])>>(
    arena: &'a Arena,
    fields: impl Fn() -> I,
) -> Result<ArenaFields<'a>> {
    let (count, bytes) = fields().fold((0usize, 0usize), |(c, b), (n, v)| {
        (c + 1, b + n.len() + v.len())
    });
    let blob: &'a mut [u8] = arena.alloc_zeroed(bytes)?;
    let mut v = shockwave_arena::Vec::new_in(arena.bump());
    v.try_reserve_exact(count)
        .map_err(|_| limit_error(arena, count * std::mem::size_of::<(&[u8], &[u8])>()))?;
    let mut rest: &'a mut [u8] = blob;
    for (n, val) in fields().take(count) {
        let (name_dst, tail) = std::mem::take(&mut rest).split_at_mut(n.len());
        name_dst.copy_from_slice(n);
        let (value_dst, tail) = tail.split_at_mut(val.len());
        value_dst.copy_from_slice(val);
        rest = tail;
        v.push((&*name_dst, &*value_dst));
    }
    Ok(ArenaFields {
        pairs: v.into_bump_slice(),
    })
}

/// A complete response living in an arena: status, headers, body and trailers borrow
/// `'a`. The connection is already back in the pool (or the HTTP/2 stream released)
/// when you get this.
pub struct ArenaResponse<'a> {
    status: StatusCode,
    reason: &'a str,
    version: Version,
    headers: ArenaFields<'a>,
    body: &'a [u8],
    trailers: Option<ArenaFields<'a>>,
}

impl<'a> ArenaResponse<'a> {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The reason phrase as sent (HTTP/1.x), or the canonical one (HTTP/2 and HTTP/3,
    /// which carry none).
    pub fn reason(&self) -> &'a str {
        self.reason
    }

    /// The HTTP version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The first value of header `name` (ASCII case-insensitive).
    pub fn header(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.headers.get(name)
    }

    /// All header fields, in received order (pseudo-headers excluded).
    pub fn headers(&self) -> ArenaFields<'a> {
        self.headers
    }

    /// The whole body (chunk framing removed).
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The body as UTF-8, if it is valid UTF-8.
    pub fn text(&self) -> std::result::Result<&'a str, std::str::Utf8Error> {
        std::str::from_utf8(self.body)
    }

    /// The trailer fields (HTTP/1.1 chunked trailer section, HTTP/2 or HTTP/3 trailing
    /// HEADERS), if the server sent any.
    pub fn trailers(&self) -> Option<ArenaFields<'a>> {
        self.trailers
    }
}

impl fmt::Debug for ArenaResponse<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArenaResponse")
            .field("status", &self.status())
            .field("version", &self.version())
            .field("body_len", &self.body.len())
            .field("trailers", &self.trailers)
            .finish_non_exhaustive()
    }
}

fn check_headers(headers: &[(&[u8], &[u8])]) -> Result<()> {
    for (name, value) in headers {
        let framing = name.eq_ignore_ascii_case(b"host")
            || name.eq_ignore_ascii_case(b"content-length")
            || name.eq_ignore_ascii_case(b"transfer-encoding");
        // RFC 9110 section 5.1 (token) and 5.5 (no CR, LF or NUL in values): anything else
        // would let a caller split the request.
        let bad_name = name.is_empty() || !name.iter().all(|&b| is_tchar(b));
        let bad_value = value.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0);
        if framing || bad_name || bad_value {
            return Err(Error::InvalidHeader {
                name: String::from_utf8_lossy(name).into_owned(),
            });
        }
    }
    Ok(())
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

impl Client {
    /// Sends `req` and reads the whole response into `arena`: status line, headers and
    /// body are allocated there, and the returned [`ArenaResponse`] borrows the arena.
    /// The connection goes back to the pool before this returns.
    ///
    /// With a warm pool (a kept-alive connection) and a warm arena (reset, with a chunk
    /// large enough) a GET makes no heap allocation.
    pub async fn send_in<'a>(
        &self,
        arena: &'a Arena,
        req: ArenaRequest<'_>,
    ) -> Result<ArenaResponse<'a>> {
        check_headers(req.headers)?;
        let deadline = self.deadline(req.timeout);
        with_deadline(deadline, self.send_in_inner(arena, &req)).await
    }

    async fn send_in_inner<'a>(
        &self,
        arena: &'a Arena,
        req: &ArenaRequest<'_>,
    ) -> Result<ArenaResponse<'a>> {
        let max_hops = self.config().redirect.max();
        let mut hops = 0;
        let mut url: &str = req.url;
        let mut method = req.method.clone();
        let mut body: &[u8] = req.body;
        let mut strip_sensitive = false;
        loop {
            let target = Target::parse(url)?;
            let filtered;
            let headers: &[(&[u8], &[u8])] = if strip_sensitive {
                filtered = req
                    .headers
                    .iter()
                    .copied()
                    .filter(|(n, _)| !redirect::is_sensitive(n))
                    .collect::<Vec<_>>();
                &filtered
            } else {
                req.headers
            };
            let mut out = Outgoing {
                method: &method,
                target,
                headers,
                body: OutBody::Full(body),
                version: req.version,
            };
            let resp = match self.begin(&mut out).await? {
                Exchange::H1 {
                    slot,
                    mut conn,
                    head_len,
                } => {
                    let head_bytes: &'a [u8] = arena.alloc_bytes(&conn.buffered()[..head_len])?;
                    conn.consume(head_len);
                    let limits = &self.config().limits;
                    let head = match shockwave_http11::parse_response(head_bytes, arena, limits)? {
                        Status::Complete((head, _)) => head,
                        Status::Partial => return Err(Error::MalformedHead),
                    };
                    let framing = head.framing(&method);
                    let reusable =
                        head.keep_alive() && !matches!(framing, BodyFraming::CloseDelimited);
                    let headers = pairs_in(arena, head.headers().len(), head.headers().iter())?;
                    let body_bytes =
                        read_body_into(arena, &mut conn, framing, limits, self.config().max_body)
                            .await?;
                    let trailers = if matches!(framing, BodyFraming::Chunked) {
                        let fields = conn.trailer_fields(limits)?;
                        if fields.clone().next().is_some() {
                            Some(copy_fields_in(arena, || fields.clone())?)
                        } else {
                            None
                        }
                    } else {
                        None
                    };
                    self.finish(slot, conn, reusable);
                    ArenaResponse {
                        status: head.status(),
                        reason: head.reason(),
                        version: head.version(),
                        headers,
                        body: body_bytes,
                        trailers,
                    }
                }
                #[cfg(feature = "http2")]
                Exchange::H2 { mut stream, head } => {
                    read_h2_into(arena, &mut stream, head, &method, self.config().max_body).await?
                }
                #[cfg(feature = "http3")]
                Exchange::H3(conn) => {
                    let mut lowered = Vec::new();
                    let fields = super::multiplexed_fields(out.headers, &mut lowered);
                    // Boxed: kept out of the (HTTP/1.1 and HTTP/2) request future.
                    let r = Box::pin(conn.send_in(
                        arena,
                        super::h3::Http3Request {
                            method: out.method,
                            authority: out.target.authority,
                            path: out.target.path_and_query,
                            headers: &fields,
                            body,
                        },
                    ))
                    .await?;
                    ArenaResponse {
                        status: r.status,
                        reason: r.status.canonical_reason().unwrap_or(""),
                        version: Version::HTTP_3,
                        headers: pairs_in(arena, r.headers.len(), r.headers.iter())?,
                        body: r.body,
                        trailers: match &r.trailers {
                            Some(t) => Some(pairs_in(arena, t.len(), t.iter())?),
                            None => None,
                        },
                    }
                }
            };
            let follow = if max_hops > 0 {
                redirect::follow(resp.status(), &method)
            } else {
                Follow::No
            };
            let location = resp.header(b"location");
            let (Follow::ToGet | Follow::SameMethod, Some(location)) = (follow, location) else {
                return Ok(resp);
            };
            if hops >= max_hops {
                return Err(Error::TooManyRedirects { max: max_hops });
            }
            let next = redirect::resolve(url, location).ok_or(Error::InvalidRedirect)?;
            let next: &'a str = arena.alloc_str(next.as_str())?;
            if !Target::parse(next)?.same_origin(&target) {
                strip_sensitive = true;
            }
            if follow == Follow::ToGet {
                if method != Method::HEAD {
                    method = Method::GET;
                }
                body = &[];
            }
            url = next;
            hops += 1;
        }
    }
}

fn limit_error(arena: &Arena, requested: usize) -> Error {
    Error::Arena(match arena.allocation_limit() {
        Some(limit) => ArenaError::LimitExceeded { limit, requested },
        None => ArenaError::OutOfMemory { requested },
    })
}

/// Reads an HTTP/2 response (head already received) into the arena: the head's fields,
/// the body (sized by `content-length` when given) and the trailers.
#[cfg(feature = "http2")]
async fn read_h2_into<'a>(
    arena: &'a Arena,
    stream: &mut H2Stream,
    head: H2Head,
    method: &Method,
    max_body: u64,
) -> Result<ArenaResponse<'a>> {
    let status = head
        .status()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let headers = copy_fields_in(arena, || head.regular());
    let hint = head.content_length();
    stream.recycle(head);
    let headers = headers?;
    let no_body = *method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if hint.is_some_and(|n| n > max_body) {
        return Err(Error::BodyTooLarge { limit: max_body });
    }
    let mut cap = match hint {
        Some(n) if !no_body => n as usize,
        _ => 16 * 1024,
    }
    .max(1);
    let mut buf: &'a mut [u8] = arena.alloc_zeroed(cap)?;
    let mut filled = 0usize;
    loop {
        if filled == cap {
            if cap as u64 >= max_body {
                // One more read tells whether the body really is larger.
                let mut probe = [0u8; 1];
                if stream.read(&mut probe).await? == 0 {
                    break;
                }
                return Err(Error::BodyTooLarge { limit: max_body });
            }
            let new_cap = (cap * 2).min(max_body as usize).max(cap + 1);
            let bigger = arena.alloc_zeroed(new_cap)?;
            bigger[..filled].copy_from_slice(&buf[..filled]);
            buf = bigger;
            cap = new_cap;
        }
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    let trailers = match stream.take_trailers() {
        Some(t) => {
            let fields = copy_fields_in(arena, || t.iter());
            stream.recycle(t);
            Some(fields?)
        }
        None => None,
    };
    Ok(ArenaResponse {
        status,
        reason: status.canonical_reason().unwrap_or(""),
        version: Version::HTTP_2,
        headers,
        body: &buf[..filled],
        trailers,
    })
}

/// Reads the body described by `framing` into the arena.
async fn read_body_into<'a>(
    arena: &'a Arena,
    conn: &mut Http1Conn,
    framing: BodyFraming,
    limits: &shockwave_http11::Limits,
    max_body: u64,
) -> Result<&'a [u8]> {
    match framing {
        BodyFraming::Empty | BodyFraming::Length(0) => Ok(&[]),
        BodyFraming::Length(n) => {
            if n > max_body {
                return Err(Error::BodyTooLarge { limit: max_body });
            }
            let len = usize::try_from(n).map_err(|_| Error::BodyTooLarge { limit: max_body })?;
            let dst = arena.alloc_zeroed(len)?;
            let mut filled = conn.take_buffered(dst);
            while filled < len {
                let got = conn.read_direct(&mut dst[filled..]).await?;
                if got == 0 {
                    return Err(Error::ConnectionClosed(ClosedDuring::Body));
                }
                filled += got;
            }
            Ok(dst)
        }
        framing => {
            let chunked = matches!(framing, BodyFraming::Chunked);
            let mut decoder = BodyDecoder::new(framing, limits);
            let mut out = shockwave_arena::Vec::new_in(arena.bump());
            loop {
                let step = conn.decode_step(&mut decoder, chunked)?;
                if step.consumed > 0 || step.done {
                    if !step.data.is_empty() {
                        let data = &conn.buffered()[step.data.clone()];
                        if (out.len() + data.len()) as u64 > max_body {
                            return Err(Error::BodyTooLarge { limit: max_body });
                        }
                        out.try_reserve(data.len())
                            .map_err(|_| limit_error(arena, data.len()))?;
                        out.extend_from_slice(data);
                    }
                    let done = step.done;
                    conn.consume(step.consumed);
                    if done {
                        return Ok(out.into_bump_slice());
                    }
                    continue;
                }
                if conn.fill(BODY_BUF_MAX).await? == 0 {
                    decoder
                        .finish_at_eof()
                        .map_err(|_| Error::ConnectionClosed(ClosedDuring::Body))?;
                    return Ok(out.into_bump_slice());
                }
            }
        }
    }
}
