//! WebSocket frame decoding (RFC 6455 §5) with `shockwave_websocket::Connection`, both
//! roles, with and without permessage-deflate.
//!
//! Input: `[config: u8][n: u8][n split sizes][wire...]`. `config` bit 0 picks the role
//! (server: masked input expected), bit 1 negotiates permessage-deflate, bits 2–3 pick
//! the frame and message limits; the split sizes cut the wire into reads.
//!
//! Checked: no panic; decoding the wire whole and as a read buffer growing piece by piece
//! gives the same events and the same error; messages never exceed the limit; what the
//! connection queues for the peer (pongs, the Close) are well-formed frames; every error
//! maps to a close code allowed on the wire.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shockwave_fuzz::Splitter;
use shockwave_websocket::deflate::DeflateParams;
use shockwave_websocket::frame::FrameHeader;
use shockwave_websocket::{Config, Connection, Message, Role};

#[derive(Debug, PartialEq)]
enum Ev {
    Msg(u8, Vec<u8>),
    Close(u16, String),
    Err(u16),
}

fn connection(config: u8) -> (Connection, usize) {
    let role = if config & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let (frame, message) = [
        (125, 1000),
        (1000, 4000),
        (70_000, 100_000),
        (1 << 20, 1 << 20),
    ][usize::from(config >> 2 & 3)];
    let deflate = (config & 2 != 0).then_some(DeflateParams {
        server_no_context_takeover: config & 16 != 0,
        client_no_context_takeover: config & 32 != 0,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
        level: 1,
        min_size: 0,
    });
    let c = Config {
        max_frame_size: frame,
        max_message_size: message,
        deflate,
        ..Config::default()
    };
    (
        Connection::new(role, c).with_mask_source(|| [1, 2, 3, 4]),
        message,
    )
}

fn check_written(written: &[u8]) {
    let mut rest = written;
    while !rest.is_empty() {
        let (h, hlen) = FrameHeader::parse(rest)
            .unwrap()
            .expect("whole frame written");
        assert!(h.opcode.is_control() && h.payload_len <= 125);
        rest = &rest[hlen + h.payload_len as usize..];
    }
}

/// Decodes everything in `buf`; returns the bytes used and whether to stop.
fn drain(
    conn: &mut Connection,
    buf: &mut [u8],
    assembly: &mut Vec<u8>,
    limit: usize,
    out: &mut Vec<Ev>,
) -> (usize, bool) {
    let mut pos = 0;
    loop {
        let mut written = Vec::new();
        let result = conn.decode(&mut buf[pos..], assembly);
        let r = match result {
            Ok(d) => {
                let used = d.consumed;
                match d.message {
                    Some(m) => {
                        let ev = match m {
                            Message::Text(t) => Ev::Msg(1, t.as_bytes().to_vec()),
                            Message::Binary(b) => Ev::Msg(2, b.to_vec()),
                            Message::Ping(p) => Ev::Msg(9, p.to_vec()),
                            Message::Pong(p) => Ev::Msg(10, p.to_vec()),
                            Message::Close { code, reason } => {
                                Ev::Close(code.0, reason.to_string())
                            }
                        };
                        if let Ev::Msg(_, data) = &ev {
                            assert!(data.len() <= limit);
                        }
                        out.push(ev);
                        pos += used;
                        None
                    }
                    None => Some((pos + used, false)),
                }
            }
            Err(e) => {
                assert!(e.close_code().is_allowed_on_wire());
                out.push(Ev::Err(e.close_code().0));
                Some((pos, true))
            }
        };
        conn.write_pending(&mut written);
        check_written(&written);
        if let Some(r) = r {
            return r;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let config = data[0];
    let n = usize::from(data[1]).min(data.len() - 2);
    let sizes = &data[2..2 + n];
    let wire = &data[2 + n..];

    let (mut whole, limit) = connection(config);
    let mut expected = Vec::new();
    let mut copy = wire.to_vec();
    drain(&mut whole, &mut copy, &mut Vec::new(), limit, &mut expected);

    let (mut split, _) = connection(config);
    let mut assembly = Vec::new();
    let mut got = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut splitter = Splitter::new(sizes);
    let mut rest = wire;
    while !rest.is_empty() {
        let take = splitter.next_len(rest.len());
        buf.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        let (used, stop) = drain(&mut split, &mut buf, &mut assembly, limit, &mut got);
        if stop {
            break;
        }
        buf.drain(..used);
    }
    assert_eq!(expected, got);
});
