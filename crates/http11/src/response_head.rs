//! The server's response head (RFC 9112 §4, §6): what framing a response gets
//! ([`ResponsePlan`]), its serialization ([`ResponseHead`]), and a per-connection copy of
//! the last head for repeated responses ([`HeadMemo`]).

use std::ops::Range;

use http::{StatusCode, Version};

use crate::chunk::is_trailer_allowed;
use crate::digits::{status_digits, write_decimal};
use crate::write::{is_field_safe, BodyLength};
use crate::HttpDate;

/// `HTTP/1.1 100 Continue` (RFC 9110 §10.1.1, §15.2.1), sent before reading a body the
/// client announced with `Expect: 100-continue`.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// True for the names a server manages itself in an HTTP/1.1 response head:
/// `content-length`, `transfer-encoding`, `connection` and `date` (ASCII
/// case-insensitive). [`Fields::Untrusted`] skips them.
#[inline]
pub fn is_managed(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"content-length")
        || name.eq_ignore_ascii_case(b"transfer-encoding")
        || name.eq_ignore_ascii_case(b"connection")
        || name.eq_ignore_ascii_case(b"date")
}

/// True when untrusted response fields ask to close the connection: a `connection`
/// field listing `close` (RFC 9112 §9.6). The server then answers and closes.
pub fn fields_request_close(fields: &[(&[u8], &[u8])]) -> bool {
    fields
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case(b"connection") && crate::has_token(v, b"close"))
}

/// The caller's response fields and how far they are trusted.
#[derive(Debug, Clone, Copy)]
pub enum Fields<'h> {
    /// Written exactly as given, in order. For fields the server itself built and knows
    /// to be safe (a preset `content-type`): no per-field check on the hot path.
    Trusted(&'h [(&'h [u8], &'h [u8])]),
    /// A handler's fields: written in order, except managed names ([`is_managed`]) and
    /// any field that is not [`is_field_safe`], which are skipped. A server checks
    /// [`fields_safe`](crate::fields_safe) first and answers `500` instead (so in
    /// practice nothing unsafe reaches the writer); the skip is the last line of defence
    /// against response splitting.
    Untrusted(&'h [(&'h [u8], &'h [u8])]),
    /// A handler's fields the caller has already checked with
    /// [`fields_safe`](crate::fields_safe) (answering `500` when that failed): managed
    /// names are skipped as for [`Fields::Untrusted`], but the fields are not checked a
    /// second time. The server's hot path; a debug build asserts the check was made.
    Validated(&'h [(&'h [u8], &'h [u8])]),
}

impl<'h> Fields<'h> {
    /// The fields, whatever their trust.
    pub fn as_slice(&self) -> &'h [(&'h [u8], &'h [u8])] {
        match *self {
            Fields::Trusted(f) | Fields::Untrusted(f) | Fields::Validated(f) => f,
        }
    }
}

/// A response head to serialize (RFC 9112 §4): status line, `date`, the caller's fields,
/// the `trailer` announcement, framing and `connection`, in that order, with lowercase
/// names for the fields the writer adds. The status line is always `HTTP/1.1` (the
/// server's version, RFC 9110 §2.5), whatever the request's version.
///
/// ```
/// use shockwave_http11::{BodyLength, Fields, HttpDate, ResponseHead, StatusCode, Version};
///
/// let mut out = Vec::with_capacity(256);
/// let date = HttpDate::new(*b"Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
/// let range = ResponseHead {
///     status: StatusCode::OK,
///     date: Some(&date),
///     fields: Fields::Trusted(&[(b"content-type", b"text/plain")]),
///     trailers: &[],
///     body: BodyLength::Known(13),
///     version: Version::HTTP_11,
///     keep_alive: true,
/// }
/// .write_to(&mut out);
/// assert_eq!(range, 0..out.len());
/// assert_eq!(
///     out,
///     b"HTTP/1.1 200 OK\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
///       content-type: text/plain\r\ncontent-length: 13\r\n\r\n"
/// );
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ResponseHead<'h> {
    /// The status; the reason phrase is its canonical one (`Unknown` for codes without
    /// one). Interim (1xx) heads other than [`CONTINUE`] are not a use of this type.
    pub status: StatusCode,
    /// The `date` value (RFC 9110 §6.6.1), given by the caller (normally
    /// [`DateCache::date`](crate::DateCache::date), refreshed by the driver: the codec
    /// reads no clock). `None` writes no `date`.
    pub date: Option<&'h HttpDate>,
    /// The caller's fields (see [`Fields`]).
    pub fields: Fields<'h>,
    /// The trailer fields that will follow a chunked body, announced up front in one
    /// `trailer: a, b` field (RFC 9110 §6.6.2); names failing
    /// [`is_trailer_allowed`](crate::is_trailer_allowed) are left out (they will not be
    /// sent either). Empty: no `trailer` field.
    pub trailers: &'h [(&'h [u8], &'h [u8])],
    /// The framing field to write: normally [`ResponsePlan::head`].
    pub body: BodyLength,
    /// The request's version: with `keep_alive`, an `HTTP/1.0` peer gets
    /// `connection: keep-alive` (RFC 9112 §9.3); the status line does not change.
    pub version: Version,
    /// Whether the connection stays open after this response: `false` writes
    /// `connection: close` (RFC 9112 §9.6).
    pub keep_alive: bool,
}

impl ResponseHead<'_> {
    /// Appends the head, through its final empty line, to `dst` and returns where it is
    /// in `dst` (for [`HeadMemo`] or a caller's own cache). Allocates only if `dst` must
    /// grow.
    #[inline(always)]
    pub fn write_to(&self, dst: &mut Vec<u8>) -> Range<usize> {
        let start = dst.len();
        let date = self.date.map(HttpDate::as_bytes);
        // Fixed-size pieces are copied inline; only the variable ones call memcpy.
        if self.status == StatusCode::OK {
            // One fixed-length copy per arm (a selected slice would be a memcpy call).
            if date.is_some() {
                dst.extend_from_slice(b"HTTP/1.1 200 OK\r\ndate: ");
            } else {
                dst.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
            }
        } else {
            dst.extend_from_slice(b"HTTP/1.1 ");
            dst.extend_from_slice(&status_digits(self.status));
            dst.push(b' ');
            let reason = self.status.canonical_reason().unwrap_or("Unknown");
            dst.extend_from_slice(reason.as_bytes());
            if date.is_some() {
                dst.extend_from_slice(b"\r\ndate: ");
            } else {
                dst.extend_from_slice(b"\r\n");
            }
        }
        if let Some(date) = date {
            dst.extend_from_slice(date);
            dst.extend_from_slice(b"\r\n");
        }
        match self.fields {
            Fields::Trusted(fields) => {
                for &(name, value) in fields {
                    push_field(dst, name, value);
                }
            }
            Fields::Validated(fields) => {
                debug_assert!(
                    crate::fields_safe(fields),
                    "Fields::Validated: unsafe field"
                );
                for &(name, value) in fields {
                    if !is_managed(name) {
                        push_field(dst, name, value);
                    }
                }
            }
            Fields::Untrusted(fields) => {
                for &(name, value) in fields {
                    if !is_managed(name) && is_field_safe(name, value) {
                        push_field(dst, name, value);
                    }
                }
            }
        }
        if !self.trailers.is_empty() {
            announce_trailers(dst, self.trailers);
        }
        match self.body {
            BodyLength::Known(len) => {
                dst.extend_from_slice(b"content-length: ");
                write_decimal(dst, len);
                dst.extend_from_slice(b"\r\n");
            }
            BodyLength::Chunked => dst.extend_from_slice(b"transfer-encoding: chunked\r\n"),
            BodyLength::None => {}
        }
        if !self.keep_alive {
            dst.extend_from_slice(b"connection: close\r\n");
        } else if self.version == Version::HTTP_10 {
            dst.extend_from_slice(b"connection: keep-alive\r\n");
        }
        dst.extend_from_slice(b"\r\n");
        start..dst.len()
    }

    /// True if nothing would be dropped for its bytes: every field is
    /// [`is_field_safe`] (the date is an [`HttpDate`], valid by construction). (Managed names in
    /// [`Fields::Untrusted`] are skipped by design and do not count.)
    pub fn validate(&self) -> bool {
        crate::fields_safe(self.fields.as_slice())
    }
}

/// RFC 9110 §6.6.2: announces the trailer fields known up front (`trailer: a, b`).
fn announce_trailers(dst: &mut Vec<u8>, trailers: &[(&[u8], &[u8])]) {
    let mut announced = trailers
        .iter()
        .filter(|(n, v)| is_trailer_allowed(n, v))
        .map(|(n, _)| *n);
    if let Some(first) = announced.next() {
        dst.extend_from_slice(b"trailer: ");
        dst.extend_from_slice(first);
        for name in announced {
            dst.extend_from_slice(b", ");
            dst.extend_from_slice(name);
        }
        dst.extend_from_slice(b"\r\n");
    }
}

// Inlined into each of `write_to`'s loops: a call per field costs more than the copy.
#[inline(always)]
fn push_field(dst: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    dst.extend_from_slice(name);
    dst.extend_from_slice(b": ");
    dst.extend_from_slice(value);
    dst.extend_from_slice(b"\r\n");
}

/// How a response is framed on an HTTP/1.1 connection (RFC 9112 §6.1-6.3, §7.1.2,
/// RFC 9110 §6.4.1, §8.6): computed by [`ResponsePlan::new`] from what the driver knows
/// once the handler has answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponsePlan {
    /// The framing field for [`ResponseHead::body`].
    pub head: BodyLength,
    /// Whether body bytes follow the head at all (false for a response to HEAD, 1xx, 204
    /// and 304): when false, send nothing after the head.
    pub send_body: bool,
    /// The body goes out chunked ([`write_chunk`](crate::write_chunk) ...
    /// [`write_last_chunk`](crate::write_last_chunk)).
    pub chunked: bool,
    /// The trailers are sent (chunked framing); false when the handler has none, or the
    /// peer speaks HTTP/1.0, or there is no body (then a deferred trailer future is
    /// dropped unpolled).
    pub trailers: bool,
    /// The connection may stay open after this response (`false` when it was already,
    /// and for a close-delimited HTTP/1.0 body).
    pub keep_alive: bool,
}

impl ResponsePlan {
    /// Decides the framing of a response.
    ///
    /// * `status`: the final status (a server answers 500 for a handler's 1xx; if one is
    ///   passed it is framed like 204: no body, no `content-length`).
    /// * `head_request`: the request method is HEAD.
    /// * `version`: the request's version.
    /// * `body_len`: the body's length when known (`Some(0)` for an empty body, `None`
    ///   for a stream of unknown length).
    /// * `has_trailers`: the handler gave trailer fields (or a trailer future).
    /// * `keep_alive`: the connection may stay open so far (request, shutdown, handler).
    ///
    /// A known length becomes `content-length` (also in the answer to HEAD: the length
    /// the GET would have). Trailers need chunked framing, so with them the length is not
    /// announced. An unknown length is chunked for HTTP/1.1 and close-delimited for
    /// HTTP/1.0 (the connection then closes). 204 and 304 get no `content-length`
    /// (RFC 9110 §8.6: for a 304 it would have to be the 200's length, not known here).
    pub fn new(
        status: StatusCode,
        head_request: bool,
        version: Version,
        body_len: Option<u64>,
        has_trailers: bool,
        mut keep_alive: bool,
    ) -> Self {
        let http10 = version == Version::HTTP_10;
        let code = status.as_u16();
        let no_content = code < 200 || code == 204 || code == 304;
        let no_body = head_request || no_content;
        // RFC 9112 §7.1.2: an HTTP/1.0 peer cannot get trailers, and a response without a
        // body has nowhere to put them.
        let trailers = has_trailers && !http10 && !no_body;
        let length = if trailers { None } else { body_len };
        if length.is_none() && http10 {
            keep_alive = false; // close-delimited for HTTP/1.0 clients
        }
        let chunked = length.is_none() && !http10 && !no_body;
        let head = match length {
            Some(len) if !no_content => BodyLength::Known(len),
            _ if chunked => BodyLength::Chunked,
            _ => BodyLength::None,
        };
        ResponsePlan {
            head,
            send_body: !no_body,
            chunked,
            trailers,
            keep_alive,
        }
    }
}

/// A connection's copy of its last response head, for heads that depend only on a small
/// key: pipelined and keep-alive requests for the same route then cost one copy instead
/// of a field-by-field serialization (the HTTP/1.1 server's hot path).
///
/// The key must capture **everything** the head's bytes depend on: for a server that is
/// the status, which fixed field set (e.g. a preset `content-type`), the framing
/// ([`ResponsePlan::head`]), `keep_alive`, whether the peer is HTTP/1.0, and the
/// generation of the `date` value. Do not memoize heads with a trailer announcement or
/// untrusted fields (their key would be the fields themselves).
///
/// ```
/// use shockwave_http11::{
///     BodyLength, Fields, HeadMemo, HttpDate, ResponseHead, StatusCode, Version,
/// };
///
/// let mut memo = HeadMemo::new();
/// let mut out = Vec::new();
/// let date = HttpDate::new(*b"Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
/// let head = ResponseHead {
///     status: StatusCode::OK,
///     date: Some(&date),
///     fields: Fields::Trusted(&[]),
///     trailers: &[],
///     body: BodyLength::Known(2),
///     version: Version::HTTP_11,
///     keep_alive: true,
/// };
/// let date_generation = 7u64;
/// memo.write_head((StatusCode::OK, 2u64, date_generation), &mut out, &head); // writes
/// memo.write_head((StatusCode::OK, 2u64, date_generation), &mut out, &head); // copies
/// assert_eq!(out[..out.len() / 2], out[out.len() / 2..]);
/// ```
#[derive(Clone)]
pub struct HeadMemo<K> {
    key: Option<K>,
    len: usize,
    bytes: [u8; HEAD_MEMO_CAPACITY],
}

/// Longest head a [`HeadMemo`] keeps (preset heads are ~130 bytes; longer ones, e.g. long
/// reason phrases, are written every time).
pub const HEAD_MEMO_CAPACITY: usize = 192;

impl<K> std::fmt::Debug for HeadMemo<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadMemo")
            .field("len", &self.len)
            .field("set", &self.key.is_some())
            .finish()
    }
}

impl<K: PartialEq> Default for HeadMemo<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: PartialEq> HeadMemo<K> {
    /// An empty memo.
    pub fn new() -> Self {
        HeadMemo {
            key: None,
            len: 0,
            bytes: [0; HEAD_MEMO_CAPACITY],
        }
    }

    /// Appends the head for `key` to `dst`: the memo when it was written for an equal
    /// key, else `write`'s output (which becomes the memo if it fits
    /// [`HEAD_MEMO_CAPACITY`]). `write` must append exactly one head.
    #[inline]
    pub fn write(&mut self, key: K, dst: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
        if self.key.as_ref() == Some(&key) {
            dst.extend_from_slice(&self.bytes[..self.len]);
            return;
        }
        let start = dst.len();
        write(dst);
        let head = &dst[start..];
        if let Some(keep) = self.bytes.get_mut(..head.len()) {
            keep.copy_from_slice(head);
            self.len = head.len();
            self.key = Some(key);
        } else {
            self.key = None;
        }
    }

    /// [`write`](Self::write) with a [`ResponseHead`] (serialized only on a miss).
    #[inline]
    pub fn write_head(&mut self, key: K, dst: &mut Vec<u8>, head: &ResponseHead<'_>) {
        self.write(key, dst, |dst| {
            head.write_to(dst);
        });
    }

    /// Forgets the memo.
    pub fn clear(&mut self) {
        self.key = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(status: u16, head: bool, http10: bool, len: Option<u64>, tr: bool) -> ResponsePlan {
        let version = if http10 {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        };
        ResponsePlan::new(
            StatusCode::from_u16(status).unwrap(),
            head,
            version,
            len,
            tr,
            true,
        )
    }

    #[test]
    fn plans_follow_the_server_rules() {
        use BodyLength::{Chunked, Known};
        let p = |head, send_body, chunked, trailers, keep_alive| ResponsePlan {
            head,
            send_body,
            chunked,
            trailers,
            keep_alive,
        };
        assert_eq!(
            plan(200, false, false, Some(5), false),
            p(Known(5), true, false, false, true)
        );
        assert_eq!(
            plan(200, false, false, None, false),
            p(Chunked, true, true, false, true)
        );
        assert_eq!(
            plan(200, false, true, None, false),
            p(BodyLength::None, true, false, false, false)
        );
        assert_eq!(
            plan(200, false, true, Some(5), true),
            p(Known(5), true, false, false, true)
        );
        assert_eq!(
            plan(200, false, false, Some(5), true),
            p(Chunked, true, true, true, true)
        );
        assert_eq!(
            plan(200, true, false, Some(5), true),
            p(Known(5), false, false, false, true)
        );
        assert_eq!(
            plan(200, true, false, None, false),
            p(BodyLength::None, false, false, false, true)
        );
        assert_eq!(
            plan(200, true, true, None, false),
            p(BodyLength::None, false, false, false, false)
        );
        assert_eq!(
            plan(204, false, false, Some(0), true),
            p(BodyLength::None, false, false, false, true)
        );
        assert_eq!(
            plan(304, false, false, Some(9), false),
            p(BodyLength::None, false, false, false, true)
        );
        assert_eq!(
            plan(304, false, true, None, false),
            p(BodyLength::None, false, false, false, false)
        );
        assert_eq!(
            plan(103, false, false, Some(0), false),
            p(BodyLength::None, false, false, false, true)
        );
        let closed = ResponsePlan::new(
            StatusCode::OK,
            false,
            Version::HTTP_11,
            Some(1),
            false,
            false,
        );
        assert!(!closed.keep_alive);
    }

    #[test]
    fn memo_forgets_heads_too_long_to_keep() {
        let long = [b'x'; 300];
        let fields: &[(&[u8], &[u8])] = &[(b"x-long", &long)];
        let head = ResponseHead {
            status: StatusCode::OK,
            date: None,
            fields: Fields::Trusted(fields),
            trailers: &[],
            body: BodyLength::Known(0),
            version: Version::HTTP_11,
            keep_alive: true,
        };
        let mut memo = HeadMemo::new();
        let mut writes = 0;
        let mut out = Vec::new();
        for _ in 0..3 {
            memo.write(1u8, &mut out, |d| {
                writes += 1;
                head.write_to(d);
            });
        }
        assert_eq!(writes, 3);
        let one = head.write_to(&mut Vec::new()).len();
        assert_eq!(out.len(), 3 * one);
        memo.clear();
        assert!(format!("{memo:?}").contains("set: false"));
    }
}
