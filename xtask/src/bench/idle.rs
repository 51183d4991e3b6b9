//! Memory per idle keep-alive connection: the harness opens many connections to one
//! server, sends one `GET /` on each and reads its response, then leaves them all open
//! and idle; the growth of the server's resident set (summed over its process tree)
//! divided by the connections still open is the cost of one idle connection.
//!
//! The connections are the harness's own blocking sockets (h2load and wrk close theirs
//! when they finish), so the harness raises its open-files limit first
//! ([`crate::load::raise_nofile_limit`]); the servers it starts inherit the raised limit.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::loadrun::ServerSpec;
use super::model::IdleMemory;

/// The protocol spoken on the idle connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// HTTP/1.1 keep-alive.
    H1,
    /// HTTP/2 with prior knowledge (h2c): preface, SETTINGS (acknowledged), one stream.
    H2c,
}

impl Proto {
    /// The protocol's name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Proto::H1 => "HTTP/1.1",
            Proto::H2c => "HTTP/2 (h2c)",
        }
    }
}

const BODY: &[u8] = b"Hello, World!";

/// The bytes a client sends to open an h2c connection and request `GET /` on stream 1:
/// the preface, an empty SETTINGS frame and a HEADERS frame (END_STREAM | END_HEADERS)
/// whose HPACK block uses the static table (`:method GET`, `:scheme http`, `:path /`)
/// and a literal `:authority` (RFC 9113 §3.4, §6.2; RFC 7541 §6.1, §6.2.1).
pub fn h2c_request(authority: &str) -> Vec<u8> {
    let mut block = vec![0x82, 0x86, 0x84, 0x41, authority.len() as u8];
    block.extend_from_slice(authority.as_bytes());
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    out.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    let len = block.len() as u32;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(&[1, 0x5, 0, 0, 0, 1]);
    out.extend_from_slice(&block);
    out
}

/// What the client must do after reading `buf` from an h2c connection: the bytes to
/// answer (a SETTINGS ACK for each SETTINGS frame), the bytes of complete frames consumed,
/// and whether stream 1 ended. A GOAWAY is an error.
pub fn h2c_progress(buf: &[u8]) -> Result<(Vec<u8>, usize, bool), String> {
    let mut at = 0;
    let mut reply = Vec::new();
    let mut ended = false;
    while buf.len() - at >= 9 {
        let len = u32::from_be_bytes([0, buf[at], buf[at + 1], buf[at + 2]]) as usize;
        if buf.len() - at < 9 + len {
            break;
        }
        let (ty, flags) = (buf[at + 3], buf[at + 4]);
        let stream =
            u32::from_be_bytes([buf[at + 5], buf[at + 6], buf[at + 7], buf[at + 8]]) & 0x7fff_ffff;
        match ty {
            4 if flags & 1 == 0 => reply.extend_from_slice(&[0, 0, 0, 4, 1, 0, 0, 0, 0]),
            7 => return Err("the server sent GOAWAY".into()),
            0 | 1 if stream == 1 && flags & 1 == 1 => ended = true,
            _ => {}
        }
        at += 9 + len;
    }
    Ok((reply, at, ended))
}

/// Opens one connection, requests `GET /` and reads the response; the socket stays open.
fn open(addr: SocketAddr, proto: Proto) -> Result<TcpStream, String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let _ = s.set_nodelay(true);
    let request = match proto {
        Proto::H1 => format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes(),
        Proto::H2c => h2c_request(&addr.to_string()),
    };
    s.write_all(&request).map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("closed before the response ended".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        match proto {
            Proto::H1 => {
                if buf.ends_with(BODY) {
                    return Ok(s);
                }
            }
            Proto::H2c => {
                let (reply, used, ended) = h2c_progress(&buf)?;
                buf.drain(..used);
                if !reply.is_empty() {
                    s.write_all(&reply).map_err(|e| format!("write: {e}"))?;
                }
                if ended {
                    return Ok(s);
                }
            }
        }
    }
}

/// True while the server has not closed `s` (nothing to read, or bytes that are not
/// an end of stream).
fn still_open(s: &TcpStream) -> bool {
    if s.set_nonblocking(true).is_err() {
        return false;
    }
    let mut b = [0u8; 256];
    match (&*s).read(&mut b) {
        Ok(0) => false,
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
    }
}

/// Starts `spec`, serves one warm-up connection, reads the RSS of its process tree, opens
/// `n` idle connections, waits for the server to settle and reads it again.
pub fn measure(spec: &ServerSpec, proto: Proto, n: usize) -> Result<IdleMemory, String> {
    let server = spec.start()?;
    let addr: SocketAddr = server
        .addr
        .parse()
        .map_err(|e| format!("{}: {e}", server.addr))?;
    drop(open(addr, proto)?);
    let settle = || std::thread::sleep(Duration::from_millis(500));
    settle();
    let before = server.mem()?;
    let started = Instant::now();
    let mut conns = Vec::with_capacity(n);
    let mut errors = 0u64;
    let mut first_error = None;
    for _ in 0..n {
        match open(addr, proto) {
            Ok(s) => conns.push(s),
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(e);
                if errors > 100 {
                    break;
                }
            }
        }
    }
    let opening = started.elapsed();
    settle();
    let after = server.mem()?;
    let open_now = conns.iter().filter(|s| still_open(s)).count() as u64;
    drop(conns);
    drop(server);
    if let Some(e) = &first_error {
        eprintln!("xtask bench:   {errors} connection(s) failed, the first: {e}");
    }
    Ok(IdleMemory {
        protocol: proto.name().into(),
        server: spec.label.clone(),
        connections: n as u64,
        open: open_now,
        rss_before_kib: before.rss_kib,
        rss_after_kib: after.rss_kib,
        opening_ms: opening.as_millis() as u64,
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h2c_request_is_preface_settings_and_one_headers_frame() {
        let r = h2c_request("127.0.0.1:80");
        assert!(r.starts_with(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
        let frames = &r[24..];
        assert_eq!(&frames[..9], &[0, 0, 0, 4, 0, 0, 0, 0, 0]);
        let h = &frames[9..];
        assert_eq!(usize::from(h[2]), h.len() - 9, "HEADERS length");
        assert_eq!(
            (h[3], h[4], h[8]),
            (1, 0x5, 1),
            "HEADERS, END_STREAM|END_HEADERS, stream 1"
        );
        // The block decodes to the request with the project's own HPACK decoder.
        let mut d = shockwave_hpack::Decoder::new();
        let mut fields = Vec::new();
        d.decode(&h[9..], |n: &[u8], v: &[u8]| {
            fields.push((n.to_vec(), v.to_vec()))
        })
        .unwrap();
        let want: Vec<(Vec<u8>, Vec<u8>)> = [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "127.0.0.1:80"),
        ]
        .iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect();
        assert_eq!(fields, want);
    }

    #[test]
    fn h2c_progress_acks_settings_and_sees_the_end_of_stream_1() {
        let mut input = vec![0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100]; // SETTINGS
        input.extend_from_slice(&[0, 0, 0, 4, 1, 0, 0, 0, 0]); // SETTINGS ACK
        input.extend_from_slice(&[0, 0, 1, 1, 4, 0, 0, 0, 1, 0x88]); // HEADERS :status 200
        let (reply, used, ended) = h2c_progress(&input).unwrap();
        assert_eq!(reply, [0, 0, 0, 4, 1, 0, 0, 0, 0]);
        assert_eq!(used, input.len());
        assert!(!ended);
        // DATA with END_STREAM on stream 1, then half a frame.
        let mut more = vec![0, 0, 13, 0, 1, 0, 0, 0, 1];
        more.extend_from_slice(BODY);
        more.extend_from_slice(&[0, 0, 8, 6]);
        let (reply, used, ended) = h2c_progress(&more).unwrap();
        assert!(reply.is_empty());
        assert_eq!(used, 9 + 13);
        assert!(ended);
        let goaway = [0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(h2c_progress(&goaway).is_err());
    }
}
