//! The sans-I/O HTTP/2 connection (`shockwave_http2_frames::conn::Connection`, server
//! role) fed a client byte stream after the connection preface, the way a server driver
//! uses it: events drained, stream-side calls retried, timers ticked on a synthetic clock.
//!
//! Input: `[config: u8][n: u8][n control bytes][wire...]`. `config` picks the engine's
//! limits (defaults, or tiny windows / stream counts / header and control-frame limits);
//! the control bytes, cycled, cut the wire into reads and choose what the stream side does
//! between reads: answer each request at once, read its body first, reset it, start a
//! graceful shutdown, or leave the output unread (backpressure).
//!
//! Checked: no panic; `recv` never reports more bytes than it was given; every announced
//! request has a head; a connection error is sticky; `poll_timeout` is never in the past
//! after `handle_timeout`; once the peer is gone and every handler released its stream,
//! no stream is left behind.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use shockwave_http2_frames::conn::{Config, Connection, Event, StreamError, StreamId};
use shockwave_http2_frames::{ErrorCode, PREFACE};

fn config(c: u8) -> Config {
    if c & 1 == 0 {
        return Config::default();
    }
    Config {
        max_concurrent_streams: 2,
        initial_stream_window: if c & 2 != 0 { 0 } else { 100 },
        initial_connection_window: 65_535,
        max_header_list_size: 200,
        max_header_block_len: 100,
        max_continuation_frames: 2,
        max_resets_per_window: 3,
        max_local_resets_per_window: 4,
        max_glitches_per_window: 5,
        reset_window: Duration::from_secs(60),
        max_pending_control_frames: 4,
        max_output_buffer: 0,
        keep_alive_interval: Some(Duration::from_secs(1)),
        keep_alive_timeout: Duration::from_secs(2),
        stream_stall_timeout: Some(Duration::from_secs(3)),
        ..Config::default()
    }
}

/// What the stream side does with a request.
#[derive(Clone, Copy, PartialEq)]
enum Plan {
    Answer,
    ReadThenAnswer,
    Reset,
}

struct Handler {
    id: StreamId,
    plan: Plan,
    body: usize,
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let cfg = data[0];
    let n = usize::from(data[1]).min(data.len() - 2);
    let (ctl, wire) = data[2..].split_at(n);
    let ctl: &[u8] = if ctl.is_empty() { &[0xff] } else { ctl };
    // A synthetic clock: each step moves it by a control-chosen amount.
    let mut now = Instant::now();

    let mut conn = Connection::new(config(cfg));
    assert!(!conn.pending_output().is_empty(), "our SETTINGS are queued");
    assert_eq!(conn.recv(PREFACE, now), Ok(PREFACE.len()));

    let mut handlers: Vec<Handler> = Vec::new();
    let mut rbuf: Vec<u8> = Vec::new();
    let mut buf = [0u8; 512];
    let (mut fed, mut step, mut stalled) = (0usize, 0usize, 0usize);
    let mut failed = None;
    while fed < wire.len() || !rbuf.is_empty() {
        let c = ctl[step % ctl.len()];
        step += 1;
        if stalled > ctl.len() + 1 {
            break; // a partial frame at the end, or backpressure never relieved
        }
        let len = (usize::from(c & 0x3f) * 7 + 1).min(wire.len() - fed);
        rbuf.extend_from_slice(&wire[fed..fed + len]);
        fed += len;
        now += Duration::from_millis(u64::from(c & 0x1f) * 100);
        match conn.recv(&rbuf, now) {
            Ok(used) => {
                assert!(used <= rbuf.len());
                rbuf.drain(..used);
                if used == 0 && fed == wire.len() {
                    stalled += 1;
                }
            }
            Err(e) => {
                assert_eq!(conn.error(), Some(e));
                assert_eq!(
                    conn.recv(b"more", now),
                    Err(e),
                    "a connection error is sticky"
                );
                failed = Some(e);
            }
        }
        while let Some(ev) = conn.poll_event() {
            if let Event::Request { stream_id } = ev {
                let mut head = conn
                    .take_head(stream_id)
                    .expect("an announced request has a head");
                let valid = head.validate_request().is_ok();
                let plan = match (valid, (c >> 6) & 3) {
                    (false, _) | (_, 3) => Plan::Reset,
                    (_, 0) => Plan::Answer,
                    _ => Plan::ReadThenAnswer,
                };
                conn.recycle_head(head);
                handlers.push(Handler {
                    id: stream_id,
                    plan,
                    body: 0,
                });
            }
        }
        // The stream side: every handler makes as much progress as it can.
        handlers.retain_mut(|h| {
            let done = match h.plan {
                Plan::Reset => {
                    conn.reset(h.id, ErrorCode::Cancel);
                    true
                }
                Plan::ReadThenAnswer => loop {
                    match conn.read_data(h.id, &mut buf) {
                        Ok(0) => {
                            h.plan = Plan::Answer;
                            break false;
                        }
                        Ok(n) => {
                            assert!(n <= buf.len());
                            h.body += n;
                        }
                        Err(StreamError::WouldBlock) => break false,
                        Err(_) => break true,
                    }
                },
                Plan::Answer => false,
            };
            if done {
                conn.release(h.id);
                return false;
            }
            if h.plan != Plan::Answer {
                return true;
            }
            let len = h.body.to_string();
            let fields: [(&[u8], &[u8]); 2] =
                [(b":status", b"200"), (b"content-length", len.as_bytes())];
            if conn.send_headers(h.id, fields, false).is_ok() {
                let body = vec![b'x'; h.body];
                if let Ok(n) = conn.send_data(h.id, &body, true) {
                    assert!(n <= body.len());
                }
            }
            conn.release(h.id);
            false
        });
        if c & 0x80 != 0 && c & 0x40 == 0 && step % 5 == 0 {
            conn.go_away();
        }
        // The driver's timer: tick, and the next deadline is never in the past.
        conn.handle_timeout(now);
        if let Some(next) = conn.poll_timeout() {
            assert!(next >= now, "a deadline in the past");
        }
        while let Some(ev) = conn.poll_event() {
            if let Event::Request { stream_id } = ev {
                // Announced by `handle_timeout`? Never: only `recv` opens streams.
                panic!("request {stream_id} announced outside recv");
            }
        }
        // The socket writer: drain the output unless the control byte says the peer is
        // not reading right now.
        if c & 0x20 == 0 || failed.is_some() {
            let out = conn.pending_output().len();
            conn.advance_output(out);
            assert!(conn.pending_output().is_empty());
        }
        if failed.is_some() {
            break;
        }
    }
    // The peer goes away: every handler ends and releases its stream.
    conn.peer_closed();
    for h in handlers.drain(..) {
        let _ = conn.read_data(h.id, &mut buf);
        conn.release(h.id);
    }
    while let Some(ev) = conn.poll_event() {
        if let Event::Request { stream_id } = ev {
            conn.release(stream_id);
        }
    }
    assert_eq!(conn.active_streams(), 0, "streams left behind");
    assert!(conn.is_done());
});
