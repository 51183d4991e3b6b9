//! h2c valid traffic: several streams per connection through a minimal HTTP/2 client
//! (RFC 9113) whose frames come from `shockwave-http2-frames` and whose field blocks are
//! HPACK-coded by `shockwave-hpack`; every stream's status and body are checked. The
//! attacks reuse the client and the frame helpers.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use shockwave_http2_frames::{
    encode_settings, encode_settings_ack, Continuation, Data, ErrorCode, Flags, FrameHeader,
    FrameKind, Headers, Ping, RstStream, Setting, SettingId, WindowUpdate, FRAME_HEADER_LEN,
    PREFACE,
};

use super::{connected, HELLO, JSON};
use crate::soak::tally::{Rng, Tally};

// ---------------------------------------------------------------------------------------
// Frames, encoded by `shockwave-http2-frames` (whose encoders refuse invalid frames: every
// frame here is valid; the attacks' malice is in their number and order).

/// A HEADERS frame carrying `block`.
pub(crate) fn headers(
    out: &mut Vec<u8>,
    id: u32,
    block: &[u8],
    end_stream: bool,
    end_headers: bool,
) {
    Headers {
        stream_id: id,
        fragment: block,
        end_stream,
        end_headers,
        priority: None,
        pad_len: None,
    }
    .encode(out)
    .expect("a valid HEADERS frame");
}

/// A CONTINUATION frame carrying `fragment`.
pub(crate) fn continuation(out: &mut Vec<u8>, id: u32, fragment: &[u8], end_headers: bool) {
    Continuation {
        stream_id: id,
        fragment,
        end_headers,
    }
    .encode(out)
    .expect("a valid CONTINUATION frame");
}

/// A DATA frame.
fn data(out: &mut Vec<u8>, id: u32, data: &[u8], end_stream: bool) {
    Data {
        stream_id: id,
        data,
        end_stream,
        pad_len: None,
    }
    .encode(out)
    .expect("a valid DATA frame");
}

/// A PING frame (an ACK when `ack`).
pub(crate) fn ping(out: &mut Vec<u8>, ack: bool, data: [u8; 8]) {
    Ping { ack, data }.encode(out).expect("a valid PING frame");
}

/// A SETTINGS frame with `settings`.
pub(crate) fn settings(out: &mut Vec<u8>, settings: &[Setting]) {
    encode_settings(out, settings).expect("valid settings");
}

/// A SETTINGS ACK.
pub(crate) fn settings_ack(out: &mut Vec<u8>) {
    encode_settings_ack(out);
}

/// A WINDOW_UPDATE frame (`increment` > 0).
pub(crate) fn window_update(out: &mut Vec<u8>, id: u32, increment: u32) {
    WindowUpdate {
        stream_id: id,
        increment,
    }
    .encode(out)
    .expect("a valid WINDOW_UPDATE frame");
}

/// An RST_STREAM frame.
pub(crate) fn rst_stream(out: &mut Vec<u8>, id: u32, code: ErrorCode) {
    RstStream {
        stream_id: id,
        error_code: code,
    }
    .encode(out)
    .expect("a valid RST_STREAM frame");
}

thread_local! {
    /// Never inserts into the dynamic table, so every block stands alone (static-table
    /// indexes and literals without indexing, RFC 7541 §6.1, §6.2.2): blocks can be sent
    /// on any connection, in any order, and beside the attacks' hand-made blocks.
    static HPACK: RefCell<shockwave_hpack::Encoder> = RefCell::new({
        let mut e = shockwave_hpack::Encoder::new();
        e.set_indexing(false);
        e
    });
}

/// A request field block (`:authority 127.0.0.1`, `:scheme http`), coded by
/// `shockwave-hpack` without dynamic table state.
pub(crate) fn request_block(method: &str, path: &str, content_length: Option<usize>) -> Vec<u8> {
    let length = content_length.map(|n| n.to_string());
    let mut fields: Vec<(&[u8], &[u8])> = vec![
        (b":method", method.as_bytes()),
        (b":scheme", b"http"),
        (b":path", path.as_bytes()),
        (b":authority", b"127.0.0.1"),
    ];
    if let Some(n) = &length {
        fields.push((b"content-length", n.as_bytes()));
    }
    let mut block = Vec::new();
    HPACK.with(|e| e.borrow_mut().encode(fields, &mut block));
    block
}

// ---------------------------------------------------------------------------------------
// A minimal HTTP/2 client (RFC 9113) over a blocking socket, h2c with prior knowledge.

/// One frame read from the server.
struct Frame {
    kind: FrameKind,
    flags: Flags,
    stream: u32,
    payload: Vec<u8>,
}

/// The client side of one h2c connection.
pub(crate) struct H2 {
    pub(crate) sock: TcpStream,
    decoder: shockwave_hpack::Decoder,
    /// A field block being continued: (stream, bytes so far, END_STREAM seen).
    partial: Option<(u32, Vec<u8>, bool)>,
    /// The server's first SETTINGS was acknowledged before it was read.
    pre_acked: bool,
}

/// What a stream received.
#[derive(Default, Clone)]
pub(crate) struct H2Stream {
    pub(crate) status: Option<u16>,
    pub(crate) body: Vec<u8>,
    pub(crate) done: bool,
    pub(crate) reset: Option<u32>,
}

/// Everything an HTTP/2 exchange ended with.
#[derive(Default)]
pub(crate) struct H2Outcome {
    pub(crate) streams: BTreeMap<u32, H2Stream>,
    pub(crate) goaway: Option<(u32, u32)>,
    pub(crate) closed: bool,
}

impl H2 {
    /// Connects and sends the preface, our SETTINGS and a large connection window.
    pub(crate) fn connect(addr: SocketAddr, ours: &[Setting], timeout: Duration) -> io::Result<H2> {
        let sock = TcpStream::connect_timeout(&addr, timeout)?;
        sock.set_read_timeout(Some(timeout))?;
        sock.set_write_timeout(Some(timeout))?;
        sock.set_nodelay(true)?;
        let mut out = PREFACE.to_vec();
        settings(&mut out, ours);
        window_update(&mut out, 0, 16 << 20);
        let mut h2 = H2::over(sock);
        h2.sock.write_all(&out)?;
        Ok(h2)
    }

    /// A client on `sock`, which the caller has already written to (or will).
    pub(crate) fn over(sock: TcpStream) -> H2 {
        H2 {
            sock,
            decoder: shockwave_hpack::Decoder::new(),
            partial: None,
            pre_acked: false,
        }
    }

    /// Sends a SETTINGS ACK for the server's SETTINGS before reading them (the reader
    /// then does not acknowledge them again).
    pub(crate) fn pre_ack(&mut self) -> io::Result<()> {
        let mut out = Vec::new();
        settings_ack(&mut out);
        self.sock.write_all(&out)?;
        self.pre_acked = true;
        Ok(())
    }

    fn read_frame(&mut self) -> io::Result<Frame> {
        let mut head = [0u8; FRAME_HEADER_LEN];
        self.sock.read_exact(&mut head)?;
        let h = FrameHeader::parse(&head)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "frame header"))?;
        let mut payload = vec![0u8; h.length as usize];
        self.sock.read_exact(&mut payload)?;
        Ok(Frame {
            kind: h.kind,
            flags: h.flags,
            stream: h.stream_id,
            payload,
        })
    }

    /// Reads one frame and folds it into `out`, answering SETTINGS, PING and DATA (window
    /// credit). Returns false once the connection is closed.
    pub(crate) fn step(&mut self, out: &mut H2Outcome) -> Result<bool, String> {
        let f = match self.read_frame() {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                out.closed = true;
                return Ok(false);
            }
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut =>
            {
                return Err("read timed out".into())
            }
            Err(_) => {
                out.closed = true;
                return Ok(false);
            }
        };
        let ack = f.flags.contains(Flags::ACK);
        let mut reply = Vec::new();
        match f.kind {
            FrameKind::Settings if !ack && self.pre_acked => self.pre_acked = false,
            FrameKind::Settings if !ack => settings_ack(&mut reply),
            FrameKind::Ping if !ack => {
                let data: [u8; 8] = f.payload.as_slice().try_into().map_err(|_| "bad PING")?;
                ping(&mut reply, true, data);
            }
            FrameKind::GoAway if f.payload.len() >= 8 => {
                let last = u32::from_be_bytes(f.payload[0..4].try_into().unwrap_or_default());
                let code = u32::from_be_bytes(f.payload[4..8].try_into().unwrap_or_default());
                out.goaway = Some((last & 0x7fff_ffff, code));
            }
            FrameKind::RstStream if f.payload.len() >= 4 => {
                let code = u32::from_be_bytes(f.payload[0..4].try_into().unwrap_or_default());
                let s = out.streams.entry(f.stream).or_default();
                s.reset = Some(code);
                s.done = true;
            }
            FrameKind::Data => {
                let body = unpad(&f)?;
                let end = f.flags.contains(Flags::END_STREAM);
                let s = out.streams.entry(f.stream).or_default();
                s.body.extend_from_slice(body);
                if end {
                    s.done = true;
                }
                if !f.payload.is_empty() {
                    let inc = f.payload.len() as u32;
                    window_update(&mut reply, 0, inc);
                    if !end {
                        window_update(&mut reply, f.stream, inc);
                    }
                }
            }
            FrameKind::Headers => {
                let mut frag = unpad(&f)?;
                if f.flags.contains(Flags::PRIORITY) {
                    frag = frag.get(5..).ok_or("short HEADERS")?;
                }
                self.partial = Some((f.stream, frag.to_vec(), f.flags.contains(Flags::END_STREAM)));
                if f.flags.contains(Flags::END_HEADERS) {
                    self.finish_block(out)?;
                }
            }
            FrameKind::Continuation => {
                let Some((_, block, _)) = self.partial.as_mut() else {
                    return Err("CONTINUATION without HEADERS".into());
                };
                block.extend_from_slice(&f.payload);
                if f.flags.contains(Flags::END_HEADERS) {
                    self.finish_block(out)?;
                }
            }
            _ => {}
        }
        if !reply.is_empty() {
            // The server may have closed already: a failed write shows up as EOF later.
            let _ = self.sock.write_all(&reply);
        }
        Ok(true)
    }

    fn finish_block(&mut self, out: &mut H2Outcome) -> Result<(), String> {
        let Some((stream, block, end)) = self.partial.take() else {
            return Ok(());
        };
        let mut status = None;
        self.decoder
            .decode(&block, |name, value| {
                if name == b":status" {
                    status = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
                }
            })
            .map_err(|e| format!("HPACK decode of a response: {e}"))?;
        let s = out.streams.entry(stream).or_default();
        if s.status.is_none() {
            s.status = status;
        }
        if end {
            s.done = true;
        }
        Ok(())
    }

    /// Reads until `until` holds, the connection closes, or `deadline` passes.
    pub(crate) fn run_until(
        &mut self,
        out: &mut H2Outcome,
        deadline: Instant,
        until: impl Fn(&H2Outcome) -> bool,
    ) -> Result<(), String> {
        while !until(out) {
            if Instant::now() >= deadline {
                return Err("deadline passed".into());
            }
            if !self.step(out)? {
                return Ok(());
            }
        }
        Ok(())
    }
}

fn unpad(f: &Frame) -> Result<&[u8], String> {
    if !f.flags.contains(Flags::PADDED) {
        return Ok(&f.payload);
    }
    let pad = *f.payload.first().ok_or("empty padded frame")? as usize;
    f.payload
        .get(1..f.payload.len().saturating_sub(pad))
        .ok_or_else(|| "bad padding".into())
}

/// h2c: batches of 8 concurrent streams per connection, a new connection every 50 batches.
pub(crate) fn h2c_valid(addr: SocketAddr, stop: &AtomicBool, tally: &Tally, seed: u64) {
    const CLASS: &str = "h2c (own client)";
    let mut rng = Rng(seed);
    while !stop.load(Relaxed) {
        let Some(mut c) = connected(
            CLASS,
            tally,
            H2::connect(
                addr,
                &[Setting::new(SettingId::InitialWindowSize, 1 << 20)],
                Duration::from_secs(10),
            ),
        ) else {
            continue;
        };
        let mut next_id = 1u32;
        'conn: for _ in 0..50 {
            if stop.load(Relaxed) {
                break;
            }
            let mut out = Vec::new();
            let mut want = BTreeMap::new();
            for _ in 0..8 {
                let id = next_id;
                next_id += 2;
                let (status, body) = match rng.below(4) {
                    0 => {
                        headers(&mut out, id, &request_block("GET", "/", None), true, true);
                        (200, HELLO.to_vec())
                    }
                    1 => {
                        headers(
                            &mut out,
                            id,
                            &request_block("GET", "/json", None),
                            true,
                            true,
                        );
                        (200, JSON.to_vec())
                    }
                    _ => {
                        // Under 64 KiB per batch: within the default connection window.
                        let len = rng.below(6000) as usize + 1;
                        let body = rng.body(len);
                        let block = request_block("POST", "/echo", Some(body.len()));
                        headers(&mut out, id, &block, false, true);
                        let mut chunks = body.chunks(4096).peekable();
                        while let Some(chunk) = chunks.next() {
                            data(&mut out, id, chunk, chunks.peek().is_none());
                        }
                        (200, body)
                    }
                };
                want.insert(id, (status, body));
            }
            if let Err(e) = c.sock.write_all(&out) {
                tally.fail(CLASS, format!("write: {e}"));
                break;
            }
            let mut got = H2Outcome::default();
            let deadline = Instant::now() + Duration::from_secs(10);
            let r = c.run_until(&mut got, deadline, |o| {
                want.keys()
                    .all(|id| o.streams.get(id).is_some_and(|s| s.done))
            });
            if let Err(e) = r {
                tally.fail(CLASS, format!("batch: {e}"));
                break;
            }
            if let Some(g) = got.goaway {
                tally.fail(CLASS, format!("unexpected GOAWAY {g:?}"));
                break;
            }
            for (id, (status, body)) in &want {
                let s = got.streams.get(id).cloned().unwrap_or_default();
                if !s.done || s.reset.is_some() || s.status != Some(*status) || &s.body != body {
                    tally.fail(
                        CLASS,
                        format!(
                            "stream {id}: done {} reset {:?} status {:?} body {} bytes (wanted {status}, {} bytes)",
                            s.done,
                            s.reset,
                            s.status,
                            s.body.len(),
                            body.len()
                        ),
                    );
                    break 'conn;
                }
            }
            tally.ok(CLASS, want.len() as u64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_blocks_decode_and_carry_no_table_state() {
        let block = request_block("POST", "/echo", Some(42));
        assert_eq!(block, request_block("POST", "/echo", Some(42)));
        let mut fields = Vec::new();
        shockwave_hpack::Decoder::new()
            .decode(&block, |n, v| fields.push((n.to_vec(), v.to_vec())))
            .unwrap();
        let want: Vec<(Vec<u8>, Vec<u8>)> = [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", "/echo"),
            (":authority", "127.0.0.1"),
            ("content-length", "42"),
        ]
        .iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect();
        assert_eq!(fields, want);
        // Static indexes, then `:authority` as a literal without indexing (0x01, RFC 7541
        // §6.2.2), never with incremental indexing (0x41): any decoder state accepts it.
        assert_eq!(
            request_block("GET", "/", None)[..4],
            [0x82, 0x86, 0x84, 0x01]
        );
    }

    #[test]
    fn frames_have_the_wire_layout() {
        let mut out = Vec::new();
        headers(&mut out, 3, b"ab", true, true);
        assert_eq!(out, [0, 0, 2, 1, 0x5, 0, 0, 0, 3, b'a', b'b']);
        out.clear();
        window_update(&mut out, 0, 16 << 20);
        assert_eq!(out, [0, 0, 4, 8, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
        out.clear();
        rst_stream(&mut out, 1, ErrorCode::Cancel);
        assert_eq!(out, [0, 0, 4, 3, 0, 0, 0, 0, 1, 0, 0, 0, 8]);
        out.clear();
        settings(&mut out, &[Setting::new(SettingId::InitialWindowSize, 0)]);
        assert_eq!(out, [0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0]);
    }
}
