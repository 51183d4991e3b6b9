//! Our three unidirectional streams (RFC 9114 §6.2.1, RFC 9204 §4.2): the bytes the
//! connection wants sent on our control, QPACK encoder and QPACK decoder streams, each
//! starting with its stream type.
//!
//! A stream exists from the moment it has something to send: the control stream from
//! the start (type + SETTINGS), the decoder stream from the start when our QPACK table
//! capacity is non-zero, the encoder stream once our encoder uses a dynamic table (after
//! the peer's SETTINGS allowed one). The driver opens the QUIC stream when
//! [`Connection::pending`](super::Connection::pending) first returns bytes for it.

use crate::qpack::Decoder;
use crate::stream::{encode_uni_stream_header, UniStreamKind};

/// One of the unidirectional streams we open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocalStream {
    /// Our control stream: SETTINGS, then GOAWAY. Never finish it (RFC 9114 §6.2.1).
    Control,
    /// Our QPACK encoder stream: dynamic table instructions. Never finish it.
    QpackEncoder,
    /// Our QPACK decoder stream: Section Acknowledgments, Stream Cancellations and
    /// Insert Count Increments. Never finish it.
    QpackDecoder,
}

impl LocalStream {
    /// All three, in the order a driver may poll them.
    pub const ALL: [LocalStream; 3] = [
        LocalStream::Control,
        LocalStream::QpackEncoder,
        LocalStream::QpackDecoder,
    ];

    fn kind(self) -> UniStreamKind {
        match self {
            LocalStream::Control => UniStreamKind::Control,
            LocalStream::QpackEncoder => UniStreamKind::QpackEncoder,
            LocalStream::QpackDecoder => UniStreamKind::QpackDecoder,
        }
    }
}

/// Bytes queued for one of our streams.
#[derive(Debug, Default)]
pub(super) struct SendBuf {
    buf: Vec<u8>,
    /// Bytes of `buf` the driver has written.
    sent: usize,
    opened: bool,
}

impl SendBuf {
    /// Queues the stream type, once.
    pub(super) fn open(&mut self, stream: LocalStream) {
        if !self.opened {
            self.opened = true;
            // A varint below 64 cannot fail to encode.
            let _ = encode_uni_stream_header(stream.kind(), &mut self.buf);
        }
    }

    pub(super) fn is_open(&self) -> bool {
        self.opened
    }

    /// Where to append stream content.
    pub(super) fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    pub(super) fn pending(&self) -> &[u8] {
        &self.buf[self.sent..]
    }

    pub(super) fn advance(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.buf.len());
        if self.sent == self.buf.len() {
            self.buf.clear();
            self.sent = 0;
        }
    }
}

/// Our control, encoder and decoder streams.
#[derive(Debug, Default)]
pub(super) struct LocalStreams {
    pub(super) control: SendBuf,
    pub(super) encoder: SendBuf,
    pub(super) decoder: SendBuf,
}

impl LocalStreams {
    pub(super) fn get(&self, stream: LocalStream) -> &SendBuf {
        match stream {
            LocalStream::Control => &self.control,
            LocalStream::QpackEncoder => &self.encoder,
            LocalStream::QpackDecoder => &self.decoder,
        }
    }

    pub(super) fn get_mut(&mut self, stream: LocalStream) -> &mut SendBuf {
        match stream {
            LocalStream::Control => &mut self.control,
            LocalStream::QpackEncoder => &mut self.encoder,
            LocalStream::QpackDecoder => &mut self.decoder,
        }
    }

    /// Moves the decoder's pending instructions onto our decoder stream (RFC 9204 §4.4).
    /// Without a decoder stream (table capacity 0) the decoder never has any.
    pub(super) fn flush_decoder(&mut self, decoder: &mut Decoder) {
        if self.decoder.is_open() && decoder.has_decoder_stream_data() {
            decoder.take_decoder_stream(self.decoder.buf());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_buf_pending_and_advance() {
        let mut b = SendBuf::default();
        assert!(b.pending().is_empty());
        b.open(LocalStream::QpackDecoder);
        b.open(LocalStream::QpackDecoder);
        b.buf().extend_from_slice(b"ab");
        assert_eq!(b.pending(), [0x03, b'a', b'b']);
        b.advance(2);
        assert_eq!(b.pending(), b"b");
        b.buf().push(b'c');
        b.advance(5);
        assert!(b.pending().is_empty());
        assert!(b.is_open());
    }
}
