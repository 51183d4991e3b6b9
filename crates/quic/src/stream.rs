//! Stream identities: endpoint roles, QUIC stream ID helpers, unidirectional stream types
//! (RFC 9114 §6.2, RFC 9204 §4.2) and the per-connection bookkeeping of the peer's
//! unidirectional streams. [`Connection`](crate::connection::Connection) builds on these;
//! drivers pass peer unidirectional streams to it rather than use them directly.

use crate::error::{is_reserved, Error};
use crate::varint;

/// Which side of the connection this endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We are the client: we send requests and receive responses.
    Client,
    /// We are the server: we receive requests and send responses.
    Server,
}

/// True for a client-initiated bidirectional stream ID (a request stream, RFC 9000 §2.1).
pub fn is_client_bidi(stream_id: u64) -> bool {
    stream_id & 0b11 == 0
}

/// True for a unidirectional stream ID (either initiator).
pub fn is_uni(stream_id: u64) -> bool {
    stream_id & 0b10 != 0
}

/// True if the stream was initiated by the server.
pub fn is_server_initiated(stream_id: u64) -> bool {
    stream_id & 0b01 != 0
}

/// Unidirectional stream type codes (RFC 9114 §6.2, RFC 9204 §4.2).
pub mod stream_type {
    /// Control stream (0x00).
    pub const CONTROL: u64 = 0x00;
    /// Push stream (0x01), followed by a push ID.
    pub const PUSH: u64 = 0x01;
    /// QPACK encoder stream (0x02).
    pub const QPACK_ENCODER: u64 = 0x02;
    /// QPACK decoder stream (0x03).
    pub const QPACK_DECODER: u64 = 0x03;
}

/// The kind of a unidirectional stream, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniStreamKind {
    /// The peer's control stream: HTTP/3 frames follow (feed them to
    /// [`crate::control::ControlStream`]).
    Control,
    /// A push stream fulfilling the given push ID: frames of a response follow.
    Push {
        /// The push ID from the stream header.
        push_id: u64,
    },
    /// The peer's QPACK encoder stream: feed it to
    /// [`crate::qpack::Decoder::feed_encoder_stream`].
    QpackEncoder,
    /// The peer's QPACK decoder stream: feed it to
    /// [`crate::qpack::Encoder::feed_decoder_stream`].
    QpackDecoder,
    /// An unknown or reserved type: abort reading (`H3_STREAM_CREATION_ERROR` is the
    /// suggested code) or discard the data; never a connection error (RFC 9114 §6.2).
    Unknown(u64),
}

impl UniStreamKind {
    /// The stream type code.
    pub fn code(&self) -> u64 {
        match self {
            UniStreamKind::Control => stream_type::CONTROL,
            UniStreamKind::Push { .. } => stream_type::PUSH,
            UniStreamKind::QpackEncoder => stream_type::QPACK_ENCODER,
            UniStreamKind::QpackDecoder => stream_type::QPACK_DECODER,
            UniStreamKind::Unknown(t) => *t,
        }
    }

    /// True for reserved "grease" stream types (`0x1f * N + 0x21`).
    pub fn is_reserved(&self) -> bool {
        matches!(self, UniStreamKind::Unknown(t) if is_reserved(*t))
    }

    /// True for the streams whose closure is `H3_CLOSED_CRITICAL_STREAM`.
    pub fn is_critical(&self) -> bool {
        matches!(
            self,
            UniStreamKind::Control | UniStreamKind::QpackEncoder | UniStreamKind::QpackDecoder
        )
    }

    fn name(&self) -> &'static str {
        match self {
            UniStreamKind::Control => "control",
            UniStreamKind::Push { .. } => "push",
            UniStreamKind::QpackEncoder => "QPACK encoder",
            UniStreamKind::QpackDecoder => "QPACK decoder",
            UniStreamKind::Unknown(_) => "unknown",
        }
    }
}

/// Appends the header of a unidirectional stream we open (its type; for push streams
/// also the push ID).
pub fn encode_uni_stream_header(
    kind: UniStreamKind,
    dst: &mut Vec<u8>,
) -> Result<(), varint::VarIntError> {
    varint::encode(kind.code(), dst)?;
    if let UniStreamKind::Push { push_id } = kind {
        varint::encode(push_id, dst)?;
    }
    Ok(())
}

/// A variable-length integer being read across input pieces.
#[derive(Debug, Clone, Default)]
pub struct PartialVarInt {
    buf: [u8; 8],
    len: usize,
}

impl PartialVarInt {
    /// An empty reader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Consumes bytes from `input`; returns how many and the value once complete.
    pub fn feed(&mut self, input: &[u8]) -> (usize, Option<u64>) {
        if self.len == 0 {
            if let Ok((v, n)) = varint::decode(input) {
                return (n, Some(v));
            }
        }
        let Some(&first) = self.buf[..self.len].first().or(input.first()) else {
            return (0, None);
        };
        let need = varint::len_from_first_byte(first);
        let n = (need - self.len).min(input.len());
        self.buf[self.len..self.len + n].copy_from_slice(&input[..n]);
        self.len += n;
        if self.len < need {
            return (n, None);
        }
        self.len = 0;
        (n, varint::decode(&self.buf[..need]).ok().map(|(v, _)| v))
    }

    /// True if some bytes of an integer have been read.
    pub fn is_partial(&self) -> bool {
        self.len != 0
    }
}

/// Reads the header of a peer-initiated unidirectional stream: the type, and the push ID
/// of push streams.
#[derive(Debug, Clone, Default)]
pub struct UniStreamHeaderReader {
    int: PartialVarInt,
    push: bool,
}

impl UniStreamHeaderReader {
    /// A reader at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Consumes header bytes from `input`; returns how many and the stream kind once the
    /// header is complete (the rest of `input` is the stream's content).
    pub fn decode(&mut self, input: &[u8]) -> (usize, Option<UniStreamKind>) {
        let mut consumed = 0;
        loop {
            let (n, value) = self.int.feed(&input[consumed..]);
            consumed += n;
            let Some(v) = value else {
                return (consumed, None);
            };
            if self.push {
                return (consumed, Some(UniStreamKind::Push { push_id: v }));
            }
            let kind = match v {
                stream_type::CONTROL => UniStreamKind::Control,
                stream_type::PUSH => {
                    self.push = true;
                    continue;
                }
                stream_type::QPACK_ENCODER => UniStreamKind::QpackEncoder,
                stream_type::QPACK_DECODER => UniStreamKind::QpackDecoder,
                other => UniStreamKind::Unknown(other),
            };
            return (consumed, Some(kind));
        }
    }

    /// Call if the stream ends before the header is complete: that is allowed (RFC 9114
    /// §6.2 "A receiver MUST tolerate unidirectional streams being closed or reset prior
    /// to the reception of the unidirectional stream header"), so this just reports it.
    pub fn is_partial(&self) -> bool {
        self.int.is_partial() || self.push
    }
}

/// The peer's unidirectional streams seen so far on a connection: enforces "at most one
/// control / encoder / decoder stream", "only servers push" and "critical streams stay
/// open" (RFC 9114 §6.2.1, §6.2.2, RFC 9204 §4.2).
#[derive(Debug, Clone)]
pub struct PeerUniStreams {
    role: Role,
    control: bool,
    encoder: bool,
    decoder: bool,
}

impl PeerUniStreams {
    /// Bookkeeping for an endpoint with the given local role.
    pub fn new(role: Role) -> Self {
        PeerUniStreams {
            role,
            control: false,
            encoder: false,
            decoder: false,
        }
    }

    /// Registers a new peer stream once its header is read. A second control, encoder or
    /// decoder stream, or a push stream sent to a server, is `H3_STREAM_CREATION_ERROR`.
    pub fn opened(&mut self, kind: UniStreamKind) -> Result<(), Error> {
        let slot = match kind {
            UniStreamKind::Control => &mut self.control,
            UniStreamKind::QpackEncoder => &mut self.encoder,
            UniStreamKind::QpackDecoder => &mut self.decoder,
            UniStreamKind::Push { .. } if self.role == Role::Server => {
                return Err(Error::StreamCreation {
                    reason: "a client opened a push stream",
                })
            }
            UniStreamKind::Push { .. } | UniStreamKind::Unknown(_) => return Ok(()),
        };
        if *slot {
            return Err(Error::StreamCreation {
                reason: match kind {
                    UniStreamKind::Control => "second control stream",
                    UniStreamKind::QpackEncoder => "second QPACK encoder stream",
                    _ => "second QPACK decoder stream",
                },
            });
        }
        *slot = true;
        Ok(())
    }

    /// Reports that a peer stream of `kind` ended or was reset: for critical streams this
    /// is `H3_CLOSED_CRITICAL_STREAM`.
    pub fn closed(&self, kind: UniStreamKind) -> Result<(), Error> {
        if kind.is_critical() {
            return Err(Error::ClosedCriticalStream {
                stream: kind.name(),
            });
        }
        Ok(())
    }

    /// True once the peer's control stream has been seen.
    pub fn has_control(&self) -> bool {
        self.control
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn stream_id_kinds() {
        assert!(is_client_bidi(0) && is_client_bidi(4) && !is_client_bidi(1));
        assert!(is_uni(2) && is_uni(3) && !is_uni(0));
        assert!(is_server_initiated(3) && !is_server_initiated(2));
    }

    #[test]
    fn headers_byte_by_byte() {
        let mut wire = Vec::new();
        encode_uni_stream_header(UniStreamKind::Push { push_id: 20_000 }, &mut wire).unwrap();
        wire.extend_from_slice(b"rest");
        let mut r = UniStreamHeaderReader::new();
        let mut kind = None;
        let mut used = 0;
        for i in 0..wire.len() {
            let (n, k) = r.decode(&wire[i..i + 1]);
            used += n;
            if k.is_some() {
                kind = k;
                break;
            }
        }
        assert_eq!(kind, Some(UniStreamKind::Push { push_id: 20_000 }));
        assert_eq!(&wire[used..], b"rest");

        for (bytes, want) in [
            (&[0x00][..], UniStreamKind::Control),
            (&[0x02], UniStreamKind::QpackEncoder),
            (&[0x03], UniStreamKind::QpackDecoder),
            (&[0x40, 0x21], UniStreamKind::Unknown(0x21)),
            (&[0x14], UniStreamKind::Unknown(0x14)),
        ] {
            let mut r = UniStreamHeaderReader::new();
            assert_eq!(r.decode(bytes), (bytes.len(), Some(want)));
        }
        assert!(UniStreamKind::Unknown(0x21).is_reserved());
        assert!(!UniStreamKind::Unknown(0x14).is_reserved());
    }

    #[test]
    fn peer_stream_rules() {
        let mut s = PeerUniStreams::new(Role::Server);
        s.opened(UniStreamKind::Control).unwrap();
        s.opened(UniStreamKind::QpackEncoder).unwrap();
        s.opened(UniStreamKind::QpackDecoder).unwrap();
        s.opened(UniStreamKind::Unknown(0x21)).unwrap();
        s.opened(UniStreamKind::Unknown(0x21)).unwrap();
        for k in [
            UniStreamKind::Control,
            UniStreamKind::QpackEncoder,
            UniStreamKind::QpackDecoder,
            UniStreamKind::Push { push_id: 0 },
        ] {
            assert_eq!(
                s.opened(k).unwrap_err().code(),
                ErrorCode::StreamCreationError
            );
        }
        let mut c = PeerUniStreams::new(Role::Client);
        c.opened(UniStreamKind::Push { push_id: 0 }).unwrap();
        assert_eq!(
            c.closed(UniStreamKind::Control).unwrap_err().code(),
            ErrorCode::ClosedCriticalStream
        );
        assert!(c.closed(UniStreamKind::Push { push_id: 0 }).is_ok());
        assert!(c.closed(UniStreamKind::Unknown(9)).is_ok());
    }
}
