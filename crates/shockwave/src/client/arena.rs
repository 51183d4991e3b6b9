//! The arena API: the response head and body are allocated in the caller's arena.

use std::fmt;
use std::time::Duration;

use http::{Method, StatusCode, Version};
use shockwave_arena::{Arena, ArenaError};
use shockwave_http11::{BodyDecoder, BodyFraming, Headers, Status};

use super::conn::{Http1Conn, BODY_BUF_MAX};
use super::error::{ClosedDuring, Error, Result};
use super::redirect::{self, Follow};
use super::target::Target;
use super::{with_deadline, Client, OutBody, Outgoing};

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
}

/// A complete response living in an arena: status line, headers and body borrow `'a`.
/// The connection is already back in the pool when you get this.
pub struct ArenaResponse<'a> {
    head: shockwave_http11::Response<'a>,
    body: &'a [u8],
}

impl<'a> ArenaResponse<'a> {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.head.status()
    }

    /// The reason phrase as sent.
    pub fn reason(&self) -> &'a str {
        self.head.reason()
    }

    /// The HTTP version.
    pub fn version(&self) -> Version {
        self.head.version()
    }

    /// The first value of header `name` (ASCII case-insensitive).
    pub fn header(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.head.header(name)
    }

    /// All header fields (a view over the arena).
    pub fn headers(&self) -> Headers<'_, 'a> {
        self.head.headers()
    }

    /// The parsed response head.
    pub fn head(&self) -> &shockwave_http11::Response<'a> {
        &self.head
    }

    /// The whole body (chunk framing removed).
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The body as UTF-8, if it is valid UTF-8.
    pub fn text(&self) -> std::result::Result<&'a str, std::str::Utf8Error> {
        std::str::from_utf8(self.body)
    }
}

impl fmt::Debug for ArenaResponse<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArenaResponse")
            .field("status", &self.status())
            .field("version", &self.version())
            .field("body_len", &self.body.len())
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
            };
            let ex = self.begin(&mut out).await?;
            let (slot, mut conn) = (ex.slot, ex.conn);
            let head_bytes: &'a [u8] = arena.alloc_bytes(&conn.buffered()[..ex.head_len])?;
            conn.consume(ex.head_len);
            let limits = &self.config().limits;
            let head = match shockwave_http11::parse_response(head_bytes, arena, limits)? {
                Status::Complete((head, _)) => head,
                Status::Partial => return Err(Error::MalformedHead),
            };
            let framing = head.framing(&method);
            let reusable = head.keep_alive() && !matches!(framing, BodyFraming::CloseDelimited);
            let body_bytes =
                read_body_into(arena, &mut conn, framing, limits, self.config().max_body).await?;
            self.finish(slot, conn, reusable);

            let follow = if max_hops > 0 {
                redirect::follow(head.status(), &method)
            } else {
                Follow::No
            };
            let location = head.header(b"location");
            let (Follow::ToGet | Follow::SameMethod, Some(location)) = (follow, location) else {
                return Ok(ArenaResponse {
                    head,
                    body: body_bytes,
                });
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
            let mut decoder = BodyDecoder::new(framing, limits);
            let mut out = shockwave_arena::Vec::new_in(arena.bump());
            loop {
                let step = decoder.decode(conn.buffered())?;
                if step.consumed > 0 || step.done {
                    if !step.data.is_empty() {
                        if (out.len() + step.data.len()) as u64 > max_body {
                            return Err(Error::BodyTooLarge { limit: max_body });
                        }
                        out.try_reserve(step.data.len())
                            .map_err(|_| limit_error(arena, step.data.len()))?;
                        out.extend_from_slice(step.data);
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
