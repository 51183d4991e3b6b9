//! Property tests: what one side encodes the other decodes to the same messages,
//! whatever the fragmentation, the masking direction, compression, and the points where
//! the transport splits the bytes; arbitrary bytes never panic and give the same events
//! however they are split.

mod common;

use common::*;
use proptest::prelude::*;
use shockwave_websocket::deflate::{DeflateConfig, DeflateParams};
use shockwave_websocket::{Config, Connection, OpCode, Role};

#[derive(Clone, Debug)]
enum Msg {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
}

fn msg() -> impl Strategy<Value = Msg> {
    prop_oneof![
        "\\PC{0,300}".prop_map(Msg::Text),
        proptest::collection::vec(any::<u8>(), 0..3000).prop_map(Msg::Binary),
        // Repetitive data, so compression has something to do.
        (any::<u8>(), 0..20_000usize).prop_map(|(b, n)| Msg::Binary(vec![b; n])),
        proptest::collection::vec(any::<u8>(), 0..125).prop_map(Msg::Ping),
    ]
}

fn params() -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
        level: 1,
        min_size: DeflateConfig::default().min_size,
    }
}

/// Encodes `msgs` from `sender`; `fragment` cuts data messages into that many pieces
/// (uncompressed only: fragmented sends are never compressed).
fn encode(sender: &mut Connection, msgs: &[Msg], pieces: usize) -> (Vec<u8>, Vec<Ev>) {
    let mut wire = Vec::new();
    let mut expect = Vec::new();
    for m in msgs {
        match m {
            Msg::Text(t) if pieces > 1 => {
                let b = t.as_bytes();
                let step = b.len().div_ceil(pieces).max(1);
                let chunks: Vec<&[u8]> = if b.is_empty() {
                    vec![b]
                } else {
                    b.chunks(step).collect()
                };
                for (i, c) in chunks.iter().enumerate() {
                    let op = if i == 0 {
                        OpCode::Text
                    } else {
                        OpCode::Continuation
                    };
                    sender
                        .encode_fragment(op, c, i + 1 == chunks.len(), &mut wire)
                        .unwrap();
                    // A ping between fragments (§5.4).
                    if i == 0 && chunks.len() > 1 {
                        sender.encode_ping(b"mid", &mut wire).unwrap();
                        expect.push(Ev::Ping(b"mid".to_vec()));
                        expect.push(Ev::SentPong(b"mid".to_vec()));
                    }
                }
                expect.push(Ev::Text(t.clone()));
            }
            Msg::Text(t) => {
                sender.encode_text(t, &mut wire).unwrap();
                expect.push(Ev::Text(t.clone()));
            }
            Msg::Binary(b) if pieces > 1 => {
                let step = b.len().div_ceil(pieces).max(1);
                let chunks: Vec<&[u8]> = if b.is_empty() {
                    vec![b]
                } else {
                    b.chunks(step).collect()
                };
                for (i, c) in chunks.iter().enumerate() {
                    let op = if i == 0 {
                        OpCode::Binary
                    } else {
                        OpCode::Continuation
                    };
                    sender
                        .encode_fragment(op, c, i + 1 == chunks.len(), &mut wire)
                        .unwrap();
                }
                expect.push(Ev::Binary(b.clone()));
            }
            Msg::Binary(b) => {
                sender.encode_binary(b, &mut wire).unwrap();
                expect.push(Ev::Binary(b.clone()));
            }
            Msg::Ping(p) => {
                sender.encode_ping(p, &mut wire).unwrap();
                expect.push(Ev::Ping(p.clone()));
                expect.push(Ev::SentPong(p.clone()));
            }
        }
    }
    (wire, expect)
}

fn pair(client_sends: bool, deflate: bool) -> (Connection, Connection) {
    let config = Config {
        deflate: deflate.then(params),
        ..Config::default()
    };
    let client = Connection::new(Role::Client, config.clone());
    let server = Connection::new(Role::Server, config);
    if client_sends {
        (client, server)
    } else {
        (server, client)
    }
}

fn cuts(len: usize, raw: &[usize]) -> Vec<usize> {
    let mut c: Vec<usize> = raw
        .iter()
        .map(|r| if len == 0 { 0 } else { r % len })
        .collect();
    c.sort_unstable();
    c
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn encode_then_decode_gives_the_same_messages(
        msgs in proptest::collection::vec(msg(), 1..12),
        pieces in 1usize..6,
        client_sends in any::<bool>(),
        deflate in any::<bool>(),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..24),
    ) {
        let (mut sender, mut receiver) = pair(client_sends, deflate);
        let (wire, expect) = encode(&mut sender, &msgs, pieces);
        let events = run_split(&mut receiver, &wire, &cuts(wire.len(), &raw_cuts));
        prop_assert_eq!(events, expect);
    }

    #[test]
    fn compressed_messages_round_trip_with_and_without_context_takeover(
        msgs in proptest::collection::vec(msg(), 1..10),
        server_reset in any::<bool>(),
        client_reset in any::<bool>(),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let p = DeflateParams {
            server_no_context_takeover: server_reset,
            client_no_context_takeover: client_reset,
            min_size: 0,
            ..params()
        };
        let config = Config { deflate: Some(p), ..Config::default() };
        for client_sends in [true, false] {
            let client = Connection::new(Role::Client, config.clone());
            let server = Connection::new(Role::Server, config.clone());
            let (mut sender, mut receiver) = if client_sends { (client, server) } else { (server, client) };
            let (wire, expect) = encode(&mut sender, &msgs, 1);
            let events = run_split(&mut receiver, &wire, &cuts(wire.len(), &raw_cuts));
            prop_assert_eq!(events, expect);
        }
    }

    #[test]
    fn arbitrary_bytes_give_the_same_events_at_any_split(
        prefix in proptest::collection::vec(msg(), 0..3),
        garbage in proptest::collection::vec(any::<u8>(), 0..400),
        server_role in any::<bool>(),
        deflate in any::<bool>(),
        raw_cuts in proptest::collection::vec(any::<usize>(), 1..16),
    ) {
        let (mut sender, _) = pair(server_role, deflate);
        let (mut wire, _) = encode(&mut sender, &prefix, 1);
        wire.extend_from_slice(&garbage);
        let role = if server_role { Role::Server } else { Role::Client };
        let config = Config { deflate: deflate.then(params), max_message_size: 1 << 16, ..Config::default() };
        let whole = run(&mut Connection::new(role, config.clone()), &wire);
        let split = run_split(&mut Connection::new(role, config), &wire, &cuts(wire.len(), &raw_cuts));
        prop_assert_eq!(whole, split);
    }
}
