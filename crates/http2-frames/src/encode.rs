//! Serialization into a caller-owned, reused `Vec<u8>`.
//!
//! Every encoder validates its input first and writes nothing on error, so no frame a
//! peer must reject is ever produced. Padding is always written as zeros (RFC 9113 §6.1).

use crate::error::EncodeError;
use crate::frame::{
    padding_overhead, Continuation, Data, Frame, GoAway, Headers, Ping, Priority, PrioritySpec,
    PushPromise, RstStream, UnknownFrame, WindowUpdate,
};
use crate::header::{Flags, FrameHeader, FrameKind, FRAME_HEADER_LEN, MAX_STREAM_ID};
use crate::settings::{DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE, MAX_WINDOW_SIZE};

/// Fails if a payload cannot be described by the 24-bit length field.
pub(crate) fn check_payload_len(len: usize) -> Result<(), EncodeError> {
    if len > MAX_MAX_FRAME_SIZE as usize {
        return Err(EncodeError::FrameTooLarge {
            len,
            max: MAX_MAX_FRAME_SIZE,
        });
    }
    Ok(())
}

/// Writes a frame header; `len` must have passed [`check_payload_len`].
#[inline]
pub(crate) fn put_header(dst: &mut Vec<u8>, len: usize, kind: FrameKind, flags: Flags, sid: u32) {
    FrameHeader {
        length: len as u32,
        kind,
        flags,
        stream_id: sid,
    }
    .encode(dst);
}

fn check_sid(sid: u32) -> Result<(), EncodeError> {
    if sid > MAX_STREAM_ID {
        return Err(EncodeError::StreamIdOutOfRange(sid));
    }
    Ok(())
}

fn check_stream(sid: u32) -> Result<(), EncodeError> {
    check_sid(sid)?;
    if sid == 0 {
        return Err(EncodeError::StreamIdRequired);
    }
    Ok(())
}

fn check_max_frame_size(max: u32) -> Result<(), EncodeError> {
    if !(DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&max) {
        return Err(EncodeError::InvalidMaxFrameSize(max));
    }
    Ok(())
}

fn check_priority(sid: u32, p: &Option<PrioritySpec>) -> Result<(), EncodeError> {
    if let Some(p) = p {
        check_sid(p.dependency)?;
        if p.dependency == sid {
            return Err(EncodeError::SelfDependency);
        }
    }
    Ok(())
}

fn check_promised(id: u32) -> Result<(), EncodeError> {
    if id == 0 || id % 2 == 1 || id > MAX_STREAM_ID {
        return Err(EncodeError::InvalidPromisedStreamId(id));
    }
    Ok(())
}

#[inline]
fn put_padding(dst: &mut Vec<u8>, pad_len: Option<u8>) {
    if let Some(p) = pad_len {
        dst.resize(dst.len() + p as usize, 0);
    }
}

impl Data<'_> {
    /// Appends this DATA frame to `dst` (one frame; see [`Data::encode_split`] for
    /// payloads larger than the peer's max frame size).
    pub fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        check_stream(self.stream_id)?;
        let len = self.data.len() + padding_overhead(self.pad_len);
        check_payload_len(len)?;
        let flags = Flags::EMPTY
            .with(Flags::END_STREAM, self.end_stream)
            .with(Flags::PADDED, self.pad_len.is_some());
        put_header(dst, len, FrameKind::Data, flags, self.stream_id);
        if let Some(p) = self.pad_len {
            dst.push(p);
        }
        dst.extend_from_slice(self.data);
        put_padding(dst, self.pad_len);
        Ok(())
    }

    /// Appends `self.data` as DATA frames whose payloads (padding included) are at most
    /// `max_frame_size` bytes — the peer's SETTINGS_MAX_FRAME_SIZE. Each frame carries
    /// `pad_len` padding; only the last carries END_STREAM. Empty data gives one empty
    /// frame. Returns the number of frames written. Flow control is the caller's job.
    pub fn encode_split(
        &self,
        dst: &mut Vec<u8>,
        max_frame_size: u32,
    ) -> Result<usize, EncodeError> {
        check_stream(self.stream_id)?;
        check_max_frame_size(max_frame_size)?;
        // max_frame_size >= 2^14 > 256 >= padding overhead: there is always room.
        let chunk = max_frame_size as usize - padding_overhead(self.pad_len);
        let mut frames = 0;
        let mut rest = self.data;
        loop {
            let (now, later) = rest.split_at(rest.len().min(chunk));
            Data {
                data: now,
                end_stream: self.end_stream && later.is_empty(),
                ..*self
            }
            .encode(dst)?;
            frames += 1;
            rest = later;
            if rest.is_empty() {
                return Ok(frames);
            }
        }
    }
}

/// Splits `data` into DATA frames of at most `max_frame_size` payload bytes without copying
/// the payload: yields each frame's 9-byte header and its payload slice, for vectored
/// writes. END_STREAM goes on the last frame when `end_stream`; empty data yields one
/// empty frame.
pub fn split_data(
    stream_id: u32,
    data: &[u8],
    end_stream: bool,
    max_frame_size: u32,
) -> Result<DataChunks<'_>, EncodeError> {
    check_stream(stream_id)?;
    check_max_frame_size(max_frame_size)?;
    Ok(DataChunks {
        stream_id,
        rest: data,
        end_stream,
        chunk: max_frame_size as usize,
        done: false,
    })
}

/// Iterator returned by [`split_data`].
#[derive(Debug, Clone)]
pub struct DataChunks<'a> {
    stream_id: u32,
    rest: &'a [u8],
    end_stream: bool,
    chunk: usize,
    done: bool,
}

impl<'a> Iterator for DataChunks<'a> {
    type Item = ([u8; FRAME_HEADER_LEN], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let (now, later) = self.rest.split_at(self.rest.len().min(self.chunk));
        self.rest = later;
        self.done = later.is_empty();
        let flags = Flags::EMPTY.with(Flags::END_STREAM, self.end_stream && self.done);
        let header = FrameHeader {
            length: now.len() as u32,
            kind: FrameKind::Data,
            flags,
            stream_id: self.stream_id,
        };
        Some((header.to_bytes(), now))
    }
}

impl Headers<'_> {
    fn overhead(&self) -> usize {
        padding_overhead(self.pad_len)
            + if self.priority.is_some() {
                PrioritySpec::LEN
            } else {
                0
            }
    }

    fn check(&self) -> Result<(), EncodeError> {
        check_stream(self.stream_id)?;
        check_priority(self.stream_id, &self.priority)
    }

    fn put(&self, dst: &mut Vec<u8>, fragment: &[u8], end_headers: bool) {
        let flags = Flags::EMPTY
            .with(Flags::END_STREAM, self.end_stream)
            .with(Flags::END_HEADERS, end_headers)
            .with(Flags::PADDED, self.pad_len.is_some())
            .with(Flags::PRIORITY, self.priority.is_some());
        put_header(
            dst,
            fragment.len() + self.overhead(),
            FrameKind::Headers,
            flags,
            self.stream_id,
        );
        if let Some(p) = self.pad_len {
            dst.push(p);
        }
        if let Some(p) = self.priority {
            dst.extend_from_slice(&p.to_bytes());
        }
        dst.extend_from_slice(fragment);
        put_padding(dst, self.pad_len);
    }

    /// Appends this HEADERS frame to `dst` as is (one frame).
    pub fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.check()?;
        check_payload_len(self.fragment.len() + self.overhead())?;
        self.put(dst, self.fragment, self.end_headers);
        Ok(())
    }

    /// Appends a complete field block: `self.fragment` is the whole HPACK block, sent as a
    /// HEADERS frame followed by as many CONTINUATION frames as needed so that no payload
    /// exceeds `max_frame_size` (§4.3: the frames go out back to back, nothing in
    /// between). `self.end_headers` is ignored: END_HEADERS is set on the last frame.
    /// Padding and priority go in the HEADERS frame. Returns the number of frames written.
    pub fn encode_split(
        &self,
        dst: &mut Vec<u8>,
        max_frame_size: u32,
    ) -> Result<usize, EncodeError> {
        self.check()?;
        check_max_frame_size(max_frame_size)?;
        let first = (max_frame_size as usize - self.overhead()).min(self.fragment.len());
        let (now, rest) = self.fragment.split_at(first);
        self.put(dst, now, rest.is_empty());
        Ok(1 + put_continuations(dst, self.stream_id, rest, max_frame_size as usize))
    }
}

/// Writes `rest` as CONTINUATION frames, the last with END_HEADERS; returns how many.
fn put_continuations(dst: &mut Vec<u8>, sid: u32, mut rest: &[u8], max: usize) -> usize {
    let mut frames = 0;
    while !rest.is_empty() {
        let (now, later) = rest.split_at(rest.len().min(max));
        let flags = Flags::EMPTY.with(Flags::END_HEADERS, later.is_empty());
        put_header(dst, now.len(), FrameKind::Continuation, flags, sid);
        dst.extend_from_slice(now);
        rest = later;
        frames += 1;
    }
    frames
}

impl Priority {
    /// Appends this PRIORITY frame to `dst`.
    pub fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        check_stream(self.stream_id)?;
        check_priority(self.stream_id, &Some(self.spec))?;
        put_header(
            dst,
            PrioritySpec::LEN,
            FrameKind::Priority,
            Flags::EMPTY,
            self.stream_id,
        );
        dst.extend_from_slice(&self.spec.to_bytes());
        Ok(())
    }
}

impl RstStream {
    /// Appends this RST_STREAM frame to `dst`.
    pub fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        check_stream(self.stream_id)?;
        put_header(dst, 4, FrameKind::RstStream, Flags::EMPTY, self.stream_id);
        dst.extend_from_slice(&self.error_code.as_u32().to_be_bytes());
        Ok(())
    }
}

impl PushPromise<'_> {
    fn overhead(&self) -> usize {
        4 + padding_overhead(self.pad_len)
    }

    fn check(&self) -> Result<(), EncodeError> {
        check_stream(self.stream_id)?;
        check_promised(self.promised_stream_id)
    }

    fn put(&self, dst: &mut Vec<u8>, fragment: &[u8], end_headers: bool) {
        let flags = Flags::EMPTY
            .with(Flags::END_HEADERS, end_headers)
            .with(Flags::PADDED, self.pad_len.is_some());
        put_header(
            dst,
            fragment.len() + self.overhead(),
            FrameKind::PushPromise,
            flags,
            self.stream_id,
        );
        if let Some(p) = self.pad_len {
            dst.push(p);
        }
        dst.extend_from_slice(&self.promised_stream_id.to_be_bytes());
        dst.extend_from_slice(fragment);
        put_padding(dst, self.pad_len);
    }

    /// Appends this PUSH_PROMISE frame to `dst` as is (one frame).
    pub fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.check()?;
        check_payload_len(self.fragment.len() + self.overhead())?;
        self.put(dst, self.fragment, self.end_headers);
        Ok(())
    }

    /// Appends a complete field block as PUSH_PROMISE + CONTINUATION frames of at most
    /// `max_frame_size` payload bytes (like [`Headers::encode_split`]). Returns the number
    /// of frames written.
    pub fn encode_split(
        &self,
        dst: &mut Vec<u8>,
        max_frame_size: u32,
    ) -> Result<usize, EncodeError> {
        self.check()?;
        check_max_frame_size(max_frame_size)?;
        let first = (max_frame_size as usize - self.overhead()).min(self.fragment.len());
        let (now, rest) = self.fragment.split_at(first);
        self.put(dst, now, rest.is_empty());
        Ok(1 + put_continuations(dst, self.stream_id, rest, max_frame_size as usize))
    }
}

impl Ping {
    /// Appends this PING frame to `dst`.
    pub fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        put_header(
            dst,
            8,
            FrameKind::Ping,
            Flags::EMPTY.with(Flags::ACK, self.ack),
            0,
        );
        dst.extend_from_slice(&self.data);
        Ok(())
    }
}

impl GoAway<'_> {
    /// Appends this GOAWAY frame to `dst`.
    pub fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        check_sid(self.last_stream_id)?;
        let len = 8 + self.debug_data.len();
        check_payload_len(len)?;
        put_header(dst, len, FrameKind::GoAway, Flags::EMPTY, 0);
        dst.extend_from_slice(&self.last_stream_id.to_be_bytes());
        dst.extend_from_slice(&self.error_code.as_u32().to_be_bytes());
        dst.extend_from_slice(self.debug_data);
        Ok(())
    }
}

impl WindowUpdate {
    /// Appends this WINDOW_UPDATE frame to `dst`.
    pub fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        check_sid(self.stream_id)?;
        if self.increment == 0 || self.increment > MAX_WINDOW_SIZE {
            return Err(EncodeError::InvalidWindowIncrement(self.increment));
        }
        put_header(
            dst,
            4,
            FrameKind::WindowUpdate,
            Flags::EMPTY,
            self.stream_id,
        );
        dst.extend_from_slice(&self.increment.to_be_bytes());
        Ok(())
    }
}

impl Continuation<'_> {
    /// Appends this CONTINUATION frame to `dst`.
    pub fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        check_stream(self.stream_id)?;
        check_payload_len(self.fragment.len())?;
        let flags = Flags::EMPTY.with(Flags::END_HEADERS, self.end_headers);
        put_header(
            dst,
            self.fragment.len(),
            FrameKind::Continuation,
            flags,
            self.stream_id,
        );
        dst.extend_from_slice(self.fragment);
        Ok(())
    }
}

impl UnknownFrame<'_> {
    /// Appends this frame to `dst` with its header's type, flags and stream; the length
    /// comes from the payload.
    pub fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        check_sid(self.header.stream_id)?;
        check_payload_len(self.payload.len())?;
        put_header(
            dst,
            self.payload.len(),
            self.header.kind,
            self.header.flags,
            self.header.stream_id,
        );
        dst.extend_from_slice(self.payload);
        Ok(())
    }
}

impl Frame<'_> {
    /// Appends this frame to `dst` (one frame, as described; padding as zeros).
    pub fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            Frame::Data(f) => f.encode(dst),
            Frame::Headers(f) => f.encode(dst),
            Frame::Priority(f) => f.encode(dst),
            Frame::RstStream(f) => f.encode(dst),
            Frame::Settings(f) => f.encode(dst),
            Frame::PushPromise(f) => f.encode(dst),
            Frame::Ping(f) => f.encode(dst),
            Frame::GoAway(f) => f.encode(dst),
            Frame::WindowUpdate(f) => f.encode(dst),
            Frame::Continuation(f) => f.encode(dst),
            Frame::Unknown(f) => f.encode(dst),
        }
    }
}
