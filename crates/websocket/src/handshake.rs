//! The opening handshake as pure functions (RFC 6455 §4, RFC 8441 §4, RFC 9220 §3).
//!
//! Nothing here reads or writes a socket or builds an HTTP message: the HTTP layer hands
//! the request's (or response's) header fields in as `(name, value)` byte pairs, gets a
//! typed verdict back, and writes its own `101 Switching Protocols` (HTTP/1.1) or `200`
//! (extended CONNECT) with [`accept_key`]'s value.
//!
//! A server calls [`validate_request`] (HTTP/1.1 `GET` with `Upgrade: websocket`) or
//! [`validate_extended_connect`] (HTTP/2 and HTTP/3 `CONNECT` with
//! `:protocol = websocket`), then [`select_protocol`] and
//! [`negotiate_server`](crate::deflate::negotiate_server). On an error it answers
//! [`HandshakeError::status`] with [`HandshakeError::response_headers`] (a `426` with
//! `Sec-WebSocket-Version: 13` for another version, §4.4). A client sends
//! [`generate_key`]'s value and checks the answer with [`validate_response`].

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha1::{Digest, Sha1};

/// The GUID of RFC 6455 §1.3.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Why a handshake was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The request method is not `GET` (HTTP/1.1) or `CONNECT` (extended CONNECT).
    #[error("WebSocket handshake with a method other than GET/CONNECT")]
    Method,
    /// No `Upgrade: websocket` (HTTP/1.1) or `:protocol: websocket` (extended CONNECT).
    #[error("missing Upgrade: websocket")]
    MissingUpgrade,
    /// No `upgrade` token in `Connection`.
    #[error("missing Connection: upgrade")]
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Version` absent or not 13: answer 426 (§4.4).
    #[error("unsupported Sec-WebSocket-Version (13 is required)")]
    UnsupportedVersion,
    /// `Sec-WebSocket-Key` absent, repeated, or not 16 bytes in base64 (§4.1).
    #[error("missing or invalid Sec-WebSocket-Key")]
    InvalidKey,
    /// A header value that is not visible ASCII, or a malformed extension list.
    #[error("malformed Sec-WebSocket-Extensions or Sec-WebSocket-Protocol")]
    InvalidExtensions,
    /// Client side: the response status is not 101 (HTTP/1.1) or 2xx (extended CONNECT).
    #[error("the server answered {0}, not 101")]
    Status(u16),
    /// Client side: `Sec-WebSocket-Accept` missing or wrong.
    #[error("missing or wrong Sec-WebSocket-Accept")]
    InvalidAccept,
    /// Client side: the server chose a subprotocol the client did not offer.
    #[error("the server chose a subprotocol that was not offered")]
    InvalidProtocol,
}

impl HandshakeError {
    /// The status a server answers with: 426 for a version other than 13, 400 otherwise
    /// (405 would also fit [`HandshakeError::Method`]; 400 keeps one rule).
    pub fn status(&self) -> u16 {
        match self {
            HandshakeError::UnsupportedVersion => 426,
            _ => 400,
        }
    }

    /// The header fields the refusal carries: `Sec-WebSocket-Version: 13` (and
    /// `Upgrade: websocket`, RFC 9110 §15.5.22's 426 requirement) for a version error.
    pub fn response_headers(&self) -> &'static [(&'static str, &'static str)] {
        match self {
            HandshakeError::UnsupportedVersion => &[
                ("sec-websocket-version", "13"),
                ("upgrade", "websocket"),
                ("connection", "upgrade"),
            ],
            _ => &[],
        }
    }
}

/// A `Sec-WebSocket-Accept` value: 28 base64 characters.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AcceptKey([u8; 28]);

impl AcceptKey {
    /// The value as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("base64 is ASCII")
    }
}

impl std::fmt::Debug for AcceptKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (§4.2.2 item 5.4): base64 of the
/// SHA-1 of the key (as sent, trimmed) followed by the [`GUID`].
pub fn accept_key(key: &[u8]) -> AcceptKey {
    let mut sha = Sha1::new();
    sha.update(key.trim_ascii());
    sha.update(GUID.as_bytes());
    let digest = sha.finalize();
    let mut out = [0u8; 28];
    let n = STANDARD
        .encode_slice(digest, &mut out)
        .expect("20 bytes encode to 28");
    debug_assert_eq!(n, 28);
    AcceptKey(out)
}

/// A client's `Sec-WebSocket-Key` from 16 random bytes (§4.1: a nonce chosen at random
/// per connection; the caller supplies the randomness).
pub fn generate_key(random: [u8; 16]) -> String {
    STANDARD.encode(random)
}

/// One extension of a `Sec-WebSocket-Extensions` list (§9.1) with its parameters.
/// Quoted-string values have their quotes removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension<'a> {
    /// The extension token, e.g. `permessage-deflate`.
    pub name: &'a str,
    /// The parameters in order: name and value, if any.
    pub params: Vec<(&'a str, Option<&'a str>)>,
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Splits on `sep` outside double quotes.
fn split_unquoted(s: &str, sep: u8) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let mut quoted = false;
    let bytes = s.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        if start > bytes.len() {
            return None;
        }
        while i < bytes.len() {
            let b = bytes[i];
            i += 1;
            if b == b'"' {
                quoted = !quoted;
            } else if b == sep && !quoted {
                let piece = &s[start..i - 1];
                start = i;
                return Some(piece);
            }
        }
        let piece = &s[start..];
        start = bytes.len() + 1;
        Some(piece)
    })
}

/// Parses `Sec-WebSocket-Extensions` values (every field line, in order) into
/// extensions. Empty list elements are skipped (RFC 9110 §5.6.1); anything else that is
/// not `token *( ";" token [ "=" ( token / quoted-string ) ] )` is an error.
/// Quoted strings with backslash escapes are refused (no registered extension needs
/// them).
pub fn parse_extensions<'a, I>(values: I) -> Result<Vec<Extension<'a>>, HandshakeError>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut out = Vec::new();
    for value in values {
        for item in split_unquoted(value, b',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let mut parts = split_unquoted(item, b';');
            let name = parts.next().unwrap_or("").trim();
            if !is_token(name) {
                return Err(HandshakeError::InvalidExtensions);
            }
            let mut params = Vec::new();
            for param in parts {
                let (pname, pvalue) = match param.split_once('=') {
                    Some((n, v)) => (n.trim(), Some(v.trim())),
                    None => (param.trim(), None),
                };
                if !is_token(pname) {
                    return Err(HandshakeError::InvalidExtensions);
                }
                let pvalue = match pvalue {
                    None => None,
                    Some(v) if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') => {
                        let inner = &v[1..v.len() - 1];
                        if inner.contains(['"', '\\']) || !is_token(inner) {
                            return Err(HandshakeError::InvalidExtensions);
                        }
                        Some(inner)
                    }
                    Some(v) if is_token(v) => Some(v),
                    Some(_) => return Err(HandshakeError::InvalidExtensions),
                };
                params.push((pname, pvalue));
            }
            out.push(Extension { name, params });
        }
    }
    Ok(out)
}

/// Parses `Sec-WebSocket-Protocol` values into the offered subprotocols, in order.
pub fn parse_protocols<'a, I>(values: I) -> Result<Vec<&'a str>, HandshakeError>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut out = Vec::new();
    for value in values {
        for p in value.split(',') {
            let p = p.trim();
            if p.is_empty() {
                continue;
            }
            if !is_token(p) {
                return Err(HandshakeError::InvalidExtensions);
            }
            out.push(p);
        }
    }
    Ok(out)
}

/// The server's choice of subprotocol: the first of `supported` (the server's order of
/// preference) that the client offered, compared exactly (§4.2.2: case-sensitive).
pub fn select_protocol<'s>(offered: &[&str], supported: &[&'s str]) -> Option<&'s str> {
    supported.iter().copied().find(|s| offered.contains(s))
}

/// What a valid client handshake asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRequest<'a> {
    /// `Sec-WebSocket-Key` (HTTP/1.1 only; extended CONNECT has none).
    pub key: Option<&'a str>,
    /// `Sec-WebSocket-Protocol`: the offered subprotocols, in order.
    pub protocols: Vec<&'a str>,
    /// `Sec-WebSocket-Extensions`: the offered extensions, in order.
    pub extensions: Vec<Extension<'a>>,
}

impl ClientRequest<'_> {
    /// The `Sec-WebSocket-Accept` value to answer with (HTTP/1.1 only).
    pub fn accept_key(&self) -> Option<AcceptKey> {
        self.key.map(|k| accept_key(k.as_bytes()))
    }
}

fn has_token(value: &str, token: &str) -> bool {
    value
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

struct Common<'a> {
    upgrade: bool,
    connection: bool,
    version_ok: bool,
    version_seen: bool,
    keys: Vec<&'a str>,
    protocols: Vec<&'a str>,
    extensions: Vec<&'a str>,
    accept: Option<&'a str>,
}

fn scan<'a, I>(headers: I) -> Result<Common<'a>, HandshakeError>
where
    I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
{
    let mut c = Common {
        upgrade: false,
        connection: false,
        version_ok: false,
        version_seen: false,
        keys: Vec::new(),
        protocols: Vec::new(),
        extensions: Vec::new(),
        accept: None,
    };
    for (name, value) in headers {
        let Ok(value) = std::str::from_utf8(value) else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case(b"upgrade") {
            c.upgrade |= has_token(value, "websocket");
        } else if name.eq_ignore_ascii_case(b"connection") {
            c.connection |= has_token(value, "upgrade");
        } else if name.eq_ignore_ascii_case(b"sec-websocket-version") {
            // Repeated or listed versions: 13 must be the only one.
            c.version_ok = !c.version_seen && value == "13";
            c.version_seen = true;
        } else if name.eq_ignore_ascii_case(b"sec-websocket-key") {
            c.keys.push(value);
        } else if name.eq_ignore_ascii_case(b"sec-websocket-protocol") {
            c.protocols.push(value);
        } else if name.eq_ignore_ascii_case(b"sec-websocket-extensions") {
            c.extensions.push(value);
        } else if name.eq_ignore_ascii_case(b"sec-websocket-accept") {
            c.accept = Some(value);
        }
    }
    Ok(c)
}

fn key_is_valid(key: &str) -> bool {
    let mut raw = [0u8; 18];
    key.len() == 24 && matches!(STANDARD.decode_slice(key, &mut raw), Ok(16))
}

/// Server side, HTTP/1.1 (§4.2.1): `method` must be `GET`, `headers` must carry
/// `Upgrade: websocket`, a `Connection` with the `upgrade` token, `Sec-WebSocket-Version:
/// 13` and exactly one `Sec-WebSocket-Key` of 16 bytes in base64. The request line's
/// HTTP version (1.1 or later) and `Host` are the HTTP layer's checks.
pub fn validate_request<'a, I>(
    method: &[u8],
    headers: I,
) -> Result<ClientRequest<'a>, HandshakeError>
where
    I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
{
    if method != b"GET" {
        return Err(HandshakeError::Method);
    }
    let c = scan(headers)?;
    if !c.upgrade {
        return Err(HandshakeError::MissingUpgrade);
    }
    if !c.connection {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    if !c.version_ok {
        return Err(HandshakeError::UnsupportedVersion);
    }
    let key = match c.keys.as_slice() {
        [key] if key_is_valid(key) => *key,
        _ => return Err(HandshakeError::InvalidKey),
    };
    Ok(ClientRequest {
        key: Some(key),
        protocols: parse_protocols(c.protocols)?,
        extensions: parse_extensions(c.extensions)?,
    })
}

/// Server side, extended CONNECT over HTTP/2 (RFC 8441 §4) or HTTP/3 (RFC 9220 §3):
/// `method` must be `CONNECT`, `protocol` (the `:protocol` pseudo-header) `websocket`,
/// and `Sec-WebSocket-Version` 13. There is no key and no accept value; `Upgrade` and
/// `Connection` are connection-specific fields the HTTP layer already rejects.
pub fn validate_extended_connect<'a, I>(
    method: &[u8],
    protocol: Option<&[u8]>,
    headers: I,
) -> Result<ClientRequest<'a>, HandshakeError>
where
    I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
{
    if method != b"CONNECT" {
        return Err(HandshakeError::Method);
    }
    if protocol != Some(b"websocket") {
        return Err(HandshakeError::MissingUpgrade);
    }
    let c = scan(headers)?;
    if !c.version_ok {
        return Err(HandshakeError::UnsupportedVersion);
    }
    Ok(ClientRequest {
        key: None,
        protocols: parse_protocols(c.protocols)?,
        extensions: parse_extensions(c.extensions)?,
    })
}

/// What a valid server handshake answer chose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerResponse<'a> {
    /// The chosen subprotocol, if any.
    pub protocol: Option<&'a str>,
    /// The accepted extensions (check them with
    /// [`negotiate_client`](crate::deflate::negotiate_client)).
    pub extensions: Vec<Extension<'a>>,
}

/// Client side (§4.1, the client's checks of the server's answer): `status` 101 with
/// `Upgrade: websocket`, `Connection: upgrade` and the right `Sec-WebSocket-Accept` for
/// `key` (HTTP/1.1, `key` is `Some`), or 2xx (extended CONNECT, `key` is `None`); a
/// subprotocol, if chosen, must be one of `offered_protocols`.
pub fn validate_response<'a, I>(
    status: u16,
    headers: I,
    key: Option<&str>,
    offered_protocols: &[&str],
) -> Result<ServerResponse<'a>, HandshakeError>
where
    I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
{
    let c = scan(headers)?;
    match key {
        Some(key) => {
            if status != 101 {
                return Err(HandshakeError::Status(status));
            }
            if !c.upgrade {
                return Err(HandshakeError::MissingUpgrade);
            }
            if !c.connection {
                return Err(HandshakeError::MissingConnectionUpgrade);
            }
            if c.accept != Some(accept_key(key.as_bytes()).as_str()) {
                return Err(HandshakeError::InvalidAccept);
            }
        }
        None => {
            if !(200..300).contains(&status) {
                return Err(HandshakeError::Status(status));
            }
        }
    }
    let protocol = match parse_protocols(c.protocols)?.as_slice() {
        [] => None,
        [p] if offered_protocols.contains(p) => Some(*p),
        _ => return Err(HandshakeError::InvalidProtocol),
    };
    Ok(ServerResponse {
        protocol,
        extensions: parse_extensions(c.extensions)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        pairs.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes()))
    }

    #[test]
    fn the_rfc_example_accept_key() {
        // RFC 6455 §1.3.
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ==").as_str(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn a_valid_request_and_each_missing_piece() {
        let good = [
            ("Host", "example.com"),
            ("Upgrade", "WebSocket"),
            ("Connection", "keep-alive, Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Protocol", "chat, superchat"),
            (
                "Sec-WebSocket-Extensions",
                "permessage-deflate; client_max_window_bits, x-foo; a=\"1\"",
            ),
        ];
        let req = validate_request(b"GET", h(&good)).unwrap();
        assert_eq!(req.key, Some("dGhlIHNhbXBsZSBub25jZQ=="));
        assert_eq!(req.protocols, ["chat", "superchat"]);
        assert_eq!(req.extensions.len(), 2);
        assert_eq!(req.extensions[0].params, [("client_max_window_bits", None)]);
        assert_eq!(req.extensions[1].params, [("a", Some("1"))]);
        assert_eq!(
            req.accept_key().unwrap().as_str(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(
            select_protocol(&req.protocols, &["superchat", "chat"]),
            Some("superchat")
        );

        assert_eq!(
            validate_request(b"POST", h(&good)),
            Err(HandshakeError::Method)
        );
        let without = |name: &str| -> Vec<(&str, &str)> {
            good.iter().copied().filter(|(n, _)| *n != name).collect()
        };
        assert_eq!(
            validate_request(b"GET", h(&without("Upgrade"))),
            Err(HandshakeError::MissingUpgrade)
        );
        assert_eq!(
            validate_request(b"GET", h(&without("Connection"))),
            Err(HandshakeError::MissingConnectionUpgrade)
        );
        let e = validate_request(b"GET", h(&without("Sec-WebSocket-Version"))).unwrap_err();
        assert_eq!(
            (e.status(), e.response_headers()[0]),
            (426, ("sec-websocket-version", "13"))
        );
        assert_eq!(
            validate_request(b"GET", h(&without("Sec-WebSocket-Key"))),
            Err(HandshakeError::InvalidKey)
        );
        let mut v8 = without("Sec-WebSocket-Version");
        v8.push(("Sec-WebSocket-Version", "8"));
        assert_eq!(
            validate_request(b"GET", h(&v8)),
            Err(HandshakeError::UnsupportedVersion)
        );
        let mut short_key = without("Sec-WebSocket-Key");
        short_key.push(("Sec-WebSocket-Key", "c2hvcnQ="));
        assert_eq!(
            validate_request(b"GET", h(&short_key)),
            Err(HandshakeError::InvalidKey)
        );
        let mut bad_ext = without("Sec-WebSocket-Extensions");
        bad_ext.push(("Sec-WebSocket-Extensions", "permessage-deflate; =1"));
        assert_eq!(
            validate_request(b"GET", h(&bad_ext)),
            Err(HandshakeError::InvalidExtensions)
        );
    }

    #[test]
    fn extended_connect_needs_the_protocol_and_version() {
        let headers = [("sec-websocket-version", "13")];
        let req = validate_extended_connect(b"CONNECT", Some(b"websocket"), h(&headers)).unwrap();
        assert_eq!(req.key, None);
        assert_eq!(
            validate_extended_connect(b"CONNECT", None, h(&headers)),
            Err(HandshakeError::MissingUpgrade)
        );
        assert_eq!(
            validate_extended_connect(b"CONNECT", Some(b"websocket"), h(&[])),
            Err(HandshakeError::UnsupportedVersion)
        );
    }

    #[test]
    fn the_client_checks_the_answer() {
        let key = generate_key([7; 16]);
        let accept = accept_key(key.as_bytes());
        let ok = [
            ("upgrade", "websocket"),
            ("connection", "Upgrade"),
            ("sec-websocket-accept", accept.as_str()),
            ("sec-websocket-protocol", "chat"),
        ];
        let resp = validate_response(101, h(&ok), Some(&key), &["chat"]).unwrap();
        assert_eq!(resp.protocol, Some("chat"));
        assert_eq!(
            validate_response(101, h(&ok), Some(&key), &["other"]),
            Err(HandshakeError::InvalidProtocol)
        );
        assert_eq!(
            validate_response(200, h(&ok), Some(&key), &["chat"]),
            Err(HandshakeError::Status(200))
        );
        let wrong = [
            ("upgrade", "websocket"),
            ("connection", "Upgrade"),
            ("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ];
        assert_eq!(
            validate_response(101, h(&wrong), Some(&key), &[]),
            Err(HandshakeError::InvalidAccept)
        );
    }
}
