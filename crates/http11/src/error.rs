use http::StatusCode;
use shockwave_arena::ArenaError;
use thiserror::Error;

/// Why a message head or body was rejected.
///
/// Every variant maps to the status code a server should answer with
/// ([`Error::status_code`]); a client treats any of them as a broken response.
/// After any error the connection's framing is unknown: send the error response (if
/// any) and close the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The method is empty or contains a non-token character (RFC 9110 §9.1, §5.6.2).
    #[error("invalid method token")]
    InvalidMethod,
    /// The request-target is empty, contains a byte outside visible ASCII, or is not
    /// in a form allowed for the method (RFC 9112 §3.2).
    #[error("invalid request-target")]
    InvalidTarget,
    /// The start line is not `method SP target SP version` / `version SP status SP reason`
    /// with single spaces, or the version is not `HTTP/DIGIT.DIGIT` (RFC 9112 §2.3, §3, §4).
    #[error("malformed start line or HTTP version")]
    InvalidVersion,
    /// A well-formed HTTP version other than 1.0 or 1.1 (RFC 9110 §15.6.6: 505).
    #[error("HTTP version not supported")]
    UnsupportedVersion,
    /// The method token is longer than [`crate::MAX_METHOD_LEN`]: not a method this
    /// server implements (RFC 9110 §9.1: 501), and not a long target (414).
    #[error("method too long")]
    MethodTooLong,
    /// The request line is longer than [`crate::Limits::max_request_line`] (414).
    #[error("request line too long")]
    RequestLineTooLong,
    /// The status code is not three digits in 100..=999 (RFC 9112 §4).
    #[error("invalid status code")]
    InvalidStatus,
    /// A CR not followed by LF (RFC 9112 §2.2).
    #[error("bare CR in message")]
    BareCr,
    /// A line ended by LF alone while [`crate::Limits::allow_bare_lf`] is off (RFC 9112 §2.2).
    #[error("bare LF line ending")]
    BareLf,
    /// A header field name is empty, lacks a colon, or contains a non-token character
    /// (RFC 9110 §5.1).
    #[error("invalid header field name")]
    InvalidHeaderName,
    /// Whitespace between a field name and its colon (RFC 9112 §5.1: MUST reject, 400).
    #[error("whitespace between header field name and colon")]
    WhitespaceBeforeColon,
    /// Obsolete line folding, or whitespace before the first header line (RFC 9112 §5.2, §2.2).
    #[error("obsolete line folding")]
    ObsFold,
    /// A field value contains NUL, DEL or another control character (RFC 9110 §5.5).
    #[error("invalid character in header field value")]
    InvalidHeaderValue,
    /// More header fields than [`crate::Limits::max_headers`] (431).
    #[error("too many header fields")]
    TooManyHeaders,
    /// The header section is larger than [`crate::Limits::max_header_bytes`] (431).
    #[error("header section too large")]
    HeadersTooLarge,
    /// Content-Length is not a non-empty string of decimal digits (RFC 9110 §8.6).
    #[error("invalid Content-Length")]
    InvalidContentLength,
    /// Content-Length does not fit in a `u64`: invalid framing (RFC 9110 §8.6: 400), not
    /// a size limit (413 is for a valid length over the server's body limit).
    #[error("Content-Length overflows")]
    ContentLengthOverflow,
    /// More than one Content-Length value in a request, even identical ones
    /// (RFC 9110 §8.6 allows rejecting them; this parser does, for requests).
    #[error("duplicate Content-Length")]
    DuplicateContentLength,
    /// Content-Length values that differ (RFC 9112 §6.3 item 5).
    #[error("conflicting Content-Length values")]
    ConflictingContentLength,
    /// A request with both Content-Length and Transfer-Encoding: a request-smuggling
    /// vector (RFC 9112 §6.3 item 3; CVE-2019-18277, CVE-2022-24761).
    #[error("request has both Content-Length and Transfer-Encoding")]
    ContentLengthWithTransferEncoding,
    /// A request whose Transfer-Encoding does not end in `chunked` (RFC 9112 §6.3 item 4).
    #[error("Transfer-Encoding does not end in chunked")]
    TransferEncodingNotChunked,
    /// Transfer-Encoding in an HTTP/1.0 message (RFC 9112 §6.1: framing is faulty).
    #[error("Transfer-Encoding in an HTTP/1.0 message")]
    TransferEncodingInHttp10,
    /// A malformed Transfer-Encoding list, or `chunked` applied more than once (RFC 9112 §7).
    #[error("invalid Transfer-Encoding")]
    InvalidTransferEncoding,
    /// A transfer coding that is not registered (RFC 9112 §6.1: 501).
    #[error("unknown transfer coding")]
    UnknownTransferCoding,
    /// A registered transfer coding other than chunked (gzip, deflate, compress) applied
    /// to a request body: this server does not decode it (501).
    #[error("unsupported transfer coding")]
    UnsupportedTransferCoding,
    /// An HTTP/1.1 request without a Host header field (RFC 9112 §3.2: 400).
    #[error("missing Host header")]
    MissingHost,
    /// More than one Host header field (RFC 9112 §3.2: 400).
    #[error("duplicate Host header")]
    DuplicateHost,
    /// A Host value that is not a valid `uri-host [ ":" port ]`, an empty one included
    /// (RFC 9112 §3.2: 400).
    #[error("invalid Host header")]
    InvalidHost,
    /// An absolute-form request-target whose authority differs from the Host field
    /// (RFC 9112 §3.2.2; answered 400 rather than silently preferring one of them).
    #[error("Host header does not match the request-target's authority")]
    HostMismatch,
    /// A chunk-size that is not hexadecimal, or has trailing garbage (RFC 9112 §7.1).
    #[error("invalid chunk size")]
    InvalidChunkSize,
    /// A chunk-size that does not fit in a `u64`.
    #[error("chunk size overflows")]
    ChunkSizeOverflow,
    /// A chunk-size line longer than [`crate::Limits::max_chunk_line`].
    #[error("chunk size line too long")]
    ChunkLineTooLong,
    /// A malformed chunk extension (RFC 9112 §7.1.1).
    #[error("invalid chunk extension")]
    InvalidChunkExtension,
    /// Chunk data not followed by CRLF (RFC 9112 §7.1).
    #[error("chunk data not terminated by CRLF")]
    InvalidChunkTerminator,
    /// The trailer section is larger than [`crate::Limits::max_trailer_bytes`].
    #[error("trailer section too large")]
    TrailersTooLarge,
    /// The peer closed the connection before the body was complete (RFC 9112 §6.3 item 6/7).
    #[error("connection closed before the message body was complete")]
    IncompleteBody,
    /// The request arena refused an allocation (its limit was reached).
    #[error("arena: {0}")]
    Arena(#[from] ArenaError),
}

impl Error {
    /// The status code a server answers this error with: 400, 414, 431, 501 or 505
    /// (never 413: a size limit on the body is the server's, not the parser's).
    pub fn status_code(&self) -> StatusCode {
        match self {
            Error::UnsupportedVersion => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            Error::RequestLineTooLong => StatusCode::URI_TOO_LONG,
            Error::TooManyHeaders
            | Error::HeadersTooLarge
            | Error::TrailersTooLarge
            | Error::Arena(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Error::UnknownTransferCoding
            | Error::UnsupportedTransferCoding
            | Error::MethodTooLong => StatusCode::NOT_IMPLEMENTED,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}
