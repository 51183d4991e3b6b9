//! Cross-checks with tungstenite, in memory: what our client encodes a tungstenite
//! server reads, what a tungstenite client writes our server reads, and the control
//! frames each side answers with are understood by the other. Also the handshake's
//! accept key against tungstenite's.

mod common;

use std::io::{self, Cursor, Read, Write};

use common::*;
use shockwave_websocket::handshake::accept_key;
use shockwave_websocket::{CloseCode, Config, Connection, OpCode, Role};
use tungstenite::protocol::{Role as TRole, WebSocket};
use tungstenite::Message as TMessage;

/// A stream whose reads come from a fixed buffer and whose writes are collected.
struct Mem {
    input: Cursor<Vec<u8>>,
    output: Vec<u8>,
}

impl Read for Mem {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Mem {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn big() -> Vec<u8> {
    (0..70_000u32).map(|i| (i % 253) as u8).collect()
}

#[test]
fn a_tungstenite_server_reads_what_our_client_writes() {
    let mut client = Connection::new(Role::Client, Config::default());
    let mut wire = Vec::new();
    client.encode_text("hello κόσμε", &mut wire).unwrap();
    client.encode_binary(&big(), &mut wire).unwrap();
    client
        .encode_fragment(OpCode::Text, b"frag", false, &mut wire)
        .unwrap();
    client.encode_ping(b"between", &mut wire).unwrap();
    client
        .encode_fragment(OpCode::Continuation, b"ment", true, &mut wire)
        .unwrap();
    client.encode_binary(b"", &mut wire).unwrap();
    client
        .encode_close(CloseCode(4000), "done", &mut wire)
        .unwrap();

    let stream = Mem {
        input: Cursor::new(wire),
        output: Vec::new(),
    };
    let mut server = WebSocket::from_raw_socket(stream, TRole::Server, None);
    assert_eq!(server.read().unwrap(), TMessage::text("hello κόσμε"));
    assert_eq!(server.read().unwrap(), TMessage::binary(big()));
    assert_eq!(
        server.read().unwrap(),
        TMessage::Ping(b"between".to_vec().into())
    );
    assert_eq!(server.read().unwrap(), TMessage::text("fragment"));
    assert_eq!(server.read().unwrap(), TMessage::binary(Vec::new()));
    match server.read().unwrap() {
        TMessage::Close(Some(frame)) => {
            assert_eq!(u16::from(frame.code), 4000);
            assert_eq!(frame.reason.as_str(), "done");
        }
        other => panic!("{other:?}"),
    }
    let _ = server.flush();
    // tungstenite answered the ping and the close; our client reads both.
    let answer = server.get_ref().output.clone();
    assert_eq!(
        run(&mut client, &answer),
        vec![
            Ev::Pong(b"between".to_vec()),
            Ev::Close(4000, "done".into())
        ]
    );
    assert!(client.is_closed());
}

#[test]
fn our_server_reads_what_a_tungstenite_client_writes() {
    let stream = Mem {
        input: Cursor::new(Vec::new()),
        output: Vec::new(),
    };
    let mut tclient = WebSocket::from_raw_socket(stream, TRole::Client, None);
    tclient.send(TMessage::text("hi from tungstenite")).unwrap();
    tclient.send(TMessage::binary(big())).unwrap();
    tclient.send(TMessage::Ping(b"p".to_vec().into())).unwrap();
    tclient
        .send(TMessage::Close(Some(tungstenite::protocol::CloseFrame {
            code: tungstenite::protocol::frame::coding::CloseCode::Normal,
            reason: "bye".into(),
        })))
        .unwrap();
    let wire = tclient.get_ref().output.clone();
    // Every client frame is masked: our server accepts them, split anywhere.
    let mut server = Connection::new(Role::Server, Config::default());
    let cuts: Vec<usize> = (1..50).map(|i| i * wire.len() / 50).collect();
    let events = run_split(&mut server, &wire, &cuts);
    assert_eq!(
        events,
        vec![
            text("hi from tungstenite"),
            Ev::Binary(big()),
            Ev::Ping(b"p".to_vec()),
            Ev::SentPong(b"p".to_vec()),
            Ev::Close(1000, "bye".into()),
            Ev::SentClose(Some(1000)),
        ]
    );

    // And tungstenite reads our server's pong and close.
    let mut answer = Vec::new();
    let mut server = Connection::new(Role::Server, Config::default());
    server.encode_text("from shockwave", &mut answer).unwrap();
    server.encode_pong(b"p", &mut answer).unwrap();
    server
        .encode_close(CloseCode::NORMAL, "bye", &mut answer)
        .unwrap();
    tclient.get_mut().input = Cursor::new(answer);
    assert_eq!(tclient.read().unwrap(), TMessage::text("from shockwave"));
    assert_eq!(
        tclient.read().unwrap(),
        TMessage::Pong(b"p".to_vec().into())
    );
    assert!(matches!(tclient.read().unwrap(), TMessage::Close(Some(_))));
}

#[test]
fn a_tungstenite_client_refuses_masked_frames_from_our_client_role_inverted() {
    // Our client's masked frames sent to a tungstenite *client* are refused, as our
    // client refuses masked frames: both sides apply §5.1 the same way.
    let mut client = Connection::new(Role::Client, Config::default());
    let mut wire = Vec::new();
    client.encode_text("masked", &mut wire).unwrap();
    let stream = Mem {
        input: Cursor::new(wire.clone()),
        output: Vec::new(),
    };
    let mut other = WebSocket::from_raw_socket(stream, TRole::Client, None);
    assert!(other.read().is_err());
    let mut ours = Connection::new(Role::Client, Config::default());
    assert_eq!(run(&mut ours, &wire)[0], Ev::Fail(1002));
}

#[test]
fn the_accept_key_matches_tungstenites() {
    for key in ["dGhlIHNhbXBsZSBub25jZQ==", "x3JJHMbDL1EzLkh9GBhXDw=="] {
        assert_eq!(
            accept_key(key.as_bytes()).as_str(),
            tungstenite::handshake::derive_accept_key(key.as_bytes())
        );
    }
}
