//! A conformance table organised by the categories of the Autobahn test suite
//! (framing, pings/pongs, reserved bits, opcodes, fragmentation, UTF-8 handling, close
//! handling, limits, compression). Each case is a list of frames from the peer and the
//! exact events expected, including the frames the connection writes back (pongs, the
//! answering or failing Close). Every case runs twice: the input at once, and one byte
//! at a time; both must give the expected events.

mod common;

use common::*;
use flate2::{Compress, Compression, FlushCompress};
use shockwave_websocket::deflate::{DeflateConfig, DeflateParams};
use shockwave_websocket::{Config, Connection, Role};

const TEXT: u8 = 1;
const BINARY: u8 = 2;
const CONT: u8 = 0;
const CLOSE: u8 = 8;
const PING: u8 = 9;
const PONG: u8 = 10;

struct Case {
    name: &'static str,
    role: Role,
    config: Config,
    input: Vec<Vec<u8>>,
    expect: Vec<Ev>,
}

fn server(name: &'static str, input: Vec<Vec<u8>>, expect: Vec<Ev>) -> Case {
    Case {
        name,
        role: Role::Server,
        config: Config::default(),
        input,
        expect,
    }
}

fn fail(code: u16) -> Vec<Ev> {
    vec![Ev::Fail(code), Ev::SentClose(Some(code))]
}

fn then_fail(mut before: Vec<Ev>, code: u16) -> Vec<Ev> {
    before.extend(fail(code));
    before
}

fn deflate_params() -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
        level: DeflateConfig::default().level,
        min_size: 0,
    }
}

/// Raw deflate with a sync flush and the 4-byte tail removed (RFC 7692 §7.2.1).
fn deflate_with(c: &mut Compress, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2 + 1024);
    let start = c.total_in() as usize;
    loop {
        let done = c.total_in() as usize - start;
        c.compress_vec(&data[done..], &mut out, FlushCompress::Sync)
            .unwrap();
        if c.total_in() as usize - start == data.len() && out.len() < out.capacity() {
            break;
        }
        out.reserve(out.capacity());
    }
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

fn deflate(data: &[u8]) -> Vec<u8> {
    deflate_with(&mut Compress::new(Compression::default(), false), data)
}

/// A compressed (RSV1) masked frame.
fn zf(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    raw(fin, 4, opcode, Some([9, 8, 7, 6]), payload)
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();

    // 1. Framing: every length encoding, both data types, empty payloads.
    for len in [0usize, 1, 125, 126, 127, 65535, 65536, 200_000] {
        let text_payload = "a".repeat(len);
        v.push(server(
            "framing: text of each length encoding",
            vec![cf(true, TEXT, text_payload.as_bytes())],
            vec![text(&text_payload)],
        ));
        let bin: Vec<u8> = (0..len).map(|i| i as u8).collect();
        v.push(server(
            "framing: binary of each length encoding",
            vec![cf(true, BINARY, &bin)],
            vec![Ev::Binary(bin.clone())],
        ));
    }
    v.push(server(
        "framing: a non-minimal 64-bit length is accepted",
        vec![{
            let mut f = vec![0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0];
            f.extend_from_slice(b"abc");
            f
        }],
        vec![Ev::Binary(b"abc".to_vec())],
    ));
    v.push(server(
        "framing: a 64-bit length with the top bit set",
        vec![vec![0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1]],
        fail(1002),
    ));
    v.push(server(
        "framing: an unmasked frame from a client",
        vec![raw(true, 0, TEXT, None, b"hi")],
        fail(1002),
    ));
    v.push(Case {
        name: "framing: a masked frame from a server",
        role: Role::Client,
        config: Config::default(),
        input: vec![cf(true, TEXT, b"hi")],
        expect: fail(1002),
    });
    v.push(Case {
        name: "framing: a client receives unmasked frames",
        role: Role::Client,
        config: Config::default(),
        input: vec![
            raw(true, 0, TEXT, None, b"hi"),
            raw(true, 0, PING, None, b"p"),
        ],
        expect: vec![
            text("hi"),
            Ev::Ping(b"p".to_vec()),
            Ev::SentPong(b"p".to_vec()),
        ],
    });

    // 2. Pings and pongs.
    v.push(server(
        "ping: empty, answered",
        vec![cf(true, PING, b"")],
        vec![Ev::Ping(vec![]), Ev::SentPong(vec![])],
    ));
    v.push(server(
        "ping: 125 bytes of binary, answered with the same payload",
        vec![cf(true, PING, &[0xfe; 125])],
        vec![Ev::Ping(vec![0xfe; 125]), Ev::SentPong(vec![0xfe; 125])],
    ));
    v.push(server(
        "ping: 126 bytes",
        vec![cf(true, PING, &[0; 126])],
        fail(1002),
    ));
    v.push(server(
        "ping: fragmented",
        vec![cf(false, PING, b"a"), cf(true, CONT, b"b")],
        fail(1002),
    ));
    v.push(server(
        "pong: unsolicited, no answer",
        vec![cf(true, PONG, b"hb")],
        vec![Ev::Pong(b"hb".to_vec())],
    ));
    v.push(server(
        "ping: ten in a row, each answered",
        (0..10u8).map(|i| cf(true, PING, &[i])).collect(),
        (0..10u8)
            .flat_map(|i| [Ev::Ping(vec![i]), Ev::SentPong(vec![i])])
            .collect(),
    ));
    v.push(server(
        "ping: after a close, ignored",
        vec![
            cf(true, CLOSE, &close_payload(1000, b"")),
            cf(true, PING, b"x"),
        ],
        vec![Ev::Close(1000, String::new()), Ev::SentClose(Some(1000))],
    ));

    // 3. Reserved bits (no extension negotiated).
    for rsv in 1..8u8 {
        for opcode in [TEXT, BINARY, PING, CLOSE] {
            v.push(server(
                "reserved bits: any RSV bit without an extension",
                vec![
                    cf(true, TEXT, b"ok"),
                    raw(true, rsv, opcode, Some([1, 2, 3, 4]), b"x"),
                ],
                then_fail(vec![text("ok")], 1002),
            ));
        }
    }

    // 4. Opcodes.
    for opcode in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        v.push(server(
            "opcodes: reserved data and control opcodes",
            vec![cf(true, TEXT, b"ok"), cf(true, opcode, b"")],
            then_fail(vec![text("ok")], 1002),
        ));
    }

    // 5. Fragmentation.
    v.push(server(
        "fragmentation: text in two fragments",
        vec![cf(false, TEXT, b"frag"), cf(true, CONT, b"ment")],
        vec![text("fragment")],
    ));
    v.push(server(
        "fragmentation: binary in three with a ping and a pong between",
        vec![
            cf(false, BINARY, b"a"),
            cf(true, PING, b"p"),
            cf(false, CONT, b"b"),
            cf(true, PONG, b"q"),
            cf(true, CONT, b"c"),
        ],
        vec![
            Ev::Ping(b"p".to_vec()),
            Ev::SentPong(b"p".to_vec()),
            Ev::Pong(b"q".to_vec()),
            Ev::Binary(b"abc".to_vec()),
        ],
    ));
    v.push(server(
        "fragmentation: empty fragments",
        vec![
            cf(false, TEXT, b""),
            cf(false, CONT, b""),
            cf(true, CONT, b""),
        ],
        vec![text("")],
    ));
    v.push(server(
        "fragmentation: one byte per fragment",
        {
            let msg = b"Hello, fragmented world";
            let mut f = vec![cf(false, TEXT, &msg[..1])];
            for (i, b) in msg[1..].iter().enumerate() {
                f.push(cf(i == msg.len() - 2, CONT, &[*b]));
            }
            f
        },
        vec![text("Hello, fragmented world")],
    ));
    v.push(server(
        "fragmentation: continuation without a message",
        vec![cf(true, CONT, b"x")],
        fail(1002),
    ));
    v.push(server(
        "fragmentation: continuation after a finished message",
        vec![cf(true, TEXT, b"done"), cf(false, CONT, b"x")],
        then_fail(vec![text("done")], 1002),
    ));
    v.push(server(
        "fragmentation: a new text message inside a fragmented one",
        vec![cf(false, TEXT, b"a"), cf(true, TEXT, b"b")],
        fail(1002),
    ));
    v.push(server(
        "fragmentation: a close inside a fragmented message is processed",
        vec![
            cf(false, TEXT, b"a"),
            cf(true, CLOSE, &close_payload(1001, b"bye")),
        ],
        vec![Ev::Close(1001, "bye".into()), Ev::SentClose(Some(1001))],
    ));
    v.push(server(
        "fragmentation: two messages back to back reuse the assembly buffer",
        vec![
            cf(false, BINARY, b"one"),
            cf(true, CONT, b"1"),
            cf(false, TEXT, b"two"),
            cf(true, CONT, b"2"),
        ],
        vec![Ev::Binary(b"one1".to_vec()), text("two2")],
    ));

    // 6. UTF-8 handling.
    let kosme = "κόσμε";
    v.push(server(
        "utf-8: valid multi-byte text",
        vec![cf(true, TEXT, kosme.as_bytes())],
        vec![text(kosme)],
    ));
    for cut in 1..kosme.len() {
        v.push(server(
            "utf-8: valid text split inside code points across fragments",
            vec![
                cf(false, TEXT, &kosme.as_bytes()[..cut]),
                cf(true, CONT, &kosme.as_bytes()[cut..]),
            ],
            vec![text(kosme)],
        ));
    }
    for bad in [
        &b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"[..],
        b"\xff",
        b"\xc0\xaf",
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
        b"abc\xce",
    ] {
        v.push(server(
            "utf-8: invalid text in one frame",
            vec![cf(true, TEXT, bad)],
            fail(1007),
        ));
    }
    v.push(server(
        "utf-8: an impossible prefix fails before the message ends (fail fast)",
        // The third fragment never has to arrive: the error comes first.
        vec![cf(false, TEXT, b"ok \xed"), cf(false, CONT, b"\xa0\x80")],
        fail(1007),
    ));
    v.push(server(
        "utf-8: a code point cut at the end of the message",
        vec![cf(false, TEXT, b"ok \xe2\x82"), cf(true, CONT, b"")],
        fail(1007),
    ));
    v.push(server(
        "utf-8: binary messages are not checked",
        vec![cf(true, BINARY, b"\xff\xfe")],
        vec![Ev::Binary(vec![0xff, 0xfe])],
    ));
    v.push(server(
        "utf-8: invalid close reason",
        vec![cf(true, CLOSE, &close_payload(1000, b"\xce\xba\xe1\xbd"))],
        fail(1007),
    ));
    v.push(server(
        "utf-8: valid close reason",
        vec![cf(true, CLOSE, &close_payload(1000, kosme.as_bytes()))],
        vec![Ev::Close(1000, kosme.into()), Ev::SentClose(Some(1000))],
    ));

    // 7. Close handling.
    v.push(server(
        "close: empty payload is 1005 and answered with an empty close",
        vec![cf(true, CLOSE, b"")],
        vec![Ev::Close(1005, String::new()), Ev::SentClose(None)],
    ));
    v.push(server(
        "close: one-byte payload",
        vec![cf(true, CLOSE, b"\x03")],
        fail(1002),
    ));
    v.push(server(
        "close: a reason of 123 bytes",
        vec![cf(true, CLOSE, &close_payload(1000, &[b'r'; 123]))],
        vec![Ev::Close(1000, "r".repeat(123)), Ev::SentClose(Some(1000))],
    ));
    v.push(server(
        "close: a payload of 126 bytes",
        vec![cf(true, CLOSE, &close_payload(1000, &[b'r'; 124]))],
        fail(1002),
    ));
    v.push(server(
        "close: data after the close is ignored",
        vec![
            cf(true, CLOSE, &close_payload(1000, b"")),
            cf(true, TEXT, b"late"),
        ],
        vec![Ev::Close(1000, String::new()), Ev::SentClose(Some(1000))],
    ));
    for ok in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
        4000, 4999,
    ] {
        v.push(server(
            "close: valid codes are echoed",
            vec![cf(true, CLOSE, &close_payload(ok, b""))],
            vec![Ev::Close(ok, String::new()), Ev::SentClose(Some(ok))],
        ));
    }
    for bad in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        v.push(server(
            "close: codes not allowed on the wire",
            vec![cf(true, CLOSE, &close_payload(bad, b""))],
            fail(1002),
        ));
    }

    // 9. Limits.
    let small = Config {
        max_frame_size: 1000,
        max_message_size: 2500,
        ..Config::default()
    };
    v.push(Case {
        name: "limits: a frame over the frame limit fails from its header alone",
        role: Role::Server,
        config: small.clone(),
        // Only the header: the 1001-byte payload never arrives.
        input: vec![cf(true, BINARY, &[0; 1001])[..8].to_vec()],
        expect: fail(1009),
    });
    v.push(Case {
        name: "limits: a fragmented message over the message limit",
        role: Role::Server,
        config: small.clone(),
        input: vec![
            cf(false, BINARY, &[0; 1000]),
            cf(false, CONT, &[0; 1000]),
            cf(true, CONT, &[0; 501]),
        ],
        expect: fail(1009),
    });
    v.push(Case {
        name: "limits: a fragmented message exactly at the limit",
        role: Role::Server,
        config: small.clone(),
        input: vec![
            cf(false, BINARY, &[1; 1000]),
            cf(false, CONT, &[1; 1000]),
            cf(true, CONT, &[1; 500]),
        ],
        expect: vec![Ev::Binary(vec![1; 2500])],
    });
    v.push(server(
        "limits: a 64-bit length far over the default limit",
        vec![vec![0x82, 0x80 | 127, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4]],
        fail(1009),
    ));

    // 12/13. Compression (permessage-deflate).
    let zconfig = Config {
        deflate: Some(deflate_params()),
        ..Config::default()
    };
    let hello = "Hello, compressed world! Hello, compressed world!";
    v.push(Case {
        name: "compression: one compressed text frame",
        role: Role::Server,
        config: zconfig.clone(),
        input: vec![zf(true, TEXT, &deflate(hello.as_bytes()))],
        expect: vec![text(hello)],
    });
    v.push(Case {
        name: "compression: an empty compressed message (a single 0x00)",
        role: Role::Server,
        config: zconfig.clone(),
        input: vec![zf(true, BINARY, &[0x00])],
        expect: vec![Ev::Binary(vec![])],
    });
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let zbig = deflate(&big);
    v.push(Case {
        name: "compression: fragmented, RSV1 on the first frame only, pings between",
        role: Role::Server,
        config: zconfig.clone(),
        input: vec![
            zf(false, BINARY, &zbig[..zbig.len() / 3]),
            cf(true, PING, b"p"),
            cf(false, CONT, &zbig[zbig.len() / 3..zbig.len() / 2]),
            cf(true, CONT, &zbig[zbig.len() / 2..]),
        ],
        expect: vec![
            Ev::Ping(b"p".to_vec()),
            Ev::SentPong(b"p".to_vec()),
            Ev::Binary(big.clone()),
        ],
    });
    v.push(Case {
        name: "compression: RSV1 on a continuation frame",
        role: Role::Server,
        config: zconfig.clone(),
        input: vec![zf(false, TEXT, &deflate(b"ab")), zf(true, CONT, b"")],
        expect: fail(1002),
    });
    v.push(Case {
        name: "compression: RSV1 on a control frame",
        role: Role::Server,
        config: zconfig.clone(),
        input: vec![zf(true, PING, b"")],
        expect: fail(1002),
    });
    v.push(Case {
        name: "compression: uncompressed messages stay allowed",
        role: Role::Server,
        config: zconfig.clone(),
        input: vec![cf(true, TEXT, b"plain")],
        expect: vec![text("plain")],
    });
    // Context takeover: the second message refers back into the first.
    let mut shared = Compress::new(Compression::default(), false);
    let m1 = "the quick brown fox jumps over the lazy dog".repeat(3);
    let z1 = deflate_with(&mut shared, m1.as_bytes());
    let z2 = deflate_with(&mut shared, m1.as_bytes());
    assert!(
        z2.len() < z1.len() / 2,
        "the second message uses the shared window"
    );
    v.push(Case {
        name: "compression: context takeover across messages",
        role: Role::Server,
        config: zconfig.clone(),
        input: vec![zf(true, TEXT, &z1), zf(true, TEXT, &z2)],
        expect: vec![text(&m1), text(&m1)],
    });
    v.push(Case {
        name: "compression: a peer that promised no context takeover but used it",
        role: Role::Server,
        config: Config {
            deflate: Some(DeflateParams {
                client_no_context_takeover: true,
                ..deflate_params()
            }),
            ..Config::default()
        },
        input: vec![zf(true, TEXT, &z1), zf(true, TEXT, &z2)],
        // The reset inflater cannot resolve the back-reference.
        expect: then_fail(vec![text(&m1)], 1002),
    });
    v.push(Case {
        name: "compression: invalid deflate data",
        role: Role::Server,
        config: zconfig.clone(),
        input: vec![zf(true, BINARY, &[0xff, 0xff, 0xff, 0xff])],
        expect: fail(1002),
    });
    let bomb = deflate(&vec![0u8; 8 << 20]);
    assert!(bomb.len() < 16 << 10, "{}", bomb.len());
    v.push(Case {
        name: "compression: a deflate bomb (8 MiB of zeros in a few KiB) over a 1 MiB limit",
        role: Role::Server,
        config: Config {
            max_message_size: 1 << 20,
            ..zconfig.clone()
        },
        input: vec![zf(true, BINARY, &bomb)],
        expect: fail(1009),
    });
    v.push(Case {
        name: "compression: RSV1 without permessage-deflate negotiated",
        role: Role::Server,
        config: Config::default(),
        input: vec![zf(true, TEXT, &deflate(b"x"))],
        expect: fail(1002),
    });
    v.push(Case {
        name: "compression: invalid UTF-8 after inflation",
        role: Role::Server,
        config: zconfig,
        input: vec![zf(true, TEXT, &deflate(b"ok \xed\xa0\x80"))],
        expect: fail(1007),
    });
    v
}

#[test]
fn autobahn_categories_whole_input() {
    let cases = cases();
    assert!(cases.len() > 140, "{}", cases.len());
    for case in &cases {
        let input = case.input.concat();
        let mut conn = Connection::new(case.role, case.config.clone());
        assert_eq!(run(&mut conn, &input), case.expect, "{}", case.name);
    }
}

#[test]
fn autobahn_categories_one_byte_at_a_time() {
    for case in cases() {
        let input = case.input.concat();
        if input.len() > 70_000 {
            continue; // the large ones are covered by the split-point property tests
        }
        let cuts: Vec<usize> = (1..input.len()).collect();
        let mut conn = Connection::new(case.role, case.config.clone());
        assert_eq!(
            run_split(&mut conn, &input, &cuts),
            case.expect,
            "{}",
            case.name
        );
    }
}

#[test]
fn a_frame_over_the_limit_is_refused_before_its_payload_is_buffered() {
    let mut conn = Connection::new(
        Role::Server,
        Config {
            max_frame_size: 1000,
            ..Config::default()
        },
    );
    let mut header = cf(true, BINARY, &[0; 1001])[..8].to_vec();
    let mut assembly = Vec::new();
    let err = conn.decode(&mut header, &mut assembly).unwrap_err();
    assert_eq!(err.close_code().0, 1009);
    assert!(conn.is_closed());
}

#[test]
fn needed_tells_the_driver_how_large_the_next_frame_is() {
    let mut conn = Connection::new(Role::Server, Config::default());
    let frame = cf(true, BINARY, &[5; 70_000]);
    let mut part = frame[..100].to_vec();
    let mut assembly = Vec::new();
    let d = conn.decode(&mut part, &mut assembly).unwrap();
    assert_eq!((d.consumed, d.message, d.needed), (0, None, frame.len()));
}

#[test]
fn frames_encode_into_bytes_mut_as_into_a_vec() {
    let mk = || Connection::new(Role::Client, Config::default()).with_mask_source(|| [9, 9, 9, 9]);
    let (mut a, mut b) = (mk(), mk());
    let mut vec = Vec::new();
    let mut bytes = bytes::BytesMut::new();
    for (conn, out) in [
        (
            &mut a,
            &mut vec as &mut dyn shockwave_websocket::frame::FrameSink,
        ),
        (&mut b, &mut bytes),
    ] {
        conn.encode_text("text", out).unwrap();
        conn.encode_binary(&[1; 300], out).unwrap();
        conn.encode_close(shockwave_websocket::CloseCode::NORMAL, "bye", out)
            .unwrap();
    }
    assert_eq!(&vec[..], &bytes[..]);
    assert_eq!(vec[..2], [0x81u8, 0x84]);
    assert_eq!(
        b.encode_text("after close", &mut Vec::new()),
        Err(shockwave_websocket::Error::Closing)
    );
}

#[test]
fn needed_before_the_header_is_complete_is_the_header_length() {
    let frame = cf(true, BINARY, &[5; 300]);
    for (have, need) in [(0, 2), (1, 2), (2, 8), (5, 8)] {
        let mut conn = Connection::new(Role::Server, Config::default());
        let mut part = frame[..have].to_vec();
        let mut assembly = Vec::new();
        let d = conn.decode(&mut part, &mut assembly).unwrap();
        assert_eq!((d.consumed, d.needed), (0, need), "{have}");
    }
}
