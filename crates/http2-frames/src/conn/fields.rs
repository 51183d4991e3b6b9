//! Decoded field sections ([`FieldBlock`]: request heads, response heads, trailers): HPACK
//! output kept in reusable, lifetime-free buffers until the stream side copies it (for
//! example into a request arena), and the RFC 9113 §8 field validation rules.

use shockwave_arena::{Arena, ArenaError, HeaderList};

/// Why a field section is malformed (RFC 9113 §8.1.1): answered with a stream error of
/// type PROTOCOL_ERROR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    /// A field name with uppercase or forbidden characters, or empty (§8.2.1).
    #[error("invalid field name")]
    BadName,
    /// A field value with NUL, CR or LF, or leading/trailing whitespace (§8.2.1).
    #[error("invalid field value")]
    BadValue,
    /// A connection-specific field (`connection`, `transfer-encoding`, ...; §8.2.2).
    #[error("connection-specific header field")]
    ConnectionSpecific,
    /// `te` with a value other than `trailers` (§8.2.2).
    #[error("te header field other than trailers")]
    BadTe,
    /// An unknown, response-only, duplicated or misplaced pseudo-header (§8.3).
    #[error("invalid pseudo-header field")]
    BadPseudo,
    /// A required pseudo-header is missing or empty (§8.3.1).
    #[error("missing or empty required pseudo-header field")]
    MissingPseudo,
    /// A `content-length` that is not a number, or differs between fields (§8.1.1).
    #[error("invalid content-length")]
    BadContentLength,
    /// Pseudo-header fields in trailers (§8.1).
    #[error("pseudo-header field in trailers")]
    PseudoInTrailers,
    /// A `host` field naming another host than `:authority` (§8.3.1: a server SHOULD
    /// treat it as malformed; HTTP/1.1 answers the same mismatch with 400), or userinfo in
    /// `:authority` (§8.3.1: MUST NOT).
    #[error("host and :authority disagree, or userinfo in :authority")]
    BadAuthority,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Span {
    name: (u32, u32),
    value: (u32, u32),
}

/// One decoded field section, owned and reusable: a request head (server role), a
/// response head (client role, see [`FieldBlock::status`]) or trailers. The names and
/// values are stored back to back in one byte buffer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldBlock {
    bytes: Vec<u8>,
    fields: Vec<Span>,
    method: Option<usize>,
    scheme: Option<usize>,
    authority: Option<usize>,
    path: Option<usize>,
    protocol: Option<usize>,
    status: Option<usize>,
    content_length: Option<u64>,
    /// The request ended with its HEADERS frame (END_STREAM).
    pub(crate) end_stream: bool,
}

impl FieldBlock {
    /// Heap bytes the block's buffers hold (what keeping it for reuse costs).
    pub(crate) fn capacity_bytes(&self) -> usize {
        self.bytes.capacity() + self.fields.capacity() * std::mem::size_of::<Span>()
    }

    /// Empties the head, keeping its capacity.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.fields.clear();
        self.method = None;
        self.scheme = None;
        self.authority = None;
        self.path = None;
        self.protocol = None;
        self.status = None;
        self.content_length = None;
        self.end_stream = false;
    }

    /// Appends a field (no check; call one of the `validate_*` methods afterwards). Used
    /// by the decoder, and by drivers that build a head themselves (an HTTP/1.1
    /// `Upgrade: h2c` request, RFC 7540 §3.2).
    pub fn push(&mut self, name: &[u8], value: &[u8]) {
        let n0 = self.bytes.len() as u32;
        self.bytes.extend_from_slice(name);
        let v0 = self.bytes.len() as u32;
        self.bytes.extend_from_slice(value);
        self.fields.push(Span {
            name: (n0, name.len() as u32),
            value: (v0, value.len() as u32),
        });
    }

    fn slice(&self, (start, len): (u32, u32)) -> &[u8] {
        &self.bytes[start as usize..(start + len) as usize]
    }

    fn field(&self, i: usize) -> (&[u8], &[u8]) {
        let s = self.fields[i];
        (self.slice(s.name), self.slice(s.value))
    }

    fn pseudo_value(&self, i: Option<usize>) -> Option<&[u8]> {
        i.map(|i| self.field(i).1)
    }

    /// Number of fields, pseudo-headers included.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Every field in order, pseudo-headers included.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        (0..self.fields.len()).map(|i| self.field(i))
    }

    /// The regular (non-pseudo) fields in order.
    pub fn regular(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.iter().filter(|(n, _)| !n.starts_with(b":"))
    }

    /// `:method`.
    pub fn method(&self) -> Option<&[u8]> {
        self.pseudo_value(self.method)
    }
    /// `:scheme`.
    pub fn scheme(&self) -> Option<&[u8]> {
        self.pseudo_value(self.scheme)
    }
    /// `:authority`.
    pub fn authority(&self) -> Option<&[u8]> {
        self.pseudo_value(self.authority)
    }
    /// `:path`.
    pub fn path(&self) -> Option<&[u8]> {
        self.pseudo_value(self.path)
    }
    /// `:protocol` of an extended CONNECT request (RFC 8441 §4), e.g. `websocket`; only
    /// ever set by [`FieldBlock::validate_request_with`] with extended CONNECT enabled.
    pub fn protocol(&self) -> Option<&[u8]> {
        self.pseudo_value(self.protocol)
    }
    /// `:status` of a response, parsed.
    pub fn status(&self) -> Option<u16> {
        let v = self.pseudo_value(self.status)?;
        if v.len() != 3 || !v.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(v.iter().fold(0u16, |a, d| a * 10 + u16::from(d - b'0')))
    }
    /// The `content-length` field, parsed.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }
    /// True if the message had no body (END_STREAM on its HEADERS frame).
    pub fn end_stream(&self) -> bool {
        self.end_stream
    }

    /// Checks a request field section (RFC 9113 §8.2, §8.3.1) and records where the
    /// pseudo-headers are. `:protocol` is malformed (extended CONNECT not enabled).
    pub fn validate_request(&mut self) -> Result<(), Malformed> {
        self.validate_request_with(false)
    }

    /// [`FieldBlock::validate_request`], with the extended CONNECT method of RFC 8441 §4
    /// accepted when `connect_protocol` is true (we sent SETTINGS_ENABLE_CONNECT_PROTOCOL
    /// = 1): `:protocol` only with `CONNECT`, and such a request needs `:scheme`, `:path`
    /// and `:authority`. Without `connect_protocol`, `:protocol` is [`Malformed::BadPseudo`].
    pub fn validate_request_with(&mut self, connect_protocol: bool) -> Result<(), Malformed> {
        let mut regular_seen = false;
        for i in 0..self.fields.len() {
            let (name, value) = self.field(i);
            if name.is_empty() {
                return Err(Malformed::BadName);
            }
            check_value(value)?;
            if name[0] == b':' {
                if regular_seen {
                    return Err(Malformed::BadPseudo);
                }
                let slot = match name {
                    b":method" => &mut self.method,
                    b":scheme" => &mut self.scheme,
                    b":authority" => &mut self.authority,
                    b":path" => &mut self.path,
                    b":protocol" if connect_protocol => &mut self.protocol,
                    _ => return Err(Malformed::BadPseudo),
                };
                if slot.is_some() {
                    return Err(Malformed::BadPseudo);
                }
                *slot = Some(i);
                continue;
            }
            regular_seen = true;
            check_regular(name, value)?;
            if name == b"host" {
                // Pseudo-headers come first: `:authority`, if any, is known here.
                if let Some(a) = self.pseudo_value(self.authority) {
                    if !a.eq_ignore_ascii_case(value) {
                        return Err(Malformed::BadAuthority);
                    }
                }
            }
            if name == b"content-length" {
                let len = parse_content_length(value)?;
                match self.content_length {
                    Some(prev) if prev != len => return Err(Malformed::BadContentLength),
                    _ => self.content_length = Some(len),
                }
            }
        }
        if self.authority().is_some_and(|a| a.contains(&b'@')) {
            return Err(Malformed::BadAuthority);
        }
        let method = self.method().ok_or(Malformed::MissingPseudo)?;
        if method.is_empty() {
            return Err(Malformed::MissingPseudo);
        }
        if self.protocol.is_some() {
            // RFC 8441 §4: `:protocol` only with CONNECT, which then has `:scheme`,
            // `:path` and `:authority` like any request.
            if method != b"CONNECT" {
                return Err(Malformed::BadPseudo);
            }
            return match (
                self.scheme(),
                self.path(),
                self.authority(),
                self.protocol(),
            ) {
                (Some(s), Some(p), Some(a), Some(pr))
                    if !s.is_empty() && !p.is_empty() && !a.is_empty() && !pr.is_empty() =>
                {
                    Ok(())
                }
                _ => Err(Malformed::MissingPseudo),
            };
        }
        if method == b"CONNECT" {
            // §8.5: CONNECT has :authority and neither :scheme nor :path (extended
            // CONNECT, RFC 8441, is the case above).
            if self.authority().is_none_or(|a| a.is_empty())
                || self.scheme.is_some()
                || self.path.is_some()
            {
                return Err(Malformed::BadPseudo);
            }
            return Ok(());
        }
        match (self.scheme(), self.path()) {
            (Some(s), Some(p)) if !s.is_empty() && !p.is_empty() => Ok(()),
            _ => Err(Malformed::MissingPseudo),
        }
    }

    /// Checks a response field section (RFC 9113 §8.3.2: exactly one valid `:status`, no
    /// request pseudo-headers) and records `:status`.
    pub fn validate_response(&mut self) -> Result<(), Malformed> {
        let mut regular_seen = false;
        for i in 0..self.fields.len() {
            let (name, value) = self.field(i);
            if name.is_empty() {
                return Err(Malformed::BadName);
            }
            check_value(value)?;
            if name[0] == b':' {
                if regular_seen || name != b":status" || self.status.is_some() {
                    return Err(Malformed::BadPseudo);
                }
                self.status = Some(i);
                continue;
            }
            regular_seen = true;
            check_regular(name, value)?;
            if name == b"content-length" {
                let len = parse_content_length(value)?;
                match self.content_length {
                    Some(prev) if prev != len => return Err(Malformed::BadContentLength),
                    _ => self.content_length = Some(len),
                }
            }
        }
        if self.status().is_none() {
            return Err(Malformed::MissingPseudo);
        }
        Ok(())
    }

    /// Checks a trailer section (RFC 9113 §8.1: no pseudo-headers).
    pub fn validate_trailers(&self) -> Result<(), Malformed> {
        for (name, value) in self.iter() {
            if name.first() == Some(&b':') {
                return Err(Malformed::PseudoInTrailers);
            }
            if name.is_empty() {
                return Err(Malformed::BadName);
            }
            check_value(value)?;
            check_regular(name, value)?;
        }
        Ok(())
    }

    /// Copies the head into `arena` (one allocation for all bytes) and returns its views:
    /// the regular fields as a [`HeaderList`] and the pseudo-headers.
    pub fn copy_into<'a>(&self, arena: &'a Arena) -> Result<ArenaHead<'a>, ArenaError> {
        let bytes: &'a [u8] = arena.alloc_bytes(&self.bytes)?;
        let get = |(start, len): (u32, u32)| &bytes[start as usize..(start + len) as usize];
        let pseudo = |i: Option<usize>| i.map(|i| get(self.fields[i].value));
        let mut headers = HeaderList::new_in(arena);
        for s in &self.fields {
            let name = get(s.name);
            if !name.starts_with(b":") {
                headers.push(name, get(s.value))?;
            }
        }
        Ok(ArenaHead {
            method: pseudo(self.method).unwrap_or(b"GET"),
            scheme: pseudo(self.scheme),
            authority: pseudo(self.authority),
            path: pseudo(self.path),
            protocol: pseudo(self.protocol),
            headers,
        })
    }
}

/// A request head copied into a request arena.
#[derive(Debug)]
pub struct ArenaHead<'a> {
    /// `:method`.
    pub method: &'a [u8],
    /// `:scheme`.
    pub scheme: Option<&'a [u8]>,
    /// `:authority`.
    pub authority: Option<&'a [u8]>,
    /// `:path`.
    pub path: Option<&'a [u8]>,
    /// `:protocol` of an extended CONNECT request (RFC 8441), when accepted.
    pub protocol: Option<&'a [u8]>,
    /// The regular fields.
    pub headers: HeaderList<'a>,
}

fn check_value(value: &[u8]) -> Result<(), Malformed> {
    // §8.2.1: no NUL, CR, LF; no leading or trailing SP/HTAB.
    if value.iter().any(|&b| b == 0 || b == b'\r' || b == b'\n') {
        return Err(Malformed::BadValue);
    }
    if let (Some(f), Some(l)) = (value.first(), value.last()) {
        if matches!(f, b' ' | b'\t') || matches!(l, b' ' | b'\t') {
            return Err(Malformed::BadValue);
        }
    }
    Ok(())
}

fn check_regular(name: &[u8], value: &[u8]) -> Result<(), Malformed> {
    // §8.2.1: no 0x00-0x20, 0x41-0x5a (uppercase), 0x7f-0xff, and no colon.
    if name
        .iter()
        .any(|&b| b <= 0x20 || b.is_ascii_uppercase() || b >= 0x7f || b == b':')
    {
        return Err(Malformed::BadName);
    }
    // §8.2.2: connection-specific fields are malformed.
    match name {
        b"connection" | b"proxy-connection" | b"keep-alive" | b"transfer-encoding" | b"upgrade" => {
            Err(Malformed::ConnectionSpecific)
        }
        b"te" if value != b"trailers" => Err(Malformed::BadTe),
        _ => Ok(()),
    }
}

fn parse_content_length(value: &[u8]) -> Result<u64, Malformed> {
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return Err(Malformed::BadContentLength);
    }
    Ok(value
        .iter()
        .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(fields: &[(&str, &str)]) -> FieldBlock {
        let mut h = FieldBlock::default();
        for (n, v) in fields {
            h.push(n.as_bytes(), v.as_bytes());
        }
        h
    }

    const BASE: [(&str, &str); 3] = [(":method", "GET"), (":scheme", "http"), (":path", "/")];

    #[test]
    fn valid_request_and_copy() {
        let mut h = head(&[
            (":method", "POST"),
            (":scheme", "https"),
            (":authority", "example.com"),
            (":path", "/x?y"),
            ("content-length", "5"),
            ("te", "trailers"),
        ]);
        h.validate_request().unwrap();
        assert_eq!(h.content_length(), Some(5));
        let arena = Arena::new();
        let a = h.copy_into(&arena).unwrap();
        assert_eq!(a.method, b"POST");
        assert_eq!(a.path, Some(&b"/x?y"[..]));
        assert_eq!(a.authority, Some(&b"example.com"[..]));
        assert_eq!(a.headers.len(), 2);
    }

    #[test]
    fn malformed_requests() {
        let cases: &[(&[(&str, &str)], Malformed)] = &[
            (
                &[(":method", "GET"), (":path", "/")],
                Malformed::MissingPseudo,
            ),
            (
                &[(":method", "GET"), (":scheme", "http"), (":path", "")],
                Malformed::MissingPseudo,
            ),
            (&[(":status", "200")], Malformed::BadPseudo),
            (&[("x", "1"), (":method", "GET")], Malformed::BadPseudo),
            (
                &[(":method", "GET"), (":method", "GET")],
                Malformed::BadPseudo,
            ),
            (
                &[(":method", "CONNECT"), (":path", "/")],
                Malformed::BadPseudo,
            ),
        ];
        for (fields, want) in cases {
            assert_eq!(head(fields).validate_request(), Err(*want), "{fields:?}");
        }
        let extra: &[((&str, &str), Malformed)] = &[
            (("connection", "close"), Malformed::ConnectionSpecific),
            (
                ("transfer-encoding", "chunked"),
                Malformed::ConnectionSpecific,
            ),
            (("te", "gzip"), Malformed::BadTe),
            (("Upper", "x"), Malformed::BadName),
            (("x", " lead"), Malformed::BadValue),
            (("content-length", "x"), Malformed::BadContentLength),
        ];
        for (field, want) in extra {
            let mut fields = BASE.to_vec();
            fields.push(*field);
            assert_eq!(head(&fields).validate_request(), Err(*want), "{field:?}");
        }
    }

    #[test]
    fn extended_connect_needs_the_setting_and_all_pseudo_headers() {
        const WS: [(&str, &str); 5] = [
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "https"),
            (":path", "/chat"),
            (":authority", "example.com"),
        ];
        // RFC 8441 §4: accepted only when enabled.
        assert_eq!(head(&WS).validate_request(), Err(Malformed::BadPseudo));
        assert_eq!(
            head(&WS).validate_request_with(false),
            Err(Malformed::BadPseudo)
        );
        let mut h = head(&WS);
        h.validate_request_with(true).unwrap();
        assert_eq!(h.protocol(), Some(&b"websocket"[..]));
        assert_eq!(h.path(), Some(&b"/chat"[..]));
        let arena = Arena::new();
        let a = h.copy_into(&arena).unwrap();
        assert_eq!(a.method, b"CONNECT");
        assert_eq!(a.protocol, Some(&b"websocket"[..]));
        h.clear();
        assert_eq!(h.protocol(), None);
        // Each of :scheme, :path and :authority is required (and not empty).
        for missing in 2..5 {
            let mut fields = WS.to_vec();
            fields.remove(missing);
            assert_eq!(
                head(&fields).validate_request_with(true),
                Err(Malformed::MissingPseudo),
                "{fields:?}"
            );
            let mut fields = WS.to_vec();
            fields[missing].1 = "";
            assert_eq!(
                head(&fields).validate_request_with(true),
                Err(Malformed::MissingPseudo),
                "{fields:?}"
            );
        }
        // `:protocol` with another method, or twice.
        let mut fields = WS.to_vec();
        fields[0].1 = "GET";
        assert_eq!(
            head(&fields).validate_request_with(true),
            Err(Malformed::BadPseudo)
        );
        let mut fields = WS.to_vec();
        fields.insert(2, (":protocol", "websocket"));
        assert_eq!(
            head(&fields).validate_request_with(true),
            Err(Malformed::BadPseudo)
        );
        // A plain CONNECT (RFC 9113 §8.5) is unchanged when enabled; a request without
        // `:protocol` has none.
        let mut h = head(&[(":method", "CONNECT"), (":authority", "example.com:443")]);
        h.validate_request_with(true).unwrap();
        assert_eq!(h.protocol(), None);
        let mut h = head(&BASE);
        h.validate_request_with(true).unwrap();
        assert_eq!(h.protocol(), None);
    }

    #[test]
    fn responses_and_trailers() {
        let mut h = head(&[(":status", "204"), ("content-length", "0")]);
        h.validate_response().unwrap();
        assert_eq!(h.status(), Some(204));
        assert_eq!(h.method(), None);
        assert_eq!(
            head(&[(":status", "20")]).validate_response(),
            Err(Malformed::MissingPseudo)
        );
        assert_eq!(
            head(&[(":status", "200"), (":path", "/")]).validate_response(),
            Err(Malformed::BadPseudo)
        );
        assert_eq!(head(&[("x-sum", "1")]).validate_trailers(), Ok(()));
        assert_eq!(
            head(&[(":status", "200")]).validate_trailers(),
            Err(Malformed::PseudoInTrailers)
        );
    }
}
