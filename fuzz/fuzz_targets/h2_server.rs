//! The HTTP/2 server engine (`shockwave::http2::engine::ServerConnection`) fed a client
//! byte stream after the connection preface, the way the server driver uses it.
//!
//! Input: `[config: u8][n: u8][n control bytes][wire...]`. `config` picks the engine's
//! limits (defaults, or tiny windows / stream counts / header and control-frame limits);
//! the control bytes, cycled, cut the wire into reads and choose what the stream side does
//! between reads: answer each request at once, read its body first, reset it, start a
//! graceful shutdown, or leave the output unread (backpressure).
//!
//! Checked: no panic; `recv` never reports more bytes than it was given; every announced
//! request has a head; a connection error is sticky; once the peer is gone and every
//! handler released its stream, no stream is left behind.
#![no_main]

use std::task::{Poll, Waker};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use shockwave::http2::engine::{Event, ServerConnection};
use shockwave::http2::{ErrorCode, Http2Config, PREFACE};

fn config(c: u8) -> Http2Config {
    if c & 1 == 0 {
        return Http2Config::default();
    }
    Http2Config {
        max_concurrent_streams: 2,
        initial_stream_window: if c & 2 != 0 { 0 } else { 100 },
        initial_connection_window: 65_535,
        max_header_list_size: 200,
        max_header_block_len: 100,
        max_continuation_frames: 2,
        max_resets_per_window: 3,
        max_local_resets_per_window: 4,
        reset_window: Duration::from_secs(60),
        max_pending_control_frames: 4,
        max_output_buffer: 0,
        ..Http2Config::default()
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
    id: u32,
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
    let waker = Waker::noop();

    let mut conn = ServerConnection::new(config(cfg));
    assert!(!conn.pending_output().is_empty(), "our SETTINGS are queued");
    assert_eq!(conn.recv(PREFACE), Ok(PREFACE.len()));

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
        match conn.recv(&rbuf) {
            Ok(used) => {
                assert!(used <= rbuf.len());
                rbuf.drain(..used);
                if used == 0 && fed == wire.len() {
                    stalled += 1;
                }
            }
            Err(e) => {
                assert_eq!(conn.error(), Some(e));
                assert_eq!(conn.recv(b"more"), Err(e), "a connection error is sticky");
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
                    match conn.poll_read_data(h.id, waker, &mut buf) {
                        Poll::Ready(Ok(0)) => {
                            h.plan = Plan::Answer;
                            break false;
                        }
                        Poll::Ready(Ok(n)) => {
                            assert!(n <= buf.len());
                            h.body += n;
                        }
                        Poll::Ready(Err(_)) => break true,
                        Poll::Pending => break false,
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
                if let Poll::Ready(Ok(n)) = conn.poll_send_data(h.id, waker, &body, true) {
                    assert!(n <= body.len());
                }
            }
            conn.release(h.id);
            false
        });
        if c & 0x80 != 0 && c & 0x40 == 0 && step % 5 == 0 {
            conn.go_away();
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
        let _ = conn.poll_read_data(h.id, waker, &mut buf);
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
