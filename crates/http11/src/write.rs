//! Request heads (the client's side) and the field checks shared by every writer.

use http::Method;

use crate::tables::TOKEN;

/// How the body that follows a written head is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyLength {
    /// No framing field (1xx, 204, 304, a response to HEAD of unknown length, an
    /// HTTP/1.0 close-delimited response, a bodiless request).
    None,
    /// A `content-length: n` field.
    Known(u64),
    /// `transfer-encoding: chunked`; write the body with [`write_chunk`](crate::write_chunk)
    /// and end it with [`write_last_chunk`](crate::write_last_chunk).
    Chunked,
}

/// A request head to serialize (always HTTP/1.1): request line, `Host`, the caller's
/// fields, framing and `Connection`. Fields failing [`is_valid_field`] are skipped, so
/// untrusted data cannot split the request. This is the client's request writer.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'h> {
    /// The method.
    pub method: &'h Method,
    /// The request-target, normally origin-form (`/path?query`).
    pub target: &'h str,
    /// The `Host` value (`host[:port]`).
    pub host: &'h str,
    /// Extra header fields, written in order (a caller `Host` field is skipped).
    pub headers: &'h [(&'h [u8], &'h [u8])],
    /// The body framing to announce: [`BodyLength::Known`] for a full body (also `0` for
    /// an empty POST/PUT/PATCH, RFC 9110 §8.6), [`BodyLength::Chunked`] for a stream of
    /// unknown length, [`BodyLength::None`] for a bodiless GET/HEAD/DELETE.
    pub body: BodyLength,
    /// `false` writes `Connection: close`.
    pub keep_alive: bool,
}

/// True if `bytes` is a non-empty token (RFC 9110 §5.6.2): a valid method, field name
/// or transfer-coding name. Table-driven.
pub fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| TOKEN[b as usize])
}

/// True if `(name, value)` may be written as a field line: a token name and a value
/// of VCHAR / SP / HTAB / obs-text only (RFC 9110 §5.1, §5.5).
pub fn is_valid_field(name: &[u8], value: &[u8]) -> bool {
    !name.is_empty()
        && name.iter().all(|&b| TOKEN[b as usize])
        && value
            .iter()
            .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// True if `(name, value)` cannot split a message: a token name and a value without CR,
/// LF or NUL (RFC 9110 §5.1, §5.5; CWE-113). This is the check the server applies to a
/// handler's response fields (HTTP/1.1, HTTP/2 and HTTP/3 alike) and to trailer fields;
/// it is looser than [`is_valid_field`] (other control bytes pass), as the server has
/// always been.
#[inline]
pub fn is_field_safe(name: &[u8], value: &[u8]) -> bool {
    is_token(name) && memchr::memchr3(b'\r', b'\n', 0, value).is_none()
}

/// True if every field is [`is_field_safe`]. A server answers `500` instead of writing
/// a handler's response that fails this (see [`crate::ResponseHead`]).
pub fn fields_safe(fields: &[(&[u8], &[u8])]) -> bool {
    fields.iter().all(|(n, v)| is_field_safe(n, v))
}

/// True if the comma-separated list `value` holds `token` (ASCII case-insensitive,
/// whitespace around elements ignored), e.g. `close` in a `Connection` value
/// (RFC 9110 §5.6.1, §7.6.1).
pub fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|b| *b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

#[inline]
fn push_field(dst: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    dst.extend_from_slice(name);
    dst.extend_from_slice(b": ");
    dst.extend_from_slice(value);
    dst.extend_from_slice(b"\r\n");
}

fn push_fields(dst: &mut Vec<u8>, fields: &[(&[u8], &[u8])], skip: impl Fn(&[u8]) -> bool) {
    for &(name, value) in fields {
        if is_valid_field(name, value) && !skip(name) {
            push_field(dst, name, value);
        }
    }
}

fn push_framing(dst: &mut Vec<u8>, body: BodyLength) {
    match body {
        BodyLength::None => {}
        BodyLength::Known(n) => {
            dst.extend_from_slice(b"Content-Length: ");
            crate::digits::write_decimal(dst, n);
            dst.extend_from_slice(b"\r\n");
        }
        BodyLength::Chunked => dst.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
    }
}

fn is_framing_field(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"transfer-encoding")
}

impl RequestHead<'_> {
    /// Appends the head (through its final empty line) to `dst`. Bytes of the target
    /// or host that would break the request line (spaces, controls, non-ASCII) are
    /// dropped; check with [`RequestHead::validate`] first to reject such input.
    pub fn write_to(&self, dst: &mut Vec<u8>) {
        dst.extend_from_slice(self.method.as_str().as_bytes());
        dst.push(b' ');
        push_visible(dst, self.target.as_bytes());
        dst.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        push_visible(dst, self.host.as_bytes());
        dst.extend_from_slice(b"\r\n");
        let framed = self.body != BodyLength::None;
        push_fields(dst, self.headers, |name| {
            name.eq_ignore_ascii_case(b"host") || (framed && is_framing_field(name))
        });
        push_framing(dst, self.body);
        if !self.keep_alive {
            dst.extend_from_slice(b"Connection: close\r\n");
        }
        dst.extend_from_slice(b"\r\n");
    }

    /// True if the target and host are non-empty visible ASCII and every field is valid,
    /// i.e. [`write_to`](Self::write_to) writes everything unchanged.
    pub fn validate(&self) -> bool {
        let visible = |s: &str| s.bytes().all(|b| (0x21..0x7f).contains(&b));
        !self.target.is_empty()
            && visible(self.target)
            && visible(self.host)
            && self.headers.iter().all(|(n, v)| is_valid_field(n, v))
    }
}

/// Appends only the visible-ASCII bytes of `s` (no spaces or controls can reach a
/// request line).
fn push_visible(dst: &mut Vec<u8>, s: &[u8]) {
    if s.iter().all(|b| (0x21..0x7f).contains(b)) {
        dst.extend_from_slice(s);
    } else {
        dst.extend(s.iter().copied().filter(|b| (0x21..0x7f).contains(b)));
    }
}
