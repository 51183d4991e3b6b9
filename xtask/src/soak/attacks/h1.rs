//! HTTP/1.1 attacks: smuggling, oversized heads, bodies and lines, malformed chunked,
//! declared-but-never-sent bodies, abrupt disconnects and a pipelining flood. The request
//! bytes are hand-made on purpose: malformed input is their point.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use super::{Attack, SERVER_PID};
use crate::soak::monitor::{get_u64, rss_kib, stats};
use crate::soak::traffic::h1::H1;
use crate::soak::traffic::HELLO;
use crate::soak::PATIENCE;

pub(super) const ATTACKS: &[Attack] = &[
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
            let mut c = H1::connect(a, PATIENCE).map_err(|e| e.to_string())?;
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
        let mut c = H1::connect(a, PATIENCE).map_err(|e| e.to_string())?;
        c.send(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n")?;
        c.send(&vec![b'x'; 64 * 1024])?;
        let _ = c.sock.shutdown(Shutdown::Both);
        let mut c = H1::connect(a, PATIENCE).map_err(|e| e.to_string())?;
        c.send(b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n")?;
        c.send(&[b'y'; 100])?;
        drop(c);
        Ok(())
    }),
    ("h1 abrupt disconnect mid-response", |a, _| {
        let mut c = H1::connect(a, PATIENCE).map_err(|e| e.to_string())?;
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
];

/// Sends `request`, expects one answer with a status in `statuses`, then the close.
pub(super) fn reject(addr: SocketAddr, request: &[u8], statuses: &[u16]) -> Result<(), String> {
    let mut c = H1::connect(addr, PATIENCE).map_err(|e| e.to_string())?;
    // The server may answer and close before reading everything: only the answer counts.
    let _ = c.sock.write_all(request);
    let r = c.read_response()?;
    if !statuses.contains(&r.status) {
        return Err(format!("status {} (wanted one of {statuses:?})", r.status));
    }
    c.closes(PATIENCE)
}
