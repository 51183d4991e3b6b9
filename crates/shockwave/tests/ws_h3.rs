//! WebSocket over HTTP/3 (RFC 9220) and HTTP/3 CONNECT tunnels (RFC 9114 §4.4), our
//! client against our server over loopback UDP: echo of text, binary and large messages
//! with and without permessage-deflate, close codes both ways, Close 1001 on server
//! shutdown, a plain CONNECT byte tunnel; aioquic (python) speaking the RFC 9220
//! handshake and a masked frame in DATA frames by hand; and the bad input: extended
//! CONNECT to a server that did not advertise it, another `:protocol`, a plain CONNECT
//! with `:path`, trailers on a tunnel.

// HTTP/3 needs the `http3` feature.
#![cfg(feature = "http3")]

mod h3_support;
mod server_util;
mod ws_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use server_util::{require_python_modules, stop};
use shockwave::client::{Client, Http3ConnectRequest};
use shockwave::http3::qpack::Encoder;
use shockwave::http3::Http3Config;
use shockwave::server::routes::DefaultRoutes;
use shockwave::server::ws::{CloseCode, Message, WebSocketConfig, WebSocketUpgrade};
use shockwave::server::{
    tls, Handler, MinDataRate, RequestContext, Response, Server, ServerHandle,
};
use shockwave::websocket::WebSocketError;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use ws_support::{close_frame, echo};

/// H3_MESSAGE_ERROR (RFC 9114 §8.1).
const H3_MESSAGE_ERROR: u64 = 0x10e;
/// H3_FRAME_UNEXPECTED.
const H3_FRAME_UNEXPECTED: u64 = 0x105;

/// The default routes (`/ws` echo), `/bye` (closes with 4001 after the first message)
/// and a plain CONNECT to `echo.example:7` (a byte echo tunnel).
struct Routes(DefaultRoutes);

impl Handler for Routes {
    async fn call<'a>(&'a self, cx: RequestContext<'a>) -> Response<'a> {
        let plain_connect = *cx.method() == http::Method::CONNECT && cx.protocol().is_none();
        if plain_connect && cx.path() == "panic.example:1" {
            let ok = cx.on_upgrade(|mut io| async move {
                let mut byte = [0u8; 1];
                let _ = io.read(&mut byte).await;
                panic!("tunnel callback panic on purpose");
            });
            return Response::status_code(if ok { 200 } else { 500 });
        }
        if plain_connect && cx.path() == "sink.example:9" {
            // Holds the tunnel without reading it.
            let ok = cx.on_upgrade(|io| async move {
                tokio::time::sleep(Duration::from_secs(3)).await;
                drop(io);
            });
            return Response::status_code(if ok { 200 } else { 500 });
        }
        if plain_connect {
            if cx.path() != "echo.example:7" {
                return Response::status_code(403);
            }
            let ok = cx.on_upgrade(|mut io| async move {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = io.read(&mut buf).await {
                    if io.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
                let _ = io.shutdown().await;
            });
            return Response::status_code(if ok { 200 } else { 500 });
        }
        match cx.path() {
            "/bye" => match WebSocketUpgrade::from_request(&cx) {
                Ok(ws) => ws.on_upgrade(|mut socket| async move {
                    if let Some(Ok(_)) = socket.recv().await {
                        let _ = socket.close(CloseCode(4001), "bye").await;
                    }
                    while let Some(Ok(_)) = socket.recv().await {}
                }),
                Err(refusal) => refusal,
            },
            _ => self.0.call(cx).await,
        }
    }
}

/// A server whose request bodies may be 4 KiB at most and must arrive at 1 MB/s after
/// 200 ms: neither applies to tunnels, which 600 KB messages and idle pauses cross.
fn start(config: Http3Config) -> (ServerHandle, tls::SelfSigned) {
    let cert = tls::self_signed(&["localhost"]).unwrap();
    let handle = Server::builder()
        .bind_h3("127.0.0.1:0".parse().unwrap())
        .tls(cert.config.clone())
        .http3(config)
        .max_body_size(4096)
        .min_request_body_rate(Some(MinDataRate {
            bytes_per_second: 1_000_000,
            grace: Duration::from_millis(200),
        }))
        .workers(1)
        .shutdown_grace(Duration::from_secs(5))
        .handle_signals(false)
        .build()
        .start(Routes(DefaultRoutes::new()))
        .unwrap();
    (handle, cert)
}

fn client(cert: &tls::SelfSigned) -> Client {
    Client::builder()
        .http3()
        .tls_config(Arc::new(cert.client_config().unwrap()))
        .build()
        .unwrap()
}

/// `Client::websocket_request(url).version(HTTP_3).open()`: RFC 9220.
async fn ws3(
    client: &Client,
    url: &str,
) -> Result<shockwave::websocket::WebSocket, WebSocketError> {
    client
        .websocket_request(url)
        .version(http::Version::HTTP_3)
        .open()
        .await
}

fn url(h: &ServerHandle, path: &str) -> String {
    format!("wss://localhost:{}{path}", h.local_addr().port())
}

/// The server's `https://` origin (with a trailing `/`).
fn origin(h: &ServerHandle) -> String {
    format!("https://localhost:{}/", h.local_addr().port())
}

/// A plain CONNECT (RFC 9114 §4.4) to `authority`.
fn plain_connect(authority: &str) -> Http3ConnectRequest<'_> {
    Http3ConnectRequest {
        authority,
        protocol: None,
        path: "",
        headers: &[],
    }
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_text_binary_and_large_messages_with_deflate() {
    let (h, cert) = start(Http3Config::default());
    let client = client(&cert);
    let mut ws = ws3(&client, &url(&h, "/ws")).await.unwrap();
    assert!(
        ws.is_compressed(),
        "permessage-deflate negotiated over HTTP/3"
    );
    assert_eq!(
        echo(&mut ws, Message::text("hello h3")).await,
        Message::text("hello h3")
    );
    let bin = Message::binary(vec![0u8, 1, 2, 255]);
    assert_eq!(echo(&mut ws, bin.clone()).await, bin);
    // 600 KB: many DATA frames both ways, well over one QUIC packet and window update.
    let large = Message::binary(pattern(600_000));
    assert_eq!(echo(&mut ws, large.clone()).await, large);
    let text = "é".repeat(200_000);
    assert_eq!(
        echo(&mut ws, Message::text(text.clone())).await,
        Message::text(text)
    );
    ws.close(CloseCode::NORMAL, "done").await.unwrap();
    assert!(ws.is_closed());
    // The stream was the pooled connection's: it serves further WebSockets.
    assert_eq!(client.http3_connections(&origin(&h)), 1);
    let mut again = ws3(&client, &url(&h, "/ws")).await.unwrap();
    assert_eq!(
        echo(&mut again, Message::text("2")).await,
        Message::text("2")
    );
    again.close(CloseCode::NORMAL, "").await.unwrap();
    stop(h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_without_deflate() {
    let (h, cert) = start(Http3Config::default());
    let config = WebSocketConfig {
        deflate: None,
        ..WebSocketConfig::default()
    };
    let mut ws = client(&cert)
        .websocket_request(&url(&h, "/ws"))
        .version(http::Version::HTTP_3)
        .config(config)
        .open()
        .await
        .unwrap();
    assert!(!ws.is_compressed());
    let large = Message::binary(pattern(300_001));
    assert_eq!(echo(&mut ws, large.clone()).await, large);
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    stop(h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_codes_travel_both_ways() {
    let (h, cert) = start(Http3Config::default());
    let client = client(&cert);
    // The server closes with 4001 "bye".
    let mut ws = ws3(&client, &url(&h, "/bye")).await.unwrap();
    ws.send(Message::text("hi")).await.unwrap();
    let close = close_frame(&mut ws)
        .await
        .expect("a close frame with a code");
    assert_eq!(
        (close.code, close.reason.as_str()),
        (CloseCode(4001), "bye")
    );
    assert!(ws.recv().await.is_none());
    // The client closes with 4002: the echo route answers with the same code.
    let mut ws = ws3(&client, &url(&h, "/ws")).await.unwrap();
    ws.close(CloseCode(4002), "client going").await.unwrap();
    assert!(ws.is_closed());
    stop(h);
}

#[test]
fn server_shutdown_closes_sockets_with_1001() {
    let (h, cert) = start(Http3Config::default());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = client(&cert);
    let mut ws = rt.block_on(ws3(&client, &url(&h, "/ws"))).unwrap();
    rt.block_on(async {
        assert_eq!(echo(&mut ws, Message::text("x")).await, Message::text("x"));
    });
    let stopper = std::thread::spawn(move || stop(h));
    let close = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), close_frame(&mut ws))
            .await
            .expect("a Close before the timeout")
    });
    assert_eq!(close.map(|c| c.code), Some(CloseCode::GOING_AWAY));
    stopper.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_connect_is_a_byte_tunnel() {
    let (h, cert) = start(Http3Config::default());
    let client = client(&cert);
    let conn = client.http3_connection(&origin(&h)).await.unwrap();
    let tunnel = conn
        .open_tunnel(plain_connect("echo.example:7"))
        .await
        .unwrap();
    assert!(tunnel.is_established(), "{}", tunnel.status);
    assert!(tunnel.headers.get("content-length").is_none());
    let data = pattern(200_000);
    let (mut rd, mut wr) = tokio::io::split(tunnel);
    let writer = {
        let data = data.clone();
        tokio::spawn(async move {
            let (first, rest) = data.split_at(1000);
            wr.write_all(first).await.unwrap();
            // Idle well past the minimum body rate's grace: a tunnel has no such rate.
            tokio::time::sleep(Duration::from_millis(700)).await;
            wr.write_all(rest).await.unwrap();
            wr.shutdown().await.unwrap();
        })
    };
    let mut back = Vec::new();
    rd.read_to_end(&mut back).await.unwrap();
    writer.await.unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back == data);
    // Another authority: the handler refuses, no tunnel.
    let refused = conn
        .open_tunnel(plain_connect("elsewhere.example:7"))
        .await
        .unwrap();
    assert_eq!(refused.status, 403);
    assert!(!refused.is_established());
    stop(h);
}

/// `Client::connect_tunnel_with(.., Some(HTTP_3))`: the generic tunnel API over an
/// HTTP/3 request stream; a refusal is `Error::Proxy` with the status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_tunnel_api_speaks_http3() {
    let (h, cert) = start(Http3Config::default());
    let client = client(&cert);
    let origin = format!("https://localhost:{}", h.local_addr().port());
    let mut tunnel = client
        .connect_tunnel_with(&origin, "echo.example:7", Some(http::Version::HTTP_3))
        .await
        .unwrap();
    assert_eq!(tunnel.version(), http::Version::HTTP_3);
    tunnel.write_all(b"generic tunnel").await.unwrap();
    tunnel.shutdown().await.unwrap();
    let mut back = Vec::new();
    tunnel.read_to_end(&mut back).await.unwrap();
    assert_eq!(back, b"generic tunnel");
    // The client's preference (`.http3()`) picks HTTP/3 too.
    let t = client
        .connect_tunnel(&origin, "echo.example:7")
        .await
        .unwrap();
    assert_eq!(t.version(), http::Version::HTTP_3);
    drop(t);
    match client
        .connect_tunnel_with(&origin, "elsewhere.example:7", Some(http::Version::HTTP_3))
        .await
    {
        Err(shockwave::client::Error::Proxy { status, .. }) => {
            assert_eq!(status, Some(http::StatusCode::FORBIDDEN))
        }
        other => panic!("{other:?}"),
    }
    stop(h);
}

/// A tunnel the server does not read holds at most QUIC's stream window: the writer
/// blocks (nothing is buffered without bound on either side).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unread_tunnel_blocks_the_writer() {
    let (h, cert) = start(Http3Config::default());
    let conn = client(&cert).http3_connection(&origin(&h)).await.unwrap();
    let mut tunnel = conn
        .open_tunnel(plain_connect("sink.example:9"))
        .await
        .unwrap();
    assert!(tunnel.is_established());
    let data = vec![1u8; 8 * 1024 * 1024];
    let mut written = 0usize;
    let write = async {
        for chunk in data.chunks(64 * 1024) {
            tunnel.write_all(chunk).await.unwrap();
            written += chunk.len();
        }
    };
    let blocked = tokio::time::timeout(Duration::from_millis(1500), write).await;
    assert!(blocked.is_err(), "8 MiB went into a tunnel nobody reads");
    // The stream window (1.25 MB by default) plus one frame, not the 8 MiB.
    assert!(written <= 2 * 1024 * 1024, "{written} bytes accepted");
    drop(tunnel);
    stop(h);
}

/// A panicking tunnel callback resets its stream (`H3_REQUEST_CANCELLED`); the
/// connection and the worker go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_tunnel_callback_resets_only_its_stream() {
    let (h, cert) = start(Http3Config::default());
    let client = client(&cert);
    let conn = client.http3_connection(&origin(&h)).await.unwrap();
    let mut tunnel = conn
        .open_tunnel(plain_connect("panic.example:1"))
        .await
        .unwrap();
    assert!(tunnel.is_established());
    tunnel.write_all(b"x").await.unwrap();
    tunnel.flush().await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), tunnel.read(&mut buf))
        .await
        .unwrap();
    let e = read.expect_err("the stream is reset");
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
    assert!(
        e.to_string().contains("268"),
        "H3_REQUEST_CANCELLED (0x10c): {e}"
    );
    // The same connection serves a WebSocket afterwards.
    let mut ws = ws3(&client, &url(&h, "/ws")).await.unwrap();
    assert_eq!(
        echo(&mut ws, Message::text("alive")).await,
        Message::text("alive")
    );
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(client.http3_connections(&origin(&h)), 1);
    stop(h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_connect_to_a_server_that_did_not_advertise_it() {
    let (h, cert) = start(Http3Config {
        enable_connect_protocol: false,
        ..Http3Config::default()
    });
    let client = client(&cert);
    // Our client reads the SETTINGS and does not send the request: a typed error.
    match ws3(&client, &url(&h, "/ws")).await {
        Err(WebSocketError::ExtendedConnectUnsupported(v)) => assert_eq!(v, http::Version::HTTP_3),
        other => panic!("{:?}", other.map(|_| ())),
    }
    // A client that sends it anyway gets the stream reset with H3_MESSAGE_ERROR
    // (RFC 9220 §3); the connection goes on.
    let mut raw = Raw::connect(h.local_addr(), &cert).await;
    assert_eq!(
        raw.request(&websocket_fields()).await,
        Err(H3_MESSAGE_ERROR)
    );
    let get: [(&[u8], &[u8]); 4] = [
        (b":method", b"GET"),
        (b":scheme", b"https"),
        (b":authority", b"localhost"),
        (b":path", b"/"),
    ];
    assert!(raw.request(&get).await.is_ok());
    stop(h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_connects_are_message_errors() {
    let (h, cert) = start(Http3Config::default());
    let mut raw = Raw::connect(h.local_addr(), &cert).await;
    // Plain CONNECT with `:path` (RFC 9114 §4.4: only :method and :authority).
    let with_path: [(&[u8], &[u8]); 3] = [
        (b":method", b"CONNECT"),
        (b":authority", b"echo.example:7"),
        (b":path", b"/"),
    ];
    assert_eq!(raw.request(&with_path).await, Err(H3_MESSAGE_ERROR));
    // Plain CONNECT with `:scheme`.
    let with_scheme: [(&[u8], &[u8]); 3] = [
        (b":method", b"CONNECT"),
        (b":scheme", b"https"),
        (b":authority", b"echo.example:7"),
    ];
    assert_eq!(raw.request(&with_scheme).await, Err(H3_MESSAGE_ERROR));
    // `:protocol` on a GET.
    let mut get = websocket_fields();
    get[0].1 = b"GET";
    assert_eq!(raw.request(&get).await, Err(H3_MESSAGE_ERROR));
    // Extended CONNECT without `:path`.
    let no_path: Vec<_> = websocket_fields()
        .into_iter()
        .filter(|f| f.0 != b":path")
        .collect();
    assert_eq!(raw.request(&no_path).await, Err(H3_MESSAGE_ERROR));
    // A well-formed extended CONNECT with another `:protocol`: the WebSocket handler
    // refuses it with 400 (no tunnel).
    let mut other = websocket_fields();
    other[1].1 = b"not-websocket";
    assert_eq!(raw.request(&other).await, Ok(400));
    // The valid one: 200.
    assert_eq!(raw.request(&websocket_fields()).await, Ok(200));
    stop(h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_on_an_open_tunnel_close_the_connection() {
    let (h, cert) = start(Http3Config::default());
    let raw = Raw::connect(h.local_addr(), &cert).await;
    let (mut send, mut recv) = raw.conn.open_bi().await.unwrap();
    let mut wire = Vec::new();
    Encoder::new()
        .encode_headers_frame(websocket_fields(), &mut wire)
        .unwrap();
    send.write_all(&wire).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = recv.read(&mut buf).await.unwrap().unwrap();
    assert!(n > 0);
    // A second HEADERS frame (trailers) on the tunnel: RFC 9114 §4.4.
    wire.clear();
    let trailer: [(&[u8], &[u8]); 1] = [(b"x-t", b"1")];
    Encoder::new()
        .encode_headers_frame(trailer, &mut wire)
        .unwrap();
    send.write_all(&wire).await.unwrap();
    let reason = tokio::time::timeout(Duration::from_secs(5), raw.conn.closed())
        .await
        .unwrap();
    match reason {
        quinn::ConnectionError::ApplicationClosed(c) => {
            assert_eq!(c.error_code.into_inner(), H3_FRAME_UNEXPECTED)
        }
        other => panic!("{other:?}"),
    }
    stop(h);
}

/// A `content-length` on a CONNECT does not bound the tunnel (a CONNECT has no content,
/// RFC 9110 §9.3.6): bytes after it still go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_content_length_on_connect_does_not_cut_the_tunnel() {
    use shockwave::http3::frame;
    use shockwave::http3::request::{RequestEvent, RequestStream};
    use shockwave::http3::stream::Role;
    let (h, cert) = start(Http3Config::default());
    let raw = Raw::connect(h.local_addr(), &cert).await;
    let (mut send, mut recv) = raw.conn.open_bi().await.unwrap();
    let fields: [(&[u8], &[u8]); 3] = [
        (b":method", b"CONNECT"),
        (b":authority", b"echo.example:7"),
        (b"content-length", b"0"),
    ];
    let mut wire = Vec::new();
    Encoder::new()
        .encode_headers_frame(fields, &mut wire)
        .unwrap();
    frame::encode_data(b"through the tunnel", &mut wire).unwrap();
    send.write_all(&wire).await.unwrap();
    send.finish().unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), recv.read_to_end(1 << 16))
        .await
        .unwrap()
        .unwrap();
    let mut stream = RequestStream::new(Role::Client);
    let mut input = &got[..];
    let mut data = Vec::new();
    while let (n, Some(ev)) = stream.recv(input).unwrap() {
        if let RequestEvent::Data(d) = ev {
            data.extend_from_slice(d);
        }
        input = &input[n..];
    }
    assert_eq!(status_of(&got), Some(200));
    assert_eq!(data, b"through the tunnel");
    stop(h);
}

fn websocket_fields() -> Vec<(&'static [u8], &'static [u8])> {
    vec![
        (b":method", b"CONNECT"),
        (b":protocol", b"websocket"),
        (b":scheme", b"https"),
        (b":authority", b"localhost"),
        (b":path", b"/ws"),
        (b"sec-websocket-version", b"13"),
    ]
}

/// A bare QUIC connection that writes HTTP/3 request streams by hand (no SETTINGS of
/// its own: a server does not need them to read a request).
struct Raw {
    _ep: quinn::Endpoint,
    conn: quinn::Connection,
}

impl Raw {
    async fn connect(addr: SocketAddr, cert: &tls::SelfSigned) -> Raw {
        let (ep, conn) = h3_support::quic_connect(addr, cert, &Http3Config::default()).await;
        Raw { _ep: ep, conn }
    }

    /// Sends a HEADERS frame with `fields` (no FIN); `Ok(status)` of the answer, or
    /// `Err(code)` when the server reset the stream.
    async fn request(&mut self, fields: &[(&[u8], &[u8])]) -> Result<u16, u64> {
        let (mut send, mut recv) = self.conn.open_bi().await.unwrap();
        let mut wire = Vec::new();
        Encoder::new()
            .encode_headers_frame(fields.iter().copied(), &mut wire)
            .unwrap();
        send.write_all(&wire).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let mut got = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match recv.read(&mut buf).await {
                    Ok(Some(n)) => {
                        got.extend_from_slice(&buf[..n]);
                        if let Some(status) = status_of(&got) {
                            return Ok(status);
                        }
                    }
                    Ok(None) => return Ok(status_of(&got).expect("a response")),
                    Err(quinn::ReadError::Reset(code)) => return Err(code.into_inner()),
                    Err(e) => panic!("{e}"),
                }
            }
        })
        .await
        .expect("an answer within 5 s");
        let _ = send.reset(0u32.into());
        read
    }
}

/// The `:status` of the first HEADERS frame in `wire`, once it is complete.
fn status_of(wire: &[u8]) -> Option<u16> {
    use shockwave::http3::request::{RequestEvent, RequestStream};
    use shockwave::http3::stream::Role;
    let mut stream = RequestStream::new(Role::Client);
    let (_, ev) = stream.recv(wire).ok()?;
    let Some(RequestEvent::Headers(section)) = ev else {
        return None;
    };
    let mut decoder = shockwave::http3::qpack::Decoder::new(Default::default());
    let mut status = None;
    decoder
        .decode_section_with(0, section, |n, v| {
            if n == b":status" {
                status = std::str::from_utf8(v).ok().and_then(|s| s.parse().ok());
            }
        })
        .ok()?;
    status
}

#[test]
fn aioquic_speaks_the_rfc9220_handshake() {
    require_python_modules("aioquic", "pip install aioquic");
    let (h, cert) = start(Http3Config::default());
    let dir = std::env::temp_dir().join(format!("shockwave-ws-h3-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &cert.cert_pem).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ws_h3_aioquic.py");
    let o = std::process::Command::new("python3")
        .args([
            script,
            "127.0.0.1",
            &h.local_addr().port().to_string(),
            ca.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    stop(h);
    assert!(
        o.status.success(),
        "aioquic script failed: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["enable_connect_protocol"], 1, "{json}");
    assert_eq!(json["status"], "200", "{json}");
    assert_eq!(json["echo"], "hello from aioquic", "{json}");
    assert_eq!(json["close_code"], 1000, "{json}");
    assert_eq!(json["fin"], true, "{json}");
}
