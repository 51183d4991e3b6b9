/// Size limits and leniency switches for parsing. Every buffer, count and size the
/// parser looks at is bounded by one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest request line, without its CRLF (default 8 KiB). Longer: [`crate::Error::RequestLineTooLong`] (414).
    /// Also bounds a response's status line.
    pub max_request_line: usize,
    /// Most header fields in one message (default 100). More: [`crate::Error::TooManyHeaders`] (431).
    pub max_headers: usize,
    /// Largest header section in bytes, including line endings and the final empty line
    /// (default 64 KiB). Larger: [`crate::Error::HeadersTooLarge`] (431).
    pub max_header_bytes: usize,
    /// Longest chunk-size line including extensions, without its CRLF (default 4 KiB).
    pub max_chunk_line: usize,
    /// Largest trailer section in bytes (default 16 KiB).
    pub max_trailer_bytes: usize,
    /// Accept lines ended by LF alone (RFC 9112 §2.2 allows it; default `false`, because
    /// disagreeing with a proxy about line ends is a request-smuggling vector).
    pub allow_bare_lf: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_line: 8 * 1024,
            max_headers: 100,
            max_header_bytes: 64 * 1024,
            max_chunk_line: 4 * 1024,
            max_trailer_bytes: 16 * 1024,
            allow_bare_lf: false,
        }
    }
}
