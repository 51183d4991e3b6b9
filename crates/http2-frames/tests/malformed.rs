//! A table of malformed frames (and frame sequences) with the error code and scope RFC 9113
//! requires (§5.4), plus boundary values that must be accepted.

mod common;

use common::{raw, raw_with_len};
use shockwave_http2_frames::ErrorCode::{
    EnhanceYourCalm as CALM, FlowControlError as FLOW, FrameSizeError as SIZE,
    ProtocolError as PROTO,
};
use shockwave_http2_frames::Scope::{Connection as CONN, Stream};
use shockwave_http2_frames::*;

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const PRIORITY: u8 = 0x2;
const RST: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PUSH: u8 = 0x5;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW: u8 = 0x8;
const CONT: u8 = 0x9;

const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIO: u8 = 0x20;

fn setting(id: u16, value: u32) -> Vec<u8> {
    let mut v = id.to_be_bytes().to_vec();
    v.extend_from_slice(&value.to_be_bytes());
    v
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// Decodes `input` frame by frame until an error; panics if none occurs.
fn first_error(input: &[u8]) -> FrameError {
    let mut d = FrameDecoder::new();
    let mut rest = input;
    loop {
        match d.decode(rest) {
            Ok(Some((_, used))) => rest = &rest[used..],
            Ok(None) => panic!("no error; {} bytes left", rest.len()),
            Err(e) => return e,
        }
    }
}

#[test]
fn malformed_frame_table() {
    let block_open = raw(HEADERS, 0, 1, b"\x82");
    let table: Vec<(&str, Vec<u8>, ErrorCode, Scope)> = vec![
        // Stream identifier 0 where a stream is required (§6.1-§6.4, §6.6, §6.10).
        ("DATA on stream 0", raw(DATA, 0, 0, b"x"), PROTO, CONN),
        (
            "HEADERS on stream 0",
            raw(HEADERS, END_HEADERS, 0, b"\x82"),
            PROTO,
            CONN,
        ),
        (
            "PRIORITY on stream 0",
            raw(PRIORITY, 0, 0, &[0, 0, 0, 1, 0]),
            PROTO,
            CONN,
        ),
        (
            "RST_STREAM on stream 0",
            raw(RST, 0, 0, &[0, 0, 0, 8]),
            PROTO,
            CONN,
        ),
        (
            "PUSH_PROMISE on stream 0",
            raw(PUSH, END_HEADERS, 0, &[0, 0, 0, 2]),
            PROTO,
            CONN,
        ),
        (
            "CONTINUATION on stream 0",
            cat(&[block_open.clone(), raw(CONT, END_HEADERS, 0, b"")]),
            PROTO,
            CONN,
        ),
        // Non-zero stream identifier where 0 is required (§6.5, §6.7, §6.8).
        (
            "SETTINGS on stream 1",
            raw(SETTINGS, 0, 1, b""),
            PROTO,
            CONN,
        ),
        (
            "SETTINGS ACK on stream 1",
            raw(SETTINGS, ACK, 1, b""),
            PROTO,
            CONN,
        ),
        ("PING on stream 1", raw(PING, 0, 1, &[0; 8]), PROTO, CONN),
        (
            "GOAWAY on stream 1",
            raw(GOAWAY, 0, 1, &[0; 8]),
            PROTO,
            CONN,
        ),
        // Fixed lengths.
        ("PING of 7 bytes", raw(PING, 0, 0, &[0; 7]), SIZE, CONN),
        ("PING of 9 bytes", raw(PING, ACK, 0, &[0; 9]), SIZE, CONN),
        ("PING of 0 bytes", raw(PING, 0, 0, b""), SIZE, CONN),
        (
            "PRIORITY of 4 bytes",
            raw(PRIORITY, 0, 3, &[0, 0, 0, 1]),
            SIZE,
            Stream(3),
        ),
        (
            "PRIORITY of 6 bytes",
            raw(PRIORITY, 0, 5, &[0, 0, 0, 1, 0, 0]),
            SIZE,
            Stream(5),
        ),
        (
            "RST_STREAM of 3 bytes",
            raw(RST, 0, 1, &[0, 0, 8]),
            SIZE,
            CONN,
        ),
        (
            "RST_STREAM of 5 bytes",
            raw(RST, 0, 1, &[0, 0, 0, 8, 0]),
            SIZE,
            CONN,
        ),
        (
            "WINDOW_UPDATE of 3 bytes on a stream",
            raw(WINDOW, 0, 1, &[0, 0, 1]),
            SIZE,
            CONN,
        ),
        (
            "WINDOW_UPDATE of 5 bytes on stream 0",
            raw(WINDOW, 0, 0, &[0, 0, 0, 1, 0]),
            SIZE,
            CONN,
        ),
        (
            "SETTINGS of 5 bytes",
            raw(SETTINGS, 0, 0, &[0, 1, 0, 0, 0]),
            SIZE,
            CONN,
        ),
        (
            "SETTINGS of 7 bytes",
            raw(SETTINGS, 0, 0, &[0, 1, 0, 0, 0, 0, 0]),
            SIZE,
            CONN,
        ),
        (
            "SETTINGS ACK with payload",
            raw(SETTINGS, ACK, 0, &setting(1, 0)),
            SIZE,
            CONN,
        ),
        ("GOAWAY of 7 bytes", raw(GOAWAY, 0, 0, &[0; 7]), SIZE, CONN),
        ("GOAWAY of 0 bytes", raw(GOAWAY, 0, 0, b""), SIZE, CONN),
        // Padding (§6.1, §6.2, §6.6) and mandatory fields (§4.2).
        (
            "DATA padding == rest",
            raw(DATA, PADDED, 1, &[3, b'a', b'b']),
            PROTO,
            CONN,
        ),
        (
            "DATA padding > payload",
            raw(DATA, PADDED, 1, &[255]),
            PROTO,
            CONN,
        ),
        (
            "DATA PADDED without Pad Length",
            raw(DATA, PADDED, 1, b""),
            SIZE,
            CONN,
        ),
        (
            "HEADERS padding too long",
            raw(HEADERS, PADDED | END_HEADERS, 1, &[4, 1, 2, 3]),
            PROTO,
            CONN,
        ),
        (
            "HEADERS padding eats the priority fields",
            raw(HEADERS, PADDED | PRIO | END_HEADERS, 1, &[1, 0, 0, 0, 0, 7]),
            PROTO,
            CONN,
        ),
        (
            "HEADERS PRIORITY too short",
            raw(HEADERS, PRIO | END_HEADERS, 1, &[0, 0, 0, 0]),
            SIZE,
            CONN,
        ),
        (
            "HEADERS PADDED without Pad Length",
            raw(HEADERS, PADDED, 1, b""),
            SIZE,
            CONN,
        ),
        (
            "PUSH_PROMISE padding too long",
            raw(PUSH, PADDED | END_HEADERS, 1, &[2, 0, 0, 0, 2, 9]),
            PROTO,
            CONN,
        ),
        (
            "PUSH_PROMISE without promised id",
            raw(PUSH, END_HEADERS, 1, &[0, 0, 2]),
            SIZE,
            CONN,
        ),
        (
            "PUSH_PROMISE promising stream 0",
            raw(PUSH, END_HEADERS, 1, &[0, 0, 0, 0]),
            PROTO,
            CONN,
        ),
        (
            "PUSH_PROMISE promising odd stream",
            raw(PUSH, END_HEADERS, 1, &[0, 0, 0, 3]),
            PROTO,
            CONN,
        ),
        // SETTINGS values (§6.5.2, RFC 8441 §3, RFC 9218 §2.1).
        (
            "ENABLE_PUSH = 2",
            raw(SETTINGS, 0, 0, &setting(2, 2)),
            PROTO,
            CONN,
        ),
        (
            "INITIAL_WINDOW_SIZE = 2^31",
            raw(SETTINGS, 0, 0, &setting(4, 1 << 31)),
            FLOW,
            CONN,
        ),
        (
            "INITIAL_WINDOW_SIZE = 2^32-1",
            raw(SETTINGS, 0, 0, &setting(4, u32::MAX)),
            FLOW,
            CONN,
        ),
        (
            "MAX_FRAME_SIZE = 2^14-1",
            raw(SETTINGS, 0, 0, &setting(5, 16_383)),
            PROTO,
            CONN,
        ),
        (
            "MAX_FRAME_SIZE = 2^24",
            raw(SETTINGS, 0, 0, &setting(5, 1 << 24)),
            PROTO,
            CONN,
        ),
        (
            "MAX_FRAME_SIZE = 0",
            raw(SETTINGS, 0, 0, &setting(5, 0)),
            PROTO,
            CONN,
        ),
        (
            "ENABLE_CONNECT_PROTOCOL = 2",
            raw(SETTINGS, 0, 0, &setting(8, 2)),
            PROTO,
            CONN,
        ),
        (
            "NO_RFC7540_PRIORITIES = 2",
            raw(SETTINGS, 0, 0, &setting(9, 2)),
            PROTO,
            CONN,
        ),
        (
            "bad value after good ones",
            raw(
                SETTINGS,
                0,
                0,
                &cat(&[setting(1, 0), setting(0x99, 5), setting(2, 7)]),
            ),
            PROTO,
            CONN,
        ),
        // WINDOW_UPDATE increment (§6.9).
        (
            "WINDOW_UPDATE 0 on stream 0",
            raw(WINDOW, 0, 0, &[0, 0, 0, 0]),
            PROTO,
            CONN,
        ),
        (
            "WINDOW_UPDATE 0 on stream 7",
            raw(WINDOW, 0, 7, &[0, 0, 0, 0]),
            PROTO,
            Stream(7),
        ),
        (
            "WINDOW_UPDATE reserved bit only",
            raw(WINDOW, 0, 9, &[0x80, 0, 0, 0]),
            PROTO,
            Stream(9),
        ),
        // Self-dependency (§5.3.1).
        (
            "PRIORITY on itself",
            raw(PRIORITY, 0, 5, &[0x80, 0, 0, 5, 16]),
            PROTO,
            Stream(5),
        ),
        // Max frame size (§4.2), from the header alone.
        (
            "DATA of 16385 bytes",
            raw_with_len(16_385, DATA, 0, 1, b""),
            SIZE,
            CONN,
        ),
        (
            "HEADERS of 16385 bytes",
            raw(HEADERS, 0, 1, &[0; 16_385]),
            SIZE,
            CONN,
        ),
        (
            "unknown type of 2^24-1 bytes",
            raw_with_len((1 << 24) - 1, 0x42, 0, 0, b""),
            SIZE,
            CONN,
        ),
        (
            "SETTINGS of 16386 bytes",
            raw(SETTINGS, 0, 0, &[0; 16_386]),
            SIZE,
            CONN,
        ),
        // Field-block sequencing (§4.3, §6.10, §5.5).
        (
            "CONTINUATION without HEADERS",
            raw(CONT, END_HEADERS, 1, b"x"),
            PROTO,
            CONN,
        ),
        (
            "CONTINUATION after a complete block",
            cat(&[
                raw(HEADERS, END_HEADERS, 1, b"\x82"),
                raw(CONT, END_HEADERS, 1, b""),
            ]),
            PROTO,
            CONN,
        ),
        (
            "DATA inside a field block",
            cat(&[block_open.clone(), raw(DATA, 0, 1, b"x")]),
            PROTO,
            CONN,
        ),
        (
            "PING inside a field block",
            cat(&[block_open.clone(), raw(PING, 0, 0, &[0; 8])]),
            PROTO,
            CONN,
        ),
        (
            "HEADERS inside a field block",
            cat(&[block_open.clone(), raw(HEADERS, END_HEADERS, 3, b"")]),
            PROTO,
            CONN,
        ),
        (
            "CONTINUATION on another stream",
            cat(&[block_open.clone(), raw(CONT, END_HEADERS, 3, b"")]),
            PROTO,
            CONN,
        ),
        (
            "extension frame inside a field block",
            cat(&[block_open.clone(), raw(0xfa, 0, 0, b"")]),
            PROTO,
            CONN,
        ),
        (
            "frame after PUSH_PROMISE without END_HEADERS",
            cat(&[
                raw(PUSH, 0, 1, &[0, 0, 0, 2]),
                raw(WINDOW, 0, 0, &[0, 0, 0, 1]),
            ]),
            PROTO,
            CONN,
        ),
        (
            "CONTINUATION flood",
            cat(&[block_open.clone(), raw(CONT, 0, 1, b"").repeat(65)]),
            CALM,
            CONN,
        ),
    ];
    assert!(table.len() >= 60);
    for (name, input, code, scope) in &table {
        let err = first_error(input);
        assert_eq!((err.code, err.scope), (*code, *scope), "{name}: {err}");
        assert!(!err.to_string().is_empty());
        match scope {
            Scope::Connection => assert!(err.is_connection_error() && err.frame_len == 0, "{name}"),
            Scope::Stream(_) => {
                // The whole offending frame is the input's last frame.
                assert!(!err.is_connection_error());
                assert_eq!(err.frame_len, input.len(), "{name}");
            }
        }
    }
}

#[test]
fn boundary_values_are_accepted() {
    let ok = [
        raw(SETTINGS, 0, 0, &setting(2, 0)),
        raw(SETTINGS, 0, 0, &setting(2, 1)),
        raw(SETTINGS, 0, 0, &setting(4, (1 << 31) - 1)),
        raw(SETTINGS, 0, 0, &setting(5, 16_384)),
        raw(SETTINGS, 0, 0, &setting(5, (1 << 24) - 1)),
        raw(SETTINGS, 0, 0, &setting(0xffff, u32::MAX)),
        raw(SETTINGS, 0, 0, &setting(1, u32::MAX)),
        raw(SETTINGS, 0, 0, &setting(3, 0)),
        raw(SETTINGS, 0, 0, &setting(6, 0)),
        raw(DATA, PADDED, 1, &[2, 0, 0]),
        raw(DATA, PADDED, 1, &[0]),
        raw(
            HEADERS,
            PADDED | PRIO | END_HEADERS,
            1,
            &[1, 0, 0, 0, 0, 7, 0],
        ),
        raw(PUSH, PADDED | END_HEADERS, 1, &[1, 0, 0, 0, 2, 0]),
        raw(WINDOW, 0, 0, &[0x7f, 0xff, 0xff, 0xff]),
        raw(DATA, 0, 1, &[0; 16_384]),
        raw(0xfa, 0xff, 0, b""),
        raw(GOAWAY, 0, 0, &[0; 8]),
        // A HEADERS that depends on itself decodes (its field block must still be
        // processed, §4.3); `check_priority` reports the stream error.
        raw(HEADERS, PRIO | END_HEADERS, 3, &[0, 0, 0, 3, 0]),
    ];
    for input in &ok {
        let mut d = FrameDecoder::new();
        let (frame, used) = d
            .decode(input)
            .unwrap_or_else(|e| panic!("{input:02x?}: {e}"))
            .unwrap();
        assert_eq!(used, input.len());
        if let Frame::Headers(h) = frame {
            if h.stream_id != 3 {
                assert_eq!(h.check_priority(), Ok(()));
                continue;
            }
            let err = h.check_priority().unwrap_err();
            assert_eq!((err.code, err.scope), (PROTO, Stream(3)));
        }
    }
}

#[test]
fn decoding_continues_after_a_stream_error() {
    let input = cat(&[
        raw(PRIORITY, 0, 3, &[0, 0, 0, 1]),
        raw(WINDOW, 0, 5, &[0, 0, 0, 0]),
        raw(PING, 0, 0, b"12345678"),
    ]);
    let mut d = FrameDecoder::new();
    let mut rest = &input[..];
    let mut errors = Vec::new();
    let mut frames = Vec::new();
    loop {
        match d.decode(rest) {
            Ok(Some((f, used))) => {
                frames.push(f);
                rest = &rest[used..];
            }
            Ok(None) => break,
            Err(e) => {
                assert!(!e.is_connection_error());
                errors.push(e.scope);
                rest = &rest[e.frame_len..];
            }
        }
    }
    assert_eq!(errors, [Stream(3), Stream(5)]);
    assert_eq!(
        frames,
        [Frame::Ping(Ping {
            ack: false,
            data: *b"12345678"
        })]
    );
}

#[test]
fn max_frame_size_is_settable() {
    let big = raw(DATA, 0, 1, &vec![7; 100_000]);
    let mut d = FrameDecoder::new();
    assert_eq!(d.max_frame_size(), 16_384);
    let err = d.decode(&big).unwrap_err();
    assert_eq!(
        err.violation,
        Violation::FrameTooLarge {
            length: 100_000,
            max: 16_384
        }
    );
    d.set_max_frame_size(100_000).unwrap();
    assert_eq!(d.decode(&big[..50]), Ok(None));
    let (f, used) = d.decode(&big).unwrap().unwrap();
    assert_eq!((f.payload_len(), used), (100_000, big.len()));
    assert_eq!(
        d.set_max_frame_size(16_383),
        Err(InvalidMaxFrameSize(16_383))
    );
    assert_eq!(
        d.set_max_frame_size(1 << 24),
        Err(InvalidMaxFrameSize(1 << 24))
    );
    assert!(d.set_max_frame_size((1 << 24) - 1).is_ok());
    // The stateless variant takes the limit as an argument.
    assert_eq!(decode_frame(&big, 16_384).unwrap_err().code, SIZE);
    assert!(decode_frame(&big, 100_000).unwrap().is_some());
}

#[test]
fn header_block_limits_are_settable() {
    let mut d = FrameDecoder::new();
    assert_eq!(d.max_header_block_len(), DEFAULT_MAX_HEADER_BLOCK_LEN);
    assert_eq!(d.max_continuation_frames(), DEFAULT_MAX_CONTINUATION_FRAMES);
    d.set_max_header_block_len(10);
    d.set_max_continuation_frames(2);
    // 6 + 4 bytes: at the limit.
    let ok = cat(&[
        raw(HEADERS, 0, 1, b"abcdef"),
        raw(CONT, 0, 1, b"gh"),
        raw(CONT, END_HEADERS, 1, b"ij"),
    ]);
    let mut rest = &ok[..];
    while let Some((_, used)) = d.decode(rest).unwrap() {
        rest = &rest[used..];
    }
    assert!(rest.is_empty() && d.open_header_block().is_none());
    // One more byte, or one more CONTINUATION, or a single over-long HEADERS: refused.
    for input in [
        cat(&[raw(HEADERS, 0, 1, b"abcdef"), raw(CONT, 0, 1, b"ghijk")]),
        cat(&[
            raw(HEADERS, 0, 1, b"a"),
            raw(CONT, 0, 1, b""),
            raw(CONT, 0, 1, b""),
            raw(CONT, 0, 1, b""),
        ]),
        raw(HEADERS, END_HEADERS, 1, b"abcdefghijk"),
        raw(PUSH, END_HEADERS, 1, b"\0\0\0\x02abcdefghijk"),
    ] {
        let mut d2 = d.clone();
        d2.reset();
        let err = first_error_with(&mut d2, &input);
        assert_eq!(
            (err.code, err.scope, err.violation),
            (CALM, CONN, Violation::HeaderBlockTooLarge)
        );
    }
    // reset() forgets an open block.
    d.decode(&raw(HEADERS, 0, 9, b"x")).unwrap().unwrap();
    assert_eq!(d.open_header_block(), Some(9));
    d.reset();
    assert_eq!(d.open_header_block(), None);
    assert!(d.decode(&raw(PING, 0, 0, &[0; 8])).unwrap().is_some());
}

fn first_error_with(d: &mut FrameDecoder, input: &[u8]) -> FrameError {
    let mut rest = input;
    loop {
        match d.decode(rest) {
            Ok(Some((_, used))) => rest = &rest[used..],
            Ok(None) => panic!("no error"),
            Err(e) => return e,
        }
    }
}

#[test]
fn sequencing_errors_are_detected_from_the_header_alone() {
    // Only the 9-byte header of the intruding DATA frame is present.
    let input = cat(&[
        raw(HEADERS, 0, 1, b"\x82"),
        raw(DATA, END_STREAM, 1, b"xyz")[..9].to_vec(),
    ]);
    assert_eq!(
        first_error(&input).violation,
        Violation::UnexpectedContinuation
    );
}

#[test]
fn preface_matching() {
    assert_eq!(match_preface(PREFACE), Ok(Some(24)));
    assert_eq!(
        match_preface(&[PREFACE.as_slice(), b"extra"].concat()),
        Ok(Some(24))
    );
    for n in 0..24 {
        assert_eq!(match_preface(&PREFACE[..n]), Ok(None), "{n}");
    }
    for bad in [
        &b"GET / HTTP/1.1\r\n"[..],
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\r",
        b"x",
    ] {
        let err = match_preface(bad).unwrap_err();
        assert_eq!(
            (err.code, err.scope, err.violation),
            (PROTO, CONN, Violation::BadPreface)
        );
    }
}

#[test]
fn payload_length_must_match_header() {
    let header = FrameHeader {
        length: 8,
        kind: FrameKind::Ping,
        flags: Flags::EMPTY,
        stream_id: 0,
    };
    let err = Frame::parse(header, &[0; 4]).unwrap_err();
    assert_eq!((err.code, err.scope), (SIZE, CONN));
}
