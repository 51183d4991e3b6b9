//! The receive side of a request stream (RFC 9114 §4.1): a state machine fed the bytes
//! of one bidirectional stream that yields [`RequestEvent`]s.
//!
//! A message is one HEADERS frame, then any number of DATA frames, then optionally one
//! trailing HEADERS frame; unknown and reserved frames may appear anywhere. Anything else
//! (DATA before HEADERS, a frame after the trailers, a control-stream frame) is
//! `H3_FRAME_UNEXPECTED`. On a client, interim (1xx) responses may precede the final
//! one: after decoding a 1xx header section, call
//! [`RequestStream::interim_response`] so the next HEADERS is accepted as a new
//! header section.
//!
//! The stream does not decode QPACK itself: a [`RequestEvent::Headers`] carries the
//! encoded field section for [`crate::qpack::Decoder::decode_section`] (the decoder is a
//! per-connection object shared by all streams).
//!
//! ```
//! use shockwave_quic::frame;
//! use shockwave_quic::request::{RequestEvent, RequestStream};
//! use shockwave_quic::stream::Role;
//!
//! let mut wire = Vec::new();
//! frame::encode_headers(b"\x00\x00\xd1", &mut wire).unwrap();
//! frame::encode_data(b"body", &mut wire).unwrap();
//!
//! let mut stream = RequestStream::new(Role::Server);
//! let mut input = &wire[..];
//! loop {
//!     let (n, event) = stream.recv(input).unwrap();
//!     input = &input[n..];
//!     match event {
//!         Some(RequestEvent::Headers(section)) => assert_eq!(section, b"\x00\x00\xd1"),
//!         Some(RequestEvent::Data(body)) => assert_eq!(body, b"body"),
//!         Some(other) => panic!("{other:?}"),
//!         None => break,
//!     }
//! }
//! stream.finish().unwrap(); // FIN received: the message is complete
//! ```

use crate::error::Error;
use crate::frame::{frame_type, Frame, FrameDecoder, FrameEvent, FrameHeader, FrameLimits, Step};
use crate::stream::Role;

/// Something found on a request stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestEvent<'a> {
    /// The encoded field section of the header section (request headers on a server,
    /// response headers, interim or final, on a client).
    Headers(&'a [u8]),
    /// A piece of content (zero copy).
    Data(&'a [u8]),
    /// The encoded field section of the trailer section.
    Trailers(&'a [u8]),
    /// (Clients) a PUSH_PROMISE; since this crate does not implement push, a driver
    /// should cancel it (CANCEL_PUSH) unless it supports push.
    PushPromise {
        /// The promised push ID.
        push_id: u64,
        /// The encoded promised request header section.
        field_section: &'a [u8],
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the (first or next, after an interim response) HEADERS.
    AwaitHeaders,
    /// Headers received: DATA or trailing HEADERS may follow.
    Body,
    /// Trailers received: only unknown frames may follow.
    Done,
}

/// State machine for the receiving half of one request stream (see the
/// [module docs](self)).
#[derive(Debug)]
pub struct RequestStream {
    role: Role,
    frames: FrameDecoder,
    phase: Phase,
    content_length: Option<u64>,
    received: u64,
    local_max_push_id: Option<u64>,
    push_stream: bool,
}

impl RequestStream {
    /// A request stream for an endpoint with the local `role` (a server reads requests,
    /// a client reads responses), with a 16 KiB HEADERS limit.
    pub fn new(role: Role) -> Self {
        Self::with_limits(role, FrameLimits::default())
    }

    /// As [`new`](Self::new) with explicit limits; set `max_field_section_len` to the
    /// max field section size you advertise.
    pub fn with_limits(role: Role, limits: FrameLimits) -> Self {
        RequestStream {
            role,
            frames: FrameDecoder::new(limits),
            phase: Phase::AwaitHeaders,
            content_length: None,
            received: 0,
            local_max_push_id: None,
            push_stream: false,
        }
    }

    /// (Clients) a state machine for a push stream's content (after its stream header):
    /// a response like on a request stream, except that PUSH_PROMISE is
    /// `H3_FRAME_UNEXPECTED` there (RFC 9114 §4.1).
    pub fn for_push_stream(limits: FrameLimits) -> Self {
        RequestStream {
            push_stream: true,
            ..Self::with_limits(Role::Client, limits)
        }
    }

    /// Resets the state machine for a new stream, keeping its buffer's capacity.
    pub fn reset(&mut self) {
        let limits = self.frames.limits();
        if !self.frames.is_idle() {
            self.frames = FrameDecoder::new(limits);
        }
        self.phase = Phase::AwaitHeaders;
        self.content_length = None;
        self.received = 0;
    }

    /// (Clients) the MAX_PUSH_ID we advertised; a PUSH_PROMISE above it is
    /// `H3_ID_ERROR`. `None` (the default) allows no push at all.
    pub fn set_local_max_push_id(&mut self, max: Option<u64>) {
        self.local_max_push_id = max;
    }

    /// Declares the message's `content-length` (after decoding the header section): the
    /// DATA frames must add up to exactly this, else `H3_MESSAGE_ERROR` (RFC 9114 §4.1.2).
    /// Do not call it for responses without content (HEAD, 204, 304).
    pub fn set_content_length(&mut self, len: u64) -> Result<(), Error> {
        self.content_length = Some(len);
        if self.received > len {
            return Err(content_length_error());
        }
        Ok(())
    }

    /// (Clients) the header section just decoded was an interim (1xx) response: accept
    /// another header section. Fails with `H3_FRAME_UNEXPECTED` unless a header section
    /// and no content has been received.
    pub fn interim_response(&mut self) -> Result<(), Error> {
        if self.role != Role::Client || self.phase != Phase::Body || self.received != 0 {
            return Err(Error::FrameUnexpected {
                frame_type: frame_type::HEADERS,
                reason: "interim response after content or trailers",
            });
        }
        self.phase = Phase::AwaitHeaders;
        Ok(())
    }

    /// Content bytes received so far.
    pub fn content_received(&self) -> u64 {
        self.received
    }

    /// True once the header section has been received.
    pub fn headers_received(&self) -> bool {
        self.phase != Phase::AwaitHeaders
    }

    /// Feeds stream bytes; returns the bytes consumed and the next event. `None` means
    /// all of `input` was consumed and more is needed.
    pub fn recv<'a>(
        &'a mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<RequestEvent<'a>>), Error> {
        let mut consumed = 0;
        loop {
            let (n, step) = self.frames.advance(&input[consumed..])?;
            consumed += n;
            match step {
                Step::Header(h) => self.check_header(h)?,
                Step::NeedMore => return Ok((consumed, None)),
                Step::Payload => break,
            }
        }
        let (n, event) = self.frames.payload(&input[consumed..])?;
        consumed += n;
        let event = match event {
            None => return Ok((consumed, None)),
            Some(FrameEvent::Data(data)) => {
                self.received += data.len() as u64;
                if matches!(self.content_length, Some(cl) if self.received > cl) {
                    return Err(content_length_error());
                }
                RequestEvent::Data(data)
            }
            Some(FrameEvent::Frame(Frame::Headers(section))) => match self.phase {
                Phase::AwaitHeaders => {
                    self.phase = Phase::Body;
                    RequestEvent::Headers(section)
                }
                _ => {
                    self.phase = Phase::Done;
                    RequestEvent::Trailers(section)
                }
            },
            Some(FrameEvent::Frame(Frame::PushPromise {
                push_id,
                field_section,
            })) => {
                if !matches!(self.local_max_push_id, Some(max) if push_id <= max) {
                    return Err(Error::IdError {
                        id: push_id,
                        reason: "PUSH_PROMISE above the maximum push ID",
                    });
                }
                RequestEvent::PushPromise {
                    push_id,
                    field_section,
                }
            }
            // Control frames and headers are rejected in `check_header`.
            Some(FrameEvent::Frame(other)) => {
                return Err(Error::FrameUnexpected {
                    frame_type: other.frame_type(),
                    reason: "on a request stream",
                })
            }
            Some(FrameEvent::Header(_)) => {
                return Err(Error::FrameError {
                    frame_type: frame_type::DATA,
                    reason: "internal: header event from payload",
                })
            }
        };
        Ok((consumed, Some(event)))
    }

    /// Call when the stream's FIN arrives. Errors: a truncated frame is
    /// `H3_FRAME_ERROR`; a request stream without a header section is
    /// `H3_REQUEST_INCOMPLETE` (a response without one is `H3_MESSAGE_ERROR`); content
    /// shorter than `content-length` is `H3_MESSAGE_ERROR`.
    pub fn finish(&self) -> Result<(), Error> {
        self.frames.finish()?;
        if self.phase == Phase::AwaitHeaders {
            return Err(match self.role {
                Role::Server => Error::RequestIncomplete,
                Role::Client => Error::MessageError {
                    reason: "response stream ended before the header section",
                },
            });
        }
        if matches!(self.content_length, Some(cl) if self.received != cl) {
            return Err(content_length_error());
        }
        Ok(())
    }

    fn check_header(&self, h: FrameHeader) -> Result<(), Error> {
        let t = h.frame_type;
        let unexpected = |reason| {
            Err(Error::FrameUnexpected {
                frame_type: t,
                reason,
            })
        };
        match t {
            frame_type::DATA => match self.phase {
                Phase::AwaitHeaders => unexpected("DATA before HEADERS"),
                Phase::Body => Ok(()),
                Phase::Done => unexpected("DATA after the trailers"),
            },
            frame_type::HEADERS if self.phase == Phase::Done => {
                unexpected("HEADERS after the trailers")
            }
            frame_type::HEADERS => Ok(()),
            frame_type::PUSH_PROMISE if self.role == Role::Server => {
                unexpected("PUSH_PROMISE sent by a client")
            }
            frame_type::PUSH_PROMISE if self.push_stream => {
                unexpected("PUSH_PROMISE on a push stream")
            }
            frame_type::PUSH_PROMISE => Ok(()),
            frame_type::SETTINGS
            | frame_type::GOAWAY
            | frame_type::CANCEL_PUSH
            | frame_type::MAX_PUSH_ID => unexpected("control frame on a request stream"),
            // HTTP/2-only types fail in the frame decoder; unknown types are skipped.
            _ => Ok(()),
        }
    }
}

fn content_length_error() -> Error {
    Error::MessageError {
        reason: "content-length does not match the DATA frames",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorCode, Scope};
    use crate::frame::{self, FrameLimits};

    #[derive(Debug, PartialEq)]
    enum Ev {
        H(Vec<u8>),
        D(Vec<u8>),
        T(Vec<u8>),
        P(u64),
    }

    fn run(s: &mut RequestStream, wire: &[u8], chunk: usize) -> Result<Vec<Ev>, Error> {
        let mut out = Vec::new();
        for piece in wire.chunks(chunk) {
            let mut input = piece;
            loop {
                let (n, ev) = s.recv(input)?;
                input = &input[n..];
                match ev {
                    None => break,
                    Some(RequestEvent::Headers(h)) => out.push(Ev::H(h.to_vec())),
                    Some(RequestEvent::Trailers(h)) => out.push(Ev::T(h.to_vec())),
                    Some(RequestEvent::PushPromise { push_id, .. }) => out.push(Ev::P(push_id)),
                    Some(RequestEvent::Data(d)) => match out.last_mut() {
                        Some(Ev::D(prev)) => prev.extend_from_slice(d),
                        _ => out.push(Ev::D(d.to_vec())),
                    },
                }
            }
        }
        s.finish()?;
        Ok(out)
    }

    #[test]
    fn full_message_any_chunking() {
        let mut w = Vec::new();
        frame::encode_reserved(2, b"x", &mut w).unwrap();
        frame::encode_headers(b"hdr", &mut w).unwrap();
        frame::encode_data(b"hello ", &mut w).unwrap();
        frame::encode_reserved(5, b"", &mut w).unwrap();
        frame::encode_data(b"world", &mut w).unwrap();
        frame::encode_headers(b"trl", &mut w).unwrap();
        frame::encode_reserved(6, b"yy", &mut w).unwrap();
        for chunk in 1..=w.len() {
            let mut s = RequestStream::new(Role::Server);
            s.set_content_length(11).unwrap();
            let ev = run(&mut s, &w, chunk).unwrap();
            assert_eq!(
                ev,
                vec![
                    Ev::H(b"hdr".to_vec()),
                    Ev::D(b"hello world".to_vec()),
                    Ev::T(b"trl".to_vec())
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn interim_responses_on_clients() {
        let mut w = Vec::new();
        frame::encode_headers(b"103", &mut w).unwrap();
        let mut s = RequestStream::new(Role::Client);
        assert_eq!(run_partial(&mut s, &w), vec![Ev::H(b"103".to_vec())]);
        s.interim_response().unwrap();
        let mut w = Vec::new();
        frame::encode_headers(b"200", &mut w).unwrap();
        frame::encode_data(b"ok", &mut w).unwrap();
        assert_eq!(
            run(&mut s, &w, 100).unwrap(),
            vec![Ev::H(b"200".to_vec()), Ev::D(b"ok".to_vec())]
        );
        assert!(s.interim_response().is_err());
        let mut server = RequestStream::new(Role::Server);
        assert!(server.interim_response().is_err());
    }

    fn run_partial(s: &mut RequestStream, wire: &[u8]) -> Vec<Ev> {
        let mut out = Vec::new();
        let mut input = wire;
        while let (n, Some(ev)) = s.recv(input).unwrap() {
            input = &input[n..];
            if let RequestEvent::Headers(h) = ev {
                out.push(Ev::H(h.to_vec()));
            }
        }
        out
    }

    #[test]
    fn push_streams_reject_push_promise() {
        let mut w = Vec::new();
        frame::encode_headers(b"200", &mut w).unwrap();
        frame::encode_push_promise(0, b"\0\0", &mut w).unwrap();
        let mut s = RequestStream::for_push_stream(FrameLimits::default());
        s.set_local_max_push_id(Some(10));
        assert_eq!(
            run(&mut s, &w, 2).unwrap_err().code(),
            ErrorCode::FrameUnexpected
        );
    }

    #[test]
    fn push_promises() {
        let mut w = Vec::new();
        frame::encode_headers(b"200", &mut w).unwrap();
        frame::encode_push_promise(2, b"\0\0", &mut w).unwrap();
        let mut s = RequestStream::new(Role::Client);
        s.set_local_max_push_id(Some(2));
        assert_eq!(
            run(&mut s, &w, 3).unwrap(),
            vec![Ev::H(b"200".to_vec()), Ev::P(2)]
        );
        let mut s = RequestStream::new(Role::Client);
        s.set_local_max_push_id(Some(1));
        assert_eq!(run(&mut s, &w, 3).unwrap_err().code(), ErrorCode::IdError);
    }

    #[test]
    fn malformed_sequences() {
        let build = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut w = Vec::new();
            f(&mut w);
            w
        };
        let h = |w: &mut Vec<u8>| frame::encode_headers(b"h", w).unwrap();
        let d = |w: &mut Vec<u8>| frame::encode_data(b"d", w).unwrap();
        let cases: Vec<(&str, Role, Vec<u8>, ErrorCode, Scope)> = vec![
            (
                "data first",
                Role::Server,
                build(&|w| d(w)),
                ErrorCode::FrameUnexpected,
                Scope::Connection,
            ),
            (
                "empty data first",
                Role::Server,
                vec![0x00, 0x00],
                ErrorCode::FrameUnexpected,
                Scope::Connection,
            ),
            (
                "data after trailers",
                Role::Server,
                build(&|w| {
                    h(w);
                    h(w);
                    d(w)
                }),
                ErrorCode::FrameUnexpected,
                Scope::Connection,
            ),
            (
                "headers after trailers",
                Role::Server,
                build(&|w| {
                    h(w);
                    d(w);
                    h(w);
                    h(w)
                }),
                ErrorCode::FrameUnexpected,
                Scope::Connection,
            ),
            (
                "settings",
                Role::Server,
                build(&|w| {
                    h(w);
                    Settings::default().encode(None, w).unwrap()
                }),
                ErrorCode::FrameUnexpected,
                Scope::Connection,
            ),
            (
                "goaway",
                Role::Client,
                build(&|w| {
                    h(w);
                    frame::encode_goaway(0, w).unwrap()
                }),
                ErrorCode::FrameUnexpected,
                Scope::Connection,
            ),
            (
                "max push id",
                Role::Server,
                build(&|w| frame::encode_max_push_id(0, w).unwrap()),
                ErrorCode::FrameUnexpected,
                Scope::Connection,
            ),
            (
                "cancel push",
                Role::Server,
                build(&|w| frame::encode_cancel_push(0, w).unwrap()),
                ErrorCode::FrameUnexpected,
                Scope::Connection,
            ),
            (
                "push promise from client",
                Role::Server,
                build(&|w| frame::encode_push_promise(0, b"", w).unwrap()),
                ErrorCode::FrameUnexpected,
                Scope::Connection,
            ),
            (
                "h2 priority",
                Role::Server,
                build(&|w| {
                    h(w);
                    frame::write_header(0x02, 5, w).unwrap()
                }),
                ErrorCode::FrameUnexpected,
                Scope::Connection,
            ),
            (
                "h2 continuation",
                Role::Server,
                build(&|w| {
                    h(w);
                    frame::write_header(0x09, 1, w).unwrap()
                }),
                ErrorCode::FrameUnexpected,
                Scope::Connection,
            ),
            (
                "truncated data",
                Role::Server,
                build(&|w| {
                    h(w);
                    w.extend_from_slice(&[0x00, 0x05, 1, 2])
                }),
                ErrorCode::FrameError,
                Scope::Connection,
            ),
            (
                "truncated header",
                Role::Server,
                build(&|w| {
                    h(w);
                    w.push(0x40)
                }),
                ErrorCode::FrameError,
                Scope::Connection,
            ),
            (
                "no headers",
                Role::Server,
                vec![],
                ErrorCode::RequestIncomplete,
                Scope::Stream,
            ),
            (
                "only grease",
                Role::Server,
                build(&|w| frame::encode_reserved(0, b"", w).unwrap()),
                ErrorCode::RequestIncomplete,
                Scope::Stream,
            ),
            (
                "no response headers",
                Role::Client,
                vec![],
                ErrorCode::MessageError,
                Scope::Stream,
            ),
            (
                "headers too large",
                Role::Server,
                build(&|w| frame::write_header(0x01, 1 << 20, w).unwrap()),
                ErrorCode::ExcessiveLoad,
                Scope::Stream,
            ),
        ];
        for (name, role, wire, code, scope) in cases {
            for chunk in [1, 1000] {
                let mut s = RequestStream::new(role);
                let err = run(&mut s, &wire, chunk).expect_err(name);
                assert_eq!((err.code(), err.scope()), (code, scope), "{name}: {err}");
            }
        }
    }

    #[test]
    fn content_length_checks() {
        let mut w = Vec::new();
        frame::encode_headers(b"h", &mut w).unwrap();
        frame::encode_data(b"abc", &mut w).unwrap();
        for (cl, ok) in [(3, true), (2, false), (4, false)] {
            let mut s = RequestStream::new(Role::Server);
            s.set_content_length(cl).unwrap();
            let r = run(&mut s, &w, 2);
            assert_eq!(r.is_ok(), ok, "cl {cl}");
            if let Err(e) = r {
                assert_eq!(
                    (e.code(), e.scope()),
                    (ErrorCode::MessageError, Scope::Stream)
                );
            }
        }
    }

    use crate::frame::Settings;
}
