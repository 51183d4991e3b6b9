//! Flow-control credit on release (`Config::release_on_demand`): the windows bound what
//! the stream side holds, not only what the connection buffers. Time is synthetic.

mod conn_support;

use std::sync::OnceLock;
use std::time::Instant;

use conn_support::{Client, F};
use shockwave_http2_frames::conn::{Config, Connection, Event, StreamId};
use shockwave_http2_frames::ErrorCode;

fn clock() -> Instant {
    static T0: OnceLock<Instant> = OnceLock::new();
    *T0.get_or_init(Instant::now)
}

fn exchange(server: &mut Connection, client: &mut Client) -> Vec<F> {
    let input = client.take();
    let mut pos = 0;
    while pos < input.len() {
        match server.recv(&input[pos..], clock()) {
            Ok(0) | Err(_) => break,
            Ok(n) => pos += n,
        }
    }
    drain(server, client)
}

fn drain(server: &mut Connection, client: &mut Client) -> Vec<F> {
    let out = server.pending_output().to_vec();
    server.advance_output(out.len());
    client.parse(&out)
}

/// A server with 64 KiB windows (stream and connection), credit on release.
fn server() -> (Connection, Client) {
    let config = Config {
        initial_stream_window: 65_535,
        initial_connection_window: 65_535,
        release_on_demand: true,
        ..Config::default()
    };
    let mut server = Connection::new(config);
    let mut client = Client::new();
    client.preface(&[]);
    exchange(&mut server, &mut client);
    client.settings_ack();
    exchange(&mut server, &mut client);
    while server.poll_event().is_some() {}
    (server, client)
}

fn post(client: &mut Client, id: u32) {
    client.headers(
        id,
        &[(":method", "POST"), (":scheme", "http"), (":path", "/up")],
        false,
    );
}

fn windows(frames: &[F]) -> Vec<(u32, u32)> {
    frames
        .iter()
        .filter_map(|f| match f {
            F::Window { id, inc } => Some((*id, *inc)),
            _ => None,
        })
        .collect()
}

/// DATA frames of at most 10,000 bytes (below the default SETTINGS_MAX_FRAME_SIZE).
fn send(client: &mut Client, id: u32, mut len: usize) {
    while len > 0 {
        let n = len.min(10_000);
        client.data(id, &vec![1u8; n], false);
        len -= n;
    }
}

fn read_all(server: &mut Connection, id: StreamId) -> usize {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    while let Ok(n) = server.read_data(id, &mut buf) {
        if n == 0 {
            break;
        }
        total += n;
    }
    total
}

#[test]
fn reading_gives_no_credit_until_the_bytes_are_released() {
    let (mut server, mut client) = server();
    post(&mut client, 1);
    let chunk = vec![7u8; 10_000];
    for _ in 0..4 {
        client.data(1, &chunk, false);
    }
    exchange(&mut server, &mut client);
    assert_eq!(server.held_bytes(), 40_000, "buffered");
    let id = StreamId::new(1);
    assert_eq!(read_all(&mut server, id), 40_000);
    // Read, but still held by the stream side: no WINDOW_UPDATE.
    assert!(windows(&drain(&mut server, &mut client)).is_empty());
    assert_eq!(server.held_bytes(), 40_000, "read and not released");
    assert_eq!(server.unreleased(id), 40_000);
    // More than the window left would be a flow-control error: the windows bind.
    server.release_capacity(id, 10_000);
    assert!(
        windows(&drain(&mut server, &mut client)).is_empty(),
        "below half a window: credit is batched"
    );
    server.release_capacity(id, 1_000_000); // clamped to what is unreleased
    let w = windows(&drain(&mut server, &mut client));
    assert!(w.contains(&(0, 40_000)), "{w:?}");
    assert!(w.contains(&(1, 40_000)), "{w:?}");
    assert_eq!(server.held_bytes(), 0);
    assert_eq!(server.unreleased(id), 0);
}

#[test]
fn releasing_the_stream_gives_its_unreleased_bytes_back_to_the_connection() {
    let (mut server, mut client) = server();
    post(&mut client, 1);
    send(&mut client, 1, 40_000);
    exchange(&mut server, &mut client);
    let id = StreamId::new(1);
    let mut buf = [0u8; 30_000];
    assert_eq!(server.read_data(id, &mut buf), Ok(30_000));
    assert_eq!(server.held_bytes(), 40_000);
    server.release(id);
    let frames = drain(&mut server, &mut client);
    assert!(windows(&frames).contains(&(0, 40_000)), "{frames:?}");
    assert_eq!(server.held_bytes(), 0);
    // The peer may send on other streams with the credit.
    post(&mut client, 3);
    send(&mut client, 3, 60_000);
    let frames = exchange(&mut server, &mut client);
    assert!(
        !frames.iter().any(|f| matches!(f, F::GoAway { .. })),
        "{frames:?}"
    );
    assert_eq!(server.held_bytes(), 60_000);
}

#[test]
fn a_reset_stream_keeps_what_was_read_held_until_released() {
    let (mut server, mut client) = server();
    post(&mut client, 1);
    send(&mut client, 1, 20_000);
    exchange(&mut server, &mut client);
    let id = StreamId::new(1);
    let mut buf = [0u8; 5_000];
    assert_eq!(server.read_data(id, &mut buf), Ok(5_000));
    client.rst(1, ErrorCode::Cancel);
    exchange(&mut server, &mut client);
    // The 15,000 unread bytes are dropped at once; the 5,000 read are still held.
    assert_eq!(server.held_bytes(), 5_000);
    server.release(id);
    assert_eq!(server.held_bytes(), 0);
}

#[test]
fn refused_bodies_get_refused_stream_and_bodiless_requests_are_served() {
    let (mut server, mut client) = server();
    server.refuse_bodies(true);
    post(&mut client, 1);
    client.get(3, "/");
    let frames = exchange(&mut server, &mut client);
    assert!(
        frames.contains(&F::Rst {
            id: 1,
            code: ErrorCode::RefusedStream
        }),
        "{frames:?}"
    );
    let mut requests = Vec::new();
    while let Some(ev) = server.poll_event() {
        if let Event::Request { stream_id } = ev {
            requests.push(stream_id.value());
        }
    }
    assert_eq!(requests, [3]);
    server.refuse_bodies(false);
    post(&mut client, 5);
    exchange(&mut server, &mut client);
    assert!(matches!(
        server.poll_event(),
        Some(Event::Request { stream_id }) if stream_id.value() == 5
    ));
}

#[test]
fn default_mode_still_gives_credit_as_bytes_are_read() {
    let config = Config {
        initial_stream_window: 65_535,
        initial_connection_window: 65_535,
        ..Config::default()
    };
    let mut server = Connection::new(config);
    let mut client = Client::new();
    client.preface(&[]);
    exchange(&mut server, &mut client);
    post(&mut client, 1);
    send(&mut client, 1, 40_000);
    exchange(&mut server, &mut client);
    assert_eq!(read_all(&mut server, StreamId::new(1)), 40_000);
    let w = windows(&drain(&mut server, &mut client));
    // Credit goes out once half the window (32,767) was read.
    let conn: u32 = w.iter().filter(|(id, _)| *id == 0).map(|(_, n)| n).sum();
    assert!(conn >= 32_767, "{w:?}");
    assert_eq!(server.held_bytes(), 0);
}

#[test]
fn granted_connection_credit_opens_only_the_connection_window() {
    let (mut server, mut client) = server();
    post(&mut client, 1);
    send(&mut client, 1, 60_000);
    exchange(&mut server, &mut client);
    let id = StreamId::new(1);
    read_all(&mut server, id);
    assert_eq!(server.connection_recv_window(), 5_535);
    server.grant_connection_credit(20_000);
    let w = windows(&drain(&mut server, &mut client));
    assert_eq!(w, [(0, 20_000)]);
    assert_eq!(server.connection_recv_window(), 25_535);
    assert_eq!(server.held_bytes(), 60_000, "nothing released");
}

#[test]
fn a_grant_is_paid_back_by_later_releases() {
    let (mut server, mut client) = server();
    post(&mut client, 1);
    send(&mut client, 1, 60_000);
    exchange(&mut server, &mut client);
    let id = StreamId::new(1);
    read_all(&mut server, id);
    server.grant_connection_credit(20_000);
    drain(&mut server, &mut client);
    server.release_capacity(id, 60_000);
    let w = windows(&drain(&mut server, &mut client));
    // 60,000 released, 20,000 of them were advanced already.
    let conn: u32 = w.iter().filter(|(i, _)| *i == 0).map(|(_, n)| n).sum();
    assert_eq!(conn, 40_000, "{w:?}");
    assert_eq!(server.connection_recv_window(), 65_535);
}

#[test]
fn shrinking_the_stream_windows_takes_back_unused_credit_after_the_ack() {
    let (mut server, mut client) = server();
    post(&mut client, 1);
    send(&mut client, 1, 10_000);
    exchange(&mut server, &mut client);
    let id = StreamId::new(1);
    assert_eq!(server.stream_recv_window(id), 55_535);
    server.set_initial_stream_window(16_384);
    server.set_initial_stream_window(16_384); // asked already: nothing more is sent
    let frames = drain(&mut server, &mut client);
    let settings: Vec<_> = frames
        .iter()
        .filter(|f| matches!(f, F::Settings { ack: false, .. }))
        .collect();
    assert_eq!(
        settings,
        [&F::Settings {
            ack: false,
            entries: vec![(0x4, 16_384)]
        }]
    );
    assert!(server.window_change_pending());
    // Before the ACK the old window holds: the peer may still send what it had.
    send(&mut client, 1, 20_000);
    exchange(&mut server, &mut client);
    assert_eq!(server.stream_recv_window(id), 35_535);
    client.settings_ack();
    exchange(&mut server, &mut client);
    assert!(!server.window_change_pending());
    assert_eq!(server.stream_recv_window(id), 35_535 - (65_535 - 16_384));
    // More DATA now is a flow-control error on that stream.
    send(&mut client, 1, 10_000);
    let frames = exchange(&mut server, &mut client);
    assert!(
        frames.contains(&F::Rst {
            id: 1,
            code: ErrorCode::FlowControlError
        }),
        "{frames:?}"
    );
    // A new stream starts with the small window; a grant opens one stream alone.
    post(&mut client, 3);
    exchange(&mut server, &mut client);
    let id3 = StreamId::new(3);
    assert_eq!(server.stream_recv_window(id3), 16_384);
    server.grant_stream_credit(id3, 50_000);
    assert_eq!(windows(&drain(&mut server, &mut client)), [(3, 50_000)]);
    // Restored once the peer acknowledges.
    server.set_initial_stream_window(65_535);
    drain(&mut server, &mut client);
    client.settings_ack();
    exchange(&mut server, &mut client);
    assert_eq!(server.stream_recv_window(id3), 66_384 + 49_151);
}
