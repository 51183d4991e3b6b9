//! The QPACK encoder: static table and literals only (RFC 9204 §4.5), so every section
//! has Required Insert Count 0, never blocks the peer and needs no encoder stream.

use shockwave_hpack::integer;

use super::{read_int, static_table, write_str, PrimError, QpackError};
use crate::frame::{self, frame_type};
use crate::varint::VarIntError;

/// Values of these fields are sent as literals with the N ("never index") bit set
/// (RFC 9204 §7.1.3), so intermediaries do not put them in a dynamic table.
fn is_sensitive(name: &[u8], value: &[u8]) -> bool {
    match name {
        b"authorization" | b"proxy-authorization" => true,
        // Short cookies are guessable by probing (RFC 9204 §7.1.3 suggests the same).
        b"cookie" | b"set-cookie" => value.len() < 20,
        _ => false,
    }
}

/// A static-table-only QPACK encoder (see the [module docs](super)). One per connection;
/// it also validates the peer's decoder stream.
#[derive(Debug, Default)]
pub struct Encoder {
    /// Lowercased field names.
    scratch: Vec<u8>,
    /// An incomplete decoder-stream instruction carried over between reads.
    pending: Vec<u8>,
}

impl Encoder {
    /// A new encoder.
    pub fn new() -> Self {
        Encoder::default()
    }

    /// Appends an encoded field section for `fields` to `dst` and returns its field
    /// section size (name + value + 32 per field, RFC 9114 §4.2.2) so the caller can
    /// compare it with the peer's SETTINGS_MAX_FIELD_SECTION_SIZE. Field names are
    /// lowercased (HTTP/3 requires lowercase names); pseudo-header fields must come
    /// first, which is the caller's order to keep.
    pub fn encode_section<'h, I>(&mut self, fields: I, dst: &mut Vec<u8>) -> u64
    where
        I: IntoIterator<Item = (&'h [u8], &'h [u8])>,
    {
        // Required Insert Count 0, Base 0 (RFC 9204 §4.5.1).
        dst.extend_from_slice(&[0x00, 0x00]);
        let mut size = 0u64;
        for (name, value) in fields {
            size = size.saturating_add(name.len() as u64 + value.len() as u64 + 32);
            let name = if name.iter().any(u8::is_ascii_uppercase) {
                self.scratch.clear();
                self.scratch.extend(name.iter().map(u8::to_ascii_lowercase));
                &self.scratch[..]
            } else {
                name
            };
            encode_field(name, value, dst);
        }
        size
    }

    /// Appends a complete HEADERS frame whose payload is the encoded `fields`; returns
    /// the field section size as [`encode_section`](Self::encode_section) does.
    pub fn encode_headers_frame<'h, I>(
        &mut self,
        fields: I,
        dst: &mut Vec<u8>,
    ) -> Result<u64, VarIntError>
    where
        I: IntoIterator<Item = (&'h [u8], &'h [u8])>,
    {
        let start = dst.len();
        let size = self.encode_section(fields, dst);
        frame::wrap_payload(frame_type::HEADERS, start, dst)?;
        Ok(size)
    }

    /// Processes bytes from the peer's decoder stream (RFC 9204 §4.4). Since this
    /// encoder never references the dynamic table, a Section Acknowledgment or an Insert
    /// Count Increment is a `QPACK_DECODER_STREAM_ERROR` (§4.4.1, §4.4.3); Stream
    /// Cancellations are accepted.
    pub fn feed_decoder_stream(&mut self, data: &[u8]) -> Result<(), QpackError> {
        let carried = !self.pending.is_empty();
        if carried {
            self.pending.extend_from_slice(data);
        }
        let buf = if carried { &self.pending[..] } else { data };
        let (pos, result) = scan_decoder_instructions(buf);
        if carried {
            self.pending.drain(..pos);
        } else {
            self.pending.extend_from_slice(&data[pos..]);
        }
        result?;
        if self.pending.len() > 16 {
            return Err(QpackError::DecoderStream("integer too long"));
        }
        Ok(())
    }
}

/// Validates complete decoder instructions; returns the bytes they span.
fn scan_decoder_instructions(buf: &[u8]) -> (usize, Result<(), QpackError>) {
    let mut pos = 0;
    while let Some(&first) = buf.get(pos) {
        let (prefix, refused) = if first & 0x80 != 0 {
            (
                7,
                Some("Section Acknowledgment for a section without dynamic references"),
            )
        } else if first & 0x40 != 0 {
            (6, None) // Stream Cancellation: nothing to release
        } else {
            (6, Some("Insert Count Increment beyond the entries sent"))
        };
        let mut p = pos;
        match read_int(buf, &mut p, prefix) {
            Ok(_) => {}
            Err(PrimError::Truncated) => break,
            Err(PrimError::Overflow) => {
                return (pos, Err(QpackError::DecoderStream("integer too large")))
            }
        }
        if let Some(what) = refused {
            return (pos, Err(QpackError::DecoderStream(what)));
        }
        pos = p;
    }
    (pos, Ok(()))
}

/// Encodes one field line: indexed if the static table has the exact field, else a
/// literal with a static name reference, else a literal with a literal name.
fn encode_field(name: &[u8], value: &[u8], dst: &mut Vec<u8>) {
    let never_index = is_sensitive(name, value);
    match static_table::lookup(name, value) {
        Some((index, true)) if !never_index => {
            // Indexed Field Line, static: 1 1 index(6+).
            integer::encode(index as u64, 6, 0xc0, dst);
        }
        Some((index, _)) => {
            // Literal Field Line with Name Reference, static: 01 N 1 index(4+).
            let flags = 0x50 | if never_index { 0x20 } else { 0 };
            integer::encode(index as u64, 4, flags, dst);
            write_str(value, 8, 0, dst);
        }
        None => {
            // Literal Field Line with Literal Name: 001 N H len(3+).
            let flags = 0x20 | if never_index { 0x10 } else { 0 };
            write_str(name, 4, flags, dst);
            write_str(value, 8, 0, dst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn representations() {
        let mut e = Encoder::new();
        let mut out = Vec::new();
        e.encode_section([(&b":path"[..], &b"/"[..])], &mut out);
        assert_eq!(out, [0x00, 0x00, 0xc1]);
        out.clear();
        // RFC 9204 B.1 uses a non-Huffman literal; ours Huffman-codes "/index.html"
        // because that is shorter.
        e.encode_section([(&b":path"[..], &b"/index.html"[..])], &mut out);
        assert_eq!(out[..3], [0x00, 0x00, 0x51]);
        assert_eq!(out[3] & 0x80, 0x80, "Huffman flag");
        out.clear();
        e.encode_section([(&b"Authorization"[..], &b"secret"[..])], &mut out);
        // 01 N=1 T=1 index 84 (15 + 69 in a continuation byte).
        assert_eq!(out[2..4], [0x7f, 69]);
        out.clear();
        e.encode_section([(&b"X-Y"[..], &b"z"[..])], &mut out);
        // 001 N=0 H=? name "x-y" (3 bytes, not shorter in Huffman), value "z".
        assert_eq!(out, [0x00, 0x00, 0x23, b'x', b'-', b'y', 0x01, b'z']);
    }

    #[test]
    fn headers_frame_wrapping() {
        let mut e = Encoder::new();
        let mut out = vec![0xaa];
        let size = e
            .encode_headers_frame([(&b":status"[..], &b"200"[..])], &mut out)
            .unwrap();
        assert_eq!(size, 7 + 3 + 32);
        assert_eq!(out, [0xaa, 0x01, 0x03, 0x00, 0x00, 0xd9]);
    }

    #[test]
    fn decoder_stream_validation() {
        let mut e = Encoder::new();
        e.feed_decoder_stream(&[0x48, 0x7f]).unwrap(); // cancel stream 8, then partial
        e.feed_decoder_stream(&[0x05]).unwrap(); // ...cancel stream 68
        assert_eq!(
            e.feed_decoder_stream(&[0x84]).unwrap_err().code(),
            ErrorCode::QpackDecoderStreamError
        );
        let mut e = Encoder::new();
        assert_eq!(
            e.feed_decoder_stream(&[0x01]).unwrap_err().code(),
            ErrorCode::QpackDecoderStreamError
        );
        let mut e = Encoder::new();
        let mut huge = vec![0x7f];
        huge.extend_from_slice(&[0xff; 20]);
        assert!(e.feed_decoder_stream(&huge).is_err());
    }
}
