//! Our HTTP/3 server against hand-written peers on raw quinn streams: error codes
//! (RFC 9114 §8, RFC 9204 §6), the QPACK dynamic table with a blocked stream, the header
//! size limit, and graceful shutdown with GOAWAY.

// HTTP/3 needs the `http3` feature.
#![cfg(feature = "http3")]

mod h3_support;

use std::time::Duration;

use h3_support::{control, quic_connect, request, stop};
use shockwave::http3::frame;
use shockwave::http3::qpack::Encoder;
use shockwave::http3::Http3Config;
use shockwave::server::{handler_fn, tls, Response, Server, ServerHandle};

fn start() -> (ServerHandle, tls::SelfSigned) {
    let cert = tls::self_signed(&["localhost"]).unwrap();
    let handler = handler_fn(async |mut cx| match cx.path() {
        "/dyn" => match cx.headers().get("x-dyn") {
            Some(v) => Response::ok().header("x-dyn-echo", v),
            None => Response::status_code(400),
        },
        "/body" => match cx.body().to_arena().await {
            Ok(b) => Response::ok().body(b),
            Err(e) => Response::new(e.status()),
        },
        _ => Response::text("ok"),
    });
    let h = Server::builder()
        .bind_h3("127.0.0.1:0".parse().unwrap())
        .tls(cert.config.clone())
        .workers(1)
        .shutdown_grace(Duration::from_secs(5))
        .handle_signals(false)
        .build()
        .start(handler)
        .unwrap();
    (h, cert)
}

async fn connect(h: &ServerHandle, cert: &tls::SelfSigned) -> (quinn::Endpoint, quinn::Connection) {
    quic_connect(h.local_addr(), cert, &Http3Config::default()).await
}

async fn close_code(conn: &quinn::Connection) -> u64 {
    match tokio::time::timeout(Duration::from_secs(5), conn.closed())
        .await
        .unwrap()
    {
        quinn::ConnectionError::ApplicationClosed(c) => c.error_code.into_inner(),
        other => panic!("unexpected close: {other}"),
    }
}

/// Reads a whole response stream; returns the raw bytes or the reset code.
async fn read_all(mut recv: quinn::RecvStream) -> Result<Vec<u8>, u64> {
    match recv.read_to_end(1 << 20).await {
        Ok(v) => Ok(v),
        Err(quinn::ReadToEndError::Read(quinn::ReadError::Reset(code))) => Err(code.into_inner()),
        Err(e) => panic!("read failed: {e}"),
    }
}

/// The `:status` of a raw response (first HEADERS frame, static-table encoded).
fn status_of(raw: &[u8]) -> u16 {
    let fields = fields_of(raw);
    let status = &fields.iter().find(|(n, _)| n == b":status").unwrap().1;
    std::str::from_utf8(status).unwrap().parse().unwrap()
}

/// The decoded fields of a raw response's first HEADERS frame.
fn fields_of(raw: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    use shockwave::arena::Arena;
    use shockwave::http3::qpack::{Decoder, DecoderConfig};
    use shockwave::http3::request::{RequestEvent, RequestStream};
    use shockwave::http3::stream::Role;
    let mut s = RequestStream::new(Role::Client);
    let (_, ev) = s.recv(raw).unwrap();
    let Some(RequestEvent::Headers(section)) = ev else {
        panic!("no HEADERS")
    };
    let arena = Arena::new();
    let section = arena.alloc_bytes(section).unwrap();
    let list = Decoder::new(DecoderConfig::default())
        .decode_section(0, section, &arena)
        .unwrap()
        .done()
        .unwrap();
    list.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect()
}

#[tokio::test]
async fn data_before_headers_is_frame_unexpected() {
    let (h, cert) = start();
    let (_ep, conn) = connect(&h, &cert).await;
    let _c = control(&conn).await;
    let (mut send, _recv) = conn.open_bi().await.unwrap();
    let mut w = Vec::new();
    frame::encode_data(b"x", &mut w).unwrap();
    send.write_all(&w).await.unwrap();
    send.finish().unwrap();
    assert_eq!(close_code(&conn).await, 0x105);
    stop(h).await;
}

#[tokio::test]
async fn bad_qpack_is_decompression_failed() {
    let (h, cert) = start();
    let (_ep, conn) = connect(&h, &cert).await;
    let _c = control(&conn).await;
    let (mut send, _recv) = conn.open_bi().await.unwrap();
    let mut w = Vec::new();
    // Required Insert Count 255: beyond 2 * MaxEntries.
    frame::encode_headers(&[0xff, 0x80, 0x00, 0xd1], &mut w).unwrap();
    send.write_all(&w).await.unwrap();
    send.finish().unwrap();
    assert_eq!(close_code(&conn).await, 0x200);
    stop(h).await;
}

#[tokio::test]
async fn malformed_request_is_message_error_and_big_headers_get_431() {
    let (h, cert) = start();
    let (_ep, conn) = connect(&h, &cert).await;
    let _c = control(&conn).await;
    // No :method.
    let (mut send, recv) = conn.open_bi().await.unwrap();
    let mut w = Vec::new();
    Encoder::new()
        .encode_headers_frame([(&b":path"[..], &b"/"[..]), (b":scheme", b"https")], &mut w)
        .unwrap();
    send.write_all(&w).await.unwrap();
    send.finish().unwrap();
    assert_eq!(read_all(recv).await, Err(0x10e));
    // Uppercase field name.
    let (mut send, recv) = conn.open_bi().await.unwrap();
    let mut w = Vec::new();
    frame::encode_headers(
        &{
            let mut s = Vec::new();
            Encoder::new().encode_section(
                [
                    (&b":method"[..], &b"GET"[..]),
                    (b":scheme", b"https"),
                    (b":authority", b"localhost"),
                    (b":path", b"/"),
                ],
                &mut s,
            );
            // Literal with literal name "X-A: b" (not Huffman): 0x2 | len 3.
            s.extend_from_slice(&[0x23, b'X', b'-', b'A', 0x01, b'b']);
            s
        },
        &mut w,
    )
    .unwrap();
    send.write_all(&w).await.unwrap();
    send.finish().unwrap();
    assert_eq!(read_all(recv).await, Err(0x10e));
    // A 20 KiB header section: 431 (the default limit is 16 KiB).
    let big = vec![b'a'; 20 * 1024];
    let (mut send, recv) = conn.open_bi().await.unwrap();
    send.write_all(&request("/", &[(b"x-big", &big)]))
        .await
        .unwrap();
    send.finish().unwrap();
    let raw = read_all(recv).await.unwrap();
    assert_eq!(status_of(&raw), 431);
    // The connection still serves requests.
    let (mut send, recv) = conn.open_bi().await.unwrap();
    send.write_all(&request("/", &[])).await.unwrap();
    send.finish().unwrap();
    assert_eq!(status_of(&read_all(recv).await.unwrap()), 200);
    stop(h).await;
}

#[tokio::test]
async fn control_stream_errors() {
    let (h, cert) = start();
    // First frame not SETTINGS.
    let (_ep, conn) = connect(&h, &cert).await;
    let mut s = conn.open_uni().await.unwrap();
    let mut buf = vec![0x00];
    frame::encode_goaway(0, &mut buf).unwrap();
    s.write_all(&buf).await.unwrap();
    assert_eq!(close_code(&conn).await, 0x10a);
    // A second control stream.
    let (_ep2, conn) = connect(&h, &cert).await;
    let _a = control(&conn).await;
    let _b = control(&conn).await;
    assert_eq!(close_code(&conn).await, 0x103);
    // Closing the control stream.
    let (_ep3, conn) = connect(&h, &cert).await;
    let mut c = control(&conn).await;
    c.finish().unwrap();
    assert_eq!(close_code(&conn).await, 0x104);
    stop(h).await;
}

#[tokio::test]
async fn reserved_streams_and_frames_are_ignored() {
    let (h, cert) = start();
    let (_ep, conn) = connect(&h, &cert).await;
    let _c = control(&conn).await;
    // A reserved stream type (0x21): the server stops reading it.
    let mut grease = conn.open_uni().await.unwrap();
    grease.write_all(&[0x40, 0x21, 1, 2, 3]).await.unwrap();
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), grease.stopped())
            .await
            .unwrap()
            .unwrap(),
        Some(quinn::VarInt::from_u32(0x103))
    );
    // Reserved frames around the request are skipped.
    let mut w = Vec::new();
    frame::encode_reserved(3, b"xyz", &mut w).unwrap();
    w.extend_from_slice(&request("/", &[]));
    frame::encode_reserved(7, b"", &mut w).unwrap();
    let (mut send, recv) = conn.open_bi().await.unwrap();
    send.write_all(&w).await.unwrap();
    send.finish().unwrap();
    assert_eq!(status_of(&read_all(recv).await.unwrap()), 200);
    stop(h).await;
}

#[tokio::test]
async fn qpack_dynamic_table_with_blocked_stream() {
    let (h, cert) = start();
    let (_ep, conn) = connect(&h, &cert).await;
    let _c = control(&conn).await;
    // A request referencing dynamic entry 0 before it exists: the stream blocks.
    let mut w = Vec::new();
    // Use /dyn as the path instead of "/": literal with static name ref 1 (:path).
    let mut section = vec![0x02, 0x00, 0xd1, 0xd7, 0x50, 0x09];
    section.extend_from_slice(b"localhost");
    section.extend_from_slice(&[0x51, 0x04]);
    section.extend_from_slice(b"/dyn");
    section.push(0x80);
    w.clear();
    frame::encode_headers(&section, &mut w).unwrap();
    let (mut send, recv) = conn.open_bi().await.unwrap();
    send.write_all(&w).await.unwrap();
    send.finish().unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Now the encoder stream: capacity 220, insert x-dyn: hello.
    let mut enc = conn.open_uni().await.unwrap();
    let mut buf = vec![0x02, 0x3f, 0xbd, 0x01, 0x45];
    buf.extend_from_slice(b"x-dyn");
    buf.push(0x05);
    buf.extend_from_slice(b"hello");
    enc.write_all(&buf).await.unwrap();
    let raw = read_all(recv).await.unwrap();
    assert_eq!(status_of(&raw), 200);
    let fields = fields_of(&raw);
    assert!(
        fields.contains(&(b"x-dyn-echo".to_vec(), b"hello".to_vec())),
        "x-dyn-echo missing: {fields:?}"
    );
    stop(h).await;
}

#[tokio::test]
async fn graceful_shutdown_sends_goaway_and_finishes_requests() {
    let (h, cert) = start();
    let (_ep, conn) = connect(&h, &cert).await;
    let _c = control(&conn).await;
    // A request whose body is still coming when the shutdown starts.
    let (mut send, recv) = conn.open_bi().await.unwrap();
    let mut head = request("/body", &[(b"content-length", b"5")]);
    head.truncate(head.len());
    send.write_all(&head).await.unwrap();
    // Server control stream: SETTINGS first, then (after the shutdown) GOAWAY.
    let mut server_control = conn.accept_uni().await.unwrap();
    let mut seen = Vec::new();
    let mut chunk = [0u8; 256];
    let n = server_control.read(&mut chunk).await.unwrap().unwrap();
    seen.extend_from_slice(&chunk[..n]);
    // Stop only once the server has accepted the request stream: a shutdown that starts
    // before would rightly send GOAWAY(0) and leave the stream unprocessed.
    let accepted_by = std::time::Instant::now() + Duration::from_secs(10);
    while h.stats().requests == 0 {
        assert!(
            std::time::Instant::now() < accepted_by,
            "the server never accepted the request stream"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stopper = std::thread::spawn(move || h.stop());
    // GOAWAY (type 0x07) with stream ID 4: stream 0 is processed, later ones are not.
    let goaway = [0x07, 0x01, 0x04];
    while !seen.windows(3).any(|w| w == goaway) {
        let n = tokio::time::timeout(Duration::from_secs(5), server_control.read(&mut chunk))
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.extend_from_slice(&chunk[..n]);
    }
    let mut body = Vec::new();
    frame::encode_data(b"hello", &mut body).unwrap();
    send.write_all(&body).await.unwrap();
    send.finish().unwrap();
    let raw = read_all(recv).await.unwrap();
    assert_eq!(status_of(&raw), 200);
    assert!(raw.ends_with(b"hello"));
    assert_eq!(close_code(&conn).await, 0x100);
    stopper.join().unwrap().unwrap();
}
