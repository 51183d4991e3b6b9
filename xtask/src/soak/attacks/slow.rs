//! Slow and silent peers: slowloris on the request head, silent TLS handshakes, and TLS
//! garbage instead of a ClientHello.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Attack;
use crate::soak::tally::Tally;
use crate::soak::{PATIENCE, SLOW_DEADLINE};

pub(super) const ATTACKS: &[Attack] = &[("TLS garbage instead of a ClientHello", |_, t| {
    let mut s = TcpStream::connect(t).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(PATIENCE))
        .map_err(|e| e.to_string())?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut all = Vec::new();
    match s.read_to_end(&mut all) {
        // A TLS alert at most, then the close; never an HTTP answer.
        Ok(_) if !all.starts_with(b"HTTP/") => Ok(()),
        Ok(_) => Err("plaintext HTTP answered on the TLS port".into()),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut => {
            Err("not closed within 5 s".into())
        }
        Err(_) => Ok(()),
    }
})];

/// Slowloris waves: 8 connections trickling a request head one byte per second (each must
/// get 408 within the header-read timeout) and 2 silent TLS connections (each must be
/// closed within the same timeout).
pub(crate) fn slow_loop(plain: SocketAddr, tls: SocketAddr, stop: &AtomicBool, tally: &Tally) {
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
