//! Serializing message heads and chunked framing into a reused `Vec<u8>`.

use http::{Method, StatusCode, Version};

use crate::tables::TOKEN;

/// How the body that follows a written head is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyLength {
    /// No body and no framing header (204, 304, a response to HEAD, a bodiless request).
    None,
    /// `Content-Length: n`.
    Known(u64),
    /// `Transfer-Encoding: chunked`; write the body with [`write_chunk`] and
    /// [`write_last_chunk`].
    Chunked,
}

/// A response head to serialize: status line, `Date`, the caller's fields, then the
/// framing and `Connection` fields this crate derives.
///
/// Fields whose name is not a token or whose value holds CR, LF, NUL or another
/// control character are **skipped** (never written), so untrusted data cannot split
/// the response (CWE-113); use [`ResponseHead::validate`] to detect them. When `body`
/// is `Known`/`Chunked`, caller fields named Content-Length or Transfer-Encoding are
/// skipped too, so the framing can never disagree with itself; when `date` is `Some`,
/// a caller `Date` field is skipped.
#[derive(Debug, Clone, Copy)]
pub struct ResponseHead<'h> {
    /// `HTTP/1.0` or `HTTP/1.1` (anything else is written as `HTTP/1.1`).
    pub version: Version,
    /// The status code; the reason phrase is its canonical one.
    pub status: StatusCode,
    /// Extra header fields, written in order.
    pub headers: &'h [(&'h [u8], &'h [u8])],
    /// The body framing to announce.
    pub body: BodyLength,
    /// Whether the connection stays open: writes `Connection: close` on HTTP/1.1 when
    /// false, `Connection: keep-alive` on HTTP/1.0 when true.
    pub keep_alive: bool,
    /// A `Date` value, normally [`crate::DateCache::header_value`].
    pub date: Option<&'h [u8]>,
}

/// A request head to serialize (always HTTP/1.1): request line, `Host`, the caller's
/// fields, framing and `Connection`. Invalid fields are skipped as in [`ResponseHead`].
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
    /// The body framing to announce.
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

#[inline]
fn push_u64(dst: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    dst.extend_from_slice(&buf[i..]);
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
            push_u64(dst, n);
            dst.extend_from_slice(b"\r\n");
        }
        BodyLength::Chunked => dst.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
    }
}

fn is_framing_field(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"transfer-encoding")
}

impl ResponseHead<'_> {
    /// Appends the head (through its final empty line) to `dst`.
    pub fn write_to(&self, dst: &mut Vec<u8>) {
        dst.extend_from_slice(match self.version {
            Version::HTTP_10 => b"HTTP/1.0 ",
            _ => b"HTTP/1.1 ",
        });
        dst.extend_from_slice(self.status.as_str().as_bytes());
        dst.push(b' ');
        dst.extend_from_slice(self.status.canonical_reason().unwrap_or("").as_bytes());
        dst.extend_from_slice(b"\r\n");
        if let Some(date) = self.date {
            if is_valid_field(b"Date", date) {
                push_field(dst, b"Date", date);
            }
        }
        let framed = self.body != BodyLength::None;
        let has_date = self.date.is_some();
        push_fields(dst, self.headers, |name| {
            (framed && is_framing_field(name)) || (has_date && name.eq_ignore_ascii_case(b"date"))
        });
        push_framing(dst, self.body);
        match (self.version, self.keep_alive) {
            (Version::HTTP_10, true) => dst.extend_from_slice(b"Connection: keep-alive\r\n"),
            (Version::HTTP_10, false) => {}
            (_, false) => dst.extend_from_slice(b"Connection: close\r\n"),
            (_, true) => {}
        }
        dst.extend_from_slice(b"\r\n");
    }

    /// True if every caller field is valid (none would be skipped for its bytes).
    pub fn validate(&self) -> bool {
        self.headers.iter().all(|(n, v)| is_valid_field(n, v))
            && self.date.is_none_or(|d| is_valid_field(b"Date", d))
    }
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

/// Appends one chunk (`size-in-hex CRLF data CRLF`). An empty `data` writes nothing,
/// since a zero-size chunk would end the body.
pub fn write_chunk(dst: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    let mut hex = [0u8; 16];
    let mut i = hex.len();
    let mut n = data.len() as u64;
    loop {
        i -= 1;
        hex[i] = b"0123456789abcdef"[(n & 0xf) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    dst.extend_from_slice(&hex[i..]);
    dst.extend_from_slice(b"\r\n");
    dst.extend_from_slice(data);
    dst.extend_from_slice(b"\r\n");
}

/// Appends the last chunk, the trailer fields (invalid ones skipped) and the final
/// CRLF that ends a chunked body.
pub fn write_last_chunk(dst: &mut Vec<u8>, trailers: &[(&[u8], &[u8])]) {
    dst.extend_from_slice(b"0\r\n");
    push_fields(dst, trailers, |_| false);
    dst.extend_from_slice(b"\r\n");
}
