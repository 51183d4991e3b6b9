//! A conformance table in the spirit of h2spec: crafted frame sequences sent over a raw
//! TCP socket to our server, each expecting the RFC 9113 / RFC 7541 reaction (a GOAWAY or
//! RST_STREAM code, or a normal answer). Sections are RFC 9113 unless noted.

mod http2_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use http2_support::{server, Client, F};
use shockwave_http2_frames::{ErrorCode, SettingId};

#[derive(Debug, Clone, Copy)]
enum Expect {
    /// GOAWAY with this code (then the connection closes).
    GoAway(ErrorCode),
    /// RST_STREAM on the stream with this code, or a GOAWAY with it (both allowed).
    Error(u32, ErrorCode),
    /// RST_STREAM on the stream with this code (a stream error, connection stays up).
    Rst(u32, ErrorCode),
    /// A response with this status on the stream.
    Status(u32, &'static str),
    /// The connection stays healthy: our PING is acknowledged, nothing else goes wrong.
    Alive,
}

type Send = fn(&mut Client);

struct Case {
    section: &'static str,
    name: &'static str,
    handshake: bool,
    send: Send,
    expect: Expect,
}

const GET: [(&str, &str); 4] = [
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "localhost"),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut v = GET.to_vec();
    v.extend_from_slice(extra);
    v
}

fn slow(c: &mut Client, id: u32) {
    c.headers(
        id,
        &[(":method", "GET"), (":scheme", "http"), (":path", "/slow")],
        true,
    );
}

fn post(c: &mut Client, id: u32, extra: &[(&str, &str)]) {
    let mut f = vec![(":method", "POST"), (":scheme", "http"), (":path", "/echo")];
    f.extend_from_slice(extra);
    c.headers(id, &f, false);
}

use ErrorCode::*;
use Expect::*;

fn cases() -> Vec<Case> {
    macro_rules! case {
        ($sec:expr, $name:expr, $send:expr, $exp:expr) => {
            Case {
                section: $sec,
                name: $name,
                handshake: true,
                send: $send,
                expect: $exp,
            }
        };
        (raw $sec:expr, $name:expr, $send:expr, $exp:expr) => {
            Case {
                section: $sec,
                name: $name,
                handshake: false,
                send: $send,
                expect: $exp,
            }
        };
    }
    vec![
        // §3.4 connection preface
        case!(raw "3.4", "invalid connection preface", |c| {
            c.out.extend_from_slice(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n");
        }, GoAway(ProtocolError)),
        case!(raw "3.4", "preface not followed by SETTINGS", |c| {
            c.out.extend_from_slice(shockwave_http2_frames::PREFACE);
            c.ping(*b"abcdefgh");
        }, GoAway(ProtocolError)),
        case!(
            "3.4",
            "valid preface and a GET",
            |c| {
                c.get(1, "/");
            },
            Status(1, "200")
        ),
        // §4.1 frame format
        case!(
            "4.1",
            "unknown frame type is ignored",
            |c| {
                c.raw(0x20, 0, 0, b"hello");
            },
            Alive
        ),
        case!(
            "4.1",
            "undefined flags are ignored",
            |c| {
                c.raw(0x6, 0x16, 0, b"12345678");
            },
            Alive
        ),
        case!(
            "4.1",
            "reserved bit in stream id is ignored",
            |c| {
                let b = c.block(&GET);
                c.raw(0x1, 0x5, 0x8000_0001, &b);
            },
            Status(1, "200")
        ),
        // §4.2 frame size
        case!(
            "4.2",
            "DATA larger than SETTINGS_MAX_FRAME_SIZE",
            |c| {
                post(c, 1, &[]);
                c.raw(0x0, 0, 1, &vec![0u8; 16_385]);
            },
            Error(1, FrameSizeError)
        ),
        case!(
            "4.2",
            "HEADERS larger than SETTINGS_MAX_FRAME_SIZE",
            |c| {
                c.raw(0x1, 0x5, 1, &vec![0u8; 16_385]);
            },
            GoAway(FrameSizeError)
        ),
        // §4.3 field blocks
        case!(
            "4.3",
            "undecodable field block (index 0)",
            |c| {
                c.headers_raw(1, &[0x80], true, true);
            },
            GoAway(CompressionError)
        ),
        case!(
            "4.3",
            "PRIORITY between HEADERS and CONTINUATION",
            |c| {
                let b = c.block(&GET);
                c.headers_raw(1, &b[..1], true, false)
                    .priority(1, 0)
                    .continuation(1, &b[1..], true);
            },
            GoAway(ProtocolError)
        ),
        case!(
            "4.3",
            "HEADERS of another stream inside a field block",
            |c| {
                let b = c.block(&GET);
                c.headers_raw(1, &b[..1], true, false)
                    .headers_raw(3, &b, true, true);
            },
            GoAway(ProtocolError)
        ),
        // §5.1 stream states
        case!(
            "5.1",
            "idle: DATA",
            |c| {
                c.data(1, b"x", true);
            },
            GoAway(ProtocolError)
        ),
        case!(
            "5.1",
            "idle: RST_STREAM",
            |c| {
                c.rst(1, Cancel);
            },
            GoAway(ProtocolError)
        ),
        case!(
            "5.1",
            "idle: WINDOW_UPDATE",
            |c| {
                c.window(1, 100);
            },
            GoAway(ProtocolError)
        ),
        case!(
            "5.1",
            "idle: CONTINUATION",
            |c| {
                c.continuation(1, &[0x82], true);
            },
            GoAway(ProtocolError)
        ),
        case!(
            "5.1",
            "idle: PRIORITY is allowed",
            |c| {
                c.priority(3, 0);
            },
            Alive
        ),
        case!(
            "5.1",
            "half-closed (remote): DATA",
            |c| {
                slow(c, 1);
                c.data(1, b"x", true);
            },
            Error(1, StreamClosed)
        ),
        case!(
            "5.1",
            "half-closed (remote): HEADERS",
            |c| {
                slow(c, 1);
                c.headers(1, &[("x-trailer", "1")], true);
            },
            Error(1, StreamClosed)
        ),
        case!(
            "5.1",
            "half-closed (remote): WINDOW_UPDATE is allowed",
            |c| {
                slow(c, 1);
                c.window(1, 10);
            },
            Status(1, "200")
        ),
        case!(
            "5.1",
            "closed: DATA after RST_STREAM",
            |c| {
                post(c, 1, &[]);
                c.rst(1, Cancel).data(1, b"x", true);
            },
            Error(1, StreamClosed)
        ),
        case!(
            "5.1",
            "closed: HEADERS after RST_STREAM",
            |c| {
                post(c, 1, &[]);
                c.rst(1, Cancel).headers(1, &[("x-trailer", "1")], true);
            },
            Error(1, StreamClosed)
        ),
        case!(
            "5.1",
            "closed: HEADERS reopening a finished stream",
            |c| {
                c.get(1, "/");
                c.out.extend_from_slice(&[]);
            },
            Status(1, "200")
        ),
        // §5.1.1 stream identifiers
        case!(
            "5.1.1",
            "even stream id",
            |c| {
                c.get(2, "/");
            },
            GoAway(ProtocolError)
        ),
        case!(
            "5.1.1",
            "decreasing stream id",
            |c| {
                c.get(5, "/").get(3, "/");
            },
            GoAway(ProtocolError)
        ),
        // §5.1.2 concurrency
        case!(
            "5.1.2",
            "more streams than SETTINGS_MAX_CONCURRENT_STREAMS",
            |c| {
                for i in 0..201 {
                    slow(c, 1 + 2 * i);
                }
            },
            Rst(401, RefusedStream)
        ),
        // §5.3.1 priority
        case!(
            "5.3.1",
            "HEADERS depending on itself",
            |c| {
                let b = c.block(&GET);
                let mut p = vec![0, 0, 0, 1, 16];
                p.extend_from_slice(&b);
                c.raw(0x1, 0x5 | 0x20, 1, &p);
            },
            Error(1, ProtocolError)
        ),
        case!(
            "5.3.1",
            "PRIORITY depending on itself",
            |c| {
                c.raw(0x2, 0, 1, &[0, 0, 0, 1, 16]);
            },
            Error(1, ProtocolError)
        ),
        // §5.5 extensions
        case!(
            "5.5",
            "unknown frame inside a field block",
            |c| {
                let b = c.block(&GET);
                c.headers_raw(1, &b[..1], true, false)
                    .raw(0x20, 0, 1, b"x")
                    .continuation(1, &b[1..], true);
            },
            GoAway(ProtocolError)
        ),
        // §6.1 DATA
        case!(
            "6.1",
            "DATA on stream 0",
            |c| {
                c.raw(0x0, 0x1, 0, b"x");
            },
            GoAway(ProtocolError)
        ),
        case!(
            "6.1",
            "DATA padding longer than payload",
            |c| {
                post(c, 1, &[]);
                c.raw(0x0, 0x8 | 0x1, 1, &[10, b'a', b'b']);
            },
            GoAway(ProtocolError)
        ),
        case!(
            "6.1",
            "padded DATA is accepted",
            |c| {
                post(c, 1, &[]);
                c.raw(0x0, 0x8 | 0x1, 1, &[2, b'h', b'i', 0, 0]);
            },
            Status(1, "200")
        ),
        // §6.2 HEADERS
        case!(
            "6.2",
            "HEADERS on stream 0",
            |c| {
                let b = c.block(&GET);
                c.raw(0x1, 0x5, 0, &b);
            },
            GoAway(ProtocolError)
        ),
        case!(
            "6.2",
            "HEADERS padding longer than payload",
            |c| {
                c.raw(0x1, 0x5 | 0x8, 1, &[20, 0x82]);
            },
            GoAway(ProtocolError)
        ),
        case!(
            "6.2",
            "HEADERS without END_HEADERS then DATA",
            |c| {
                let b = c.block(&GET);
                c.headers_raw(1, &b, false, false).data(1, b"x", true);
            },
            GoAway(ProtocolError)
        ),
        // §6.3 PRIORITY
        case!(
            "6.3",
            "PRIORITY on stream 0",
            |c| {
                c.raw(0x2, 0, 0, &[0, 0, 0, 1, 16]);
            },
            GoAway(ProtocolError)
        ),
        case!(
            "6.3",
            "PRIORITY with length 4",
            |c| {
                c.raw(0x2, 0, 1, &[0, 0, 0, 3]);
            },
            Error(1, FrameSizeError)
        ),
        // §6.4 RST_STREAM
        case!(
            "6.4",
            "RST_STREAM on stream 0",
            |c| {
                c.raw(0x3, 0, 0, &[0, 0, 0, 8]);
            },
            GoAway(ProtocolError)
        ),
        case!(
            "6.4",
            "RST_STREAM with length 3",
            |c| {
                slow(c, 1);
                c.raw(0x3, 0, 1, &[0, 0, 8]);
            },
            GoAway(FrameSizeError)
        ),
        // §6.5 SETTINGS
        case!(
            "6.5",
            "SETTINGS ACK with a payload",
            |c| {
                c.raw(0x4, 0x1, 0, &[0, 3, 0, 0, 0, 1]);
            },
            GoAway(FrameSizeError)
        ),
        case!(
            "6.5",
            "SETTINGS on a stream",
            |c| {
                c.raw(0x4, 0, 1, &[]);
            },
            GoAway(ProtocolError)
        ),
        case!(
            "6.5",
            "SETTINGS length not a multiple of 6",
            |c| {
                c.raw(0x4, 0, 0, &[0, 3, 0]);
            },
            GoAway(FrameSizeError)
        ),
        case!(
            "6.5.2",
            "SETTINGS_ENABLE_PUSH = 2",
            |c| {
                c.raw(0x4, 0, 0, &[0, 2, 0, 0, 0, 2]);
            },
            GoAway(ProtocolError)
        ),
        case!(
            "6.5.2",
            "SETTINGS_INITIAL_WINDOW_SIZE = 2^31",
            |c| {
                c.raw(0x4, 0, 0, &[0, 4, 0x80, 0, 0, 0]);
            },
            GoAway(FlowControlError)
        ),
        case!(
            "6.5.2",
            "SETTINGS_MAX_FRAME_SIZE below 16384",
            |c| {
                c.raw(0x4, 0, 0, &[0, 5, 0, 0, 0x3f, 0xff]);
            },
            GoAway(ProtocolError)
        ),
        case!(
            "6.5.2",
            "unknown setting is ignored",
            |c| {
                c.raw(0x4, 0, 0, &[0xff, 0xff, 0, 0, 0, 1]);
            },
            Alive
        ),
        case!(
            "6.5.3",
            "SETTINGS is acknowledged (and a larger frame size is used)",
            |c| {
                c.settings(&[(SettingId::MaxFrameSize, 1 << 20)]);
            },
            Alive
        ),
        // §6.7 PING
        case!(
            "6.7",
            "PING is answered with the same payload",
            |_| {},
            Alive
        ),
        case!(
            "6.7",
            "PING ACK from the peer is not answered",
            |c| {
                c.raw(0x6, 0x1, 0, b"zzzzzzzz");
            },
            Alive
        ),
        case!(
            "6.7",
            "PING with undefined flags is answered",
            |c| {
                c.raw(0x6, 0x16, 0, b"12345678");
            },
            Alive
        ),
        case!(
            "6.7",
            "PING on a stream",
            |c| {
                c.raw(0x6, 0, 1, b"12345678");
            },
            GoAway(ProtocolError)
        ),
        case!(
            "6.7",
            "PING with length 7",
            |c| {
                c.raw(0x6, 0, 0, b"1234567");
            },
            GoAway(FrameSizeError)
        ),
        // §6.8 GOAWAY
        case!(
            "6.8",
            "GOAWAY on a stream",
            |c| {
                c.raw(0x7, 0, 1, &[0, 0, 0, 0, 0, 0, 0, 0]);
            },
            GoAway(ProtocolError)
        ),
        // §6.9 WINDOW_UPDATE
        case!(
            "6.9",
            "zero increment on the connection",
            |c| {
                c.raw(0x8, 0, 0, &[0, 0, 0, 0]);
            },
            GoAway(ProtocolError)
        ),
        case!(
            "6.9",
            "zero increment on a stream",
            |c| {
                slow(c, 1);
                c.raw(0x8, 0, 1, &[0, 0, 0, 0]);
            },
            Error(1, ProtocolError)
        ),
        case!(
            "6.9",
            "WINDOW_UPDATE with length 3",
            |c| {
                c.raw(0x8, 0, 0, &[0, 0, 1]);
            },
            GoAway(FrameSizeError)
        ),
        case!(
            "6.9.1",
            "connection window above 2^31-1",
            |c| {
                c.window(0, 0x7fff_ffff).window(0, 0x7fff_ffff);
            },
            GoAway(FlowControlError)
        ),
        case!(
            "6.9.1",
            "stream window above 2^31-1",
            |c| {
                slow(c, 1);
                c.window(1, 0x7fff_ffff);
            },
            Error(1, FlowControlError)
        ),
        case!(
            "6.9.1",
            "DATA respects a 1-byte stream window",
            |c| {
                c.settings(&[(SettingId::InitialWindowSize, 1)]);
                c.get(1, "/");
            },
            Status(1, "200")
        ),
        case!(
            "6.9.2",
            "INITIAL_WINDOW_SIZE change overflowing a stream window",
            |c| {
                slow(c, 1);
                c.window(1, 0x7fff_ffff - 65_535);
                c.settings(&[(SettingId::InitialWindowSize, 0x7fff_ffff)]);
            },
            GoAway(FlowControlError)
        ),
        case!(
            "6.9",
            "DATA beyond the stream window",
            |c| {
                // /slow does not read the body: no credit comes back.
                c.headers(
                    1,
                    &[(":method", "POST"), (":scheme", "http"), (":path", "/slow")],
                    false,
                );
                for _ in 0..70 {
                    c.data(1, &[0u8; 16_000], false);
                }
            },
            Error(1, FlowControlError)
        ),
        // §6.10 CONTINUATION
        case!(
            "6.10",
            "CONTINUATION after END_HEADERS",
            |c| {
                c.get(1, "/").continuation(1, &[0x82], true);
            },
            GoAway(ProtocolError)
        ),
        case!(
            "6.10",
            "CONTINUATION on stream 0",
            |c| {
                let b = c.block(&GET);
                c.headers_raw(1, &b, true, false).raw(0x9, 0x4, 0, &[]);
            },
            GoAway(ProtocolError)
        ),
        case!(
            "6.10",
            "field block split over CONTINUATION frames",
            |c| {
                let b = c.block(&GET);
                c.headers_raw(1, &b[..1], true, false)
                    .continuation(1, &b[1..2], false)
                    .continuation(1, &b[2..], true);
            },
            Status(1, "200")
        ),
        case!(
            "6.6 / 8.4",
            "PUSH_PROMISE from a client",
            |c| {
                c.raw(0x5, 0x4, 1, &[0, 0, 0, 2, 0x82]);
            },
            GoAway(ProtocolError)
        ),
        // §8.1, §8.2, §8.3 HTTP semantics
        case!(
            "8.2.1",
            "uppercase field name",
            |c| {
                c.headers(1, &with(&[("X-Upper", "1")]), true);
            },
            Rst(1, ProtocolError)
        ),
        case!(
            "8.2.1",
            "field value with CR LF",
            |c| {
                c.headers(1, &with(&[("x-a", "a\r\nb: c")]), true);
            },
            Rst(1, ProtocolError)
        ),
        case!(
            "8.2.2",
            "connection-specific field",
            |c| {
                c.headers(1, &with(&[("connection", "keep-alive")]), true);
            },
            Rst(1, ProtocolError)
        ),
        case!(
            "8.2.2",
            "TE other than trailers",
            |c| {
                c.headers(1, &with(&[("te", "gzip")]), true);
            },
            Rst(1, ProtocolError)
        ),
        case!(
            "8.2.2",
            "TE: trailers is allowed",
            |c| {
                c.headers(1, &with(&[("te", "trailers")]), true);
            },
            Status(1, "200")
        ),
        case!(
            "8.3",
            "pseudo-header after a regular field",
            |c| {
                c.headers(
                    1,
                    &[
                        (":method", "GET"),
                        (":scheme", "http"),
                        ("x-a", "1"),
                        (":path", "/"),
                    ],
                    true,
                );
            },
            Rst(1, ProtocolError)
        ),
        case!(
            "8.3",
            "unknown pseudo-header",
            |c| {
                c.headers(1, &with(&[(":foo", "1")]), true);
            },
            Rst(1, ProtocolError)
        ),
        case!(
            "8.3",
            "response pseudo-header in a request",
            |c| {
                c.headers(1, &with(&[(":status", "200")]), true);
            },
            Rst(1, ProtocolError)
        ),
        case!(
            "8.3.1",
            "missing :method",
            |c| {
                c.headers(1, &[(":scheme", "http"), (":path", "/")], true);
            },
            Rst(1, ProtocolError)
        ),
        case!(
            "8.3.1",
            "missing :scheme",
            |c| {
                c.headers(1, &[(":method", "GET"), (":path", "/")], true);
            },
            Rst(1, ProtocolError)
        ),
        case!(
            "8.3.1",
            "empty :path",
            |c| {
                c.headers(
                    1,
                    &[(":method", "GET"), (":scheme", "http"), (":path", "")],
                    true,
                );
            },
            Rst(1, ProtocolError)
        ),
        case!(
            "8.3.1",
            "duplicated :path",
            |c| {
                c.headers(1, &with(&[(":path", "/x")]), true);
            },
            Rst(1, ProtocolError)
        ),
        case!(
            "8.1.1",
            "content-length larger than the DATA",
            |c| {
                post(c, 1, &[("content-length", "10")]);
                c.data(1, b"abc", true);
            },
            Rst(1, ProtocolError)
        ),
        case!(
            "8.1",
            "trailers with a pseudo-header",
            |c| {
                post(c, 1, &[]);
                c.data(1, b"abc", false).headers(1, &[(":path", "/")], true);
            },
            Rst(1, ProtocolError)
        ),
        case!(
            "8.1",
            "trailers without END_STREAM",
            |c| {
                post(c, 1, &[]);
                c.data(1, b"abc", false).headers(1, &[("x-t", "1")], false);
            },
            Rst(1, ProtocolError)
        ),
        case!(
            "8.1",
            "body and trailers are accepted",
            |c| {
                post(c, 1, &[("content-length", "3")]);
                c.data(1, b"abc", false).headers(1, &[("x-t", "1")], true);
            },
            Status(1, "200")
        ),
        case!(
            "8.5",
            "CONNECT without :authority",
            |c| {
                c.headers(1, &[(":method", "CONNECT")], true);
            },
            Rst(1, ProtocolError)
        ),
        // RFC 7541 HPACK
        case!(
            "RFC 7541 4.2",
            "table size update above SETTINGS_HEADER_TABLE_SIZE",
            |c| {
                c.headers_raw(1, &[0x3f, 0xe2, 0x1f, 0x82, 0x86, 0x84], true, true);
            },
            GoAway(CompressionError)
        ),
        case!(
            "RFC 7541 4.2",
            "table size update after a field",
            |c| {
                c.headers_raw(1, &[0x82, 0x20, 0x86, 0x84], true, true);
            },
            GoAway(CompressionError)
        ),
        case!(
            "RFC 7541 5.2",
            "Huffman string with EOS",
            |c| {
                c.headers_raw(
                    1,
                    &[0x82, 0x86, 0x04, 0x84, 0xff, 0xff, 0xff, 0xff],
                    true,
                    true,
                );
            },
            GoAway(CompressionError)
        ),
        case!(
            "RFC 7541 6.1",
            "index past the dynamic table",
            |c| {
                c.headers_raw(1, &[0x82, 0x86, 0x84, 0xbf], true, true);
            },
            GoAway(CompressionError)
        ),
        case!(
            "10.5.1",
            "header list above SETTINGS_MAX_HEADER_LIST_SIZE",
            |c| {
                let big: &'static str = Box::leak("v".repeat(20_000).into_boxed_str());
                c.headers(1, &with(&[("x-big", big)]), true);
            },
            Status(1, "431")
        ),
    ]
}

fn read_frames(
    sock: &mut TcpStream,
    client: &mut Client,
    until: impl Fn(&F) -> bool,
) -> (Vec<F>, bool) {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut all = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        if Instant::now() > deadline {
            return (all, false);
        }
        match sock.read(&mut buf) {
            Ok(0) | Err(_) => return (all, true),
            Ok(n) => {
                let frames = client.parse(&buf[..n]);
                let done = frames.iter().any(&until);
                all.extend(frames);
                if done {
                    return (all, false);
                }
            }
        }
    }
}

fn run_case(addr: std::net::SocketAddr, case: &Case) -> Result<(), String> {
    let mut sock = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    sock.set_nodelay(true).unwrap();
    let mut c = Client::new();
    if case.handshake {
        c.preface(&[]).settings_ack();
    }
    (case.send)(&mut c);
    let alive_ping = *b"alive!!!";
    if matches!(case.expect, Expect::Alive) {
        c.ping(alive_ping);
    }
    let bytes = c.take();
    sock.write_all(&bytes).map_err(|e| e.to_string())?;
    let expect = case.expect;
    let (frames, eof) = read_frames(&mut sock, &mut c, |f| match (expect, f) {
        (_, F::GoAway { .. }) => true,
        (Expect::Error(id, _) | Expect::Rst(id, _), F::Rst { id: i, .. }) => *i == id,
        (Expect::Status(id, _), F::Headers { id: i, .. }) => *i == id,
        (Expect::Alive, F::Ping { ack: true, data }) => *data == alive_ping,
        _ => false,
    });
    let goaway = frames.iter().find_map(|f| match f {
        F::GoAway { code, .. } => Some(*code),
        _ => None,
    });
    let rst = |id: u32| {
        frames.iter().find_map(|f| match f {
            F::Rst { id: i, code } if *i == id => Some(*code),
            _ => None,
        })
    };
    let ok = match expect {
        Expect::GoAway(code) => {
            goaway == Some(code)
                || (goaway.is_none() && eof && code == ErrorCode::ProtocolError && !case.handshake)
        }
        Expect::Error(id, code) => rst(id) == Some(code) || goaway == Some(code),
        Expect::Rst(id, code) => rst(id) == Some(code) && goaway.is_none(),
        Expect::Status(id, status) => {
            frames.iter().any(|f| {
                matches!(f, F::Headers { id: i, .. } if *i == id) && f.status() == Some(status)
            }) && goaway.is_none()
        }
        Expect::Alive => {
            goaway.is_none()
                && frames.contains(&F::Ping {
                    ack: true,
                    data: alive_ping,
                })
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "got {:?} (eof={eof})",
            frames
                .iter()
                .filter(|f| !matches!(f, F::Settings { .. } | F::Window { .. }))
                .collect::<Vec<_>>()
        ))
    }
}

#[test]
fn h2spec_style_conformance() {
    let srv = server::start();
    let cases = cases();
    assert!(cases.len() >= 40);
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(e) = run_case(srv.addr, case) {
            failures.push(format!(
                "§{} {}: expected {:?}, {e}",
                case.section, case.name, case.expect
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Plays an attack on one connection, expects GOAWAY with `code`, then checks that the
/// server still answers a fresh connection.
fn attack_then_serve(addr: std::net::SocketAddr, attack: impl Fn(&mut Client), code: ErrorCode) {
    let mut sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut c = Client::new();
    c.preface(&[]).settings_ack();
    attack(&mut c);
    let bytes = c.take();
    // The server may close mid-write: only the GOAWAY matters.
    let _ = sock.write_all(&bytes);
    let (frames, _) = read_frames(&mut sock, &mut c, |f| matches!(f, F::GoAway { .. }));
    assert!(
        frames.contains(&F::GoAway {
            last: frames
                .iter()
                .find_map(|f| match f {
                    F::GoAway { last, .. } => Some(*last),
                    _ => None,
                })
                .unwrap_or(0),
            code
        }),
        "expected GOAWAY {code:?}, got {:?}",
        frames
            .iter()
            .filter(|f| matches!(f, F::GoAway { .. } | F::Rst { .. }))
            .take(5)
            .collect::<Vec<_>>()
    );
    let case = Case {
        section: "-",
        name: "fresh connection after an attack",
        handshake: true,
        send: |c| {
            c.get(1, "/");
        },
        expect: Expect::Status(1, "200"),
    };
    run_case(addr, &case).unwrap();
}

#[test]
fn attacks_end_the_connection_and_the_server_survives() {
    let srv = server::start();
    // Rapid Reset (CVE-2023-44487).
    attack_then_serve(
        srv.addr,
        |c| {
            for i in 0..1000u32 {
                c.get(1 + 2 * i, "/slow").rst(1 + 2 * i, ErrorCode::Cancel);
            }
        },
        ErrorCode::EnhanceYourCalm,
    );
    // CONTINUATION flood.
    attack_then_serve(
        srv.addr,
        |c| {
            let b = c.block(&GET);
            c.headers_raw(1, &b, true, false);
            for _ in 0..200 {
                c.continuation(1, &[0x40; 1000], false);
            }
        },
        ErrorCode::EnhanceYourCalm,
    );
    // PING flood while never reading the answers.
    attack_then_serve(
        srv.addr,
        |c| {
            for i in 0..20_000u64 {
                c.ping(i.to_be_bytes());
            }
        },
        ErrorCode::EnhanceYourCalm,
    );
}
