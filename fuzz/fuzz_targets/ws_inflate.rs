//! permessage-deflate inflation (RFC 7692 §7.2.2) under a message-size limit.
//!
//! Input: `[config: u8][n: u8][n fragment sizes][compressed payload...]`. The payload is
//! sent as one compressed message (RSV1 on the first frame), cut into fragments by the
//! sizes; `config` picks the limit and context takeover, and bit 7 sends the payload
//! twice (the second message inflating with the first one's window).
//!
//! Checked: no panic; an inflated message never exceeds the limit (a deflate bomb ends
//! in 1009, never in unbounded memory); bad data ends in 1002 (or 1009); and whatever
//! the fuzzer picks as plain data, compressing it with the connection's own deflater
//! and inflating it again gives it back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shockwave_fuzz::Splitter;
use shockwave_websocket::deflate::DeflateParams;
use shockwave_websocket::frame::{write_frame, OpCode};
use shockwave_websocket::{Config, Connection, Message, Role};

fn config(byte: u8) -> Config {
    Config {
        max_message_size: [256, 4096, 65_536, 1 << 20][usize::from(byte & 3)],
        deflate: Some(DeflateParams {
            server_no_context_takeover: byte & 4 != 0,
            client_no_context_takeover: byte & 8 != 0,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            level: u32::from(byte >> 4 & 7),
            min_size: 0,
        }),
        ..Config::default()
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let cfg = config(data[0]);
    let limit = cfg.max_message_size;
    let n = usize::from(data[1]).min(data.len() - 2);
    let mut splitter = Splitter::new(&data[2..2 + n]);
    let payload = &data[2 + n..];

    // The payload as compressed fragments from a client.
    let mut wire = Vec::new();
    let times = if data[0] & 0x80 != 0 { 2 } else { 1 };
    for _ in 0..times {
        let mut rest = payload;
        let mut first = true;
        loop {
            let take = splitter.next_len(rest.len());
            let (piece, tail) = rest.split_at(take);
            rest = tail;
            let op = if first {
                OpCode::Binary
            } else {
                OpCode::Continuation
            };
            write_frame(
                &mut wire,
                rest.is_empty(),
                first,
                op,
                Some([7, 7, 7, 7]),
                piece,
            );
            first = false;
            if rest.is_empty() {
                break;
            }
        }
    }
    let mut server = Connection::new(Role::Server, cfg.clone());
    let mut assembly = Vec::new();
    let mut pos = 0;
    while pos < wire.len() {
        match server.decode(&mut wire[pos..], &mut assembly) {
            Ok(d) => {
                if let Some(Message::Binary(b)) = d.message {
                    assert!(b.len() <= limit);
                }
                assert!(d.consumed > 0, "whole frames were given");
                pos += d.consumed;
            }
            Err(e) => {
                assert!(matches!(e.close_code().0, 1002 | 1009), "{e:?}");
                assert!(assembly.len() <= limit);
                break;
            }
        }
    }

    // Round trip of the same bytes as plain data.
    let mut client = Connection::new(Role::Client, cfg.clone()).with_mask_source(|| [1, 2, 3, 4]);
    let mut server = Connection::new(
        Role::Server,
        Config {
            max_message_size: 1 << 20,
            ..cfg
        },
    );
    let mut wire = Vec::new();
    for _ in 0..times {
        client.encode_binary(payload, &mut wire).unwrap();
    }
    let mut pos = 0;
    for _ in 0..times {
        let d = server
            .decode(&mut wire[pos..], &mut assembly)
            .expect("own output inflates");
        assert_eq!(d.message, Some(Message::Binary(payload)));
        pos += d.consumed;
    }
});
