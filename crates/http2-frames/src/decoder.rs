//! The connection preface and the incremental [`FrameDecoder`].

use crate::error::{ErrorCode, FrameError, InvalidMaxFrameSize, Violation};
use crate::frame::Frame;
use crate::header::{FrameHeader, FrameKind, FRAME_HEADER_LEN};
use crate::settings::{DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE};

/// The client connection preface (RFC 9113 §3.4), sent before the client's first SETTINGS
/// frame.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Checks the start of a server's input against the client connection preface
/// (RFC 9113 §3.4): `Ok(Some(24))` when it is complete (consume 24 bytes), `Ok(None)` when
/// `buf` is a correct but incomplete prefix, and a connection PROTOCOL_ERROR as soon as a
/// byte differs.
pub fn match_preface(buf: &[u8]) -> Result<Option<usize>, FrameError> {
    let n = buf.len().min(PREFACE.len());
    if buf[..n] != PREFACE[..n] {
        return Err(FrameError::connection(
            ErrorCode::ProtocolError,
            Violation::BadPreface,
        ));
    }
    Ok((n == PREFACE.len()).then_some(PREFACE.len()))
}

/// Decodes one frame from the start of `buf` without any state: `Ok(None)` until the
/// whole frame is there, then the frame and the bytes it occupies. A frame longer than
/// `max_frame_size` is rejected from its header alone (a connection FRAME_SIZE_ERROR,
/// RFC 9113 §4.2). Prefer [`FrameDecoder`], which also enforces the field-block rules.
#[inline]
pub fn decode_frame(
    buf: &[u8],
    max_frame_size: u32,
) -> Result<Option<(Frame<'_>, usize)>, FrameError> {
    let Some(header) = FrameHeader::parse(buf) else {
        return Ok(None);
    };
    check_frame_size(&header, max_frame_size)?;
    let total = header.frame_len();
    match buf.get(FRAME_HEADER_LEN..total) {
        Some(payload) => Ok(Some((Frame::parse(header, payload)?, total))),
        None => Ok(None),
    }
}

/// §4.2: a frame exceeding SETTINGS_MAX_FRAME_SIZE is a FRAME_SIZE_ERROR. It is always
/// treated as a connection error here: this is required for frames carrying field blocks,
/// SETTINGS and stream-0 frames, and for the rest a stream error would mean skipping up to
/// 16 MiB of payload that was never supposed to be sent.
#[inline]
fn check_frame_size(header: &FrameHeader, max: u32) -> Result<(), FrameError> {
    if header.length > max {
        return Err(FrameError::connection(
            ErrorCode::FrameSizeError,
            Violation::FrameTooLarge {
                length: header.length,
                max,
            },
        ));
    }
    Ok(())
}

/// Default limit on the total size of one field block (all its HEADERS/PUSH_PROMISE and
/// CONTINUATION fragments): 256 KiB.
pub const DEFAULT_MAX_HEADER_BLOCK_LEN: usize = 256 * 1024;

/// Default limit on the number of CONTINUATION frames in one field block: 64.
pub const DEFAULT_MAX_CONTINUATION_FRAMES: u32 = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OpenBlock {
    stream_id: u32,
    len: usize,
    continuations: u32,
}

/// An incremental HTTP/2 frame decoder (sans I/O).
///
/// Feed it the unconsumed bytes of the connection's read buffer: [`FrameDecoder::decode`]
/// returns the next frame and how many bytes it used, or `None` when more bytes are needed
/// (keep them and call again with more appended). The frame borrows the buffer; nothing is
/// copied or allocated.
///
/// Beyond per-frame validation ([`Frame::parse`]) it enforces
/// - SETTINGS_MAX_FRAME_SIZE (§4.2), checked on the 9-byte header before the payload is
///   buffered;
/// - field-block sequencing (§4.3, §6.10): after HEADERS or PUSH_PROMISE without
///   END_HEADERS only CONTINUATION frames on the same stream may follow, and CONTINUATION
///   is only allowed there (connection PROTOCOL_ERROR otherwise);
/// - CONTINUATION-flood limits: total block size and CONTINUATION count per block
///   (connection ENHANCE_YOUR_CALM, §10.5).
///
/// After a connection error the connection is finished; after a stream error, discard
/// [`FrameError::frame_len`] bytes and continue.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max_frame_size: u32,
    max_header_block_len: usize,
    max_continuation_frames: u32,
    block: Option<OpenBlock>,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new()
    }
}

impl FrameDecoder {
    /// A decoder with the RFC default max frame size (16,384) and the default field-block
    /// limits.
    pub const fn new() -> FrameDecoder {
        FrameDecoder {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            max_header_block_len: DEFAULT_MAX_HEADER_BLOCK_LEN,
            max_continuation_frames: DEFAULT_MAX_CONTINUATION_FRAMES,
            block: None,
        }
    }

    /// The largest frame payload accepted.
    pub const fn max_frame_size(&self) -> u32 {
        self.max_frame_size
    }

    /// Sets the largest frame payload accepted: the SETTINGS_MAX_FRAME_SIZE this endpoint
    /// advertised (2^14..=2^24-1). Lower it only once the peer has acknowledged the
    /// SETTINGS frame carrying it (§6.5.3); raising it early is harmless.
    pub fn set_max_frame_size(&mut self, size: u32) -> Result<(), InvalidMaxFrameSize> {
        if !(DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&size) {
            return Err(InvalidMaxFrameSize(size));
        }
        self.max_frame_size = size;
        Ok(())
    }

    /// The limit on the summed fragment sizes of one field block.
    pub const fn max_header_block_len(&self) -> usize {
        self.max_header_block_len
    }

    /// Sets the limit on the summed fragment sizes of one field block (default 256 KiB).
    pub fn set_max_header_block_len(&mut self, len: usize) {
        self.max_header_block_len = len;
    }

    /// The limit on CONTINUATION frames per field block.
    pub const fn max_continuation_frames(&self) -> u32 {
        self.max_continuation_frames
    }

    /// Sets the limit on CONTINUATION frames per field block (default 64).
    pub fn set_max_continuation_frames(&mut self, count: u32) {
        self.max_continuation_frames = count;
    }

    /// The stream whose field block is open (HEADERS or PUSH_PROMISE seen, END_HEADERS not
    /// yet), if any.
    pub fn open_header_block(&self) -> Option<u32> {
        self.block.map(|b| b.stream_id)
    }

    /// Forgets any open field block (e.g. to reuse the decoder for a new connection).
    pub fn reset(&mut self) {
        self.block = None;
    }

    /// Decodes the next frame from the start of `buf`: `Ok(Some((frame, consumed)))`, or
    /// `Ok(None)` if `buf` does not yet hold a complete frame. Errors carry the RFC 9113
    /// error code and scope (§5.4).
    #[inline]
    pub fn decode<'a>(&mut self, buf: &'a [u8]) -> Result<Option<(Frame<'a>, usize)>, FrameError> {
        let Some(header) = FrameHeader::parse(buf) else {
            return Ok(None);
        };
        check_frame_size(&header, self.max_frame_size)?;
        // §6.10 / §4.3 / §5.5: a field block is a contiguous run of frames; checked on the
        // header, before the payload is buffered.
        let continuing = header.kind == FrameKind::Continuation;
        match self.block {
            Some(b) if !continuing || header.stream_id != b.stream_id => {
                return Err(sequence_error());
            }
            None if continuing => return Err(sequence_error()),
            _ => {}
        }
        let total = header.frame_len();
        let Some(payload) = buf.get(FRAME_HEADER_LEN..total) else {
            return Ok(None);
        };
        let frame = Frame::parse(header, payload)?;
        match &frame {
            Frame::Headers(h) => self.start_block(h.stream_id, h.fragment.len(), h.end_headers)?,
            Frame::PushPromise(p) => {
                self.start_block(p.stream_id, p.fragment.len(), p.end_headers)?
            }
            Frame::Continuation(c) => {
                if let Some(b) = &mut self.block {
                    b.len = b.len.saturating_add(c.fragment.len());
                    b.continuations = b.continuations.saturating_add(1);
                    if b.len > self.max_header_block_len
                        || b.continuations > self.max_continuation_frames
                    {
                        return Err(calm());
                    }
                }
                if c.end_headers {
                    self.block = None;
                }
            }
            _ => {}
        }
        Ok(Some((frame, total)))
    }

    fn start_block(
        &mut self,
        stream_id: u32,
        len: usize,
        end_headers: bool,
    ) -> Result<(), FrameError> {
        if len > self.max_header_block_len {
            return Err(calm());
        }
        if !end_headers {
            self.block = Some(OpenBlock {
                stream_id,
                len,
                continuations: 0,
            });
        }
        Ok(())
    }
}

fn sequence_error() -> FrameError {
    FrameError::connection(ErrorCode::ProtocolError, Violation::UnexpectedContinuation)
}

fn calm() -> FrameError {
    FrameError::connection(ErrorCode::EnhanceYourCalm, Violation::HeaderBlockTooLarge)
}
