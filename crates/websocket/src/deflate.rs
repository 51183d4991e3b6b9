//! permessage-deflate (RFC 7692): parameter negotiation (§7.1) and the per-message codec
//! (§7.2) the [`Connection`](crate::Connection) uses once it is negotiated.
//!
//! Negotiation is pure: the server passes the parsed `Sec-WebSocket-Extensions` offers
//! to [`negotiate_server`] and gets the parameters plus the response header value; the
//! client sends [`DeflateConfig::offer`] and checks the server's answer with
//! [`negotiate_client`]. The resulting [`DeflateParams`] go into
//! [`Config::deflate`](crate::Config::deflate).
//!
//! ## Window bits
//!
//! Compression uses flate2 on its `zlib-rs` backend, which takes window bits 9 to 15.
//! Inflation always runs with a 32 KiB window (15 bits), which decodes data compressed
//! with any smaller window, so every `client_max_window_bits`/`server_max_window_bits`
//! value the peer picks for itself is accepted. When the peer limits *our* window to 8
//! bits (zlib cannot compress with a 256-byte window, RFC 7692 §7.1.2.1 notes it), we
//! accept and send every message uncompressed, which the extension allows (§6: RSV1 is
//! per message).

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::handshake::{Extension, HandshakeError};
use crate::{Error, Role};

/// The extension token.
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// What this endpoint asks for or accepts (its local preferences).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeflateConfig {
    /// Ask (client) or require (server) that the server reset its compression context
    /// after every message.
    pub server_no_context_takeover: bool,
    /// Ask (client) or require (server) that the client reset its compression context
    /// after every message.
    pub client_no_context_takeover: bool,
    /// The largest LZ77 window the server may use (9–15; 15 means no limit).
    pub server_max_window_bits: u8,
    /// The largest LZ77 window the client may use (9–15; 15 means no limit).
    pub client_max_window_bits: u8,
    /// The compression level (0–9), 1 by default (fast: messages are usually small).
    pub level: u32,
    /// Messages shorter than this are sent uncompressed (64 bytes by default).
    pub min_size: usize,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            level: 1,
            min_size: 64,
        }
    }
}

/// The negotiated parameters (RFC 7692 §7.1), the same on both sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compressor after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after every message.
    pub client_no_context_takeover: bool,
    /// The server's window (8–15).
    pub server_max_window_bits: u8,
    /// The client's window (8–15).
    pub client_max_window_bits: u8,
    /// Our compression level (local, not negotiated).
    pub level: u32,
    /// Our minimum size to compress (local, not negotiated).
    pub min_size: usize,
}

impl DeflateParams {
    /// The `Sec-WebSocket-Extensions` value a server answers with.
    pub fn response_header(&self) -> String {
        extension_value(
            self.server_no_context_takeover,
            self.client_no_context_takeover,
            self.server_max_window_bits,
            self.client_max_window_bits,
            false,
        )
    }
}

impl DeflateConfig {
    /// The `Sec-WebSocket-Extensions` value a client offers. It always carries
    /// `client_max_window_bits` (we can honour any limit the server sets).
    pub fn offer(&self) -> String {
        extension_value(
            self.server_no_context_takeover,
            self.client_no_context_takeover,
            self.server_max_window_bits,
            self.client_max_window_bits,
            true,
        )
    }
}

/// `permessage-deflate` with its parameters (RFC 7692 §7.1), in one order for offers and
/// responses: a window of 15 bits is the default and left out, except that an offer
/// (`offer_client_bits`) always names `client_max_window_bits`, without a value when it
/// sets no limit (§7.1.2.2).
fn extension_value(
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: u8,
    client_max_window_bits: u8,
    offer_client_bits: bool,
) -> String {
    use std::fmt::Write as _;
    let mut s = String::from(EXTENSION_NAME);
    if server_no_context_takeover {
        s.push_str("; server_no_context_takeover");
    }
    if client_no_context_takeover {
        s.push_str("; client_no_context_takeover");
    }
    if server_max_window_bits < 15 {
        let _ = write!(s, "; server_max_window_bits={server_max_window_bits}");
    }
    if client_max_window_bits < 15 {
        let _ = write!(s, "; client_max_window_bits={client_max_window_bits}");
    } else if offer_client_bits {
        s.push_str("; client_max_window_bits");
    }
    s
}

/// One offer's or response's parameters, each at most once (§7.1).
#[derive(Default)]
struct Parsed {
    snct: bool,
    cnct: bool,
    smwb: Option<u8>,
    /// `Some(None)`: present without a value (only valid in an offer).
    cmwb: Option<Option<u8>>,
}

fn window_bits(value: Option<&str>) -> Option<u8> {
    let v = value?;
    // §7.1.2: 1*DIGIT without leading zeros, 8 to 15.
    if v.starts_with('0') || v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match v.parse::<u8>() {
        Ok(n @ 8..=15) => Some(n),
        _ => None,
    }
}

fn parse_params(ext: &Extension<'_>, offer: bool) -> Option<Parsed> {
    let mut p = Parsed::default();
    for &(name, value) in &ext.params {
        match name.to_ascii_lowercase().as_str() {
            "server_no_context_takeover" if !p.snct && value.is_none() => p.snct = true,
            "client_no_context_takeover" if !p.cnct && value.is_none() => p.cnct = true,
            "server_max_window_bits" if p.smwb.is_none() => p.smwb = Some(window_bits(value)?),
            "client_max_window_bits" if p.cmwb.is_none() => {
                p.cmwb = Some(match value {
                    None if offer => None,
                    v => Some(window_bits(v)?),
                })
            }
            // Unknown, duplicated or malformed parameters make the offer (or the
            // response) invalid (§7.1).
            _ => return None,
        }
    }
    Some(p)
}

/// Server side: picks the first acceptable permessage-deflate offer among the client's
/// extensions (in order, §5.1), applying `config`. Returns the negotiated parameters,
/// whose [`DeflateParams::response_header`] is the value to answer with, or `None`
/// (no offer, or none valid): answer without the extension.
pub fn negotiate_server(offers: &[Extension<'_>], config: &DeflateConfig) -> Option<DeflateParams> {
    for ext in offers {
        if !ext.name.eq_ignore_ascii_case(EXTENSION_NAME) {
            continue;
        }
        let Some(p) = parse_params(ext, true) else {
            continue;
        };
        let server_max_window_bits = match p.smwb {
            Some(n) => n.min(config.server_max_window_bits),
            None => config.server_max_window_bits,
        };
        let client_max_window_bits = match p.cmwb {
            // The client did not say it can limit its window: it uses 15 (§7.1.2.2).
            None => 15,
            Some(None) => config.client_max_window_bits,
            Some(Some(n)) => n.min(config.client_max_window_bits),
        };
        return Some(DeflateParams {
            server_no_context_takeover: p.snct || config.server_no_context_takeover,
            client_no_context_takeover: p.cnct || config.client_no_context_takeover,
            server_max_window_bits,
            client_max_window_bits,
            level: config.level,
            min_size: config.min_size,
        });
    }
    None
}

/// Client side: checks the server's `Sec-WebSocket-Extensions` answer against the offer
/// made with `config` ([`DeflateConfig::offer`]). `Ok(None)`: the server declined the
/// extension. Errors (the client must fail the connection, RFC 7692 §5): an extension we
/// did not offer, permessage-deflate twice, unknown or malformed parameters, a window
/// larger than offered, or a parameter we asked for that the server left out.
pub fn negotiate_client(
    response: &[Extension<'_>],
    config: &DeflateConfig,
) -> Result<Option<DeflateParams>, HandshakeError> {
    let mut found = None;
    for ext in response {
        if !ext.name.eq_ignore_ascii_case(EXTENSION_NAME) || found.is_some() {
            return Err(HandshakeError::InvalidExtensions);
        }
        let p = parse_params(ext, false).ok_or(HandshakeError::InvalidExtensions)?;
        let smwb = p.smwb.unwrap_or(15);
        let cmwb = p.cmwb.flatten().unwrap_or(15);
        if (config.server_no_context_takeover && !p.snct)
            || (config.server_max_window_bits < 15 && p.smwb.is_none())
            || smwb > config.server_max_window_bits
            || cmwb > config.client_max_window_bits
        {
            return Err(HandshakeError::InvalidExtensions);
        }
        found = Some(DeflateParams {
            server_no_context_takeover: p.snct,
            client_no_context_takeover: p.cnct || config.client_no_context_takeover,
            server_max_window_bits: smwb,
            client_max_window_bits: cmwb,
            level: config.level,
            min_size: config.min_size,
        });
    }
    Ok(found)
}

/// The empty stored block's tail that §7.2.1 strips and §7.2.2 appends back.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The per-connection deflate state.
pub(crate) struct Codec {
    /// `None` when our window was limited to 8 bits: we send uncompressed.
    compress: Option<Compress>,
    decompress: Decompress,
    reset_compress: bool,
    reset_decompress: bool,
    /// After a BFINAL block the inflater must start a new stream.
    decompress_ended: bool,
    min_size: usize,
    pub(crate) scratch: Vec<u8>,
}

impl Codec {
    pub(crate) fn new(params: &DeflateParams, role: Role) -> Codec {
        let (ours, our_reset, peer_reset) = match role {
            Role::Server => (
                params.server_max_window_bits,
                params.server_no_context_takeover,
                params.client_no_context_takeover,
            ),
            Role::Client => (
                params.client_max_window_bits,
                params.client_no_context_takeover,
                params.server_no_context_takeover,
            ),
        };
        // 8 bits cannot be honoured by zlib: send uncompressed (see the module docs).
        let compress = (ours >= 9).then(|| {
            Compress::new_with_window_bits(
                Compression::new(params.level.min(9)),
                false,
                ours.min(15),
            )
        });
        Codec {
            compress,
            decompress: Decompress::new(false),
            reset_compress: our_reset,
            reset_decompress: peer_reset,
            decompress_ended: false,
            min_size: params.min_size,
            scratch: Vec::new(),
        }
    }

    /// Whether a message of this size goes out compressed.
    pub(crate) fn wants(&self, len: usize) -> bool {
        self.compress.is_some() && len >= self.min_size
    }

    /// Compresses one whole message into `self.scratch` (without the 4-byte tail).
    pub(crate) fn compress(&mut self, input: &[u8]) {
        let c = self.compress.as_mut().expect("checked by wants()");
        self.scratch.clear();
        if input.is_empty() {
            // An empty stored block without its tail (§7.2.3.6). zlib would emit
            // nothing for a second flush in a row without input, which the peer's
            // inflater would read as the start of a block.
            self.scratch.push(0x00);
            return;
        }
        let start = c.total_in();
        loop {
            if self.scratch.capacity() - self.scratch.len() < 64 {
                self.scratch.reserve(input.len() / 2 + 256);
            }
            let done = (c.total_in() - start) as usize;
            // A raw deflate stream never fails on valid state; a BufError only means
            // "no progress possible", which the loop condition below handles.
            let _ = c.compress_vec(&input[done..], &mut self.scratch, FlushCompress::Sync);
            let done = (c.total_in() - start) as usize;
            // zlib's contract: the flush is complete when output space is left over.
            if done == input.len() && self.scratch.len() < self.scratch.capacity() {
                break;
            }
        }
        if self.scratch.ends_with(&TAIL) {
            self.scratch.truncate(self.scratch.len() - 4);
        }
        if self.reset_compress {
            c.reset();
        }
    }

    /// Inflates one frame's payload (and, with `fin`, the §7.2.2 tail) onto `out`,
    /// failing once `out` would exceed `limit`. Memory stays bounded by `limit` plus an
    /// 8 KiB stack chunk, whatever the compression ratio (a deflate bomb is a 1009).
    pub(crate) fn inflate<B: crate::MessageBuffer + ?Sized>(
        &mut self,
        payload: &[u8],
        fin: bool,
        out: &mut B,
        limit: usize,
    ) -> Result<(), Error> {
        self.inflate_part(payload, out, limit)?;
        if fin {
            self.inflate_part(&TAIL, out, limit)?;
            if self.reset_decompress || self.decompress_ended {
                self.decompress.reset(false);
                self.decompress_ended = false;
            }
        }
        Ok(())
    }

    fn inflate_part<B: crate::MessageBuffer + ?Sized>(
        &mut self,
        mut input: &[u8],
        out: &mut B,
        limit: usize,
    ) -> Result<(), Error> {
        let mut chunk = [0u8; 8192];
        loop {
            if self.decompress_ended {
                // Bytes after a final block (the appended tail, at most) are ignored.
                return Ok(());
            }
            let (in0, out0) = (self.decompress.total_in(), self.decompress.total_out());
            let status = self
                .decompress
                .decompress(input, &mut chunk, FlushDecompress::Sync)
                .map_err(|_| Error::Inflate)?;
            let used = (self.decompress.total_in() - in0) as usize;
            let produced = (self.decompress.total_out() - out0) as usize;
            input = &input[used..];
            if out.len() + produced > limit {
                return Err(Error::MessageTooLarge { limit });
            }
            out.extend_from_slice(&chunk[..produced]);
            if status == Status::StreamEnd {
                self.decompress_ended = true;
            }
            if produced < chunk.len() && (input.is_empty() || (used == 0 && produced == 0)) {
                return Ok(());
            }
        }
    }
}
