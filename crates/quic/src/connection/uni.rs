//! The peer's unidirectional streams (RFC 9114 §6.2, RFC 9204 §4.2): reading each
//! stream's type, enforcing "one control, one QPACK encoder, one QPACK decoder stream",
//! ignoring unknown and reserved types, and bounding what an idle or hostile peer can
//! make us hold.
//!
//! Bounds: a stream's header is at most two varints (16 bytes, kept in a fixed buffer);
//! the payload of an ignored stream is never looked at. At most
//! [`Config::max_untyped_uni_streams`](super::Config::max_untyped_uni_streams) streams
//! may be waiting for their type or be remembered as ignored; the oldest ignored one is
//! forgotten first, and a peer holding that many streams open without a type is
//! `H3_EXCESSIVE_LOAD`.

use std::collections::{HashMap, VecDeque};

use crate::error::{Error, ErrorCode};
use crate::stream::{PeerUniStreams, Role, UniStreamHeaderReader, UniStreamKind};

/// What the driver does next with a peer unidirectional stream, from
/// [`Connection::recv_uni`](super::Connection::recv_uni).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniAction {
    /// Keep reading the stream and pass its bytes on.
    Read,
    /// Stop reading: send STOP_SENDING with this code (RFC 9114 §6.2: unknown and
    /// reserved stream types; `H3_STREAM_CREATION_ERROR`). Do not pass this stream
    /// again (bytes already read may still be passed; they are dropped).
    Stop(ErrorCode),
    /// The stream ended (non-critical, or before its type arrived, which RFC 9114 §6.2
    /// tolerates): forget it.
    Done,
}

/// The critical streams whose content the connection interprets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Critical {
    Control,
    QpackEncoder,
    QpackDecoder,
}

impl Critical {
    pub(super) fn name(self) -> &'static str {
        match self {
            Critical::Control => "control",
            Critical::QpackEncoder => "QPACK encoder",
            Critical::QpackDecoder => "QPACK decoder",
        }
    }
}

/// Where a piece of a peer uni stream goes.
#[derive(Debug)]
pub(super) enum Route<'a> {
    /// Content of a critical stream (possibly empty), and whether the stream ended.
    Critical(Critical, &'a [u8], bool),
    /// Nothing for the connection to interpret.
    Action(UniAction),
}

#[derive(Debug)]
enum State {
    Header(UniStreamHeaderReader),
    Critical(Critical),
    Ignored,
}

/// The peer's unidirectional streams.
#[derive(Debug)]
pub(super) struct PeerStreams {
    role: Role,
    kinds: PeerUniStreams,
    streams: HashMap<u64, State>,
    /// Ignored streams, oldest first.
    ignored: VecDeque<u64>,
    /// Streams in `State::Header`.
    untyped: usize,
    max_untracked: usize,
}

impl PeerStreams {
    pub(super) fn new(role: Role, max_untracked: usize) -> Self {
        PeerStreams {
            role,
            kinds: PeerUniStreams::new(role),
            streams: HashMap::new(),
            ignored: VecDeque::new(),
            untyped: 0,
            max_untracked,
        }
    }

    /// Routes bytes read from peer uni stream `id`.
    pub(super) fn recv<'a>(
        &mut self,
        id: u64,
        bytes: &'a [u8],
        fin: bool,
    ) -> Result<Route<'a>, Error> {
        if !self.streams.contains_key(&id) {
            self.make_room()?;
            self.streams
                .insert(id, State::Header(UniStreamHeaderReader::new()));
            self.untyped += 1;
        }
        let Some(state) = self.streams.get_mut(&id) else {
            return Ok(Route::Action(UniAction::Done));
        };
        match state {
            State::Critical(c) => Ok(Route::Critical(*c, bytes, fin)),
            State::Ignored => {
                if fin {
                    self.forget(id);
                }
                Ok(Route::Action(UniAction::Done))
            }
            State::Header(reader) => {
                let (n, kind) = reader.decode(bytes);
                let Some(kind) = kind else {
                    if fin {
                        self.forget(id);
                        return Ok(Route::Action(UniAction::Done));
                    }
                    return Ok(Route::Action(UniAction::Read));
                };
                self.untyped -= 1;
                self.kinds.opened(kind)?;
                let critical = match kind {
                    UniStreamKind::Control => Critical::Control,
                    UniStreamKind::QpackEncoder => Critical::QpackEncoder,
                    UniStreamKind::QpackDecoder => Critical::QpackDecoder,
                    // We never send MAX_PUSH_ID, so any push ID is above the maximum
                    // (RFC 9114 §4.6). (A push stream to a server was refused above.)
                    UniStreamKind::Push { push_id } => {
                        debug_assert_eq!(self.role, Role::Client);
                        return Err(Error::IdError {
                            id: push_id,
                            reason: "push stream without MAX_PUSH_ID",
                        });
                    }
                    UniStreamKind::Unknown(_) => {
                        self.streams.insert(id, State::Ignored);
                        self.ignored.push_back(id);
                        if fin {
                            self.forget(id);
                            return Ok(Route::Action(UniAction::Done));
                        }
                        return Ok(Route::Action(UniAction::Stop(
                            ErrorCode::StreamCreationError,
                        )));
                    }
                };
                self.streams.insert(id, State::Critical(critical));
                Ok(Route::Critical(critical, &bytes[n..], fin))
            }
        }
    }

    /// The peer reset stream `id` (RESET_STREAM) or it was otherwise lost.
    pub(super) fn reset(&mut self, id: u64) -> Result<(), Error> {
        if let Some(State::Critical(c)) = self.streams.get(&id) {
            return Err(Error::ClosedCriticalStream { stream: c.name() });
        }
        self.forget(id);
        Ok(())
    }

    /// Number of peer streams whose type has not arrived yet.
    #[cfg(test)]
    pub(super) fn untyped(&self) -> usize {
        self.untyped
    }

    /// Number of ignored streams still remembered.
    #[cfg(test)]
    pub(super) fn ignored(&self) -> usize {
        self.ignored.len()
    }

    fn forget(&mut self, id: u64) {
        match self.streams.remove(&id) {
            Some(State::Header(_)) => self.untyped -= 1,
            Some(State::Ignored) => self.ignored.retain(|&s| s != id),
            _ => {}
        }
    }

    /// Makes room for one more untyped stream.
    fn make_room(&mut self) -> Result<(), Error> {
        while self.untyped + self.ignored.len() >= self.max_untracked {
            let Some(oldest) = self.ignored.pop_front() else {
                return Err(Error::ExcessiveLoad {
                    reason: "too many unidirectional streams without a stream type",
                });
            };
            self.streams.remove(&oldest);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(r: Result<Route<'_>, Error>) -> UniAction {
        match r.unwrap() {
            Route::Action(a) => a,
            Route::Critical(..) => panic!("critical"),
        }
    }

    #[test]
    fn header_split_across_reads() {
        let mut p = PeerStreams::new(Role::Server, 4);
        // Control stream type as a 2-byte varint (0x40 0x00), then content.
        assert_eq!(action(p.recv(2, &[0x40], false)), UniAction::Read);
        assert_eq!(p.untyped(), 1);
        match p.recv(2, &[0x00, 0xaa], false).unwrap() {
            Route::Critical(Critical::Control, rest, false) => assert_eq!(rest, [0xaa]),
            other => panic!("{other:?}"),
        }
        assert_eq!(p.untyped(), 0);
    }

    #[test]
    fn unknown_streams_are_ignored_and_bounded() {
        let mut p = PeerStreams::new(Role::Server, 3);
        // A reserved type (0x21) and an unknown one (0x54).
        assert_eq!(
            action(p.recv(2, &[0x21, 1, 2, 3], false)),
            UniAction::Stop(ErrorCode::StreamCreationError)
        );
        assert_eq!(
            action(p.recv(6, &[0x40, 0x54], false)),
            UniAction::Stop(ErrorCode::StreamCreationError)
        );
        // Later bytes of an ignored stream are dropped; its end forgets it.
        assert_eq!(action(p.recv(2, &[0x00; 100], false)), UniAction::Done);
        assert_eq!(action(p.recv(2, &[], true)), UniAction::Done);
        assert_eq!(p.ignored(), 1);
        // A stream that ends before its type is tolerated.
        assert_eq!(action(p.recv(10, &[0x40], true)), UniAction::Done);
        assert_eq!(p.untyped(), 0);
        // Three untyped streams fill the bound (the ignored stream 6 is forgotten first);
        // a fourth is H3_EXCESSIVE_LOAD.
        for id in [14, 18, 22] {
            assert_eq!(action(p.recv(id, &[0x40], false)), UniAction::Read);
        }
        assert_eq!(p.ignored(), 0);
        let e = p.recv(26, &[0x40], false).unwrap_err();
        assert_eq!(e.code(), ErrorCode::ExcessiveLoad);
        assert!(e.is_connection_error());
    }

    #[test]
    fn resets() {
        let mut p = PeerStreams::new(Role::Client, 4);
        assert!(matches!(
            p.recv(3, &[0x02], false).unwrap(),
            Route::Critical(Critical::QpackEncoder, _, _)
        ));
        assert_eq!(
            p.reset(3).unwrap_err().code(),
            ErrorCode::ClosedCriticalStream
        );
        p.recv(7, &[0x40], false).unwrap();
        p.reset(7).unwrap();
        assert_eq!(p.untyped(), 0);
        p.reset(99).unwrap();
    }
}
