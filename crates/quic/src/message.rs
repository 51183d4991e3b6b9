//! HTTP message checks on decoded field sections (RFC 9114 §4.2, §4.3): pseudo-header
//! fields, forbidden connection-specific fields, lowercase names, invalid characters and
//! `content-length`. Any violation makes the message malformed: a stream error of type
//! `H3_MESSAGE_ERROR` (RFC 9114 §4.1.2).
//!
//! ```
//! use shockwave_quic::message;
//!
//! let fields: [(&[u8], &[u8]); 5] = [
//!     (b":method", b"GET"),
//!     (b":scheme", b"https"),
//!     (b":authority", b"example.com"),
//!     (b":path", b"/"),
//!     (b"accept", b"*/*"),
//! ];
//! let head = message::validate_request(fields).unwrap();
//! assert_eq!(head.method, b"GET");
//! assert_eq!(head.path, Some(&b"/"[..]));
//!
//! let bad: [(&[u8], &[u8]); 2] = [(b":method", b"GET"), (b"Connection", b"close")];
//! assert_eq!(message::validate_request(bad).unwrap_err().code().code(), 0x10e);
//! ```

use crate::error::Error;

/// The control data of a request, from its pseudo-header fields (RFC 9114 §4.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestPseudo<'a> {
    /// `:method`.
    pub method: &'a [u8],
    /// `:scheme` (absent for CONNECT).
    pub scheme: Option<&'a [u8]>,
    /// `:authority`.
    pub authority: Option<&'a [u8]>,
    /// `:path` (absent for CONNECT).
    pub path: Option<&'a [u8]>,
    /// `:protocol` (extended CONNECT, RFC 9220).
    pub protocol: Option<&'a [u8]>,
    /// The `host` field, if any (it must equal `:authority` when both are present).
    pub host: Option<&'a [u8]>,
    /// The `content-length` value, if any.
    pub content_length: Option<u64>,
}

fn malformed(reason: &'static str) -> Error {
    Error::MessageError { reason }
}

/// True for the bytes RFC 9110 §5.6.2 allows in a token, minus uppercase letters.
fn is_lower_tchar(b: u8) -> bool {
    matches!(b,
        b'a'..=b'z' | b'0'..=b'9' | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+'
        | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~')
}

/// Checks one regular field; returns its parsed `content-length` if it is one.
fn check_regular(name: &[u8], value: &[u8]) -> Result<Option<u64>, Error> {
    if name.is_empty() {
        return Err(malformed("empty field name"));
    }
    if !name.iter().all(|&b| is_lower_tchar(b)) {
        return Err(if name.iter().any(u8::is_ascii_uppercase) {
            malformed("uppercase field name")
        } else {
            malformed("invalid character in field name")
        });
    }
    // RFC 9110 §5.5: no NUL, CR or LF; no leading or trailing whitespace.
    if value.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n')) {
        return Err(malformed("invalid character in field value"));
    }
    if matches!(value.first(), Some(b' ' | b'\t')) || matches!(value.last(), Some(b' ' | b'\t')) {
        return Err(malformed("whitespace around field value"));
    }
    match name {
        // Connection-specific fields are forbidden (RFC 9114 §4.2).
        b"connection" | b"keep-alive" | b"proxy-connection" | b"transfer-encoding" | b"upgrade" => {
            Err(malformed("connection-specific field"))
        }
        b"te" if value != b"trailers" => Err(malformed("te other than \"trailers\"")),
        b"content-length" => parse_content_length(value).map(Some),
        _ => Ok(None),
    }
}

fn parse_content_length(value: &[u8]) -> Result<u64, Error> {
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return Err(malformed("invalid content-length"));
    }
    Ok(value
        .iter()
        .fold(0u64, |acc, &d| acc * 10 + (d - b'0') as u64))
}

fn merge_length(slot: &mut Option<u64>, len: Option<u64>) -> Result<(), Error> {
    if let Some(len) = len {
        if matches!(*slot, Some(prev) if prev != len) {
            return Err(malformed("conflicting content-length values"));
        }
        *slot = Some(len);
    }
    Ok(())
}

/// Validates a request header section and extracts its control data (RFC 9114 §4.3.1):
/// pseudo-header fields first, each at most once, only request ones; `:method`
/// required; CONNECT without `:protocol` has `:authority` but no `:scheme`/`:path`;
/// otherwise `:scheme` and a non-empty `:path` are required, and http(s) needs
/// `:authority` or `host` (equal if both are present).
pub fn validate_request<'a, I>(fields: I) -> Result<RequestPseudo<'a>, Error>
where
    I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
{
    let mut head = RequestPseudo::default();
    let mut method = None;
    let mut regular = false;
    for (name, value) in fields {
        if let Some(pseudo) = name.strip_prefix(b":") {
            if regular {
                return Err(malformed("pseudo-header field after a regular field"));
            }
            let slot = match pseudo {
                b"method" => &mut method,
                b"scheme" => &mut head.scheme,
                b"authority" => &mut head.authority,
                b"path" => &mut head.path,
                b"protocol" => &mut head.protocol,
                _ => return Err(malformed("unknown or response pseudo-header field")),
            };
            if slot.replace(value).is_some() {
                return Err(malformed("duplicate pseudo-header field"));
            }
            continue;
        }
        regular = true;
        merge_length(&mut head.content_length, check_regular(name, value)?)?;
        if name == b"host" && head.host.replace(value).is_some() {
            return Err(malformed("duplicate host field"));
        }
    }
    head.method = method.ok_or(malformed("missing :method"))?;
    if head.method.is_empty() {
        return Err(malformed("empty :method"));
    }
    if head.method == b"CONNECT" && head.protocol.is_none() {
        if head.scheme.is_some() || head.path.is_some() {
            return Err(malformed("CONNECT with :scheme or :path"));
        }
        if head.authority.is_none() {
            return Err(malformed("CONNECT without :authority"));
        }
        return Ok(head);
    }
    if head.protocol.is_some() && head.method != b"CONNECT" {
        return Err(malformed(":protocol without CONNECT"));
    }
    let scheme = head.scheme.ok_or(malformed("missing :scheme"))?;
    match head.path {
        None | Some(b"") => return Err(malformed("missing or empty :path")),
        Some(_) => {}
    }
    if matches!(scheme, b"http" | b"https") {
        match (head.authority, head.host) {
            (None | Some(b""), None) => return Err(malformed("http(s) request without authority")),
            (Some(a), Some(h)) if a != h => return Err(malformed(":authority and host differ")),
            _ => {}
        }
    }
    Ok(head)
}

/// The control data of a response: its `:status` and `content-length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponsePseudo {
    /// `:status`, 100..=599.
    pub status: u16,
    /// The `content-length` value, if any.
    pub content_length: Option<u64>,
}

/// Validates a response header section (RFC 9114 §4.3.2): exactly one `:status` of
/// three digits (100..=599), first, and valid regular fields.
pub fn validate_response<'a, I>(fields: I) -> Result<ResponsePseudo, Error>
where
    I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
{
    let mut status = None;
    let mut content_length = None;
    let mut regular = false;
    for (name, value) in fields {
        if name.first() == Some(&b':') {
            if regular {
                return Err(malformed("pseudo-header field after a regular field"));
            }
            if name != b":status" {
                return Err(malformed("unknown or request pseudo-header field"));
            }
            if status.is_some() {
                return Err(malformed("duplicate :status"));
            }
            let code = match value {
                [a @ b'1'..=b'5', b @ b'0'..=b'9', c @ b'0'..=b'9'] => {
                    (a - b'0') as u16 * 100 + (b - b'0') as u16 * 10 + (c - b'0') as u16
                }
                _ => return Err(malformed("invalid :status")),
            };
            status = Some(code);
            continue;
        }
        regular = true;
        merge_length(&mut content_length, check_regular(name, value)?)?;
    }
    Ok(ResponsePseudo {
        status: status.ok_or(malformed("missing :status"))?,
        content_length,
    })
}

/// Validates a trailer section: no pseudo-header fields, valid regular fields.
pub fn validate_trailers<'a, I>(fields: I) -> Result<(), Error>
where
    I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
{
    for (name, value) in fields {
        if name.first() == Some(&b':') {
            return Err(malformed("pseudo-header field in trailers"));
        }
        check_regular(name, value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorCode, Scope};

    type F = (&'static [u8], &'static [u8]);

    fn req(extra: &[F]) -> Vec<F> {
        let mut v: Vec<F> = vec![
            (b":method", b"GET"),
            (b":scheme", b"https"),
            (b":authority", b"example.com"),
            (b":path", b"/a?b"),
        ];
        v.extend_from_slice(extra);
        v
    }

    #[test]
    fn valid_requests() {
        let h = validate_request(req(&[(b"content-length", b"10"), (b"te", b"trailers")])).unwrap();
        assert_eq!(h.method, b"GET");
        assert_eq!(h.scheme, Some(&b"https"[..]));
        assert_eq!(h.content_length, Some(10));
        let connect: Vec<F> = vec![
            (b":method", b"CONNECT"),
            (b":authority", b"example.com:443"),
        ];
        assert_eq!(
            validate_request(connect).unwrap().authority,
            Some(&b"example.com:443"[..])
        );
        let ws: Vec<F> = vec![
            (b":method", b"CONNECT"),
            (b":protocol", b"websocket"),
            (b":scheme", b"https"),
            (b":path", b"/chat"),
            (b":authority", b"example.com"),
        ];
        assert_eq!(
            validate_request(ws).unwrap().protocol,
            Some(&b"websocket"[..])
        );
        let host_only: Vec<F> = vec![
            (b":method", b"GET"),
            (b":scheme", b"http"),
            (b":path", b"/"),
            (b"host", b"example.com"),
        ];
        assert!(validate_request(host_only).is_ok());
    }

    #[test]
    fn malformed_requests() {
        let cases: Vec<(&str, Vec<F>)> = vec![
            (
                "no method",
                vec![
                    (b":scheme", b"https"),
                    (b":path", b"/"),
                    (b":authority", b"a"),
                ],
            ),
            (
                "no scheme",
                vec![
                    (b":method", b"GET"),
                    (b":path", b"/"),
                    (b":authority", b"a"),
                ],
            ),
            (
                "no path",
                vec![
                    (b":method", b"GET"),
                    (b":scheme", b"https"),
                    (b":authority", b"a"),
                ],
            ),
            (
                "empty path",
                vec![
                    (b":method", b"GET"),
                    (b":scheme", b"https"),
                    (b":path", b""),
                    (b":authority", b"a"),
                ],
            ),
            (
                "no authority",
                vec![
                    (b":method", b"GET"),
                    (b":scheme", b"https"),
                    (b":path", b"/"),
                ],
            ),
            (
                "duplicate path",
                req(&[])
                    .into_iter()
                    .chain([(&b":path"[..], &b"/x"[..])])
                    .collect(),
            ),
            ("pseudo after regular", {
                let mut v = req(&[(b"accept", b"*/*")]);
                v.push((b":protocol", b"x"));
                v
            }),
            (
                "response pseudo",
                req(&[])
                    .into_iter()
                    .chain([(&b":status"[..], &b"200"[..])])
                    .collect(),
            ),
            (
                "unknown pseudo",
                req(&[])
                    .into_iter()
                    .chain([(&b":foo"[..], &b"1"[..])])
                    .collect(),
            ),
            ("uppercase name", req(&[(b"Accept", b"*/*")])),
            ("space in name", req(&[(b"acc ept", b"*/*")])),
            ("empty name", req(&[(b"", b"x")])),
            ("CR in value", req(&[(b"x", b"a\rb")])),
            ("LF in value", req(&[(b"x", b"a\nb")])),
            ("NUL in value", req(&[(b"x", b"a\0b")])),
            ("leading space", req(&[(b"x", b" a")])),
            ("trailing tab", req(&[(b"x", b"a\t")])),
            ("connection", req(&[(b"connection", b"close")])),
            ("keep-alive", req(&[(b"keep-alive", b"5")])),
            (
                "transfer-encoding",
                req(&[(b"transfer-encoding", b"chunked")]),
            ),
            ("upgrade", req(&[(b"upgrade", b"h2c")])),
            ("proxy-connection", req(&[(b"proxy-connection", b"x")])),
            ("te gzip", req(&[(b"te", b"gzip")])),
            ("bad content-length", req(&[(b"content-length", b"1a")])),
            (
                "conflicting content-length",
                req(&[(b"content-length", b"1"), (b"content-length", b"2")]),
            ),
            (
                "huge content-length",
                req(&[(b"content-length", b"99999999999999999999")]),
            ),
            ("authority != host", req(&[(b"host", b"other.example")])),
            (
                "CONNECT with path",
                vec![
                    (b":method", b"CONNECT"),
                    (b":authority", b"a:1"),
                    (b":path", b"/"),
                ],
            ),
            ("CONNECT without authority", vec![(b":method", b"CONNECT")]),
            (
                ":protocol without CONNECT",
                req(&[])
                    .into_iter()
                    .chain([(&b":protocol"[..], &b"ws"[..])])
                    .collect(),
            ),
        ];
        for (name, fields) in cases {
            let e = validate_request(fields).expect_err(name);
            assert_eq!(
                (e.code(), e.scope()),
                (ErrorCode::MessageError, Scope::Stream),
                "{name}"
            );
        }
        // Same content-length twice is fine.
        let h =
            validate_request(req(&[(b"content-length", b"7"), (b"content-length", b"7")])).unwrap();
        assert_eq!(h.content_length, Some(7));
    }

    #[test]
    fn responses_and_trailers() {
        let r: Vec<F> = vec![(b":status", b"204"), (b"server", b"x")];
        assert_eq!(
            validate_response(r).unwrap(),
            ResponsePseudo {
                status: 204,
                content_length: None
            }
        );
        for bad in [
            vec![(&b":status"[..], &b"20"[..])],
            vec![(b":status", b"099")],
            vec![(b":status", b"600")],
            vec![(b":status", b"2x0")],
            vec![(b"server", b"x")],
            vec![(b":status", b"200"), (b":status", b"200")],
            vec![(b"server", b"x"), (b":status", b"200")],
            vec![(b":status", b"200"), (b":path", b"/")],
            vec![(b":status", b"200"), (b"Server", b"x")],
        ] {
            assert_eq!(
                validate_response(bad.clone()).unwrap_err().code(),
                ErrorCode::MessageError,
                "{bad:?}"
            );
        }
        let t: Vec<F> = vec![(b"grpc-status", b"0")];
        validate_trailers(t).unwrap();
        let t: Vec<F> = vec![(b":status", b"200")];
        assert!(validate_trailers(t).is_err());
    }
}
