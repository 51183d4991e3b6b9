//! Both roles of the connection talking to each other (client opens streams, gets the
//! response head with its status, body and trailers), the events that replace wakers,
//! and the timers run on a synthetic clock: reset rate-limit windows rolling over,
//! keep-alive PINGs and the drop without ACK, the SETTINGS timeout and the stall timeout
//! on the client side.

mod conn_support;

use std::time::{Duration, Instant};

use conn_support::{Client, F};
use shockwave_http2_frames::conn::{
    Config, Connection, Event, FieldBlock, Role, StreamError, StreamId,
};
use shockwave_http2_frames::{ErrorCode, Settings};

const GET: [(&[u8], &[u8]); 4] = [
    (b":method", b"GET"),
    (b":scheme", b"https"),
    (b":authority", b"example.test"),
    (b":path", b"/"),
];

/// Moves every pending byte from `from` to `to`; returns whether any moved.
fn pump(from: &mut Connection, to: &mut Connection, now: Instant) -> bool {
    let n = from.pending_output().len();
    if n == 0 {
        return false;
    }
    let used = to.recv(from.pending_output(), now).unwrap();
    assert_eq!(used, n);
    from.advance_output(n);
    true
}

/// Pumps both ways until both are quiet.
fn settle(a: &mut Connection, b: &mut Connection, now: Instant) {
    while pump(a, b, now) | pump(b, a, now) {}
}

fn events(c: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

fn pair(client: Config, server: Config, now: Instant) -> (Connection, Connection) {
    let mut c = Connection::client(client);
    let mut s = Connection::new(server);
    settle(&mut c, &mut s, now);
    assert!(c.settings_acked() && s.settings_acked());
    (c, s)
}

fn request_id(server: &mut Connection) -> StreamId {
    events(server)
        .into_iter()
        .find_map(|e| match e {
            Event::Request { stream_id } => Some(stream_id),
            _ => None,
        })
        .expect("a request")
}

#[test]
fn client_gets_the_response_head_with_status_body_and_trailers() {
    let now = Instant::now();
    let (mut client, mut server) = pair(Config::default(), Config::default(), now);
    assert_eq!(client.role(), Role::Client);
    assert_eq!(server.role(), Role::Server);
    let id = client.open_stream(GET, true).unwrap();
    assert_eq!(id, 1);
    assert!(id.is_client_initiated());
    assert_eq!(client.take_response(id), Err(StreamError::WouldBlock));
    settle(&mut client, &mut server, now);
    let sid = request_id(&mut server);
    assert_eq!(sid, id);
    let head = server.take_head(sid).unwrap();
    assert_eq!(head.authority(), Some(&b"example.test"[..]));
    assert!(head.end_stream());
    server.recycle_head(head);
    // An informational response is skipped (§8.1); the final one is announced.
    server
        .send_headers(sid, [(&b":status"[..], &b"103"[..])], false)
        .unwrap();
    server
        .send_headers(
            sid,
            [(&b":status"[..], &b"200"[..]), (b"content-length", b"5")],
            false,
        )
        .unwrap();
    settle(&mut client, &mut server, now);
    assert_eq!(events(&mut client), [Event::Response { stream_id: id }]);
    let head: FieldBlock = client.take_response(id).unwrap();
    assert_eq!(head.status(), Some(200));
    assert_eq!(head.content_length(), Some(5));
    assert_eq!(head.method(), None);
    assert!(!head.end_stream());
    client.recycle_head(head);
    // Nothing to read yet: WouldBlock, then exactly one StreamReadable when bytes come.
    let mut buf = [0u8; 16];
    assert_eq!(client.read_data(id, &mut buf), Err(StreamError::WouldBlock));
    assert_eq!(server.send_data(sid, b"hel", false), Ok(3));
    assert_eq!(server.send_data(sid, b"lo", false), Ok(2));
    server
        .send_headers(sid, [(&b"x-sum"[..], &b"5"[..])], true)
        .unwrap();
    server.release(sid);
    settle(&mut client, &mut server, now);
    assert_eq!(
        events(&mut client),
        [Event::StreamReadable { stream_id: id }]
    );
    assert_eq!(client.read_data(id, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(client.read_data(id, &mut buf), Ok(0));
    assert!(client.is_recv_closed(id));
    let trailers = client.take_trailers(id).unwrap();
    assert_eq!(
        trailers.iter().collect::<Vec<_>>(),
        [(&b"x-sum"[..], &b"5"[..])]
    );
    client.recycle_head(trailers);
    client.release(id);
    settle(&mut client, &mut server, now);
    assert_eq!(client.active_streams(), 0);
    assert_eq!(server.active_streams(), 0);
    // The next stream gets the next odd id.
    assert_eq!(client.open_stream(GET, true), Ok(StreamId::new(3)));
}

#[test]
fn client_waits_for_a_stream_slot() {
    let now = Instant::now();
    let server_cfg = Config {
        max_concurrent_streams: 1,
        ..Config::default()
    };
    let (mut client, mut server) = pair(Config::default(), server_cfg, now);
    assert_eq!(client.peer_settings().max_concurrent_streams, Some(1));
    let a = client.open_stream(GET, true).unwrap();
    assert_eq!(client.open_stream(GET, true), Err(StreamError::WouldBlock));
    settle(&mut client, &mut server, now);
    let sid = request_id(&mut server);
    server
        .send_headers(sid, [(&b":status"[..], &b"204"[..])], true)
        .unwrap();
    server.release(sid);
    settle(&mut client, &mut server, now);
    let got = events(&mut client);
    assert_eq!(got, [Event::Response { stream_id: a }]);
    client.release(a);
    assert_eq!(events(&mut client), [Event::CanOpenStream]);
    assert_eq!(client.open_stream(GET, true), Ok(StreamId::new(3)));
}

#[test]
fn server_role_does_not_open_streams() {
    let mut server = Connection::new(Config::default());
    assert_eq!(
        server.open_stream(GET, true),
        Err(StreamError::ConnectionClosed)
    );
}

#[test]
fn peer_reset_is_a_remote_stream_reset_event() {
    let now = Instant::now();
    let (mut client, mut server) = pair(Config::default(), Config::default(), now);
    let id = client.open_stream(GET, false).unwrap();
    settle(&mut client, &mut server, now);
    let sid = request_id(&mut server);
    let mut buf = [0u8; 8];
    assert_eq!(
        server.read_data(sid, &mut buf),
        Err(StreamError::WouldBlock)
    );
    client.reset(id, ErrorCode::Cancel);
    assert_eq!(
        events(&mut client),
        [Event::StreamReset {
            stream_id: id,
            code: ErrorCode::Cancel,
            remote: false
        }]
    );
    settle(&mut client, &mut server, now);
    assert_eq!(
        events(&mut server),
        [Event::StreamReset {
            stream_id: sid,
            code: ErrorCode::Cancel,
            remote: true
        }]
    );
    assert_eq!(server.reset_code(sid), Some(ErrorCode::Cancel));
    assert_eq!(
        server.read_data(sid, &mut buf),
        Err(StreamError::Reset(ErrorCode::Cancel))
    );
    server.release(sid);
    client.release(id);
    assert_eq!(server.active_streams(), 0);
    assert_eq!(client.active_streams(), 0);
}

#[test]
fn a_complete_response_survives_rst_stream_no_error() {
    // RFC 9113 §8.1: a server answers completely while the client still sends, then
    // asks it to stop with RST_STREAM NO_ERROR: the client keeps the response.
    let now = Instant::now();
    let mut fresh = Connection::client(Config::default());
    assert!(!fresh.peer_settings_received());
    fresh.advance_output(fresh.pending_output().len());
    let (mut client, mut server) = pair(Config::default(), Config::default(), now);
    assert!(client.peer_settings_received() && server.peer_settings_received());
    for (code, kept) in [(ErrorCode::NoError, true), (ErrorCode::Cancel, false)] {
        let id = client.open_stream(GET, false).unwrap();
        settle(&mut client, &mut server, now);
        let sid = request_id(&mut server);
        let head = server.take_head(sid).unwrap();
        server.recycle_head(head);
        server
            .send_headers(sid, [(&b":status"[..], &b"200"[..])], false)
            .unwrap();
        assert_eq!(server.send_data(sid, b"complete", true), Ok(8));
        server.reset(sid, code);
        settle(&mut client, &mut server, now);
        let head = client.take_response(id).unwrap();
        assert_eq!(head.status(), Some(200));
        client.recycle_head(head);
        let mut buf = [0u8; 16];
        if kept {
            assert_eq!(client.read_data(id, &mut buf), Ok(8));
            assert_eq!(&buf[..8], b"complete");
            assert_eq!(client.read_data(id, &mut buf), Ok(0));
        } else {
            assert_eq!(
                client.read_data(id, &mut buf),
                Err(StreamError::Reset(code))
            );
        }
        assert_eq!(client.reset_code(id), Some(code));
        client.release(id);
        server.release(sid);
        let _ = events(&mut client);
        let _ = events(&mut server);
    }
}

#[test]
fn goaway_refuses_the_client_streams_the_server_never_saw() {
    let now = Instant::now();
    let (mut client, mut server) = pair(Config::default(), Config::default(), now);
    let a = client.open_stream(GET, true).unwrap();
    settle(&mut client, &mut server, now);
    let sid = request_id(&mut server);
    server.go_away();
    let b = client.open_stream(GET, true).unwrap();
    // The GOAWAY reaches the client before the server reads stream 3.
    pump(&mut server, &mut client, now);
    let got = events(&mut client);
    assert!(
        got.contains(&Event::StreamReset {
            stream_id: b,
            code: ErrorCode::RefusedStream,
            remote: true
        }),
        "{got:?}"
    );
    assert!(got.contains(&Event::GoAway {
        code: ErrorCode::NoError,
        last_stream_id: a
    }));
    assert_eq!(
        client.take_response(b),
        Err(StreamError::Reset(ErrorCode::RefusedStream))
    );
    assert_eq!(
        client.open_stream(GET, true),
        Err(StreamError::ConnectionClosed)
    );
    client.release(b);
    // Stream 1 still completes.
    pump(&mut client, &mut server, now);
    server
        .send_headers(sid, [(&b":status"[..], &b"200"[..])], true)
        .unwrap();
    server.release(sid);
    assert!(server.is_done());
    pump(&mut server, &mut client, now);
    assert_eq!(client.take_response(a).unwrap().status(), Some(200));
    client.release(a);
    assert!(client.is_done());
}

#[test]
fn client_keep_alive_ping_is_acknowledged_or_the_connection_dropped() {
    let t0 = Instant::now();
    let cfg = Config {
        keep_alive_interval: Some(Duration::from_secs(10)),
        keep_alive_timeout: Duration::from_secs(5),
        ..Config::default()
    };
    let (mut client, mut server) = pair(cfg, Config::default(), t0);
    client.handle_timeout(t0);
    assert_eq!(client.poll_timeout(), Some(t0 + Duration::from_secs(10)));
    // An idle client sends a PING after ten silent seconds; the server answers it.
    client.handle_timeout(t0 + Duration::from_secs(10));
    assert!(client.ping_outstanding());
    assert_eq!(client.poll_timeout(), Some(t0 + Duration::from_secs(15)));
    settle(&mut client, &mut server, t0);
    assert!(!client.ping_outstanding());
    client.handle_timeout(t0 + Duration::from_secs(15));
    assert!(client.error().is_none());
    // The next PING is never acknowledged (the server is gone): GOAWAY and done.
    client.handle_timeout(t0 + Duration::from_secs(25));
    assert!(client.ping_outstanding());
    client.handle_timeout(t0 + Duration::from_millis(29_999));
    assert!(client.error().is_none());
    client.handle_timeout(t0 + Duration::from_secs(30));
    let e = client.error().expect("dropped");
    assert_eq!(e.code, ErrorCode::NoError);
    assert!(client.is_done());
    assert_eq!(client.poll_timeout(), None);
    let mut peer = Client::new();
    let out = client.pending_output().to_vec();
    let frames = peer.parse(&out);
    assert!(
        frames.iter().any(|f| matches!(
            f,
            F::GoAway {
                code: ErrorCode::NoError,
                ..
            }
        )),
        "{frames:?}"
    );
}

#[test]
fn client_settings_timeout() {
    let t0 = Instant::now();
    let cfg = Config {
        settings_timeout: Duration::from_secs(10),
        ..Config::default()
    };
    let mut client = Connection::client(cfg);
    // The server never answers.
    client.handle_timeout(t0);
    assert!(!client.settings_acked());
    assert_eq!(client.poll_timeout(), Some(t0 + Duration::from_secs(10)));
    client.handle_timeout(t0 + Duration::from_millis(9_999));
    assert!(client.error().is_none());
    client.handle_timeout(t0 + Duration::from_secs(10));
    assert_eq!(
        client.error().map(|e| e.code),
        Some(ErrorCode::SettingsTimeout)
    );
    assert_eq!(
        client.open_stream(GET, true),
        Err(StreamError::ConnectionClosed)
    );
}

#[test]
fn client_upload_stalled_by_a_closed_window_is_cancelled() {
    let t0 = Instant::now();
    let server_cfg = Config {
        initial_stream_window: 0,
        ..Config::default()
    };
    let (mut client, mut server) = pair(Config::default(), server_cfg, t0);
    let post: [(&[u8], &[u8]); 4] = [
        (b":method", b"POST"),
        (b":scheme", b"https"),
        (b":authority", b"example.test"),
        (b":path", b"/up"),
    ];
    let id = client.open_stream(post, false).unwrap();
    assert_eq!(
        client.send_data(id, b"body", true),
        Err(StreamError::WouldBlock)
    );
    client.handle_timeout(t0);
    assert_eq!(client.poll_timeout(), Some(t0 + Duration::from_secs(30)));
    client.handle_timeout(t0 + Duration::from_secs(30));
    assert_eq!(client.stall_resets(), 1);
    assert_eq!(
        events(&mut client),
        [Event::StreamReset {
            stream_id: id,
            code: ErrorCode::Cancel,
            remote: false
        }]
    );
    settle(&mut client, &mut server, t0);
    assert!(server.error().is_none());
}

#[test]
fn send_capacity_event_after_window_update() {
    let now = Instant::now();
    let client_cfg = Config {
        initial_stream_window: 10,
        ..Config::default()
    };
    let (mut client, mut server) = pair(client_cfg, Config::default(), now);
    let id = client.open_stream(GET, true).unwrap();
    settle(&mut client, &mut server, now);
    let sid = request_id(&mut server);
    server
        .send_headers(sid, [(&b":status"[..], &b"200"[..])], false)
        .unwrap();
    assert_eq!(server.send_data(sid, &[1; 30], true), Ok(10));
    assert_eq!(
        server.send_data(sid, &[1; 20], true),
        Err(StreamError::WouldBlock)
    );
    settle(&mut client, &mut server, now);
    let mut buf = [0u8; 32];
    assert_eq!(client.read_data(id, &mut buf), Ok(10));
    // Ten bytes read: half the window, credit goes back (WINDOW_UPDATE).
    settle(&mut client, &mut server, now);
    assert_eq!(
        events(&mut server),
        [Event::StreamWritable { stream_id: sid }]
    );
    assert_eq!(server.send_data(sid, &[1; 20], true), Ok(10));
}

fn exchange_at(server: &mut Connection, client: &mut Client, now: Instant) -> Vec<F> {
    let input = client.take();
    let mut pos = 0;
    while pos < input.len() {
        match server.recv(&input[pos..], now) {
            Ok(0) | Err(_) => break,
            Ok(n) => pos += n,
        }
    }
    let out = server.pending_output().to_vec();
    server.advance_output(out.len());
    client.parse(&out)
}

/// Opens and resets `n` streams at `now`, releasing each as a driver would.
fn rapid_resets(
    server: &mut Connection,
    client: &mut Client,
    next: &mut u32,
    n: u32,
    now: Instant,
) {
    for _ in 0..n {
        client.get(*next, "/").rst(*next, ErrorCode::Cancel);
        *next += 2;
        exchange_at(server, client, now);
        while let Some(e) = server.poll_event() {
            if let Event::StreamReset { stream_id, .. } = e {
                server.release(stream_id);
            }
        }
    }
}

/// The rate-limit window's exact edges, with the clock passed in: at most 2 resets per
/// 10 s; a window expires when 10 s have passed since its first event, and counting then
/// starts over.
#[test]
fn reset_window_edges_follow_the_clock_passed_in() {
    let cfg = Config {
        max_resets_per_window: 2,
        reset_window: Duration::from_secs(10),
        ..Config::default()
    };
    let t0 = Instant::now();
    let at = |secs| t0 + Duration::from_secs(secs);
    let start = || {
        let mut server = Connection::new(cfg.clone());
        let mut client = Client::new();
        client.preface(&[]).settings_ack();
        exchange_at(&mut server, &mut client, t0);
        (server, client, 1)
    };
    // Events at 0 s and 1 s are within the limit; a third at 9 s exceeds it.
    let (mut server, mut client, mut next) = start();
    rapid_resets(&mut server, &mut client, &mut next, 1, at(0));
    rapid_resets(&mut server, &mut client, &mut next, 1, at(1));
    assert!(server.error().is_none());
    rapid_resets(&mut server, &mut client, &mut next, 1, at(9));
    assert_eq!(
        server.error().map(|e| e.code),
        Some(ErrorCode::EnhanceYourCalm)
    );
    // At exactly 10 s the window has expired: 10 s and 11 s start a new count, and the
    // third event in it (12 s) exceeds the limit.
    let (mut server, mut client, mut next) = start();
    rapid_resets(&mut server, &mut client, &mut next, 1, at(0));
    rapid_resets(&mut server, &mut client, &mut next, 1, at(1));
    rapid_resets(&mut server, &mut client, &mut next, 1, at(10));
    rapid_resets(&mut server, &mut client, &mut next, 1, at(11));
    assert!(server.error().is_none());
    rapid_resets(&mut server, &mut client, &mut next, 1, at(12));
    assert_eq!(
        server.error().map(|e| e.code),
        Some(ErrorCode::EnhanceYourCalm)
    );
}

#[test]
fn reset_rate_limit_window_rolls_over_with_the_clock() {
    let cfg = Config {
        max_resets_per_window: 5,
        reset_window: Duration::from_secs(10),
        ..Config::default()
    };
    let t0 = Instant::now();
    let mut next = 1;
    let mut server = Connection::new(cfg.clone());
    let mut client = Client::new();
    client.preface(&[]).settings_ack();
    exchange_at(&mut server, &mut client, t0);
    // Five resets per ten seconds are allowed, window after window.
    rapid_resets(&mut server, &mut client, &mut next, 5, t0);
    rapid_resets(
        &mut server,
        &mut client,
        &mut next,
        5,
        t0 + Duration::from_secs(10),
    );
    rapid_resets(
        &mut server,
        &mut client,
        &mut next,
        5,
        t0 + Duration::from_secs(20),
    );
    assert!(server.error().is_none());
    // A sixth one inside the third window is one too many.
    rapid_resets(
        &mut server,
        &mut client,
        &mut next,
        1,
        t0 + Duration::from_secs(29),
    );
    assert_eq!(
        server.error().map(|e| e.code),
        Some(ErrorCode::EnhanceYourCalm)
    );
    // The same six at one instant: refused as well.
    let mut server = Connection::new(cfg);
    let mut client = Client::new();
    let mut next = 1;
    client.preface(&[]).settings_ack();
    exchange_at(&mut server, &mut client, t0);
    rapid_resets(&mut server, &mut client, &mut next, 6, t0);
    assert_eq!(
        server.error().map(|e| e.code),
        Some(ErrorCode::EnhanceYourCalm)
    );
}

#[test]
fn h2c_upgrade_opens_stream_one() {
    let now = Instant::now();
    let mut server = Connection::new(Config::default());
    let mut head = FieldBlock::default();
    head.push(b":method", b"GET");
    head.push(b":scheme", b"http");
    head.push(b":path", b"/");
    head.validate_request().unwrap();
    server.upgrade(&Settings::default(), head);
    assert_eq!(
        server.poll_event(),
        Some(Event::Request {
            stream_id: StreamId::new(1)
        })
    );
    let mut client = Client::new();
    client.preface(&[]).settings_ack();
    exchange_at(&mut server, &mut client, now);
    let head = server.take_head(StreamId::new(1)).unwrap();
    assert_eq!(head.path(), Some(&b"/"[..]));
    assert!(server.is_recv_closed(StreamId::new(1)));
    server
        .send_headers(StreamId::new(1), [(&b":status"[..], &b"200"[..])], true)
        .unwrap();
    server.release(StreamId::new(1));
    let frames = exchange_at(&mut server, &mut client, now);
    assert!(
        frames.iter().any(|f| f.status() == Some("200")),
        "{frames:?}"
    );
}

#[test]
fn full_output_buffer_blocks_writers_and_openers_until_drained() {
    let now = Instant::now();
    let small = Config {
        max_output_buffer: 32 * 1024,
        ..Config::default()
    };
    let (mut client, server) = pair(small, Config::default(), now);
    let post: [(&[u8], &[u8]); 4] = [
        (b":method", b"POST"),
        (b":scheme", b"https"),
        (b":authority", b"example.test"),
        (b":path", b"/up"),
    ];
    let id = client.open_stream(post, false).unwrap();
    let body = vec![7u8; 200 * 1024];
    let sent = client.send_data(id, &body, true).unwrap();
    assert!(sent > 0 && sent < body.len());
    assert!(!client.wants_read(), "above the high-water mark");
    // Output full: the writer and a new stream must wait for the socket.
    assert_eq!(
        client.send_data(id, &body[sent..], true),
        Err(StreamError::WouldBlock)
    );
    assert_eq!(client.open_stream(GET, true), Err(StreamError::WouldBlock));
    assert!(events(&mut client).is_empty());
    let n = client.pending_output().len();
    client.advance_output(n);
    let got = events(&mut client);
    assert_eq!(
        got,
        [
            Event::StreamWritable { stream_id: id },
            Event::CanOpenStream
        ]
    );
    // Both retry; the body refills the buffer right after the new stream's HEADERS.
    assert_eq!(client.open_stream(GET, true), Ok(StreamId::new(3)));
    assert!(client.send_data(id, &body[sent..], true).unwrap() > 0);
    assert!(server.error().is_none());
}

/// RFC 8441: a server with `enable_connect_protocol` announces
/// SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 and hands the driver an extended CONNECT with its
/// `:protocol`; without it the same request is a stream error PROTOCOL_ERROR.
#[test]
fn extended_connect_only_when_enabled() {
    const WS: [(&[u8], &[u8]); 5] = [
        (b":method", b"CONNECT"),
        (b":protocol", b"websocket"),
        (b":scheme", b"https"),
        (b":path", b"/chat"),
        (b":authority", b"example.test"),
    ];
    let now = Instant::now();
    let server_cfg = Config {
        enable_connect_protocol: true,
        ..Config::default()
    };
    let (mut client, mut server) = pair(Config::default(), server_cfg, now);
    assert!(client.peer_settings().enable_connect_protocol);
    assert!(!server.peer_settings().enable_connect_protocol);
    let id = client.open_stream(WS, false).unwrap();
    settle(&mut client, &mut server, now);
    let sid = request_id(&mut server);
    let head = server.take_head(sid).unwrap();
    assert_eq!(head.method(), Some(&b"CONNECT"[..]));
    assert_eq!(head.protocol(), Some(&b"websocket"[..]));
    assert_eq!(head.path(), Some(&b"/chat"[..]));
    assert!(!head.end_stream());
    server.recycle_head(head);
    // The stream stays open both ways after a 200 (a tunnel).
    server
        .send_headers(sid, [(&b":status"[..], &b"200"[..])], false)
        .unwrap();
    assert_eq!(client.send_data(id, b"ping", false), Ok(4));
    settle(&mut client, &mut server, now);
    let mut buf = [0u8; 8];
    assert_eq!(server.read_data(sid, &mut buf), Ok(4));
    assert_eq!(&buf[..4], b"ping");
    assert_eq!(client.take_response(id).unwrap().status(), Some(200));

    // Not enabled (the default): the same request is malformed.
    let (mut client, mut server) = pair(Config::default(), Config::default(), now);
    assert!(!client.peer_settings().enable_connect_protocol);
    let id = client.open_stream(WS, false).unwrap();
    settle(&mut client, &mut server, now);
    assert!(events(&mut server)
        .iter()
        .all(|e| !matches!(e, Event::Request { .. })));
    assert!(events(&mut client).contains(&Event::StreamReset {
        stream_id: id,
        code: ErrorCode::ProtocolError,
        remote: true,
    }));
}
