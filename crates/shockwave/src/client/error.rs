//! The client's typed errors: each variant says which step failed.

use std::io;
use std::time::Duration;

/// A client result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which deadline expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    /// Establishing the TCP connection (and the TLS handshake) took too long.
    Connect,
    /// The whole request (connect, write, response head and body) took too long.
    Request,
    /// No connection to the host became free in time (the per-host limit was reached).
    PoolWait,
}

impl std::fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeoutKind::Connect => "connect",
            TimeoutKind::Request => "request",
            TimeoutKind::PoolWait => "waiting for a pooled connection",
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
    #[error("connecting to {host}:{port} failed: {source}")]
    Connect {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The TLS handshake failed (bad certificate, no common protocol, ...).
    #[error("TLS handshake with {host} failed: {source}")]
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
    #[error("malformed response: {0}")]
    Protocol(shockwave_http11::Error),
    /// The response head ended where the parser expected more (e.g. a truncated start line).
    #[error("malformed response head")]
    MalformedHead,
    /// The server closed the connection early.
    #[error("server closed the connection {0}")]
    ConnectionClosed(ClosedDuring),
    /// Reading from or writing to the connection failed.
    #[error("I/O error on the connection: {0}")]
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
    #[error("request body stream failed: {0}")]
    BodyStream(#[source] io::Error),
    /// The caller's arena ran out of room (its allocation limit).
    #[error("arena: {0}")]
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
    /// An HTTP/2 connection or stream failed (stream reset by the server, connection
    /// error, or the connection went away).
    #[error("HTTP/2: {0}")]
    Http2(#[from] super::h2::ClientError),
    /// An HTTP/3 request failed (QUIC connection, stream, or protocol error).
    #[error("HTTP/3: {0}")]
    Http3(#[from] super::h3::Http3ClientError),
    /// The response is an HTTP/1.1 upgrade (101), which this client does not follow.
    #[error("unexpected 101 Switching Protocols")]
    UnexpectedUpgrade,
}

impl From<shockwave_http11::Error> for Error {
    /// Codec errors are protocol errors, except the arena running out of room.
    fn from(e: shockwave_http11::Error) -> Error {
        match e {
            shockwave_http11::Error::Arena(a) => Error::Arena(a),
            e => Error::Protocol(e),
        }
    }
}

impl Error {
    /// True for [`Error::Timeout`].
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// True for [`Error::Connect`].
    pub fn is_connect(&self) -> bool {
        matches!(self, Error::Connect { .. })
    }

    /// True for [`Error::Tls`] and [`Error::TlsConfig`].
    pub fn is_tls(&self) -> bool {
        matches!(self, Error::Tls { .. } | Error::TlsConfig(_))
    }

    /// True when the server sent an invalid response or closed the connection early.
    pub fn is_protocol(&self) -> bool {
        matches!(
            self,
            Error::Protocol(_)
                | Error::MalformedHead
                | Error::ConnectionClosed(_)
                | Error::HeadTooLarge { .. }
        )
    }

    pub(crate) fn invalid_url(url: &str, reason: &'static str) -> Error {
        Error::InvalidUrl {
            url: url.to_owned(),
            reason,
        }
    }
}
