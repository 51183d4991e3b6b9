//! The RFC 6455 §5.2 frame layer: header parsing and writing, and masking (§5.3).
//!
//! These are the primitives the [`Connection`](crate::Connection) is built on; they are
//! public for drivers and tools that need raw frames (a proxy, a test peer, a fuzzer).
//! They check only what the header itself can tell (the 64-bit length's most significant
//! bit, §5.2); the role rules, reserved bits and sizes are the connection's.

use crate::Error;

/// A frame opcode (RFC 6455 §5.2, §11.8). Reserved opcodes (3–7, 0xB–0xF) are
/// [`Error::UnknownOpcode`] when parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: a continuation of a fragmented message.
    Continuation,
    /// 0x1: the first frame of a text message.
    Text,
    /// 0x2: the first frame of a binary message.
    Binary,
    /// 0x8: connection close (§5.5.1).
    Close,
    /// 0x9: ping (§5.5.2).
    Ping,
    /// 0xA: pong (§5.5.3).
    Pong,
}

impl OpCode {
    /// The 4-bit wire value.
    pub const fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Parses a 4-bit wire value; reserved values are [`Error::UnknownOpcode`].
    pub const fn from_u8(value: u8) -> Result<OpCode, Error> {
        Ok(match value {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            other => return Err(Error::UnknownOpcode(other)),
        })
    }

    /// Close, Ping and Pong: opcodes with the most significant bit set (§5.5).
    pub const fn is_control(self) -> bool {
        self.as_u8() & 0x8 != 0
    }
}

/// A parsed frame header (RFC 6455 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: the last frame of a message.
    pub fin: bool,
    /// RSV1 (set on the first frame of a compressed message by permessage-deflate).
    pub rsv1: bool,
    /// RSV2 (no extension here uses it).
    pub rsv2: bool,
    /// RSV3 (no extension here uses it).
    pub rsv3: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, if the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
}

/// The longest frame header: 2 bytes, 8 bytes of extended length, 4 bytes of key.
pub const MAX_HEADER_LEN: usize = 14;

impl FrameHeader {
    /// Parses a header from the start of `input`.
    ///
    /// Returns `Ok(None)` with nothing consumed when `input` is shorter than the header
    /// (at most [`MAX_HEADER_LEN`] bytes are needed), `Ok(Some((header, header_len)))`
    /// otherwise. Errors: [`Error::UnknownOpcode`], and [`Error::InvalidLength`] when a
    /// 64-bit length has its most significant bit set (§5.2). Non-minimal length
    /// encodings are accepted (§5.2 requires minimal encodings of senders only).
    pub fn parse(input: &[u8]) -> Result<Option<(FrameHeader, usize)>, Error> {
        if input.len() < 2 {
            return Ok(None);
        }
        let (b0, b1) = (input[0], input[1]);
        let opcode = OpCode::from_u8(b0 & 0x0F)?;
        let masked = b1 & 0x80 != 0;
        let (payload_len, mut len) = match b1 & 0x7F {
            126 => {
                if input.len() < 4 {
                    return Ok(None);
                }
                (u16::from_be_bytes([input[2], input[3]]) as u64, 4)
            }
            127 => {
                if input.len() < 10 {
                    return Ok(None);
                }
                let mut raw = [0u8; 8];
                raw.copy_from_slice(&input[2..10]);
                let value = u64::from_be_bytes(raw);
                if value >> 63 != 0 {
                    return Err(Error::InvalidLength);
                }
                (value, 10)
            }
            short => (short as u64, 2),
        };
        let mask = if masked {
            if input.len() < len + 4 {
                return Ok(None);
            }
            let key = [input[len], input[len + 1], input[len + 2], input[len + 3]];
            len += 4;
            Some(key)
        } else {
            None
        };
        Ok(Some((
            FrameHeader {
                fin: b0 & 0x80 != 0,
                rsv1: b0 & 0x40 != 0,
                rsv2: b0 & 0x20 != 0,
                rsv3: b0 & 0x10 != 0,
                opcode,
                mask,
                payload_len,
            },
            len,
        )))
    }

    /// Writes the header (with the minimal length encoding) into `out`; returns its
    /// length.
    pub fn write(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        out[0] = (self.fin as u8) << 7
            | (self.rsv1 as u8) << 6
            | (self.rsv2 as u8) << 5
            | (self.rsv3 as u8) << 4
            | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut len = if self.payload_len < 126 {
            out[1] = mask_bit | self.payload_len as u8;
            2
        } else if self.payload_len <= u16::MAX as u64 {
            out[1] = mask_bit | 126;
            out[2..4].copy_from_slice(&(self.payload_len as u16).to_be_bytes());
            4
        } else {
            out[1] = mask_bit | 127;
            out[2..10].copy_from_slice(&self.payload_len.to_be_bytes());
            10
        };
        if let Some(key) = self.mask {
            out[len..len + 4].copy_from_slice(&key);
            len += 4;
        }
        len
    }
}

/// XORs `data` with the masking key (RFC 6455 §5.3), starting at key position 0.
/// Masking and unmasking are the same operation. Eight bytes at a time, in safe code.
pub fn apply_mask(data: &mut [u8], key: [u8; 4]) {
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(word) ^ wide).to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i & 3];
    }
}

/// Where encoded frames go: a `Vec<u8>` or a `bytes::BytesMut` (both implement it).
/// Writing never allocates once the buffer's capacity covers the frame.
pub trait FrameSink {
    /// Bytes already in the sink.
    fn len(&self) -> usize;
    /// True when the sink holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Appends bytes.
    fn extend_from_slice(&mut self, bytes: &[u8]);
    /// The bytes from `start` to the end (for masking in place).
    fn tail_mut(&mut self, start: usize) -> &mut [u8];
}

impl FrameSink for Vec<u8> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        Vec::extend_from_slice(self, bytes)
    }
    fn tail_mut(&mut self, start: usize) -> &mut [u8] {
        &mut self[start..]
    }
}

impl FrameSink for bytes::BytesMut {
    fn len(&self) -> usize {
        bytes::BytesMut::len(self)
    }
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        bytes::BytesMut::extend_from_slice(self, bytes)
    }
    fn tail_mut(&mut self, start: usize) -> &mut [u8] {
        &mut self[start..]
    }
}

/// Encodes one frame (header and payload, masked when `mask` is given) into `out`.
/// The payload is written as given: compression is the connection's business.
pub fn write_frame<S: FrameSink + ?Sized>(
    out: &mut S,
    fin: bool,
    rsv1: bool,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    payload: &[u8],
) {
    let header = FrameHeader {
        fin,
        rsv1,
        rsv2: false,
        rsv3: false,
        opcode,
        mask,
        payload_len: payload.len() as u64,
    };
    let mut raw = [0u8; MAX_HEADER_LEN];
    let n = header.write(&mut raw);
    out.extend_from_slice(&raw[..n]);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(out.tail_mut(start), key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_in_all_three_encodings() {
        for len in [0u64, 125, 126, 65535, 65536, 1 << 40] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let h = FrameHeader {
                    fin: true,
                    rsv1: false,
                    rsv2: false,
                    rsv3: false,
                    opcode: OpCode::Binary,
                    mask,
                    payload_len: len,
                };
                let mut raw = [0u8; MAX_HEADER_LEN];
                let n = h.write(&mut raw);
                assert_eq!(FrameHeader::parse(&raw[..n]).unwrap(), Some((h, n)));
                assert_eq!(FrameHeader::parse(&raw[..n - 1]).unwrap(), None);
            }
        }
    }

    #[test]
    fn a_64_bit_length_with_the_top_bit_set_is_rejected() {
        let raw = [0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(FrameHeader::parse(&raw), Err(Error::InvalidLength));
    }

    #[test]
    fn masking_matches_the_bytewise_definition() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in 0..40 {
            let data: Vec<u8> = (0..len as u8).collect();
            let mut fast = data.clone();
            apply_mask(&mut fast, key);
            let slow: Vec<u8> = data
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ key[i % 4])
                .collect();
            assert_eq!(fast, slow);
        }
        // RFC 6455 §5.7: a masked "Hello".
        let mut hello = *b"Hello";
        apply_mask(&mut hello, key);
        assert_eq!(hello, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }
}
