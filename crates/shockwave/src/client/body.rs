//! Request bodies: nothing, bytes in memory (replayable: redirects and retries can
//! resend them), or a stream (sent as it is produced: chunked, or with a declared
//! `Content-Length`).

use std::fmt;
use std::io;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;

/// A boxed stream of body pieces.
pub type BodyStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + 'static>>;

/// The body of an outgoing request.
pub struct Body {
    pub(crate) kind: BodyKind,
}

pub(crate) enum BodyKind {
    Empty,
    Full(Bytes),
    Stream {
        stream: BodyStream,
        len: Option<u64>,
    },
}

impl Body {
    /// No body.
    pub fn empty() -> Body {
        Body {
            kind: BodyKind::Empty,
        }
    }

    /// A streamed body of unknown length, sent with `Transfer-Encoding: chunked`.
    /// Streamed bodies are not replayed: no retry on a stale connection, and 307/308
    /// redirects are returned to the caller instead of being followed.
    pub fn wrap_stream<S>(stream: S) -> Body
    where
        S: Stream<Item = io::Result<Bytes>> + Send + 'static,
    {
        Body {
            kind: BodyKind::Stream {
                stream: Box::pin(stream),
                len: None,
            },
        }
    }

    /// A streamed body of exactly `len` bytes, sent with `Content-Length: len`. If the
    /// stream yields a different number of bytes the request fails with
    /// [`Error::BodyLengthMismatch`](super::Error::BodyLengthMismatch) and the
    /// connection is closed.
    pub fn sized_stream<S>(len: u64, stream: S) -> Body
    where
        S: Stream<Item = io::Result<Bytes>> + Send + 'static,
    {
        Body {
            kind: BodyKind::Stream {
                stream: Box::pin(stream),
                len: Some(len),
            },
        }
    }

    /// The body's length, if known up front.
    pub fn len(&self) -> Option<u64> {
        match &self.kind {
            BodyKind::Empty => Some(0),
            BodyKind::Full(b) => Some(b.len() as u64),
            BodyKind::Stream { len, .. } => *len,
        }
    }

    /// True for a body known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// The bytes of an in-memory body (`None` for streams).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match &self.kind {
            BodyKind::Empty => Some(&[]),
            BodyKind::Full(b) => Some(b),
            BodyKind::Stream { .. } => None,
        }
    }

    /// A copy for a resend (redirects, retries); `None` for streams.
    pub(crate) fn try_clone(&self) -> Option<Body> {
        match &self.kind {
            BodyKind::Empty => Some(Body::empty()),
            BodyKind::Full(b) => Some(Body::from(b.clone())),
            BodyKind::Stream { .. } => None,
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BodyKind::Empty => f.write_str("Body::Empty"),
            BodyKind::Full(b) => write!(f, "Body::Full({} bytes)", b.len()),
            BodyKind::Stream { len, .. } => write!(f, "Body::Stream(len: {len:?})"),
        }
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        if b.is_empty() {
            Body::empty()
        } else {
            Body {
                kind: BodyKind::Full(b),
            }
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Body::from(Bytes::from(v))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Body::from(Bytes::from(s))
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Body::from(Bytes::from_static(s.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Self {
        Body::from(Bytes::from_static(s))
    }
}

impl From<()> for Body {
    fn from(_: ()) -> Self {
        Body::empty()
    }
}
