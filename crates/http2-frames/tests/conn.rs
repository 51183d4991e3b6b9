//! The sans-I/O HTTP/2 connection, driven frame by frame: the protocol rules and the
//! defences, each attack played through the connection. Time is synthetic: `clock()` is
//! a fixed instant, and timers get explicit offsets from it.

mod conn_support;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use conn_support::{Client, F};
use shockwave_http2_frames::conn::{
    Config as Http2Config, Connection as ServerConnection, Event, StreamError, StreamId,
};
use shockwave_http2_frames::{ErrorCode, SettingId};

/// The synthetic clock of these tests: one fixed instant.
fn clock() -> Instant {
    static T0: OnceLock<Instant> = OnceLock::new();
    *T0.get_or_init(Instant::now)
}

fn sid(id: u32) -> StreamId {
    StreamId::new(id)
}

/// Feeds the client's bytes, returns the server's parsed output.
fn exchange(server: &mut ServerConnection, client: &mut Client) -> Vec<F> {
    let input = client.take();
    let mut pos = 0;
    while pos < input.len() {
        match server.recv(&input[pos..], clock()) {
            Ok(0) => break,
            Ok(n) => pos += n,
            Err(_) => break,
        }
    }
    drain(server, client)
}

fn drain(server: &mut ServerConnection, client: &mut Client) -> Vec<F> {
    let out = server.pending_output().to_vec();
    server.advance_output(out.len());
    client.parse(&out)
}

fn handshake(config: Http2Config, settings: &[(SettingId, u32)]) -> (ServerConnection, Client) {
    let mut server = ServerConnection::new(config);
    let mut client = Client::new();
    client.preface(settings);
    let frames = exchange(&mut server, &mut client);
    assert!(
        matches!(&frames[0], F::Settings { ack: false, .. }),
        "{frames:?}"
    );
    assert!(
        frames.contains(&F::Settings {
            ack: true,
            entries: vec![]
        }),
        "{frames:?}"
    );
    (server, client)
}

fn requests(server: &mut ServerConnection) -> Vec<u32> {
    let mut ids = Vec::new();
    while let Some(e) = server.poll_event() {
        if let Event::Request { stream_id } = e {
            ids.push(stream_id.value());
        }
    }
    ids
}

/// How many `StreamWritable` events stream `id` got (the others are dropped).
fn writable(server: &mut ServerConnection, id: u32) -> usize {
    let mut n = 0;
    while let Some(e) = server.poll_event() {
        if e == (Event::StreamWritable { stream_id: sid(id) }) {
            n += 1;
        }
    }
    n
}

fn goaway(frames: &[F]) -> Option<ErrorCode> {
    frames.iter().find_map(|f| match f {
        F::GoAway { code, .. } => Some(*code),
        _ => None,
    })
}

fn rst(frames: &[F], id: u32) -> Option<ErrorCode> {
    frames.iter().find_map(|f| match f {
        F::Rst { id: i, code } if *i == id => Some(*code),
        _ => None,
    })
}

fn respond(server: &mut ServerConnection, id: u32, body: &[u8]) {
    server
        .send_headers(sid(id), [(&b":status"[..], &b"200"[..])], body.is_empty())
        .unwrap();
    if !body.is_empty() {
        assert_eq!(server.send_data(sid(id), body, true), Ok(body.len()));
    }
    server.release(sid(id));
}

#[test]
fn settings_exchange_and_window() {
    let mut server = ServerConnection::new(Http2Config::default());
    let mut client = Client::new();
    let first = drain(&mut server, &mut client);
    // SETTINGS first (§3.4), with our limits, then the connection window raised to 1 MiB.
    let F::Settings {
        ack: false,
        entries,
    } = &first[0]
    else {
        panic!("{first:?}")
    };
    assert!(entries.contains(&(0x3, 200)));
    assert!(entries.contains(&(0x4, 1 << 20)));
    assert!(entries.contains(&(0x6, 16384)));
    assert_eq!(
        first[1],
        F::Window {
            id: 0,
            inc: (1 << 20) - 65_535
        }
    );
    client.preface(&[]).settings_ack().ping(*b"12345678");
    let frames = exchange(&mut server, &mut client);
    assert_eq!(
        frames,
        vec![
            F::Settings {
                ack: true,
                entries: vec![]
            },
            F::Ping {
                ack: true,
                data: *b"12345678"
            }
        ]
    );
}

#[test]
fn get_request_and_response() {
    let (mut server, mut client) = handshake(Http2Config::default(), &[]);
    client.headers(
        1,
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/a?b=c"),
            (":authority", "x.test"),
            ("accept", "*/*"),
        ],
        true,
    );
    assert!(exchange(&mut server, &mut client).is_empty());
    assert_eq!(requests(&mut server), vec![1]);
    let head = server.take_head(sid(1)).unwrap();
    assert_eq!(head.method(), Some(&b"GET"[..]));
    assert_eq!(head.path(), Some(&b"/a?b=c"[..]));
    assert_eq!(head.authority(), Some(&b"x.test"[..]));
    assert!(head.end_stream());
    assert_eq!(head.regular().count(), 1);
    server.recycle_head(head);
    respond(&mut server, 1, b"hello");
    let frames = drain(&mut server, &mut client);
    assert_eq!(frames[0].status(), Some("200"));
    assert_eq!(
        frames[1],
        F::Data {
            id: 1,
            data: b"hello".to_vec(),
            end_stream: true
        }
    );
    assert_eq!(server.active_streams(), 0);
}

#[test]
fn request_body_flow_control_gives_credit_back() {
    let (mut server, mut client) = handshake(Http2Config::default(), &[]);
    client.headers(
        1,
        &[
            (":method", "POST"),
            (":scheme", "http"),
            (":path", "/up"),
            ("content-length", "600000"),
        ],
        false,
    );
    let chunk = vec![7u8; 16384];
    let mut sent = 0;
    while sent < 600_000 {
        let n = (600_000 - sent).min(chunk.len());
        client.data(1, &chunk[..n], sent + n == 600_000);
        sent += n;
    }
    assert!(
        exchange(&mut server, &mut client).is_empty(),
        "no credit before reading"
    );
    assert_eq!(requests(&mut server), vec![1]);
    let mut buf = vec![0u8; 100_000];
    let mut total = 0;
    loop {
        match server.read_data(sid(1), &mut buf) {
            Ok(0) => break,
            Ok(n) => total += n,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(total, 600_000);
    let frames = drain(&mut server, &mut client);
    // Half of the 1 MiB windows consumed: credit given back on the connection.
    assert!(
        frames
            .iter()
            .any(|f| matches!(f, F::Window { id: 0, inc } if *inc >= 524_288)),
        "{frames:?}"
    );
}

#[test]
fn send_respects_peer_windows_and_wakes() {
    let (mut server, mut client) = handshake(
        Http2Config::default(),
        &[(SettingId::InitialWindowSize, 10)],
    );
    client.get(1, "/");
    exchange(&mut server, &mut client);
    requests(&mut server);
    server
        .send_headers(sid(1), [(&b":status"[..], &b"200"[..])], false)
        .unwrap();
    let body = vec![1u8; 100];
    assert_eq!(server.send_data(sid(1), &body, true), Ok(10));
    assert_eq!(
        server.send_data(sid(1), &body[10..], true),
        Err(StreamError::WouldBlock)
    );
    client.window(1, 1000);
    exchange(&mut server, &mut client);
    assert_eq!(
        writable(&mut server, 1),
        1,
        "woken by WINDOW_UPDATE (the driver wakes on StreamWritable)"
    );
    assert_eq!(server.send_data(sid(1), &body[10..], true), Ok(90));
    let frames = drain(&mut server, &mut client);
    assert_eq!(
        frames,
        vec![F::Data {
            id: 1,
            data: body[10..].to_vec(),
            end_stream: true
        }]
    );
    // A SETTINGS change of the initial window applies to open streams (§6.9.2).
    client.settings(&[(SettingId::InitialWindowSize, 65_535)]);
    assert!(exchange(&mut server, &mut client).contains(&F::Settings {
        ack: true,
        entries: vec![]
    }));
}

#[test]
fn data_frames_sized_to_peer_max_frame_size() {
    let (mut server, mut client) = handshake(
        Http2Config::default(),
        &[(SettingId::InitialWindowSize, 1 << 20)],
    );
    client.window(0, 1 << 20).get(1, "/");
    exchange(&mut server, &mut client);
    requests(&mut server);
    respond(&mut server, 1, &vec![3u8; 100_000]);
    let frames = drain(&mut server, &mut client);
    let sizes: Vec<usize> = frames
        .iter()
        .filter_map(|f| match f {
            F::Data { data, .. } => Some(data.len()),
            _ => None,
        })
        .collect();
    assert_eq!(sizes.iter().sum::<usize>(), 100_000);
    assert!(sizes.iter().all(|s| *s <= 16_384));
    assert_eq!(sizes.len(), 7);
}

#[test]
fn too_many_streams_are_refused() {
    let config = Http2Config {
        max_concurrent_streams: 2,
        ..Default::default()
    };
    let (mut server, mut client) = handshake(config, &[]);
    client.get(1, "/").get(3, "/").get(5, "/");
    let frames = exchange(&mut server, &mut client);
    assert_eq!(rst(&frames, 5), Some(ErrorCode::RefusedStream));
    assert_eq!(requests(&mut server), vec![1, 3]);
    respond(&mut server, 1, b"");
    client.get(7, "/");
    exchange(&mut server, &mut client);
    assert_eq!(requests(&mut server), vec![7], "a slot is free again");
}

#[test]
fn rapid_reset_gets_enhance_your_calm() {
    // CVE-2023-44487: open and immediately cancel streams, many times.
    let (mut server, mut client) = handshake(Http2Config::default(), &[]);
    let mut frames = Vec::new();
    for i in 0..400u32 {
        let id = 1 + 2 * i;
        client.get(id, "/").rst(id, ErrorCode::Cancel);
        frames.extend(exchange(&mut server, &mut client));
        // The driver cancels the handler and releases the stream.
        while let Some(e) = server.poll_event() {
            if let Event::StreamReset { stream_id, .. } = e {
                server.release(stream_id);
            }
        }
        if server.error().is_some() {
            break;
        }
    }
    assert_eq!(goaway(&frames), Some(ErrorCode::EnhanceYourCalm));
    assert!(server.is_done());
}

#[test]
fn reset_streams_still_count_until_their_handler_stops() {
    let config = Http2Config {
        max_concurrent_streams: 3,
        ..Default::default()
    };
    let (mut server, mut client) = handshake(config, &[]);
    for id in [1, 3, 5] {
        client.get(id, "/").rst(id, ErrorCode::Cancel);
    }
    client.get(7, "/");
    let frames = exchange(&mut server, &mut client);
    assert_eq!(rst(&frames, 7), Some(ErrorCode::RefusedStream));
}

#[test]
fn continuation_flood_is_cut_before_decoding() {
    let (mut server, mut client) = handshake(Http2Config::default(), &[]);
    let block = client.block(&[(":method", "GET"), (":scheme", "http"), (":path", "/")]);
    client.headers_raw(1, &block, true, false);
    let junk = vec![0x40u8; 4096];
    for _ in 0..100 {
        client.continuation(1, &junk, false);
    }
    let input = client.take();
    let consumed = server.recv(&input, clock());
    assert!(consumed.is_err());
    let frames = drain(&mut server, &mut client);
    assert_eq!(goaway(&frames), Some(ErrorCode::EnhanceYourCalm));
}

#[test]
fn hpack_bomb_gets_431_and_connection_survives() {
    let (mut server, mut client) = handshake(Http2Config::default(), &[]);
    // One 4000-byte entry inserted in the dynamic table, then referenced 100 times: a
    // small block decoding to ~400 KB.
    let mut block = client.block(&[(":method", "GET"), (":scheme", "http"), (":path", "/")]);
    // Literal with incremental indexing, new name (RFC 7541 §6.2.1).
    block.push(0x40);
    shockwave_hpack::integer::encode(4, 7, 0, &mut block);
    block.extend_from_slice(b"bomb");
    shockwave_hpack::integer::encode(4000, 7, 0, &mut block);
    block.extend_from_slice(&[b'x'; 4000]);
    for _ in 0..100 {
        block.push(0x80 | 62);
    }
    client.headers_raw(1, &block, true, true);
    let frames = exchange(&mut server, &mut client);
    assert_eq!(frames[0].status(), Some("431"), "{frames:?}");
    assert!(requests(&mut server).is_empty());
    client.get(3, "/ok");
    exchange(&mut server, &mut client);
    assert_eq!(requests(&mut server), vec![3], "HPACK state still in sync");
}

#[test]
fn settings_and_ping_floods_are_capped() {
    for ping in [false, true] {
        let (mut server, mut client) = handshake(Http2Config::default(), &[]);
        for i in 0..5000u32 {
            if ping {
                client.ping(u64::from(i).to_be_bytes());
            } else {
                client.settings(&[]);
            }
        }
        let input = client.take();
        // The peer never reads our ACKs.
        let r = server.recv(&input, clock());
        assert!(r.is_err(), "ping={ping}");
        assert!(server.pending_output().len() < 64 * 1024);
        let frames = drain(&mut server, &mut client);
        assert_eq!(goaway(&frames), Some(ErrorCode::EnhanceYourCalm));
    }
}

#[test]
fn zero_window_stream_does_not_stall_others() {
    let (mut server, mut client) =
        handshake(Http2Config::default(), &[(SettingId::InitialWindowSize, 0)]);
    client.get(1, "/big").get(3, "/small");
    exchange(&mut server, &mut client);
    assert_eq!(requests(&mut server), vec![1, 3]);
    let big = vec![0u8; 1 << 20];
    server
        .send_headers(sid(1), [(&b":status"[..], &b"200"[..])], false)
        .unwrap();
    assert_eq!(
        server.send_data(sid(1), &big, true),
        Err(StreamError::WouldBlock)
    );
    let before = server.pending_output().len();
    assert!(before < 1024, "nothing of the stalled body is buffered");
    client.window(3, 100);
    exchange(&mut server, &mut client);
    server
        .send_headers(sid(3), [(&b":status"[..], &b"200"[..])], false)
        .unwrap();
    assert_eq!(server.send_data(sid(3), b"small", true), Ok(5));
    server.release(sid(3));
    let frames = drain(&mut server, &mut client);
    assert!(frames.contains(&F::Data {
        id: 3,
        data: b"small".to_vec(),
        end_stream: true
    }));
    assert_eq!(
        server.send_data(sid(1), &big, true),
        Err(StreamError::WouldBlock)
    );
    assert_eq!(server.active_streams(), 1);
}

#[test]
fn malformed_requests_are_stream_errors() {
    let cases: &[&[(&str, &str)]] = &[
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            ("Upper", "x"),
        ],
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            ("connection", "close"),
        ],
        &[(":method", "GET"), (":scheme", "http")],
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":status", "200"),
        ],
        &[
            (":method", "GET"),
            ("x", "1"),
            (":scheme", "http"),
            (":path", "/"),
        ],
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            ("te", "gzip"),
        ],
    ];
    let (mut server, mut client) = handshake(Http2Config::default(), &[]);
    for (i, fields) in cases.iter().enumerate() {
        let id = 1 + 2 * i as u32;
        client.headers(id, fields, true);
        let frames = exchange(&mut server, &mut client);
        assert_eq!(
            rst(&frames, id),
            Some(ErrorCode::ProtocolError),
            "{fields:?}"
        );
    }
    assert!(requests(&mut server).is_empty());
    assert!(server.error().is_none());
}

#[test]
fn trailers_end_the_body() {
    let (mut server, mut client) = handshake(Http2Config::default(), &[]);
    client
        .headers(
            1,
            &[(":method", "POST"), (":scheme", "http"), (":path", "/")],
            false,
        )
        .data(1, b"abc", false)
        .headers(1, &[("x-checksum", "1")], true);
    exchange(&mut server, &mut client);
    requests(&mut server);
    let mut buf = [0u8; 16];
    assert_eq!(server.read_data(sid(1), &mut buf), Ok(3));
    assert_eq!(server.read_data(sid(1), &mut buf), Ok(0));
    // The request's trailer section is kept for the stream side.
    let trailers = server.take_trailers(sid(1)).expect("trailers kept");
    assert_eq!(
        trailers.regular().collect::<Vec<_>>(),
        [(&b"x-checksum"[..], &b"1"[..])]
    );
    server.recycle_head(trailers);
    assert!(server.take_trailers(sid(1)).is_none());
    // Trailers without END_STREAM are malformed.
    client
        .headers(
            3,
            &[(":method", "POST"), (":scheme", "http"), (":path", "/")],
            false,
        )
        .headers(3, &[("x-checksum", "1")], false);
    let frames = exchange(&mut server, &mut client);
    assert_eq!(rst(&frames, 3), Some(ErrorCode::ProtocolError));
}

#[test]
fn content_length_mismatch_is_a_stream_error() {
    let (mut server, mut client) = handshake(Http2Config::default(), &[]);
    client
        .headers(
            1,
            &[
                (":method", "POST"),
                (":scheme", "http"),
                (":path", "/"),
                ("content-length", "2"),
            ],
            false,
        )
        .data(1, b"abc", true);
    let frames = exchange(&mut server, &mut client);
    assert_eq!(rst(&frames, 1), Some(ErrorCode::ProtocolError));
}

#[test]
fn graceful_goaway_ignores_new_streams() {
    let (mut server, mut client) = handshake(Http2Config::default(), &[]);
    client.get(1, "/");
    exchange(&mut server, &mut client);
    requests(&mut server);
    server.go_away();
    let frames = drain(&mut server, &mut client);
    assert_eq!(
        frames,
        vec![F::GoAway {
            last: 1,
            code: ErrorCode::NoError
        }]
    );
    client.get(3, "/");
    exchange(&mut server, &mut client);
    assert!(requests(&mut server).is_empty());
    assert!(!server.is_done());
    respond(&mut server, 1, b"bye");
    assert!(server.is_done());
}

#[test]
fn stream_id_rules() {
    // Even id, then a decreasing id: connection PROTOCOL_ERRORs (§5.1.1).
    let (mut server, mut client) = handshake(Http2Config::default(), &[]);
    client.get(2, "/");
    assert_eq!(
        goaway(&exchange(&mut server, &mut client)),
        Some(ErrorCode::ProtocolError)
    );
    let (mut server, mut client) = handshake(Http2Config::default(), &[]);
    client.get(5, "/").get(3, "/");
    assert_eq!(
        goaway(&exchange(&mut server, &mut client)),
        Some(ErrorCode::ProtocolError)
    );
    // Reopening a finished stream: STREAM_CLOSED (§5.1).
    let (mut server, mut client) = handshake(Http2Config::default(), &[]);
    client.get(1, "/");
    exchange(&mut server, &mut client);
    requests(&mut server);
    respond(&mut server, 1, b"");
    client.get(1, "/");
    assert_eq!(
        goaway(&exchange(&mut server, &mut client)),
        Some(ErrorCode::StreamClosed)
    );
}

#[test]
fn upload_memory_is_bounded_by_the_windows() {
    // A client ignoring flow control is cut off: FLOW_CONTROL_ERROR, nothing buffered past
    // the window.
    let config = Http2Config {
        initial_stream_window: 65_535,
        ..Default::default()
    };
    let (mut server, mut client) = handshake(config, &[]);
    client.headers(
        1,
        &[(":method", "POST"), (":scheme", "http"), (":path", "/")],
        false,
    );
    let chunk = vec![0u8; 16_384];
    for _ in 0..5 {
        client.data(1, &chunk, false);
    }
    let frames = exchange(&mut server, &mut client);
    assert_eq!(rst(&frames, 1), Some(ErrorCode::FlowControlError));
    assert_eq!(server.buffered(sid(1)), 0);
}

#[test]
fn settings_timeout_is_a_connection_error() {
    let mut server = ServerConnection::new(Http2Config::default());
    let mut client = Client::new();
    drain(&mut server, &mut client);
    client.preface(&[]); // never acknowledges our SETTINGS
    exchange(&mut server, &mut client);
    assert!(!server.settings_acked());
    server.settings_timeout();
    let frames = drain(&mut server, &mut client);
    assert_eq!(goaway(&frames), Some(ErrorCode::SettingsTimeout));
    assert!(server.is_done());
}

fn pings(frames: &[F]) -> Vec<(bool, [u8; 8])> {
    frames
        .iter()
        .filter_map(|f| match f {
            F::Ping { ack, data } => Some((*ack, *data)),
            _ => None,
        })
        .collect()
}

#[test]
fn keep_alive_ping_is_sent_after_silence_and_acknowledged() {
    let config = Http2Config {
        keep_alive_interval: Some(Duration::from_secs(10)),
        keep_alive_timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let (mut server, mut client) = handshake(config, &[]);
    client.settings_ack();
    exchange(&mut server, &mut client);
    let t0 = Instant::now();
    server.handle_timeout(t0);
    assert_eq!(server.poll_timeout(), Some(t0 + Duration::from_secs(10)));
    server.handle_timeout(t0 + Duration::from_secs(9));
    assert!(pings(&drain(&mut server, &mut client)).is_empty());
    // Input pushes the keep-alive back.
    client.ping([9; 8]);
    exchange(&mut server, &mut client);
    server.handle_timeout(t0 + Duration::from_secs(9));
    server.handle_timeout(t0 + Duration::from_secs(18));
    assert!(pings(&drain(&mut server, &mut client)).is_empty());
    assert!(!server.ping_outstanding());
    // Ten seconds of silence: a PING with fresh opaque data.
    let t1 = t0 + Duration::from_secs(19);
    server.handle_timeout(t1);
    let sent = pings(&drain(&mut server, &mut client));
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (ack, data) = sent[0];
    assert!(!ack);
    assert!(server.ping_outstanding());
    assert_eq!(server.poll_timeout(), Some(t1 + Duration::from_secs(5)));
    // An ACK with other data does not count (§6.7); the right one does.
    client.raw(0x6, 0x1, 0, &[0xee; 8]);
    exchange(&mut server, &mut client);
    assert!(server.ping_outstanding());
    client.raw(0x6, 0x1, 0, &data);
    exchange(&mut server, &mut client);
    assert!(!server.ping_outstanding());
    server.handle_timeout(t1 + Duration::from_secs(6));
    assert!(server.error().is_none());
    // The next PING carries other data.
    server.handle_timeout(t1 + Duration::from_secs(16));
    let next = pings(&drain(&mut server, &mut client));
    assert_eq!(next.len(), 1);
    assert_ne!(next[0].1, data);
}

#[test]
fn missing_ping_ack_closes_the_connection() {
    let config = Http2Config {
        keep_alive_interval: Some(Duration::from_secs(10)),
        keep_alive_timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let (mut server, mut client) = handshake(config, &[]);
    client.settings_ack().get(1, "/");
    exchange(&mut server, &mut client);
    assert_eq!(requests(&mut server), vec![1]);
    let t0 = Instant::now();
    server.handle_timeout(t0);
    server.handle_timeout(t0 + Duration::from_secs(10));
    assert_eq!(pings(&drain(&mut server, &mut client)).len(), 1);
    // A second PING is not sent while one is outstanding.
    assert!(!server.send_ping([1; 8], t0 + Duration::from_secs(11)));
    server.handle_timeout(t0 + Duration::from_secs(14));
    assert!(server.error().is_none());
    server.handle_timeout(t0 + Duration::from_secs(15));
    let frames = drain(&mut server, &mut client);
    assert_eq!(goaway(&frames), Some(ErrorCode::NoError));
    assert!(server.is_done());
    assert_eq!(server.poll_timeout(), None);
    // The open stream's handler is told to stop.
    assert!(server.reset_code(sid(1)).is_some());
}

#[test]
fn explicit_ping_and_no_keep_alive_by_default() {
    let (mut server, mut client) = handshake(Http2Config::default(), &[]);
    client.settings_ack();
    exchange(&mut server, &mut client);
    let t0 = Instant::now();
    server.handle_timeout(t0);
    // Defaults: no keep-alive, SETTINGS acknowledged, nothing stalled: no timer.
    assert_eq!(server.poll_timeout(), None);
    server.handle_timeout(t0 + Duration::from_secs(3600));
    assert!(pings(&drain(&mut server, &mut client)).is_empty());
    assert!(server.send_ping(*b"opaque!!", t0));
    assert_eq!(
        pings(&drain(&mut server, &mut client)),
        [(false, *b"opaque!!")]
    );
    assert_eq!(server.poll_timeout(), Some(t0 + Duration::from_secs(20)));
    client.raw(0x6, 0x1, 0, b"opaque!!");
    exchange(&mut server, &mut client);
    assert!(!server.ping_outstanding());
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn settings_timeout_fires_from_the_clock() {
    let config = Http2Config {
        settings_timeout: Duration::from_secs(10),
        ..Default::default()
    };
    let (mut server, mut client) = handshake(config, &[]); // never acknowledges
    let t0 = Instant::now();
    server.handle_timeout(t0);
    assert_eq!(server.poll_timeout(), Some(t0 + Duration::from_secs(10)));
    server.handle_timeout(t0 + Duration::from_millis(9_999));
    assert!(server.error().is_none());
    server.handle_timeout(t0 + Duration::from_secs(10));
    assert_eq!(
        goaway(&drain(&mut server, &mut client)),
        Some(ErrorCode::SettingsTimeout)
    );
    // Acknowledged in time: no timeout.
    let (mut server, mut client) = handshake(Http2Config::default(), &[]);
    server.handle_timeout(t0);
    client.settings_ack();
    exchange(&mut server, &mut client);
    server.handle_timeout(t0 + Duration::from_secs(60));
    assert!(server.error().is_none());
}

#[test]
fn stalled_stream_is_cancelled_and_others_are_not() {
    let config = Http2Config {
        stream_stall_timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    // The client's stream windows are 100 bytes and it never sends WINDOW_UPDATE.
    let (mut server, mut client) = handshake(config, &[(SettingId::InitialWindowSize, 100)]);
    client
        .settings_ack()
        .get(1, "/big")
        .get(3, "/slowreader")
        .get(5, "/small");
    exchange(&mut server, &mut client);
    assert_eq!(requests(&mut server), vec![1, 3, 5]);
    let t0 = Instant::now();
    server.handle_timeout(t0);
    let big = vec![7u8; 1 << 20];
    for id in [1, 3] {
        server
            .send_headers(sid(id), [(&b":status"[..], &b"200"[..])], false)
            .unwrap();
        assert_eq!(server.send_data(sid(id), &big, true), Ok(100));
        assert_eq!(
            server.send_data(sid(id), &big[100..], true),
            Err(StreamError::WouldBlock)
        );
    }
    // The stall starts now (stamped by the tick).
    let t1 = t0 + Duration::from_secs(1);
    server.handle_timeout(t1);
    assert_eq!(server.poll_timeout(), Some(t1 + Duration::from_secs(30)));
    // Stream 3's reader gives a little credit at t1 + 20 s: its stall restarts when it
    // blocks again.
    client.window(3, 50);
    exchange(&mut server, &mut client);
    let t2 = t1 + Duration::from_secs(20);
    server.handle_timeout(t2);
    assert_eq!(server.send_data(sid(3), &big[100..], true), Ok(50));
    assert_eq!(
        server.send_data(sid(3), &big[150..], true),
        Err(StreamError::WouldBlock)
    );
    server.handle_timeout(t2);
    drain(&mut server, &mut client);
    // Stream 5 answers normally meanwhile.
    respond(&mut server, 5, b"small");
    let frames = drain(&mut server, &mut client);
    assert!(frames.contains(&F::Data {
        id: 5,
        data: b"small".to_vec(),
        end_stream: true
    }));
    server.handle_timeout(t1 + Duration::from_millis(29_999));
    assert!(rst(&drain(&mut server, &mut client), 1).is_none());
    // 30 s after the stall began: stream 1 is cancelled, stream 3 (stalled since t2) not.
    server.handle_timeout(t1 + Duration::from_secs(30));
    let frames = drain(&mut server, &mut client);
    assert_eq!(rst(&frames, 1), Some(ErrorCode::Cancel));
    assert_eq!(rst(&frames, 3), None);
    assert_eq!(server.stall_resets(), 1);
    assert_eq!(
        server.send_data(sid(1), &big[100..], true),
        Err(StreamError::Reset(ErrorCode::Cancel))
    );
    server.release(sid(1));
    assert_eq!(server.poll_timeout(), Some(t2 + Duration::from_secs(30)));
    server.handle_timeout(t2 + Duration::from_secs(30));
    assert_eq!(
        rst(&drain(&mut server, &mut client), 3),
        Some(ErrorCode::Cancel)
    );
    server.release(sid(3));
    assert_eq!(server.active_streams(), 0);
    assert_eq!(server.poll_timeout(), None);
    assert!(server.error().is_none());
    // The connection still serves new streams.
    client.get(7, "/");
    exchange(&mut server, &mut client);
    assert_eq!(requests(&mut server), vec![7]);
}

#[test]
fn stall_timeout_can_be_disabled() {
    let config = Http2Config {
        stream_stall_timeout: None,
        ..Default::default()
    };
    let (mut server, mut client) = handshake(config, &[(SettingId::InitialWindowSize, 0)]);
    client.settings_ack().get(1, "/big");
    exchange(&mut server, &mut client);
    requests(&mut server);
    server
        .send_headers(sid(1), [(&b":status"[..], &b"200"[..])], false)
        .unwrap();
    assert_eq!(
        server.send_data(sid(1), b"data", true),
        Err(StreamError::WouldBlock)
    );
    let t0 = Instant::now();
    server.handle_timeout(t0);
    assert_eq!(server.poll_timeout(), None);
    server.handle_timeout(t0 + Duration::from_secs(86_400));
    assert_eq!(rst(&drain(&mut server, &mut client), 1), None);
}

#[test]
fn connection_window_stall_cancels_only_when_the_window_stays_closed() {
    let config = Http2Config {
        stream_stall_timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    // Large stream windows; the connection window stays at the initial 65,535 bytes.
    let (mut server, mut client) = handshake(config, &[(SettingId::InitialWindowSize, 1 << 20)]);
    client.settings_ack().get(1, "/a").get(3, "/b");
    exchange(&mut server, &mut client);
    assert_eq!(requests(&mut server), vec![1, 3]);
    let t0 = Instant::now();
    server.handle_timeout(t0);
    let big = vec![1u8; 1 << 20];
    for id in [1, 3] {
        server
            .send_headers(sid(id), [(&b":status"[..], &b"200"[..])], false)
            .unwrap();
    }
    assert_eq!(server.send_data(sid(1), &big, true), Ok(65_535));
    assert_eq!(
        server.send_data(sid(1), &big, true),
        Err(StreamError::WouldBlock)
    );
    assert_eq!(
        server.send_data(sid(3), &big, true),
        Err(StreamError::WouldBlock)
    );
    server.handle_timeout(t0);
    assert_eq!(server.poll_timeout(), Some(t0 + Duration::from_secs(30)));
    // 20 s later the client opens the connection window a little: stream 3 wins it,
    // stream 1 keeps losing, yet neither is cancelled while the window moves.
    let t1 = t0 + Duration::from_secs(20);
    client.window(0, 100);
    exchange(&mut server, &mut client);
    server.handle_timeout(t1);
    assert_eq!(server.send_data(sid(3), &big, true), Ok(100));
    assert_eq!(
        server.send_data(sid(1), &big, true),
        Err(StreamError::WouldBlock)
    );
    assert_eq!(
        server.send_data(sid(3), &big[100..], true),
        Err(StreamError::WouldBlock)
    );
    server.handle_timeout(t1);
    drain(&mut server, &mut client);
    server.handle_timeout(t0 + Duration::from_secs(35));
    assert_eq!(rst(&drain(&mut server, &mut client), 1), None);
    assert_eq!(server.poll_timeout(), Some(t1 + Duration::from_secs(30)));
    // Closed for 30 s: every stream waiting for it is cancelled.
    server.handle_timeout(t1 + Duration::from_secs(30));
    let frames = drain(&mut server, &mut client);
    assert_eq!(rst(&frames, 1), Some(ErrorCode::Cancel));
    assert_eq!(rst(&frames, 3), Some(ErrorCode::Cancel));
    assert_eq!(server.stall_resets(), 2);
    assert!(server.error().is_none());
}

/// A request head with the three pseudo-headers and `n - 3` regular fields: `n` fields.
fn head_with_fields(n: usize) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = [(":method", "GET"), (":scheme", "http"), (":path", "/")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    for i in 0..n - 3 {
        f.push((format!("x-f{i}"), "v".to_string()));
    }
    f
}

fn as_refs(f: &[(String, String)]) -> Vec<(&str, &str)> {
    f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

#[test]
fn too_many_fields_get_431_and_connection_survives() {
    let config = Http2Config::default();
    assert_eq!(config.max_header_fields, 100);
    let (mut server, mut client) = handshake(config, &[]);
    // Exactly the cap: accepted.
    let at_cap = head_with_fields(100);
    client.headers(1, &as_refs(&at_cap), true);
    exchange(&mut server, &mut client);
    assert_eq!(requests(&mut server), vec![1]);
    // One more: 431 on that stream, like an oversized header list.
    let over = head_with_fields(101);
    client.headers(3, &as_refs(&over), true);
    let frames = exchange(&mut server, &mut client);
    assert_eq!(frames[0].status(), Some("431"), "{frames:?}");
    assert!(requests(&mut server).is_empty());
    assert!(server.error().is_none());
    client.get(5, "/ok");
    exchange(&mut server, &mut client);
    assert_eq!(requests(&mut server), vec![5], "HPACK state still in sync");
}

#[test]
fn many_one_byte_references_hit_the_field_cap() {
    let config = Http2Config {
        max_header_fields: 10,
        ..Default::default()
    };
    let (mut server, mut client) = handshake(config, &[]);
    // 470 one-byte static-table references (`accept-encoding: gzip, deflate`), far under
    // the header-list byte limit.
    let mut block = client.block(&[(":method", "GET"), (":scheme", "http"), (":path", "/")]);
    block.extend(std::iter::repeat_n(0x80 | 16, 470));
    client.headers_raw(1, &block, true, true);
    let frames = exchange(&mut server, &mut client);
    assert_eq!(frames[0].status(), Some("431"), "{frames:?}");
    assert!(requests(&mut server).is_empty());
}

#[test]
fn trailers_over_the_field_cap_reset_the_stream() {
    let config = Http2Config {
        max_header_fields: 5,
        ..Default::default()
    };
    let (mut server, mut client) = handshake(config, &[]);
    let post = [(":method", "POST"), (":scheme", "http"), (":path", "/")];
    let at_cap: Vec<(String, String)> = (0..5).map(|i| (format!("x-t{i}"), "1".into())).collect();
    client
        .headers(1, &post, false)
        .data(1, b"abc", false)
        .headers(1, &as_refs(&at_cap), true);
    exchange(&mut server, &mut client);
    requests(&mut server);
    let trailers = server
        .take_trailers(sid(1))
        .expect("trailers at the cap kept");
    assert_eq!(trailers.regular().count(), 5);
    server.recycle_head(trailers);
    let over: Vec<(String, String)> = (0..6).map(|i| (format!("x-t{i}"), "1".into())).collect();
    client
        .headers(3, &post, false)
        .data(3, b"abc", false)
        .headers(3, &as_refs(&over), true);
    let frames = exchange(&mut server, &mut client);
    assert_eq!(rst(&frames, 3), Some(ErrorCode::ProtocolError));
    assert!(server.take_trailers(sid(3)).is_none());
    assert!(server.error().is_none());
}

// ---- glitches: frames that cost work but carry nothing --------------------------------

/// Feeds the client's bytes at `now`; returns the server's parsed output.
fn exchange_at(server: &mut ServerConnection, client: &mut Client, now: Instant) -> Vec<F> {
    let input = client.take();
    let mut pos = 0;
    while pos < input.len() {
        match server.recv(&input[pos..], now) {
            Ok(0) | Err(_) => break,
            Ok(n) => pos += n,
        }
    }
    drain(server, client)
}

fn glitch_config(max: u32) -> Http2Config {
    Http2Config {
        max_glitches_per_window: max,
        ..Default::default()
    }
}

fn open_upload(client: &mut Client, id: u32) {
    client.headers(
        id,
        &[(":method", "POST"), (":scheme", "http"), (":path", "/up")],
        false,
    );
}

#[test]
fn empty_data_frames_within_the_budget_are_fine_beyond_it_enhance_your_calm() {
    let (mut server, mut client) = handshake(glitch_config(100), &[]);
    open_upload(&mut client, 1);
    for _ in 0..100 {
        client.data(1, b"", false);
    }
    let frames = exchange(&mut server, &mut client);
    assert_eq!(goaway(&frames), None, "{frames:?}");
    assert!(server.error().is_none());
    assert_eq!(requests(&mut server), vec![1]);
    // An empty DATA frame ending the stream carries the end: not a glitch.
    client.data(1, b"", true);
    open_upload(&mut client, 3);
    client.data(3, b"", false);
    let frames = exchange(&mut server, &mut client);
    assert_eq!(
        goaway(&frames),
        Some(ErrorCode::EnhanceYourCalm),
        "{frames:?}"
    );
    assert!(server.error().is_some());
    assert!(server.is_done());
}

#[test]
fn default_budget_stops_an_empty_data_flood() {
    let (mut server, mut client) = handshake(Http2Config::default(), &[]);
    open_upload(&mut client, 1);
    for _ in 0..100_000 {
        client.data(1, b"", false);
    }
    let input = client.take();
    assert!(server.recv(&input, clock()).is_err());
    let frames = drain(&mut server, &mut client);
    assert_eq!(goaway(&frames), Some(ErrorCode::EnhanceYourCalm));
}

#[test]
fn glitch_window_rolls_over_with_the_clock() {
    let config = Http2Config {
        reset_window: Duration::from_secs(10),
        ..glitch_config(100)
    };
    let (mut server, mut client) = handshake(config, &[]);
    open_upload(&mut client, 1);
    exchange_at(&mut server, &mut client, clock());
    for t in [0u64, 10, 20, 30] {
        for _ in 0..100 {
            client.data(1, b"", false);
        }
        let now = clock() + Duration::from_secs(t) + Duration::from_millis(500);
        let frames = exchange_at(&mut server, &mut client, now);
        assert_eq!(goaway(&frames), None, "window at {t} s: {frames:?}");
    }
    // One more in the last window is over the budget.
    client.data(1, b"", false);
    let now = clock() + Duration::from_secs(39);
    let frames = exchange_at(&mut server, &mut client, now);
    assert_eq!(
        goaway(&frames),
        Some(ErrorCode::EnhanceYourCalm),
        "{frames:?}"
    );
}

#[test]
fn each_glitch_kind_trips_the_budget() {
    let kinds = [
        "empty DATA",
        "padded empty DATA",
        "PRIORITY",
        "unknown frame type",
        "repeated SETTINGS",
        "unsolicited SETTINGS ACK",
        "WINDOW_UPDATE for a closed stream",
        "WINDOW_UPDATE for a reset stream",
    ];
    for kind in kinds {
        let (mut server, mut client) = handshake(glitch_config(50), &[]);
        // Our SETTINGS acknowledged: later ACKs are unsolicited.
        client.settings_ack();
        open_upload(&mut client, 1);
        client.get(3, "/");
        exchange(&mut server, &mut client);
        assert_eq!(requests(&mut server), vec![1, 3]);
        respond(&mut server, 3, b"done");
        server.reset(sid(1), ErrorCode::Cancel);
        drain(&mut server, &mut client);
        assert!(server.error().is_none(), "{kind}");
        let one = |client: &mut Client| match kind {
            "empty DATA" => {
                client.data(5, b"", false);
            }
            "padded empty DATA" => {
                // PADDED flag, pad length 3, three zero bytes of padding.
                client.raw(0x0, 0x8, 5, &[3, 0, 0, 0]);
            }
            "PRIORITY" => {
                client.priority(5, 0);
            }
            "unknown frame type" => {
                client.raw(0xfa, 0, 0, b"extension");
            }
            "repeated SETTINGS" => {
                client.settings(&[]);
            }
            "unsolicited SETTINGS ACK" => {
                client.settings_ack();
            }
            "WINDOW_UPDATE for a closed stream" => {
                client.window(3, 1000);
            }
            "WINDOW_UPDATE for a reset stream" => {
                client.window(1, 1000);
            }
            _ => unreachable!(),
        };
        open_upload(&mut client, 5);
        for _ in 0..50 {
            one(&mut client);
        }
        let frames = exchange(&mut server, &mut client);
        assert_eq!(
            goaway(&frames),
            None,
            "{kind} within the budget: {frames:?}"
        );
        one(&mut client);
        let frames = exchange(&mut server, &mut client);
        assert_eq!(
            goaway(&frames),
            Some(ErrorCode::EnhanceYourCalm),
            "{kind} beyond the budget: {frames:?}"
        );
    }
}

#[test]
fn legit_upload_with_window_updates_and_settings_is_no_glitch() {
    // A budget of 3: the three extra SETTINGS use it all, nothing else may count.
    let (mut server, mut client) = handshake(glitch_config(3), &[]);
    const TOTAL: usize = 10 * 1024 * 1024;
    client.headers(
        1,
        &[
            (":method", "POST"),
            (":scheme", "http"),
            (":path", "/up"),
            ("content-length", &TOTAL.to_string()),
        ],
        false,
    );
    let chunk = vec![9u8; 16 * 1024];
    let mut buf = vec![0u8; 64 * 1024];
    let (mut sent, mut read, mut i) = (0, 0, 0);
    while sent < TOTAL {
        let n = chunk.len().min(TOTAL - sent);
        sent += n;
        client.data(1, &chunk[..n], sent == TOTAL);
        // The client grants credit for the response as it goes: real increments.
        client.window(0, 16 * 1024).window(1, 16 * 1024);
        if i % 200 == 100 {
            client.settings(&[(SettingId::InitialWindowSize, 65_535 + i)]);
        }
        i += 1;
        let frames = exchange(&mut server, &mut client);
        assert_eq!(goaway(&frames), None, "at {sent}: {frames:?}");
        loop {
            match server.read_data(sid(1), &mut buf) {
                Ok(0) | Err(StreamError::WouldBlock) => break,
                Ok(n) => read += n,
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(read, TOTAL);
    assert_eq!(server.read_data(sid(1), &mut buf), Ok(0));
    respond(&mut server, 1, b"stored");
    let frames = drain(&mut server, &mut client);
    assert_eq!(frames.iter().find_map(F::status), Some("200"), "{frames:?}");
    assert_eq!(goaway(&frames), None);
    assert!(server.error().is_none());
}

// ---- oversized header lists, unfinished header blocks ----------------------------------

/// A request block whose decoded list is `refs` references to one 4000-byte entry: about
/// `refs` × 4 KB decoded from `refs` + 4 KB encoded bytes (an HPACK bomb, RFC 7541 §7.3).
fn bomb_block(client: &mut Client, refs: usize) -> Vec<u8> {
    let mut block = client.block(&[(":method", "GET"), (":scheme", "http"), (":path", "/")]);
    block.push(0x40);
    shockwave_hpack::integer::encode(4, 7, 0, &mut block);
    block.extend_from_slice(b"bomb");
    shockwave_hpack::integer::encode(4000, 7, 0, &mut block);
    block.extend_from_slice(&[b'x'; 4000]);
    block.extend(std::iter::repeat_n(0x80 | 62, refs));
    block
}

#[test]
fn repeated_oversized_header_lists_get_enhance_your_calm() {
    let config = Http2Config::default();
    assert_eq!(config.max_oversized_header_lists, 10);
    let (mut server, mut client) = handshake(config, &[]);
    // Lists a little over the 16 KiB limit (well under 4x): each gets its 431 and the
    // connection lives on, up to the budget.
    let big = "v".repeat(17 * 1024);
    let mut id = 1;
    for _ in 0..10 {
        client.headers(
            id,
            &[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/"),
                ("x-big", &big),
            ],
            true,
        );
        let frames = exchange(&mut server, &mut client);
        assert_eq!(frames[0].status(), Some("431"), "{frames:?}");
        assert!(server.error().is_none());
        id += 2;
    }
    // A normal request in between does not reset the count.
    client.get(id, "/ok");
    exchange(&mut server, &mut client);
    assert_eq!(requests(&mut server), vec![id]);
    id += 2;
    client.headers(
        id,
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            ("x-big", &big),
        ],
        true,
    );
    let frames = exchange(&mut server, &mut client);
    assert_eq!(
        goaway(&frames),
        Some(ErrorCode::EnhanceYourCalm),
        "{frames:?}"
    );
    assert_eq!(
        server.error().map(|e| e.reason),
        Some("too many oversized header lists")
    );
    // The window rolls over: a peer with one oversized list per window is never cut off.
    let (mut server, mut client) = handshake(Http2Config::default(), &[]);
    let mut id = 1;
    for i in 0..30u64 {
        let at = clock() + Duration::from_secs(11 * i);
        client.headers(
            id,
            &[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/"),
                ("x-big", &big),
            ],
            true,
        );
        let frames = exchange_at(&mut server, &mut client, at);
        assert_eq!(frames[0].status(), Some("431"), "{frames:?}");
        id += 2;
    }
    assert!(server.error().is_none());
}

#[test]
fn a_second_block_far_over_the_limit_is_not_decoded_to_its_end() {
    let (mut server, mut client) = handshake(Http2Config::default(), &[]);
    // The first bomb is decoded to its end (table in sync): 431, the connection lives.
    let block = bomb_block(&mut client, 100);
    client.headers_raw(1, &block, true, true);
    let frames = exchange(&mut server, &mut client);
    assert_eq!(frames[0].status(), Some("431"), "{frames:?}");
    client.get(3, "/ok");
    exchange(&mut server, &mut client);
    assert_eq!(requests(&mut server), vec![3]);
    // The second, 16,000 references (~64 MB decoded from 20 KB): decoding stops past
    // 4 x 16 KiB and the connection is closed (the table is out of step from then on).
    let mut block = client.block(&[(":method", "GET"), (":scheme", "http"), (":path", "/")]);
    block.extend(std::iter::repeat_n(0x80 | 62, 16_000));
    client.headers_raw(5, &block, true, true);
    let frames = exchange(&mut server, &mut client);
    assert_eq!(
        goaway(&frames),
        Some(ErrorCode::EnhanceYourCalm),
        "{frames:?}"
    );
    assert_eq!(
        server.error().map(|e| e.reason),
        Some("header list far over the limit")
    );
    assert!(requests(&mut server).is_empty());
}

#[test]
fn unfinished_header_block_is_closed_at_the_header_timeout() {
    let config = Http2Config {
        header_block_timeout: Some(Duration::from_secs(3)),
        ..Default::default()
    };
    assert_eq!(
        Http2Config::default().header_block_timeout,
        Some(Duration::from_secs(10))
    );
    for continued in [false, true] {
        let (mut server, mut client) = handshake(config.clone(), &[]);
        client.settings_ack();
        let t0 = clock();
        server.handle_timeout(t0);
        let block = client.block(&[(":method", "GET"), (":scheme", "http"), (":path", "/")]);
        let (a, b) = block.split_at(block.len() / 2);
        // HEADERS without END_HEADERS (and maybe a CONTINUATION that does not end it).
        client.headers_raw(1, a, true, false);
        if continued {
            client.continuation(1, &b[..b.len() / 2], false);
        }
        exchange_at(&mut server, &mut client, t0);
        assert_eq!(server.poll_timeout(), Some(t0 + Duration::from_secs(3)));
        server.handle_timeout(t0 + Duration::from_millis(2_999));
        assert!(server.error().is_none());
        server.handle_timeout(t0 + Duration::from_secs(3));
        let frames = drain(&mut server, &mut client);
        assert_eq!(
            goaway(&frames),
            Some(ErrorCode::EnhanceYourCalm),
            "{frames:?}"
        );
        assert_eq!(
            server.error().map(|e| e.reason),
            Some("header block not completed")
        );
    }
    // A block completed in time leaves no deadline behind.
    let (mut server, mut client) = handshake(config, &[]);
    client.settings_ack();
    let t0 = clock();
    server.handle_timeout(t0);
    let block = client.block(&[(":method", "GET"), (":scheme", "http"), (":path", "/")]);
    let (a, b) = block.split_at(block.len() / 2);
    client
        .headers_raw(1, a, true, false)
        .continuation(1, b, true);
    exchange_at(&mut server, &mut client, t0);
    assert_eq!(requests(&mut server), vec![1]);
    assert_eq!(server.poll_timeout(), None);
    server.handle_timeout(t0 + Duration::from_secs(60));
    assert!(server.error().is_none());
}

#[test]
fn host_differing_from_authority_is_malformed() {
    let (mut server, mut client) = handshake(Http2Config::default(), &[]);
    let base = [(":method", "GET"), (":scheme", "https"), (":path", "/")];
    let bad: &[&[(&str, &str)]] = &[
        // RFC 9113 §8.3.1: a host field naming another entity than :authority.
        &[(":authority", "a.example"), ("host", "b.example")],
        &[(":authority", "a.example:8443"), ("host", "a.example")],
        // userinfo in :authority.
        &[(":authority", "user@a.example")],
    ];
    let mut id = 1;
    for extra in bad {
        let fields: Vec<(&str, &str)> = base.iter().chain(extra.iter()).copied().collect();
        client.headers(id, &fields, true);
        let frames = exchange(&mut server, &mut client);
        assert_eq!(
            rst(&frames, id),
            Some(ErrorCode::ProtocolError),
            "{extra:?}"
        );
        id += 2;
    }
    assert!(requests(&mut server).is_empty());
    // The same host (case aside), or only one of the two, is fine.
    let good: &[&[(&str, &str)]] = &[
        &[(":authority", "a.example"), ("host", "A.Example")],
        &[(":authority", "a.example")],
        &[("host", "a.example")],
    ];
    let mut served = Vec::new();
    for extra in good {
        let fields: Vec<(&str, &str)> = base.iter().chain(extra.iter()).copied().collect();
        client.headers(id, &fields, true);
        exchange(&mut server, &mut client);
        served.push(id);
        id += 2;
    }
    assert_eq!(requests(&mut server), served);
    assert!(server.error().is_none());
}
