//! The receive side of the peer's control stream (RFC 9114 §6.2.1): a state machine fed
//! the stream's bytes (after the stream type) that yields [`ControlEvent`]s. Drivers
//! normally do not use it directly: [`Connection`](crate::connection::Connection) feeds
//! it and reports its events.
//!
//! Rules enforced:
//! * the first frame must be SETTINGS, else `H3_MISSING_SETTINGS`;
//! * SETTINGS only once, else `H3_FRAME_UNEXPECTED`;
//! * DATA, HEADERS and PUSH_PROMISE are `H3_FRAME_UNEXPECTED` here, as are HTTP/2-only types;
//! * GOAWAY identifiers must not increase, and from a server must be a client-initiated
//!   bidirectional stream ID (`H3_ID_ERROR`);
//! * MAX_PUSH_ID only reaches servers (else `H3_FRAME_UNEXPECTED`) and must not decrease;
//! * CANCEL_PUSH must not name a push ID above the current maximum (`H3_ID_ERROR`);
//! * closing the control stream is `H3_CLOSED_CRITICAL_STREAM`.
//!
//! ```
//! use shockwave_quic::control::{ControlEvent, ControlStream};
//! use shockwave_quic::frame::{self, Settings};
//! use shockwave_quic::stream::Role;
//!
//! let mut wire = Vec::new();
//! Settings { max_field_section_size: Some(8192), ..Settings::default() }
//!     .encode(None, &mut wire)
//!     .unwrap();
//! frame::encode_goaway(8, &mut wire).unwrap();
//!
//! let mut control = ControlStream::new(Role::Client);
//! let mut events = Vec::new();
//! control.recv_all(&wire, |e| events.push(e)).unwrap();
//! assert_eq!(events.len(), 2);
//! assert_eq!(events[1], ControlEvent::GoAway(8));
//! assert_eq!(control.peer_settings().unwrap().max_field_section_size, Some(8192));
//! ```

use crate::error::Error;
use crate::frame::{
    frame_type, Frame, FrameDecoder, FrameEvent, FrameHeader, FrameLimits, Settings, Step,
};
use crate::stream::{is_client_bidi, Role};

/// Something the peer said on its control stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlEvent {
    /// The peer's SETTINGS (always the first event).
    Settings(Settings),
    /// GOAWAY: from a server, the first request stream ID it will not process; from a
    /// client, the first push ID it will not accept.
    GoAway(u64),
    /// CANCEL_PUSH for a push ID.
    CancelPush(u64),
    /// MAX_PUSH_ID (servers only): the client accepts push IDs up to this value.
    MaxPushId(u64),
}

/// State machine for the peer's control stream (see the [module docs](self)).
#[derive(Debug)]
pub struct ControlStream {
    role: Role,
    frames: FrameDecoder,
    settings: Option<Settings>,
    goaway: Option<u64>,
    peer_max_push_id: Option<u64>,
    local_max_push_id: Option<u64>,
}

impl ControlStream {
    /// A control stream reader for an endpoint with the local `role`, with default limits.
    pub fn new(role: Role) -> Self {
        Self::with_limits(role, FrameLimits::default())
    }

    /// As [`new`](Self::new), with explicit frame limits (only `max_settings_len`
    /// matters here).
    pub fn with_limits(role: Role, limits: FrameLimits) -> Self {
        ControlStream {
            role,
            frames: FrameDecoder::new(limits),
            settings: None,
            goaway: None,
            peer_max_push_id: None,
            local_max_push_id: None,
        }
    }

    /// The peer's settings once its SETTINGS frame has arrived.
    pub fn peer_settings(&self) -> Option<&Settings> {
        self.settings.as_ref()
    }

    /// The smallest GOAWAY identifier received so far.
    pub fn goaway(&self) -> Option<u64> {
        self.goaway
    }

    /// (Servers) the largest push ID the client allows, from MAX_PUSH_ID.
    pub fn peer_max_push_id(&self) -> Option<u64> {
        self.peer_max_push_id
    }

    /// (Clients) the MAX_PUSH_ID we advertised; CANCEL_PUSH from the server above it is
    /// `H3_ID_ERROR`. `None` (the default) means we allow no pushes at all.
    pub fn set_local_max_push_id(&mut self, max: Option<u64>) {
        self.local_max_push_id = max;
    }

    /// Feeds stream bytes; returns the bytes consumed and the next event. `None` means
    /// all of `input` was consumed and more is needed.
    pub fn recv(&mut self, input: &[u8]) -> Result<(usize, Option<ControlEvent>), Error> {
        let mut consumed = 0;
        loop {
            let (n, step) = self.frames.advance(&input[consumed..])?;
            consumed += n;
            match step {
                Step::Header(h) => self.check_header(h)?,
                Step::NeedMore => return Ok((consumed, None)),
                Step::Payload => {
                    let (n, event) = self.frames.payload(&input[consumed..])?;
                    consumed += n;
                    let frame = match event {
                        Some(FrameEvent::Frame(frame)) => frame,
                        None => return Ok((consumed, None)),
                        // DATA and headers were rejected in `check_header`.
                        Some(_) => continue,
                    };
                    let event = match frame {
                        Frame::Settings(s) => {
                            self.settings = Some(s);
                            ControlEvent::Settings(s)
                        }
                        Frame::GoAway(id) => self.on_goaway(id)?,
                        Frame::CancelPush(id) => self.on_cancel_push(id)?,
                        Frame::MaxPushId(id) => self.on_max_push_id(id)?,
                        Frame::Headers(_) | Frame::PushPromise { .. } => continue,
                    };
                    return Ok((consumed, Some(event)));
                }
            }
        }
    }

    /// Feeds all of `input`, passing each event to `on_event`.
    pub fn recv_all(
        &mut self,
        mut input: &[u8],
        mut on_event: impl FnMut(ControlEvent),
    ) -> Result<(), Error> {
        loop {
            let (n, event) = self.recv(input)?;
            input = &input[n..];
            match event {
                Some(e) => on_event(e),
                None => return Ok(()),
            }
        }
    }

    /// The peer closed its control stream: always `H3_CLOSED_CRITICAL_STREAM`.
    pub fn finish(&self) -> Result<(), Error> {
        Err(Error::ClosedCriticalStream { stream: "control" })
    }

    fn check_header(&self, h: FrameHeader) -> Result<(), Error> {
        let t = h.frame_type;
        if self.settings.is_none() {
            if t != frame_type::SETTINGS {
                return Err(Error::MissingSettings { frame_type: t });
            }
            return Ok(());
        }
        let unexpected = |reason| {
            Err(Error::FrameUnexpected {
                frame_type: t,
                reason,
            })
        };
        match t {
            frame_type::SETTINGS => unexpected("second SETTINGS on the control stream"),
            frame_type::DATA | frame_type::HEADERS | frame_type::PUSH_PROMISE => {
                unexpected("on the control stream")
            }
            frame_type::MAX_PUSH_ID if self.role == Role::Client => {
                unexpected("MAX_PUSH_ID sent by a server")
            }
            _ => Ok(()),
        }
    }

    fn on_goaway(&mut self, id: u64) -> Result<ControlEvent, Error> {
        if self.role == Role::Client && !is_client_bidi(id) {
            return Err(Error::IdError {
                id,
                reason:
                    "GOAWAY from a server must carry a client-initiated bidirectional stream ID",
            });
        }
        if matches!(self.goaway, Some(prev) if id > prev) {
            return Err(Error::IdError {
                id,
                reason: "GOAWAY identifier larger than a previous one",
            });
        }
        self.goaway = Some(id);
        Ok(ControlEvent::GoAway(id))
    }

    fn on_cancel_push(&mut self, id: u64) -> Result<ControlEvent, Error> {
        let max = match self.role {
            Role::Server => self.peer_max_push_id,
            Role::Client => self.local_max_push_id,
        };
        if !matches!(max, Some(max) if id <= max) {
            return Err(Error::IdError {
                id,
                reason: "CANCEL_PUSH above the maximum push ID",
            });
        }
        Ok(ControlEvent::CancelPush(id))
    }

    fn on_max_push_id(&mut self, id: u64) -> Result<ControlEvent, Error> {
        if matches!(self.peer_max_push_id, Some(prev) if id < prev) {
            return Err(Error::IdError {
                id,
                reason: "MAX_PUSH_ID reduced",
            });
        }
        self.peer_max_push_id = Some(id);
        Ok(ControlEvent::MaxPushId(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::frame;

    fn settings() -> Vec<u8> {
        let mut w = Vec::new();
        Settings::default().encode(Some(1), &mut w).unwrap();
        w
    }

    fn run(role: Role, wire: &[u8]) -> Result<Vec<ControlEvent>, Error> {
        let mut c = ControlStream::new(role);
        let mut out = Vec::new();
        for b in wire.chunks(1) {
            c.recv_all(b, |e| out.push(e))?;
        }
        Ok(out)
    }

    #[test]
    fn happy_path_byte_by_byte() {
        let mut w = settings();
        frame::encode_reserved(0, b"pad", &mut w).unwrap();
        frame::encode_max_push_id(10, &mut w).unwrap();
        frame::encode_cancel_push(10, &mut w).unwrap();
        frame::encode_max_push_id(10, &mut w).unwrap();
        frame::encode_goaway(5, &mut w).unwrap();
        frame::encode_goaway(5, &mut w).unwrap();
        frame::encode_goaway(0, &mut w).unwrap();
        let ev = run(Role::Server, &w).unwrap();
        assert_eq!(
            ev,
            vec![
                ControlEvent::Settings(Settings::default()),
                ControlEvent::MaxPushId(10),
                ControlEvent::CancelPush(10),
                ControlEvent::MaxPushId(10),
                ControlEvent::GoAway(5),
                ControlEvent::GoAway(5),
                ControlEvent::GoAway(0),
            ]
        );
    }

    #[test]
    fn errors() {
        let with = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut w = settings();
            f(&mut w);
            w
        };
        let cases: Vec<(&str, Role, Vec<u8>, ErrorCode)> = vec![
            (
                "goaway first",
                Role::Server,
                {
                    let mut w = Vec::new();
                    frame::encode_goaway(0, &mut w).unwrap();
                    w
                },
                ErrorCode::MissingSettings,
            ),
            (
                "grease first",
                Role::Server,
                {
                    let mut w = Vec::new();
                    frame::encode_reserved(1, b"", &mut w).unwrap();
                    w
                },
                ErrorCode::MissingSettings,
            ),
            (
                "data first",
                Role::Client,
                vec![0x00, 0x00],
                ErrorCode::MissingSettings,
            ),
            (
                "second settings",
                Role::Server,
                with(&|w| Settings::default().encode(None, w).unwrap()),
                ErrorCode::FrameUnexpected,
            ),
            (
                "data",
                Role::Server,
                with(&|w| frame::encode_data(b"x", w).unwrap()),
                ErrorCode::FrameUnexpected,
            ),
            (
                "headers",
                Role::Server,
                with(&|w| frame::encode_headers(b"\0\0", w).unwrap()),
                ErrorCode::FrameUnexpected,
            ),
            (
                "push promise",
                Role::Client,
                with(&|w| frame::encode_push_promise(0, b"\0\0", w).unwrap()),
                ErrorCode::FrameUnexpected,
            ),
            (
                "h2 ping",
                Role::Server,
                with(&|w| frame::write_header(0x06, 8, w).unwrap()),
                ErrorCode::FrameUnexpected,
            ),
            (
                "h2 window update",
                Role::Server,
                with(&|w| frame::write_header(0x08, 4, w).unwrap()),
                ErrorCode::FrameUnexpected,
            ),
            (
                "max push id to client",
                Role::Client,
                with(&|w| frame::encode_max_push_id(1, w).unwrap()),
                ErrorCode::FrameUnexpected,
            ),
            (
                "max push id reduced",
                Role::Server,
                with(&|w| {
                    frame::encode_max_push_id(5, w).unwrap();
                    frame::encode_max_push_id(4, w).unwrap();
                }),
                ErrorCode::IdError,
            ),
            (
                "goaway increased",
                Role::Server,
                with(&|w| {
                    frame::encode_goaway(4, w).unwrap();
                    frame::encode_goaway(5, w).unwrap();
                }),
                ErrorCode::IdError,
            ),
            (
                "goaway not a request stream",
                Role::Client,
                with(&|w| frame::encode_goaway(3, w).unwrap()),
                ErrorCode::IdError,
            ),
            (
                "cancel push without max push id",
                Role::Server,
                with(&|w| frame::encode_cancel_push(0, w).unwrap()),
                ErrorCode::IdError,
            ),
            (
                "cancel push to client without pushes",
                Role::Client,
                with(&|w| frame::encode_cancel_push(0, w).unwrap()),
                ErrorCode::IdError,
            ),
            (
                "goaway with extra bytes",
                Role::Server,
                with(&|w| w.extend_from_slice(&[0x07, 0x02, 0x00, 0x00])),
                ErrorCode::FrameError,
            ),
            (
                "goaway truncated varint",
                Role::Server,
                with(&|w| w.extend_from_slice(&[0x07, 0x01, 0x40])),
                ErrorCode::FrameError,
            ),
            (
                "goaway empty",
                Role::Server,
                with(&|w| w.extend_from_slice(&[0x07, 0x00])),
                ErrorCode::FrameError,
            ),
            (
                "settings too large",
                Role::Server,
                {
                    let mut w = Vec::new();
                    frame::write_header(0x04, 100_000, &mut w).unwrap();
                    w
                },
                ErrorCode::ExcessiveLoad,
            ),
        ];
        for (name, role, wire, code) in cases {
            let err = run(role, &wire).expect_err(name);
            assert_eq!(err.code(), code, "{name}: {err}");
            assert!(err.is_connection_error(), "{name}");
        }
    }

    #[test]
    fn client_cancel_push_within_limit_and_closing() {
        let mut c = ControlStream::new(Role::Client);
        c.set_local_max_push_id(Some(3));
        let mut w = settings();
        frame::encode_cancel_push(3, &mut w).unwrap();
        let mut ev = Vec::new();
        c.recv_all(&w, |e| ev.push(e)).unwrap();
        assert_eq!(ev[1], ControlEvent::CancelPush(3));
        assert_eq!(
            c.finish().unwrap_err().code(),
            ErrorCode::ClosedCriticalStream
        );
    }
}
