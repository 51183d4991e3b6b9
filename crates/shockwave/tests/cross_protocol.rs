//! The same handler scenarios over HTTP/1.1, h2c, HTTP/2 over TLS and HTTP/3, served by ONE
//! `Server` (plain, TLS and UDP addresses), asserting identical outcomes: status codes,
//! header fields, a streamed body, trailers, a panicking handler (500, and the connection
//! serves the next request), a panicking trailer future (the
//! response is aborted and the panic counted), an oversized body (413), an unknown
//! `:scheme` (the transport's scheme) and the counters in `/stats`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf as _, Bytes};
use http_body_util::BodyExt as _;
use shockwave::http3::{quic_client_config, Http3Config};
use shockwave::server::{handler_fn, tls, Response, Server, ServerHandle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Http1,
    H2c,
    H2Tls,
    Http3,
}

const ALL: [Proto; 4] = [Proto::Http1, Proto::H2c, Proto::H2Tls, Proto::Http3];

/// What a client saw: the status, the `x-*` and `content-type` fields (lowercased, sorted),
/// the body, the trailer fields, and whether the response was aborted (reset stream or a
/// connection closed before the end of the message).
#[derive(Debug, Default, PartialEq, Eq)]
struct Outcome {
    status: u16,
    fields: Vec<(String, String)>,
    body: Vec<u8>,
    trailers: Vec<(String, String)>,
    aborted: bool,
}

fn pick(headers: &http::HeaderMap) -> Vec<(String, String)> {
    let mut v: Vec<_> = headers
        .iter()
        .filter(|(n, _)| n.as_str().starts_with("x-") || n.as_str() == "content-type")
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("?").to_owned()))
        .collect();
    v.sort();
    v
}

const LIMIT: u64 = 1024;

fn start() -> (ServerHandle, tls::SelfSigned) {
    let cert = tls::self_signed(&["localhost"]).unwrap();
    let handler = handler_fn(async |mut cx| match cx.path() {
        "/status" => Response::status_code(201).header("X-A", "1"),
        "/fields" => Response::text("hi").header("X-Mixed-Case", "v"),
        "/stream" => Response::ok().stream(futures_util::stream::iter(
            ["one ", "two ", "three"].map(|s| Ok(Bytes::from_static(s.as_bytes()))),
        )),
        "/trailers" => Response::text("body").trailers(&[
            (b"X-Sum", b"1"),
            (b"content-length", b"9"),
            (b"grpc-status", b"0"),
        ]),
        "/panic" => panic!("handler panic on purpose"),
        "/panic-trailers" => Response::ok()
            .body(&b"partial"[..])
            .trailers_deferred(async { panic!("trailer future panics on purpose") }),
        "/echo" => match cx.body().to_arena().await {
            Ok(body) => Response::ok().body(body),
            Err(e) => Response::new(e.status()),
        },
        "/scheme" => Response::text(cx.request().scheme().as_str()),
        _ => Response::text("plain"),
    });
    let handle = Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .bind_tls("127.0.0.1:0".parse().unwrap())
        .bind_h3("127.0.0.1:0".parse().unwrap())
        .tls(cert.config.clone())
        .workers(1)
        .max_body_size(LIMIT)
        .handle_signals(false)
        .build()
        .start(handler)
        .unwrap();
    (handle, cert)
}

/// One client connection of any protocol.
enum Conn {
    Http1(SocketAddr),
    H2(h2::client::SendRequest<Bytes>, &'static str),
    Http3(
        h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
        quinn::Endpoint,
    ),
}

async fn connect(proto: Proto, h: &ServerHandle, cert: &tls::SelfSigned) -> Conn {
    match proto {
        Proto::Http1 => Conn::Http1(h.local_addrs()[0]),
        Proto::H2c => {
            let tcp = tokio::net::TcpStream::connect(h.local_addrs()[0])
                .await
                .unwrap();
            let (send, conn) = h2::client::handshake(tcp).await.unwrap();
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Conn::H2(send, "http")
        }
        Proto::H2Tls => {
            let mut config = cert.client_config().unwrap();
            config.alpn_protocols = vec![b"h2".to_vec()];
            let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
            let tcp = tokio::net::TcpStream::connect(h.tls_local_addrs()[0])
                .await
                .unwrap();
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let tls = connector.connect(name, tcp).await.unwrap();
            assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
            let (send, conn) = h2::client::handshake(tls).await.unwrap();
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Conn::H2(send, "https")
        }
        Proto::Http3 => {
            let mut ep = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
            ep.set_default_client_config(
                quic_client_config(&cert.client_config().unwrap(), &Http3Config::default())
                    .unwrap(),
            );
            let conn = ep
                .connect(h.h3_local_addrs()[0], "localhost")
                .unwrap()
                .await
                .unwrap();
            let (mut driver, send) = h3::client::new(h3_quinn::Connection::new(conn))
                .await
                .unwrap();
            tokio::spawn(async move {
                let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
            });
            Conn::Http3(send, ep)
        }
    }
}

/// Sends one request (`scheme` overrides the `:scheme` pseudo-header on HTTP/2 and HTTP/3).
async fn request(
    conn: &mut Conn,
    path: &str,
    body: Option<Vec<u8>>,
    scheme: Option<&str>,
) -> Outcome {
    let method = if body.is_some() { "POST" } else { "GET" };
    let mut out = Outcome::default();
    match conn {
        Conn::Http1(addr) => {
            // One connection per request (a panicking trailer future closes the connection).
            let tcp = tokio::net::TcpStream::connect(*addr).await.unwrap();
            let (mut send, c) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                    .await
                    .unwrap();
            tokio::spawn(async move {
                let _ = c.await;
            });
            let req = http::Request::builder()
                .method(method)
                .uri(path)
                .header("host", "localhost")
                .header("te", "trailers")
                .body(http_body_util::Full::new(Bytes::from(
                    body.unwrap_or_default(),
                )))
                .unwrap();
            let resp = match send.send_request(req).await {
                Ok(r) => r,
                Err(_) => {
                    out.aborted = true;
                    return out;
                }
            };
            out.status = resp.status().as_u16();
            out.fields = pick(resp.headers());
            let mut b = resp.into_body();
            while let Some(frame) = b.frame().await {
                match frame {
                    Ok(f) => match f.into_data() {
                        Ok(d) => out.body.extend_from_slice(&d),
                        Err(f) => {
                            if let Ok(t) = f.into_trailers() {
                                out.trailers = pick_all(&t);
                            }
                        }
                    },
                    Err(_) => {
                        out.aborted = true;
                        break;
                    }
                }
            }
        }
        Conn::H2(send, transport) => {
            let scheme = scheme.unwrap_or(transport);
            let req = http::Request::builder()
                .method(method)
                .uri(format!("{scheme}://localhost{path}"))
                .body(())
                .unwrap();
            let mut s = send.clone().ready().await.unwrap();
            let end = body.is_none();
            let (resp, mut stream) = s.send_request(req, end).unwrap();
            if let Some(b) = body {
                stream.send_data(Bytes::from(b), true).unwrap();
            }
            let resp = match resp.await {
                Ok(r) => r,
                Err(_) => {
                    out.aborted = true;
                    return out;
                }
            };
            out.status = resp.status().as_u16();
            out.fields = pick(resp.headers());
            let mut b = resp.into_body();
            while let Some(chunk) = b.data().await {
                match chunk {
                    Ok(c) => {
                        let _ = b.flow_control().release_capacity(c.len());
                        out.body.extend_from_slice(&c);
                    }
                    Err(_) => {
                        out.aborted = true;
                        return out;
                    }
                }
            }
            match b.trailers().await {
                Ok(Some(t)) => out.trailers = pick_all(&t),
                Ok(None) => {}
                Err(_) => out.aborted = true,
            }
        }
        Conn::Http3(send, _) => {
            let scheme = scheme.unwrap_or("https");
            let req = http::Request::builder()
                .method(method)
                .uri(format!("{scheme}://localhost{path}"))
                .body(())
                .unwrap();
            let mut stream = send.send_request(req).await.unwrap();
            if let Some(b) = body {
                // The server may answer 413 and stop reading: ignore send errors.
                let _ = stream.send_data(Bytes::from(b)).await;
            }
            let _ = stream.finish().await;
            let resp = match stream.recv_response().await {
                Ok(r) => r,
                Err(_) => {
                    out.aborted = true;
                    return out;
                }
            };
            out.status = resp.status().as_u16();
            out.fields = pick(resp.headers());
            loop {
                match stream.recv_data().await {
                    Ok(Some(mut chunk)) => {
                        while chunk.has_remaining() {
                            let c = chunk.chunk();
                            out.body.extend_from_slice(c);
                            let n = c.len();
                            chunk.advance(n);
                        }
                    }
                    Ok(None) => break,
                    Err(_) => {
                        out.aborted = true;
                        return out;
                    }
                }
            }
            match stream.recv_trailers().await {
                Ok(Some(t)) => out.trailers = pick_all(&t),
                Ok(None) => {}
                Err(_) => out.aborted = true,
            }
        }
    }
    out
}

fn pick_all(headers: &http::HeaderMap) -> Vec<(String, String)> {
    let mut v: Vec<_> = headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("?").to_owned()))
        .collect();
    v.sort();
    v
}

fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_scenarios_give_the_same_outcomes_on_every_protocol() {
    let (handle, cert) = start();
    for proto in ALL {
        let before = handle.stats();
        let mut conn = connect(proto, &handle, &cert).await;
        let text = fields(&[("content-type", "text/plain; charset=utf-8")]);

        let o = request(&mut conn, "/status", None, None).await;
        assert_eq!(
            (o.status, o.fields, o.aborted),
            (201, fields(&[("x-a", "1")]), false),
            "{proto:?}"
        );

        let o = request(&mut conn, "/fields", None, None).await;
        let mut want = text.clone();
        want.push(("x-mixed-case".into(), "v".into()));
        want.sort();
        assert_eq!(
            (o.status, &o.fields, &o.body[..]),
            (200, &want, &b"hi"[..]),
            "{proto:?}"
        );

        let o = request(&mut conn, "/stream", None, None).await;
        assert_eq!(
            (o.status, &o.body[..], o.aborted),
            (200, &b"one two three"[..], false),
            "{proto:?}"
        );

        let o = request(&mut conn, "/trailers", None, None).await;
        assert_eq!(
            (o.status, &o.body[..], &o.trailers),
            (
                200,
                &b"body"[..],
                &fields(&[("grpc-status", "0"), ("x-sum", "1")])
            ),
            "{proto:?}"
        );

        // A panicking handler: 500, and the next request is served (on the same
        // connection for HTTP/2 and HTTP/3).
        let o = request(&mut conn, "/panic", None, None).await;
        assert_eq!((o.status, o.aborted), (500, false), "{proto:?}");
        let o = request(&mut conn, "/", None, None).await;
        assert_eq!((o.status, &o.body[..]), (200, &b"plain"[..]), "{proto:?}");
        if proto == Proto::Http1 {
            // HTTP/1.1 keeps the connection too: a panic and a request after it on one
            // connection.
            let addr = handle.local_addrs()[0];
            let both = tokio::task::spawn_blocking(move || {
                use std::io::{Read as _, Write as _};
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                s.write_all(
                    b"GET /panic HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
                )
                .unwrap();
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                while !String::from_utf8_lossy(&got).ends_with("plain") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                String::from_utf8_lossy(&got).into_owned()
            })
            .await
            .unwrap();
            assert!(both.starts_with("HTTP/1.1 500"), "{both}");
            assert!(both.contains("\r\n\r\nHTTP/1.1 200 OK"), "{both}");
            assert!(both.ends_with("plain"), "{both}");
        }

        // A panicking trailer future: the response is aborted (no trailer section, the
        // message never completes) and the panic is counted. The head and body went out
        // first; HTTP/1.1 and HTTP/2 deliver them before the close / RST_STREAM, while a
        // QUIC RESET_STREAM lets the receiver discard unread stream data (RFC 9000
        // §3.2), so an HTTP/3 client may see the reset before the head.
        let o = request(&mut conn, "/panic-trailers", None, None).await;
        if proto == Proto::Http3 {
            assert!(o.status == 200 || o.status == 0, "{proto:?}: {o:?}");
        } else {
            assert_eq!(o.status, 200, "{proto:?}");
        }
        assert!(o.aborted, "{proto:?}: {o:?}");
        assert!(o.trailers.is_empty(), "{proto:?}: {o:?}");

        // Bodies: within the limit echoed, beyond it 413.
        let o = request(&mut conn, "/echo", Some(b"ping".to_vec()), None).await;
        assert_eq!((o.status, &o.body[..]), (200, &b"ping"[..]), "{proto:?}");
        let o = request(
            &mut conn,
            "/echo",
            Some(vec![b'x'; LIMIT as usize * 4]),
            None,
        )
        .await;
        assert_eq!(o.status, 413, "{proto:?}: {o:?}");

        // The scheme: the transport's unless `:scheme` says http or https; an unknown
        // one falls back to the transport.
        let transport = match proto {
            Proto::Http1 | Proto::H2c => "http",
            Proto::H2Tls | Proto::Http3 => "https",
        };
        let mut conn = if proto == Proto::Http1 {
            conn
        } else {
            // A 413 may have ended an HTTP/2 stream with a reset only; use a fresh
            // connection so the scheme checks start clean.
            connect(proto, &handle, &cert).await
        };
        let o = request(&mut conn, "/scheme", None, None).await;
        assert_eq!(String::from_utf8_lossy(&o.body), transport, "{proto:?}");
        if proto != Proto::Http1 {
            let o = request(&mut conn, "/scheme", None, Some("foo")).await;
            assert_eq!(o.status, 200, "{proto:?} unknown scheme: {o:?}");
            assert_eq!(
                String::from_utf8_lossy(&o.body),
                transport,
                "{proto:?} unknown scheme"
            );
        }

        // Counters: the panics of this round (handler + trailer future) and the 413.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let after = handle.stats();
        let panics = if proto == Proto::Http1 { 3 } else { 2 };
        assert_eq!(
            after.handler_panics - before.handler_panics,
            panics,
            "{proto:?}"
        );
        assert_eq!(
            after.errors_with_status(413) - before.errors_with_status(413),
            1,
            "{proto:?}"
        );
        assert_eq!(
            after.errors_with_status(500) - before.errors_with_status(500),
            panics - 1,
            "{proto:?}"
        );
        assert!(after.requests - before.requests >= 10, "{proto:?}");
        if let Conn::Http3(_, ep) = &conn {
            ep.close(0u32.into(), b"done");
        }
    }
    // `/stats` of the one server counts every protocol, with an HTTP/3 breakdown.
    let h3 = handle.http3_stats().expect("HTTP/3 counters");
    assert_eq!(h3.handler_panics, 2);
    assert!(h3.requests >= 10);
    assert!(handle.stats().requests >= 4 * 10);
    assert_eq!(handle.stats().handler_panics, 9);
    // What `/stats` answers: the totals, and the HTTP/3 part alone under "http3".
    let json: serde_json::Value = serde_json::from_str(&handle.stats_source().to_json()).unwrap();
    assert_eq!(json["handler_panics"], 9, "{json}");
    assert_eq!(json["workers"], 1, "{json}");
    assert_eq!(json["http3"]["handler_panics"], 2, "{json}");
    assert_eq!(json["http3"]["errors_by_status"]["413"], 1, "{json}");
    tokio::task::spawn_blocking(move || handle.stop())
        .await
        .unwrap()
        .unwrap();
}
