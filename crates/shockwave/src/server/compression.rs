//! Response compression: [`Compression`] wraps a [`Handler`] and compresses its
//! responses with the best content coding the client accepts (`br`, `zstd`, `gzip`,
//! `deflate`), streaming.
//!
//! ```
//! use shockwave::server::{handler_fn, Compression, Response};
//!
//! let app = handler_fn(async |_cx| Response::text("Hello, World!"));
//! let app = Compression::new().min_size(256).wrap(app);
//! // Server::builder().bind(addr).build().run(app)
//! # let _ = app;
//! ```
//!
//! What is compressed (everything else passes through untouched, with no allocation):
//!
//! - the request's `Accept-Encoding` (RFC 9110 §12.5.3) accepts one of the enabled
//!   codings with a non-zero q-value. Explicit entries win over `*`; among equal
//!   q-values the server's order decides (default `br` > `zstd` > `gzip` > `deflate`,
//!   see [`Compression::encodings`]). No `Accept-Encoding` field, an empty one, or
//!   only `identity` means no compression. When nothing is acceptable (even
//!   `identity;q=0`) the response is sent unencoded rather than as a 406, as common
//!   servers do;
//! - the response has a compressible `Content-Type` ([`is_compressible`]: text,
//!   JSON, JavaScript, XML, SVG, WebAssembly, fonts that are not already compressed;
//!   not images, audio, video or archives), and no `Content-Encoding` already;
//! - its body is at least [`Compression::min_size`] bytes (default
//!   [`DEFAULT_MIN_SIZE`]); streamed bodies of unknown length always qualify;
//! - the status is not 1xx, 204, 206 or 304, there is no `Content-Range`, no
//!   `Cache-Control: no-transform` (RFC 9110 §7.7), and the request is not `HEAD`.
//!
//! A compressed response gets `Content-Encoding`, `Vary: Accept-Encoding` (added to any
//! `Vary` present unless it already names `Accept-Encoding` or `*`), and a strong
//! `ETag` becomes weak (`W/"..."`: the compressed bytes are a different
//! representation, RFC 9110 §8.8.1). `Content-Length` is recomputed by the server for
//! bodies compressed at once, and replaced by chunked framing for streamed ones.
//! A response that qualifies except for the request's `Accept-Encoding` (or `HEAD`)
//! still gets `Vary: Accept-Encoding`, so caches keep the variants apart.
//!
//! How bodies are compressed: bodies up to 256 KiB in memory are compressed at once;
//! larger ones and [`FileBody`](super::FileBody) bodies are streamed through the
//! encoder in 64 KiB pieces (never buffered whole); a
//! [`ResponseBody::Stream`] is compressed piece by piece with a sync flush after each,
//! so every piece (an SSE event, say) reaches the client as soon as it is produced.

use std::fmt;
use std::io::{self, Read as _, Seek as _};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use http::{Method, StatusCode};
use shockwave_arena::Arena;

use super::handler::Handler;
use super::request::RequestContext;
use super::response::{BodyStream, Response, ResponseBody};
use crate::codec::{Encoder, Encoding, Levels};

/// The default [`Compression::min_size`]: 860 bytes. Below about one packet the
/// saving cannot shorten the transfer and the coding's framing and CPU are pure cost;
/// 860 is the threshold Akamai and several CDNs use (nginx's `gzip_min_length` is 20,
/// tower-http's 32).
pub const DEFAULT_MIN_SIZE: u64 = 860;

/// Bodies in memory up to this size are compressed in one go; larger ones are streamed.
const WHOLE_MAX: usize = 256 * 1024;
/// Input piece size when streaming a large in-memory body or a file.
const PIECE: usize = 64 * 1024;

/// Response compression settings; [`Compression::wrap`] makes the [`Compress`] handler.
/// See the [module docs](self) for what is compressed and how.
#[derive(Clone)]
pub struct Compression {
    order: Vec<Encoding>,
    min_size: u64,
    levels: Levels,
    compressible: fn(&[u8]) -> bool,
}

impl fmt::Debug for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compression")
            .field("order", &self.order)
            .field("min_size", &self.min_size)
            .field("levels", &self.levels)
            .finish_non_exhaustive()
    }
}

impl Default for Compression {
    fn default() -> Self {
        Compression::new()
    }
}

impl Compression {
    /// Every coding (`br`, `zstd`, `gzip`, `deflate`, preferred in that order), bodies
    /// of at least [`DEFAULT_MIN_SIZE`] bytes, gzip/deflate level 6, brotli quality 4,
    /// zstd level 3 (fast levels suited to dynamic responses).
    pub fn new() -> Compression {
        Compression {
            order: Encoding::ALL.to_vec(),
            min_size: DEFAULT_MIN_SIZE,
            levels: Levels {
                flate: 6,
                brotli: 4,
                zstd: 3,
            },
            compressible: is_compressible,
        }
    }

    /// The codings to offer, in the server's order of preference (used to break ties
    /// between equal q-values); codings not listed are never used.
    pub fn encodings(mut self, order: &[Encoding]) -> Compression {
        self.order.clear();
        for e in order {
            if !self.order.contains(e) {
                self.order.push(*e);
            }
        }
        self
    }

    /// Bodies of known length smaller than this are sent unencoded (default
    /// [`DEFAULT_MIN_SIZE`]).
    pub fn min_size(mut self, bytes: u64) -> Compression {
        self.min_size = bytes;
        self
    }

    /// gzip and deflate level, 0..=9 (default 6).
    pub fn gzip_level(mut self, level: u32) -> Compression {
        self.levels.flate = level.min(9);
        self
    }

    /// Brotli quality, 0..=11 (default 4; 11 is for precompressing, not for responses).
    pub fn brotli_quality(mut self, quality: u32) -> Compression {
        self.levels.brotli = quality.min(11);
        self
    }

    /// zstd level, 1..=22 (default 3).
    pub fn zstd_level(mut self, level: i32) -> Compression {
        self.levels.zstd = level.clamp(1, 22);
        self
    }

    /// Which `Content-Type` values are compressed (default [`is_compressible`]); the
    /// function gets the field value as sent.
    pub fn compressible(mut self, f: fn(&[u8]) -> bool) -> Compression {
        self.compressible = f;
        self
    }

    /// Wraps `handler`: its responses are compressed according to these settings.
    pub fn wrap<H: Handler>(self, handler: H) -> Compress<H> {
        Compress {
            inner: handler,
            config: self,
        }
    }

    /// The coding to use for a request with this `Accept-Encoding` value, or `None`
    /// for no coding (RFC 9110 §12.5.3; see the [module docs](self)).
    ///
    /// ```
    /// use shockwave::codec::Encoding;
    /// use shockwave::server::Compression;
    ///
    /// let c = Compression::new();
    /// assert_eq!(c.negotiate(b"gzip, deflate, br"), Some(Encoding::Brotli));
    /// assert_eq!(c.negotiate(b"gzip;q=1, br;q=0.5"), Some(Encoding::Gzip));
    /// assert_eq!(c.negotiate(b"*;q=0.1, br;q=0"), Some(Encoding::Zstd));
    /// assert_eq!(c.negotiate(b"identity"), None);
    /// ```
    pub fn negotiate(&self, accept_encoding: &[u8]) -> Option<Encoding> {
        self.negotiate_fields([accept_encoding])
    }

    /// [`Compression::negotiate`] over every `Accept-Encoding` field line of a request
    /// (several lines form one list, RFC 9110 §5.3).
    pub fn negotiate_fields<'v>(
        &self,
        fields: impl IntoIterator<Item = &'v [u8]>,
    ) -> Option<Encoding> {
        // q-values in thousandths, per coding (index in Encoding::ALL) and for `*`.
        let mut explicit: [Option<u16>; 4] = [None; 4];
        let mut star: Option<u16> = None;
        let items = fields
            .into_iter()
            .flat_map(|field| field.split(|b| *b == b','));
        for item in items {
            let mut parts = item.split(|b| *b == b';');
            let token = parts.next().unwrap_or_default().trim_ascii();
            if token.is_empty() {
                continue;
            }
            let mut q = Some(1000);
            for param in parts {
                let param = param.trim_ascii();
                if param.len() >= 2 && param[..2].eq_ignore_ascii_case(b"q=") {
                    q = parse_qvalue(&param[2..]);
                }
            }
            // An unparsable q-value makes the entry unusable.
            let Some(q) = q else { continue };
            if token == b"*" {
                star = Some(star.map_or(q, |s| s.max(q)));
            } else if let Some(e) = Encoding::from_token(token) {
                let slot = &mut explicit[index(e)];
                *slot = Some(slot.map_or(q, |s| s.max(q)));
            }
        }
        let mut best: Option<(Encoding, u16)> = None;
        for &e in &self.order {
            let q = explicit[index(e)].or(star).unwrap_or(0);
            if q > 0 && best.is_none_or(|(_, b)| q > b) {
                best = Some((e, q));
            }
        }
        best.map(|(e, _)| e)
    }

    /// Whether a response qualifies for compression at all (ignoring the request).
    fn qualifies(&self, r: &Response<'_>) -> bool {
        let s = r.status();
        if s.is_informational()
            || s == StatusCode::NO_CONTENT
            || s == StatusCode::NOT_MODIFIED
            || s == StatusCode::PARTIAL_CONTENT
        {
            return false;
        }
        match r.body_ref().len() {
            Some(n) if n == 0 || n < self.min_size => return false,
            _ => {}
        }
        let mut typed = false;
        for (name, value) in r.header_fields() {
            if name.eq_ignore_ascii_case(b"content-type") {
                if !(self.compressible)(value) {
                    return false;
                }
                typed = true;
            } else if name.eq_ignore_ascii_case(b"content-encoding")
                || name.eq_ignore_ascii_case(b"content-range")
                || (name.eq_ignore_ascii_case(b"cache-control")
                    && has_token(value, b"no-transform"))
            {
                return false;
            }
        }
        typed
    }

    /// Compresses `r` with `coding` (when `Some`), or only marks it `Vary`.
    fn apply<'a>(
        &self,
        mut r: Response<'a>,
        coding: Option<Encoding>,
        arena: &'a Arena,
    ) -> Response<'a> {
        if !self.qualifies(&r) {
            return r;
        }
        let vary_done = r.header_fields().any(|(n, v)| {
            n.eq_ignore_ascii_case(b"vary")
                && (has_token(v, b"accept-encoding") || has_token(v, b"*"))
        });
        let Some(coding) = coding else {
            if !vary_done {
                r.push_header(b"vary", b"accept-encoding");
            }
            return r;
        };
        let Some(body) = encode_body(r.take_body(), coding, self.levels) else {
            // Compression failed to start (out of memory): nothing was lost but the
            // body, which cannot be put back for borrowed kinds; answer 500.
            return Response::new(StatusCode::INTERNAL_SERVER_ERROR);
        };
        let extra = 1 + usize::from(!vary_done);
        let mut fields = shockwave_arena::Vec::new_in(arena.bump());
        if fields
            .try_reserve_exact(r.header_slice().len() + extra)
            .is_err()
        {
            return Response::new(StatusCode::INTERNAL_SERVER_ERROR);
        }
        for &(name, value) in r.header_slice() {
            if name.eq_ignore_ascii_case(b"content-length") {
                continue;
            }
            if name.eq_ignore_ascii_case(b"etag") && !value.starts_with(b"W/") {
                let Ok(weak) = arena.alloc_zeroed(value.len() + 2) else {
                    return Response::new(StatusCode::INTERNAL_SERVER_ERROR);
                };
                weak[..2].copy_from_slice(b"W/");
                weak[2..].copy_from_slice(value);
                fields.push((name, &*weak));
                continue;
            }
            fields.push((name, value));
        }
        fields.push((b"content-encoding", coding.as_str().as_bytes()));
        if !vary_done {
            fields.push((b"vary", b"accept-encoding"));
        }
        r.replace_headers(fields.into_bump_slice());
        r.body = body;
        r
    }
}

/// The q-value in thousandths (RFC 9110 §12.4.2), `None` when malformed.
fn parse_qvalue(v: &[u8]) -> Option<u16> {
    let v = v.trim_ascii();
    let (int, frac) = match v.iter().position(|b| *b == b'.') {
        Some(dot) => (&v[..dot], &v[dot + 1..]),
        None => (v, &b""[..]),
    };
    if int.len() != 1 || frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut q: u16 = match int[0] {
        b'0' => 0,
        b'1' => 1000,
        _ => return None,
    };
    let mut scale = 100;
    for d in frac {
        q += u16::from(d - b'0') * scale;
        scale /= 10;
    }
    (q <= 1000).then_some(q)
}

fn index(e: Encoding) -> usize {
    match e {
        Encoding::Brotli => 0,
        Encoding::Zstd => 1,
        Encoding::Gzip => 2,
        Encoding::Deflate => 3,
    }
}

/// True when the comma-separated list `value` holds `token` (case-insensitive; a
/// directive's `=argument` is ignored).
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value.split(|b| *b == b',').any(|item| {
        let item = item.split(|b| *b == b'=').next().unwrap_or_default();
        item.trim_ascii().eq_ignore_ascii_case(token)
    })
}

/// The default [`Compression::compressible`] test: `text/*` (event streams included),
/// JSON, JavaScript, XML and their `+json`/`+xml` types, SVG, WebAssembly, GraphQL,
/// form data, and uncompressed font formats (`font/ttf`, `font/otf`, the
/// `application/vnd.ms-fontobject`). Images (except SVG and icons), audio, video,
/// archives, PDF, WOFF/WOFF2 and `application/octet-stream` are not compressed: they are
/// compressed already or their type says nothing.
pub fn is_compressible(content_type: &[u8]) -> bool {
    let mime = content_type
        .split(|b| *b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    let Ok(mime) = std::str::from_utf8(mime) else {
        return false;
    };
    let mime = mime.to_ascii_lowercase_small();
    let m = mime.as_str();
    if m.starts_with("text/") {
        return true;
    }
    if m.ends_with("+json") || m.ends_with("+xml") {
        return true;
    }
    matches!(
        m,
        "application/json"
            | "application/javascript"
            | "application/x-javascript"
            | "application/ecmascript"
            | "application/xml"
            | "application/wasm"
            | "application/graphql"
            | "application/x-www-form-urlencoded"
            | "application/ndjson"
            | "application/x-ndjson"
            | "application/vnd.ms-fontobject"
            | "application/x-font-ttf"
            | "font/ttf"
            | "font/otf"
            | "image/svg+xml"
            | "image/x-icon"
            | "image/vnd.microsoft.icon"
            | "image/bmp"
    )
}

/// A lowercase copy of a short string on the stack (content types are short; longer
/// ones are compared as they are).
trait LowerSmall {
    fn to_ascii_lowercase_small(&self) -> SmallLower;
}

struct SmallLower {
    buf: [u8; 96],
    len: usize,
}

impl SmallLower {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl LowerSmall for str {
    fn to_ascii_lowercase_small(&self) -> SmallLower {
        let mut out = SmallLower {
            buf: [0; 96],
            len: self.len().min(96),
        };
        out.buf[..out.len].copy_from_slice(&self.as_bytes()[..out.len]);
        out.buf[..out.len].make_ascii_lowercase();
        out
    }
}

/// The compressed body, or `None` when the encoder could not be created.
fn encode_body(
    body: ResponseBody<'_>,
    coding: Encoding,
    levels: Levels,
) -> Option<ResponseBody<'static>> {
    let source = match body {
        ResponseBody::Slice(s) if s.len() <= WHOLE_MAX => {
            return crate::codec::compress(coding, levels, s)
                .ok()
                .map(ResponseBody::Bytes);
        }
        ResponseBody::Bytes(b) if b.len() <= WHOLE_MAX => {
            return crate::codec::compress(coding, levels, &b)
                .ok()
                .map(ResponseBody::Bytes);
        }
        ResponseBody::Empty => return Some(ResponseBody::Empty),
        ResponseBody::Slice(s) => Source::Bytes(Bytes::copy_from_slice(s)),
        ResponseBody::Bytes(b) => Source::Bytes(b),
        ResponseBody::File(f) => Source::File {
            file: f.file,
            offset: Some(f.offset),
            left: f.len,
        },
        ResponseBody::Stream(s) => Source::Stream(s),
    };
    let encoder = Encoder::new(coding, levels).ok()?;
    Some(ResponseBody::Stream(Box::pin(EncodeStream {
        source,
        encoder: Some(encoder),
    })))
}

/// Where a streamed compressed body reads its input.
enum Source {
    /// The handler's stream: each piece is flushed through the encoder.
    Stream(BodyStream),
    /// A large in-memory body, fed in [`PIECE`]s.
    Bytes(Bytes),
    /// A file region, read in [`PIECE`]s (`offset` is seeked to on the first read).
    File {
        file: std::fs::File,
        offset: Option<u64>,
        left: u64,
    },
}

/// A body compressed as it is sent.
struct EncodeStream {
    source: Source,
    encoder: Option<Encoder>,
}

impl Stream for EncodeStream {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        let this = self.get_mut();
        loop {
            let Some(encoder) = this.encoder.as_mut() else {
                return Poll::Ready(None);
            };
            let ended = match &mut this.source {
                Source::Stream(s) => match s.as_mut().poll_next(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(Err(e))) => {
                        this.encoder = None;
                        return Poll::Ready(Some(Err(e)));
                    }
                    Poll::Ready(Some(Ok(piece))) => {
                        if piece.is_empty() {
                            continue;
                        }
                        if let Err(e) = encoder.write(&piece).and_then(|()| encoder.flush()) {
                            this.encoder = None;
                            return Poll::Ready(Some(Err(e)));
                        }
                        false
                    }
                    Poll::Ready(None) => true,
                },
                Source::Bytes(b) => {
                    if b.is_empty() {
                        true
                    } else {
                        let piece = b.split_to(b.len().min(PIECE));
                        if let Err(e) = encoder.write(&piece) {
                            this.encoder = None;
                            return Poll::Ready(Some(Err(e)));
                        }
                        false
                    }
                }
                Source::File { file, offset, left } => {
                    if *left == 0 {
                        true
                    } else {
                        let mut buf = [0u8; PIECE];
                        let want = (*left).min(PIECE as u64) as usize;
                        let read = match offset.take() {
                            Some(at) => file.seek(io::SeekFrom::Start(at)).map(|_| ()),
                            None => Ok(()),
                        }
                        .and_then(|()| file.read(&mut buf[..want]));
                        let r = match read {
                            Ok(0) => Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "file shorter than its response length",
                            )),
                            Ok(n) => {
                                *left -= n as u64;
                                encoder.write(&buf[..n])
                            }
                            Err(e) => Err(e),
                        };
                        if let Err(e) = r {
                            this.encoder = None;
                            return Poll::Ready(Some(Err(e)));
                        }
                        false
                    }
                }
            };
            if ended {
                let Some(encoder) = this.encoder.take() else {
                    return Poll::Ready(None);
                };
                return match encoder.finish() {
                    Ok(tail) if tail.is_empty() => Poll::Ready(None),
                    Ok(tail) => Poll::Ready(Some(Ok(tail))),
                    Err(e) => Poll::Ready(Some(Err(e))),
                };
            }
            let out = encoder.take();
            if !out.is_empty() {
                return Poll::Ready(Some(Ok(out)));
            }
        }
    }
}

/// A [`Handler`] whose responses are compressed: made by [`Compression::wrap`].
#[derive(Debug, Clone)]
pub struct Compress<H> {
    inner: H,
    config: Compression,
}

impl<H: Handler> Compress<H> {
    /// `handler` with the default [`Compression`] settings.
    pub fn new(handler: H) -> Compress<H> {
        Compression::new().wrap(handler)
    }

    /// The wrapped handler.
    pub fn inner(&self) -> &H {
        &self.inner
    }

    /// The settings.
    pub fn config(&self) -> &Compression {
        &self.config
    }
}

impl<H: Handler> Handler for Compress<H> {
    async fn call<'a>(&'a self, cx: RequestContext<'a>) -> Response<'a> {
        let coding = if cx.method() == Method::HEAD {
            None
        } else {
            // No field at all gives no coding (RFC 9110 §12.5.3 would allow any, but a
            // client that says nothing may not decode).
            self.config
                .negotiate_fields(cx.headers().get_all(b"accept-encoding"))
        };
        let arena = cx.arena();
        let response = self.inner.call(cx).await;
        self.config.apply(response, coding, arena)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qvalues() {
        assert_eq!(parse_qvalue(b"1"), Some(1000));
        assert_eq!(parse_qvalue(b"1.000"), Some(1000));
        assert_eq!(parse_qvalue(b"0.5"), Some(500));
        assert_eq!(parse_qvalue(b"0.001"), Some(1));
        assert_eq!(parse_qvalue(b"0"), Some(0));
        assert_eq!(parse_qvalue(b"0."), Some(0));
        assert_eq!(parse_qvalue(b"1.5"), None);
        assert_eq!(parse_qvalue(b"2"), None);
        assert_eq!(parse_qvalue(b"0.1234"), None);
        assert_eq!(parse_qvalue(b"x"), None);
    }

    #[test]
    fn negotiation_table() {
        use Encoding::*;
        let c = Compression::new();
        let table: &[(&str, Option<Encoding>)] = &[
            ("", None),
            ("identity", None),
            ("gzip", Some(Gzip)),
            ("GZIP", Some(Gzip)),
            ("x-gzip", Some(Gzip)),
            ("deflate", Some(Deflate)),
            ("gzip, deflate", Some(Gzip)),
            ("gzip, deflate, br", Some(Brotli)),
            ("gzip, deflate, br, zstd", Some(Brotli)),
            ("zstd, gzip", Some(Zstd)),
            ("gzip;q=1.0, br;q=0.8", Some(Gzip)),
            ("br;q=0.8, gzip;q=0.9, zstd;q=0.9", Some(Zstd)),
            ("gzip;q=0", None),
            ("*", Some(Brotli)),
            ("*;q=0", None),
            ("*;q=0.5, br;q=0", Some(Zstd)),
            ("*;q=0.5, gzip", Some(Gzip)),
            ("identity;q=0", None),
            ("identity;q=0, gzip;q=0.1", Some(Gzip)),
            ("compress, sdch", None),
            ("gzip;q=bogus, deflate", Some(Deflate)),
            (" br ; q=0.2 ,  gzip ; Q=0.3 ", Some(Gzip)),
            ("gzip;level=9;q=0.5, br;q=0.4", Some(Gzip)),
            (",,gzip,,", Some(Gzip)),
        ];
        for (header, want) in table {
            assert_eq!(c.negotiate(header.as_bytes()), *want, "{header:?}");
        }
        // Several field lines are one list.
        let fields: [&[u8]; 2] = [b"gzip;q=0.5", b"br;q=0.1, zstd;q=0.6"];
        assert_eq!(c.negotiate_fields(fields), Some(Zstd));
        assert_eq!(c.negotiate_fields(std::iter::empty()), None);
        // The server's order breaks ties; codings left out are never chosen.
        let gz_first = Compression::new().encodings(&[Gzip, Brotli]);
        assert_eq!(gz_first.negotiate(b"br, gzip, zstd"), Some(Gzip));
        assert_eq!(gz_first.negotiate(b"zstd"), None);
        assert_eq!(gz_first.negotiate(b"*"), Some(Gzip));
    }

    #[test]
    fn compressible_types() {
        for t in [
            "text/html; charset=utf-8",
            "TEXT/PLAIN",
            "text/event-stream",
            "application/json",
            "application/problem+json",
            "application/javascript",
            "application/atom+xml",
            "image/svg+xml",
            "application/wasm",
        ] {
            assert!(is_compressible(t.as_bytes()), "{t}");
        }
        for t in [
            "image/png",
            "image/jpeg",
            "video/mp4",
            "application/zip",
            "application/gzip",
            "application/octet-stream",
            "font/woff2",
            "",
        ] {
            assert!(!is_compressible(t.as_bytes()), "{t}");
        }
    }

    #[test]
    fn tokens_in_lists() {
        assert!(has_token(b"public, no-transform", b"no-transform"));
        assert!(has_token(b"max-age=3, No-Transform", b"no-transform"));
        assert!(!has_token(b"no-transformation", b"no-transform"));
        assert!(has_token(b"Origin, Accept-Encoding", b"accept-encoding"));
    }

    fn big() -> &'static str {
        static BIG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        BIG.get_or_init(|| "compress me please ".repeat(200))
    }

    fn decode(enc: Encoding, data: &[u8]) -> Vec<u8> {
        let mut d = crate::codec::Decoder::new(enc, u64::MAX).unwrap();
        let mut out = d.decode(data).unwrap().to_vec();
        out.extend_from_slice(&d.finish().unwrap());
        out
    }

    fn field<'r>(r: &'r Response<'_>, name: &str) -> Vec<&'r [u8]> {
        r.header_fields()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
            .collect()
    }

    #[test]
    fn apply_compresses_and_marks_the_response() {
        let arena = Arena::new();
        let c = Compression::new();
        let r = Response::text(big())
            .header("etag", "\"abc\"")
            .header("vary", "Origin");
        let mut r = c.apply(r, Some(Encoding::Gzip), &arena);
        assert_eq!(field(&r, "content-encoding"), [b"gzip"]);
        assert_eq!(field(&r, "etag"), [b"W/\"abc\""]);
        assert_eq!(field(&r, "vary"), [&b"Origin"[..], b"accept-encoding"]);
        let ResponseBody::Bytes(b) = r.take_body() else {
            panic!("compressed at once")
        };
        assert_eq!(decode(Encoding::Gzip, &b), big().as_bytes());
    }

    #[test]
    fn skipped_responses_are_untouched() {
        let arena = Arena::new();
        let c = Compression::new();
        let cases: Vec<Response<'_>> = vec![
            Response::text("short"),
            Response::text(big()).header("cache-control", "public, no-transform"),
            Response::text(big()).header("content-encoding", "br"),
            Response::text(big()).header("content-range", "bytes 0-9/100"),
            Response::text(big()).with_status(StatusCode::PARTIAL_CONTENT),
            Response::text(big()).with_status(StatusCode::NOT_MODIFIED),
            Response::ok()
                .header("content-type", "image/png")
                .body(big()),
            Response::ok().body(big()),
        ];
        for r in cases {
            let before = r.header_fields().count();
            let r = c.apply(r, Some(Encoding::Brotli), &arena);
            assert!(field(&r, "content-encoding").len() <= 1);
            assert_eq!(r.header_fields().count(), before, "{r:?}");
            assert!(field(&r, "vary").is_empty(), "{r:?}");
        }
    }

    #[test]
    fn vary_alone_when_not_negotiated_and_not_duplicated() {
        let arena = Arena::new();
        let c = Compression::new();
        let r = c.apply(Response::text(big()), None, &arena);
        assert_eq!(field(&r, "vary"), [b"accept-encoding"]);
        assert!(matches!(r.body_ref(), ResponseBody::Slice(_)));
        let r = Response::text(big()).header("vary", "Accept-Encoding, Origin");
        let r = c.apply(r, Some(Encoding::Zstd), &arena);
        assert_eq!(field(&r, "vary"), [b"Accept-Encoding, Origin"]);
        let r = c.apply(Response::text(big()).header("vary", "*"), None, &arena);
        assert_eq!(field(&r, "vary"), [b"*"]);
    }

    #[test]
    fn large_and_file_bodies_are_streamed() {
        let arena = Arena::new();
        let c = Compression::new();
        let data: String = (0..60_000).map(|i| format!("{i} ")).collect();
        assert!(data.len() > WHOLE_MAX);
        let path = std::env::temp_dir().join(format!("sw-compress-{}", std::process::id()));
        std::fs::write(&path, data.as_bytes()).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let bodies = [
            Response::text(&data),
            Response::ok().header("content-type", "text/plain").body(
                super::super::FileBody::range(file, 10, data.len() as u64 - 20),
            ),
        ];
        let wants = [data.as_bytes(), &data.as_bytes()[10..data.len() - 10]];
        for (r, want) in bodies.into_iter().zip(wants) {
            let mut r = c.apply(r, Some(Encoding::Zstd), &arena);
            let ResponseBody::Stream(mut s) = r.take_body() else {
                panic!("streamed")
            };
            let mut all = Vec::new();
            let mut pieces = 0;
            let mut task = Context::from_waker(std::task::Waker::noop());
            while let Poll::Ready(Some(p)) = s.as_mut().poll_next(&mut task) {
                all.extend_from_slice(&p.unwrap());
                pieces += 1;
            }
            assert!(pieces > 1, "{pieces}");
            assert_eq!(decode(Encoding::Zstd, &all), want);
        }
        let _ = std::fs::remove_file(&path);
    }
}
