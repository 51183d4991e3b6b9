//! HTTP/2 attacks: invalid preface, Rapid Reset, CONTINUATION, PING and SETTINGS floods,
//! an HPACK bomb, too many concurrent streams and a zero flow-control window. Frames come
//! from `shockwave-http2-frames`; only the HPACK bomb's field block is hand-made.

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use shockwave_http2_frames::{ErrorCode, Setting, SettingId, PREFACE};

use super::h1::reject;
use super::Attack;
use crate::soak::traffic::h2::{
    continuation, headers, ping, request_block, rst_stream, settings, window_update, H2Outcome, H2,
};
use crate::soak::traffic::{HELLO, JSON};
use crate::soak::PATIENCE;

pub(super) const ATTACKS: &[Attack] = &[
    ("h2 invalid preface", |a, _| {
        // Not the preface: served as HTTP/1.1, whose parser rejects `PRI * HTTP/2.1`.
        reject(a, b"PRI * HTTP/2.1\r\n\r\nSM\r\n\r\n", &[400, 505])?;
        // The preface, then a frame other than SETTINGS (RFC 9113 §3.4).
        let mut s = TcpStream::connect(a).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(PATIENCE))
            .map_err(|e| e.to_string())?;
        let mut out = PREFACE.to_vec();
        ping(&mut out, false, [0; 8]);
        s.write_all(&out).map_err(|e| e.to_string())?;
        let mut c = H2::over(s);
        expect_goaway(&mut c, ErrorCode::ProtocolError)
    }),
    ("h2 Rapid Reset (CVE-2023-44487)", |a, _| {
        h2_attack(a, |out| {
            for i in 0..1000u32 {
                let id = 1 + 2 * i;
                let block = request_block("POST", "/echo", None);
                headers(out, id, &block, false, true);
                rst_stream(out, id, ErrorCode::Cancel);
            }
        })
    }),
    ("h2 CONTINUATION flood", |a, _| {
        h2_attack(a, |out| {
            headers(out, 1, &request_block("GET", "/", None), false, false);
            for _ in 0..300 {
                continuation(out, 1, &[0x40; 1000], false);
            }
        })
    }),
    ("h2 PING flood", |a, _| {
        h2_attack(a, |out| {
            for i in 0..20_000u64 {
                ping(out, false, i.to_be_bytes());
            }
        })
    }),
    ("h2 SETTINGS flood", |a, _| {
        h2_attack(a, |out| {
            for _ in 0..20_000 {
                settings(out, &[]);
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
        headers(&mut out, 1, &block, true, true);
        headers(&mut out, 3, &request_block("GET", "/", None), true, true);
        c.sock.write_all(&out).map_err(|e| e.to_string())?;
        let mut o = H2Outcome::default();
        c.run_until(&mut o, Instant::now() + PATIENCE, |o| {
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
            headers(
                &mut out,
                1 + 2 * i,
                &request_block("POST", "/echo", None),
                false,
                true,
            );
        }
        c.sock.write_all(&out).map_err(|e| e.to_string())?;
        let mut o = H2Outcome::default();
        let refused = |o: &H2Outcome| {
            o.streams
                .values()
                .filter(|s| s.reset == Some(ErrorCode::RefusedStream.as_u32()))
                .count()
        };
        c.run_until(&mut o, Instant::now() + PATIENCE, |o| refused(o) >= 50)?;
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
        let zero = [Setting::new(SettingId::InitialWindowSize, 0)];
        let mut c = H2::connect(a, &zero, PATIENCE).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        headers(
            &mut out,
            1,
            &request_block("GET", "/json", None),
            true,
            true,
        );
        c.sock.write_all(&out).map_err(|e| e.to_string())?;
        let mut o = H2Outcome::default();
        c.run_until(&mut o, Instant::now() + PATIENCE, |o| {
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
        let _ = c.sock.set_read_timeout(Some(PATIENCE));
        let mut wu = Vec::new();
        window_update(&mut wu, 1, 1000);
        c.sock.write_all(&wu).map_err(|e| e.to_string())?;
        c.run_until(&mut o, Instant::now() + PATIENCE, |o| o.streams[&1].done)?;
        if o.streams[&1].body != JSON {
            return Err(format!("body after credit: {:?}", o.streams[&1].body));
        }
        Ok(())
    }),
];

/// A connection past the handshake: our SETTINGS acknowledged.
fn h2_ready(addr: SocketAddr) -> Result<H2, String> {
    let mut c = H2::connect(addr, &[], PATIENCE).map_err(|e| e.to_string())?;
    c.pre_ack().map_err(|e| e.to_string())?;
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
    let r = expect_goaway(&mut c, ErrorCode::EnhanceYourCalm);
    let _ = c.sock.shutdown(Shutdown::Both);
    let _ = writer.join();
    r
}

/// Reads until GOAWAY and checks its error code.
fn expect_goaway(c: &mut H2, code: ErrorCode) -> Result<(), String> {
    let code = code.as_u32();
    let mut o = H2Outcome::default();
    c.run_until(&mut o, Instant::now() + PATIENCE, |o| o.goaway.is_some())
        .map_err(|e| format!("{e} waiting for GOAWAY"))?;
    match o.goaway {
        Some((_, got)) if got == code => Ok(()),
        other => Err(format!(
            "GOAWAY {other:?} (wanted code {code:#x}), closed {}",
            o.closed
        )),
    }
}
