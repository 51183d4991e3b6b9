//! `cargo xtask soak --minutes N`: a bounded soak of the release `shockwave serve`.
//!
//! Starts the server (HTTP/1.1 + h2c on one port; TLS h1/h2 and HTTP/3 on another, with a
//! self-signed certificate), then for N minutes drives, all at once:
//!
//! - valid traffic whose every answer is checked (status and body bytes): HTTP/1.1
//!   keep-alive and 16-deep pipelining with GETs and `/echo` uploads (Content-Length and
//!   chunked), h2c with several streams per connection (our own minimal client, HPACK
//!   decoded with `shockwave-hpack`), TLS h2 / h2c / TLS h1 through `h2load`, and HTTP/3
//!   through `shockwave get --http3` (load runs checked by status counts and body bytes,
//!   single requests byte for byte);
//! - attack traffic over raw sockets, each with the outcome it must get: request smuggling
//!   (CL+TE, two Content-Lengths, TE not ending in chunked, TE in HTTP/1.0, bare LF,
//!   obs-fold), oversized request line / head / field count / body, 16 MB bodies declared
//!   but never sent (the server must not allocate them up front), malformed chunked,
//!   abrupt disconnects mid-body and mid-response, a pipelining flood, slowloris (request
//!   head and TLS handshake), an invalid HTTP/2 preface and first frame, HTTP/2 Rapid
//!   Reset (CVE-2023-44487), CONTINUATION flood, PING and SETTINGS floods, an HPACK bomb,
//!   too many concurrent streams and a zero flow-control window.
//!
//! Afterwards it checks that every valid request was answered correctly, every attack got
//! its outcome, the server is alive with no panic on its stderr, no worker thread was lost
//! (thread names in /proc, and 64 fresh connections all answered),
//! `/stats` shows no open connection but ours and no arena in use, the final RSS is within
//! the baseline plus the pools' retained bytes plus a slack, and that SIGTERM stops the
//! server cleanly. Prints a summary; exits nonzero if any check failed.
//!
//! Options: `--minutes N` (default 1; decimals allowed), `--workers N` (server threads,
//! default 2), `--no-build`, `--server-bin PATH` (a prebuilt `shockwave`),
//! `--rss-slack-mib N` (default 64).

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::load::{profile_dir, wait_listening};
use crate::{cargo, run};

/// The server's slowloris deadline (`Timeouts::header_read`, 10 s by default) plus slack.
const SLOW_DEADLINE: Duration = Duration::from_secs(16);
const HELLO: &[u8] = b"Hello, World!";
const JSON: &[u8] = br#"{"message":"Hello, World!"}"#;

struct Options {
    minutes: f64,
    workers: usize,
    build: bool,
    server_bin: Option<PathBuf>,
    rss_slack_mib: u64,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        minutes: 1.0,
        workers: 2,
        build: true,
        server_bin: None,
        rss_slack_mib: 64,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--minutes" => o.minutes = value(a)?.parse().map_err(|e| format!("--minutes: {e}"))?,
            "--workers" => o.workers = value(a)?.parse().map_err(|e| format!("--workers: {e}"))?,
            "--rss-slack-mib" => {
                o.rss_slack_mib = value(a)?
                    .parse()
                    .map_err(|e| format!("--rss-slack-mib: {e}"))?
            }
            "--server-bin" => o.server_bin = Some(PathBuf::from(value(a)?)),
            "--no-build" => o.build = false,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if !(o.minutes > 0.0 && o.minutes <= 24.0 * 60.0) {
        return Err("--minutes must be > 0 (and at most a day)".into());
    }
    o.workers = o.workers.max(1);
    Ok(o)
}

// ---------------------------------------------------------------------------------------
// Tally: requests by class, failures with their first messages.

#[derive(Default)]
struct Tally {
    classes: Mutex<BTreeMap<&'static str, (u64, u64)>>,
    messages: Mutex<Vec<String>>,
}

impl Tally {
    fn ok(&self, class: &'static str, n: u64) {
        let mut c = self.classes.lock().unwrap_or_else(|e| e.into_inner());
        c.entry(class).or_default().0 += n;
    }

    fn fail(&self, class: &'static str, msg: impl Into<String>) {
        {
            let mut c = self.classes.lock().unwrap_or_else(|e| e.into_inner());
            c.entry(class).or_default().1 += 1;
        }
        let mut m = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() < 40 {
            let msg = msg.into();
            eprintln!("xtask soak: FAIL {class}: {msg}");
            m.push(format!("{class}: {msg}"));
        }
    }

    fn record(&self, class: &'static str, r: Result<u64, String>) {
        match r {
            Ok(n) => self.ok(class, n),
            Err(e) => self.fail(class, e),
        }
    }

    fn snapshot(&self) -> BTreeMap<&'static str, (u64, u64)> {
        self.classes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A small xorshift generator: request mixes and body sizes vary, runs stay reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn body(&mut self, len: usize) -> Vec<u8> {
        let seed = self.next();
        (0..len)
            .map(|i| (seed.wrapping_add(i as u64 * 131) >> 3) as u8)
            .collect()
    }
}

// ---------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client over a blocking socket.

struct H1 {
    sock: TcpStream,
    buf: Vec<u8>,
}

struct Resp {
    status: u16,
    body: Vec<u8>,
    close: bool,
}

impl H1 {
    fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<H1> {
        let sock = TcpStream::connect_timeout(&addr, timeout)?;
        sock.set_read_timeout(Some(timeout))?;
        sock.set_write_timeout(Some(timeout))?;
        sock.set_nodelay(true)?;
        Ok(H1 {
            sock,
            buf: Vec::new(),
        })
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.sock
            .write_all(bytes)
            .map_err(|e| format!("write: {e}"))
    }

    /// Reads more bytes into the buffer; an error at EOF.
    fn fill(&mut self) -> Result<(), String> {
        let mut tmp = [0u8; 32 * 1024];
        match self.sock.read(&mut tmp) {
            Ok(0) => Err("connection closed".into()),
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                Ok(())
            }
            Err(e) => Err(format!("read: {e}")),
        }
    }

    fn read_response(&mut self) -> Result<Resp, String> {
        loop {
            let head_end = loop {
                if let Some(p) = find(&self.buf, b"\r\n\r\n") {
                    break p + 4;
                }
                if self.buf.len() > 1 << 20 {
                    return Err("response head over 1 MiB".into());
                }
                self.fill()?;
            };
            let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
            self.buf.drain(..head_end);
            let mut lines = head.split("\r\n");
            let status_line = lines.next().unwrap_or("");
            let status: u16 = status_line
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("bad status line {status_line:?}"))?;
            let (mut length, mut chunked, mut close) = (None, false, false);
            for line in lines {
                let Some((name, value)) = line.split_once(':') else {
                    continue;
                };
                let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
                match name.as_str() {
                    "content-length" => length = value.parse::<usize>().ok(),
                    "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                    "connection" => close = value.eq_ignore_ascii_case("close"),
                    _ => {}
                }
            }
            if (100..200).contains(&status) {
                continue; // 100 Continue: the real answer follows
            }
            let body = if chunked {
                self.read_chunked()?
            } else if let Some(n) = length {
                while self.buf.len() < n {
                    self.fill()?;
                }
                self.buf.drain(..n).collect()
            } else if status == 204 || status == 304 {
                Vec::new()
            } else {
                // Close-delimited.
                while self.fill().is_ok() {}
                close = true;
                std::mem::take(&mut self.buf)
            };
            return Ok(Resp {
                status,
                body,
                close,
            });
        }
    }

    fn read_chunked(&mut self) -> Result<Vec<u8>, String> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(p) = find(&self.buf, b"\r\n") {
                    break p;
                }
                self.fill()?;
            };
            let line = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
            let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| format!("bad chunk size {line:?}"))?;
            self.buf.drain(..line_end + 2);
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    let end = loop {
                        if let Some(p) = find(&self.buf, b"\r\n") {
                            break p;
                        }
                        self.fill()?;
                    };
                    self.buf.drain(..end + 2);
                    if end == 0 {
                        return Ok(body);
                    }
                }
            }
            while self.buf.len() < size + 2 {
                self.fill()?;
            }
            body.extend_from_slice(&self.buf[..size]);
            self.buf.drain(..size + 2);
        }
    }

    /// True if the peer closes the connection within `within` (EOF or reset), with nothing
    /// more than `allowed_extra` further bytes.
    fn closes(&mut self, within: Duration) -> Result<(), String> {
        let _ = self.sock.set_read_timeout(Some(within));
        let mut tmp = [0u8; 4096];
        loop {
            match self.sock.read(&mut tmp) {
                Ok(0) => break,
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    return Err(format!("connection still open after {within:?}"))
                }
                Err(_) => break, // reset: closed too
            }
        }
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "unexpected bytes after the answer: {:?}",
                String::from_utf8_lossy(&self.buf[..self.buf.len().min(120)])
            ))
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One valid HTTP/1.1 request and the answer it must get.
struct H1Req {
    bytes: Vec<u8>,
    status: u16,
    body: Option<Vec<u8>>,
}

fn h1_request(rng: &mut Rng, allow_large: bool) -> H1Req {
    match rng.below(10) {
        0..=2 => H1Req {
            bytes: b"GET / HTTP/1.1\r\nHost: soak\r\n\r\n".to_vec(),
            status: 200,
            body: Some(HELLO.to_vec()),
        },
        3..=4 => H1Req {
            bytes: b"GET /json HTTP/1.1\r\nHost: soak\r\nAccept: */*\r\n\r\n".to_vec(),
            status: 200,
            body: Some(JSON.to_vec()),
        },
        5 => H1Req {
            bytes: b"GET /missing HTTP/1.1\r\nHost: soak\r\n\r\n".to_vec(),
            status: 404,
            body: None,
        },
        6..=7 => {
            let max = if allow_large { 64 * 1024 } else { 2048 };
            let len = rng.below(max) as usize;
            let body = rng.body(len);
            let mut bytes = format!(
                "POST /echo HTTP/1.1\r\nHost: soak\r\nContent-Type: application/x-soak\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            bytes.extend_from_slice(&body);
            H1Req {
                bytes,
                status: 200,
                body: Some(body),
            }
        }
        _ => {
            let max = if allow_large { 48 * 1024 } else { 2048 };
            let len = rng.below(max) as usize + 1;
            let body = rng.body(len);
            let mut bytes =
                b"POST /echo HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            let mut rest = &body[..];
            while !rest.is_empty() {
                let n = (rng.below(9000) as usize + 1).min(rest.len());
                bytes.extend_from_slice(format!("{n:x}\r\n").as_bytes());
                bytes.extend_from_slice(&rest[..n]);
                bytes.extend_from_slice(b"\r\n");
                rest = &rest[n..];
            }
            bytes.extend_from_slice(b"0\r\n\r\n");
            H1Req {
                bytes,
                status: 200,
                body: Some(body),
            }
        }
    }
}

fn check(r: &Resp, want: &H1Req) -> Result<(), String> {
    if r.status != want.status {
        return Err(format!(
            "status {} (wanted {}), body {:?}",
            r.status,
            want.status,
            String::from_utf8_lossy(&r.body[..r.body.len().min(80)])
        ));
    }
    if let Some(b) = &want.body {
        if &r.body != b {
            return Err(format!(
                "body of {} bytes differs from the {} expected",
                r.body.len(),
                b.len()
            ));
        }
    }
    if r.close {
        return Err("server closed a keep-alive connection".into());
    }
    Ok(())
}

/// The connection of a traffic class, or `None` after tallying the failure and pausing
/// briefly (so a server that refuses connections is not hammered in a tight loop).
fn connected<C, E: std::fmt::Display>(
    class: &'static str,
    tally: &Tally,
    connection: Result<C, E>,
) -> Option<C> {
    match connection {
        Ok(c) => Some(c),
        Err(e) => {
            tally.fail(class, format!("connect: {e}"));
            std::thread::sleep(Duration::from_millis(100));
            None
        }
    }
}

/// Keep-alive: one request at a time, a new connection every 300 requests.
fn h1_keepalive(addr: SocketAddr, stop: &AtomicBool, tally: &Tally, seed: u64) {
    const CLASS: &str = "h1 keep-alive";
    let mut rng = Rng(seed);
    while !stop.load(Relaxed) {
        let Some(mut c) = connected(CLASS, tally, H1::connect(addr, Duration::from_secs(10)))
        else {
            continue;
        };
        let mut done = 0u64;
        for _ in 0..300 {
            if stop.load(Relaxed) {
                break;
            }
            let req = h1_request(&mut rng, true);
            let r = c
                .send(&req.bytes)
                .and_then(|()| c.read_response())
                .and_then(|r| check(&r, &req));
            match r {
                Ok(()) => done += 1,
                Err(e) => {
                    tally.fail(CLASS, e);
                    break;
                }
            }
        }
        tally.ok(CLASS, done);
    }
}

/// Pipelining: 16 requests per write, 16 answers read in order.
fn h1_pipelined(addr: SocketAddr, stop: &AtomicBool, tally: &Tally, seed: u64) {
    const CLASS: &str = "h1 pipelined";
    let mut rng = Rng(seed);
    while !stop.load(Relaxed) {
        let Some(mut c) = connected(CLASS, tally, H1::connect(addr, Duration::from_secs(10)))
        else {
            continue;
        };
        'conn: for _ in 0..100 {
            if stop.load(Relaxed) {
                break;
            }
            let batch: Vec<H1Req> = (0..16).map(|_| h1_request(&mut rng, false)).collect();
            let bytes: Vec<u8> = batch.iter().flat_map(|r| r.bytes.iter().copied()).collect();
            if let Err(e) = c.send(&bytes) {
                tally.fail(CLASS, e);
                break;
            }
            for (i, req) in batch.iter().enumerate() {
                if let Err(e) = c.read_response().and_then(|r| check(&r, req)) {
                    tally.fail(CLASS, format!("pipelined #{i}: {e}"));
                    break 'conn;
                }
            }
            tally.ok(CLASS, batch.len() as u64);
        }
    }
}

// ---------------------------------------------------------------------------------------
// A minimal HTTP/2 client (RFC 9113) over a blocking socket, h2c with prior knowledge.

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const GOAWAY: u8 = 7;
const WINDOW_UPDATE: u8 = 8;
const CONTINUATION: u8 = 9;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY_FLAG: u8 = 0x20;
const ENHANCE_YOUR_CALM: u32 = 0xb;
const PROTOCOL_ERROR: u32 = 0x1;
const REFUSED_STREAM: u32 = 0x7;
const CANCEL: u32 = 0x8;

fn frame(out: &mut Vec<u8>, ty: u8, flags: u8, stream: u32, payload: &[u8]) {
    let len = payload.len() as u32;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(ty);
    out.push(flags);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
}

fn settings_payload(settings: &[(u16, u32)]) -> Vec<u8> {
    let mut p = Vec::new();
    for (id, v) in settings {
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&v.to_be_bytes());
    }
    p
}

/// A literal field without indexing, name from the static table (RFC 7541 §6.2.2).
fn literal(block: &mut Vec<u8>, name_index: u64, value: &[u8]) {
    shockwave_hpack::integer::encode(name_index, 4, 0, block);
    shockwave_hpack::integer::encode(value.len() as u64, 7, 0, block);
    block.extend_from_slice(value);
}

/// A request field block using the static table only.
fn request_block(method: &str, path: &str, content_length: Option<usize>) -> Vec<u8> {
    let mut b = Vec::new();
    match method {
        "GET" => b.push(0x82),
        "POST" => b.push(0x83),
        m => literal(&mut b, 2, m.as_bytes()),
    }
    b.push(0x86); // :scheme http
    if path == "/" {
        b.push(0x84);
    } else {
        literal(&mut b, 4, path.as_bytes());
    }
    literal(&mut b, 1, b"127.0.0.1"); // :authority
    if let Some(n) = content_length {
        literal(&mut b, 28, n.to_string().as_bytes());
    }
    b
}

struct Frame {
    ty: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

struct H2 {
    sock: TcpStream,
    decoder: shockwave_hpack::Decoder,
    /// A field block being continued: (stream, bytes so far, END_STREAM seen).
    partial: Option<(u32, Vec<u8>, bool)>,
    /// The server's first SETTINGS was acknowledged before it was read.
    pre_acked: bool,
}

/// What a stream received.
#[derive(Default, Clone)]
struct H2Stream {
    status: Option<u16>,
    body: Vec<u8>,
    done: bool,
    reset: Option<u32>,
}

/// Everything an HTTP/2 exchange ended with.
#[derive(Default)]
struct H2Outcome {
    streams: BTreeMap<u32, H2Stream>,
    goaway: Option<(u32, u32)>,
    closed: bool,
}

impl H2 {
    /// Connects and sends the preface, our SETTINGS and a large connection window.
    fn connect(addr: SocketAddr, settings: &[(u16, u32)], timeout: Duration) -> io::Result<H2> {
        let sock = TcpStream::connect_timeout(&addr, timeout)?;
        sock.set_read_timeout(Some(timeout))?;
        sock.set_write_timeout(Some(timeout))?;
        sock.set_nodelay(true)?;
        let mut h2 = H2 {
            sock,
            decoder: shockwave_hpack::Decoder::new(),
            partial: None,
            pre_acked: false,
        };
        let mut out = PREFACE.to_vec();
        frame(&mut out, SETTINGS, 0, 0, &settings_payload(settings));
        frame(&mut out, WINDOW_UPDATE, 0, 0, &(16u32 << 20).to_be_bytes());
        h2.sock.write_all(&out)?;
        Ok(h2)
    }

    fn read_frame(&mut self) -> io::Result<Frame> {
        let mut head = [0u8; 9];
        self.sock.read_exact(&mut head)?;
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut payload = vec![0u8; len];
        self.sock.read_exact(&mut payload)?;
        Ok(Frame {
            ty: head[3],
            flags: head[4],
            stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
            payload,
        })
    }

    /// Reads one frame and folds it into `out`, answering SETTINGS, PING and DATA (window
    /// credit). Returns false once the connection is closed.
    fn step(&mut self, out: &mut H2Outcome) -> Result<bool, String> {
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
        let mut reply = Vec::new();
        match f.ty {
            SETTINGS if f.flags & ACK == 0 && self.pre_acked => self.pre_acked = false,
            SETTINGS if f.flags & ACK == 0 => frame(&mut reply, SETTINGS, ACK, 0, &[]),
            PING if f.flags & ACK == 0 => frame(&mut reply, PING, ACK, 0, &f.payload),
            GOAWAY if f.payload.len() >= 8 => {
                let last = u32::from_be_bytes(f.payload[0..4].try_into().unwrap_or_default());
                let code = u32::from_be_bytes(f.payload[4..8].try_into().unwrap_or_default());
                out.goaway = Some((last & 0x7fff_ffff, code));
            }
            RST_STREAM if f.payload.len() >= 4 => {
                let code = u32::from_be_bytes(f.payload[0..4].try_into().unwrap_or_default());
                let s = out.streams.entry(f.stream).or_default();
                s.reset = Some(code);
                s.done = true;
            }
            DATA => {
                let data = unpad(&f)?;
                let s = out.streams.entry(f.stream).or_default();
                s.body.extend_from_slice(data);
                if f.flags & END_STREAM != 0 {
                    s.done = true;
                }
                if !f.payload.is_empty() {
                    let inc = (f.payload.len() as u32).to_be_bytes();
                    frame(&mut reply, WINDOW_UPDATE, 0, 0, &inc);
                    if f.flags & END_STREAM == 0 {
                        frame(&mut reply, WINDOW_UPDATE, 0, f.stream, &inc);
                    }
                }
            }
            HEADERS => {
                let mut frag = unpad(&f)?;
                if f.flags & PRIORITY_FLAG != 0 {
                    frag = frag.get(5..).ok_or("short HEADERS")?;
                }
                self.partial = Some((f.stream, frag.to_vec(), f.flags & END_STREAM != 0));
                if f.flags & END_HEADERS != 0 {
                    self.finish_block(out)?;
                }
            }
            CONTINUATION => {
                let Some((_, block, _)) = self.partial.as_mut() else {
                    return Err("CONTINUATION without HEADERS".into());
                };
                block.extend_from_slice(&f.payload);
                if f.flags & END_HEADERS != 0 {
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
    fn run_until(
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
    if f.flags & PADDED == 0 {
        return Ok(&f.payload);
    }
    let pad = *f.payload.first().ok_or("empty padded frame")? as usize;
    f.payload
        .get(1..f.payload.len().saturating_sub(pad))
        .ok_or_else(|| "bad padding".into())
}

/// h2c: batches of 8 concurrent streams per connection, a new connection every 50 batches.
fn h2c_valid(addr: SocketAddr, stop: &AtomicBool, tally: &Tally, seed: u64) {
    const CLASS: &str = "h2c (own client)";
    let mut rng = Rng(seed);
    while !stop.load(Relaxed) {
        let Some(mut c) = connected(
            CLASS,
            tally,
            H2::connect(addr, &[(4, 1 << 20)], Duration::from_secs(10)),
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
                        frame(
                            &mut out,
                            HEADERS,
                            END_HEADERS | END_STREAM,
                            id,
                            &request_block("GET", "/", None),
                        );
                        (200, HELLO.to_vec())
                    }
                    1 => {
                        frame(
                            &mut out,
                            HEADERS,
                            END_HEADERS | END_STREAM,
                            id,
                            &request_block("GET", "/json", None),
                        );
                        (200, JSON.to_vec())
                    }
                    _ => {
                        // Under 64 KiB per batch: within the default connection window.
                        let len = rng.below(6000) as usize + 1;
                        let body = rng.body(len);
                        let block = request_block("POST", "/echo", Some(body.len()));
                        frame(&mut out, HEADERS, END_HEADERS, id, &block);
                        let mut chunks = body.chunks(4096).peekable();
                        while let Some(chunk) = chunks.next() {
                            let flags = if chunks.peek().is_none() {
                                END_STREAM
                            } else {
                                0
                            };
                            frame(&mut out, DATA, flags, id, chunk);
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

// ---------------------------------------------------------------------------------------
// Peers: h2load (TLS h2, h2c, TLS HTTP/1.1) and `shockwave get --http3`.

fn h2load_loop(plain: SocketAddr, tls: SocketAddr, stop: &AtomicBool, tally: &Tally) {
    let runs: [(&'static str, String, &[&str]); 3] = [
        ("h2 TLS (h2load)", format!("https://{tls}/json"), &[]),
        ("h2c (h2load)", format!("http://{plain}/"), &[]),
        ("h1 TLS (h2load --h1)", format!("https://{tls}/"), &["--h1"]),
    ];
    let mut i = 0usize;
    while !stop.load(Relaxed) {
        let (class, url, extra) = &runs[i % runs.len()];
        let class: &'static str = class;
        i += 1;
        let out = Command::new("h2load")
            .args(["-n", "3000", "-c", "4", "-m", "8", "-t", "1"])
            .args(extra.iter())
            .arg(url)
            .output();
        match out {
            Err(e) => {
                tally.fail(class, format!("h2load: {e}"));
                return;
            }
            Ok(o) => {
                let text = String::from_utf8_lossy(&o.stdout).into_owned();
                match parse_h2load(&text) {
                    Some((succeeded, bad, non2xx)) => {
                        tally.ok(class, succeeded.saturating_sub(non2xx));
                        if bad > 0 || non2xx > 0 || !o.status.success() {
                            tally.fail(
                                class,
                                format!("h2load: {bad} failed/errored, {non2xx} non-2xx: {text}"),
                            );
                        }
                    }
                    None => tally.fail(class, format!("cannot read h2load output: {text}")),
                }
            }
        }
    }
}

/// (succeeded, failed + errored + timeout, non-2xx) from h2load's report.
fn parse_h2load(text: &str) -> Option<(u64, u64, u64)> {
    let line = text.lines().find(|l| l.starts_with("requests:"))?;
    let num = |key: &str| -> Option<u64> {
        line.split(',')
            .find(|p| p.trim().ends_with(key))?
            .split_whitespace()
            .rev()
            .nth(1)?
            .parse()
            .ok()
    };
    let bad = num("failed")? + num("errored")? + num("timeout").unwrap_or(0);
    let codes = text.lines().find(|l| l.starts_with("status codes:"))?;
    let mut non2xx = 0u64;
    for part in codes["status codes:".len()..].split(',') {
        let mut w = part.split_whitespace();
        let (n, class) = (w.next()?.parse::<u64>().ok()?, w.next()?);
        if class != "2xx" {
            non2xx += n;
        }
    }
    Some((num("succeeded")?, bad, non2xx))
}

/// HTTP/3: alternately a load run (`shockwave get --http3 -n 1000 -c 8`, every answer a
/// 200 with the JSON body, checked through the status counts and body bytes) and single
/// requests whose body is compared byte for byte (GET /json, POST /echo).
fn h3_loop(bin: &PathBuf, tls: SocketAddr, stop: &AtomicBool, tally: &Tally, seed: u64) {
    const CLASS: &str = "h3 (shockwave get --http3)";
    const LOAD: &str = "h3 load (shockwave get --http3 -n)";
    let mut rng = Rng(seed);
    let mut round = 0u64;
    while !stop.load(Relaxed) {
        round += 1;
        if round % 4 == 1 {
            let n = 1000u64;
            let out = Command::new(bin)
                .args(["get", "--http3", "-k", "--timeout", "10", "-n"])
                .arg(n.to_string())
                .args(["-c", "8", "--threads", "1"])
                .arg(format!("https://{tls}/json"))
                .stderr(Stdio::piped())
                .output();
            match out {
                Err(e) => tally.fail(LOAD, format!("cannot run shockwave get: {e}")),
                Ok(o) => {
                    let text = String::from_utf8_lossy(&o.stdout).into_owned();
                    let field = |key: &str| {
                        text.lines()
                            .find_map(|l| l.strip_prefix(key))
                            .map(|v| v.trim().to_string())
                    };
                    let ok = field("Completed:")
                        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok());
                    let bytes = field("Body bytes:")
                        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok());
                    let codes = field("Status codes:");
                    let want_codes = format!("200: {n}");
                    if o.status.success()
                        && ok == Some(n)
                        && bytes == Some(n * JSON.len() as u64)
                        && codes.as_deref() == Some(want_codes.as_str())
                    {
                        tally.ok(LOAD, n);
                    } else {
                        tally.fail(
                            LOAD,
                            format!(
                                "{}: {text} {}",
                                o.status,
                                String::from_utf8_lossy(&o.stderr[..o.stderr.len().min(300)])
                            ),
                        );
                    }
                }
            }
            continue;
        }
        let mut cmd = Command::new(bin);
        cmd.args(["get", "--http3", "-k", "--timeout", "10"]);
        let want: Vec<u8> = if rng.below(2) == 0 {
            cmd.arg(format!("https://{tls}/json"));
            JSON.to_vec()
        } else {
            let body: Vec<u8> = (0..rng.below(3000) + 1)
                .map(|i| b'a' + ((i + seed) % 26) as u8)
                .collect();
            cmd.args(["-d", &String::from_utf8_lossy(&body)]);
            cmd.arg(format!("https://{tls}/echo"));
            body
        };
        match cmd.stderr(Stdio::piped()).output() {
            Err(e) => {
                tally.fail(CLASS, format!("cannot run shockwave get: {e}"));
                return;
            }
            Ok(o) if o.status.success() && o.stdout.trim_ascii_end() == want.as_slice() => {
                tally.ok(CLASS, 1)
            }
            Ok(o) => tally.fail(
                CLASS,
                format!(
                    "{}: stdout {:?} stderr {:?}",
                    o.status,
                    String::from_utf8_lossy(&o.stdout[..o.stdout.len().min(100)]),
                    String::from_utf8_lossy(&o.stderr[..o.stderr.len().min(300)])
                ),
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Attacks: each returns Ok if the server answered as it must.

type Attack = (
    &'static str,
    fn(SocketAddr, SocketAddr) -> Result<(), String>,
);

const ATTACKS: &[Attack] = &[
    ("h1 smuggling CL+TE", |a, _| {
        reject(
            a,
            b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
            &[400],
        )
    }),
    ("h1 smuggling two Content-Lengths", |a, _| {
        reject(
            a,
            b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhelloGET / HTTP/1.1\r\nHost: a\r\n\r\n",
            &[400],
        )
    }),
    ("h1 smuggling TE not ending in chunked", |a, _| {
        reject(
            a,
            b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
            &[400, 501],
        )
    }),
    ("h1 smuggling TE in HTTP/1.0", |a, _| {
        reject(
            a,
            b"POST /echo HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            &[400],
        )
    }),
    ("h1 smuggling bare LF / obs-fold", |a, _| {
        reject(a, b"GET / HTTP/1.1\nHost: a\n\n", &[400])?;
        reject(
            a,
            b"GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n",
            &[400],
        )
    }),
    ("h1 oversized head", |a, _| {
        let mut r = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ".to_vec();
        r.extend(std::iter::repeat_n(b'x', 70 * 1024));
        r.extend_from_slice(b"\r\n\r\n");
        reject(a, &r, &[431])
    }),
    ("h1 too many header fields", |a, _| {
        let mut r = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        for i in 0..150 {
            r.extend_from_slice(format!("X-F{i}: v\r\n").as_bytes());
        }
        r.extend_from_slice(b"\r\n");
        reject(a, &r, &[431])
    }),
    ("h1 long request line", |a, _| {
        let mut r = b"GET /".to_vec();
        r.extend(std::iter::repeat_n(b'a', 9000));
        r.extend_from_slice(b" HTTP/1.1\r\nHost: a\r\n\r\n");
        reject(a, &r, &[414])
    }),
    ("h1 body over max_body_size", |a, _| {
        reject(
            a,
            b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 17000000\r\n\r\nabc",
            &[413],
        )?;
        reject(
            a,
            b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            &[400, 413],
        )
    }),
    ("h1 malformed chunked", |a, _| {
        reject(
            a,
            b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
            &[400],
        )?;
        reject(
            a,
            b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
            &[400],
        )
    }),
    ("h1 declared 16 MB bodies never sent (memory)", |a, _| {
        // 20 requests of ~80 bytes each declaring a 16 MB body to a handler that buffers
        // it: the server must not commit the declared size before the bytes arrive.
        let pid = SERVER_PID.load(Relaxed);
        let before = rss_kib(pid).ok_or("no VmRSS")?;
        let mut held = Vec::new();
        for _ in 0..20 {
            let mut c = H1::connect(a, Duration::from_secs(5)).map_err(|e| e.to_string())?;
            c.send(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 16000000\r\n\r\nx")?;
            held.push(c);
        }
        std::thread::sleep(Duration::from_millis(300));
        let during = rss_kib(pid).ok_or("no VmRSS")?;
        drop(held);
        if during > before + 128 * 1024 {
            return Err(format!(
                "RSS grew from {before} KiB to {during} KiB while 20 requests declared 16 MB bodies and sent 1 byte each"
            ));
        }
        // Exact, and not blurred by the allocator: the largest arena ever returned (the
        // aborted requests return theirs at once; stats are published every 100 ms). The
        // valid traffic's largest is ~1 MB (a 1 MB upload cut short after 64 KiB).
        std::thread::sleep(Duration::from_millis(300));
        let peak = get_u64(&stats(a)?, &["arena", "peak_arena_bytes"]);
        if peak > 4 << 20 {
            return Err(format!(
                "an arena of {peak} bytes: a declared Content-Length was allocated before its bytes arrived"
            ));
        }
        Ok(())
    }),
    ("h1 abrupt disconnect mid-body", |a, _| {
        let mut c = H1::connect(a, Duration::from_secs(5)).map_err(|e| e.to_string())?;
        c.send(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n")?;
        c.send(&vec![b'x'; 64 * 1024])?;
        let _ = c.sock.shutdown(Shutdown::Both);
        let mut c = H1::connect(a, Duration::from_secs(5)).map_err(|e| e.to_string())?;
        c.send(b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n")?;
        c.send(&[b'y'; 100])?;
        drop(c);
        Ok(())
    }),
    ("h1 abrupt disconnect mid-response", |a, _| {
        let mut c = H1::connect(a, Duration::from_secs(5)).map_err(|e| e.to_string())?;
        let body = vec![b'z'; 60 * 1024];
        let mut req = format!(
            "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(&body);
        for _ in 0..8 {
            c.send(&req)?;
        }
        let mut tmp = [0u8; 1000];
        let _ = c.sock.read(&mut tmp);
        drop(c);
        Ok(())
    }),
    ("h1 pipelining flood (all answered)", |a, _| {
        let mut c = H1::connect(a, Duration::from_secs(10)).map_err(|e| e.to_string())?;
        let n = 2000;
        let one = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let mut all = Vec::with_capacity(one.len() * n);
        for _ in 0..n {
            all.extend_from_slice(one);
        }
        // The writer runs beside the reader: a server applying backpressure must not
        // deadlock us.
        let mut w = c.sock.try_clone().map_err(|e| e.to_string())?;
        let writer = std::thread::spawn(move || w.write_all(&all));
        for i in 0..n {
            let r = c
                .read_response()
                .map_err(|e| format!("response #{i}: {e}"))?;
            if r.status != 200 || r.body != HELLO {
                return Err(format!("response #{i}: status {}", r.status));
            }
        }
        writer
            .join()
            .map_err(|_| "writer panicked".to_string())?
            .map_err(|e| format!("write: {e}"))
    }),
    ("h2 invalid preface", |a, _| {
        // Not the preface: served as HTTP/1.1, whose parser rejects `PRI * HTTP/2.1`.
        reject(a, b"PRI * HTTP/2.1\r\n\r\nSM\r\n\r\n", &[400, 505])?;
        // The preface, then a frame other than SETTINGS (RFC 9113 §3.4).
        let mut s = TcpStream::connect(a).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        let mut out = PREFACE.to_vec();
        frame(&mut out, PING, 0, 0, &[0; 8]);
        s.write_all(&out).map_err(|e| e.to_string())?;
        let mut c = H2 {
            sock: s,
            decoder: shockwave_hpack::Decoder::new(),
            partial: None,
            pre_acked: false,
        };
        expect_goaway(&mut c, PROTOCOL_ERROR)
    }),
    ("h2 Rapid Reset (CVE-2023-44487)", |a, _| {
        h2_attack(a, |out| {
            for i in 0..1000u32 {
                let id = 1 + 2 * i;
                let block = request_block("POST", "/echo", None);
                frame(out, HEADERS, END_HEADERS, id, &block);
                frame(out, RST_STREAM, 0, id, &CANCEL.to_be_bytes());
            }
        })
    }),
    ("h2 CONTINUATION flood", |a, _| {
        h2_attack(a, |out| {
            frame(out, HEADERS, 0, 1, &request_block("GET", "/", None));
            for _ in 0..300 {
                frame(out, CONTINUATION, 0, 1, &[0x40; 1000]);
            }
        })
    }),
    ("h2 PING flood", |a, _| {
        h2_attack(a, |out| {
            for i in 0..20_000u64 {
                frame(out, PING, 0, 0, &i.to_be_bytes());
            }
        })
    }),
    ("h2 SETTINGS flood", |a, _| {
        h2_attack(a, |out| {
            for _ in 0..20_000 {
                frame(out, SETTINGS, 0, 0, &[]);
            }
        })
    }),
    ("h2 HPACK bomb", |a, _| {
        let mut c = h2_ready(a)?;
        // One 4000-byte entry in the dynamic table, referenced 100 times: ~400 KB decoded
        // from a 4 KB block (RFC 7541 §6.2.1, §6.1).
        let mut block = request_block("GET", "/", None);
        block.push(0x40);
        shockwave_hpack::integer::encode(4, 7, 0, &mut block);
        block.extend_from_slice(b"bomb");
        shockwave_hpack::integer::encode(4000, 7, 0, &mut block);
        block.extend(std::iter::repeat_n(b'x', 4000));
        block.extend(std::iter::repeat_n(0x80 | 62, 100));
        let mut out = Vec::new();
        frame(&mut out, HEADERS, END_HEADERS | END_STREAM, 1, &block);
        frame(
            &mut out,
            HEADERS,
            END_HEADERS | END_STREAM,
            3,
            &request_block("GET", "/", None),
        );
        c.sock.write_all(&out).map_err(|e| e.to_string())?;
        let mut o = H2Outcome::default();
        c.run_until(&mut o, Instant::now() + Duration::from_secs(5), |o| {
            [1, 3]
                .iter()
                .all(|id| o.streams.get(id).is_some_and(|s| s.done))
        })?;
        let s1 = o.streams.get(&1).map(|s| (s.status, s.reset));
        let s3 = o.streams.get(&3).map(|s| (s.status, s.body.clone()));
        if s1 != Some((Some(431), None)) {
            return Err(format!("bomb stream: {s1:?}, wanted 431"));
        }
        if s3 != Some((Some(200), HELLO.to_vec())) {
            return Err(format!(
                "next stream: {s3:?}, wanted 200 Hello (connection survives)"
            ));
        }
        Ok(())
    }),
    ("h2 too many concurrent streams", |a, _| {
        let mut c = h2_ready(a)?;
        // 250 uploads that never send their body: 200 stay open, 50 are refused.
        let mut out = Vec::new();
        for i in 0..250u32 {
            frame(
                &mut out,
                HEADERS,
                END_HEADERS,
                1 + 2 * i,
                &request_block("POST", "/echo", None),
            );
        }
        c.sock.write_all(&out).map_err(|e| e.to_string())?;
        let mut o = H2Outcome::default();
        let refused = |o: &H2Outcome| {
            o.streams
                .values()
                .filter(|s| s.reset == Some(REFUSED_STREAM))
                .count()
        };
        c.run_until(&mut o, Instant::now() + Duration::from_secs(5), |o| {
            refused(o) >= 50
        })?;
        if refused(&o) != 50 || o.goaway.is_some() {
            return Err(format!(
                "{} streams refused (wanted 50), GOAWAY {:?}",
                refused(&o),
                o.goaway
            ));
        }
        // Closing the connection cancels the 200 waiting handlers.
        Ok(())
    }),
    ("h2 zero flow-control window", |a, _| {
        // SETTINGS_INITIAL_WINDOW_SIZE = 0: the response head comes, its body waits.
        let mut c = H2::connect(a, &[(4, 0)], Duration::from_secs(5)).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        frame(
            &mut out,
            HEADERS,
            END_HEADERS | END_STREAM,
            1,
            &request_block("GET", "/json", None),
        );
        c.sock.write_all(&out).map_err(|e| e.to_string())?;
        let mut o = H2Outcome::default();
        c.run_until(&mut o, Instant::now() + Duration::from_secs(5), |o| {
            o.streams.get(&1).is_some_and(|s| s.status.is_some())
        })?;
        // Whatever else comes within 300 ms (SETTINGS, ACKs), no DATA.
        let _ = c.sock.set_read_timeout(Some(Duration::from_millis(300)));
        loop {
            match c.step(&mut o) {
                Err(_) => break, // nothing more: the body waits for credit
                Ok(false) => return Err("closed while waiting for credit".into()),
                Ok(true) if o.streams[&1].body.is_empty() && !o.streams[&1].done => {}
                Ok(true) => return Err("DATA sent into a zero window".into()),
            }
        }
        let _ = c.sock.set_read_timeout(Some(Duration::from_secs(5)));
        let mut wu = Vec::new();
        frame(&mut wu, WINDOW_UPDATE, 0, 1, &1000u32.to_be_bytes());
        c.sock.write_all(&wu).map_err(|e| e.to_string())?;
        c.run_until(&mut o, Instant::now() + Duration::from_secs(5), |o| {
            o.streams[&1].done
        })?;
        if o.streams[&1].body != JSON {
            return Err(format!("body after credit: {:?}", o.streams[&1].body));
        }
        Ok(())
    }),
    ("TLS garbage instead of a ClientHello", |_, t| {
        let mut s = TcpStream::connect(t).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            .map_err(|e| e.to_string())?;
        let mut all = Vec::new();
        match s.read_to_end(&mut all) {
            // A TLS alert at most, then the close; never an HTTP answer.
            Ok(_) if !all.starts_with(b"HTTP/") => Ok(()),
            Ok(_) => Err("plaintext HTTP answered on the TLS port".into()),
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut =>
            {
                Err("not closed within 5 s".into())
            }
            Err(_) => Ok(()),
        }
    }),
];

/// The server's process id, for the attacks that watch its memory.
static SERVER_PID: AtomicU32 = AtomicU32::new(0);

/// Sends `request`, expects one answer with a status in `statuses`, then the close.
fn reject(addr: SocketAddr, request: &[u8], statuses: &[u16]) -> Result<(), String> {
    let mut c = H1::connect(addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    // The server may answer and close before reading everything: only the answer counts.
    let _ = c.sock.write_all(request);
    let r = c.read_response()?;
    if !statuses.contains(&r.status) {
        return Err(format!("status {} (wanted one of {statuses:?})", r.status));
    }
    c.closes(Duration::from_secs(5))
}

/// A connection past the handshake: our SETTINGS acknowledged.
fn h2_ready(addr: SocketAddr) -> Result<H2, String> {
    let mut c = H2::connect(addr, &[], Duration::from_secs(5)).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    frame(&mut out, SETTINGS, ACK, 0, &[]);
    c.sock.write_all(&out).map_err(|e| e.to_string())?;
    c.pre_acked = true;
    Ok(c)
}

/// Writes the attack (ignoring a write cut short by the server's close), then expects
/// GOAWAY ENHANCE_YOUR_CALM and the close.
fn h2_attack(addr: SocketAddr, build: impl Fn(&mut Vec<u8>)) -> Result<(), String> {
    let mut c = h2_ready(addr)?;
    let mut out = Vec::new();
    build(&mut out);
    let mut w = c.sock.try_clone().map_err(|e| e.to_string())?;
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&out);
    });
    let r = expect_goaway(&mut c, ENHANCE_YOUR_CALM);
    let _ = c.sock.shutdown(Shutdown::Both);
    let _ = writer.join();
    r
}

fn expect_goaway(c: &mut H2, code: u32) -> Result<(), String> {
    let mut o = H2Outcome::default();
    c.run_until(&mut o, Instant::now() + Duration::from_secs(5), |o| {
        o.goaway.is_some()
    })
    .map_err(|e| format!("{e} waiting for GOAWAY"))?;
    match o.goaway {
        Some((_, got)) if got == code => Ok(()),
        other => Err(format!(
            "GOAWAY {other:?} (wanted code {code:#x}), closed {}",
            o.closed
        )),
    }
}

fn attack_loop(plain: SocketAddr, tls: SocketAddr, stop: &AtomicBool, tally: &Tally) {
    let mut i = 0usize;
    while !stop.load(Relaxed) {
        let (name, attack) = ATTACKS[i % ATTACKS.len()];
        i += 1;
        tally.record(name, attack(plain, tls).map(|()| 1));
        // Valid traffic stays the bulk of the load.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Slowloris waves: 8 connections trickling a request head one byte per second (each must
/// get 408 within the header-read timeout) and 2 silent TLS connections (each must be
/// closed within the same timeout).
fn slow_loop(plain: SocketAddr, tls: SocketAddr, stop: &AtomicBool, tally: &Tally) {
    while !stop.load(Relaxed) {
        let mut wave: Vec<JoinHandle<(&'static str, Result<u64, String>)>> = Vec::new();
        for _ in 0..8 {
            wave.push(std::thread::spawn(move || {
                ("slowloris (request head)", slowloris(plain).map(|()| 1))
            }));
        }
        for _ in 0..2 {
            wave.push(std::thread::spawn(move || {
                (
                    "slowloris (silent TLS handshake)",
                    silent_tls(tls).map(|()| 1),
                )
            }));
        }
        for t in wave {
            match t.join() {
                Ok((class, r)) => tally.record(class, r),
                Err(_) => tally.fail("slowloris (request head)", "thread panicked"),
            }
        }
    }
}

fn slowloris(addr: SocketAddr) -> Result<(), String> {
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(1)))
        .map_err(|e| e.to_string())?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ")
        .map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    let mut tmp = [0u8; 1024];
    while start.elapsed() < SLOW_DEADLINE {
        match s.read(&mut tmp) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&tmp[..n]),
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut =>
            {
                if got.is_empty() {
                    let _ = s.write_all(b"a");
                }
            }
            Err(_) => break,
        }
    }
    if start.elapsed() >= SLOW_DEADLINE {
        return Err(format!("still open after {SLOW_DEADLINE:?}"));
    }
    if got.starts_with(b"HTTP/1.1 408") {
        Ok(())
    } else {
        Err(format!(
            "answer {:?} (wanted 408)",
            String::from_utf8_lossy(&got[..got.len().min(60)])
        ))
    }
}

fn silent_tls(addr: SocketAddr) -> Result<(), String> {
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(SLOW_DEADLINE))
        .map_err(|e| e.to_string())?;
    let mut tmp = [0u8; 1024];
    loop {
        match s.read(&mut tmp) {
            Ok(0) | Err(_) if start.elapsed() < SLOW_DEADLINE => return Ok(()),
            Ok(n) if n > 0 => {}
            _ => return Err(format!("still open after {SLOW_DEADLINE:?}")),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The server process: start, memory, threads, stats, stop.

fn free_port(udp_too: bool) -> Result<u16, String> {
    for _ in 0..50 {
        let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = l.local_addr().map_err(|e| e.to_string())?.port();
        if !udp_too || UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err("no free port".into())
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Thread names (`comm`, 15 bytes at most) of the process, counted.
fn thread_names(pid: u32) -> BTreeMap<String, usize> {
    let mut names = BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for e in dir.flatten() {
            if let Ok(name) = std::fs::read_to_string(e.path().join("comm")) {
                *names.entry(name.trim().to_string()).or_default() += 1;
            }
        }
    }
    names
}

/// `GET /stats` over a fresh connection.
fn stats(addr: SocketAddr) -> Result<serde_json::Value, String> {
    let mut c = H1::connect(addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    c.send(b"GET /stats HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")?;
    let r = c.read_response()?;
    if r.status != 200 {
        return Err(format!("/stats answered {}", r.status));
    }
    serde_json::from_slice(&r.body).map_err(|e| format!("/stats is not JSON: {e}"))
}

/// Arenas in use over HTTP/1.1 + HTTP/2 and, when `/stats` reports it, HTTP/3.
fn in_use(s: &serde_json::Value) -> u64 {
    get_u64(s, &["arena", "arenas_in_use"]) + get_u64(s, &["http3", "arena", "arenas_in_use"])
}

fn get_u64(v: &serde_json::Value, path: &[&str]) -> u64 {
    let mut v = v;
    for p in path {
        v = &v[*p];
    }
    v.as_u64().unwrap_or(0)
}

/// Memory samples of the server, every 100 ms.
#[derive(Default)]
struct Memory {
    peak_kib: AtomicU64,
    samples: AtomicU64,
    /// Peak arenas in use and open connections seen on `/stats` (sampled every second).
    peak_arenas_in_use: AtomicU64,
    peak_connections: AtomicU64,
}

fn sampler(pid: u32, plain: SocketAddr, stop: &AtomicBool, mem: &Memory) {
    let mut n = 0u64;
    while !stop.load(Relaxed) {
        if let Some(kib) = rss_kib(pid) {
            mem.peak_kib.fetch_max(kib, Relaxed);
            mem.samples.fetch_add(1, Relaxed);
        }
        n += 1;
        if n.is_multiple_of(10) {
            if let Ok(s) = stats(plain) {
                mem.peak_arenas_in_use.fetch_max(in_use(&s), Relaxed);
                mem.peak_connections
                    .fetch_max(get_u64(&s, &["connections", "active"]), Relaxed);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Server {
    child: Child,
    stderr_path: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs the soak.
pub fn soak(args: &[String]) -> Result<(), String> {
    let o = parse_options(args)?;
    if Command::new("h2load").arg("--version").output().is_err() {
        return Err(
            "h2load missing: run `sudo apt-get install -y nghttp2-client` or `cargo xtask peers`"
                .into(),
        );
    }
    let bin = match &o.server_bin {
        Some(b) => b.clone(),
        None => {
            if o.build {
                run(cargo().args([
                    "build",
                    "--release",
                    "-p",
                    "shockwave",
                    "--bin",
                    "shockwave",
                ]))?;
            }
            profile_dir("release").join("shockwave")
        }
    };
    let plain = SocketAddr::from(([127, 0, 0, 1], free_port(false)?));
    let tls = SocketAddr::from(([127, 0, 0, 1], free_port(true)?));
    let stderr_path =
        std::env::temp_dir().join(format!("shockwave-soak-{}.stderr", std::process::id()));
    let stderr = std::fs::File::create(&stderr_path)
        .map_err(|e| format!("{}: {e}", stderr_path.display()))?;
    let child = Command::new(&bin)
        .args(["serve", "--addr", &plain.to_string(), "--self-signed"])
        .args(["--tls-addr", &tls.to_string()])
        .args(["--workers", &o.workers.to_string()])
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let mut server = Server { child, stderr_path };
    let pid = server.child.id();
    SERVER_PID.store(pid, Relaxed);
    wait_listening(&plain.to_string(), &mut server.child)?;
    wait_listening(&tls.to_string(), &mut server.child)?;
    let duration = Duration::from_secs_f64(o.minutes * 60.0);
    eprintln!(
        "xtask soak: {} (pid {pid}, {} workers) on http://{plain} and https://{tls} (TLS + HTTP/3) for {:.1} min",
        bin.display(),
        o.workers,
        o.minutes
    );

    // Warm up every path once, then take the baseline.
    let tally = Tally::default();
    {
        let (stop, warm) = (AtomicBool::new(false), Tally::default());
        std::thread::scope(|s| {
            s.spawn(|| h1_keepalive(plain, &stop, &warm, 1));
            s.spawn(|| h2c_valid(plain, &stop, &warm, 2));
            std::thread::sleep(Duration::from_secs(2));
            stop.store(true, Relaxed);
        });
        if warm.snapshot().values().any(|c| c.1 > 0) {
            return Err("the warm-up requests failed (see above)".into());
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let baseline_kib = rss_kib(pid).ok_or("cannot read the server's VmRSS")?;
    let threads_before = thread_names(pid);

    let stop = AtomicBool::new(false);
    let mem = Memory::default();
    let started = Instant::now();
    std::thread::scope(|s| {
        let (stop, tally, mem, bin) = (&stop, &tally, &mem, &bin);
        s.spawn(move || sampler(pid, plain, stop, mem));
        for seed in [11, 12] {
            s.spawn(move || h1_keepalive(plain, stop, tally, seed));
        }
        s.spawn(move || h1_pipelined(plain, stop, tally, 13));
        for seed in [21, 22] {
            s.spawn(move || h2c_valid(plain, stop, tally, seed));
        }
        s.spawn(move || h2load_loop(plain, tls, stop, tally));
        s.spawn(move || h3_loop(bin, tls, stop, tally, 31));
        s.spawn(move || attack_loop(plain, tls, stop, tally));
        s.spawn(move || slow_loop(plain, tls, stop, tally));
        let mut last_report = Instant::now();
        while started.elapsed() < duration {
            std::thread::sleep(Duration::from_millis(200));
            if let Ok(Some(status)) = server.child.try_wait() {
                tally.fail(
                    "server process",
                    format!("exited during the soak: {status}"),
                );
                break;
            }
            if last_report.elapsed() >= Duration::from_secs(15) {
                last_report = Instant::now();
                let total: u64 = tally.snapshot().values().map(|c| c.0).sum();
                eprintln!(
                    "xtask soak: {:>4.0} s, {total} requests/attacks answered, RSS {} KiB",
                    started.elapsed().as_secs_f64(),
                    rss_kib(pid).unwrap_or(0)
                );
            }
        }
        stop.store(true, Relaxed);
        eprintln!("xtask soak: time is up; waiting for the clients (slowloris waves take up to {SLOW_DEADLINE:?})");
    });
    let traffic_secs = started.elapsed().as_secs_f64();

    // Let the server settle: only our /stats connection open, no arena in use.
    let mut failures: Vec<String> = Vec::new();
    let mut last = serde_json::Value::Null;
    let settle = Instant::now();
    let mut settled = false;
    while settle.elapsed() < Duration::from_secs(30) {
        match stats(plain) {
            Ok(s) => {
                settled = get_u64(&s, &["connections", "active"]) <= 1 && in_use(&s) == 0;
                last = s;
                if settled {
                    // Once more after a publication interval (arena stats every 100 ms).
                    std::thread::sleep(Duration::from_millis(300));
                    if let Ok(s) = stats(plain) {
                        settled = get_u64(&s, &["connections", "active"]) <= 1 && in_use(&s) == 0;
                        last = s;
                    }
                    if settled {
                        break;
                    }
                }
            }
            Err(e) => {
                failures.push(format!("/stats after the soak: {e}"));
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
    let final_kib = rss_kib(pid).unwrap_or(0);
    // Every worker still serves: 64 fresh connections land on all the SO_REUSEPORT
    // listeners (a worker that died would leave some of them unanswered).
    let mut fresh_ok = 0;
    for _ in 0..64 {
        let r = H1::connect(plain, Duration::from_secs(5))
            .map_err(|e| e.to_string())
            .and_then(|mut c| {
                c.send(b"GET / HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")?;
                c.read_response()
            });
        match r {
            Ok(r) if r.status == 200 && r.body == HELLO => fresh_ok += 1,
            Ok(r) => failures.push(format!(
                "fresh connection after the soak: status {}",
                r.status
            )),
            Err(e) => failures.push(format!("fresh connection after the soak: {e}")),
        }
    }
    let threads_after = thread_names(pid);
    let alive = matches!(server.child.try_wait(), Ok(None));

    // Graceful stop.
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let stop_start = Instant::now();
    let mut exit = None;
    while stop_start.elapsed() < Duration::from_secs(15) {
        if let Ok(Some(status)) = server.child.try_wait() {
            exit = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let stop_secs = stop_start.elapsed().as_secs_f64();
    let stderr_text = std::fs::read_to_string(&server.stderr_path).unwrap_or_default();

    // Checks.
    let classes = tally.snapshot();
    let valid = [
        "h1 keep-alive",
        "h1 pipelined",
        "h2c (own client)",
        "h2 TLS (h2load)",
        "h2c (h2load)",
        "h1 TLS (h2load --h1)",
        "h3 (shockwave get --http3)",
        "h3 load (shockwave get --http3 -n)",
    ];
    for class in valid {
        if classes.get(class).is_none_or(|c| c.0 == 0) {
            failures.push(format!("no successful {class} request"));
        }
    }
    for (name, _) in ATTACKS {
        if !classes.contains_key(name) {
            failures.push(format!("attack {name} never ran"));
        }
    }
    for (class, (_, failed)) in &classes {
        if *failed > 0 {
            failures.push(format!("{class}: {failed} failed"));
        }
    }
    if !alive {
        failures.push("the server process died".into());
    }
    if stderr_text.contains("panicked") {
        failures.push("a panic on the server's stderr".into());
    }
    if get_u64(&last, &["handler_panics"]) + get_u64(&last, &["http3", "handler_panics"]) > 0 {
        failures.push("handler panics counted in /stats".into());
    }
    if get_u64(&last, &["errors_by_status", "500"])
        + get_u64(&last, &["http3", "errors_by_status", "500"])
        > 0
    {
        failures.push("500 responses counted in /stats".into());
    }
    if !settled {
        failures.push(format!(
            "did not settle within 30 s: {} connections active, {} arenas in use",
            get_u64(&last, &["connections", "active"]),
            in_use(&last)
        ));
    }
    let workers_before = threads_before.get("shockwave-worke").copied().unwrap_or(0);
    let workers_after = threads_after.get("shockwave-worke").copied().unwrap_or(0);
    if workers_before != o.workers || workers_after != workers_before {
        failures.push(format!(
            "worker threads: {workers_before} at start, {workers_after} at the end (wanted {})",
            o.workers
        ));
    }
    let h3_before: usize = threads_before
        .iter()
        .filter(|(n, _)| n.starts_with("shockwave-h3"))
        .map(|(_, c)| c)
        .sum();
    let h3_after: usize = threads_after
        .iter()
        .filter(|(n, _)| n.starts_with("shockwave-h3"))
        .map(|(_, c)| c)
        .sum();
    if h3_after != h3_before {
        failures.push(format!(
            "HTTP/3 threads: {h3_before} at start, {h3_after} at the end"
        ));
    }
    // The HTTP/3 workers' pools count too when `/stats` reports them (under "http3").
    let retained_kib = (get_u64(&last, &["arena", "retained_bytes"])
        + get_u64(&last, &["http3", "arena", "retained_bytes"]))
        / 1024;
    let bound_kib = baseline_kib + retained_kib + o.rss_slack_mib * 1024;
    if final_kib > bound_kib {
        failures.push(format!(
            "final RSS {final_kib} KiB over the bound {bound_kib} KiB (baseline {baseline_kib} + retained arenas {retained_kib} + slack {} MiB)",
            o.rss_slack_mib
        ));
    }
    match exit {
        Some(s) if s.success() => {}
        Some(s) => failures.push(format!("SIGTERM: the server exited with {s}")),
        None => failures.push("SIGTERM: the server did not exit within 15 s".into()),
    }

    // Report.
    println!(
        "\nsoak: {:.1} s of traffic against {} ({} workers), stopped {:.2} s after SIGTERM\n",
        traffic_secs,
        bin.display(),
        o.workers,
        stop_secs
    );
    println!("  {:<42} {:>10} {:>8}", "class", "ok", "failed");
    let mut total_valid = 0u64;
    let mut total_attacks = 0u64;
    for (class, (ok, failed)) in &classes {
        println!("  {class:<42} {ok:>10} {failed:>8}");
        if valid.contains(class) {
            total_valid += ok;
        } else {
            total_attacks += ok;
        }
    }
    let total_failed: u64 = classes.values().map(|c| c.1).sum();
    println!(
        "\n  valid requests answered correctly: {total_valid}; attacks with the expected outcome: {total_attacks}; failures: {total_failed}"
    );
    println!(
        "  RSS: baseline {:.1} MiB, peak {:.1} MiB, final {:.1} MiB (bound {:.1} MiB = baseline + retained arenas {:.1} MiB + slack {} MiB); {} samples",
        baseline_kib as f64 / 1024.0,
        mem.peak_kib.load(Relaxed) as f64 / 1024.0,
        final_kib as f64 / 1024.0,
        bound_kib as f64 / 1024.0,
        retained_kib as f64 / 1024.0,
        o.rss_slack_mib,
        mem.samples.load(Relaxed)
    );
    println!(
        "  /stats at the end: {} connections active (ours), arenas in use {} (peak seen {}), idle {}, created {}, discarded {}, gets {}, peak arena {} B; peak connections {}",
        get_u64(&last, &["connections", "active"]),
        get_u64(&last, &["arena", "arenas_in_use"]),
        mem.peak_arenas_in_use.load(Relaxed),
        get_u64(&last, &["arena", "arenas_idle"]),
        get_u64(&last, &["arena", "arenas_created"]),
        get_u64(&last, &["arena", "arenas_discarded"]),
        get_u64(&last, &["arena", "gets"]),
        get_u64(&last, &["arena", "peak_arena_bytes"]),
        mem.peak_connections.load(Relaxed),
    );
    println!(
        "  /stats totals (HTTP/1.1 + HTTP/2): {} requests, responses {}, errors by status {}, timeouts {}, TLS handshake failures {}, handler panics {}",
        get_u64(&last, &["requests"]),
        last["responses"],
        last["errors_by_status"],
        get_u64(&last, &["timeouts"]),
        get_u64(&last, &["connections", "tls_handshake_failures"]),
        get_u64(&last, &["handler_panics"]),
    );
    if last["http3"].is_object() {
        println!(
            "  /stats HTTP/3: {} requests, responses {}, errors by status {}, arenas in use {}, idle {}, retained {} B, peak arena {} B, handler panics {}",
            get_u64(&last, &["http3", "requests"]),
            last["http3"]["responses"],
            last["http3"]["errors_by_status"],
            get_u64(&last, &["http3", "arena", "arenas_in_use"]),
            get_u64(&last, &["http3", "arena", "arenas_idle"]),
            get_u64(&last, &["http3", "arena", "retained_bytes"]),
            get_u64(&last, &["http3", "arena", "peak_arena_bytes"]),
            get_u64(&last, &["http3", "handler_panics"]),
        );
    } else {
        println!("  /stats has no \"http3\" section: HTTP/3 arenas are not checked");
    }
    println!(
        "  worker threads {workers_before} -> {workers_after}, HTTP/3 threads {h3_before} -> {h3_after}, fresh connections answered after the soak {fresh_ok}/64; server stderr: {}",
        server.stderr_path.display()
    );
    let messages = tally.messages.lock().unwrap_or_else(|e| e.into_inner());
    if failures.is_empty() {
        let _ = std::fs::remove_file(&server.stderr_path);
        println!("\nsoak passed");
        Ok(())
    } else {
        for m in messages.iter() {
            println!("  first failures: {m}");
        }
        Err(format!("soak failed:\n  {}", failures.join("\n  ")))
    }
}
