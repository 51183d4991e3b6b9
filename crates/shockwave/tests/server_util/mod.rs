//! Shared helpers for the server integration tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use shockwave::server::{Server, ServerBuilder, ServerHandle};

/// A builder bound to an ephemeral loopback port, one worker, short grace.
pub fn builder() -> ServerBuilder {
    Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .workers(1)
        .shutdown_grace(Duration::from_secs(2))
        .handle_signals(false)
}

/// A connected raw client with a read timeout so a broken server fails the test.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Reads until EOF (the server closed), returning everything.
pub fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return out,
            Err(e) => panic!(
                "read failed after {} bytes: {e}: {:?}",
                out.len(),
                String::from_utf8_lossy(&out)
            ),
        }
    }
}

/// One parsed response: status, lower-cased headers, body, chunked trailer fields.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub trailers: Vec<(String, String)>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads exactly one response (Content-Length or chunked) from a keep-alive connection.
/// `pending` holds bytes read past earlier responses.
pub fn read_response(s: &mut TcpStream, pending: &mut Vec<u8>) -> Resp {
    read_response_for(s, pending, false)
}

pub fn read_response_for(s: &mut TcpStream, pending: &mut Vec<u8>, head_request: bool) -> Resp {
    let head_end = loop {
        if let Some(i) = find(pending, b"\r\n\r\n") {
            break i + 4;
        }
        fill(s, pending);
    };
    let head = String::from_utf8(pending[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    pending.drain(..head_end);
    let get = |n: &str| headers.iter().find(|(h, _)| h == n).map(|(_, v)| v.clone());
    let mut trailers = Vec::new();
    let body = if head_request || status == 204 || status == 304 || status < 200 {
        Vec::new()
    } else if let Some(len) = get("content-length") {
        let len: usize = len.parse().unwrap();
        while pending.len() < len {
            fill(s, pending);
        }
        pending.drain(..len).collect()
    } else if get("transfer-encoding").as_deref() == Some("chunked") {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(i) = find(pending, b"\r\n") {
                    break i;
                }
                fill(s, pending);
            };
            let size =
                usize::from_str_radix(std::str::from_utf8(&pending[..line_end]).unwrap(), 16)
                    .unwrap();
            pending.drain(..line_end + 2);
            if size == 0 {
                // The trailer section: field lines up to an empty line.
                loop {
                    let line_end = loop {
                        if let Some(i) = find(pending, b"\r\n") {
                            break i;
                        }
                        fill(s, pending);
                    };
                    let line = String::from_utf8(pending[..line_end].to_vec()).unwrap();
                    pending.drain(..line_end + 2);
                    if line.is_empty() {
                        break;
                    }
                    let (n, v) = line.split_once(':').unwrap();
                    trailers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
                break;
            }
            while pending.len() < size + 2 {
                fill(s, pending);
            }
            body.extend_from_slice(&pending[..size]);
            pending.drain(..size + 2);
        }
        body
    } else {
        let mut rest = std::mem::take(pending);
        rest.extend(read_to_close(s));
        rest
    };
    Resp {
        status,
        headers,
        body,
        trailers,
    }
}

fn fill(s: &mut TcpStream, pending: &mut Vec<u8>) {
    let mut buf = [0u8; 16384];
    let n = s.read(&mut buf).expect("read");
    assert!(
        n > 0,
        "server closed early; have {:?}",
        String::from_utf8_lossy(pending)
    );
    pending.extend_from_slice(&buf[..n]);
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Sends `req` on a new connection and returns the one response.
pub fn roundtrip(addr: SocketAddr, req: &[u8]) -> Resp {
    let mut s = connect(addr);
    s.write_all(req).unwrap();
    let mut pending = Vec::new();
    read_response(&mut s, &mut pending)
}

/// Fails (never skips) when a third-party peer is missing.
pub fn require_tool(tool: &str, install: &str) {
    let ok = std::process::Command::new(tool)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(ok, "{tool} missing: run `{install}` or `cargo xtask test`");
}

/// Fails (never skips) when python3 cannot `import {modules}` (comma-separated), naming
/// the command that installs them.
pub fn require_python_modules(modules: &str, install: &str) {
    let ok = std::process::Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success());
    let names = modules.split(", ").collect::<Vec<_>>();
    let plural = if names.len() > 1 { "s" } else { "" };
    assert!(
        ok,
        "python3 module{plural} {} missing: run `{install}` or `cargo xtask test`",
        names.join("/")
    );
}

/// Stops the server and checks it exited cleanly.
pub fn stop(handle: ServerHandle) {
    handle.stop().expect("server stops cleanly");
}
