//! HTTP/1.1 valid traffic: keep-alive and 16-deep pipelining with GETs and `/echo`
//! uploads (Content-Length and chunked), each answer checked byte for byte. Requests are
//! written and responses parsed by `shockwave-http11` (the attacks reuse this client to
//! read the server's answers to their hand-made bytes).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use shockwave_http11::{
    parse_response_heap, write_chunk, write_last_chunk, BodyDecoder, BodyFraming, BodyLength,
    HeapHeaders, Limits, Method, RequestHead, Status,
};

use super::{connected, HELLO, JSON};
use crate::soak::tally::{Rng, Tally};

/// A minimal HTTP/1.1 client over a blocking socket.
pub(crate) struct H1 {
    pub(crate) sock: TcpStream,
    buf: Vec<u8>,
    headers: HeapHeaders,
    limits: Limits,
}

/// A response: status, body, and whether the server ends the connection after it.
pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    pub(crate) close: bool,
}

/// Response heads larger than this are an error.
const MAX_HEAD: usize = 1 << 20;

impl H1 {
    pub(crate) fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<H1> {
        let sock = TcpStream::connect_timeout(&addr, timeout)?;
        sock.set_read_timeout(Some(timeout))?;
        sock.set_write_timeout(Some(timeout))?;
        sock.set_nodelay(true)?;
        let limits = Limits {
            max_header_bytes: MAX_HEAD,
            ..Limits::default()
        };
        Ok(H1 {
            sock,
            buf: Vec::new(),
            headers: HeapHeaders::new(),
            limits,
        })
    }

    pub(crate) fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
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

    /// Reads one response to a GET or POST (skipping 1xx interim responses).
    pub(crate) fn read_response(&mut self) -> Result<Resp, String> {
        loop {
            let (status, framing, keep_alive, head_len) = loop {
                match parse_response_heap(&self.buf, &mut self.headers, &self.limits) {
                    Ok(Status::Complete((r, n))) => {
                        break (
                            r.status().as_u16(),
                            r.framing(&Method::GET),
                            r.keep_alive(),
                            n,
                        )
                    }
                    Ok(Status::Partial) => self.fill()?,
                    Err(e) => {
                        return Err(format!(
                            "bad response head ({e}): {:?}",
                            String::from_utf8_lossy(&self.buf[..self.buf.len().min(120)])
                        ))
                    }
                }
            };
            self.buf.drain(..head_len);
            if (100..200).contains(&status) {
                continue; // 100 Continue: the real answer follows
            }
            let mut close = !keep_alive;
            let body = match framing {
                BodyFraming::Empty => Vec::new(),
                BodyFraming::CloseDelimited => {
                    while self.fill().is_ok() {}
                    close = true;
                    std::mem::take(&mut self.buf)
                }
                framing => self.read_body(framing)?,
            };
            return Ok(Resp {
                status,
                body,
                close,
            });
        }
    }

    /// A Content-Length or chunked body, decoded by `shockwave-http11`.
    fn read_body(&mut self, framing: BodyFraming) -> Result<Vec<u8>, String> {
        let mut decoder = BodyDecoder::new(framing, &self.limits);
        let mut body = Vec::new();
        loop {
            let step = decoder
                .decode(&self.buf)
                .map_err(|e| format!("bad response body: {e}"))?;
            body.extend_from_slice(step.data);
            let (consumed, done) = (step.consumed, step.done);
            self.buf.drain(..consumed);
            if done {
                return Ok(body);
            }
            if consumed == 0 {
                self.fill()?;
            }
        }
    }

    /// True if the peer closes the connection within `within` (EOF or reset), with no
    /// further bytes.
    pub(crate) fn closes(&mut self, within: Duration) -> Result<(), String> {
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

/// A request head written by `shockwave-http11` (Host `soak`), then `body` as is.
pub(crate) fn request(
    method: &Method,
    target: &str,
    headers: &[(&[u8], &[u8])],
    body: BodyLength,
    keep_alive: bool,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    RequestHead {
        method,
        target,
        host: "soak",
        headers,
        body,
        keep_alive,
    }
    .write_to(&mut out);
    out
}

/// One valid HTTP/1.1 request and the answer it must get.
struct H1Req {
    bytes: Vec<u8>,
    status: u16,
    body: Option<Vec<u8>>,
}

fn h1_request(rng: &mut Rng, allow_large: bool) -> H1Req {
    let get = |target: &str, headers: &[(&[u8], &[u8])]| {
        request(&Method::GET, target, headers, BodyLength::None, true)
    };
    match rng.below(10) {
        0..=2 => H1Req {
            bytes: get("/", &[]),
            status: 200,
            body: Some(HELLO.to_vec()),
        },
        3..=4 => H1Req {
            bytes: get("/json", &[(b"Accept", b"*/*")]),
            status: 200,
            body: Some(JSON.to_vec()),
        },
        5 => H1Req {
            bytes: get("/missing", &[]),
            status: 404,
            body: None,
        },
        6..=7 => {
            let max = if allow_large { 64 * 1024 } else { 2048 };
            let len = rng.below(max) as usize;
            let body = rng.body(len);
            let mut bytes = request(
                &Method::POST,
                "/echo",
                &[(b"Content-Type", b"application/x-soak")],
                BodyLength::Known(body.len() as u64),
                true,
            );
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
            let mut bytes = request(&Method::POST, "/echo", &[], BodyLength::Chunked, true);
            let mut rest = &body[..];
            while !rest.is_empty() {
                let n = (rng.below(9000) as usize + 1).min(rest.len());
                write_chunk(&mut bytes, &rest[..n]);
                rest = &rest[n..];
            }
            write_last_chunk(&mut bytes, &[]);
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

/// Keep-alive: one request at a time, a new connection every 300 requests.
pub(crate) fn h1_keepalive(addr: SocketAddr, stop: &AtomicBool, tally: &Tally, seed: u64) {
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
pub(crate) fn h1_pipelined(addr: SocketAddr, stop: &AtomicBool, tally: &Tally, seed: u64) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use shockwave_http11::parse_request_heap;

    #[test]
    fn generated_requests_parse_with_their_bodies() {
        let mut rng = Rng(7);
        let limits = Limits::default();
        for _ in 0..200 {
            let req = h1_request(&mut rng, true);
            let mut headers = HeapHeaders::new();
            let Ok(Status::Complete((r, head))) =
                parse_request_heap(&req.bytes, &mut headers, &limits)
            else {
                panic!("{:?}", String::from_utf8_lossy(&req.bytes));
            };
            assert_eq!(r.host(), Some(&b"soak"[..]));
            assert!(r.keep_alive());
            let mut body = Vec::new();
            let mut rest = &req.bytes[head..];
            let mut dec = BodyDecoder::new(r.framing(), &limits);
            loop {
                let step = dec.decode(rest).unwrap();
                body.extend_from_slice(step.data);
                rest = &rest[step.consumed..];
                if step.done {
                    break;
                }
            }
            assert!(rest.is_empty());
            if r.method() == Method::POST {
                assert_eq!(Some(&body), req.body.as_ref());
            } else {
                assert!(body.is_empty());
            }
        }
    }
}
