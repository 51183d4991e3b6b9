//! Cross-check against an independent implementation: Python h2's server state machine
//! (tests/h2_peer.py). Our encoder writes a client connection; h2 must report exactly the
//! request events; h2's answer must decode with our `FrameDecoder`.
//!
//! Needs `python3` with the `h2` module (`pip install h2`, or `cargo xtask test`).

use serde_json::Value;
use shockwave_http2_frames::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

const MISSING: &str = "python3 module h2 missing: run `pip install h2` or `cargo xtask test`";

/// RFC 7541 §5.1 integer with an `n`-bit prefix; `first` holds the pattern bits.
fn hpack_int(dst: &mut Vec<u8>, first: u8, n: u32, mut value: usize) {
    let max = (1usize << n) - 1;
    if value < max {
        dst.push(first | value as u8);
        return;
    }
    dst.push(first | max as u8);
    value -= max;
    while value >= 128 {
        dst.push((value % 128) as u8 | 0x80);
        value /= 128;
    }
    dst.push(value as u8);
}

/// A header block of "Literal Header Field without Indexing — New Name" representations
/// (RFC 7541 §6.2.2) with raw (non-Huffman) string literals (§5.2).
fn literal_block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        out.push(0x00);
        for s in [name, value] {
            hpack_int(&mut out, 0x00, 7, s.len());
            out.extend_from_slice(s.as_bytes());
        }
    }
    out
}

struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    fn start() -> Peer {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/h2_peer.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run python3 ({e}); install python3, then: {MISSING}")
            });
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Peer {
            child,
            stdin,
            stdout,
        }
    }

    /// Sends one round of bytes; returns h2's events and the bytes it wants to send.
    fn round(&mut self, bytes: &[u8]) -> (Vec<Value>, Vec<u8>) {
        let line: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let stdin = self.stdin.as_mut().expect("stdin open");
        let _ = writeln!(stdin, "{line}").and_then(|_| stdin.flush());
        let mut reply = String::new();
        self.stdout.read_line(&mut reply).expect("read from python");
        if reply.is_empty() {
            let status = self.child.wait().expect("wait python");
            if status.code() == Some(3) {
                panic!("{MISSING}");
            }
            panic!("python h2 peer exited ({status}) without answering; see its stderr above");
        }
        let v: Value = serde_json::from_str(&reply).expect("JSON from peer");
        let out = v["out"].as_str().expect("out");
        let out = (0..out.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&out[i..i + 2], 16).unwrap())
            .collect();
        (v["events"].as_array().expect("events").clone(), out)
    }

    fn finish(mut self) {
        drop(self.stdin.take());
        let status = self.child.wait().expect("wait python");
        assert!(status.success(), "python h2 peer failed: {status}");
    }
}

fn find<'e>(events: &'e [Value], kind: &str, pred: impl Fn(&Value) -> bool) -> &'e Value {
    events
        .iter()
        .find(|e| e["type"] == kind && pred(e))
        .unwrap_or_else(|| panic!("no matching {kind} event in {events:#?}"))
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn python_h2_server_accepts_our_frames_and_we_decode_its_frames() {
    let long_value = "v".repeat(300); // exercises multi-byte HPACK integers
    let request: Vec<(&str, &str)> = vec![
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/upload"),
        (":authority", "localhost"),
        ("content-type", "text/plain"),
        ("user-agent", "shockwave-http2-frames-test"),
        ("x-long", &long_value),
    ];
    let block1 = literal_block(&request);
    let block3 = literal_block(&[
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/other"),
        (":authority", "localhost"),
    ]);

    // --- Round 1: preface, SETTINGS, a POST split over HEADERS + 2 CONTINUATION with
    // padding and priority, padded DATA, PRIORITY, a GET, RST_STREAM, PING, an extension.
    let mut out = Vec::new();
    out.extend_from_slice(PREFACE);
    let ours = Settings {
        enable_push: false,
        initial_window_size: 1 << 20,
        max_concurrent_streams: Some(100),
        max_header_list_size: Some(16_384),
        ..Settings::default()
    };
    ours.encode(&mut out).unwrap();
    WindowUpdate {
        stream_id: 0,
        increment: (1 << 20) - 65_535,
    }
    .encode(&mut out)
    .unwrap();
    let priority = Some(PrioritySpec {
        dependency: 0,
        exclusive: false,
        weight: 31,
    });
    Headers {
        stream_id: 1,
        fragment: &block1[..20],
        end_stream: false,
        end_headers: false,
        priority,
        pad_len: Some(5),
    }
    .encode(&mut out)
    .unwrap();
    Continuation {
        stream_id: 1,
        fragment: &block1[20..100],
        end_headers: false,
    }
    .encode(&mut out)
    .unwrap();
    Continuation {
        stream_id: 1,
        fragment: &block1[100..],
        end_headers: true,
    }
    .encode(&mut out)
    .unwrap();
    Data {
        stream_id: 1,
        data: b"hello ",
        end_stream: false,
        pad_len: Some(10),
    }
    .encode(&mut out)
    .unwrap();
    Data {
        stream_id: 1,
        data: b"h2",
        end_stream: true,
        pad_len: None,
    }
    .encode(&mut out)
    .unwrap();
    Priority {
        stream_id: 3,
        spec: PrioritySpec {
            dependency: 1,
            exclusive: false,
            weight: 15,
        },
    }
    .encode(&mut out)
    .unwrap();
    Headers {
        stream_id: 3,
        fragment: &block3,
        end_stream: true,
        end_headers: false,
        priority: None,
        pad_len: None,
    }
    .encode_split(&mut out, DEFAULT_MAX_FRAME_SIZE)
    .unwrap();
    RstStream {
        stream_id: 3,
        error_code: ErrorCode::Cancel,
    }
    .encode(&mut out)
    .unwrap();
    Ping {
        ack: false,
        data: *b"shockwav",
    }
    .encode(&mut out)
    .unwrap();
    UnknownFrame {
        header: FrameHeader {
            length: 0,
            kind: FrameKind::Unknown(0xfa),
            flags: Flags(0),
            stream_id: 0,
        },
        payload: b"ignore me",
    }
    .encode(&mut out)
    .unwrap();

    let mut peer = Peer::start();
    let (events, reply) = peer.round(&out);

    let settings = find(&events, "RemoteSettingsChanged", |_| true);
    assert_eq!(settings["changed"]["2"], 0, "ENABLE_PUSH");
    assert_eq!(settings["changed"]["3"], 100, "MAX_CONCURRENT_STREAMS");
    assert_eq!(settings["changed"]["4"], 1 << 20, "INITIAL_WINDOW_SIZE");
    assert_eq!(settings["changed"]["6"], 16_384, "MAX_HEADER_LIST_SIZE");
    find(&events, "WindowUpdated", |e| {
        e["stream_id"] == 0 && e["delta"] == (1 << 20) - 65_535
    });
    let req = find(&events, "RequestReceived", |e| e["stream_id"] == 1);
    let got: Vec<(String, String)> = req["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_owned(),
                p[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = request
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        req["priority"],
        serde_json::json!([0, 32, false]),
        "weight 31 on the wire is 32"
    );
    find(&events, "DataReceived", |e| {
        e["stream_id"] == 1 && e["data"] == hex_of(b"hello ") && e["flow"] == 6 + 1 + 10
    });
    find(&events, "DataReceived", |e| {
        e["stream_id"] == 1 && e["data"] == hex_of(b"h2") && e["flow"] == 2
    });
    find(&events, "StreamEnded", |e| e["stream_id"] == 1);
    find(&events, "PriorityUpdated", |e| {
        e["stream_id"] == 3 && e["depends_on"] == 1 && e["weight"] == 16
    });
    find(&events, "RequestReceived", |e| e["stream_id"] == 3);
    find(&events, "StreamEnded", |e| e["stream_id"] == 3);
    find(&events, "StreamReset", |e| {
        e["stream_id"] == 3 && e["error_code"] == 8
    });
    find(&events, "PingReceived", |e| {
        e["data"] == hex_of(b"shockwav")
    });
    find(&events, "UnknownFrameReceived", |e| e["frame_type"] == 0xfa);
    assert!(
        !events.iter().any(|e| e["type"] == "ConnectionTerminated"),
        "{events:#?}"
    );

    // --- h2's answer decodes with our FrameDecoder.
    let mut decoder = FrameDecoder::new();
    let mut server = Settings::default();
    let mut rest = &reply[..];
    let (mut saw_settings, mut saw_ack, mut saw_pong, mut saw_headers) =
        (false, false, false, false);
    let mut body = Vec::new();
    let mut body_ended = false;
    let mut server_ping = None;
    while let Some((frame, used)) = decoder.decode(rest).expect("h2's frames are valid") {
        match frame {
            Frame::Settings(s) if s.is_ack() => saw_ack = true,
            Frame::Settings(s) => {
                assert!(!saw_settings, "first SETTINGS only once");
                server.apply(&s).unwrap();
                saw_settings = true;
            }
            Frame::Ping(p) if p.ack => {
                assert_eq!(&p.data, b"shockwav");
                saw_pong = true;
            }
            Frame::Ping(p) => server_ping = Some(p.data),
            Frame::Headers(h) => {
                assert_eq!(h.stream_id, 1);
                assert!(h.end_headers && !h.end_stream && !h.fragment.is_empty());
                saw_headers = true;
            }
            Frame::Data(d) => {
                assert_eq!(d.stream_id, 1);
                body.extend_from_slice(d.data);
                body_ended |= d.end_stream;
            }
            Frame::WindowUpdate(w) => assert!(w.increment > 0),
            other => panic!("unexpected frame from h2: {other:?}"),
        }
        rest = &rest[used..];
    }
    assert!(rest.is_empty(), "{} undecoded bytes", rest.len());
    assert!(saw_settings && saw_ack && saw_pong && saw_headers);
    assert_eq!(body, b"hello from python h2");
    assert!(body_ended);
    // h2's server SETTINGS differ from the defaults somewhere (it announces its limits).
    assert!(!server.diff(&Settings::DEFAULT).is_empty(), "{server:?}");
    let server_ping = server_ping.expect("h2 sent a PING");

    // --- Round 2: acknowledge h2's SETTINGS, answer its PING, and go away.
    let mut out = Vec::new();
    encode_settings_ack(&mut out);
    Ping {
        ack: true,
        data: server_ping,
    }
    .encode(&mut out)
    .unwrap();
    GoAway {
        last_stream_id: 0,
        error_code: ErrorCode::NoError,
        debug_data: b"done",
    }
    .encode(&mut out)
    .unwrap();
    let (events, _) = peer.round(&out);
    find(&events, "SettingsAcknowledged", |_| true);
    find(&events, "PingAckReceived", |e| {
        e["data"] == hex_of(&server_ping)
    });
    find(&events, "ConnectionTerminated", |e| {
        e["error_code"] == 0 && e["last_stream_id"] == 0 && e["data"] == hex_of(b"done")
    });
    peer.finish();
}
