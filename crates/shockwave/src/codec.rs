//! HTTP content codings (RFC 9110 §8.4.1): `gzip`, `deflate`, `br` (RFC 7932) and `zstd`
//! (RFC 8878), shared by the server's response compression
//! ([`crate::server::Compression`]) and the client's automatic decompression.
//!
//! This module is the `compression` feature. The codecs are the ecosystem's well-kept
//! crates: `flate2` (gzip and deflate), `brotli` and `zstd` (the zstd C library).
//!
//! The encoder and decoder here are push-style and streaming: the caller feeds pieces as
//! they come and takes the output produced so far, so neither side buffers a whole body.

// The encoder serves the server, the decoder the client: with one role, half is unused.
#![cfg_attr(not(all(feature = "server", feature = "client")), allow(dead_code))]

use std::fmt;
use std::io::{self, Write};

use bytes::{Bytes, BytesMut};

/// A content coding this crate can produce and decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// `br`: Brotli (RFC 7932).
    Brotli,
    /// `zstd`: Zstandard (RFC 8878; windows of at most 8 MiB, RFC 9659).
    Zstd,
    /// `gzip` (RFC 1952); `x-gzip` is accepted as an alias.
    Gzip,
    /// `deflate`: the zlib format (RFC 1950) around deflate data (RFC 1951), as RFC 9110
    /// §8.4.1.2 defines it. The client also decodes raw deflate data, which some servers
    /// send instead.
    Deflate,
}

impl Encoding {
    /// Every coding, in the server's default order of preference: `br`, `zstd`, `gzip`,
    /// `deflate` (best ratio first; deflate last since raw-deflate confusion makes it the
    /// least interoperable).
    pub const ALL: [Encoding; 4] = [
        Encoding::Brotli,
        Encoding::Zstd,
        Encoding::Gzip,
        Encoding::Deflate,
    ];

    /// The content-coding token (`br`, `zstd`, `gzip`, `deflate`).
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Brotli => "br",
            Encoding::Zstd => "zstd",
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
        }
    }

    /// The coding named by `token` (case-insensitive, surrounding whitespace ignored;
    /// `x-gzip` is `gzip`, RFC 9110 §8.4.1.3), or `None` for any other coding.
    pub fn from_token(token: &[u8]) -> Option<Encoding> {
        let t = token.trim_ascii();
        if t.eq_ignore_ascii_case(b"br") {
            Some(Encoding::Brotli)
        } else if t.eq_ignore_ascii_case(b"zstd") {
            Some(Encoding::Zstd)
        } else if t.eq_ignore_ascii_case(b"gzip") || t.eq_ignore_ascii_case(b"x-gzip") {
            Some(Encoding::Gzip)
        } else if t.eq_ignore_ascii_case(b"deflate") {
            Some(Encoding::Deflate)
        } else {
            None
        }
    }

    /// The file-name suffix of a precompressed sibling (`.br`, `.zst`, `.gz`), if this
    /// coding has a conventional one.
    pub fn file_suffix(self) -> Option<&'static str> {
        match self {
            Encoding::Brotli => Some(".br"),
            Encoding::Zstd => Some(".zst"),
            Encoding::Gzip => Some(".gz"),
            Encoding::Deflate => None,
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compression levels of an [`Encoder`]; see the server's `CompressionConfig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Levels {
    /// gzip and deflate: 0..=9.
    pub flate: u32,
    /// Brotli quality: 0..=11.
    pub brotli: u32,
    /// zstd level: 1..=22.
    pub zstd: i32,
}

/// Brotli window (log2): 4 MiB, plenty for HTTP bodies and bounded for the decoder.
const BROTLI_LGWIN: u32 = 22;
/// Brotli's internal buffer.
const BROTLI_BUF: usize = 4096;

/// A streaming compressor writing into an in-memory buffer.
pub(crate) enum Encoder {
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Deflate(flate2::write::ZlibEncoder<Vec<u8>>),
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

impl Encoder {
    /// A compressor for `encoding`.
    pub(crate) fn new(encoding: Encoding, levels: Levels) -> io::Result<Encoder> {
        Ok(match encoding {
            Encoding::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::new(levels.flate.min(9)),
            )),
            Encoding::Deflate => Encoder::Deflate(flate2::write::ZlibEncoder::new(
                Vec::new(),
                flate2::Compression::new(levels.flate.min(9)),
            )),
            Encoding::Brotli => Encoder::Brotli(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                BROTLI_BUF,
                levels.brotli.min(11),
                BROTLI_LGWIN,
            ))),
            Encoding::Zstd => {
                let mut e = zstd::stream::write::Encoder::new(Vec::new(), levels.zstd)?;
                // RFC 9659 §3: HTTP decoders need not accept windows above 8 MiB.
                e.window_log(23)?;
                e.include_checksum(false)?;
                Encoder::Zstd(e)
            }
        })
    }

    fn out(&mut self) -> &mut Vec<u8> {
        match self {
            Encoder::Gzip(e) => e.get_mut(),
            Encoder::Deflate(e) => e.get_mut(),
            Encoder::Brotli(e) => e.get_mut(),
            Encoder::Zstd(e) => e.get_mut(),
        }
    }

    /// Compresses `data` (output may stay buffered inside the codec until
    /// [`Encoder::flush`] or [`Encoder::finish`]).
    pub(crate) fn write(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.write_all(data),
            Encoder::Deflate(e) => e.write_all(data),
            Encoder::Brotli(e) => e.write_all(data),
            Encoder::Zstd(e) => e.write_all(data),
        }
    }

    /// Makes everything written so far decodable by the peer (a sync flush), so a
    /// streamed piece reaches the client now rather than with the next one.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.flush(),
            Encoder::Deflate(e) => e.flush(),
            Encoder::Brotli(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
        }
    }

    /// The output produced so far (possibly empty).
    pub(crate) fn take(&mut self) -> Bytes {
        let out = self.out();
        if out.is_empty() {
            return Bytes::new();
        }
        Bytes::from(std::mem::take(out))
    }

    /// Ends the stream and returns the remaining output.
    pub(crate) fn finish(self) -> io::Result<Bytes> {
        let out = match self {
            Encoder::Gzip(e) => e.finish()?,
            Encoder::Deflate(e) => e.finish()?,
            Encoder::Brotli(e) => e.into_inner(),
            Encoder::Zstd(e) => e.finish()?,
        };
        Ok(Bytes::from(out))
    }
}

/// Compresses a whole body at once.
pub(crate) fn compress(encoding: Encoding, levels: Levels, data: &[u8]) -> io::Result<Bytes> {
    let mut e = Encoder::new(encoding, levels)?;
    e.out().reserve(data.len() / 3 + 64);
    e.write(data)?;
    let mut head = e.take();
    let tail = e.finish()?;
    if head.is_empty() {
        return Ok(tail);
    }
    if tail.is_empty() {
        return Ok(head);
    }
    let mut all = BytesMut::with_capacity(head.len() + tail.len());
    all.extend_from_slice(&head);
    all.extend_from_slice(&tail);
    head = all.freeze();
    Ok(head)
}

/// Why decoding stopped.
#[derive(Debug)]
pub(crate) enum DecodeError {
    /// The decoded output would pass the limit (a decompression bomb, or just a body
    /// larger than allowed).
    TooLarge,
    /// The data is not valid for its coding.
    Invalid(io::Error),
}

/// The output side of a [`Decoder`]: collects decoded bytes and refuses to grow past
/// the limit, so a small input can never make the decoder allocate more than `limit`.
struct Sink {
    buf: Vec<u8>,
    total: u64,
    limit: u64,
    over: bool,
}

impl Write for Sink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len() as u64;
        if self.total.saturating_add(n) > self.limit {
            self.over = true;
            return Err(io::Error::other("decoded body larger than the limit"));
        }
        self.total += n;
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum Inner {
    Gzip(flate2::write::MultiGzDecoder<Sink>),
    /// Undecided until the first two bytes show zlib or raw deflate.
    DeflateSniff(Vec<u8>, Option<Sink>),
    Zlib(flate2::write::ZlibDecoder<Sink>),
    RawDeflate(flate2::write::DeflateDecoder<Sink>),
    Brotli(Box<brotli::DecompressorWriter<Sink>>),
    /// zstd through the raw API, which says where frames end (`frame_done`).
    Zstd {
        dctx: Box<zstd::stream::raw::Decoder<'static>>,
        sink: Sink,
        frame_done: bool,
    },
}

/// A streaming decompressor with a bound on the decoded size.
pub(crate) struct Decoder {
    inner: Inner,
    encoding: Encoding,
}

impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("encoding", &self.encoding)
            .finish_non_exhaustive()
    }
}

/// Pieces of input are fed to the codec at most this large, so one call's output stays
/// proportionate.
const FEED: usize = 16 * 1024;

/// Runs `input` through the zstd decoder in bounded output steps.
fn zstd_feed(
    dctx: &mut zstd::stream::raw::Decoder<'static>,
    sink: &mut Sink,
    frame_done: &mut bool,
    mut input: &[u8],
) -> io::Result<()> {
    use zstd::stream::raw::Operation as _;
    let mut out = [0u8; 16 * 1024];
    loop {
        let status = dctx.run_on_buffers(input, &mut out)?;
        input = &input[status.bytes_read..];
        if status.bytes_written > 0 || status.bytes_read > 0 {
            *frame_done = status.remaining == 0;
        }
        sink.write_all(&out[..status.bytes_written])?;
        // Done when the input is used up and the output buffer was not filled (a full
        // buffer may mean more output is pending inside the decoder).
        if input.is_empty() && status.bytes_written < out.len() {
            return Ok(());
        }
    }
}

impl Decoder {
    /// A decoder for `encoding` that fails once more than `limit` bytes were decoded.
    pub(crate) fn new(encoding: Encoding, limit: u64) -> io::Result<Decoder> {
        let sink = Sink {
            buf: Vec::new(),
            total: 0,
            limit,
            over: false,
        };
        let inner = match encoding {
            Encoding::Gzip => Inner::Gzip(flate2::write::MultiGzDecoder::new(sink)),
            Encoding::Deflate => Inner::DeflateSniff(Vec::new(), Some(sink)),
            Encoding::Brotli => {
                Inner::Brotli(Box::new(brotli::DecompressorWriter::new(sink, BROTLI_BUF)))
            }
            Encoding::Zstd => {
                let mut dctx = zstd::stream::raw::Decoder::new()?;
                // Accept the 8 MiB windows of RFC 9659, refuse larger ones (memory).
                dctx.set_parameter(zstd::stream::raw::DParameter::WindowLogMax(23))?;
                Inner::Zstd {
                    dctx: Box::new(dctx),
                    sink,
                    frame_done: false,
                }
            }
        };
        Ok(Decoder { inner, encoding })
    }

    /// The coding being decoded.
    pub(crate) fn encoding(&self) -> Encoding {
        self.encoding
    }

    fn sink(&mut self) -> Option<&mut Sink> {
        Some(match &mut self.inner {
            Inner::Gzip(d) => d.get_mut(),
            Inner::DeflateSniff(_, s) => s.as_mut()?,
            Inner::Zlib(d) => d.get_mut(),
            Inner::RawDeflate(d) => d.get_mut(),
            Inner::Brotli(d) => d.get_mut(),
            Inner::Zstd { sink, .. } => sink,
        })
    }

    fn error(&mut self, e: io::Error) -> DecodeError {
        match self.sink() {
            Some(s) if s.over => DecodeError::TooLarge,
            _ => DecodeError::Invalid(e),
        }
    }

    /// Feeds `data`; returns what was decoded so far (possibly empty).
    pub(crate) fn decode(&mut self, data: &[u8]) -> Result<Bytes, DecodeError> {
        let mut data = data;
        if let Inner::DeflateSniff(seen, sink) = &mut self.inner {
            seen.extend_from_slice(data);
            if seen.len() < 2 {
                return Ok(Bytes::new());
            }
            // RFC 1950 §2.2: CM = 8 and the header is a multiple of 31.
            let zlib = seen[0] & 0x0f == 8 && u16::from_be_bytes([seen[0], seen[1]]) % 31 == 0;
            let sink = sink.take().expect("sniffing decoder has its sink");
            let seen = std::mem::take(seen);
            self.inner = if zlib {
                Inner::Zlib(flate2::write::ZlibDecoder::new(sink))
            } else {
                Inner::RawDeflate(flate2::write::DeflateDecoder::new(sink))
            };
            let out = self.decode(&seen)?;
            return Ok(out);
        }
        while !data.is_empty() {
            let (piece, rest) = data.split_at(data.len().min(FEED));
            data = rest;
            let r = match &mut self.inner {
                // The flate2 writers keep output in their buffer until flushed.
                Inner::Gzip(d) => d.write_all(piece).and_then(|()| d.flush()),
                Inner::Zlib(d) => d.write_all(piece).and_then(|()| d.flush()),
                Inner::RawDeflate(d) => d.write_all(piece).and_then(|()| d.flush()),
                Inner::Brotli(d) => d.write_all(piece),
                Inner::Zstd {
                    dctx,
                    sink,
                    frame_done,
                } => zstd_feed(dctx, sink, frame_done, piece),
                Inner::DeflateSniff(..) => unreachable!("decided above"),
            };
            if let Err(e) = r {
                return Err(self.error(e));
            }
        }
        Ok(self.take())
    }

    fn take(&mut self) -> Bytes {
        match self.sink() {
            Some(s) if !s.buf.is_empty() => Bytes::from(std::mem::take(&mut s.buf)),
            _ => Bytes::new(),
        }
    }

    /// The input has ended: checks the stream is complete and returns the last output.
    pub(crate) fn finish(&mut self) -> Result<Bytes, DecodeError> {
        let r = match &mut self.inner {
            Inner::Gzip(d) => d.try_finish(),
            Inner::Zlib(d) => d.try_finish(),
            Inner::RawDeflate(d) => d.try_finish(),
            Inner::Brotli(d) => d.close().and_then(|()| {
                // `close` reports a truncated stream only through the state it leaves.
                d.flush()
            }),
            Inner::Zstd { frame_done, .. } if *frame_done => Ok(()),
            Inner::Zstd { .. } => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "truncated zstd frame",
            )),
            Inner::DeflateSniff(seen, _) if seen.is_empty() => Ok(()),
            Inner::DeflateSniff(..) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "truncated deflate stream",
            )),
        };
        if let Err(e) = r {
            return Err(self.error(e));
        }
        Ok(self.take())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEVELS: Levels = Levels {
        flate: 6,
        brotli: 4,
        zstd: 3,
    };

    fn sample() -> Vec<u8> {
        (0..50_000u32)
            .flat_map(|i| format!("line {i} of a repetitive body\n").into_bytes())
            .collect()
    }

    #[test]
    fn every_coding_round_trips_whole_and_streamed() {
        let data = sample();
        for enc in Encoding::ALL {
            let packed = compress(enc, LEVELS, &data).unwrap();
            assert!(packed.len() < data.len() / 4, "{enc}: {}", packed.len());
            let mut d = Decoder::new(enc, u64::MAX).unwrap();
            let mut out = Vec::new();
            for piece in packed.chunks(777) {
                out.extend_from_slice(&d.decode(piece).unwrap());
            }
            out.extend_from_slice(&d.finish().unwrap());
            assert_eq!(out, data, "{enc}");

            // Streamed with flushes: each piece decodes before the stream ends.
            let mut e = Encoder::new(enc, LEVELS).unwrap();
            let mut d = Decoder::new(enc, u64::MAX).unwrap();
            for piece in [&b"event: one\n\n"[..], b"event: two\n\n"] {
                e.write(piece).unwrap();
                e.flush().unwrap();
                assert_eq!(&d.decode(&e.take()).unwrap()[..], piece, "{enc}");
            }
            assert!(d.decode(&e.finish().unwrap()).unwrap().is_empty());
            assert!(d.finish().unwrap().is_empty());
        }
    }

    #[test]
    fn raw_deflate_is_decoded_as_deflate() {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(b"raw deflate data").unwrap();
        let raw = e.finish().unwrap();
        let mut d = Decoder::new(Encoding::Deflate, 1000).unwrap();
        let mut out = d.decode(&raw).unwrap().to_vec();
        out.extend_from_slice(&d.finish().unwrap());
        assert_eq!(out, b"raw deflate data");
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let zeros = vec![0u8; 8 << 20];
        for enc in Encoding::ALL {
            let packed = compress(enc, LEVELS, &zeros).unwrap();
            assert!(packed.len() < 64 << 10, "{enc}: {}", packed.len());
            let mut d = Decoder::new(enc, 1 << 20).unwrap();
            let mut decoded = 0;
            let mut failed = None;
            for piece in packed.chunks(1024) {
                match d.decode(piece) {
                    Ok(b) => decoded += b.len(),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            assert!(matches!(failed, Some(DecodeError::TooLarge)), "{enc}");
            assert!(decoded <= 1 << 20, "{enc}: {decoded}");
        }
    }

    #[test]
    fn truncated_and_garbage_input_are_errors() {
        let data = sample();
        for enc in Encoding::ALL {
            let packed = compress(enc, LEVELS, &data).unwrap();
            let mut d = Decoder::new(enc, u64::MAX).unwrap();
            let r = d
                .decode(&packed[..packed.len() / 2])
                .and_then(|_| d.finish());
            assert!(matches!(r, Err(DecodeError::Invalid(_))), "{enc}");
        }
        let mut d = Decoder::new(Encoding::Gzip, u64::MAX).unwrap();
        assert!(d.decode(b"definitely not gzip").is_err());
    }

    #[test]
    fn tokens() {
        assert_eq!(Encoding::from_token(b" GZIP "), Some(Encoding::Gzip));
        assert_eq!(Encoding::from_token(b"x-gzip"), Some(Encoding::Gzip));
        assert_eq!(Encoding::from_token(b"br"), Some(Encoding::Brotli));
        assert_eq!(Encoding::from_token(b"identity"), None);
        for e in Encoding::ALL {
            assert_eq!(Encoding::from_token(e.as_str().as_bytes()), Some(e));
        }
    }
}
