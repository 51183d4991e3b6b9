//! Once the buffers are warm, receiving and sending a message makes no heap allocation:
//! text and binary, 64 B and 64 KiB, masked (client to server) and unmasked (server to
//! client), whole and fragmented, and with permessage-deflate.

use shockwave_arena::alloc_count::{self, CountingAllocator};
use shockwave_websocket::deflate::DeflateParams;
use shockwave_websocket::{Config, Connection, Message, OpCode, Role};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

fn deflate_config() -> Config {
    Config {
        deflate: Some(DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            level: 1,
            min_size: 0,
        }),
        ..Config::default()
    }
}

/// Encodes `text` and `binary` (whole, and as three fragments) from `sender`, decodes
/// everything in `receiver`, and checks the messages; returns a checksum.
#[allow(clippy::too_many_arguments)]
fn round(
    sender: &mut Connection,
    receiver: &mut Connection,
    text: &str,
    binary: &[u8],
    wire: &mut Vec<u8>,
    assembly: &mut Vec<u8>,
    replies: &mut Vec<u8>,
    fragments: bool,
) -> usize {
    wire.clear();
    replies.clear();
    sender.encode_text(text, wire).unwrap();
    sender.encode_binary(binary, wire).unwrap();
    sender.encode_ping(b"ping", wire).unwrap();
    if fragments {
        let third = binary.len() / 3;
        sender
            .encode_fragment(OpCode::Binary, &binary[..third], false, wire)
            .unwrap();
        sender
            .encode_fragment(OpCode::Continuation, &binary[third..2 * third], false, wire)
            .unwrap();
        sender
            .encode_fragment(OpCode::Continuation, &binary[2 * third..], true, wire)
            .unwrap();
    }
    let mut pos = 0;
    let mut sum = 0;
    let mut n = 0;
    while pos < wire.len() {
        let d = receiver.decode(&mut wire[pos..], assembly).unwrap();
        match d.message.expect("whole frames") {
            Message::Text(t) => {
                assert_eq!(t, text);
                sum += t.len();
            }
            Message::Binary(b) => {
                assert_eq!(b, binary);
                sum += b.len();
            }
            Message::Ping(p) => sum += p.len(),
            other => panic!("{other:?}"),
        }
        n += 1;
        pos += d.consumed;
        receiver.write_pending(replies);
    }
    assert_eq!(n, if fragments { 4 } else { 3 });
    assert!(!replies.is_empty(), "the pong");
    sum
}

fn check(config: Config, client_sends: bool, size: usize, fragments: bool) {
    let client = Connection::new(Role::Client, config.clone());
    let server = Connection::new(Role::Server, config);
    let (mut sender, mut receiver) = if client_sends {
        (client, server)
    } else {
        (server, client)
    };
    let text: String = "websocket ".repeat(size / 10 + 1)[..size].to_string();
    let binary: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    let mut wire = Vec::new();
    let mut assembly = Vec::new();
    let mut replies = Vec::new();
    for _ in 0..3 {
        round(
            &mut sender,
            &mut receiver,
            &text,
            &binary,
            &mut wire,
            &mut assembly,
            &mut replies,
            fragments,
        );
    }
    let (sum, counts) = alloc_count::measure(|| {
        let mut sum = 0;
        for _ in 0..50 {
            sum += round(
                &mut sender,
                &mut receiver,
                &text,
                &binary,
                &mut wire,
                &mut assembly,
                &mut replies,
                fragments,
            );
        }
        sum
    });
    assert!(sum > 0);
    assert_eq!(
        counts.total_requests(),
        0,
        "size {size}, client sends {client_sends}, fragments {fragments}: {counts:?}"
    );
}

#[test]
fn the_counting_allocator_is_installed() {
    assert!(alloc_count::is_installed());
}

#[test]
fn warm_messages_make_no_heap_allocation() {
    for size in [64, 64 << 10] {
        for client_sends in [true, false] {
            for fragments in [false, true] {
                check(Config::default(), client_sends, size, fragments);
            }
        }
    }
}

#[test]
fn warm_compressed_messages_make_no_heap_allocation() {
    for size in [64, 64 << 10] {
        for client_sends in [true, false] {
            check(deflate_config(), client_sends, size, false);
        }
    }
}

#[test]
fn fragments_assembled_in_a_bump_arena_make_no_heap_allocation_once_warm() {
    let mut client = Connection::new(Role::Client, Config::default());
    let mut server = Connection::new(Role::Server, Config::default());
    let data: Vec<u8> = (0..(64 << 10)).map(|i| i as u8).collect();
    let mut pristine = Vec::new();
    let (a, b) = data.split_at(20_000);
    client
        .encode_fragment(OpCode::Binary, a, false, &mut pristine)
        .unwrap();
    client.encode_ping(b"between", &mut pristine).unwrap();
    client
        .encode_fragment(OpCode::Continuation, b, true, &mut pristine)
        .unwrap();
    let mut wire = pristine.clone();
    let mut bump = bumpalo::Bump::new();
    let mut one_message = |bump: &mut bumpalo::Bump, wire: &mut Vec<u8>| {
        wire.copy_from_slice(&pristine);
        let mut assembly = bumpalo::collections::Vec::new_in(&*bump);
        let mut pos = 0;
        let mut got = 0;
        while pos < wire.len() {
            let d = server.decode(&mut wire[pos..], &mut assembly).unwrap();
            if let Some(Message::Binary(m)) = d.message {
                assert_eq!(m, &data[..]);
                got += 1;
            }
            pos += d.consumed;
        }
        drop(assembly);
        // The message's memory goes back with the arena's reset; its chunk is kept.
        bump.reset();
        got
    };
    for _ in 0..3 {
        assert_eq!(one_message(&mut bump, &mut wire), 1);
    }
    let (got, counts) = alloc_count::measure(|| {
        (0..20)
            .map(|_| one_message(&mut bump, &mut wire))
            .sum::<usize>()
    });
    assert_eq!(got, 20);
    assert_eq!(counts.total_requests(), 0, "{counts:?}");
}
