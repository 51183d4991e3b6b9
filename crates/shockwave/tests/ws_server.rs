//! WebSocket over HTTP/1.1 through the server (RFC 6455, RFC 7692): `tokio-tungstenite`
//! as the client against the `/ws` echo route, raw frames for what a well-behaved client
//! never sends (fragments, unmasked frames, over-limit messages), the handshake
//! refusals (400, 426), the generic upgrade API, and Close 1001 on shutdown.

mod server_util;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use server_util::{builder, connect, read_response, roundtrip, stop};
use shockwave::server::routes::DefaultRoutes;
use shockwave::server::ws::{Message as ServerMessage, WebSocketConfig, WebSocketUpgrade};
use shockwave::server::{Handler, RequestContext, Response};
use shockwave_websocket::{CloseCode, Config, Connection, Message as WsMessage, OpCode, Role};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as TCloseCode;
use tokio_tungstenite::tungstenite::Message;

/// The default routes, `/small` (an echo whose messages may be 1 KiB at most) and
/// `/raw` (the generic upgrade API: `Upgrade: echo`, a byte echo).
struct Routes(DefaultRoutes);

impl Handler for Routes {
    async fn call<'a>(&'a self, cx: RequestContext<'a>) -> Response<'a> {
        match cx.path() {
            "/small" => match WebSocketUpgrade::from_request(&cx) {
                Ok(ws) => ws
                    .max_message_size(1024)
                    .on_upgrade(|mut socket| async move {
                        while let Some(Ok(m)) = socket.recv().await {
                            if socket.send(m).await.is_err() {
                                break;
                            }
                        }
                    }),
                Err(refusal) => refusal,
            },
            "/timers" => match WebSocketUpgrade::from_request(&cx) {
                Ok(ws) => {
                    let config = WebSocketConfig {
                        ping_interval: Some(Duration::from_millis(200)),
                        idle_timeout: Some(Duration::from_millis(800)),
                        close_timeout: Duration::from_millis(500),
                        ..WebSocketConfig::default()
                    };
                    ws.config(config).on_upgrade(|mut socket| async move {
                        while let Some(Ok(_)) = socket.recv().await {}
                    })
                }
                Err(refusal) => refusal,
            },
            "/flood" => match WebSocketUpgrade::from_request(&cx) {
                Ok(ws) => {
                    let config = WebSocketConfig {
                        write_timeout: Duration::from_millis(500),
                        deflate: None,
                        ..WebSocketConfig::default()
                    };
                    ws.config(config).on_upgrade(|mut socket| async move {
                        let chunk = bytes::Bytes::from(vec![7u8; 64 * 1024]);
                        let outcome = loop {
                            match socket.send(ServerMessage::Binary(chunk.clone())).await {
                                Ok(()) => {
                                    FLOOD_SENT.fetch_add(1, Ordering::SeqCst);
                                }
                                Err(e) => break e.to_string(),
                            }
                            if FLOOD_SENT.load(Ordering::SeqCst) > 100_000 {
                                break "never blocked".to_owned();
                            }
                        };
                        *FLOOD_END.lock().unwrap() = Some(outcome);
                    })
                }
                Err(refusal) => refusal,
            },
            "/raw" => {
                let accepted = cx.headers().get_str("upgrade") == Some("echo")
                    && cx.on_upgrade(|mut io| async move {
                        let mut buf = [0u8; 1024];
                        while let Ok(n @ 1..) = io.read(&mut buf).await {
                            if io.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    });
                if accepted {
                    Response::status_code(101).header("upgrade", "echo")
                } else {
                    Response::status_code(400)
                }
            }
            _ => self.0.call(cx).await,
        }
    }
}

static FLOOD_SENT: AtomicUsize = AtomicUsize::new(0);
static FLOOD_END: Mutex<Option<String>> = Mutex::new(None);

fn start() -> shockwave::server::ServerHandle {
    builder().start(Routes(DefaultRoutes::new())).unwrap()
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn upgrade_request(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// A raw connection after a successful handshake (checked), and the client codec.
fn raw_socket(addr: std::net::SocketAddr, path: &str) -> (std::net::TcpStream, Connection) {
    let mut s = connect(addr);
    s.write_all(upgrade_request(path, "").as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "head: {head:?}");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101 "), "{head}");
    // RFC 6455 §1.3's example key and accept value.
    assert!(
        head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    let client = Connection::new(Role::Client, Config::default()).with_mask_source(|| [7, 1, 2, 9]);
    (s, client)
}

/// Reads frames from `s` with `client` until one message comes (or the stream ends).
fn read_message(
    s: &mut std::net::TcpStream,
    client: &mut Connection,
    buf: &mut Vec<u8>,
) -> Option<(u8, Vec<u8>, u16)> {
    let mut assembly = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        if !buf.is_empty() {
            let d = client.decode(&mut buf[..], &mut assembly).ok()?;
            let consumed = d.consumed;
            let out = d.message.map(|m| match m {
                WsMessage::Text(t) => (1, t.as_bytes().to_vec(), 0),
                WsMessage::Binary(b) => (2, b.to_vec(), 0),
                WsMessage::Ping(b) => (9, b.to_vec(), 0),
                WsMessage::Pong(b) => (10, b.to_vec(), 0),
                WsMessage::Close { code, reason } => (8, reason.as_bytes().to_vec(), code.0),
            });
            buf.drain(..consumed);
            if out.is_some() {
                return out;
            }
        }
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn tungstenite_client_echoes_text_binary_64k_and_pings() {
    let h = start();
    let url = format!("ws://{}/ws", h.local_addr());
    let tcp = tokio::net::TcpStream::connect(h.local_addr())
        .await
        .unwrap();
    let (mut ws, response) = tokio_tungstenite::client_async(url, tcp).await.unwrap();
    assert_eq!(response.status(), 101);
    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hello"));
    ws.send(Message::binary(vec![0u8, 1, 2, 255]))
        .await
        .unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::binary(vec![0u8, 1, 2, 255])
    );
    let big: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
    ws.send(Message::binary(big.clone())).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::binary(big));
    ws.send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::Pong(b"are you there".to_vec().into())
    );
    // The close handshake: our code comes back, then the server closes the TCP stream.
    ws.close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
        code: TCloseCode::Library(4000),
        reason: "bye".into(),
    }))
    .await
    .unwrap();
    match ws.next().await {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 4000),
        other => panic!("expected the echoed close, got {other:?}"),
    }
    assert!(ws.next().await.is_none());
    drop(ws);
    stop(h);
}

#[test]
fn fragmented_messages_with_an_interleaved_ping_are_reassembled() {
    let h = start();
    let (mut s, mut client) = raw_socket(h.local_addr(), "/ws");
    let mut wire = Vec::new();
    client
        .encode_fragment(OpCode::Text, "frag".as_bytes(), false, &mut wire)
        .unwrap();
    client.encode_ping(b"mid", &mut wire).unwrap();
    client
        .encode_fragment(OpCode::Continuation, "ment€".as_bytes(), false, &mut wire)
        .unwrap();
    client
        .encode_fragment(OpCode::Continuation, b"ed", true, &mut wire)
        .unwrap();
    s.write_all(&wire).unwrap();
    let mut buf = Vec::new();
    assert_eq!(
        read_message(&mut s, &mut client, &mut buf),
        Some((10, b"mid".to_vec(), 0))
    );
    assert_eq!(
        read_message(&mut s, &mut client, &mut buf),
        Some((1, "fragment€ed".as_bytes().to_vec(), 0))
    );
    stop(h);
}

#[test]
fn an_unmasked_client_frame_is_closed_with_1002() {
    let h = start();
    let (mut s, mut client) = raw_socket(h.local_addr(), "/ws");
    // FIN + text, no mask bit: what a server must refuse (RFC 6455 §5.1).
    s.write_all(&[0x81, 0x02, b'h', b'i']).unwrap();
    let mut buf = Vec::new();
    let (op, _, code) = read_message(&mut s, &mut client, &mut buf).expect("a close frame");
    assert_eq!((op, code), (8, 1002));
    stop(h);
}

#[test]
fn an_over_limit_message_is_closed_with_1009() {
    let h = start();
    let (mut s, mut client) = raw_socket(h.local_addr(), "/small");
    let mut wire = Vec::new();
    client.encode_text("x", &mut wire).unwrap();
    s.write_all(&wire).unwrap();
    let mut buf = Vec::new();
    assert_eq!(
        read_message(&mut s, &mut client, &mut buf),
        Some((1, b"x".to_vec(), 0))
    );
    // 600 + 600 bytes in two fragments: each frame fits, the message does not.
    wire.clear();
    client
        .encode_fragment(OpCode::Binary, &[1; 600], false, &mut wire)
        .unwrap();
    client
        .encode_fragment(OpCode::Continuation, &[2; 600], true, &mut wire)
        .unwrap();
    s.write_all(&wire).unwrap();
    let (op, _, code) = read_message(&mut s, &mut client, &mut buf).expect("a close frame");
    assert_eq!((op, code), (8, CloseCode::MESSAGE_TOO_BIG.0));
    stop(h);
}

#[test]
fn bad_handshakes_get_400_and_426() {
    let h = start();
    let addr = h.local_addr();
    let no_key = "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Version: 13\r\n\r\n";
    assert_eq!(roundtrip(addr, no_key.as_bytes()).status, 400);
    let bad_key = upgrade_request("/ws", "").replace(KEY, "c2hvcnQ=");
    assert_eq!(roundtrip(addr, bad_key.as_bytes()).status, 400);
    let v8 = upgrade_request("/ws", "").replace("Version: 13", "Version: 8");
    let r = roundtrip(addr, v8.as_bytes());
    assert_eq!(r.status, 426);
    assert_eq!(r.header("sec-websocket-version"), Some("13"));
    // A plain GET of the route is not a handshake either.
    assert_eq!(
        roundtrip(addr, b"GET /ws HTTP/1.1\r\nHost: a\r\n\r\n").status,
        400
    );
    // HTTP/1.0 cannot be upgraded.
    let http10 = upgrade_request("/ws", "").replace("HTTP/1.1", "HTTP/1.0");
    assert_eq!(roundtrip(addr, http10.as_bytes()).status, 400);
    stop(h);
}

#[test]
fn the_generic_upgrade_hands_over_the_bytes_sent_with_the_request() {
    let h = start();
    let mut s = connect(h.local_addr());
    // The first bytes of the new protocol arrive in the same packet as the request.
    s.write_all(
        b"GET /raw HTTP/1.1\r\nHost: a\r\nUpgrade: echo\r\nConnection: upgrade\r\n\r\nearly",
    )
    .unwrap();
    let mut pending = Vec::new();
    let r = read_response(&mut s, &mut pending);
    assert_eq!(r.status, 101);
    assert_eq!(r.header("upgrade"), Some("echo"));
    assert_eq!(r.header("connection"), Some("upgrade"));
    let mut got = pending;
    let mut chunk = [0u8; 64];
    while got.len() < 5 {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(got, b"early");
    s.write_all(b" and later").unwrap();
    let mut later = [0u8; 10];
    s.read_exact(&mut later).unwrap();
    assert_eq!(&later, b" and later");
    // Without the Upgrade field the handler refuses, and the connection is HTTP as usual.
    assert_eq!(
        roundtrip(h.local_addr(), b"GET /raw HTTP/1.1\r\nHost: a\r\n\r\n").status,
        400
    );
    stop(h);
}

#[test]
fn shutdown_closes_open_sockets_with_1001() {
    let h = start();
    let (mut s, mut client) = raw_socket(h.local_addr(), "/ws");
    let mut wire = Vec::new();
    client.encode_text("before", &mut wire).unwrap();
    s.write_all(&wire).unwrap();
    let mut buf = Vec::new();
    assert_eq!(
        read_message(&mut s, &mut client, &mut buf),
        Some((1, b"before".to_vec(), 0))
    );
    let stopper = std::thread::spawn(move || stop(h));
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let (op, reason, code) = read_message(&mut s, &mut client, &mut buf).expect("a close frame");
    assert_eq!(
        (op, code),
        (8, 1001),
        "{:?}",
        String::from_utf8_lossy(&reason)
    );
    // Answer the close: the server ends the connection and stops well within its grace.
    wire.clear();
    client
        .encode_close(CloseCode::GOING_AWAY, "", &mut wire)
        .unwrap();
    let _ = s.write_all(&wire);
    stopper.join().unwrap();
}

#[test]
fn a_silent_peer_is_pinged_then_closed_with_1001() {
    let h = start();
    let (mut s, mut client) = raw_socket(h.local_addr(), "/timers");
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    // The client's codec would queue a pong; it is never written: the peer stays silent.
    assert_eq!(
        read_message(&mut s, &mut client, &mut buf),
        Some((9, Vec::new(), 0))
    );
    let (op, reason, code) = read_message(&mut s, &mut client, &mut buf).expect("a close frame");
    assert_eq!((op, code), (8, 1001));
    assert_eq!(reason, b"idle timeout");
    assert!(started.elapsed() >= Duration::from_millis(700));
    // No answer to the close either: the server ends the connection after its close timeout.
    let mut rest = [0u8; 16];
    assert_eq!(s.read(&mut rest).unwrap(), 0);
    stop(h);
}

#[test]
fn send_waits_for_a_peer_that_does_not_read_then_times_out() {
    let h = start();
    let (s, _client) = raw_socket(h.local_addr(), "/flood");
    // The peer reads nothing: sends stop once the socket buffers are full (back-pressure,
    // no unbounded queue), and the blocked send fails after the write timeout.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while FLOOD_END.lock().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the blocked send never timed out"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = FLOOD_SENT.load(Ordering::SeqCst);
    let end = FLOOD_END.lock().unwrap().clone().unwrap();
    eprintln!("sent {sent} messages of 64 KiB before blocking; {end}");
    assert!(end.contains("timeout"), "{end}");
    // 64 KiB each: what the kernel's socket buffers hold, far from the 100 000 cap.
    assert!(
        sent < 2000,
        "{sent} messages went out to a peer that reads nothing"
    );
    drop(s);
    stop(h);
}
