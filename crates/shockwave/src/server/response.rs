//! The handler's answer: [`Response<'a>`] and its [`ResponseBody<'a>`].

use std::fmt;
use std::io;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;
use http::StatusCode;

/// Response header fields kept inline in a [`Response`] (more go through
/// [`Response::headers_slice`]).
pub const RESPONSE_INLINE_HEADERS: usize = 8;

/// A streamed response body: chunks produced on the worker (need not be `Send`).
/// HTTP/1.1 sends it with chunked transfer coding.
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, io::Error>>>>;

/// The body of a [`Response`].
pub enum ResponseBody<'a> {
    /// No body (`content-length: 0`).
    Empty,
    /// Bytes borrowed for the request's lifetime: `'static` data or data in the request's
    /// arena. Copied into the connection's write buffer; never allocates.
    Slice(&'a [u8]),
    /// Reference-counted heap bytes (the owned API uses this).
    Bytes(Bytes),
    /// A region of a file, sent with a known length.
    File(FileBody),
    /// A stream of chunks, sent with chunked transfer coding (HTTP/1.1).
    Stream(BodyStream),
}

impl ResponseBody<'_> {
    /// The body's length when it is known up front.
    pub fn len(&self) -> Option<u64> {
        match self {
            ResponseBody::Empty => Some(0),
            ResponseBody::Slice(s) => Some(s.len() as u64),
            ResponseBody::Bytes(b) => Some(b.len() as u64),
            ResponseBody::File(f) => Some(f.len),
            ResponseBody::Stream(_) => None,
        }
    }

    /// True for an empty body.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
}

impl fmt::Debug for ResponseBody<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseBody::Empty => f.write_str("Empty"),
            ResponseBody::Slice(s) => write!(f, "Slice({} bytes)", s.len()),
            ResponseBody::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            ResponseBody::File(file) => write!(f, "File({} bytes at {})", file.len, file.offset),
            ResponseBody::Stream(_) => f.write_str("Stream"),
        }
    }
}

impl<'a> From<&'a [u8]> for ResponseBody<'a> {
    fn from(s: &'a [u8]) -> Self {
        ResponseBody::Slice(s)
    }
}
impl<'a> From<&'a str> for ResponseBody<'a> {
    fn from(s: &'a str) -> Self {
        ResponseBody::Slice(s.as_bytes())
    }
}
impl<'a, const N: usize> From<&'a [u8; N]> for ResponseBody<'a> {
    fn from(s: &'a [u8; N]) -> Self {
        ResponseBody::Slice(s)
    }
}
impl From<Bytes> for ResponseBody<'_> {
    fn from(b: Bytes) -> Self {
        ResponseBody::Bytes(b)
    }
}
impl From<FileBody> for ResponseBody<'_> {
    fn from(f: FileBody) -> Self {
        ResponseBody::File(f)
    }
}

/// A region of an open file to send as a response body.
#[derive(Debug)]
pub struct FileBody {
    /// The open file.
    pub file: std::fs::File,
    /// Where the region starts.
    pub offset: u64,
    /// How many bytes to send.
    pub len: u64,
}

impl FileBody {
    /// The whole file.
    pub fn new(file: std::fs::File) -> io::Result<FileBody> {
        let len = file.metadata()?.len();
        Ok(FileBody {
            file,
            offset: 0,
            len,
        })
    }

    /// `len` bytes starting at `offset`.
    pub fn range(file: std::fs::File, offset: u64, len: u64) -> FileBody {
        FileBody { file, offset, len }
    }
}

/// A response: status, header fields and body, borrowing the request's lifetime `'a`
/// (so it may point into the request's arena or at the request itself).
///
/// The server adds `date`, `content-length` or `transfer-encoding: chunked`, and
/// `connection` as needed: header fields with those names set here are ignored, except that
/// `connection: close` is honoured.
///
/// ```
/// use shockwave::server::Response;
///
/// let r = Response::text("Hello, World!");
/// assert_eq!(r.status(), 200);
/// let r = Response::new(http::StatusCode::CREATED)
///     .header("location", "/things/1")
///     .body("created");
/// assert_eq!(r.header_fields().count(), 1);
/// ```
#[must_use]
pub struct Response<'a> {
    pub(crate) status: StatusCode,
    inline: [(&'a [u8], &'a [u8]); RESPONSE_INLINE_HEADERS],
    inline_len: usize,
    extra: &'a [(&'a [u8], &'a [u8])],
    pub(crate) overflow: bool,
    pub(crate) body: ResponseBody<'a>,
}

impl fmt::Debug for Response<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.header_fields().count())
            .field("body", &self.body)
            .finish()
    }
}

impl<'a> Response<'a> {
    /// An empty response with this status.
    pub fn new(status: StatusCode) -> Self {
        Response {
            status,
            inline: [(&[][..], &[][..]); RESPONSE_INLINE_HEADERS],
            inline_len: 0,
            extra: &[],
            overflow: false,
            body: ResponseBody::Empty,
        }
    }

    /// `200 OK` with an empty body.
    pub fn ok() -> Self {
        Self::new(StatusCode::OK)
    }

    /// `200 OK`, `content-type: text/plain; charset=utf-8`.
    pub fn text(body: &'a str) -> Self {
        Self::ok()
            .header("content-type", "text/plain; charset=utf-8")
            .body(body)
    }

    /// `200 OK`, `content-type: application/json`.
    pub fn json(body: &'a str) -> Self {
        Self::ok()
            .header("content-type", "application/json")
            .body(body)
    }

    /// An empty response with this status code (invalid codes become 500).
    pub fn status_code(code: u16) -> Self {
        Self::new(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
    }

    /// Replaces the status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Adds a header field. Up to [`RESPONSE_INLINE_HEADERS`] fit inline; past that the
    /// response becomes a 500 (use [`Response::headers_slice`] for long lists).
    pub fn header(
        mut self,
        name: &'a (impl AsRef<[u8]> + ?Sized),
        value: &'a (impl AsRef<[u8]> + ?Sized),
    ) -> Self {
        self.push_header(name.as_ref(), value.as_ref());
        self
    }

    /// Adds a header field in place (see [`Response::header`]).
    pub fn push_header(&mut self, name: &'a [u8], value: &'a [u8]) {
        match self.inline.get_mut(self.inline_len) {
            Some(slot) => {
                *slot = (name, value);
                self.inline_len += 1;
            }
            None => self.overflow = true,
        }
    }

    /// Sets an additional list of header fields (e.g. allocated in the request arena),
    /// sent after the inline ones.
    pub fn headers_slice(mut self, fields: &'a [(&'a [u8], &'a [u8])]) -> Self {
        self.extra = fields;
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<ResponseBody<'a>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a streamed body (chunked on HTTP/1.1).
    pub fn stream(
        mut self,
        stream: impl Stream<Item = Result<Bytes, io::Error>> + 'static,
    ) -> Self {
        self.body = ResponseBody::Stream(Box::pin(stream));
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The body.
    pub fn body_ref(&self) -> &ResponseBody<'a> {
        &self.body
    }

    /// Takes the body out, leaving [`ResponseBody::Empty`].
    pub fn take_body(&mut self) -> ResponseBody<'a> {
        std::mem::replace(&mut self.body, ResponseBody::Empty)
    }

    /// Every header field set on the response, in order.
    pub fn header_fields(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + '_ {
        self.inline[..self.inline_len]
            .iter()
            .chain(self.extra.iter())
            .copied()
    }
}
