//! Automatic response decompression (feature `compression`): the client offers
//! `Accept-Encoding: gzip, br, zstd, deflate` and decodes the body of a response whose
//! `Content-Encoding` is one of them, streaming, with a bound on the decoded size
//! ([`ClientBuilder::max_decompressed_size`]). Without the feature this module only
//! holds the empty per-response slot.

use bytes::Bytes;
#[cfg(feature = "compression")]
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH};
use http::HeaderMap;

#[cfg(feature = "compression")]
use super::error::Error;
use super::error::Result;
#[cfg(feature = "compression")]
use super::ClientBuilder;
#[cfg(feature = "compression")]
use crate::codec::{DecodeError, Decoder, Encoding};

/// The `Accept-Encoding` the client sends when decompression is on.
#[cfg(feature = "compression")]
pub(crate) const ACCEPT: &str = "gzip, br, zstd, deflate";

/// The client's decompression settings (part of its configuration).
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "compression"), derive(Default))]
pub(crate) struct Settings {
    #[cfg(feature = "compression")]
    enabled: bool,
    /// `None`: the client's `max_response_body_size`.
    #[cfg(feature = "compression")]
    limit: Option<u64>,
}

#[cfg(feature = "compression")]
impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            limit: None,
        }
    }
}

#[cfg(feature = "compression")]
impl ClientBuilder {
    /// Decompress responses automatically (default **true** with the `compression`
    /// feature): owned-API requests without an `Accept-Encoding` field are sent with
    /// `Accept-Encoding: gzip, br, zstd, deflate`, and a response with one of those
    /// `Content-Encoding`s is decoded as it is read (streaming), its `Content-Encoding`
    /// and `Content-Length` fields removed. A request that sets its own
    /// `Accept-Encoding` gets the response as received, like curl without
    /// `--compressed`. Arena-backed requests ([`super::ArenaRequest`]) are never decoded.
    pub fn decompress(mut self, enabled: bool) -> Self {
        self.config.decompress.enabled = enabled;
        self
    }

    /// Largest decoded body accepted, in bytes (default: the
    /// [`max_response_body_size`](Self::max_response_body_size), 256 MiB). Decoding
    /// more fails the read with [`Error::DecompressedTooLarge`] and closes the
    /// connection: a decompression bomb (a few KiB that inflate to gigabytes) is an
    /// error, never an out-of-memory. Decoded memory is bounded by this limit even for
    /// a single network read.
    pub fn max_decompressed_size(mut self, bytes: u64) -> Self {
        self.config.decompress.limit = Some(bytes);
        self
    }
}

/// Adds the client's `Accept-Encoding` to `pairs` unless `headers` has one; true when
/// it was added (the response is then decoded).
#[cfg(feature = "compression")]
pub(crate) fn offer<'h>(
    pairs: &mut Vec<(&'h [u8], &'h [u8])>,
    headers: &HeaderMap,
    settings: &Settings,
) -> bool {
    if !settings.enabled || headers.contains_key(ACCEPT_ENCODING) {
        return false;
    }
    pairs.push((b"accept-encoding", ACCEPT.as_bytes()));
    true
}

/// Without the `compression` feature nothing is offered.
#[cfg(not(feature = "compression"))]
pub(crate) fn offer<'h>(
    _pairs: &mut Vec<(&'h [u8], &'h [u8])>,
    _headers: &HeaderMap,
    _settings: &Settings,
) -> bool {
    false
}

/// A response body's decoder, if any.
#[derive(Default)]
pub(crate) struct Decoding {
    #[cfg(feature = "compression")]
    state: Option<Box<State>>,
}

#[cfg(feature = "compression")]
struct State {
    decoder: Decoder,
    limit: u64,
}

impl Decoding {
    /// The decoder for a response with these `headers` (whose body is not empty), when
    /// decompression is on and its `Content-Encoding` is one coding we decode; the
    /// decoded response loses its `Content-Encoding` and `Content-Length` fields.
    #[cfg_attr(not(feature = "compression"), allow(unused_variables))]
    pub(crate) fn for_response(
        headers: &mut HeaderMap,
        settings: &Settings,
        max_body: u64,
    ) -> Decoding {
        #[cfg(feature = "compression")]
        {
            let mut codings = headers.get_all(CONTENT_ENCODING).iter();
            let (Some(value), None) = (codings.next(), codings.next()) else {
                return Decoding::default();
            };
            // One coding only (a list such as `gzip, br` is passed through as is).
            if value.as_bytes().contains(&b',') {
                return Decoding::default();
            }
            let Some(encoding) = Encoding::from_token(value.as_bytes()) else {
                return Decoding::default();
            };
            let limit = settings.limit.unwrap_or(max_body);
            let Ok(decoder) = Decoder::new(encoding, limit) else {
                return Decoding::default();
            };
            headers.remove(CONTENT_ENCODING);
            headers.remove(CONTENT_LENGTH);
            Decoding {
                state: Some(Box::new(State { decoder, limit })),
            }
        }
        #[cfg(not(feature = "compression"))]
        Decoding::default()
    }

    /// True while there is a decoder to feed.
    pub(crate) fn is_active(&self) -> bool {
        #[cfg(feature = "compression")]
        return self.state.is_some();
        #[cfg(not(feature = "compression"))]
        false
    }

    /// Decodes a piece of the body as received.
    #[cfg_attr(not(feature = "compression"), allow(unused_variables))]
    pub(crate) fn decode(&mut self, piece: &[u8]) -> Result<Bytes> {
        #[cfg(feature = "compression")]
        if let Some(s) = self.state.as_mut() {
            return match s.decoder.decode(piece) {
                Ok(out) => Ok(out),
                Err(e) => {
                    let e = error(e, s.decoder.encoding(), s.limit);
                    self.state = None;
                    Err(e)
                }
            };
        }
        Ok(Bytes::copy_from_slice(piece))
    }

    /// The body as received has ended: checks the coded stream is complete and returns
    /// the last decoded bytes; afterwards the decoder is gone.
    pub(crate) fn finish(&mut self) -> Result<Bytes> {
        #[cfg(feature = "compression")]
        if let Some(mut s) = self.state.take() {
            return s
                .decoder
                .finish()
                .map_err(|e| error(e, s.decoder.encoding(), s.limit));
        }
        Ok(Bytes::new())
    }
}

#[cfg(feature = "compression")]
fn error(e: DecodeError, encoding: Encoding, limit: u64) -> Error {
    match e {
        DecodeError::TooLarge => Error::DecompressedTooLarge { limit },
        DecodeError::Invalid(source) => Error::Decompress {
            encoding: encoding.as_str(),
            source,
        },
    }
}
