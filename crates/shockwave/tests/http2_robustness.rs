//! Robustness of the cleartext port's HTTP/2 detection and of the HTTP/2 counters, against
//! the full server (`shockwave::server::Server`) with raw sockets:
//!
//! - the first bytes of a cleartext connection must arrive within the header-read timeout
//!   (not the idle timeout, and not twice): a silent connection and one that sends part of
//!   the HTTP/2 preface and stops are closed by it (slowloris);
//! - a preface arriving in pieces is still HTTP/2, and a first request that only starts
//!   like the preface is still HTTP/1.1;
//! - streams the client cancels (RST_STREAM) are counted as cancelled requests, not as
//!   responses (the soak saw them as `400`s in `/stats`).
//!
//! Timeouts are configured at 200 ms against a 60 s idle timeout; every read is bounded.

mod http2_support;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use http2_support::{read_frames, Client, F};
use shockwave::server::routes::DefaultRoutes;
use shockwave::server::{Server, ServerHandle, ServerStats};
use shockwave_http2_frames::ErrorCode;

const HEADER_READ: Duration = Duration::from_millis(200);

fn start() -> ServerHandle {
    start_with_header_read(HEADER_READ)
}

/// Tests that pause between pieces of a valid request use a longer header-read timeout, so
/// a loaded machine's scheduling delays cannot turn them into timeout tests.
fn start_with_header_read(header_read: Duration) -> ServerHandle {
    Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .workers(1)
        .header_read_timeout(header_read)
        .idle_timeout(Duration::from_secs(60))
        .shutdown_grace(Duration::from_secs(2))
        .handle_signals(false)
        .start(DefaultRoutes::new())
        .unwrap()
}

fn connect(addr: SocketAddr) -> TcpStream {
    let sock = TcpStream::connect(addr).unwrap();
    // Far below the 60 s idle timeout: a connection still open then was not closed by
    // the header-read timeout.
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    sock.set_nodelay(true).unwrap();
    sock
}

/// Asserts the server closes `sock` without sending anything.
fn assert_closed_silently(sock: &mut TcpStream, what: &str) {
    let mut buf = [0u8; 256];
    match sock.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Ok(n) => panic!(
            "{what}: expected a close, got {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Err(e) => panic!("{what}: still open after 10 s: {e}"),
    }
}

/// The server's counters once `done` holds (they are published by the worker thread),
/// or after 2 s.
fn stats_when(h: &ServerHandle, done: impl Fn(&ServerStats) -> bool) -> ServerStats {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let s = h.stats();
        if done(&s) || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn partial_preface_is_closed_by_the_header_read_timeout() {
    let h = start();
    let mut sock = connect(h.local_addr());
    sock.write_all(b"PRI * HTTP/2.0\r\n").unwrap();
    assert_closed_silently(&mut sock, "partial preface");
    let stats = stats_when(&h, |s| s.timeouts == 1);
    assert_eq!(stats.timeouts, 1, "{stats:?}");
    assert_eq!(stats.requests, 0, "{stats:?}");
    h.stop().unwrap();
}

#[test]
fn silent_connection_is_closed_by_the_header_read_timeout() {
    let h = start();
    let mut sock = connect(h.local_addr());
    assert_closed_silently(&mut sock, "silent connection");
    let stats = stats_when(&h, |s| s.timeouts == 1);
    assert_eq!(stats.timeouts, 1, "{stats:?}");
    assert_eq!(stats.requests, 0, "{stats:?}");
    h.stop().unwrap();
}

#[test]
fn partial_preface_then_eof_is_closed_at_once() {
    let h = start();
    let mut sock = connect(h.local_addr());
    sock.write_all(b"PRI * HTTP/2.0\r\n\r\n").unwrap();
    sock.shutdown(Shutdown::Write).unwrap();
    assert_closed_silently(&mut sock, "partial preface + EOF");
    let stats = h.stats();
    assert_eq!(stats.requests, 0, "{stats:?}");
    h.stop().unwrap();
}

#[test]
fn preface_in_pieces_is_served_as_http2() {
    let h = start_with_header_read(Duration::from_secs(10));
    let mut sock = connect(h.local_addr());
    let mut c = Client::new();
    c.preface(&[]).settings_ack().get(1, "/");
    let bytes = c.take();
    // Three pieces, the first two inside the preface: the detection must wake up for
    // each of them (and must not take the pause for the end of the input).
    for piece in [&bytes[..5], &bytes[5..20], &bytes[20..]] {
        sock.write_all(piece).unwrap();
        std::thread::sleep(Duration::from_millis(30));
    }
    let frames = read_frames(&mut sock, &mut c, |f| {
        matches!(
            f,
            F::Data {
                id: 1,
                end_stream: true,
                ..
            }
        )
    });
    assert!(
        frames.iter().any(|f| f.status() == Some("200")),
        "{frames:?}"
    );
    h.stop().unwrap();
}

#[test]
fn request_starting_like_the_preface_is_served_as_http1() {
    let h = start_with_header_read(Duration::from_secs(10));
    let mut sock = connect(h.local_addr());
    // `P` matches the preface's first byte; `POST` does not.
    sock.write_all(b"P").unwrap();
    std::thread::sleep(Duration::from_millis(30));
    sock.write_all(
        b"OST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
    )
    .unwrap();
    let mut out = Vec::new();
    sock.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nhi"), "{text}");
    h.stop().unwrap();
}

fn send(sock: &mut TcpStream, c: &mut Client) {
    let bytes = c.take();
    sock.write_all(&bytes).unwrap();
}

fn response_on(id: u32) -> impl Fn(&F) -> bool {
    move |f| matches!(f, F::Data { id: i, end_stream: true, .. } if *i == id)
}

#[test]
fn cancelled_streams_are_not_counted_as_responses() {
    let h = start();
    let mut sock = connect(h.local_addr());
    let mut c = Client::new();
    c.preface(&[]).settings_ack();
    // Stream 1: an upload the handler is waiting for (`/echo` reads the whole body), then
    // cancelled by the client. The handler's read fails; its `400` must not be counted.
    c.headers(
        1,
        &[
            (":method", "POST"),
            (":scheme", "http"),
            (":path", "/echo"),
            (":authority", "localhost"),
            ("content-length", "100"),
        ],
        false,
    )
    .data(1, b"0123456789", false)
    .ping(*b"handler!");
    send(&mut sock, &mut c);
    read_frames(&mut sock, &mut c, |f| {
        matches!(f, F::Ping { ack: true, .. })
    });
    c.rst(1, ErrorCode::Cancel).get(3, "/");
    send(&mut sock, &mut c);
    let frames = read_frames(&mut sock, &mut c, response_on(3));
    assert!(
        !frames.iter().any(|f| matches!(f, F::Headers { id: 1, .. })),
        "{frames:?}"
    );
    // Stream 5: Rapid-Reset style, HEADERS and RST_STREAM in one write: the handler
    // answers at once, but the stream is gone before its response.
    c.get(5, "/").rst(5, ErrorCode::Cancel);
    send(&mut sock, &mut c);
    c.get(7, "/");
    send(&mut sock, &mut c);
    let frames = read_frames(&mut sock, &mut c, response_on(7));
    assert!(
        !frames.iter().any(|f| matches!(f, F::Headers { id: 5, .. })),
        "{frames:?}"
    );

    let stats = stats_when(&h, |s| s.requests_cancelled == 2);
    assert_eq!(stats.requests, 4, "{stats:?}");
    assert_eq!(stats.responses_by_class, [0, 2, 0, 0, 0], "{stats:?}");
    assert_eq!(stats.errors_with_status(400), 0, "{stats:?}");
    assert_eq!(stats.requests_cancelled, 2, "{stats:?}");
    assert!(
        stats.to_json().contains("\"requests_cancelled\":2"),
        "{}",
        stats.to_json()
    );
    drop(sock);
    h.stop().unwrap();
}

#[test]
fn shutdown_closes_a_connection_still_waiting_for_its_first_bytes() {
    // Header-read timeout and grace far above the read bound: only the shutdown signal
    // can close the connection in time.
    let h = Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .workers(1)
        .header_read_timeout(Duration::from_secs(60))
        .shutdown_grace(Duration::from_secs(60))
        .handle_signals(false)
        .start(DefaultRoutes::new())
        .unwrap();
    let mut silent = connect(h.local_addr());
    let mut partial = connect(h.local_addr());
    partial.write_all(b"PRI * HTTP/2.0\r\n").unwrap();
    // Both connections are accepted and waiting before the shutdown starts.
    stats_when(&h, |s| s.connections_active == 2);
    let stopper = std::thread::spawn(move || h.stop());
    assert_closed_silently(&mut silent, "silent connection at shutdown");
    assert_closed_silently(&mut partial, "partial preface at shutdown");
    stopper.join().unwrap().unwrap();
}

/// `ServerBuilder::http2` reaches the connections of the built-in server: the SETTINGS it
/// sends carry the configured MAX_CONCURRENT_STREAMS.
#[tokio::test]
async fn builder_http2_config_reaches_connections() {
    let h2cfg = shockwave::http2::Http2Config {
        max_concurrent_streams: 7,
        ..Default::default()
    };
    let handle = Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .workers(1)
        .http2(h2cfg)
        .handle_signals(false)
        .start(DefaultRoutes::new())
        .unwrap();
    let tcp = tokio::net::TcpStream::connect(handle.local_addr())
        .await
        .unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = http::Request::get(format!("http://{}/", handle.local_addr()))
        .body(())
        .unwrap();
    let mut c = client.ready().await.unwrap();
    let (resp, _) = c.send_request(req, true).unwrap();
    assert_eq!(resp.await.unwrap().status(), 200);
    assert_eq!(c.current_max_send_streams(), 7);
    handle.shutdown();
}
