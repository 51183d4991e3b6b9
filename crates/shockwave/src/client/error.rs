//! The client's one error type, [`Error`], for every protocol (HTTP/1.1, HTTP/2,
//! HTTP/3): each variant says which step failed and keeps the details (the deadline
//! that expired, where the server closed the connection, the stream's reset code), and
//! [`Error::kind`] sorts it into an [`ErrorKind`] for code that only needs to know what
//! sort of failure it was (`is_timeout()`, `is_connect()`, ...).
//!
//! Like `std::io`, reqwest and hyper, an error's `Display` says what failed and does
//! not repeat its cause: the underlying error, when there is one, is
//! [`std::error::Error::source`], so walking the chain (anyhow's `{:#}` does) prints
//! each cause once:
//! `connecting to 127.0.0.1:1 failed: Connection refused (os error 111)`.

use std::io;
use std::time::Duration;

/// A client result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which deadline expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// Establishing the TCP connection (and the TLS handshake) took too long.
    Connect,
    /// The whole request (connect, write, response head and body) took too long.
    Request,
    /// No connection to the host became free in time (the per-host limit was reached).
    PoolWait,
    /// The server did not answer a keep-alive PING in time (HTTP/2, RFC 9113 §6.7;
    /// see `Http2Config::keep_alive_interval`): the connection was closed.
    KeepAlive,
    /// The server did not acknowledge our SETTINGS in time (HTTP/2, RFC 9113 §6.5.3):
    /// the connection was closed with SETTINGS_TIMEOUT.
    Settings,
}

impl std::fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeoutKind::Connect => "connect",
            TimeoutKind::Request => "request",
            TimeoutKind::PoolWait => "waiting for a pooled connection",
            TimeoutKind::KeepAlive => "keep-alive PING acknowledgement",
            TimeoutKind::Settings => "SETTINGS acknowledgement",
        })
    }
}

/// Where in the exchange the server closed the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosedDuring {
    /// Before any byte of the response arrived.
    BeforeResponse,
    /// In the middle of the response head.
    Head,
    /// In the middle of the response body.
    Body,
}

impl std::fmt::Display for ClosedDuring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ClosedDuring::BeforeResponse => "before sending a response",
            ClosedDuring::Head => "in the middle of the response head",
            ClosedDuring::Body => "in the middle of the response body",
        })
    }
}

/// Everything that can go wrong when sending a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL could not be parsed or cannot be requested.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The URL's scheme is neither `http` nor `https`.
    #[error("unsupported URL scheme {0:?} (only http and https)")]
    UnsupportedScheme(String),
    /// A request header name or value is not valid HTTP.
    #[error("invalid request header {name:?}")]
    InvalidHeader {
        /// The offending header name (lossily decoded).
        name: String,
    },
    /// Resolving the host or opening the TCP connection failed.
    #[error("connecting to {host}:{port} failed")]
    Connect {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The proxy refused to carry the request: a non-2xx answer to `CONNECT` (e.g. 407
    /// Proxy Authentication Required), a failed SOCKS5 handshake or authentication, or a
    /// malformed proxy answer. See [`Error::is_proxy_auth`].
    #[error("proxy {proxy} {reason}")]
    Proxy {
        /// The proxy (`scheme://host:port`, never its credentials).
        proxy: String,
        /// The proxy's status: its `CONNECT` response status, or 407 when a SOCKS5 proxy
        /// rejected or required credentials.
        status: Option<http::StatusCode>,
        /// What went wrong.
        reason: String,
    },
    /// The TLS handshake failed (bad certificate, no common protocol, ...).
    #[error("TLS handshake with {host} failed")]
    Tls {
        /// The server name that was verified.
        host: String,
        /// The underlying error (wraps a `rustls::Error` when rustls rejected the peer).
        #[source]
        source: io::Error,
    },
    /// The TLS configuration could not be built (e.g. an unparsable root certificate).
    #[error("TLS configuration error: {0}")]
    TlsConfig(String),
    /// A deadline expired.
    #[error("{kind} timed out after {after:?}")]
    Timeout {
        /// Which deadline.
        kind: TimeoutKind,
        /// The configured duration.
        after: Duration,
    },
    /// The server sent something that is not valid HTTP/1.1.
    #[error("malformed response")]
    Protocol(#[source] shockwave_http11::Error),
    /// The response head ended where the parser expected more (e.g. a truncated start line).
    #[error("malformed response head")]
    MalformedHead,
    /// The server closed the connection early.
    #[error("server closed the connection {0}")]
    ConnectionClosed(ClosedDuring),
    /// Reading from or writing to the connection failed.
    #[error("I/O error on the connection")]
    Io(#[from] io::Error),
    /// The response head is larger than the configured limit.
    #[error("response head larger than the {limit}-byte limit")]
    HeadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The response body is larger than the configured limit.
    #[error("response body larger than the {limit}-byte limit")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The request body produced a different number of bytes than it declared.
    #[error("request body length mismatch: declared {declared} bytes, produced {produced}")]
    BodyLengthMismatch {
        /// The declared `Content-Length`.
        declared: u64,
        /// What the stream produced (so far).
        produced: u64,
    },
    /// The request body stream failed.
    #[error("request body stream failed")]
    BodyStream(#[source] io::Error),
    /// The caller's arena ran out of room (its allocation limit).
    #[error("the arena ran out of room")]
    Arena(#[from] shockwave_arena::ArenaError),
    /// More redirects than the policy allows.
    #[error("too many redirects (more than {max})")]
    TooManyRedirects {
        /// The policy's maximum.
        max: usize,
    },
    /// A redirect response carried no usable `Location`.
    #[error("redirect with a missing or invalid Location header")]
    InvalidRedirect,
    /// The server reset the request's HTTP/2 stream with this code (RST_STREAM, RFC
    /// 9113 §6.4; `REFUSED_STREAM` means it was not processed, §8.7).
    #[error("HTTP/2 stream reset by the server ({0})")]
    #[cfg(feature = "http2")]
    Http2Reset(crate::http2::ErrorCode),
    /// The HTTP/2 connection failed with a connection error (a GOAWAY with this code was
    /// sent, RFC 9113 §5.4.1).
    #[error("HTTP/2 connection failed")]
    #[cfg(feature = "http2")]
    Http2Connection(#[source] crate::http2::ConnectionError),
    /// The server reset the request's HTTP/3 stream (RESET_STREAM or STOP_SENDING with
    /// this application error code, RFC 9114 §8.1).
    #[error("HTTP/3 stream reset by the server (code {0:#x})")]
    #[cfg(feature = "http3")]
    Http3Reset(u64),
    /// The server broke the HTTP/3 protocol (framing, QPACK, control stream).
    #[error("HTTP/3 protocol error")]
    #[cfg(feature = "http3")]
    Http3Protocol(#[source] shockwave_quic::Error),
    /// The QUIC connection failed or was closed (HTTP/3).
    #[error("QUIC connection closed")]
    #[cfg(feature = "http3")]
    Quic(#[source] quinn::ConnectionError),
    /// The response is an HTTP/1.1 upgrade (101), which this client does not follow.
    #[error("unexpected 101 Switching Protocols")]
    UnexpectedUpgrade,
    /// The server answered with a client (4xx) or server (5xx) error status; made by
    /// [`Response::error_for_status`](super::Response::error_for_status) only (a
    /// response with any status is otherwise a successful exchange).
    #[error("HTTP status {} ({status}) for {url}", if status.is_client_error() { "client error" } else { "server error" })]
    Status {
        /// The response status.
        status: http::StatusCode,
        /// The URL of the response (after redirects).
        url: Box<url::Url>,
    },
    /// The request body could not be serialized (JSON, form or query string).
    #[error("serializing the request {0} failed")]
    Serialize(&'static str, #[source] BoxError),
    /// The response body could not be decoded (e.g. as JSON by `Response::json`).
    #[error("decoding the response body failed")]
    Decode(#[source] BoxError),
    /// The decompressed response body is larger than the client's
    /// `max_decompressed_size` (feature `compression`): a decompression bomb, or a body
    /// beyond the limit. The connection was closed.
    #[error("decompressed response body larger than the {limit}-byte limit")]
    DecompressedTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The response body is not valid for its `Content-Encoding` (feature
    /// `compression`). The connection was closed.
    #[error("response body is not valid {encoding} data")]
    Decompress {
        /// The content coding (`gzip`, `br`, `zstd`, `deflate`).
        encoding: &'static str,
        /// The codec's error.
        #[source]
        source: io::Error,
    },
}

/// A boxed error of another library (a serializer, a decoder) kept as the source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl From<shockwave_http11::Error> for Error {
    /// Codec errors are protocol errors, except the arena running out of room.
    fn from(e: shockwave_http11::Error) -> Error {
        match e {
            shockwave_http11::Error::Arena(a) => Error::Arena(a),
            e => Error::Protocol(e),
        }
    }
}

#[cfg(feature = "http3")]
impl From<quinn::ConnectionError> for Error {
    fn from(e: quinn::ConnectionError) -> Error {
        Error::Quic(e)
    }
}

/// A QUIC handshake failure: a TLS alert (a CRYPTO_ERROR transport code, 0x100 to
/// 0x1ff, RFC 9001 §4.8) is a TLS error like a failed TCP+TLS handshake (an untrusted
/// certificate, a wrong name, no common ALPN); anything else is [`Error::Quic`].
#[cfg(feature = "http3")]
pub(crate) fn quic_handshake(e: quinn::ConnectionError, host: &str) -> Error {
    let crypto = |code: quinn::TransportErrorCode| (0x100..0x200).contains(&u64::from(code));
    match &e {
        quinn::ConnectionError::TransportError(t) if crypto(t.code) => Error::Tls {
            host: host.to_owned(),
            source: io::Error::other(e),
        },
        quinn::ConnectionError::ConnectionClosed(c) if crypto(c.error_code) => Error::Tls {
            host: host.to_owned(),
            source: io::Error::other(e),
        },
        _ => Error::Quic(e),
    }
}

#[cfg(feature = "http3")]
impl From<quinn::ReadError> for Error {
    /// A reset stream keeps its code; a lost connection is [`Error::Quic`].
    fn from(e: quinn::ReadError) -> Error {
        match e {
            quinn::ReadError::Reset(code) => Error::Http3Reset(code.into_inner()),
            quinn::ReadError::ConnectionLost(c) => Error::Quic(c),
            e => Error::Io(e.into()),
        }
    }
}

#[cfg(feature = "http3")]
impl From<quinn::WriteError> for Error {
    /// The server stopping the request stream keeps its code; a lost connection is
    /// [`Error::Quic`].
    fn from(e: quinn::WriteError) -> Error {
        match e {
            quinn::WriteError::Stopped(code) => Error::Http3Reset(code.into_inner()),
            quinn::WriteError::ConnectionLost(c) => Error::Quic(c),
            e => Error::Io(e.into()),
        }
    }
}

#[cfg(feature = "http3")]
impl From<shockwave_quic::Error> for Error {
    fn from(e: shockwave_quic::Error) -> Error {
        Error::Http3Protocol(e)
    }
}

#[cfg(feature = "http3")]
impl From<crate::http3::SetupError> for Error {
    fn from(e: crate::http3::SetupError) -> Error {
        match e {
            crate::http3::SetupError::Tls(m) => Error::TlsConfig(m),
            crate::http3::SetupError::Io(e) => Error::Io(e),
        }
    }
}

/// What sort of failure an [`Error`] is (see [`Error::kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request cannot be sent as given: invalid URL, scheme or header field.
    InvalidRequest,
    /// Resolving the host or opening the connection failed.
    Connect,
    /// The proxy refused the request or failed its handshake ([`Error::Proxy`]).
    Proxy,
    /// TLS failed: the handshake, or the TLS configuration.
    Tls,
    /// A deadline expired.
    Timeout(TimeoutKind),
    /// The server broke the protocol (HTTP/1.1, HTTP/2 or HTTP/3), or sent a response
    /// head beyond the limits.
    Protocol,
    /// The server reset the request's stream (HTTP/2, HTTP/3).
    Reset,
    /// The connection closed before the exchange finished (the server closed it, or the
    /// HTTP/2 or QUIC connection went away).
    Closed,
    /// The request or response body failed: too large, length mismatch, stream error.
    Body,
    /// A redirect could not be followed.
    Redirect,
    /// Reading from or writing to the connection failed.
    Io,
    /// The caller's arena ran out of room.
    Arena,
    /// The response has an error status ([`Error::Status`], from
    /// `Response::error_for_status`).
    Status,
    /// The response body could not be decoded ([`Error::Decode`], or
    /// [`Error::Decompress`] for its `Content-Encoding`).
    Decode,
}

impl Error {
    /// What sort of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidUrl { .. }
            | Error::UnsupportedScheme(_)
            | Error::InvalidHeader { .. }
            | Error::Serialize(..) => ErrorKind::InvalidRequest,
            Error::Connect { .. } => ErrorKind::Connect,
            Error::Proxy { .. } => ErrorKind::Proxy,
            Error::Tls { .. } | Error::TlsConfig(_) => ErrorKind::Tls,
            Error::Timeout { kind, .. } => ErrorKind::Timeout(*kind),
            Error::Protocol(_)
            | Error::MalformedHead
            | Error::HeadTooLarge { .. }
            | Error::UnexpectedUpgrade => ErrorKind::Protocol,
            #[cfg(feature = "http3")]
            Error::Http3Protocol(_) => ErrorKind::Protocol,
            #[cfg(feature = "http2")]
            Error::Http2Connection(e) if e.code != crate::http2::ErrorCode::NoError => {
                ErrorKind::Protocol
            }
            #[cfg(feature = "http2")]
            Error::Http2Reset(_) => ErrorKind::Reset,
            #[cfg(feature = "http3")]
            Error::Http3Reset(_) => ErrorKind::Reset,
            Error::ConnectionClosed(_) => ErrorKind::Closed,
            #[cfg(feature = "http2")]
            Error::Http2Connection(_) => ErrorKind::Closed,
            #[cfg(feature = "http3")]
            Error::Quic(_) => ErrorKind::Closed,
            Error::BodyTooLarge { .. }
            | Error::BodyLengthMismatch { .. }
            | Error::BodyStream(_) => ErrorKind::Body,
            Error::TooManyRedirects { .. } | Error::InvalidRedirect => ErrorKind::Redirect,
            Error::Io(_) => ErrorKind::Io,
            Error::Arena(_) => ErrorKind::Arena,
            Error::Status { .. } => ErrorKind::Status,
            Error::Decode(_) => ErrorKind::Decode,
            Error::DecompressedTooLarge { .. } => ErrorKind::Body,
            Error::Decompress { .. } => ErrorKind::Decode,
        }
    }

    /// True when a deadline expired ([`ErrorKind::Timeout`]).
    pub fn is_timeout(&self) -> bool {
        matches!(self.kind(), ErrorKind::Timeout(_))
    }

    /// True when connecting failed ([`ErrorKind::Connect`]).
    pub fn is_connect(&self) -> bool {
        self.kind() == ErrorKind::Connect
    }

    /// True when the proxy refused the request or failed its handshake
    /// ([`ErrorKind::Proxy`]).
    pub fn is_proxy(&self) -> bool {
        self.kind() == ErrorKind::Proxy
    }

    /// True when the proxy asked for (other) credentials: a 407 answer to `CONNECT` (or
    /// 401, which some proxies, tinyproxy among them, send instead), or a SOCKS5 proxy
    /// that rejected or required a username and password.
    pub fn is_proxy_auth(&self) -> bool {
        matches!(
            self.proxy_status(),
            Some(http::StatusCode::PROXY_AUTHENTICATION_REQUIRED | http::StatusCode::UNAUTHORIZED)
        )
    }

    /// The proxy's status of an [`Error::Proxy`], if it gave one.
    pub fn proxy_status(&self) -> Option<http::StatusCode> {
        match self {
            Error::Proxy { status, .. } => *status,
            _ => None,
        }
    }

    /// True when TLS failed ([`ErrorKind::Tls`]).
    pub fn is_tls(&self) -> bool {
        self.kind() == ErrorKind::Tls
    }

    /// True when the server sent an invalid response, reset the stream, or closed the
    /// connection early ([`ErrorKind::Protocol`], [`ErrorKind::Reset`] and
    /// [`ErrorKind::Closed`]).
    pub fn is_protocol(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::Protocol | ErrorKind::Reset | ErrorKind::Closed
        )
    }

    /// True when the connection closed before the exchange finished
    /// ([`ErrorKind::Closed`]).
    pub fn is_closed(&self) -> bool {
        self.kind() == ErrorKind::Closed
    }

    /// True when the server reset the request's stream ([`ErrorKind::Reset`]).
    pub fn is_reset(&self) -> bool {
        self.kind() == ErrorKind::Reset
    }

    /// True when a request or response body failed ([`ErrorKind::Body`]).
    pub fn is_body(&self) -> bool {
        self.kind() == ErrorKind::Body
    }

    /// True when a redirect could not be followed ([`ErrorKind::Redirect`]).
    pub fn is_redirect(&self) -> bool {
        self.kind() == ErrorKind::Redirect
    }

    /// True when the request could not be sent as given ([`ErrorKind::InvalidRequest`]).
    pub fn is_request(&self) -> bool {
        self.kind() == ErrorKind::InvalidRequest
    }

    /// True when the response had an error status ([`ErrorKind::Status`], made by
    /// `Response::error_for_status`).
    pub fn is_status(&self) -> bool {
        self.kind() == ErrorKind::Status
    }

    /// True when the response body could not be decoded ([`ErrorKind::Decode`]).
    pub fn is_decode(&self) -> bool {
        self.kind() == ErrorKind::Decode
    }

    /// The response status of an [`Error::Status`] (from
    /// `Response::error_for_status`), else `None`.
    pub fn status(&self) -> Option<http::StatusCode> {
        match self {
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The URL of an [`Error::Status`], else `None`.
    pub fn url(&self) -> Option<&url::Url> {
        match self {
            Error::Status { url, .. } => Some(url),
            _ => None,
        }
    }

    pub(crate) fn invalid_url(url: &str, reason: &'static str) -> Error {
        Error::InvalidUrl {
            url: url.to_owned(),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn kinds_and_sources() {
        let e = Error::Timeout {
            kind: TimeoutKind::KeepAlive,
            after: Duration::from_secs(1),
        };
        assert_eq!(e.kind(), ErrorKind::Timeout(TimeoutKind::KeepAlive));
        assert!(e.is_timeout() && !e.is_protocol());
        #[cfg(feature = "http2")]
        {
            let e = Error::Http2Reset(crate::http2::ErrorCode::RefusedStream);
            assert!(e.is_reset() && e.is_protocol() && !e.is_closed());
            let ce = crate::http2::ConnectionError {
                code: crate::http2::ErrorCode::ProtocolError,
                reason: "test",
            };
            let e = Error::Http2Connection(ce);
            assert_eq!(e.kind(), ErrorKind::Protocol);
            assert!(e.source().is_some(), "the connection error is the source");
            let e = Error::Http2Connection(crate::http2::ConnectionError {
                code: crate::http2::ErrorCode::NoError,
                reason: "test",
            });
            assert!(e.is_closed());
        }
        let e = Error::Connect {
            host: "h".into(),
            port: 1,
            source: io::Error::other("refused"),
        };
        assert!(e.is_connect());
        assert_eq!(e.source().unwrap().to_string(), "refused");
        // Each cause once: the Display says what failed, the source says why.
        assert_eq!(e.to_string(), "connecting to h:1 failed");
        let e = Error::Io(io::Error::other("broken pipe"));
        assert!(!e.to_string().contains("broken pipe"), "{e}");
        assert_eq!(e.source().unwrap().to_string(), "broken pipe");
        let e = Error::Status {
            status: http::StatusCode::NOT_FOUND,
            url: Box::new(url::Url::parse("http://h/x").unwrap()),
        };
        assert!(e.is_status() && !e.is_protocol());
        assert_eq!(e.status(), Some(http::StatusCode::NOT_FOUND));
        assert_eq!(
            e.to_string(),
            "HTTP status client error (404 Not Found) for http://h/x"
        );
        assert!(Error::ConnectionClosed(ClosedDuring::Body).is_closed());
        assert!(Error::BodyTooLarge { limit: 1 }.is_body());
        assert!(Error::InvalidRedirect.is_redirect());
        assert!(Error::invalid_url("x", "y").is_request());
    }
}
