//! HTTP/1.1 edge cases through the server (RFC 9110 / RFC 9112), CONNECT on every
//! protocol, and the timeouts of connections that never finish a request head: silent
//! after accept or after the TLS handshake, or an HTTP/2 field block never ended.
#![cfg(all(feature = "http2", feature = "tls"))]

mod http2_support;
mod server_util;

use std::cell::Cell;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use http2_support::{Client, F};
use server_util::{builder, connect, read_to_close, roundtrip, stop};
use shockwave::server::routes::DefaultRoutes;
use shockwave::server::{Handler, RequestContext, Response};
use shockwave_http2_frames::ErrorCode;

thread_local! {
    /// Requests the handler saw on this worker thread.
    static CALLS: Cell<u64> = const { Cell::new(0) };
}

/// The default routes plus `/h`, which echoes a few request facts, and a call counter
/// exposed at `/calls`.
struct Edges(DefaultRoutes);

impl Handler for Edges {
    async fn call<'a>(&'a self, cx: RequestContext<'a>) -> Response<'a> {
        if cx.path() == "/calls" {
            let n = format!("{}", CALLS.with(|c| c.get()));
            return Response::text(cx.arena().alloc_str(&n).unwrap());
        }
        CALLS.with(|c| c.set(c.get() + 1));
        match cx.path() {
            "/h" => {
                let fields: Vec<String> = cx
                    .headers()
                    .iter()
                    .map(|(n, v)| {
                        format!(
                            "{}={}",
                            String::from_utf8_lossy(n),
                            String::from_utf8_lossy(v)
                        )
                    })
                    .collect();
                let text = format!("{} {} {}", cx.method(), cx.path(), fields.join(";"));
                Response::text(cx.arena().alloc_str(&text).unwrap())
            }
            _ => self.0.call(cx).await,
        }
    }
}

fn calls(addr: std::net::SocketAddr) -> u64 {
    let r = roundtrip(addr, b"GET /calls HTTP/1.1\r\nHost: a\r\n\r\n");
    String::from_utf8_lossy(&r.body).parse().unwrap()
}

#[test]
fn h1_edges_get_the_rfc_status_then_close() {
    let h = builder()
        .max_body_size(1000)
        .start(Edges(DefaultRoutes::new()))
        .unwrap();
    let long_method = format!("{} / HTTP/1.1\r\nHost: a\r\n\r\n", "M".repeat(100_000));
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        // RFC 9112 §3.2: Host
        ("empty Host", b"GET /h HTTP/1.1\r\nHost: \r\n\r\n".to_vec(), 400),
        ("empty Host no space", b"GET /h HTTP/1.1\r\nHost:\r\n\r\n".to_vec(), 400),
        ("two Hosts", b"GET /h HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(), 400),
        ("Host vs absolute-form", b"GET http://a/h HTTP/1.1\r\nHost: b\r\n\r\n".to_vec(), 400),
        ("Host bad port", b"GET /h HTTP/1.1\r\nHost: a:x\r\n\r\n".to_vec(), 400),
        // RFC 9110 §9.1 / §15.5.15: a long method is not a long target
        ("100 KB method", long_method.into_bytes(), 501),
        // RFC 9110 §8.6: invalid framing is 400, the size limit 413
        ("CL not a number", b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n".to_vec(), 400),
        ("CL overflow", b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n".to_vec(), 400),
        ("CL negative", b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n".to_vec(), 400),
        ("CL over the body limit", b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n".to_vec(), 413),
        // RFC 9110 §9.3.6: a CONNECT that cannot be a tunnel (content, a target that is
        // not `host:port`, HTTP/1.0) never reaches the handler
        ("CONNECT origin-form", b"CONNECT /x HTTP/1.1\r\nHost: example.com:443\r\n\r\n".to_vec(), 400),
        ("CONNECT without port", b"CONNECT example.com HTTP/1.1\r\nHost: example.com\r\n\r\n".to_vec(), 501),
        ("CONNECT HTTP/1.0", b"CONNECT example.com:443 HTTP/1.0\r\nHost: example.com:443\r\n\r\n".to_vec(), 501),
        ("CONNECT with body", b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nContent-Length: 3\r\n\r\nabc".to_vec(), 501),
        // RFC 9110 §10.1.1
        ("Expect other", b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 3\r\n\r\nabc".to_vec(), 417),
        ("Expect list", b"GET /h HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, x\r\n\r\n".to_vec(), 417),
        // RFC 9112 §3.2, RFC 3986 §2: the request-target
        ("fragment", b"GET /h#x HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), 400),
        ("backslash", b"GET /static\\..\\secret HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), 400),
    ];
    for (name, input, want) in cases {
        let mut s = connect(h.local_addr());
        s.write_all(&input).unwrap();
        let all = read_to_close(&mut s);
        let text = String::from_utf8_lossy(&all);
        assert!(
            text.starts_with(&format!("HTTP/1.1 {want} ")),
            "{name}: want {want}, got {:?}",
            &text[..text.len().min(200)]
        );
        assert!(text.contains("connection: close"), "{name}: {text:?}");
        // RFC 9110 §9.3.6: never a Content-Length in a 2xx to CONNECT (there is no 2xx).
        assert!(!text.starts_with("HTTP/1.1 2"), "{name}");
    }
    // None of them reached the handler.
    assert_eq!(calls(h.local_addr()), 0);
    // A tunnelable CONNECT reaches the handler; routes that do not take it as a tunnel
    // (the default routes) answer 501, and the connection still closes, without a 2xx.
    let mut s = connect(h.local_addr());
    s.write_all(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        .unwrap();
    let all = read_to_close(&mut s);
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.1 501 "), "{text:?}");
    assert!(text.contains("connection: close"), "{text:?}");
    assert_eq!(calls(h.local_addr()), 1);
    stop(h);
}

#[test]
fn lenient_h1_edges_reach_the_handler_as_documented() {
    let h = builder().start(Edges(DefaultRoutes::new())).unwrap();
    let addr = h.local_addr();
    // Leading zeros and whitespace around Content-Length: the body is read as framed.
    for cl in ["007", " 7 ", "\t0007"] {
        let req = format!("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length:{cl}\r\n\r\n1234567");
        let r = roundtrip(addr, req.as_bytes());
        assert_eq!((r.status, &r.body[..]), (200, &b"1234567"[..]), "{cl:?}");
    }
    // `%00` / `%0D%0A` stay percent-encoded: the handler sees the encoded form.
    let r = roundtrip(addr, b"GET /h%00%0D%0A HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.status, 404, "{:?}", String::from_utf8_lossy(&r.body));
    let r = roundtrip(addr, b"GET /h?x=%00%0D%0A HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.status, 200);
    // `_` in a field name is a token character: kept as sent, distinct from `-`.
    let r = roundtrip(
        addr,
        b"GET /h HTTP/1.1\r\nHost: a\r\nX_Forwarded_For: 1\r\nX-Forwarded-For: 2\r\n\r\n",
    );
    let body = String::from_utf8_lossy(&r.body).to_ascii_lowercase();
    assert!(body.contains("x_forwarded_for=1"), "{body}");
    assert!(body.contains("x-forwarded-for=2"), "{body}");
    // Expect: 100-continue is the one expectation served.
    let mut s = connect(addr);
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
    )
    .unwrap();
    let mut pending = Vec::new();
    let mut r = server_util::read_response(&mut s, &mut pending);
    if r.status == 100 {
        r = server_util::read_response(&mut s, &mut pending);
    }
    assert_eq!((r.status, &r.body[..]), (200, &b"ok"[..]));
    // Absolute-form with a matching Host (case, default port).
    let r = roundtrip(addr, b"GET http://A:80/h HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.status, 200);
    stop(h);
}

#[test]
fn connect_is_501_over_http2_too() {
    let h = builder().start(Edges(DefaultRoutes::new())).unwrap();
    let mut sock = std::net::TcpStream::connect(h.local_addr()).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut c = Client::new();
    c.preface(&[]).settings_ack();
    c.headers(
        1,
        &[(":method", "CONNECT"), (":authority", "example.com:443")],
        false,
    );
    sock.write_all(&c.take()).unwrap();
    let frames =
        http2_support::read_frames(&mut sock, &mut c, |f| matches!(f, F::Headers { id: 1, .. }));
    let head = frames
        .iter()
        .find(|f| matches!(f, F::Headers { id: 1, .. }))
        .unwrap();
    assert_eq!(head.status(), Some("501"), "{frames:?}");
    // The CONNECT reached the handler (it could have taken it as a tunnel); the default
    // routes do not tunnel.
    assert_eq!(calls(h.local_addr()), 1);
    stop(h);
}

/// Reads until EOF; returns how long it took (panics after `limit`).
fn time_to_close(s: &mut impl Read, limit: Duration) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        assert!(start.elapsed() < limit, "still open after {limit:?}");
        match s.read(&mut buf) {
            Ok(0) => return start.elapsed(),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return start.elapsed(),
        }
    }
}

#[test]
fn a_silent_connection_is_closed_at_the_header_read_timeout() {
    let ss = shockwave::server::tls::self_signed(&["localhost"]).unwrap();
    let h = builder()
        .bind_tls("127.0.0.1:0".parse().unwrap())
        .tls(ss.config.clone())
        .header_read_timeout(Duration::from_millis(800))
        .idle_timeout(Duration::from_secs(60))
        .start(Edges(DefaultRoutes::new()))
        .unwrap();
    // Plain TCP: nothing sent after connect.
    let mut s = std::net::TcpStream::connect(h.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let took = time_to_close(&mut s, Duration::from_secs(10));
    assert!(took >= Duration::from_millis(700), "{took:?}");
    // TLS: the handshake completes, then nothing (ALPN http/1.1, none, and h2: there the
    // HTTP/2 driver waits for the preface no longer than the header-read timeout either).
    for alpn in [Some(b"http/1.1".to_vec()), None, Some(b"h2".to_vec())] {
        let mut config = ss.client_config().unwrap();
        config.alpn_protocols = alpn.into_iter().collect();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
        let tcp = std::net::TcpStream::connect(h.tls_local_addrs()[0]).unwrap();
        tcp.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        // Drive the handshake to its end.
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock).unwrap();
        }
        let took = time_to_close(&mut tls, Duration::from_secs(10));
        assert!(took < Duration::from_secs(5), "{took:?}");
    }
    // A keep-alive connection after its first request waits for the idle timeout, not the
    // header-read one.
    let mut s = connect(h.local_addr());
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let mut pending = Vec::new();
    assert_eq!(server_util::read_response(&mut s, &mut pending).status, 200);
    s.set_read_timeout(Some(Duration::from_millis(2_000)))
        .unwrap();
    let mut b = [0u8; 16];
    let r = s.read(&mut b);
    assert!(
        matches!(&r, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
        "closed before the idle timeout: {r:?}"
    );
    stop(h);
}

#[test]
fn an_unfinished_http2_header_block_is_closed_at_the_header_read_timeout() {
    let h = builder()
        .header_read_timeout(Duration::from_millis(800))
        .idle_timeout(Duration::from_secs(60))
        .start(Edges(DefaultRoutes::new()))
        .unwrap();
    let mut sock = std::net::TcpStream::connect(h.local_addr()).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut c = Client::new();
    c.preface(&[]).settings_ack();
    let block = c.block(&[(":method", "GET"), (":scheme", "http"), (":path", "/")]);
    // HEADERS without END_HEADERS, then a CONTINUATION that does not end it either.
    let (a, b) = block.split_at(block.len() / 2);
    c.headers_raw(1, a, true, false);
    c.continuation(1, &b[..1], false);
    sock.write_all(&c.take()).unwrap();
    let start = Instant::now();
    let mut frames = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no GOAWAY in 10 s: {frames:?}"
        );
        match sock.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => frames.extend(c.parse(&buf[..n])),
            Err(_) => {}
        }
        if frames.iter().any(|f| matches!(f, F::GoAway { .. })) {
            break;
        }
    }
    let took = start.elapsed();
    assert!(
        frames.contains(&F::GoAway {
            last: 0,
            code: ErrorCode::EnhanceYourCalm
        }),
        "{frames:?}"
    );
    assert!(took >= Duration::from_millis(600), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    stop(h);
}

#[cfg(feature = "http3")]
#[tokio::test]
async fn connect_is_501_over_http3_too() {
    use shockwave::http3::qpack::Encoder;
    use shockwave::http3::{frame, quic_client_config, Http3Config};
    let cert = shockwave::server::tls::self_signed(&["localhost"]).unwrap();
    let h = shockwave::server::Server::builder()
        .bind_h3("127.0.0.1:0".parse().unwrap())
        .tls(cert.config.clone())
        .workers(1)
        .handle_signals(false)
        .start(Edges(DefaultRoutes::new()))
        .unwrap();
    let mut ep = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    ep.set_default_client_config(
        quic_client_config(&cert.client_config().unwrap(), &Http3Config::default()).unwrap(),
    );
    let conn = ep
        .connect(h.local_addr(), "localhost")
        .unwrap()
        .await
        .unwrap();
    let mut control = conn.open_uni().await.unwrap();
    let mut buf = vec![0x00];
    frame::Settings::default().encode(None, &mut buf).unwrap();
    control.write_all(&buf).await.unwrap();
    // RFC 9114 §4.4: CONNECT has :method and :authority only.
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    let mut w = Vec::new();
    Encoder::new()
        .encode_headers_frame(
            [
                (&b":method"[..], &b"CONNECT"[..]),
                (b":authority", b"example.com:443"),
            ],
            &mut w,
        )
        .unwrap();
    send.write_all(&w).await.unwrap();
    let raw = tokio::time::timeout(Duration::from_secs(5), recv.read_to_end(1 << 20))
        .await
        .unwrap()
        .unwrap();
    use shockwave::arena::Arena;
    use shockwave::http3::qpack::{Decoder, DecoderConfig};
    use shockwave::http3::request::{RequestEvent, RequestStream};
    use shockwave::http3::stream::Role;
    let mut s = RequestStream::new(Role::Client);
    let (_, ev) = s.recv(&raw).unwrap();
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
    let status = list.iter().find(|(n, _)| *n == b":status").unwrap().1;
    assert_eq!(status, b"501");
    drop(conn);
    ep.close(0u32.into(), b"");
    tokio::task::spawn_blocking(move || h.stop().unwrap())
        .await
        .unwrap();
}
