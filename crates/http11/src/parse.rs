//! The message-head parser (RFC 9112 §2-§6), shared by the arena and heap strategies.

use http::{Method, StatusCode, Version};
use shockwave_arena::{Arena, ArenaError};

use crate::message::{BodyFraming, HeaderRange, HeaderStore, HeapHeaders, Pair, Request, Response};
use crate::tables::{
    find_byte, skip_reg_name_bytes, skip_target_bytes, skip_token_bytes, skip_value_bytes, HOST,
    TARGET, TOKEN,
};
use crate::{Error, Limits};

/// The outcome of a parse that succeeded so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// A whole message head: the value (for parsers, the message and the number of
    /// bytes it took, including its final empty line).
    Complete(T),
    /// The buffer ends inside the head: read more bytes and parse the whole buffer again.
    Partial,
}

impl<T> Status<T> {
    /// True for [`Status::Complete`].
    pub fn is_complete(&self) -> bool {
        matches!(self, Status::Complete(_))
    }

    /// True for [`Status::Partial`].
    pub fn is_partial(&self) -> bool {
        matches!(self, Status::Partial)
    }

    /// The complete value, if any.
    pub fn complete(self) -> Option<T> {
        match self {
            Status::Complete(t) => Some(t),
            Status::Partial => None,
        }
    }
}

/// Where parsed header fields go.
pub(crate) trait Sink<'a> {
    fn push(
        &mut self,
        buf: &'a [u8],
        name: (usize, usize),
        value: (usize, usize),
    ) -> Result<(), Error>;
}

/// How many fields the arena strategy's first pass stores; a head with more is
/// parsed a second time into an exact-size arena slice.
const INLINE_FIELDS: usize = 16;

/// The arena strategy's first pass: the offsets of up to [`INLINE_FIELDS`] fields on
/// the stack, and a count of all fields. The arena is touched only once the head is
/// complete (one exact-size slice), so a client trickling a head byte by byte cannot
/// grow it, and no growable vector is set up per request.
struct Inline {
    ranges: [HeaderRange; INLINE_FIELDS],
    /// How many `ranges` may be used: 0 when offsets do not fit `u32` (a buffer past
    /// 4 GiB), which sends every head to the second pass.
    cap: usize,
    len: usize,
    total: usize,
}

impl<'a> Sink<'a> for Inline {
    #[inline(always)]
    fn push(
        &mut self,
        _buf: &'a [u8],
        name: (usize, usize),
        value: (usize, usize),
    ) -> Result<(), Error> {
        if self.len < self.cap {
            if let Some(slot) = self.ranges.get_mut(self.len) {
                // `cap` is non-zero only when every offset fits `u32`.
                *slot = HeaderRange {
                    name_start: name.0 as u32,
                    name_end: name.1 as u32,
                    value_start: value.0 as u32,
                    value_end: value.1 as u32,
                };
                self.len += 1;
            }
        }
        self.total += 1;
        Ok(())
    }
}

/// The second pass for heads with more than [`INLINE_FIELDS`] fields: fills an
/// exact-size arena slice.
struct Fill<'s, 'a> {
    slots: &'s mut [Pair<'a>],
    len: usize,
}

impl<'a> Sink<'a> for Fill<'_, 'a> {
    #[inline]
    fn push(
        &mut self,
        buf: &'a [u8],
        name: (usize, usize),
        value: (usize, usize),
    ) -> Result<(), Error> {
        // The second pass sees exactly the fields the first one counted.
        let slot = self.slots.get_mut(self.len).ok_or(Error::TooManyHeaders)?;
        *slot = (&buf[name.0..name.1], &buf[value.0..value.1]);
        self.len += 1;
        Ok(())
    }
}

fn arena_error(arena: &Arena, requested: usize) -> Error {
    Error::Arena(match arena.allocation_limit() {
        Some(limit) => ArenaError::LimitExceeded { limit, requested },
        None => ArenaError::OutOfMemory { requested },
    })
}

/// Parses the header section at `pos` into an exact-size slice in `arena`.
#[inline(always)]
fn fields_in_arena<'a>(
    buf: &'a [u8],
    pos: usize,
    limits: &Limits,
    arena: &'a Arena,
    facts: &mut Facts<'a>,
) -> Result<Status<(&'a [Pair<'a>], usize)>, Error> {
    let bounds = FieldBounds::head(limits);
    let mut inline = Inline {
        ranges: [HeaderRange::default(); INLINE_FIELDS],
        cap: if u32::try_from(buf.len()).is_ok() {
            INLINE_FIELDS
        } else {
            0
        },
        len: 0,
        total: 0,
    };
    let end = match parse_fields(buf, pos, bounds, &mut inline, Some(facts))? {
        Status::Complete(end) => end,
        Status::Partial => return Ok(Status::Partial),
    };
    // Borrowed, not moved: the offsets array is 256 bytes.
    let (ranges, len, total) = (&inline.ranges, inline.len, inline.total);
    if total == len {
        let pairs = arena
            .bump()
            .try_alloc_slice_fill_with(len, |i| ranges[i].resolve(buf))
            .map_err(|_| arena_error(arena, len * std::mem::size_of::<Pair<'a>>()))?;
        return Ok(Status::Complete((pairs, end)));
    }
    let empty: Pair<'a> = (&[], &[]);
    let slots = arena
        .bump()
        .try_alloc_slice_fill_copy(total, empty)
        .map_err(|_| arena_error(arena, total * std::mem::size_of::<Pair<'a>>()))?;
    let mut fill = Fill { slots, len: 0 };
    parse_fields(buf, pos, bounds, &mut fill, None)?;
    let Fill { slots, len } = fill;
    Ok(Status::Complete((&slots[..len], end)))
}

impl<'a> Sink<'a> for Vec<HeaderRange> {
    #[inline]
    fn push(
        &mut self,
        _buf: &'a [u8],
        name: (usize, usize),
        value: (usize, usize),
    ) -> Result<(), Error> {
        // Offsets are u32; a header section past 4 GiB is far beyond any sane limit.
        let cvt = |x: usize| u32::try_from(x).map_err(|_| Error::HeadersTooLarge);
        Vec::push(
            self,
            HeaderRange {
                name_start: cvt(name.0)?,
                name_end: cvt(name.1)?,
                value_start: cvt(value.0)?,
                value_end: cvt(value.1)?,
            },
        );
        Ok(())
    }
}

/// A sink that only validates (trailers).
pub(crate) struct Discard;

impl<'a> Sink<'a> for Discard {
    #[inline]
    fn push(&mut self, _: &'a [u8], _: (usize, usize), _: (usize, usize)) -> Result<(), Error> {
        Ok(())
    }
}

/// Facts from the header fields that framing and connection management depend on.
#[derive(Default)]
pub(crate) struct Facts<'a> {
    content_length: Option<u64>,
    cl_values: u32,
    te: Option<TeFacts>,
    conn_close: bool,
    conn_keep_alive: bool,
    conn_upgrade: bool,
    expect_continue: bool,
    /// An `Expect` field with a value other than `100-continue`.
    expect_other: bool,
    upgrade: Option<&'a [u8]>,
    http2_settings: Option<&'a [u8]>,
    http2_settings_count: u32,
    host: Option<&'a [u8]>,
    host_count: u32,
}

#[derive(Default, Clone, Copy)]
struct TeFacts {
    codings: u32,
    chunked: u32,
    last_chunked: bool,
    unknown: bool,
    other_known: bool,
}

/// ASCII case-insensitive equality of a field name or value with `lit`, a literal of
/// lowercase letters, digits and `-`, without an early exit (so it unrolls).
///
/// `b | 0x20 == c` holds for a lowercase letter `c` only if `b` is `c` or its
/// uppercase, and for a digit or `-` only if `b` is that byte or a control byte 0x20
/// below it; field names (tokens) and values never hold control bytes here (HTAB aside,
/// and 0x09 | 0x20 is `)`), so the comparison is exact.
#[inline(always)]
fn eq_lower(s: &[u8], lit: &[u8]) -> bool {
    debug_assert!(lit
        .iter()
        .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-'));
    s.len() == lit.len()
        && s.iter()
            .zip(lit)
            .fold(0u8, |acc, (&b, &c)| acc | ((b | 0x20) ^ c))
            == 0
}

#[inline]
fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Iterates over the non-empty elements of a comma-separated list (RFC 9110 §5.6.1).
#[inline]
fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

/// True if the comma-separated `list` has an element equal to `token` (ASCII
/// case-insensitive), ignoring any `/version` or `;params` suffix.
pub(crate) fn list_contains(list: &[u8], token: &[u8]) -> bool {
    list_elements(list).any(|e| {
        let end = e
            .iter()
            .position(|&b| b == b'/' || b == b';')
            .unwrap_or(e.len());
        trim_ows(&e[..end]).eq_ignore_ascii_case(token)
    })
}

impl<'a> Facts<'a> {
    /// Looks at one field; the inline pre-check rejects most names by length and first
    /// letter without a call.
    #[inline(always)]
    fn observe(&mut self, name: &[u8], value: &'a [u8]) -> Result<(), Error> {
        let first = name[0] | 0x20;
        let maybe = match name.len() {
            4 => first == b'h',
            6 => first == b'e',
            7 => first == b'u',
            10 | 14 => first == b'c' || first == b'h',
            17 => first == b't',
            _ => false,
        };
        if maybe {
            self.observe_named(name, value)
        } else {
            Ok(())
        }
    }

    #[inline(never)]
    fn observe_named(&mut self, name: &[u8], value: &'a [u8]) -> Result<(), Error> {
        match name.len() {
            4 if eq_lower(name, b"host") => {
                self.host_count += 1;
                self.host = Some(value);
            }
            6 if eq_lower(name, b"expect") => {
                if eq_lower(value, b"100-continue") {
                    self.expect_continue = true;
                } else {
                    self.expect_other = true;
                }
            }
            7 if eq_lower(name, b"upgrade") => self.upgrade = Some(value),
            10 if eq_lower(name, b"connection") => {
                // The common single-option values without list splitting.
                if eq_lower(value, b"keep-alive") {
                    self.conn_keep_alive = true;
                } else if eq_lower(value, b"close") {
                    self.conn_close = true;
                } else {
                    self.connection_list(value);
                }
            }
            14 if eq_lower(name, b"content-length") => self.content_length(value)?,
            14 if eq_lower(name, b"http2-settings") => {
                self.http2_settings_count += 1;
                self.http2_settings = Some(value);
            }
            17 if eq_lower(name, b"transfer-encoding") => self.transfer_encoding(value)?,
            _ => {}
        }
        Ok(())
    }

    /// `Connection` options (RFC 9110 §7.6.1).
    fn connection_list(&mut self, value: &[u8]) {
        for opt in list_elements(value) {
            if opt.eq_ignore_ascii_case(b"close") {
                self.conn_close = true;
            } else if opt.eq_ignore_ascii_case(b"keep-alive") {
                self.conn_keep_alive = true;
            } else if opt.eq_ignore_ascii_case(b"upgrade") {
                self.conn_upgrade = true;
            }
        }
    }

    /// RFC 9110 §8.6: `Content-Length = 1*DIGIT`; a list of values is tolerated only
    /// when they are identical (and then only in responses, checked later).
    fn content_length(&mut self, value: &[u8]) -> Result<(), Error> {
        let mut any = false;
        for elem in value.split(|&b| b == b',') {
            let elem = trim_ows(elem);
            if elem.is_empty() {
                return Err(Error::InvalidContentLength);
            }
            let mut n: u64 = 0;
            for &b in elem {
                if !b.is_ascii_digit() {
                    return Err(Error::InvalidContentLength);
                }
                n = n
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(u64::from(b - b'0')))
                    .ok_or(Error::ContentLengthOverflow)?;
            }
            match self.content_length {
                Some(prev) if prev != n => return Err(Error::ConflictingContentLength),
                _ => self.content_length = Some(n),
            }
            self.cl_values += 1;
            any = true;
        }
        if !any {
            return Err(Error::InvalidContentLength);
        }
        Ok(())
    }

    /// RFC 9112 §6.1 / §7: a list of transfer codings, `chunked` at most once.
    fn transfer_encoding(&mut self, value: &[u8]) -> Result<(), Error> {
        let te = self.te.get_or_insert_with(TeFacts::default);
        if eq_lower(value, b"chunked") {
            // The common case, without list splitting.
            te.codings += 1;
            te.chunked += 1;
            te.last_chunked = true;
            return Ok(());
        }
        for elem in list_elements(value) {
            let coding = match elem.iter().position(|&b| b == b';') {
                Some(i) => trim_ows(&elem[..i]),
                None => elem,
            };
            if coding.is_empty() || !coding.iter().all(|&b| TOKEN[b as usize]) {
                return Err(Error::InvalidTransferEncoding);
            }
            te.codings += 1;
            if coding.eq_ignore_ascii_case(b"chunked") {
                te.chunked += 1;
                te.last_chunked = true;
            } else {
                te.last_chunked = false;
                const KNOWN: [&[u8]; 5] =
                    [b"gzip", b"x-gzip", b"deflate", b"compress", b"x-compress"];
                if KNOWN.iter().any(|k| coding.eq_ignore_ascii_case(k)) {
                    te.other_known = true;
                } else {
                    te.unknown = true;
                }
            }
        }
        Ok(())
    }

    fn check_te_common(&self, version: Version) -> Result<Option<TeFacts>, Error> {
        let Some(te) = self.te else { return Ok(None) };
        if version == Version::HTTP_10 {
            return Err(Error::TransferEncodingInHttp10);
        }
        if te.codings == 0 || te.chunked > 1 {
            return Err(Error::InvalidTransferEncoding);
        }
        Ok(Some(te))
    }

    fn keep_alive(&self, version: Version) -> bool {
        !self.conn_close && (version == Version::HTTP_11 || self.conn_keep_alive)
    }
}

#[inline(always)]
fn more<T>(end: usize, len: usize, err: Error) -> Result<Status<T>, Error> {
    if end < len {
        Err(err)
    } else {
        Ok(Status::Partial)
    }
}

/// Skips empty lines before a start line (RFC 9112 §2.2: a server SHOULD ignore at
/// least one). Returns the start-line offset, or `None` if the buffer ends inside them.
#[inline]
fn skip_empty_lines(buf: &[u8], limits: &Limits) -> Result<Option<usize>, Error> {
    let mut pos = 0;
    loop {
        match buf.get(pos) {
            Some(b'\r') => match buf.get(pos + 1) {
                Some(b'\n') => pos += 2,
                Some(_) => return Err(Error::BareCr),
                None => return Ok(None),
            },
            Some(b'\n') if limits.allow_bare_lf => pos += 1,
            Some(b'\n') => return Err(Error::BareLf),
            _ => return Ok(Some(pos)),
        }
        if pos > limits.max_request_line {
            return Err(Error::RequestLineTooLong);
        }
    }
}

/// Parses `HTTP/x.y` (case-sensitive, RFC 9112 §2.3).
#[inline(always)]
fn parse_version(v: &[u8]) -> Result<Version, Error> {
    // The two versions as whole words: one compare each instead of a byte-wise match.
    const V11: u64 = u64::from_le_bytes(*b"HTTP/1.1");
    const V10: u64 = u64::from_le_bytes(*b"HTTP/1.0");
    if let Ok(w) = <[u8; 8]>::try_from(v) {
        match u64::from_le_bytes(w) {
            V11 => return Ok(Version::HTTP_11),
            V10 => return Ok(Version::HTTP_10),
            _ => {}
        }
    }
    match v {
        [b'H', b'T', b'T', b'P', b'/', a, b'.', b] if a.is_ascii_digit() && b.is_ascii_digit() => {
            Err(Error::UnsupportedVersion)
        }
        _ => Err(Error::InvalidVersion),
    }
}

/// A CRLF (or bare LF if allowed) at `pos`, for chunk data ends.
#[inline]
pub(crate) fn line_end_at(
    buf: &[u8],
    pos: usize,
    allow_bare_lf: bool,
) -> Result<Option<usize>, Error> {
    line_end(buf, pos, allow_bare_lf, Error::InvalidChunkTerminator)
}

/// Parses a line end at `pos`: `Ok(Some(next))`, `Ok(None)` if the buffer ends first.
#[inline(always)]
fn line_end(
    buf: &[u8],
    pos: usize,
    allow_bare_lf: bool,
    other: Error,
) -> Result<Option<usize>, Error> {
    match buf.get(pos) {
        Some(b'\r') => match buf.get(pos + 1) {
            Some(b'\n') => Ok(Some(pos + 2)),
            Some(_) => Err(Error::BareCr),
            None => Ok(None),
        },
        Some(b'\n') if allow_bare_lf => Ok(Some(pos + 1)),
        Some(b'\n') => Err(Error::BareLf),
        Some(_) => Err(other),
        None => Ok(None),
    }
}

/// The bounds of one field section.
#[derive(Clone, Copy)]
pub(crate) struct FieldBounds {
    /// Most bytes the section may take, final empty line included.
    pub(crate) max_bytes: usize,
    /// Most field lines.
    pub(crate) max_fields: usize,
    /// Accept LF line ends.
    pub(crate) allow_bare_lf: bool,
    /// The error for exceeding `max_bytes`.
    pub(crate) too_large: Error,
}

impl FieldBounds {
    fn head(limits: &Limits) -> Self {
        FieldBounds {
            max_bytes: limits.max_header_bytes,
            max_fields: limits.max_headers,
            allow_bare_lf: limits.allow_bare_lf,
            too_large: Error::HeadersTooLarge,
        }
    }
}

/// Parses header field lines from `pos` through the empty line that ends the section
/// (RFC 9112 §5). Returns the offset just past that empty line.
#[inline(always)]
pub(crate) fn parse_fields<'a, S: Sink<'a>>(
    buf: &'a [u8],
    mut pos: usize,
    bounds: FieldBounds,
    sink: &mut S,
    mut facts: Option<&mut Facts<'a>>,
) -> Result<Status<usize>, Error> {
    let FieldBounds {
        max_bytes,
        max_fields,
        allow_bare_lf,
        too_large,
    } = bounds;
    let len = buf.len();
    let end = len.min(pos.saturating_add(max_bytes));
    let mut count = 0usize;
    loop {
        if pos >= end {
            return more(end, len, too_large);
        }
        match buf[pos] {
            b'\r' => {
                if pos + 1 >= end {
                    return more(end, len, too_large);
                }
                if buf[pos + 1] == b'\n' {
                    return Ok(Status::Complete(pos + 2));
                }
                return Err(Error::BareCr);
            }
            b'\n' if allow_bare_lf => return Ok(Status::Complete(pos + 1)),
            b'\n' => return Err(Error::BareLf),
            _ => {}
        }
        // field-name ":" OWS field-value OWS
        let name_start = pos;
        let i = skip_token_bytes(buf, pos, end);
        if i >= end {
            return more(end, len, too_large);
        }
        if buf[i] != b':' {
            return Err(match buf[i] {
                b' ' | b'\t' if i == name_start => Error::ObsFold,
                b' ' | b'\t' => Error::WhitespaceBeforeColon,
                _ => Error::InvalidHeaderName,
            });
        }
        if i == name_start {
            return Err(Error::InvalidHeaderName);
        }
        count += 1;
        if count > max_fields {
            return Err(Error::TooManyHeaders);
        }
        // The value is scanned from just after the colon (OWS is SP / HTAB, which the
        // scan passes like any value byte), then trimmed on both sides.
        let mut j = i + 1;
        let (value_end, next) = loop {
            j = skip_value_bytes(buf, j, end);
            if j >= end {
                return more(end, len, too_large);
            }
            match buf[j] {
                b'\t' => j += 1,
                b'\r' => {
                    if j + 1 >= end {
                        return more(end, len, too_large);
                    }
                    if buf[j + 1] == b'\n' {
                        break (j, j + 2);
                    }
                    return Err(Error::BareCr);
                }
                b'\n' if allow_bare_lf => break (j, j + 1),
                b'\n' => return Err(Error::BareLf),
                _ => return Err(Error::InvalidHeaderValue),
            }
        };
        let mut value = &buf[i + 1..value_end];
        while let [rest @ .., b' ' | b'\t'] = value {
            value = rest;
        }
        let value_end = i + 1 + value.len();
        while let [b' ' | b'\t', rest @ ..] = value {
            value = rest;
        }
        let value_start = value_end - value.len();
        if let Some(facts) = facts.as_deref_mut() {
            facts.observe(&buf[name_start..i], &buf[value_start..value_end])?;
        }
        sink.push(buf, (name_start, i), (value_start, value_end))?;
        pos = next;
    }
}

#[inline(always)]
fn parse_method(m: &[u8]) -> Result<Method, Error> {
    Ok(match m {
        b"GET" => Method::GET,
        b"POST" => Method::POST,
        b"PUT" => Method::PUT,
        b"HEAD" => Method::HEAD,
        b"DELETE" => Method::DELETE,
        b"OPTIONS" => Method::OPTIONS,
        b"PATCH" => Method::PATCH,
        b"CONNECT" => Method::CONNECT,
        b"TRACE" => Method::TRACE,
        other => Method::from_bytes(other).map_err(|_| Error::InvalidMethod)?,
    })
}

/// Splits and checks a request-target by form (RFC 9112 §3.2). Returns (path, query).
#[inline(never)]
fn split_target<'a>(method: &Method, target: &'a str) -> Result<(&'a str, Option<&'a str>), Error> {
    let bytes = target.as_bytes();
    // A word-at-a-time search beats a memchr call on typical (short) targets.
    let split_query = |s: &'a str| match find_byte(s.as_bytes(), b'?') {
        Some(q) => (&s[..q], Some(&s[q + 1..])),
        None => (s, None),
    };
    if *method == Method::CONNECT {
        // authority-form only: host ":" port, no path.
        if bytes[0] == b'/'
            || bytes
                .iter()
                .any(|&b| matches!(b, b'/' | b'?' | b'#' | b'@'))
        {
            return Err(Error::InvalidTarget);
        }
        return Ok((target, None));
    }
    match bytes[0] {
        b'/' => Ok(split_query(target)),
        b'*' if bytes.len() == 1 && *method == Method::OPTIONS => Ok((target, None)),
        b'*' => Err(Error::InvalidTarget),
        c if c.is_ascii_alphabetic() => {
            // absolute-form: scheme ":" hier-part
            let colon = bytes
                .iter()
                .position(|&b| b == b':')
                .ok_or(Error::InvalidTarget)?;
            if !bytes[..colon]
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
            {
                return Err(Error::InvalidTarget);
            }
            let rest = &target[colon + 1..];
            let after_authority = match rest.strip_prefix("//") {
                Some(auth) => match auth.find(['/', '?']) {
                    Some(p) => &auth[p..],
                    None => "",
                },
                None => rest,
            };
            let (path, query) = split_query(after_authority);
            Ok((if path.is_empty() { "/" } else { path }, query))
        }
        _ => Err(Error::InvalidTarget),
    }
}

/// The longest request method accepted (bytes). The longest registered method
/// (`UPDATEREDIRECTREF`, RFC 3253) has 17; a longer token gets
/// [`Error::MethodTooLong`] (501: not a method this server implements), never 414,
/// which RFC 9110 §15.5.15 reserves for the target.
pub const MAX_METHOD_LEN: usize = 64;

/// A `Host` value: `uri-host [ ":" port ]` (RFC 9112 §3.2, RFC 3986 §3.2.2): a
/// non-empty reg-name or IPv4 address, or an IP-literal in brackets, then an optional
/// port of digits. An empty value is invalid: every `http`/`https` target has a host
/// (RFC 9110 §4.2.1, §4.2.2), and RFC 9112 §3.2 answers an invalid Host with 400.
fn valid_host(host: &[u8]) -> bool {
    // reg-name or IPv4 (nearly every request): one table-driven pass over the name,
    // then the port digits.
    if host.first() != Some(&b'[') {
        let i = skip_reg_name_bytes(host, 0, host.len());
        return i > 0
            && match &host[i..] {
                [] => true,
                [b':', port @ ..] => port.iter().all(u8::is_ascii_digit),
                _ => false,
            };
    }
    // IP-literal: `[` ... `]` with at least one byte inside, then the optional port.
    let Some(close) = host.iter().position(|&b| b == b']') else {
        return false;
    };
    let literal_ok = close > 1
        && host[1..close]
            .iter()
            .all(|&b| HOST[b as usize] && b != b'[' && b != b']');
    literal_ok
        && match &host[close + 1..] {
            [] => true,
            [b':', port @ ..] => port.iter().all(u8::is_ascii_digit),
            _ => false,
        }
}

/// An absolute-form target's authority must agree with the `Host` field (RFC 9112
/// §3.2.2 lets a server ignore Host and use the target; answering 400 instead keeps a
/// proxy that routes by Host and a handler that reads it from seeing two different
/// hosts). Userinfo in the authority is an error (RFC 9110 §4.2.4). The ports are
/// compared after dropping the scheme's default port (`:80`, `:443`).
fn check_absolute_authority(target: &str, host: Option<&[u8]>) -> Result<(), Error> {
    let Some(colon) = target.find(':') else {
        return Ok(());
    };
    let scheme = &target[..colon];
    let Some(rest) = target[colon + 1..].strip_prefix("//") else {
        return Ok(());
    };
    let authority = match rest.find(['/', '?']) {
        Some(end) => &rest[..end],
        None => rest,
    };
    if authority.contains('@') {
        return Err(Error::InvalidTarget);
    }
    let default_port: &[u8] = if scheme.eq_ignore_ascii_case("https") {
        b":443"
    } else if scheme.eq_ignore_ascii_case("http") {
        b":80"
    } else {
        b""
    };
    let strip = |a: &'_ [u8]| -> usize {
        if !default_port.is_empty() && a.ends_with(default_port) {
            a.len() - default_port.len()
        } else {
            a.len()
        }
    };
    let same = |h: &[u8], a: &[u8]| h[..strip(h)].eq_ignore_ascii_case(&a[..strip(a)]);
    if authority.is_empty() {
        // `http:///x`: no host at all.
        return Err(Error::InvalidTarget);
    }
    match host {
        Some(h) if same(h, authority.as_bytes()) => Ok(()),
        Some(_) => Err(Error::HostMismatch),
        // HTTP/1.0 without Host: the target's authority is the only one.
        None => Ok(()),
    }
}

struct RequestLine<'a> {
    method: Method,
    target: &'a str,
    version: Version,
}

/// `method SP request-target SP HTTP-version CRLF` (RFC 9112 §3).
#[inline(always)]
fn parse_request_line<'a>(
    buf: &'a [u8],
    limits: &Limits,
) -> Result<Status<(RequestLine<'a>, usize)>, Error> {
    let Some(start) = skip_empty_lines(buf, limits)? else {
        return Ok(Status::Partial);
    };
    let len = buf.len();
    let line_limit = start.saturating_add(limits.max_request_line);
    let end = len.min(line_limit);
    // `GET ` (nearly every request) in one word compare; the token scan below would
    // stop at the same space, with the same (no) error.
    let get = buf.get(start..start + 4) == Some(b"GET ".as_slice()) && start + 4 <= end;
    let m_end = if get {
        start + 3
    } else {
        // The method is bounded on its own: a long method is not a long target (414).
        let m_limit = end.min(start.saturating_add(MAX_METHOD_LEN + 1));
        let m_end = skip_token_bytes(buf, start, m_limit);
        if m_end >= m_limit {
            if m_end - start > MAX_METHOD_LEN || m_end >= line_limit {
                return Err(Error::MethodTooLong);
            }
            return Ok(Status::Partial);
        }
        if buf[m_end] != b' ' || m_end == start {
            return Err(Error::InvalidMethod);
        }
        m_end
    };
    let t_start = m_end + 1;
    let t_end = skip_target_bytes(buf, t_start, end);
    if t_end >= end {
        return more(end, len, Error::RequestLineTooLong);
    }
    if buf[t_end] != b' ' {
        return Err(match buf[t_end] {
            b'\r' | b'\n' if t_end > t_start => Error::InvalidVersion,
            _ => Error::InvalidTarget,
        });
    }
    if t_end == t_start {
        return Err(Error::InvalidTarget);
    }
    // RFC 9112 §3.2: a request-target has no fragment, and `\` is not a URI character
    // (RFC 3986 §2); both confuse path matching between a proxy and a server.
    if buf[t_start..t_end].iter().any(|&b| b == b'#' || b == b'\\') {
        return Err(Error::InvalidTarget);
    }
    let v_start = t_end + 1;
    let v_end = v_start + 8;
    if v_end > line_limit {
        return Err(Error::RequestLineTooLong);
    }
    if v_end > len {
        if !b"HTTP/".starts_with(&buf[v_start..len.min(v_start + 5)]) {
            return Err(Error::InvalidVersion);
        }
        return Ok(Status::Partial);
    }
    let version = parse_version(&buf[v_start..v_end])?;
    let Some(next) = line_end(buf, v_end, limits.allow_bare_lf, Error::InvalidVersion)? else {
        return Ok(Status::Partial);
    };
    let method = if get {
        Method::GET
    } else {
        parse_method(&buf[start..m_end])?
    };
    let target = &buf[t_start..t_end];
    debug_assert!(target.iter().all(|&b| TARGET[b as usize]));
    // SAFETY: `skip_target_bytes` stopped at the first byte outside `TARGET` (visible
    // ASCII, 0x21..=0x7E), so every byte of `target` is ASCII, which is valid UTF-8.
    // Tested by `target_bytes_outside_visible_ascii_are_refused` and every parse test.
    let target = unsafe { std::str::from_utf8_unchecked(target) };
    Ok(Status::Complete((
        RequestLine {
            method,
            target,
            version,
        },
        next,
    )))
}

/// Checks the request's framing and connection fields (RFC 9112 §3.2, §6, §9.3) and
/// builds the complete result (the head took `end` bytes).
#[inline(always)]
fn finish_request<'a>(
    line: RequestLine<'a>,
    facts: Facts<'a>,
    headers: HeaderStore<'a>,
    end: usize,
) -> Result<Status<(Request<'a>, usize)>, Error> {
    let RequestLine {
        method,
        target,
        version,
    } = line;
    let framing = match facts.check_te_common(version)? {
        Some(te) => {
            if facts.cl_values > 0 {
                return Err(Error::ContentLengthWithTransferEncoding);
            }
            if !te.last_chunked {
                return Err(Error::TransferEncodingNotChunked);
            }
            if te.unknown {
                return Err(Error::UnknownTransferCoding);
            }
            if te.other_known {
                return Err(Error::UnsupportedTransferCoding);
            }
            BodyFraming::Chunked
        }
        None => match facts.content_length {
            Some(_) if facts.cl_values > 1 => return Err(Error::DuplicateContentLength),
            Some(n) => BodyFraming::Length(n),
            None => BodyFraming::Empty,
        },
    };
    match facts.host_count {
        0 if version == Version::HTTP_11 => return Err(Error::MissingHost),
        0 | 1 => {}
        _ => return Err(Error::DuplicateHost),
    }
    if let Some(host) = facts.host {
        if !valid_host(host) {
            return Err(Error::InvalidHost);
        }
    }
    // origin-form, nearly every request, inline; the other forms out of line.
    let (path, query) = if target.as_bytes()[0] == b'/' && method != Method::CONNECT {
        match find_byte(target.as_bytes(), b'?') {
            Some(q) => (&target[..q], Some(&target[q + 1..])),
            None => (target, None),
        }
    } else {
        let split = split_target(&method, target)?;
        if method != Method::CONNECT {
            check_absolute_authority(target, facts.host)?;
        }
        split
    };
    let is_11 = version == Version::HTTP_11;
    let upgrade = if is_11 && facts.conn_upgrade {
        facts.upgrade
    } else {
        None
    };
    let http2_settings = if facts.http2_settings_count == 1 {
        facts.http2_settings
    } else {
        None
    };
    let h2c = http2_settings.is_some() && upgrade.is_some_and(|u| list_contains(u, b"h2c"));
    // Built in the caller's result (the request is ~200 bytes): no move through an
    // intermediate `Result<Request>`.
    Ok(Status::Complete((
        Request {
            method,
            target,
            path,
            query,
            version,
            keep_alive: facts.keep_alive(version),
            expect_continue: is_11 && facts.expect_continue,
            unsupported_expectation: facts.expect_other,
            h2c,
            host: facts.host,
            upgrade,
            upgrade_field: facts.upgrade.is_some(),
            http2_settings,
            headers,
            framing,
        },
        end,
    )))
}

/// Parses a request head from `buf` into `arena` (RFC 9112 §2-§6).
///
/// Returns the request and the number of bytes its head took; the body (if
/// [`Request::framing`] says there is one) starts right after. Returns
/// [`Status::Partial`] if `buf` ends inside the head: read more and call again with the
/// whole buffer. Parsing is all-or-nothing and deterministic, so a head split at any
/// byte parses identically once complete, and pipelined requests parse one after the
/// other from successive offsets.
///
/// Method, target, header names and values borrow `buf`; the list of header fields is
/// an exact-size slice in `arena`, allocated only once the head is complete (partial
/// parses never touch the arena).
pub fn parse_request<'a>(
    buf: &'a [u8],
    arena: &'a Arena,
    limits: &Limits,
) -> Result<Status<(Request<'a>, usize)>, Error> {
    let (line, pos) = match parse_request_line(buf, limits)? {
        Status::Complete(x) => x,
        Status::Partial => return Ok(Status::Partial),
    };
    let mut facts = Facts::default();
    let (pairs, end) = match fields_in_arena(buf, pos, limits, arena, &mut facts)? {
        Status::Complete(x) => x,
        Status::Partial => return Ok(Status::Partial),
    };
    finish_request(line, facts, HeaderStore::Arena(pairs), end)
}

/// [`parse_request`] with the heap strategy: header offsets go into the reusable
/// `headers` (cleared first), so no arena is needed and a warm `HeapHeaders` makes
/// parsing allocation-free.
pub fn parse_request_heap<'a>(
    buf: &'a [u8],
    headers: &'a mut HeapHeaders,
    limits: &Limits,
) -> Result<Status<(Request<'a>, usize)>, Error> {
    headers.ranges.clear();
    let (line, pos) = match parse_request_line(buf, limits)? {
        Status::Complete(x) => x,
        Status::Partial => return Ok(Status::Partial),
    };
    let mut facts = Facts::default();
    let end = match parse_fields(
        buf,
        pos,
        FieldBounds::head(limits),
        &mut headers.ranges,
        Some(&mut facts),
    )? {
        Status::Complete(end) => end,
        Status::Partial => return Ok(Status::Partial),
    };
    let headers: &'a HeapHeaders = headers;
    let store = HeaderStore::Heap {
        buf,
        ranges: &headers.ranges,
    };
    finish_request(line, facts, store, end)
}

struct StatusLine<'a> {
    version: Version,
    status: StatusCode,
    reason: &'a str,
}

/// `HTTP-version SP status-code SP [ reason-phrase ] CRLF` (RFC 9112 §4). A missing
/// SP after the code is tolerated, as §4 recommends.
#[inline]
fn parse_status_line<'a>(
    buf: &'a [u8],
    limits: &Limits,
) -> Result<Status<(StatusLine<'a>, usize)>, Error> {
    let Some(start) = skip_empty_lines(buf, limits)? else {
        return Ok(Status::Partial);
    };
    let len = buf.len();
    let line_limit = start.saturating_add(limits.max_request_line);
    if len < start + 13 {
        let have = &buf[start..];
        let n = have.len().min(5);
        if have[..n] != b"HTTP/"[..n] {
            return Err(Error::InvalidVersion);
        }
        return Ok(Status::Partial);
    }
    let version = parse_version(&buf[start..start + 8])?;
    if buf[start + 8] != b' ' {
        return Err(Error::InvalidVersion);
    }
    let digits = &buf[start + 9..start + 12];
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(Error::InvalidStatus);
    }
    let code = digits
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    let status = StatusCode::from_u16(code).map_err(|_| Error::InvalidStatus)?;
    let (reason_start, reason_end) = match buf[start + 12] {
        b' ' => {
            let r = start + 13;
            let end = len.min(line_limit);
            let mut j = r;
            loop {
                j = skip_value_bytes(buf, j, end);
                if j >= end {
                    return more(end, len, Error::RequestLineTooLong);
                }
                match buf[j] {
                    b'\t' => j += 1,
                    b'\r' | b'\n' => break (r, j),
                    _ => return Err(Error::InvalidHeaderValue),
                }
            }
        }
        b'\r' | b'\n' => (start + 12, start + 12),
        _ => return Err(Error::InvalidStatus),
    };
    let Some(next) = line_end(buf, reason_end, limits.allow_bare_lf, Error::InvalidStatus)? else {
        return Ok(Status::Partial);
    };
    let reason = std::str::from_utf8(&buf[reason_start..reason_end]).unwrap_or("");
    Ok(Status::Complete((
        StatusLine {
            version,
            status,
            reason,
        },
        next,
    )))
}

fn finish_response<'a>(
    line: StatusLine<'a>,
    facts: Facts<'a>,
    headers: HeaderStore<'a>,
) -> Result<Response<'a>, Error> {
    let StatusLine {
        version,
        status,
        reason,
    } = line;
    let te = facts.check_te_common(version)?;
    if te.is_some_and(|te| te.unknown) {
        return Err(Error::UnknownTransferCoding);
    }
    // RFC 9112 §6.3 item 3: Transfer-Encoding overrides Content-Length, and such a
    // message must not be followed by another on the same connection.
    let suspicious = te.is_some_and(|te| facts.cl_values > 0 || !te.last_chunked);
    Ok(Response {
        status,
        reason,
        version,
        headers,
        te_chunked: te.map(|te| te.last_chunked),
        content_length: facts.content_length,
        keep_alive: facts.keep_alive(version) && !suspicious,
    })
}

/// Parses a response head from `buf` into `arena` (RFC 9112 §4-§6). See
/// [`parse_request`] for the contract; use [`Response::framing`] with the request's
/// method to learn how the body is delimited.
pub fn parse_response<'a>(
    buf: &'a [u8],
    arena: &'a Arena,
    limits: &Limits,
) -> Result<Status<(Response<'a>, usize)>, Error> {
    let (line, pos) = match parse_status_line(buf, limits)? {
        Status::Complete(x) => x,
        Status::Partial => return Ok(Status::Partial),
    };
    let mut facts = Facts::default();
    let (pairs, end) = match fields_in_arena(buf, pos, limits, arena, &mut facts)? {
        Status::Complete(x) => x,
        Status::Partial => return Ok(Status::Partial),
    };
    let resp = finish_response(line, facts, HeaderStore::Arena(pairs))?;
    Ok(Status::Complete((resp, end)))
}

/// [`parse_response`] with the heap strategy (see [`parse_request_heap`]).
pub fn parse_response_heap<'a>(
    buf: &'a [u8],
    headers: &'a mut HeapHeaders,
    limits: &Limits,
) -> Result<Status<(Response<'a>, usize)>, Error> {
    headers.ranges.clear();
    let (line, pos) = match parse_status_line(buf, limits)? {
        Status::Complete(x) => x,
        Status::Partial => return Ok(Status::Partial),
    };
    let mut facts = Facts::default();
    let end = match parse_fields(
        buf,
        pos,
        FieldBounds::head(limits),
        &mut headers.ranges,
        Some(&mut facts),
    )? {
        Status::Complete(end) => end,
        Status::Partial => return Ok(Status::Partial),
    };
    let headers: &'a HeapHeaders = headers;
    let store = HeaderStore::Heap {
        buf,
        ranges: &headers.ranges,
    };
    let resp = finish_response(line, facts, store)?;
    Ok(Status::Complete((resp, end)))
}

#[cfg(test)]
mod tests {
    use super::{eq_lower, parse_version, valid_host};
    use crate::tables::HOST;
    use crate::Error;
    use http::Version;

    /// The byte-by-byte Host grammar check the table-driven fast path replaced.
    fn valid_host_reference(host: &[u8]) -> bool {
        let (name, rest) = if host.first() == Some(&b'[') {
            match host.iter().position(|&b| b == b']') {
                Some(close) => (&host[..=close], &host[close + 1..]),
                None => return false,
            }
        } else {
            match host.iter().position(|&b| b == b':') {
                Some(colon) => (&host[..colon], &host[colon..]),
                None => (host, &host[host.len()..]),
            }
        };
        let name_ok = if name.first() == Some(&b'[') {
            name.len() > 2
                && name[1..name.len() - 1]
                    .iter()
                    .all(|&b| HOST[b as usize] && b != b'[' && b != b']')
        } else {
            !name.is_empty()
                && name
                    .iter()
                    .all(|&b| HOST[b as usize] && !matches!(b, b':' | b'[' | b']'))
        };
        let port_ok = match rest {
            [] => true,
            [b':', port @ ..] => port.iter().all(u8::is_ascii_digit),
            _ => false,
        };
        name_ok && port_ok
    }

    /// The fast `valid_host` agrees with the reference on every byte at every position
    /// of names shorter than, as long as, and longer than one 8-byte block, with and
    /// without a port.
    #[test]
    fn valid_host_matches_the_reference() {
        let bases: [&[u8]; 10] = [
            b"h",
            b"127.0.0.1",
            b"127.0.0.1:8080",
            b"example.com",
            b"a.b.c.d.e.f.g.h.example.org:443",
            b"[::1]",
            b"[::1]:80",
            b"host:",
            b"abcdefgh",
            b"abcdefgh:1",
        ];
        for base in bases {
            assert_eq!(valid_host(base), valid_host_reference(base), "{base:?}");
            for at in 0..base.len() {
                for b in 0..=255u8 {
                    let mut s = base.to_vec();
                    s[at] = b;
                    assert_eq!(valid_host(&s), valid_host_reference(&s), "{s:?}");
                }
            }
            for cut in 0..base.len() {
                let s = &base[..cut];
                assert_eq!(valid_host(s), valid_host_reference(s), "{s:?}");
            }
        }
        assert!(valid_host(b"127.0.0.1:18181"));
        assert!(!valid_host(b"127.0.0.1:18x81"));
        assert!(!valid_host(b":80"));
        assert!(!valid_host(b"a]:80"));
    }

    /// The target is taken as `str` without a UTF-8 check: every byte value at every
    /// position of a target either is refused or parses to exactly the bytes sent, and
    /// a refused one is refused whatever the method (the `GET ` word compare included).
    #[test]
    fn target_bytes_outside_visible_ascii_are_refused() {
        let arena = shockwave_arena::Arena::new();
        let limits = crate::Limits::default();
        for method in ["GET", "POST", "GETX", "G"] {
            for at in 1..4 {
                for b in 0..=255u8 {
                    let mut target = b"/abc".to_vec();
                    target[at] = b;
                    let mut req = format!("{method} ").into_bytes();
                    req.extend_from_slice(&target);
                    req.extend_from_slice(b" HTTP/1.1\r\nHost: h\r\n\r\n");
                    let visible = (0x21..=0x7e).contains(&b) && b != b'#' && b != b'\\';
                    match super::parse_request(&req, &arena, &limits) {
                        Ok(super::Status::Complete((r, n))) => {
                            assert!(visible, "{b:#x} accepted");
                            assert_eq!(n, req.len());
                            assert_eq!(r.target().as_bytes(), &target[..]);
                            assert_eq!(r.method().as_str(), method);
                        }
                        other => assert!(!visible, "{b:#x} refused: {other:?}"),
                    }
                }
            }
        }
    }

    /// The `GET ` word compare: the method is GET only for exactly those bytes, and a
    /// line limit shorter than `GET ` still refuses the line.
    #[test]
    fn get_word_compare() {
        let arena = shockwave_arena::Arena::new();
        let limits = crate::Limits::default();
        let ok = |req: &[u8]| match super::parse_request(req, &arena, &limits) {
            Ok(super::Status::Complete((r, _))) => Some(r.method().as_str().to_owned()),
            _ => None,
        };
        assert_eq!(
            ok(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n").as_deref(),
            Some("GET")
        );
        assert_eq!(
            ok(b"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n").as_deref(),
            Some("GET")
        );
        assert_eq!(
            ok(b"GETS / HTTP/1.1\r\nHost: h\r\n\r\n").as_deref(),
            Some("GETS")
        );
        assert_eq!(
            ok(b"get / HTTP/1.1\r\nHost: h\r\n\r\n").as_deref(),
            Some("get")
        );
        assert_eq!(ok(b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n"), None);
        assert!(matches!(
            super::parse_request(b"GET", &arena, &limits),
            Ok(super::Status::Partial)
        ));
        let short = crate::Limits {
            max_request_line: 3,
            ..crate::Limits::default()
        };
        assert!(
            super::parse_request(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", &arena, &short).is_err()
        );
    }

    /// The word compare accepts exactly `HTTP/1.1` and `HTTP/1.0`.
    #[test]
    fn versions_as_words() {
        assert_eq!(parse_version(b"HTTP/1.1"), Ok(Version::HTTP_11));
        assert_eq!(parse_version(b"HTTP/1.0"), Ok(Version::HTTP_10));
        assert_eq!(parse_version(b"HTTP/2.0"), Err(Error::UnsupportedVersion));
        assert_eq!(parse_version(b"http/1.1"), Err(Error::InvalidVersion));
        assert_eq!(parse_version(b"HTTP/1.1 "), Err(Error::InvalidVersion));
        for at in 0..8 {
            let mut v = *b"HTTP/1.1";
            v[at] ^= 0x20;
            assert!(parse_version(&v).is_err(), "{v:?}");
        }
    }

    /// `eq_lower` agrees with `eq_ignore_ascii_case` on every byte a field name or
    /// value can hold (no controls but HTAB), at every position of every literal used.
    #[test]
    fn eq_lower_is_exact_on_field_bytes() {
        let lits: [&[u8]; 11] = [
            b"host",
            b"expect",
            b"100-continue",
            b"upgrade",
            b"connection",
            b"keep-alive",
            b"close",
            b"content-length",
            b"http2-settings",
            b"transfer-encoding",
            b"chunked",
        ];
        let field_bytes = (0..=255u8).filter(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f));
        for lit in lits {
            assert!(eq_lower(lit, lit));
            assert!(eq_lower(&lit.to_ascii_uppercase(), lit));
            assert!(!eq_lower(&lit[1..], lit));
            for b in field_bytes.clone() {
                for at in 0..lit.len() {
                    let mut s = lit.to_vec();
                    s[at] = b;
                    assert_eq!(eq_lower(&s, lit), s.eq_ignore_ascii_case(lit), "{s:?}");
                }
            }
        }
    }
}
