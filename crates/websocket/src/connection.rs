//! The role-aware connection: the RFC 6455 rules above single frames.

use crate::deflate::{Codec, DeflateParams};
use crate::frame::{apply_mask, write_frame, FrameHeader, FrameSink, OpCode};
use crate::utf8::Utf8Validator;
use crate::{CloseCode, Error};

/// Which end of the connection this is (RFC 6455 §5.1: clients mask, servers do not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Receives masked frames, sends unmasked ones.
    Server,
    /// Receives unmasked frames, sends masked ones.
    Client,
}

/// Limits and behaviour of a [`Connection`].
#[derive(Clone, Debug)]
pub struct Config {
    /// The largest frame payload accepted (16 MiB by default); a larger frame header is
    /// [`Error::FrameTooLarge`] (1009) before any of its payload is needed.
    pub max_frame_size: usize,
    /// The largest message accepted, after inflation for compressed ones (16 MiB by
    /// default): [`Error::MessageTooLarge`] (1009).
    pub max_message_size: usize,
    /// Queue a Pong for every Ping received (on by default; §5.5.2). Only the pong for
    /// the latest ping is kept if several arrive before the driver writes (§5.5.3).
    pub auto_pong: bool,
    /// Queue the answering Close frame when the peer closes first (on by default;
    /// §5.5.1: it echoes the peer's code, or sends no code when the peer sent none).
    pub auto_close: bool,
    /// The negotiated permessage-deflate parameters (RFC 7692), if any: RSV1 is then
    /// accepted on the first frame of data messages, and sends compress.
    pub deflate: Option<DeflateParams>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: 16 << 20,
            max_message_size: 16 << 20,
            auto_pong: true,
            auto_close: true,
            deflate: None,
        }
    }
}

/// A received message or control frame. Data borrows the caller's input (a whole
/// unfragmented, uncompressed frame: unmasked in place, no copy) or the caller's
/// assembly buffer (fragmented or compressed messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// A complete text message, valid UTF-8.
    Text(&'a str),
    /// A complete binary message.
    Binary(&'a [u8]),
    /// A ping; with [`Config::auto_pong`] its pong is already queued.
    Ping(&'a [u8]),
    /// A pong.
    Pong(&'a [u8]),
    /// The peer's Close frame: its code ([`CloseCode::NO_STATUS`], 1005, when it had
    /// none) and reason. With [`Config::auto_close`] the answer is already queued.
    /// Nothing after it is decoded.
    Close {
        /// The close code (1005 when the frame had no payload).
        code: CloseCode,
        /// The UTF-8 reason (possibly empty).
        reason: &'a str,
    },
}

/// What one [`Connection::decode`] call did.
#[derive(Debug, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// Bytes of the input consumed (whole frames only): drop them before the next call.
    pub consumed: usize,
    /// The message or control frame completed by these bytes, if any. `None` means the
    /// rest of the input holds no complete frame.
    pub message: Option<Message<'a>>,
    /// When `message` is `None`: the bytes the next frame needs in all, counted from
    /// `consumed` (header and payload once the header is complete; until then the
    /// header's length), so the driver can grow its buffer; 0 after a Close was received
    /// (the input is then discarded).
    pub needed: usize,
}

/// Where fragmented and compressed messages are assembled: the caller's buffer, reused
/// from message to message. Implemented for `Vec<u8>` and for a vector in a
/// `bumpalo::Bump` arena (`bumpalo::collections::Vec<u8>`); both make no allocation once
/// their capacity covers the message.
pub trait MessageBuffer {
    /// Bytes held.
    fn len(&self) -> usize;
    /// True when empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Empties the buffer, keeping its capacity.
    fn clear(&mut self);
    /// Appends bytes.
    fn extend_from_slice(&mut self, bytes: &[u8]);
    /// The bytes held.
    fn as_slice(&self) -> &[u8];
}

impl MessageBuffer for Vec<u8> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn clear(&mut self) {
        Vec::clear(self)
    }
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        Vec::extend_from_slice(self, bytes)
    }
    fn as_slice(&self) -> &[u8] {
        self
    }
}

impl MessageBuffer for bumpalo::collections::Vec<'_, u8> {
    fn len(&self) -> usize {
        bumpalo::collections::Vec::len(self)
    }
    fn clear(&mut self) {
        bumpalo::collections::Vec::clear(self)
    }
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        bumpalo::collections::Vec::extend_from_slice(self, bytes)
    }
    fn as_slice(&self) -> &[u8] {
        self
    }
}

/// The fragmented message being received.
#[derive(Clone, Copy, Debug)]
struct Partial {
    text: bool,
    compressed: bool,
}

/// A closed-over source of masking keys.
type MaskFn = Box<dyn FnMut() -> [u8; 4] + Send>;

/// Masking keys: from the caller's function if it gave one, else from 256 bytes of the
/// operating system's CSPRNG (`getrandom`), refilled every 64 keys (one system call per
/// 64 frames instead of one per frame).
struct MaskSource {
    pool: [u8; 256],
    used: usize,
    custom: Option<MaskFn>,
}

impl MaskSource {
    fn next(&mut self) -> [u8; 4] {
        if let Some(f) = &mut self.custom {
            return f();
        }
        if self.used == self.pool.len() {
            getrandom::fill(&mut self.pool).expect("the OS random source failed");
            self.used = 0;
        }
        let u = self.used;
        self.used += 4;
        [
            self.pool[u],
            self.pool[u + 1],
            self.pool[u + 2],
            self.pool[u + 3],
        ]
    }
}

/// What [`Connection::step`] found, without borrows (the caller builds the message).
enum Step {
    /// Need this many bytes in all for the next frame.
    Need(usize),
    /// A frame was absorbed into the assembly buffer (a non-final fragment).
    Absorbed(usize),
    /// A message is ready.
    Ready {
        kind: Kind,
        consumed: usize,
        /// Payload range within the frame input, or `None`: the assembly buffer.
        range: Option<(usize, usize)>,
    },
}

#[derive(Clone, Copy)]
enum Kind {
    Text,
    Binary,
    Ping,
    Pong,
    Close(CloseCode),
}

/// One WebSocket connection's protocol state, for either role. See the crate docs for
/// the driver's contract.
pub struct Connection {
    role: Role,
    config: Config,
    partial: Option<Partial>,
    utf8: Utf8Validator,
    received_close: bool,
    failed: Option<Error>,
    sent_close: bool,
    /// A data message being sent in fragments ([`Connection::encode_fragment`]).
    sending_fragments: bool,
    pending_pong: Option<([u8; 125], u8)>,
    pending_close: Option<(CloseCode, [u8; 123], u8)>,
    mask: MaskSource,
    deflate: Option<Codec>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("config", &self.config)
            .field("received_close", &self.received_close)
            .field("sent_close", &self.sent_close)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A connection after a successful handshake. A client draws its masking keys from
    /// the operating system's random source (256 bytes at a time); use
    /// [`Connection::with_mask_source`] to supply them.
    pub fn new(role: Role, config: Config) -> Connection {
        let deflate = config.deflate.as_ref().map(|p| Codec::new(p, role));
        Connection {
            role,
            config,
            partial: None,
            utf8: Utf8Validator::new(),
            received_close: false,
            failed: None,
            sent_close: false,
            sending_fragments: false,
            pending_pong: None,
            pending_close: None,
            mask: MaskSource {
                pool: [0; 256],
                used: 256,
                custom: None,
            },
            deflate,
        }
    }

    /// Replaces the masking-key source (clients; §5.3 asks for unpredictable keys, so a
    /// fixed key is for tests only).
    pub fn with_mask_source(mut self, source: impl FnMut() -> [u8; 4] + Send + 'static) -> Self {
        self.mask.custom = Some(Box::new(source));
        self
    }

    /// This end's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The peer's Close frame was received: decoding is over.
    pub fn received_close(&self) -> bool {
        self.received_close
    }

    /// Our Close frame was encoded (by [`Connection::encode_close`], or queued by an
    /// error or [`Config::auto_close`]).
    pub fn sent_close(&self) -> bool {
        self.sent_close || self.pending_close.is_some()
    }

    /// Both Close frames went (or are queued): once the driver has written the pending
    /// output, the transport may close (§7.1.1: the server closes TCP first).
    pub fn is_closed(&self) -> bool {
        (self.received_close && self.sent_close()) || self.failed.is_some()
    }

    /// The error the connection failed with, if any.
    pub fn error(&self) -> Option<&Error> {
        self.failed.as_ref()
    }

    /// True when [`Connection::write_pending`] has frames to write.
    pub fn has_pending(&self) -> bool {
        self.pending_pong.is_some() || self.pending_close.is_some()
    }

    /// Decodes frames from `input` until one yields a message (or a control frame) or
    /// no complete frame is left. Frames are unmasked in place; fragments and compressed
    /// messages are assembled in `assembly` (cleared when a new message starts). The
    /// returned message borrows `input` or `assembly`.
    ///
    /// On error the connection has failed: the Close frame with the error's code is
    /// queued (write it with [`Connection::write_pending`], then close the transport)
    /// and every later call returns the same error.
    pub fn decode<'b, B: MessageBuffer + ?Sized>(
        &mut self,
        input: &'b mut [u8],
        assembly: &'b mut B,
    ) -> Result<Decoded<'b>, Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut pos = 0;
        loop {
            if self.received_close {
                return Ok(Decoded {
                    consumed: input.len(),
                    message: None,
                    needed: 0,
                });
            }
            let step = match self.step(&mut input[pos..], assembly) {
                Ok(step) => step,
                Err(e) => return Err(self.fail(e)),
            };
            match step {
                Step::Need(n) => {
                    return Ok(Decoded {
                        consumed: pos,
                        message: None,
                        needed: n,
                    })
                }
                Step::Absorbed(n) => pos += n,
                Step::Ready {
                    kind,
                    consumed,
                    range,
                } => {
                    let input: &'b [u8] = input;
                    let assembly: &'b B = assembly;
                    let bytes = match range {
                        Some((a, b)) => &input[pos + a..pos + b],
                        None => assembly.as_slice(),
                    };
                    let message = match kind {
                        Kind::Text => match std::str::from_utf8(bytes) {
                            Ok(text) => Message::Text(text),
                            Err(_) => return Err(self.fail(Error::InvalidUtf8)),
                        },
                        Kind::Binary => Message::Binary(bytes),
                        Kind::Ping => Message::Ping(bytes),
                        Kind::Pong => Message::Pong(bytes),
                        Kind::Close(code) => Message::Close {
                            code,
                            // Checked in `step`.
                            reason: std::str::from_utf8(bytes).unwrap_or(""),
                        },
                    };
                    return Ok(Decoded {
                        consumed: pos + consumed,
                        message: Some(message),
                        needed: 0,
                    });
                }
            }
        }
    }

    fn fail(&mut self, e: Error) -> Error {
        if !self.sent_close() {
            self.queue_close(e.close_code(), b"");
        }
        self.partial = None;
        self.failed = Some(e.clone());
        e
    }

    fn queue_close(&mut self, code: CloseCode, reason: &[u8]) {
        let mut buf = [0u8; 123];
        let n = reason.len().min(123);
        buf[..n].copy_from_slice(&reason[..n]);
        self.pending_close = Some((code, buf, n as u8));
    }

    /// Processes the frame at the start of `input`.
    fn step<B: MessageBuffer + ?Sized>(
        &mut self,
        input: &mut [u8],
        assembly: &mut B,
    ) -> Result<Step, Error> {
        let (h, hlen) = match FrameHeader::parse(input)? {
            Some(parsed) => parsed,
            None => {
                // The header's own length, once its second byte tells it.
                let need = match input.get(1) {
                    None => 2,
                    Some(b) => {
                        let ext = match b & 0x7F {
                            126 => 2,
                            127 => 8,
                            _ => 0,
                        };
                        2 + ext + if b & 0x80 != 0 { 4 } else { 0 }
                    }
                };
                return Ok(Step::Need(need));
            }
        };
        if h.rsv2 || h.rsv3 {
            return Err(Error::ReservedBits);
        }
        let compressed = h.rsv1;
        if compressed
            && (self.deflate.is_none() || !matches!(h.opcode, OpCode::Text | OpCode::Binary))
        {
            return Err(Error::ReservedBits);
        }
        match (self.role, h.mask.is_some()) {
            (Role::Server, false) => return Err(Error::UnmaskedFrame),
            (Role::Client, true) => return Err(Error::MaskedFrame),
            _ => {}
        }
        if h.opcode.is_control() {
            if !h.fin {
                return Err(Error::FragmentedControlFrame);
            }
            if h.payload_len > 125 {
                return Err(Error::ControlFrameTooLong);
            }
        } else {
            if h.payload_len > self.config.max_frame_size as u64 {
                return Err(Error::FrameTooLarge {
                    len: h.payload_len,
                    limit: self.config.max_frame_size,
                });
            }
            match (h.opcode, self.partial) {
                (OpCode::Continuation, None) => return Err(Error::UnexpectedContinuation),
                (OpCode::Text | OpCode::Binary, Some(_)) => {
                    return Err(Error::ExpectedContinuation)
                }
                _ => {}
            }
            // Uncompressed: the message size is known from the headers alone.
            let so_far = if self.partial.is_some() {
                assembly.len()
            } else {
                0
            };
            let is_compressed = compressed || self.partial.is_some_and(|p| p.compressed);
            if !is_compressed && so_far as u64 + h.payload_len > self.config.max_message_size as u64
            {
                return Err(Error::MessageTooLarge {
                    limit: self.config.max_message_size,
                });
            }
        }
        // Fits in usize: bounded by max_frame_size or 125 above.
        let total = hlen + h.payload_len as usize;
        if input.len() < total {
            return Ok(Step::Need(total));
        }
        let payload = &mut input[hlen..total];
        if let Some(key) = h.mask {
            apply_mask(payload, key);
        }
        let range = Some((hlen, total));
        let limit = self.config.max_message_size;
        let ready = |kind| Step::Ready {
            kind,
            consumed: total,
            range,
        };
        Ok(match h.opcode {
            OpCode::Ping => {
                if self.config.auto_pong && !self.sent_close() {
                    let mut buf = [0u8; 125];
                    buf[..payload.len()].copy_from_slice(payload);
                    self.pending_pong = Some((buf, payload.len() as u8));
                }
                ready(Kind::Ping)
            }
            OpCode::Pong => ready(Kind::Pong),
            OpCode::Close => {
                let code = match payload.len() {
                    0 => CloseCode::NO_STATUS,
                    1 => return Err(Error::InvalidClosePayload),
                    _ => {
                        let code = CloseCode(u16::from_be_bytes([payload[0], payload[1]]));
                        if !code.is_allowed_on_wire() {
                            return Err(Error::InvalidCloseCode(code.0));
                        }
                        if std::str::from_utf8(&payload[2..]).is_err() {
                            return Err(Error::InvalidUtf8);
                        }
                        code
                    }
                };
                self.received_close = true;
                if self.config.auto_close && !self.sent_close() {
                    // Echo the code (§5.5.1); no code when the peer sent none.
                    self.queue_close(code, b"");
                }
                Step::Ready {
                    kind: Kind::Close(code),
                    consumed: total,
                    range: Some((hlen + 2.min(payload.len()), total)),
                }
            }
            OpCode::Text | OpCode::Binary if h.fin && !compressed => {
                ready(if h.opcode == OpCode::Text {
                    Kind::Text
                } else {
                    Kind::Binary
                })
            }
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                let partial = match self.partial {
                    Some(p) => p,
                    None => {
                        assembly.clear();
                        self.utf8.reset();
                        Partial {
                            text: h.opcode == OpCode::Text,
                            compressed,
                        }
                    }
                };
                self.partial = Some(partial);
                let before = assembly.len();
                if partial.compressed {
                    let codec = self.deflate.as_mut().expect("RSV1 checked above");
                    codec.inflate(payload, h.fin, assembly, limit)?;
                } else {
                    assembly.extend_from_slice(payload);
                }
                if partial.text {
                    let fresh = &assembly.as_slice()[before..];
                    self.utf8.feed(fresh).map_err(|_| Error::InvalidUtf8)?;
                    if h.fin {
                        self.utf8.finish().map_err(|_| Error::InvalidUtf8)?;
                    }
                }
                if h.fin {
                    self.partial = None;
                    Step::Ready {
                        kind: if partial.text {
                            Kind::Text
                        } else {
                            Kind::Binary
                        },
                        consumed: total,
                        range: None,
                    }
                } else {
                    Step::Absorbed(total)
                }
            }
        })
    }

    fn next_mask(&mut self) -> Option<[u8; 4]> {
        match self.role {
            Role::Client => Some(self.mask.next()),
            Role::Server => None,
        }
    }

    fn check_can_send(&self) -> Result<(), Error> {
        if self.sent_close() {
            Err(Error::Closing)
        } else {
            Ok(())
        }
    }

    fn encode_data<S: FrameSink + ?Sized>(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        out: &mut S,
    ) -> Result<(), Error> {
        self.check_can_send()?;
        if self.sending_fragments {
            return Err(Error::InvalidSend("a fragmented message is being sent"));
        }
        let mask = self.next_mask();
        match self.deflate.as_mut() {
            Some(codec) if codec.wants(payload.len()) => {
                codec.compress(payload);
                write_frame(out, true, true, opcode, mask, &codec.scratch);
            }
            _ => write_frame(out, true, false, opcode, mask, payload),
        }
        Ok(())
    }

    /// Encodes a text message as one frame (compressed when permessage-deflate is
    /// negotiated and the message is at least [`DeflateConfig::min_size`](crate::deflate::DeflateConfig::min_size)
    /// long; masked for a client). Fails with [`Error::Closing`] after our Close.
    pub fn encode_text<S: FrameSink + ?Sized>(
        &mut self,
        text: &str,
        out: &mut S,
    ) -> Result<(), Error> {
        self.encode_data(OpCode::Text, text.as_bytes(), out)
    }

    /// Encodes a binary message as one frame (see [`Connection::encode_text`]).
    pub fn encode_binary<S: FrameSink + ?Sized>(
        &mut self,
        data: &[u8],
        out: &mut S,
    ) -> Result<(), Error> {
        self.encode_data(OpCode::Binary, data, out)
    }

    /// Encodes one fragment of a message sent in pieces (never compressed): `opcode` is
    /// [`OpCode::Text`] or [`OpCode::Binary`] for the first fragment and
    /// [`OpCode::Continuation`] for the others; `fin` ends the message. Control frames
    /// may be encoded between fragments (§5.4). The caller keeps text fragments valid
    /// UTF-8 as a whole.
    pub fn encode_fragment<S: FrameSink + ?Sized>(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        fin: bool,
        out: &mut S,
    ) -> Result<(), Error> {
        self.check_can_send()?;
        match (opcode, self.sending_fragments) {
            (OpCode::Text | OpCode::Binary, false) | (OpCode::Continuation, true) => {}
            _ => return Err(Error::InvalidSend("fragment out of order")),
        }
        self.sending_fragments = !fin;
        let mask = self.next_mask();
        write_frame(out, fin, false, opcode, mask, payload);
        Ok(())
    }

    /// Encodes a Ping (payload at most 125 bytes).
    pub fn encode_ping<S: FrameSink + ?Sized>(
        &mut self,
        payload: &[u8],
        out: &mut S,
    ) -> Result<(), Error> {
        self.encode_control(OpCode::Ping, payload, out)
    }

    /// Encodes an unsolicited Pong (payload at most 125 bytes; a heartbeat, §5.5.3).
    pub fn encode_pong<S: FrameSink + ?Sized>(
        &mut self,
        payload: &[u8],
        out: &mut S,
    ) -> Result<(), Error> {
        self.encode_control(OpCode::Pong, payload, out)
    }

    fn encode_control<S: FrameSink + ?Sized>(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        out: &mut S,
    ) -> Result<(), Error> {
        self.check_can_send()?;
        if payload.len() > 125 {
            return Err(Error::InvalidSend("control payload over 125 bytes"));
        }
        let mask = self.next_mask();
        write_frame(out, true, false, opcode, mask, payload);
        Ok(())
    }

    /// Encodes our Close frame: `code` must be allowed on the wire
    /// ([`CloseCode::is_allowed_on_wire`]), or [`CloseCode::NO_STATUS`] for a Close
    /// without payload; `reason` at most 123 bytes. Nothing may be sent after it; a
    /// queued close (from an error or [`Config::auto_close`]) is superseded.
    pub fn encode_close<S: FrameSink + ?Sized>(
        &mut self,
        code: CloseCode,
        reason: &str,
        out: &mut S,
    ) -> Result<(), Error> {
        if self.sent_close {
            return Err(Error::Closing);
        }
        if reason.len() > 123 {
            return Err(Error::InvalidSend("close reason over 123 bytes"));
        }
        if code != CloseCode::NO_STATUS && !code.is_allowed_on_wire() {
            return Err(Error::InvalidSend("close code not allowed on the wire"));
        }
        if code == CloseCode::NO_STATUS && !reason.is_empty() {
            return Err(Error::InvalidSend("a close reason needs a code"));
        }
        self.pending_close = None;
        self.write_close(code, reason.as_bytes(), out);
        Ok(())
    }

    fn write_close<S: FrameSink + ?Sized>(&mut self, code: CloseCode, reason: &[u8], out: &mut S) {
        let mut payload = [0u8; 125];
        let n = if code == CloseCode::NO_STATUS {
            0
        } else {
            payload[..2].copy_from_slice(&code.0.to_be_bytes());
            payload[2..2 + reason.len()].copy_from_slice(reason);
            2 + reason.len()
        };
        let mask = self.next_mask();
        write_frame(out, true, false, OpCode::Close, mask, &payload[..n]);
        self.sent_close = true;
        self.pending_pong = None;
    }

    /// Writes the queued control frames (the pong for the latest ping, then the
    /// answering or failing Close) into `out`; returns whether anything was written.
    /// Call it after every [`Connection::decode`] (and after a decode error).
    pub fn write_pending<S: FrameSink + ?Sized>(&mut self, out: &mut S) -> bool {
        let mut wrote = false;
        if let Some((buf, n)) = self.pending_pong.take() {
            if !self.sent_close {
                let mask = self.next_mask();
                write_frame(out, true, false, OpCode::Pong, mask, &buf[..n as usize]);
                wrote = true;
            }
        }
        if let Some((code, buf, n)) = self.pending_close.take() {
            self.write_close(code, &buf[..n as usize], out);
            wrote = true;
        }
        wrote
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_can_move_between_threads() {
        fn send<T: Send>() {}
        send::<Connection>();
    }

    #[test]
    fn out_of_range_window_bits_do_not_panic() {
        for bits in [0u8, 8, 9, 15, 16, 255] {
            let params = DeflateParams {
                server_no_context_takeover: false,
                client_no_context_takeover: false,
                server_max_window_bits: bits,
                client_max_window_bits: bits,
                level: 99,
                min_size: 0,
            };
            let config = Config {
                deflate: Some(params),
                ..Config::default()
            };
            let mut conn = Connection::new(Role::Server, config);
            let mut out = Vec::new();
            conn.encode_text("x", &mut out).unwrap();
            assert_eq!(out[0] & 0x40 != 0, bits >= 9, "{bits}");
        }
    }
}
