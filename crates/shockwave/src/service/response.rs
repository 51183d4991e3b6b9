//! The handler's answer: [`Response<'a>`] and its [`ResponseBody<'a>`].

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;
use http::StatusCode;
use shockwave_arena::Arena;

/// Response header fields stored inline in a [`Response`]; more spill into the request
/// arena (when the response is bound to it: [`Response::with_arena`],
/// [`RequestContext::response`](super::RequestContext::response)) or else into a heap
/// `Vec`. There is no limit on the number of fields.
///
/// The inline part is deliberately small: a `Response` is moved several times between
/// the handler and the connection driver, so its size is paid on every request.
pub const RESPONSE_INLINE_HEADERS: usize = 2;

/// One `(name, value)` header field.
type Field<'a> = (&'a [u8], &'a [u8]);

const EMPTY_FIELD: Field<'static> = (&[], &[]);

/// Where a response's header fields live (see [`RESPONSE_INLINE_HEADERS`]).
enum HeaderStore<'a> {
    /// Up to [`RESPONSE_INLINE_HEADERS`] fields, no allocation.
    Inline {
        len: u8,
        slots: [Field<'a>; RESPONSE_INLINE_HEADERS],
    },
    /// A caller-provided list ([`Response::headers_slice`]), no allocation.
    Slice(&'a [Field<'a>]),
    /// Spilled into the request arena.
    Arena(shockwave_arena::Vec<'a, Field<'a>>),
    /// Spilled onto the heap (a response not bound to an arena).
    Heap(Vec<Field<'a>>),
}

impl<'a> HeaderStore<'a> {
    const EMPTY: HeaderStore<'static> = HeaderStore::Inline {
        len: 0,
        slots: [EMPTY_FIELD; RESPONSE_INLINE_HEADERS],
    };

    fn as_slice(&self) -> &[Field<'a>] {
        match self {
            HeaderStore::Inline { len, slots } => &slots[..*len as usize],
            HeaderStore::Slice(s) => s,
            HeaderStore::Arena(v) => v,
            HeaderStore::Heap(v) => v,
        }
    }

    /// Appends `fields`; false when the spill could not be allocated (arena limit or
    /// out of memory).
    fn extend(&mut self, fields: &[Field<'a>], arena: Option<&'a Arena>) -> bool {
        if let HeaderStore::Inline { len, slots } = self {
            let at = *len as usize;
            if let Some(dst) = slots.get_mut(at..at + fields.len()) {
                dst.copy_from_slice(fields);
                *len += fields.len() as u8;
                return true;
            }
        }
        match self {
            HeaderStore::Arena(v) => {
                if v.try_reserve(fields.len()).is_err() {
                    return false;
                }
                v.extend_from_slice(fields);
                true
            }
            HeaderStore::Heap(v) => {
                if v.try_reserve(fields.len()).is_err() {
                    return false;
                }
                v.extend_from_slice(fields);
                true
            }
            HeaderStore::Inline { .. } | HeaderStore::Slice(_) => {
                // Spill: move what we have plus `fields` into a growable list.
                let current = self.as_slice();
                let want = (current.len() + fields.len()).max(2 * RESPONSE_INLINE_HEADERS + 4);
                match arena {
                    Some(arena) => {
                        let mut v = shockwave_arena::Vec::new_in(arena.bump());
                        if v.try_reserve(want).is_err() {
                            return false;
                        }
                        v.extend_from_slice(current);
                        v.extend_from_slice(fields);
                        *self = HeaderStore::Arena(v);
                    }
                    None => {
                        let mut v = Vec::new();
                        if v.try_reserve(want).is_err() {
                            return false;
                        }
                        v.extend_from_slice(current);
                        v.extend_from_slice(fields);
                        *self = HeaderStore::Heap(v);
                    }
                }
                true
            }
        }
    }
}

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

/// Trailer fields sent after a response body (HTTP/1.1 chunked trailers, an HTTP/2 or
/// HTTP/3 HEADERS frame).
///
/// Drivers send them after the last body byte. HTTP/1.1 switches a response with
/// trailers to chunked framing when the request is HTTP/1.1; for HTTP/1.0 requests, `HEAD`,
/// 204 and 304 the trailers are dropped (a [`Trailers::Deferred`] future is then never
/// polled). Trailer fields are validated like header fields; invalid ones, pseudo-fields
/// and connection-specific or framing names (`connection`, `transfer-encoding`,
/// `content-length`, `te`, ...) are dropped (RFC 9110 §6.5.1).
#[derive(Default)]
pub enum Trailers<'a> {
    /// No trailers.
    #[default]
    None,
    /// Fields known up front (they may live in the request arena).
    Fields(&'a [(&'a [u8], &'a [u8])]),
    /// Fields computed once the body has ended (e.g. a gRPC-style status): the driver
    /// awaits the future after the last body byte is written.
    Deferred(Pin<Box<dyn Future<Output = http::HeaderMap> + 'static>>),
}

impl Trailers<'_> {
    /// True for [`Trailers::None`].
    pub fn is_none(&self) -> bool {
        matches!(self, Trailers::None)
    }
}

impl fmt::Debug for Trailers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trailers::None => f.write_str("None"),
            Trailers::Fields(fields) => write!(f, "Fields({} fields)", fields.len()),
            Trailers::Deferred(_) => f.write_str("Deferred"),
        }
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
/// Any number of header fields may be set. The first [`RESPONSE_INLINE_HEADERS`] are
/// stored inline; further ones spill into the request arena when the response is bound to
/// it ([`RequestContext::response`](super::RequestContext::response) or
/// [`Response::with_arena`]: no heap allocation), otherwise into a heap `Vec` (one
/// allocation). A response is a 500 only when that spill cannot be allocated (the arena's
/// allocation limit).
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
    /// Set when header fields could not be stored (spill allocation failed): drivers
    /// answer 500 instead.
    pub(crate) overflow: bool,
    /// Identifies the exact header fields of a built-in response (`PRESET_*`; 0 = not a
    /// preset): set by the constructors, cleared by any field the caller adds. Equal
    /// presets mean byte-identical fields, so drivers may reuse a head they serialized
    /// before, and any preset is [`trusted`](Self::trusted).
    pub(crate) preset: u8,
    headers: HeaderStore<'a>,
    arena: Option<&'a Arena>,
    pub(crate) body: ResponseBody<'a>,
    trailers: Trailers<'a>,
}

/// [`Response::preset`]: no header field.
pub(crate) const PRESET_NO_FIELDS: u8 = 1;
/// [`Response::preset`]: only `content-type: text/plain; charset=utf-8`.
pub(crate) const PRESET_TEXT: u8 = 2;
/// [`Response::preset`]: only `content-type: application/json`.
pub(crate) const PRESET_JSON: u8 = 3;

impl fmt::Debug for Response<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.header_fields().count())
            .field("body", &self.body)
            .field("trailers", &self.trailers)
            .finish()
    }
}

impl<'a> Response<'a> {
    /// An empty response with this status.
    pub fn new(status: StatusCode) -> Self {
        Response {
            status,
            overflow: false,
            preset: PRESET_NO_FIELDS,
            headers: HeaderStore::EMPTY,
            arena: None,
            body: ResponseBody::Empty,
            trailers: Trailers::None,
        }
    }

    /// Binds the response to the request arena: header fields past
    /// [`RESPONSE_INLINE_HEADERS`] are then stored there instead of on the heap.
    ///
    /// ```
    /// use shockwave::arena::Arena;
    /// use shockwave::server::Response;
    ///
    /// let arena = Arena::new();
    /// let mut r = Response::ok().with_arena(&arena);
    /// for name in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"] {
    ///     r = r.header(name, "1");
    /// }
    /// assert_eq!(r.header_fields().count(), 10);
    /// ```
    pub fn with_arena(mut self, arena: &'a Arena) -> Self {
        self.arena = Some(arena);
        self
    }

    /// The header fields are known to be valid and to hold no field the drivers manage
    /// (`content-length`, `transfer-encoding`, `connection`, `date`): true for the
    /// built-in responses until a field is added, so drivers can skip their per-field
    /// checks on the common responses.
    pub(crate) fn trusted(&self) -> bool {
        self.preset != 0
    }

    /// `200 OK` with an empty body.
    pub fn ok() -> Self {
        Self::new(StatusCode::OK)
    }

    /// `200 OK`, `content-type: text/plain; charset=utf-8`.
    pub fn text(body: &'a str) -> Self {
        Self::with_type(b"text/plain; charset=utf-8", PRESET_TEXT, body.as_bytes())
    }

    /// `200 OK`, `content-type: application/json`.
    pub fn json(body: &'a str) -> Self {
        Self::with_type(b"application/json", PRESET_JSON, body.as_bytes())
    }

    /// `200 OK` with one `content-type` field and a borrowed body, built in place (the
    /// builder chain would move the whole `Response` once per call on hot routes).
    fn with_type(content_type: &'static [u8], preset: u8, body: &'a [u8]) -> Self {
        Response {
            status: StatusCode::OK,
            overflow: false,
            preset,
            headers: HeaderStore::Inline {
                len: 1,
                slots: [(&b"content-type"[..], content_type), EMPTY_FIELD],
            },
            arena: None,
            body: ResponseBody::Slice(body),
            trailers: Trailers::None,
        }
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

    /// Adds a header field (any number: see [`Response`] for where they are stored).
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
        self.preset = 0;
        if let HeaderStore::Inline { len, slots } = &mut self.headers {
            if let Some(slot) = slots.get_mut(*len as usize) {
                *slot = (name, value);
                *len += 1;
                return;
            }
        }
        if !self.headers.extend(&[(name, value)], self.arena) {
            self.overflow = true;
        }
    }

    /// Appends a list of header fields (e.g. allocated in the request arena). When no
    /// field was set before, the list is used in place (no copy, no allocation).
    pub fn headers_slice(mut self, fields: &'a [(&'a [u8], &'a [u8])]) -> Self {
        self.preset = 0;
        if self.headers.as_slice().is_empty()
            && !matches!(self.headers, HeaderStore::Arena(_) | HeaderStore::Heap(_))
        {
            self.headers = HeaderStore::Slice(fields);
        } else if !self.headers.extend(fields, self.arena) {
            self.overflow = true;
        }
        self
    }

    /// Replaces every header field with `fields` (used in place, no copy): for
    /// wrappers that rewrite fields, e.g. response compression weakening `etag`.
    #[cfg(feature = "compression")]
    pub(crate) fn replace_headers(&mut self, fields: &'a [Field<'a>]) {
        self.preset = 0;
        self.headers = HeaderStore::Slice(fields);
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

    /// Sends these trailer fields after the body (see [`Trailers`]). The slice may live in
    /// the request arena.
    ///
    /// ```
    /// use shockwave::server::Response;
    ///
    /// let r = Response::text("data").trailers(&[(b"x-checksum", b"abc123")]);
    /// assert!(r.has_trailers());
    /// ```
    pub fn trailers(mut self, fields: &'a [(&'a [u8], &'a [u8])]) -> Self {
        self.trailers = Trailers::Fields(fields);
        self
    }

    /// Sends the fields that `f` resolves to after the body has ended (gRPC-style status);
    /// the driver awaits `f` after the last body byte (see [`Trailers::Deferred`]).
    pub fn trailers_deferred(mut self, f: impl Future<Output = http::HeaderMap> + 'static) -> Self {
        self.trailers = Trailers::Deferred(Box::pin(f));
        self
    }

    /// True when trailers were set.
    pub fn has_trailers(&self) -> bool {
        !self.trailers.is_none()
    }

    /// Takes the trailers out, leaving [`Trailers::None`]. Drivers call this after
    /// [`Response::take_body`].
    pub fn take_trailers(&mut self) -> Trailers<'a> {
        std::mem::take(&mut self.trailers)
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
        self.headers.as_slice().iter().copied()
    }

    /// Every header field set on the response, in order, as a slice.
    pub fn header_slice(&self) -> &[(&'a [u8], &'a [u8])] {
        self.headers.as_slice()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 12] = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"];

    #[test]
    fn the_response_stays_small() {
        // It is moved between the handler and the driver on every request.
        assert!(
            std::mem::size_of::<Response<'_>>() <= 160,
            "{}",
            std::mem::size_of::<Response<'_>>()
        );
    }

    #[test]
    fn many_headers_spill_to_the_heap_in_order() {
        let mut r = Response::ok();
        for n in NAMES {
            r = r.header(n, n);
        }
        assert!(!r.overflow);
        let names: Vec<&[u8]> = r.header_fields().map(|(n, _)| n).collect();
        assert_eq!(names, NAMES.map(str::as_bytes));
        assert!(matches!(r.headers, HeaderStore::Heap(_)));
    }

    #[test]
    fn many_headers_spill_into_the_arena_without_heap_allocations() {
        let arena = Arena::with_capacity(4096);
        let mut r = Response::ok().with_arena(&arena);
        for n in NAMES {
            r = r.header(n, "v");
        }
        assert_eq!(r.header_fields().count(), NAMES.len());
        assert!(matches!(r.headers, HeaderStore::Arena(_)));
        assert!(arena.allocated_bytes() >= NAMES.len() * 32);
    }

    #[test]
    fn arena_limit_makes_an_overflow_not_a_panic() {
        let arena = Arena::with_limit(0, Some(64));
        let _fill = arena.alloc_zeroed(60);
        let mut r = Response::ok().with_arena(&arena);
        for n in NAMES {
            r = r.header(n, "v");
        }
        assert!(r.overflow);
    }

    #[test]
    fn headers_slice_is_used_in_place_then_appends() {
        let list: &[(&[u8], &[u8])] = &[(b"x-1", b"1"), (b"x-2", b"2"), (b"x-3", b"3")];
        let r = Response::ok().headers_slice(list);
        assert!(matches!(r.headers, HeaderStore::Slice(_)));
        assert_eq!(r.header_slice(), list);
        let r = r.header("x-4", "4");
        assert_eq!(r.header_fields().count(), 4);
        let r = Response::ok().header("first", "0").headers_slice(list);
        let names: Vec<&[u8]> = r.header_fields().map(|(n, _)| n).collect();
        assert_eq!(names, [&b"first"[..], b"x-1", b"x-2", b"x-3"]);
        let r = Response::ok().header("a", "1").headers_slice(&list[..1]);
        assert!(matches!(r.headers, HeaderStore::Inline { len: 2, .. }));
    }

    #[test]
    fn built_in_responses_are_trusted_until_a_field_is_added() {
        let t = Response::text("hi");
        assert!(t.trusted());
        assert_eq!(
            t.header_fields().collect::<Vec<_>>(),
            [(&b"content-type"[..], &b"text/plain; charset=utf-8"[..])]
        );
        assert!(matches!(t.body, ResponseBody::Slice(b"hi")));
        let j = Response::json("{}");
        assert!(j.trusted());
        assert_eq!(j.header_slice()[0].1, b"application/json");
        assert!(Response::new(StatusCode::NOT_FOUND).trusted());
        // A caller's field may be a managed one (connection, content-length) or invalid:
        // the driver must check the fields again.
        assert!(!Response::text("hi").header("connection", "close").trusted());
        let fields: &[(&[u8], &[u8])] = &[(b"content-length", b"5")];
        assert!(!Response::ok().headers_slice(fields).trusted());
        let mut r = Response::ok();
        r.push_header(b"x-a", b"1");
        assert!(!r.trusted());
        assert_eq!(r.preset, 0);
    }

    #[test]
    fn presets_identify_the_fields_and_are_cleared_by_added_fields() {
        assert_eq!(Response::ok().preset, PRESET_NO_FIELDS);
        assert_eq!(Response::text("a").preset, PRESET_TEXT);
        assert_eq!(Response::json("{}").preset, PRESET_JSON);
        assert_eq!(Response::text("a").header("x", "1").preset, 0);
        let fields: &[(&[u8], &[u8])] = &[(b"x", b"1")];
        assert_eq!(Response::ok().headers_slice(fields).preset, 0);
        // Different presets are different fields.
        let t = Response::text("a");
        let j = Response::json("a");
        assert_ne!(t.header_slice(), j.header_slice());
    }
}
