//! Two `Connection`s (client and server) talking through their unidirectional stream
//! bytes in memory, and every connection-level error case of RFC 9114 §5.2, §6.2, §7
//! and RFC 9204 §4 with its error code.

use std::time::Duration;

use shockwave_arena::Arena;
use shockwave_quic::connection::{Config, Connection, Event, LocalStream, UniAction};
use shockwave_quic::frame::{self, Settings};
use shockwave_quic::qpack::{Decoded, DecoderConfig, Encoder};
use shockwave_quic::request::{RequestEvent, RequestStream};
use shockwave_quic::stream::Role;
use shockwave_quic::{Error, ErrorCode};

/// The QUIC stream ID a role uses for one of its uni streams: client-initiated uni
/// streams are 2, 6, 10; server-initiated 3, 7, 11 (RFC 9000 §2.1).
fn uni_id(role: Role, stream: LocalStream) -> u64 {
    let base = match role {
        Role::Client => 2,
        Role::Server => 3,
    };
    let index = LocalStream::ALL.iter().position(|s| *s == stream).unwrap() as u64;
    base + 4 * index
}

/// Delivers `stream`'s pending bytes from `from` to `to`.
fn deliver(from: &mut Connection, to: &mut Connection, stream: LocalStream) -> Result<(), Error> {
    let bytes = from.pending(stream).to_vec();
    if !bytes.is_empty() {
        let action = to.recv_uni(uni_id(from.role(), stream), &bytes, false)?;
        assert_eq!(action, UniAction::Read);
        from.advance(stream, bytes.len());
    }
    Ok(())
}

/// Delivers every pending uni-stream byte from `from` to `to`.
fn deliver_all(from: &mut Connection, to: &mut Connection) -> Result<(), Error> {
    for s in LocalStream::ALL {
        deliver(from, to, s)?;
    }
    Ok(())
}

fn events(c: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

/// A client and a server that exchanged SETTINGS (events drained).
fn pair(client: Config, server: Config) -> (Connection, Connection) {
    let mut c = Connection::new(Role::Client, client);
    let mut s = Connection::new(Role::Server, server);
    deliver_all(&mut c, &mut s).unwrap();
    deliver_all(&mut s, &mut c).unwrap();
    assert!(matches!(events(&mut c)[..], [Event::PeerSettings(_)]));
    assert!(matches!(events(&mut s)[..], [Event::PeerSettings(_)]));
    (c, s)
}

fn dynamic_client() -> Config {
    Config {
        encoder_table_capacity: 4096,
        ..Config::default()
    }
}

/// The field section carried by a HEADERS frame.
fn section_of(frame: &[u8]) -> Vec<u8> {
    let mut stream = RequestStream::new(Role::Server);
    match stream.recv(frame).unwrap() {
        (_, Some(RequestEvent::Headers(s))) => s.to_vec(),
        other => panic!("{other:?}"),
    }
}

type Fields = Vec<(Vec<u8>, Vec<u8>)>;

fn decode(conn: &mut Connection, id: u64, section: &[u8]) -> Result<Option<Fields>, Error> {
    let mut out = Vec::new();
    match conn.decode_section_with(id, section, |n, v| out.push((n.to_vec(), v.to_vec())))? {
        Decoded::Done(()) => Ok(Some(out)),
        Decoded::Blocked => Ok(None),
    }
}

const REQUEST: [(&[u8], &[u8]); 6] = [
    (b":method", b"GET"),
    (b":scheme", b"https"),
    (b":authority", b"shockwave.example"),
    (b":path", b"/a/rather/long/path?with=query"),
    (b"user-agent", b"shockwave-test/1.0"),
    (b"x-request-tag", b"dynamic-table-entry"),
];

fn owned(fields: &[(&[u8], &[u8])]) -> Fields {
    fields
        .iter()
        .map(|(n, v)| (n.to_vec(), v.to_vec()))
        .collect()
}

#[test]
fn settings_exchange() {
    let server_config = Config {
        enable_connect_protocol: true,
        grease: Some(7),
        qpack: DecoderConfig {
            max_field_section_size: 1000,
            ..DecoderConfig::default()
        },
        ..Config::default()
    };
    let mut c = Connection::new(Role::Client, Config::default());
    let mut s = Connection::new(Role::Server, server_config);
    // Our control stream starts with its type and SETTINGS; the decoder stream with its
    // type; a static-only encoder opens no encoder stream.
    assert_eq!(c.pending(LocalStream::Control)[0], 0x00);
    assert_eq!(c.pending(LocalStream::QpackDecoder), [0x03]);
    assert!(c.pending(LocalStream::QpackEncoder).is_empty());
    assert!(c.peer_settings().is_none());

    // Byte by byte, the server's streams to the client.
    for stream in LocalStream::ALL {
        let bytes = s.pending(stream).to_vec();
        for b in &bytes {
            assert_eq!(
                c.recv_uni(uni_id(Role::Server, stream), std::slice::from_ref(b), false),
                Ok(UniAction::Read)
            );
        }
        s.advance(stream, bytes.len());
        assert!(s.pending(stream).is_empty());
    }
    let peer = *c.peer_settings().unwrap();
    assert_eq!(events(&mut c), [Event::PeerSettings(peer)]);
    assert!(peer.enable_connect_protocol);
    assert_eq!(peer.max_field_section_size, Some(1000));
    assert_eq!(peer, s.local_settings());
    assert!(c.peer_accepts_section(1000) && !c.peer_accepts_section(1001));

    deliver_all(&mut c, &mut s).unwrap();
    assert_eq!(
        events(&mut s),
        [Event::PeerSettings(Settings {
            qpack_max_table_capacity: 4096,
            qpack_blocked_streams: 16,
            max_field_section_size: Some(16 * 1024),
            ..Settings::default()
        })]
    );
    // Neither peer uses a dynamic table: no encoder stream opens.
    assert!(c.pending(LocalStream::QpackEncoder).is_empty());
    assert!(s.pending(LocalStream::QpackEncoder).is_empty());
}

#[test]
fn static_only_request_and_response() {
    let (mut c, mut s) = pair(Config::default(), Config::default());
    let mut wire = Vec::new();
    c.encode_headers_frame(0, REQUEST, &mut wire).unwrap();
    assert!(c.pending(LocalStream::QpackEncoder).is_empty());
    assert_eq!(
        decode(&mut s, 0, &section_of(&wire)).unwrap(),
        Some(owned(&REQUEST))
    );
    // A static-only section needs no acknowledgment: nothing on the decoder stream.
    assert!(s.pending(LocalStream::QpackDecoder).is_empty());

    wire.clear();
    let response: [(&[u8], &[u8]); 2] = [(b":status", b"200"), (b"content-type", b"text/plain")];
    let size = s.encode_headers_frame(0, response, &mut wire).unwrap();
    assert_eq!(size, 7 + 3 + 12 + 10 + 64);
    let arena = Arena::new();
    let section = section_of(&wire);
    let list = c
        .decode_section(0, &section, &arena)
        .unwrap()
        .done()
        .unwrap();
    assert_eq!(list.get(b":status"), Some(&b"200"[..]));
}

#[test]
fn dynamic_table_with_a_blocked_stream_and_acknowledgments() {
    let (mut c, mut s) = pair(dynamic_client(), Config::default());
    // The server's SETTINGS allowed a table: the client's encoder stream opened with
    // Set Dynamic Table Capacity.
    assert_eq!(c.pending(LocalStream::QpackEncoder)[0], 0x02);

    let mut wire = Vec::new();
    c.encode_headers_frame(0, REQUEST, &mut wire).unwrap();
    let first = section_of(&wire);
    let (inserted, known) = c.encoder_insert_counts();
    assert!(inserted >= 3, "new fields went into the table: {inserted}");
    assert_eq!(known, 0);

    // The request arrives before the encoder stream: blocked.
    assert_eq!(decode(&mut s, 0, &first).unwrap(), None);
    assert!(s.is_blocked(0));
    assert!(events(&mut s).is_empty());

    // The encoder stream arrives: the stream is unblocked.
    deliver(&mut c, &mut s, LocalStream::QpackEncoder).unwrap();
    assert_eq!(events(&mut s), [Event::StreamUnblocked(0)]);
    assert_eq!(s.decoder_insert_count(), inserted);
    assert_eq!(decode(&mut s, 0, &first).unwrap(), Some(owned(&REQUEST)));
    assert!(!s.is_blocked(0));

    // Insert Count Increment and Section Acknowledgment flow back.
    assert!(!s.pending(LocalStream::QpackDecoder).is_empty());
    deliver(&mut s, &mut c, LocalStream::QpackDecoder).unwrap();
    assert_eq!(c.encoder_insert_counts(), (inserted, inserted));

    // The same request again: all dynamic references, no new insertions, never blocks.
    wire.clear();
    c.encode_headers_frame(4, REQUEST, &mut wire).unwrap();
    let second = section_of(&wire);
    let mut literal = Vec::new();
    Encoder::new().encode_section(REQUEST, &mut literal);
    assert!(
        first.len() < literal.len() / 2,
        "{} vs {}",
        first.len(),
        literal.len()
    );
    assert!(second.len() <= first.len());
    assert_ne!(first, second, "relative instead of post-base indices");
    assert!(c.pending(LocalStream::QpackEncoder).is_empty());
    assert_eq!(decode(&mut s, 4, &second).unwrap(), Some(owned(&REQUEST)));
    deliver(&mut s, &mut c, LocalStream::QpackDecoder).unwrap();
    assert!(events(&mut c).is_empty());
    assert!(events(&mut s).is_empty());
}

#[test]
fn blocked_streams_limit_is_respected_by_the_encoder() {
    let server = Config {
        qpack: DecoderConfig {
            max_blocked_streams: 1,
            ..DecoderConfig::default()
        },
        ..Config::default()
    };
    let (mut c, mut s) = pair(dynamic_client(), server);
    let mut wire = Vec::new();
    c.encode_headers_frame(0, REQUEST, &mut wire).unwrap();
    let first = section_of(&wire);
    // A second stream may not block as well: it is decodable without the encoder stream.
    wire.clear();
    let other: [(&[u8], &[u8]); 2] = [(b":status", b"200"), (b"x-other", b"value")];
    c.encode_headers_frame(4, other, &mut wire).unwrap();
    assert_eq!(
        decode(&mut s, 4, &section_of(&wire)).unwrap(),
        Some(owned(&other))
    );
    assert_eq!(decode(&mut s, 0, &first).unwrap(), None);
    deliver(&mut c, &mut s, LocalStream::QpackEncoder).unwrap();
    assert_eq!(events(&mut s), [Event::StreamUnblocked(0)]);
    assert_eq!(decode(&mut s, 0, &first).unwrap(), Some(owned(&REQUEST)));
}

#[test]
fn a_blocked_stream_cancelled_releases_the_encoder() {
    let server = Config {
        qpack: DecoderConfig {
            max_blocked_streams: 1,
            ..DecoderConfig::default()
        },
        ..Config::default()
    };
    let (mut c, mut s) = pair(dynamic_client(), server);
    let mut wire = Vec::new();
    c.encode_headers_frame(0, REQUEST, &mut wire).unwrap();
    assert_eq!(decode(&mut s, 0, &section_of(&wire)).unwrap(), None);
    // The request stream is reset before its section could be decoded.
    s.cancel_stream(0);
    assert!(!s.is_blocked(0));
    deliver(&mut s, &mut c, LocalStream::QpackDecoder).unwrap();
    // The encoder forgot stream 0's section, so stream 4 may block again: with a new
    // field, stream 4 references an unacknowledged entry.
    wire.clear();
    let next: [(&[u8], &[u8]); 1] = [(b"x-next", b"one")];
    c.encode_headers_frame(4, next, &mut wire).unwrap();
    assert_eq!(decode(&mut s, 4, &section_of(&wire)).unwrap(), None);
    deliver(&mut c, &mut s, LocalStream::QpackEncoder).unwrap();
    assert_eq!(events(&mut s), [Event::StreamUnblocked(4)]);
    assert_eq!(
        decode(&mut s, 4, &section_of(&wire)).unwrap(),
        Some(owned(&next))
    );
}

#[test]
fn goaway_both_directions() {
    let (mut c, mut s) = pair(Config::default(), Config::default());
    assert!(s.accept_request(0));
    assert!(s.accept_request(4));
    // Server GOAWAY: the first request it did not accept.
    assert_eq!(s.send_goaway(), Ok(8));
    assert_eq!(s.goaway_sent(), Some(8));
    assert!(!s.accept_request(8), "rejected with H3_REQUEST_REJECTED");
    assert!(s.accept_request(4));
    deliver(&mut s, &mut c, LocalStream::Control).unwrap();
    assert_eq!(events(&mut c), [Event::GoAway(8)]);
    assert_eq!(c.goaway_received(), Some(8));
    assert!(c.may_open_request(4));
    assert!(!c.may_open_request(8));
    // A second, smaller GOAWAY is fine; a larger one is a local H3_ID_ERROR that does
    // not close the connection.
    assert_eq!(s.send_goaway_id(12).unwrap_err().code(), ErrorCode::IdError);
    assert_eq!(s.send_goaway_id(6).unwrap_err().code(), ErrorCode::IdError);
    s.send_goaway_id(4).unwrap();
    assert!(s.error().is_none());
    deliver(&mut s, &mut c, LocalStream::Control).unwrap();
    assert_eq!(events(&mut c), [Event::GoAway(4)]);

    // Client GOAWAY: a push ID (0: it allows no push).
    assert_eq!(c.send_goaway(), Ok(0));
    assert!(!c.may_open_request(0));
    deliver(&mut c, &mut s, LocalStream::Control).unwrap();
    assert_eq!(events(&mut s), [Event::GoAway(0)]);
    assert_eq!(s.goaway_received(), Some(0));
}

// ---- error cases ---------------------------------------------------------------------

fn settings_frame() -> Vec<u8> {
    let mut w = Vec::new();
    Settings::default().encode(None, &mut w).unwrap();
    w
}

/// Control stream bytes: type 0x00, then SETTINGS, then `more`.
fn control_with(more: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut w = vec![0x00];
    w.extend_from_slice(&settings_frame());
    more(&mut w);
    w
}

/// One peer uni stream: (QUIC stream ID, bytes, fin).
type Uni = (u64, Vec<u8>, bool);

/// Feeds the streams to a fresh connection of `role`; returns the first error.
fn run(role: Role, streams: Vec<Uni>) -> Result<(), Error> {
    let mut conn = Connection::new(role, Config::default());
    for (id, bytes, fin) in streams {
        conn.recv_uni(id, &bytes, fin)?;
    }
    Ok(())
}

#[test]
fn connection_errors_with_their_codes() {
    use ErrorCode::*;
    let push_from = |id: u64| (id, vec![0x01, 0x00], false);
    let cases: Vec<(&str, Role, Vec<Uni>, ErrorCode)> = vec![
        // RFC 9114 §6.2.1 / RFC 9204 §4.2: one of each critical stream.
        (
            "second control stream",
            Role::Server,
            vec![(2, control_with(|_| {}), false), (6, vec![0x00], false)],
            StreamCreationError,
        ),
        (
            "second encoder stream",
            Role::Server,
            vec![(2, vec![0x02], false), (6, vec![0x02], false)],
            StreamCreationError,
        ),
        (
            "second decoder stream",
            Role::Client,
            vec![(3, vec![0x03], false), (7, vec![0x03], false)],
            StreamCreationError,
        ),
        // RFC 9114 §6.2.2: only servers push.
        (
            "push stream from a client",
            Role::Server,
            vec![push_from(2)],
            StreamCreationError,
        ),
        // RFC 9114 §4.6: we never sent MAX_PUSH_ID.
        (
            "push stream without MAX_PUSH_ID",
            Role::Client,
            vec![push_from(3)],
            IdError,
        ),
        // Critical streams never close (RFC 9114 §6.2.1, RFC 9204 §4.2).
        (
            "control stream finished",
            Role::Server,
            vec![(2, control_with(|_| {}), true)],
            ClosedCriticalStream,
        ),
        (
            "control stream finished later",
            Role::Client,
            vec![(3, control_with(|_| {}), false), (3, vec![], true)],
            ClosedCriticalStream,
        ),
        (
            "encoder stream finished",
            Role::Server,
            vec![(2, vec![0x02], true)],
            ClosedCriticalStream,
        ),
        (
            "decoder stream finished",
            Role::Server,
            vec![(6, vec![0x03], false), (6, vec![], true)],
            ClosedCriticalStream,
        ),
        // RFC 9114 §6.2.1: SETTINGS first.
        (
            "GOAWAY before SETTINGS",
            Role::Client,
            vec![(
                3,
                {
                    let mut w = vec![0x00];
                    frame::encode_goaway(0, &mut w).unwrap();
                    w
                },
                false,
            )],
            MissingSettings,
        ),
        (
            "grease frame before SETTINGS",
            Role::Server,
            vec![(
                2,
                {
                    let mut w = vec![0x00];
                    frame::encode_reserved(1, b"", &mut w).unwrap();
                    w
                },
                false,
            )],
            MissingSettings,
        ),
        // RFC 9114 §7.2.4: SETTINGS content; §7: frames on the control stream.
        (
            "HTTP/2 setting",
            Role::Server,
            vec![(2, vec![0x00, 0x04, 0x02, 0x02, 0x00], false)],
            SettingsError,
        ),
        (
            "duplicate setting",
            Role::Server,
            vec![(2, vec![0x00, 0x04, 0x04, 0x06, 0x01, 0x06, 0x01], false)],
            SettingsError,
        ),
        (
            "second SETTINGS",
            Role::Server,
            vec![(
                2,
                control_with(|w| w.extend_from_slice(&settings_frame())),
                false,
            )],
            FrameUnexpected,
        ),
        (
            "DATA on the control stream",
            Role::Server,
            vec![(
                2,
                control_with(|w| frame::encode_data(b"x", w).unwrap()),
                false,
            )],
            FrameUnexpected,
        ),
        (
            "HEADERS on the control stream",
            Role::Client,
            vec![(
                3,
                control_with(|w| frame::encode_headers(b"\0\0", w).unwrap()),
                false,
            )],
            FrameUnexpected,
        ),
        (
            "HTTP/2 frame type on the control stream",
            Role::Server,
            vec![(
                2,
                control_with(|w| frame::write_header(0x06, 0, w).unwrap()),
                false,
            )],
            FrameUnexpected,
        ),
        (
            "MAX_PUSH_ID to a client",
            Role::Client,
            vec![(
                3,
                control_with(|w| frame::encode_max_push_id(1, w).unwrap()),
                false,
            )],
            FrameUnexpected,
        ),
        (
            "truncated GOAWAY",
            Role::Server,
            vec![(
                2,
                control_with(|w| w.extend_from_slice(&[0x07, 0x00])),
                false,
            )],
            FrameError,
        ),
        // RFC 9114 §5.2: GOAWAY identifiers.
        (
            "GOAWAY id increased",
            Role::Client,
            vec![(
                3,
                control_with(|w| {
                    frame::encode_goaway(4, w).unwrap();
                    frame::encode_goaway(8, w).unwrap();
                }),
                false,
            )],
            IdError,
        ),
        (
            "GOAWAY id increased across reads",
            Role::Server,
            vec![
                (
                    2,
                    control_with(|w| frame::encode_goaway(1, w).unwrap()),
                    false,
                ),
                (
                    2,
                    {
                        let mut w = Vec::new();
                        frame::encode_goaway(2, &mut w).unwrap();
                        w
                    },
                    false,
                ),
            ],
            IdError,
        ),
        (
            "server GOAWAY not a request stream",
            Role::Client,
            vec![(
                3,
                control_with(|w| frame::encode_goaway(2, w).unwrap()),
                false,
            )],
            IdError,
        ),
        // RFC 9204 §4.3: the peer's encoder stream.
        (
            "capacity above our maximum",
            Role::Server,
            vec![(
                2,
                {
                    let mut w = vec![0x02];
                    w.extend_from_slice(&[0x3f, 0xe2, 0x7f]);
                    w
                },
                false,
            )],
            QpackEncoderStreamError,
        ),
        (
            "insert into a zero-capacity table",
            Role::Server,
            vec![(2, vec![0x02, 0x41, b'a', 0x01, b'b'], false)],
            QpackEncoderStreamError,
        ),
        // RFC 9204 §4.4: the peer's decoder stream, to a static-only encoder.
        (
            "Section Acknowledgment for nothing",
            Role::Client,
            vec![(3, vec![0x03, 0x80], false)],
            QpackDecoderStreamError,
        ),
        (
            "Insert Count Increment for nothing",
            Role::Client,
            vec![(3, vec![0x03, 0x01], false)],
            QpackDecoderStreamError,
        ),
    ];
    for (name, role, streams, code) in cases {
        let err = run(role, streams).expect_err(name);
        assert_eq!(err.code(), code, "{name}: {err}");
        assert!(err.is_connection_error(), "{name}");
    }
}

#[test]
fn unknown_and_reserved_streams_are_ignored() {
    let mut s = Connection::new(Role::Server, Config::default());
    // Reserved type 0x21 and unknown 0x54: stop reading, no connection error.
    assert_eq!(
        s.recv_uni(2, &[0x21, 9, 9, 9], false),
        Ok(UniAction::Stop(ErrorCode::StreamCreationError))
    );
    assert_eq!(
        s.recv_uni(2, &[0x00, 0x04, 0x00], false),
        Ok(UniAction::Done)
    );
    assert_eq!(s.recv_uni(6, &[0x40, 0x54], true), Ok(UniAction::Done));
    // A stream reset or finished before its type arrived is tolerated (RFC 9114 §6.2).
    assert_eq!(s.recv_uni(10, &[], true), Ok(UniAction::Done));
    assert_eq!(s.recv_uni(14, &[0x40], false), Ok(UniAction::Read));
    assert_eq!(s.uni_reset(14), Ok(()));
    // The control stream still works afterwards.
    assert_eq!(
        s.recv_uni(18, &control_with(|_| {}), false),
        Ok(UniAction::Read)
    );
    assert!(matches!(events(&mut s)[..], [Event::PeerSettings(_)]));
    assert!(s.error().is_none());
}

#[test]
fn too_many_untyped_streams_is_excessive_load() {
    let config = Config {
        max_untyped_uni_streams: 8,
        ..Config::default()
    };
    let mut s = Connection::new(Role::Server, config);
    for i in 0..8 {
        assert_eq!(s.recv_uni(2 + 4 * i, &[0x40], false), Ok(UniAction::Read));
    }
    let e = s.recv_uni(34, &[0x40], false).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ExcessiveLoad);
}

#[test]
fn resetting_a_critical_stream() {
    let (mut c, mut s) = pair(Config::default(), Config::default());
    // The client's control stream is 2.
    assert_eq!(
        s.uni_reset(2).unwrap_err().code(),
        ErrorCode::ClosedCriticalStream
    );
    // The server's decoder stream is 11.
    assert_eq!(
        c.uni_reset(11).unwrap_err().code(),
        ErrorCode::ClosedCriticalStream
    );
}

#[test]
fn a_connection_error_is_reported_once_and_sticks() {
    let mut s = Connection::new(Role::Server, Config::default());
    let e = s.recv_uni(2, &[0x00, 0x07, 0x01, 0x00], false).unwrap_err();
    assert_eq!(e.code(), ErrorCode::MissingSettings);
    assert_eq!(events(&mut s), [Event::ConnectionError(e.clone())]);
    assert_eq!(s.error(), Some(&e));
    assert_eq!(s.recv_uni(6, &[0x02], false), Err(e.clone()));
    assert_eq!(s.send_goaway(), Err(e.clone()));
    assert!(!s.accept_request(0));
    let arena = Arena::new();
    assert_eq!(s.decode_section(0, &[0, 0], &arena).unwrap_err(), e);
    assert!(events(&mut s).is_empty());
}

#[test]
fn field_section_errors() {
    // A section referencing a dynamic table that has no entries and never can (capacity
    // 0): QPACK_DECOMPRESSION_FAILED closes the connection.
    let config = Config {
        qpack: DecoderConfig {
            max_table_capacity: 0,
            max_blocked_streams: 0,
            ..DecoderConfig::default()
        },
        ..Config::default()
    };
    let mut c = Connection::new(Role::Client, config);
    assert!(
        c.pending(LocalStream::QpackDecoder).is_empty(),
        "no decoder stream without a table"
    );
    let e = decode(&mut c, 0, &[0x02, 0x00, 0x80]).unwrap_err();
    assert_eq!(e.code(), ErrorCode::QpackDecompressionFailed);
    assert!(matches!(events(&mut c)[..], [Event::ConnectionError(_)]));

    // A section larger than our limit is a stream error: the connection stays open.
    let config = Config {
        qpack: DecoderConfig {
            max_field_section_size: 40,
            ..DecoderConfig::default()
        },
        ..Config::default()
    };
    let (mut c, mut s) = pair(Config::default(), config);
    let mut wire = Vec::new();
    c.encode_headers_frame(0, REQUEST, &mut wire).unwrap();
    let e = decode(&mut s, 0, &section_of(&wire)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ExcessiveLoad);
    assert!(!e.is_connection_error());
    assert!(s.error().is_none());
    assert!(events(&mut s).is_empty());
}

#[test]
fn a_connection_can_be_shared_across_threads() {
    // The multi-threaded client keeps it in an `Arc<Mutex<_>>`.
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Connection>();
    send_sync::<Event>();
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn field() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
        (
            prop_oneof![
                Just(b"x-a".to_vec()),
                Just(b"x-b".to_vec()),
                Just(b"content-type".to_vec()),
                "[a-z][a-z-]{0,12}".prop_map(String::into_bytes),
            ],
            prop_oneof![
                Just(b"v".to_vec()),
                Just(b"text/plain".to_vec()),
                "[ -~]{0,40}".prop_map(String::into_bytes),
            ],
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Random bytes on random peer uni streams: never a panic; an error is always a
        /// connection error, reported once and then returned by every call.
        #[test]
        fn random_uni_stream_bytes_never_panic(
            server in any::<bool>(),
            chunks in prop::collection::vec((0u64..6, prop::collection::vec(any::<u8>(), 0..24), any::<bool>()), 0..24),
        ) {
            let role = if server { Role::Server } else { Role::Client };
            let first = if server { 2 } else { 3 };
            let mut conn = Connection::new(role, Config::default());
            let mut failed = None;
            for (n, bytes, fin) in chunks {
                match conn.recv_uni(first + 4 * n, &bytes, fin) {
                    Ok(_) => prop_assert!(failed.is_none()),
                    Err(e) => {
                        prop_assert!(e.is_connection_error());
                        if let Some(prev) = &failed {
                            prop_assert_eq!(prev, &e);
                        }
                        failed = Some(e);
                    }
                }
            }
            let errors = events(&mut conn)
                .into_iter()
                .filter(|e| matches!(e, Event::ConnectionError(_)))
                .count();
            prop_assert_eq!(errors, usize::from(failed.is_some()));
        }

        /// Sections encoded with the dynamic table decode to the same fields, however
        /// the encoder stream is split and whether it arrives before or after them.
        #[test]
        fn dynamic_table_sections_round_trip(
            sets in prop::collection::vec(prop::collection::vec(field(), 1..6), 1..8),
            early in prop::collection::vec(any::<bool>(), 8),
            cut in any::<usize>(),
        ) {
            let (mut c, mut s) = pair(dynamic_client(), Config::default());
            for (i, set) in sets.iter().enumerate() {
                let id = 4 * i as u64;
                let mut wire = Vec::new();
                c.encode_headers_frame(id, set.iter().map(|(n, v)| (&n[..], &v[..])), &mut wire).unwrap();
                let section = section_of(&wire);
                let enc = c.pending(LocalStream::QpackEncoder).to_vec();
                c.advance(LocalStream::QpackEncoder, enc.len());
                let cut = cut % (enc.len() + 1);
                let feed = |s: &mut Connection| {
                    for part in [&enc[..cut], &enc[cut..]] {
                        s.recv_uni(uni_id(Role::Client, LocalStream::QpackEncoder), part, false).unwrap();
                    }
                };
                let got = if early[i] {
                    feed(&mut s);
                    decode(&mut s, id, &section).unwrap()
                } else {
                    match decode(&mut s, id, &section).unwrap() {
                        Some(f) => { feed(&mut s); Some(f) }
                        None => {
                            feed(&mut s);
                            prop_assert_eq!(events(&mut s), vec![Event::StreamUnblocked(id)]);
                            decode(&mut s, id, &section).unwrap()
                        }
                    }
                };
                prop_assert_eq!(got.as_ref(), Some(set));
                deliver(&mut s, &mut c, LocalStream::QpackDecoder).unwrap();
                prop_assert!(c.error().is_none() && s.error().is_none());
            }
            let (inserted, known) = c.encoder_insert_counts();
            prop_assert_eq!(inserted, known);
        }
    }
}

#[test]
fn secrets_and_cookies_never_enter_the_dynamic_table() {
    let (mut c, mut s) = pair(dynamic_client(), Config::default());
    let fields: [(&[u8], &[u8]); 3] = [
        (b"authorization", b"Bearer a-long-enough-secret-token"),
        (b"cookie", b"session=0123456789abcdef0123456789abcdef"),
        (b"x-public", b"fine"),
    ];
    let mut wire = Vec::new();
    c.encode_headers_frame(0, fields, &mut wire).unwrap();
    assert_eq!(c.encoder_insert_counts().0, 1, "only x-public");
    deliver(&mut c, &mut s, LocalStream::QpackEncoder).unwrap();
    assert_eq!(
        decode(&mut s, 0, &section_of(&wire)).unwrap(),
        Some(owned(&fields))
    );
}

/// A request head of `n` fields: the six of [`REQUEST`] and `n - 6` one-byte extras.
fn request_with_fields(n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut f: Vec<(Vec<u8>, Vec<u8>)> = REQUEST
        .iter()
        .map(|(a, b)| (a.to_vec(), b.to_vec()))
        .collect();
    f.extend((0..n - 6).map(|i| (format!("x-f{i}").into_bytes(), b"v".to_vec())));
    f
}

#[test]
fn the_field_count_of_a_section_is_capped() {
    assert_eq!(DecoderConfig::default().max_fields, 100);
    let (mut c, mut s) = pair(Config::default(), Config::default());
    // Exactly the cap: decoded.
    let mut wire = Vec::new();
    let at_cap = request_with_fields(100);
    c.encode_headers_frame(0, at_cap.iter().map(|(n, v)| (&n[..], &v[..])), &mut wire)
        .unwrap();
    let got = decode(&mut s, 0, &section_of(&wire)).unwrap().unwrap();
    assert_eq!(got.len(), 100);
    // One more: a stream error, answered like an oversized section; the connection
    // stays open.
    let mut wire = Vec::new();
    let over = request_with_fields(101);
    c.encode_headers_frame(4, over.iter().map(|(n, v)| (&n[..], &v[..])), &mut wire)
        .unwrap();
    let e = decode(&mut s, 4, &section_of(&wire)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ExcessiveLoad);
    assert!(!e.is_connection_error());
    assert!(s.error().is_none());
    assert!(events(&mut s).is_empty());
    // Later sections still decode.
    let mut wire = Vec::new();
    c.encode_headers_frame(8, REQUEST, &mut wire).unwrap();
    assert!(decode(&mut s, 8, &section_of(&wire)).unwrap().is_some());
}

#[test]
fn many_one_byte_static_references_hit_the_field_cap() {
    let mut d = shockwave_quic::qpack::Decoder::new(DecoderConfig {
        max_fields: 10,
        ..DecoderConfig::default()
    });
    // Prefix (RIC 0, Base 0), then 470 one-byte indexed static lines (`:method GET`),
    // far under the byte limit.
    let mut section = vec![0x00, 0x00];
    section.extend(std::iter::repeat_n(0xc0 | 17, 470));
    let mut seen = 0usize;
    let e = d
        .decode_section_with(0, &section, |_, _| seen += 1)
        .unwrap_err();
    assert!(matches!(
        e,
        shockwave_quic::qpack::QpackError::TooManyFields { limit: 10 }
    ));
    assert_eq!(seen, 10, "decoding stops at the cap");
}

// ---- budgets (RFC 9114 §10.5) ------------------------------------------------------

/// One clock reading for the budget tests; every other instant is derived from it.
fn t0() -> std::time::Instant {
    use std::sync::OnceLock;
    static T0: OnceLock<std::time::Instant> = OnceLock::new();
    *T0.get_or_init(std::time::Instant::now)
}

fn budget_server(max_aborted: u32, max_oversized: u32) -> Connection {
    Connection::new(
        Role::Server,
        Config {
            max_aborted_requests_per_window: max_aborted,
            max_oversized_sections_per_window: max_oversized,
            limit_window: Duration::from_secs(10),
            ..Config::default()
        },
    )
}

fn is_excessive_load(r: Result<(), Error>) -> bool {
    matches!(r, Err(e) if e.code() == ErrorCode::ExcessiveLoad && e.is_connection_error())
}

#[test]
fn aborted_requests_within_the_budget_are_fine_beyond_it_excessive_load() {
    let mut server = budget_server(5, 10);
    let t = t0();
    for i in 0..5 {
        server
            .request_aborted(t + Duration::from_millis(i))
            .unwrap();
    }
    assert!(is_excessive_load(
        server.request_aborted(t + Duration::from_millis(6))
    ));
    assert!(matches!(
        events(&mut server).as_slice(),
        [Event::ConnectionError(e)] if e.code() == ErrorCode::ExcessiveLoad
    ));
    // The connection is closed: every later call fails with the same error, and no new
    // request is accepted.
    assert!(is_excessive_load(
        server.request_aborted(t + Duration::from_secs(60))
    ));
    assert!(!server.accept_request(0));
}

#[test]
fn aborted_request_window_rolls_over_with_the_clock() {
    let mut server = budget_server(5, 10);
    let t = t0();
    // 5 per 10 s, for a minute: a peer that cancels now and then is never cut.
    for second in 0..60u64 {
        if second % 2 == 0 {
            server
                .request_aborted(t + Duration::from_secs(second))
                .unwrap();
        }
    }
    assert!(server.error().is_none());
    // A burst in one window is not.
    let later = t + Duration::from_secs(100);
    let cut = (0..100).position(|i| {
        server
            .request_aborted(later + Duration::from_millis(i))
            .is_err()
    });
    assert_eq!(cut, Some(5));
}

#[test]
fn default_budget_stops_a_reset_flood() {
    let mut server = Connection::new(Role::Server, Config::default());
    let t = t0();
    // 181,622 streams reset in 9 s is ~20 per ms: cut after the default 200.
    let cut = (0..181_622u64).position(|i| {
        server
            .request_aborted(t + Duration::from_micros(50 * i))
            .is_err()
    });
    assert_eq!(cut, Some(200));
}

#[test]
fn oversized_sections_are_counted_and_far_over_is_fatal_at_once() {
    let limit = DecoderConfig::default().max_field_section_size;
    let t = t0();
    let mut server = budget_server(200, 3);
    for i in 0..3 {
        server
            .oversized_section(limit + 1, t + Duration::from_millis(i))
            .unwrap();
    }
    assert!(is_excessive_load(
        server.oversized_section(limit + 1, t + Duration::from_millis(4))
    ));

    // 4 × the limit is still counted; beyond it the connection ends at the first one.
    let mut server = budget_server(200, 3);
    server.oversized_section(4 * limit, t).unwrap();
    assert!(is_excessive_load(
        server.oversized_section(4 * limit + 1, t)
    ));

    // A window later the count starts again.
    let mut server = budget_server(200, 3);
    for second in 0..40u64 {
        server
            .oversized_section(limit + 1, t + Duration::from_secs(second * 4))
            .unwrap();
    }
    assert!(server.error().is_none());
}
