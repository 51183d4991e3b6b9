//! Malformed input tables: each case is fed through the public API and must fail with
//! the RFC's error code (and scope), never panic or succeed.

use shockwave_arena::Arena;
use shockwave_quic::control::ControlStream;
use shockwave_quic::frame::{self, FrameDecoder, FrameLimits, Settings};
use shockwave_quic::qpack::{Decoder, DecoderConfig, Encoder};
use shockwave_quic::request::RequestStream;
use shockwave_quic::stream::Role;
use shockwave_quic::{Error, ErrorCode, Scope};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn settings_frame() -> Vec<u8> {
    let mut w = Vec::new();
    Settings::default().encode(None, &mut w).unwrap();
    w
}

#[derive(Clone, Copy, Debug)]
enum Target {
    /// The peer's control stream, local role given.
    Control(Role),
    /// A request stream, local role given.
    Request(Role),
    /// A request stream with a HEADERS limit of 100 bytes.
    RequestSmall,
}

fn run_stream(target: Target, wire: &[u8], chunk: usize) -> Result<(), Error> {
    match target {
        Target::Control(role) => {
            let mut c = ControlStream::new(role);
            for piece in wire.chunks(chunk) {
                c.recv_all(piece, |_| {})?;
            }
            Ok(())
        }
        Target::Request(_) | Target::RequestSmall => {
            let mut s = match target {
                Target::Request(role) => RequestStream::new(role),
                _ => RequestStream::with_limits(
                    Role::Server,
                    FrameLimits {
                        max_field_section_len: 100,
                        ..FrameLimits::default()
                    },
                ),
            };
            for piece in wire.chunks(chunk) {
                let mut input = piece;
                loop {
                    let (n, ev) = s.recv(input)?;
                    input = &input[n..];
                    if ev.is_none() {
                        break;
                    }
                }
            }
            s.finish()
        }
    }
}

#[test]
fn frame_layer_table() {
    use ErrorCode::*;
    use Role::*;
    use Target::*;
    let s = settings_frame;
    let cat = |parts: &[&[u8]]| parts.concat();
    let cases: Vec<(&str, Target, Vec<u8>, ErrorCode, Scope)> = vec![
        // Control stream (RFC 9114 §6.2.1, §7.2).
        (
            "control: HEADERS first",
            Control(Server),
            hex("01 02 0000"),
            MissingSettings,
            Scope::Connection,
        ),
        (
            "control: unknown frame first",
            Control(Server),
            hex("21 00"),
            MissingSettings,
            Scope::Connection,
        ),
        (
            "control: GOAWAY first",
            Control(Client),
            hex("07 01 00"),
            MissingSettings,
            Scope::Connection,
        ),
        (
            "control: two SETTINGS",
            Control(Server),
            cat(&[&s(), &s()]),
            FrameUnexpected,
            Scope::Connection,
        ),
        (
            "control: DATA",
            Control(Server),
            cat(&[&s(), &hex("00 01 61")]),
            FrameUnexpected,
            Scope::Connection,
        ),
        (
            "control: HEADERS",
            Control(Client),
            cat(&[&s(), &hex("01 02 0000")]),
            FrameUnexpected,
            Scope::Connection,
        ),
        (
            "control: PUSH_PROMISE",
            Control(Client),
            cat(&[&s(), &hex("05 03 00 0000")]),
            FrameUnexpected,
            Scope::Connection,
        ),
        (
            "control: h2 PRIORITY",
            Control(Server),
            cat(&[&s(), &hex("02 00")]),
            FrameUnexpected,
            Scope::Connection,
        ),
        (
            "control: h2 PING",
            Control(Server),
            cat(&[&s(), &hex("06 00")]),
            FrameUnexpected,
            Scope::Connection,
        ),
        (
            "control: h2 WINDOW_UPDATE",
            Control(Server),
            cat(&[&s(), &hex("08 00")]),
            FrameUnexpected,
            Scope::Connection,
        ),
        (
            "control: h2 CONTINUATION",
            Control(Server),
            cat(&[&s(), &hex("09 00")]),
            FrameUnexpected,
            Scope::Connection,
        ),
        (
            "control: MAX_PUSH_ID to a client",
            Control(Client),
            cat(&[&s(), &hex("0d 01 05")]),
            FrameUnexpected,
            Scope::Connection,
        ),
        (
            "control: GOAWAY increases",
            Control(Server),
            cat(&[&s(), &hex("07 01 04 07 01 08")]),
            IdError,
            Scope::Connection,
        ),
        (
            "control: GOAWAY to client with push-style id",
            Control(Client),
            cat(&[&s(), &hex("07 01 01")]),
            IdError,
            Scope::Connection,
        ),
        (
            "control: MAX_PUSH_ID decreases",
            Control(Server),
            cat(&[&s(), &hex("0d 01 05 0d 01 04")]),
            IdError,
            Scope::Connection,
        ),
        (
            "control: CANCEL_PUSH above max",
            Control(Server),
            cat(&[&s(), &hex("0d 01 05 03 01 06")]),
            IdError,
            Scope::Connection,
        ),
        (
            "control: GOAWAY extra byte",
            Control(Server),
            cat(&[&s(), &hex("07 02 00 00")]),
            FrameError,
            Scope::Connection,
        ),
        (
            "control: GOAWAY truncated id",
            Control(Server),
            cat(&[&s(), &hex("07 01 40")]),
            FrameError,
            Scope::Connection,
        ),
        (
            "control: GOAWAY 9-byte payload",
            Control(Server),
            cat(&[&s(), &hex("07 09"), &[0u8; 9]]),
            FrameError,
            Scope::Connection,
        ),
        (
            "control: MAX_PUSH_ID empty",
            Control(Server),
            cat(&[&s(), &hex("0d 00")]),
            FrameError,
            Scope::Connection,
        ),
        (
            "control: SETTINGS truncated pair",
            Control(Server),
            hex("04 01 06"),
            FrameError,
            Scope::Connection,
        ),
        (
            "control: SETTINGS duplicate",
            Control(Server),
            hex("04 04 06 01 06 02"),
            SettingsError,
            Scope::Connection,
        ),
        (
            "control: SETTINGS h2 ENABLE_PUSH",
            Control(Server),
            hex("04 02 02 00"),
            SettingsError,
            Scope::Connection,
        ),
        (
            "control: SETTINGS h2 MAX_CONCURRENT_STREAMS",
            Control(Server),
            hex("04 02 03 30"),
            SettingsError,
            Scope::Connection,
        ),
        (
            "control: SETTINGS h2 INITIAL_WINDOW_SIZE",
            Control(Server),
            hex("04 02 04 30"),
            SettingsError,
            Scope::Connection,
        ),
        (
            "control: SETTINGS h2 MAX_FRAME_SIZE",
            Control(Server),
            hex("04 02 05 30"),
            SettingsError,
            Scope::Connection,
        ),
        (
            "control: SETTINGS id 0",
            Control(Server),
            hex("04 02 00 00"),
            SettingsError,
            Scope::Connection,
        ),
        (
            "control: SETTINGS connect protocol = 2",
            Control(Server),
            hex("04 02 08 02"),
            SettingsError,
            Scope::Connection,
        ),
        (
            "control: SETTINGS of 1 MiB",
            Control(Server),
            hex("04 80100000"),
            ExcessiveLoad,
            Scope::Connection,
        ),
        // Request streams (RFC 9114 §4.1).
        (
            "request: DATA first",
            Request(Server),
            hex("00 01 61"),
            FrameUnexpected,
            Scope::Connection,
        ),
        (
            "request: DATA after trailers",
            Request(Server),
            hex("01 02 0000 01 02 0000 00 01 61"),
            FrameUnexpected,
            Scope::Connection,
        ),
        (
            "request: third HEADERS",
            Request(Server),
            hex("01 02 0000 01 02 0000 01 02 0000"),
            FrameUnexpected,
            Scope::Connection,
        ),
        (
            "request: SETTINGS",
            Request(Server),
            cat(&[&hex("01 02 0000"), &s()]),
            FrameUnexpected,
            Scope::Connection,
        ),
        (
            "request: GOAWAY",
            Request(Client),
            hex("01 02 0000 07 01 00"),
            FrameUnexpected,
            Scope::Connection,
        ),
        (
            "request: CANCEL_PUSH",
            Request(Server),
            hex("03 01 00"),
            FrameUnexpected,
            Scope::Connection,
        ),
        (
            "request: MAX_PUSH_ID",
            Request(Server),
            hex("0d 01 00"),
            FrameUnexpected,
            Scope::Connection,
        ),
        (
            "request: PUSH_PROMISE to a server",
            Request(Server),
            hex("05 03 00 0000"),
            FrameUnexpected,
            Scope::Connection,
        ),
        (
            "request: PUSH_PROMISE beyond MAX_PUSH_ID",
            Request(Client),
            hex("01 02 0000 05 03 00 0000"),
            IdError,
            Scope::Connection,
        ),
        (
            "request: h2 PRIORITY",
            Request(Server),
            hex("01 02 0000 02 00"),
            FrameUnexpected,
            Scope::Connection,
        ),
        (
            "request: PUSH_PROMISE without push id",
            Request(Client),
            hex("05 00"),
            FrameError,
            Scope::Connection,
        ),
        (
            "request: FIN inside DATA",
            Request(Server),
            hex("01 02 0000 00 05 6162"),
            FrameError,
            Scope::Connection,
        ),
        (
            "request: FIN inside frame header",
            Request(Server),
            hex("01 02 0000 00 40"),
            FrameError,
            Scope::Connection,
        ),
        (
            "request: FIN inside HEADERS",
            Request(Server),
            hex("01 05 0000"),
            FrameError,
            Scope::Connection,
        ),
        (
            "request: FIN inside unknown frame",
            Request(Server),
            hex("01 02 0000 21 05 00"),
            FrameError,
            Scope::Connection,
        ),
        (
            "request: no HEADERS",
            Request(Server),
            vec![],
            RequestIncomplete,
            Scope::Stream,
        ),
        (
            "request: only unknown frames",
            Request(Server),
            hex("21 00 40 40 00"),
            RequestIncomplete,
            Scope::Stream,
        ),
        (
            "response: no HEADERS",
            Request(Client),
            vec![],
            MessageError,
            Scope::Stream,
        ),
        (
            "request: HEADERS above the limit",
            RequestSmall,
            hex("01 40 65"),
            ExcessiveLoad,
            Scope::Stream,
        ),
    ];
    for (name, target, wire, code, scope) in cases {
        for chunk in [1, 2, 1 << 20] {
            let err = run_stream(target, &wire, chunk)
                .expect_err(&format!("{name} (chunk {chunk}) must fail"));
            assert_eq!(
                (err.code(), err.scope()),
                (code, scope),
                "{name} (chunk {chunk}): {err}"
            );
        }
    }
}

#[test]
fn frame_decoder_truncation_at_every_cut() {
    // Any strict prefix that ends inside a frame is H3_FRAME_ERROR at finish().
    let mut wire = Vec::new();
    frame::encode_headers(b"\x00\x00\xd1", &mut wire).unwrap();
    frame::encode_data(b"payload", &mut wire).unwrap();
    frame::encode_goaway(1 << 40, &mut wire).unwrap();
    let boundaries = [0, 5, 14, wire.len()];
    for cut in 0..=wire.len() {
        let mut dec = FrameDecoder::default();
        let mut input = &wire[..cut];
        loop {
            let (n, ev) = dec.decode(input).unwrap();
            input = &input[n..];
            if ev.is_none() {
                break;
            }
        }
        let result = dec.finish();
        if boundaries.contains(&cut) {
            result.unwrap();
        } else {
            assert_eq!(
                result.unwrap_err().code(),
                ErrorCode::FrameError,
                "cut {cut}"
            );
        }
    }
}

/// A decoder whose table holds RFC 9204 B.2's two entries (capacity 220, max 4096).
fn primed_decoder(max_field_section_size: u64) -> Decoder {
    let mut d = Decoder::new(DecoderConfig {
        max_table_capacity: 4096,
        max_blocked_streams: 2,
        max_field_section_size,
        ..DecoderConfig::default()
    });
    d.feed_encoder_stream(&hex(
        "3fbd01 c00f 7777 772e 6578 616d 706c 652e 636f 6d c10c 2f73 616d 706c 652f 7061 7468",
    ))
    .unwrap();
    d
}

#[test]
fn qpack_field_section_table() {
    use ErrorCode::*;
    let long_field = format!("0000 21 6e 7f 01 {}", "61".repeat(128));
    let cases: Vec<(&str, String, u64, ErrorCode, Scope)> = vec![
        (
            "empty section",
            "".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "missing base",
            "00".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "truncated RIC integer",
            "ff".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "RIC above the full range",
            "ff 82 01 00".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "RIC that wraps to zero",
            "01 00".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "negative base",
            "03 82".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "base overflow",
            "03 7f ffffffffffffffffff 00".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "static index 99",
            "0000 ff 24".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "static name index 99",
            "0000 5f 54 00".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "truncated index",
            "0000 ff".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "integer above 62 bits",
            "0000 ff ffffffffffffffff7f".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "dynamic ref with RIC 0",
            "0000 80".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "post-base ref with RIC 0",
            "0000 10".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "dynamic name ref with RIC 0",
            "0000 40 00".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "post-base name ref with RIC 0",
            "0000 00 00".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "relative index past base",
            "02 00 81".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "post-base index at RIC",
            "02 00 10".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "post-base name index at RIC",
            "02 00 00 00".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "value longer than the section",
            "0000 51 0b 2f".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "string length overflow",
            "0000 51 7f ffffffffffffffffff01".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "literal name truncated",
            "0000 27 01 61".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "literal value missing",
            "0000 23 61 62 63".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "Huffman padding not ones",
            "0000 51 81 00".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "Huffman EOS",
            "0000 51 84 ffffffff".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "Huffman padding over 7 bits",
            "0000 51 82 1fff".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "Huffman literal name bad",
            "0000 29 00 00".into(),
            1 << 14,
            QpackDecompressionFailed,
            Scope::Connection,
        ),
        (
            "field section too large",
            long_field,
            100,
            ExcessiveLoad,
            Scope::Stream,
        ),
    ];
    for (name, block, limit, code, scope) in cases {
        let block = hex(&block);
        let arena = Arena::new();
        let err = primed_decoder(limit)
            .decode_section(4, &block, &arena)
            .map(|_| ())
            .expect_err(name);
        assert_eq!((err.code(), err.scope()), (code, scope), "{name}: {err}");
        let err = primed_decoder(limit)
            .decode_section_with(4, &block, |_, _| {})
            .map(|_| ())
            .expect_err(name);
        assert_eq!(
            (err.code(), err.scope()),
            (code, scope),
            "{name} (callback): {err}"
        );
        // Errors at the HTTP/3 layer keep the code.
        assert_eq!(Error::from(err).code(), code);
    }
}

#[test]
fn qpack_encoder_stream_table() {
    let too_long = format!("5f d1 0f {}", "61".repeat(1200)); // literal name of 2000 bytes
    let cases: Vec<(&str, u64, String)> = vec![
        ("capacity above the maximum", 220, "3f e1 1f".into()),
        ("insert with zero capacity", 220, "c0 01 61".into()),
        ("static name index 99", 220, "3f bd01 ff 24 00".into()),
        (
            "dynamic name ref into an empty table",
            220,
            "3f bd01 80 00".into(),
        ),
        ("duplicate of an empty table", 220, "3f bd01 00".into()),
        ("duplicate past the table", 220, "3f bd01 c0 00 01".into()),
        (
            "entry larger than capacity",
            220,
            "3f 09 4a 61616161616161616161 00".into(),
        ),
        ("bad Huffman name", 220, "3f bd01 61 00 00".into()),
        ("bad Huffman value", 220, "3f bd01 c0 81 00".into()),
        ("integer overflow", 220, "3f ffffffffffffffffff01".into()),
        ("instruction longer than the table allows", 220, too_long),
        ("any insert with table capacity 0", 0, "c0 00".into()),
    ];
    for (name, max, wire) in cases {
        let wire = hex(&wire);
        for chunk in [1, 7, wire.len()] {
            let mut d = Decoder::new(DecoderConfig {
                max_table_capacity: max,
                ..DecoderConfig::default()
            });
            let err = wire
                .chunks(chunk)
                .try_for_each(|piece| d.feed_encoder_stream(piece))
                .expect_err(name);
            assert_eq!(
                (err.code(), err.scope()),
                (ErrorCode::QpackEncoderStreamError, Scope::Connection),
                "{name} (chunk {chunk}): {err}"
            );
        }
    }
}

#[test]
fn qpack_decoder_stream_table() {
    // Our encoder never uses the dynamic table: acknowledgments and increments are
    // errors (RFC 9204 §4.4.1, §4.4.3); cancellations are fine.
    for (name, wire) in [
        ("section acknowledgment", "84"),
        ("insert count increment", "01"),
        ("zero increment", "00"),
        ("ack after cancellations", "48 7f05 80"),
        ("integer overflow", "7f ffffffffffffffffff01"),
    ] {
        let wire = hex(wire);
        for chunk in [1, wire.len()] {
            let mut e = Encoder::new();
            let err = wire
                .chunks(chunk)
                .try_for_each(|piece| e.feed_decoder_stream(piece))
                .expect_err(name);
            assert_eq!(err.code(), ErrorCode::QpackDecoderStreamError, "{name}");
        }
    }
    let mut e = Encoder::new();
    e.feed_decoder_stream(&hex("48 4c 7f 05")).unwrap();
}
