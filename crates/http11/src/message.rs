//! Parsed messages and the header views shared by both storage strategies.

use std::fmt;

use http::{Method, StatusCode, Version};
/// A header field as borrowed name and value bytes.
pub(crate) type Pair<'a> = (&'a [u8], &'a [u8]);

/// How the body of a message is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyFraming {
    /// No body at all: a request with neither Content-Length nor Transfer-Encoding, or a
    /// response to HEAD, a 1xx, 204 or 304 response, or a 2xx answer to CONNECT.
    Empty,
    /// Exactly this many bytes (from Content-Length; may be 0).
    Length(u64),
    /// `Transfer-Encoding: chunked`: decode with [`crate::BodyDecoder`].
    Chunked,
    /// A response body that runs until the server closes the connection.
    CloseDelimited,
}

/// One header field as byte offsets into the parsed buffer (the heap strategy's
/// storage: no lifetime, so the vector holding them is reused across requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct HeaderRange {
    pub(crate) name_start: u32,
    pub(crate) name_end: u32,
    pub(crate) value_start: u32,
    pub(crate) value_end: u32,
}

impl HeaderRange {
    #[inline]
    pub(crate) fn resolve<'a>(&self, buf: &'a [u8]) -> (&'a [u8], &'a [u8]) {
        (
            &buf[self.name_start as usize..self.name_end as usize],
            &buf[self.value_start as usize..self.value_end as usize],
        )
    }
}

/// The heap strategy's reusable header storage: a `Vec` of offsets into the request
/// buffer. It has no lifetime, so one `HeapHeaders` per connection (or per worker) is
/// reused for every request; once it has grown to the largest header count seen,
/// parsing allocates nothing.
#[derive(Debug, Default, Clone)]
pub struct HeapHeaders {
    pub(crate) ranges: Vec<HeaderRange>,
}

impl HeapHeaders {
    /// Storage with room for 32 header fields.
    pub fn new() -> Self {
        Self::with_capacity(32)
    }

    /// Storage with room for `fields` header fields before it grows.
    pub fn with_capacity(fields: usize) -> Self {
        HeapHeaders {
            ranges: Vec::with_capacity(fields),
        }
    }

    /// How many header fields fit without reallocating.
    pub fn capacity(&self) -> usize {
        self.ranges.capacity()
    }
}

/// Where a parsed message's header fields live.
pub(crate) enum HeaderStore<'a> {
    /// An exact-size slice of pairs in the request arena.
    Arena(&'a [Pair<'a>]),
    Heap {
        buf: &'a [u8],
        ranges: &'a [HeaderRange],
    },
}

impl<'a> HeaderStore<'a> {
    #[inline]
    pub(crate) fn view(&self) -> Headers<'_, 'a> {
        match self {
            HeaderStore::Arena(pairs) => Headers {
                inner: HeadersInner::Arena(pairs),
            },
            HeaderStore::Heap { buf, ranges } => Headers {
                inner: HeadersInner::Heap { buf, ranges },
            },
        }
    }
}

/// A read-only view of a message's header fields, in the order received. Names and
/// values borrow the parsed buffer (`'a`); lookups are ASCII case-insensitive.
#[derive(Clone, Copy)]
pub struct Headers<'h, 'a> {
    inner: HeadersInner<'h, 'a>,
}

#[derive(Clone, Copy)]
enum HeadersInner<'h, 'a> {
    Arena(&'h [Pair<'a>]),
    Heap {
        buf: &'a [u8],
        ranges: &'h [HeaderRange],
    },
}

impl<'h, 'a> Headers<'h, 'a> {
    /// Number of header fields.
    pub fn len(&self) -> usize {
        match self.inner {
            HeadersInner::Arena(pairs) => pairs.len(),
            HeadersInner::Heap { ranges, .. } => ranges.len(),
        }
    }

    /// True if there are no header fields.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first value of the field called `name` (ASCII case-insensitive).
    pub fn get(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// True if a field called `name` is present.
    pub fn contains(&self, name: &[u8]) -> bool {
        self.get(name).is_some()
    }

    /// Every value of the field called `name`, in order (e.g. several `Set-Cookie`).
    pub fn get_all<'n>(&self, name: &'n [u8]) -> GetAll<'h, 'a, 'n> {
        GetAll {
            iter: self.iter(),
            name,
        }
    }

    /// The field at `index`, in received order.
    pub fn get_index(&self, index: usize) -> Option<(&'a [u8], &'a [u8])> {
        match self.inner {
            HeadersInner::Arena(pairs) => pairs.get(index).copied(),
            HeadersInner::Heap { buf, ranges } => ranges.get(index).map(|r| r.resolve(buf)),
        }
    }

    /// Every `(name, value)` pair in received order.
    pub fn iter(&self) -> HeadersIter<'h, 'a> {
        HeadersIter {
            inner: match self.inner {
                HeadersInner::Arena(pairs) => IterInner::Arena(pairs.iter()),
                HeadersInner::Heap { buf, ranges } => IterInner::Heap {
                    buf,
                    iter: ranges.iter(),
                },
            },
        }
    }
}

impl<'h, 'a> IntoIterator for Headers<'h, 'a> {
    type Item = (&'a [u8], &'a [u8]);
    type IntoIter = HeadersIter<'h, 'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl fmt::Debug for Headers<'_, '_> {
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

/// Iterator over [`Headers`] pairs.
pub struct HeadersIter<'h, 'a> {
    inner: IterInner<'h, 'a>,
}

enum IterInner<'h, 'a> {
    Arena(std::slice::Iter<'h, Pair<'a>>),
    Heap {
        buf: &'a [u8],
        iter: std::slice::Iter<'h, HeaderRange>,
    },
}

impl<'a> Iterator for HeadersIter<'_, 'a> {
    type Item = (&'a [u8], &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            IterInner::Arena(it) => it.next().copied(),
            IterInner::Heap { buf, iter } => iter.next().map(|r| r.resolve(buf)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.inner {
            IterInner::Arena(it) => it.size_hint(),
            IterInner::Heap { iter, .. } => iter.size_hint(),
        }
    }
}

/// Iterator over the values of one header field name ([`Headers::get_all`]).
pub struct GetAll<'h, 'a, 'n> {
    iter: HeadersIter<'h, 'a>,
    name: &'n [u8],
}

impl<'a> Iterator for GetAll<'_, 'a, '_> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let name = self.name;
        self.iter
            .by_ref()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// A parsed, validated HTTP/1.x request head. Everything borrows the input buffer
/// (zero copy); the header list (name/value slices of the buffer) lives in the request
/// arena or, with the heap strategy, in [`HeapHeaders`].
pub struct Request<'a> {
    pub(crate) method: Method,
    pub(crate) target: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) version: Version,
    pub(crate) headers: HeaderStore<'a>,
    pub(crate) framing: BodyFraming,
    pub(crate) keep_alive: bool,
    pub(crate) expect_continue: bool,
    pub(crate) unsupported_expectation: bool,
    pub(crate) h2c: bool,
    pub(crate) host: Option<&'a [u8]>,
    pub(crate) upgrade: Option<&'a [u8]>,
    pub(crate) upgrade_field: bool,
    pub(crate) http2_settings: Option<&'a [u8]>,
}

impl<'a> Request<'a> {
    /// The request method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request-target exactly as received (origin-form `/p?q`, absolute-form,
    /// authority-form for CONNECT, or `*` for OPTIONS).
    pub fn target(&self) -> &'a str {
        self.target
    }

    /// The path: the target up to `?` in origin-form, the path part of an absolute-form
    /// target (`/` if empty), or the whole target for authority-form and `*`.
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The query string after `?`, without the `?`.
    pub fn query(&self) -> Option<&'a str> {
        self.query
    }

    /// `HTTP/1.0` or `HTTP/1.1`.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The header fields.
    pub fn headers(&self) -> Headers<'_, 'a> {
        self.headers.view()
    }

    /// The first value of header `name` (ASCII case-insensitive).
    pub fn header(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.headers.view().get(name)
    }

    /// The Host header value (validated; required for HTTP/1.1).
    pub fn host(&self) -> Option<&'a [u8]> {
        self.host
    }

    /// How the request body is delimited: [`BodyFraming::Empty`], `Length` or `Chunked`.
    pub fn framing(&self) -> BodyFraming {
        self.framing
    }

    /// Whether the connection stays open after this exchange: HTTP/1.1 unless
    /// `Connection: close`; HTTP/1.0 only with `Connection: keep-alive` (RFC 9112 §9.3).
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// True for an HTTP/1.1 request with `Expect: 100-continue` (RFC 9110 §10.1.1;
    /// ignored in HTTP/1.0 as the RFC requires).
    pub fn expect_continue(&self) -> bool {
        self.expect_continue
    }

    /// True if an `Expect` field holds anything but `100-continue` (RFC 9110 §10.1.1).
    /// This parser does not fail such a request; a server SHOULD answer `417
    /// Expectation Failed` and close, as Shockwave's does (`100-continue` is the only
    /// expectation defined).
    pub fn unsupported_expectation(&self) -> bool {
        self.unsupported_expectation
    }

    /// The Upgrade header value, if the request asks to upgrade: HTTP/1.1 with an
    /// `upgrade` Connection option (RFC 9110 §7.8).
    pub fn upgrade(&self) -> Option<&'a [u8]> {
        self.upgrade
    }

    /// True if the head has an `Upgrade` field at all, whatever its `Connection` field
    /// says and whatever the version (noted while parsing: no search of the fields).
    pub fn has_upgrade_field(&self) -> bool {
        self.upgrade_field
    }

    /// True for an h2c upgrade request: `Upgrade` lists `h2c`, `Connection` has the
    /// `upgrade` option and exactly one `HTTP2-Settings` field is present (RFC 7540 §3.2).
    pub fn is_h2c_upgrade(&self) -> bool {
        self.h2c
    }

    /// The `HTTP2-Settings` value (base64url SETTINGS payload), if exactly one is present.
    pub fn http2_settings(&self) -> Option<&'a [u8]> {
        self.http2_settings
    }
}

impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("version", &self.version)
            .field("headers", &self.headers())
            .field("framing", &self.framing)
            .field("keep_alive", &self.keep_alive)
            .finish()
    }
}

/// A parsed, validated HTTP/1.x response head, borrowing the input buffer.
pub struct Response<'a> {
    pub(crate) status: StatusCode,
    pub(crate) reason: &'a str,
    pub(crate) version: Version,
    pub(crate) headers: HeaderStore<'a>,
    /// `Some(chunked is the final coding)` when Transfer-Encoding is present.
    pub(crate) te_chunked: Option<bool>,
    pub(crate) content_length: Option<u64>,
    pub(crate) keep_alive: bool,
}

impl<'a> Response<'a> {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The reason phrase (empty if absent or not valid UTF-8; clients should ignore it).
    pub fn reason(&self) -> &'a str {
        self.reason
    }

    /// `HTTP/1.0` or `HTTP/1.1`.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The header fields.
    pub fn headers(&self) -> Headers<'_, 'a> {
        self.headers.view()
    }

    /// The first value of header `name` (ASCII case-insensitive).
    pub fn header(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.headers.view().get(name)
    }

    /// The Content-Length, if present (and not overridden by Transfer-Encoding).
    pub fn content_length(&self) -> Option<u64> {
        match self.te_chunked {
            Some(_) => None,
            None => self.content_length,
        }
    }

    /// Whether the connection may be reused after this response: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`, and never when
    /// the framing was suspicious (Transfer-Encoding with Content-Length, or not ending
    /// in chunked; RFC 9112 §6.3). A [`BodyFraming::CloseDelimited`] body also ends the
    /// connection whatever this says.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// How the body of this response to a `request_method` request is delimited
    /// (RFC 9112 §6.3): HEAD, 1xx, 204, 304 and 2xx-to-CONNECT have no body; then
    /// Transfer-Encoding (chunked last: `Chunked`, else `CloseDelimited`); then
    /// Content-Length; otherwise `CloseDelimited`.
    pub fn framing(&self, request_method: &Method) -> BodyFraming {
        let code = self.status.as_u16();
        if *request_method == Method::HEAD
            || (100..200).contains(&code)
            || code == 204
            || code == 304
            || (*request_method == Method::CONNECT && (200..300).contains(&code))
        {
            return BodyFraming::Empty;
        }
        match (self.te_chunked, self.content_length) {
            (Some(true), _) => BodyFraming::Chunked,
            (Some(false), _) => BodyFraming::CloseDelimited,
            (None, Some(n)) => BodyFraming::Length(n),
            (None, None) => BodyFraming::CloseDelimited,
        }
    }
}

impl fmt::Debug for Response<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("reason", &self.reason)
            .field("version", &self.version)
            .field("headers", &self.headers())
            .field("keep_alive", &self.keep_alive)
            .finish()
    }
}
