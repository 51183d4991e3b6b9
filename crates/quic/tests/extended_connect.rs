//! CONNECT (RFC 9114 §4.4) and extended CONNECT (RFC 9220) between two in-memory
//! `Connection`s: SETTINGS_ENABLE_CONNECT_PROTOCOL both ways, the `:protocol` rules on
//! the server (only with CONNECT, only when advertised), plain CONNECT's pseudo-header
//! rules, and a tunnel's DATA frames both ways on the request stream.

use shockwave_arena::Arena;
use shockwave_quic::connection::{Config, Connection, Event, LocalStream};
use shockwave_quic::frame;
use shockwave_quic::qpack::Decoded;
use shockwave_quic::request::{RequestEvent, RequestStream};
use shockwave_quic::stream::Role;
use shockwave_quic::{Error, ErrorCode, Scope};

const STREAM: u64 = 0;

fn uni_id(role: Role, stream: LocalStream) -> u64 {
    let base = match role {
        Role::Client => 2,
        Role::Server => 3,
    };
    base + 4 * LocalStream::ALL.iter().position(|s| *s == stream).unwrap() as u64
}

fn deliver_all(from: &mut Connection, to: &mut Connection) -> Result<(), Error> {
    for s in LocalStream::ALL {
        let bytes = from.pending(s).to_vec();
        if !bytes.is_empty() {
            to.recv_uni(uni_id(from.role(), s), &bytes, false)?;
            from.advance(s, bytes.len());
        }
    }
    Ok(())
}

fn enabled() -> Config {
    Config {
        enable_connect_protocol: true,
        ..Config::default()
    }
}

/// A client and a server that exchanged SETTINGS.
fn pair(client: Config, server: Config) -> (Connection, Connection) {
    let mut c = Connection::new(Role::Client, client);
    let mut s = Connection::new(Role::Server, server);
    deliver_all(&mut c, &mut s).unwrap();
    deliver_all(&mut s, &mut c).unwrap();
    while c.poll_event().is_some() {}
    while s.poll_event().is_some() {}
    (c, s)
}

const WEBSOCKET: [(&[u8], &[u8]); 6] = [
    (b":method", b"CONNECT"),
    (b":protocol", b"websocket"),
    (b":scheme", b"https"),
    (b":path", b"/chat?room=1"),
    (b":authority", b"example.com"),
    (b"sec-websocket-version", b"13"),
];

/// The method, `:protocol` and `:path` the server's checks returned.
type Head = (Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>);

/// The client encodes `fields` on request stream 0; the server decodes and validates
/// them with its connection (the `:protocol` rule needs its SETTINGS).
fn send_request(
    client: &mut Connection,
    server: &mut Connection,
    fields: &[(&[u8], &[u8])],
) -> Result<Head, Error> {
    let mut wire = Vec::new();
    client
        .encode_headers_frame(STREAM, fields.iter().copied(), &mut wire)
        .unwrap();
    let mut stream = RequestStream::new(Role::Server);
    let (n, ev) = stream.recv(&wire).unwrap();
    assert_eq!(n, wire.len());
    let Some(RequestEvent::Headers(section)) = ev else {
        panic!("{ev:?}")
    };
    let arena = Arena::new();
    let section = arena.alloc_bytes(section).unwrap();
    let Decoded::Done(list) = server.decode_section(STREAM, section, &arena).unwrap() else {
        panic!("blocked")
    };
    let head = server.validate_request(list.iter())?;
    Ok((
        head.method.to_vec(),
        head.protocol.map(<[u8]>::to_vec),
        head.path.map(<[u8]>::to_vec),
    ))
}

fn assert_message_error(r: Result<impl std::fmt::Debug, Error>) {
    let e = r.unwrap_err();
    assert_eq!(e.code(), ErrorCode::MessageError, "{e}");
    assert_eq!(e.scope(), Scope::Stream, "{e}");
}

#[test]
fn settings_enable_connect_protocol_both_ways() {
    // Only the server advertises it.
    let (client, server) = pair(Config::default(), enabled());
    assert!(client.peer_enables_connect_protocol());
    assert!(client.check_extended_connect().is_ok());
    assert!(!server.peer_enables_connect_protocol());
    assert!(server.local_settings().enable_connect_protocol);
    assert!(!client.local_settings().enable_connect_protocol);
    // Neither does.
    let (client, _) = pair(Config::default(), Config::default());
    assert!(!client.peer_enables_connect_protocol());
    assert_message_error(client.check_extended_connect());
    // The client advertises it: the server sees it.
    let (_, server) = pair(enabled(), Config::default());
    assert!(server.peer_enables_connect_protocol());
}

#[test]
fn client_waits_for_the_servers_settings() {
    let client = Connection::new(Role::Client, Config::default());
    assert!(!client.peer_enables_connect_protocol());
    assert_message_error(client.check_extended_connect());
}

#[test]
fn enable_connect_protocol_other_than_0_or_1_is_a_settings_error() {
    let mut server = Connection::new(Role::Server, enabled());
    // Control stream type 0x00, SETTINGS (0x04) of 2 bytes: id 0x08 = 2.
    let e = server.recv_uni(2, &[0x00, 0x04, 0x02, 0x08, 0x02], false);
    let e = e.unwrap_err();
    assert_eq!(e.code(), ErrorCode::SettingsError);
    assert!(e.is_connection_error());
    assert!(matches!(
        server.poll_event(),
        Some(Event::ConnectionError(_))
    ));
}

#[test]
fn extended_connect_is_accepted_when_advertised() {
    let (mut client, mut server) = pair(Config::default(), enabled());
    let (method, protocol, path) = send_request(&mut client, &mut server, &WEBSOCKET).unwrap();
    assert_eq!(method, b"CONNECT");
    assert_eq!(protocol.as_deref(), Some(&b"websocket"[..]));
    assert_eq!(path.as_deref(), Some(&b"/chat?room=1"[..]));
}

#[test]
fn extended_connect_without_the_setting_is_a_message_error() {
    let (mut client, mut server) = pair(Config::default(), Config::default());
    assert_message_error(send_request(&mut client, &mut server, &WEBSOCKET));
    // A stream error: the connection goes on.
    assert!(server.error().is_none());
    let plain: [(&[u8], &[u8]); 2] = [(b":method", b"CONNECT"), (b":authority", b"a:443")];
    assert!(send_request(&mut client, &mut server, &plain).is_ok());
}

#[test]
fn protocol_rules() {
    let (mut client, mut server) = pair(Config::default(), enabled());
    // `:protocol` with another method.
    let mut get = WEBSOCKET;
    get[0].1 = b"GET";
    assert_message_error(send_request(&mut client, &mut server, &get));
    // An empty or non-token `:protocol`.
    for bad in [&b""[..], b"web socket", b"ws/1"] {
        let mut f = WEBSOCKET;
        f[1].1 = bad;
        assert_message_error(send_request(&mut client, &mut server, &f));
    }
    // Extended CONNECT needs `:scheme` and `:path` (RFC 8441 §4).
    let no_path: Vec<_> = WEBSOCKET
        .iter()
        .filter(|f| f.0 != b":path")
        .copied()
        .collect();
    assert_message_error(send_request(&mut client, &mut server, &no_path));
    let no_scheme: Vec<_> = WEBSOCKET
        .iter()
        .filter(|f| f.0 != b":scheme")
        .copied()
        .collect();
    assert_message_error(send_request(&mut client, &mut server, &no_scheme));
    // Another protocol than websocket is the application's to refuse, not a malformed
    // request.
    let mut other = WEBSOCKET;
    other[1].1 = b"connect-udp";
    let (_, protocol, _) = send_request(&mut client, &mut server, &other).unwrap();
    assert_eq!(protocol.as_deref(), Some(&b"connect-udp"[..]));
    assert!(server.error().is_none());
}

#[test]
fn plain_connect_rules() {
    let (mut client, mut server) = pair(Config::default(), enabled());
    let ok: [(&[u8], &[u8]); 2] = [(b":method", b"CONNECT"), (b":authority", b"a.example:443")];
    let (method, protocol, path) = send_request(&mut client, &mut server, &ok).unwrap();
    assert_eq!((method, protocol, path), (b"CONNECT".to_vec(), None, None));
    let with_path: [(&[u8], &[u8]); 3] = [
        (b":method", b"CONNECT"),
        (b":authority", b"a.example:443"),
        (b":path", b"/"),
    ];
    assert_message_error(send_request(&mut client, &mut server, &with_path));
    let with_scheme: [(&[u8], &[u8]); 3] = [
        (b":method", b"CONNECT"),
        (b":scheme", b"https"),
        (b":authority", b"a.example:443"),
    ];
    assert_message_error(send_request(&mut client, &mut server, &with_scheme));
    let no_authority: [(&[u8], &[u8]); 1] = [(b":method", b"CONNECT")];
    assert_message_error(send_request(&mut client, &mut server, &no_authority));
}

/// After the 200, tunnel bytes travel in DATA frames both ways; the FIN ends each
/// direction cleanly and a HEADERS frame after the response is trailers (which a tunnel
/// driver refuses with H3_FRAME_UNEXPECTED, RFC 9114 §4.4).
#[test]
fn tunnel_data_both_ways() {
    let (mut client, mut server) = pair(Config::default(), enabled());
    send_request(&mut client, &mut server, &WEBSOCKET).unwrap();
    // Server → client: 200, then DATA.
    let mut down = Vec::new();
    let ok: [(&[u8], &[u8]); 1] = [(b":status", b"200")];
    server
        .encode_headers_frame(STREAM, ok.iter().copied(), &mut down)
        .unwrap();
    frame::encode_data(b"\x81\x05hello", &mut down).unwrap();
    let mut at_client = RequestStream::new(Role::Client);
    let mut input = &down[..];
    let mut got = Vec::new();
    while let (n, Some(ev)) = at_client.recv(input).unwrap() {
        got.push(format!("{ev:?}"));
        input = &input[n..];
    }
    assert_eq!(got.len(), 2);
    assert!(got[1].contains("Data"), "{got:?}");
    at_client.finish().unwrap();
    // Client → server: DATA after the request HEADERS (already consumed).
    let mut up = Vec::new();
    frame::encode_data(b"\x81\x85abcd\x09\x07\x0f\x08\x0e", &mut up).unwrap();
    let mut at_server = RequestStream::new(Role::Server);
    let mut head = Vec::new();
    client
        .encode_headers_frame(STREAM, WEBSOCKET.iter().copied(), &mut head)
        .unwrap();
    head.extend_from_slice(&up);
    let (n, ev) = at_server.recv(&head).unwrap();
    assert!(matches!(ev, Some(RequestEvent::Headers(_))));
    let (_, ev) = at_server.recv(&head[n..]).unwrap();
    assert_eq!(
        ev,
        Some(RequestEvent::Data(&b"\x81\x85abcd\x09\x07\x0f\x08\x0e"[..]))
    );
    at_server.finish().unwrap();
}
