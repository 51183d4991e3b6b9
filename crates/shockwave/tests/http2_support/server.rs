//! A test server: one thread, a current-thread runtime, our HTTP/2 driver per connection.
#![allow(dead_code)]

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use shockwave::arena::ArenaPool;
use shockwave::http2::Http2Config;
use shockwave::server::{handler_fn, Handler, Response};
use shockwave::server::{serve_connection, ServeContext};
use shockwave_http11::DateCache;
use tokio::sync::watch;

pub struct TestServer {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Trailer fields of `/trailers`: one kept (lowercased on the wire), two dropped
/// (framing and connection-specific names), one kept.
pub const TRAILERS: &[(&[u8], &[u8])] = &[
    (b"X-Checksum", b"abc123"),
    (b"content-length", b"5"),
    (b"connection", b"close"),
    (b"grpc-status", b"0"),
];

/// The routes every HTTP/2 test uses.
pub fn routes() -> impl Handler {
    handler_fn(async |mut cx| {
        let path = cx.path();
        match path {
            "/" => Response::text("Hello, World!"),
            // A response field whose value is the path: distinct paths make the server's
            // HPACK encoder insert distinct entries (fills its dynamic table).
            p if p.starts_with("/fill/") => Response::text("filled").header("x-fill", p),
            "/echo" => match cx.body().to_arena().await {
                Ok(body) => Response::ok().body(body),
                Err(e) => Response::new(e.status()),
            },
            "/big" => {
                let n: usize = cx.query().and_then(|q| q.parse().ok()).unwrap_or(1 << 20);
                match cx.arena().alloc_zeroed(n) {
                    Ok(buf) => {
                        for (i, b) in buf.iter_mut().enumerate() {
                            *b = (i % 251) as u8;
                        }
                        Response::ok().body(&*buf)
                    }
                    Err(_) => Response::status_code(500),
                }
            }
            "/panic" => panic!("handler panic on purpose"),
            "/protocol" => {
                // What the handler sees of an extended CONNECT: the `:protocol` and
                // whether the stream could become a tunnel (answered 418, no tunnel).
                let text = format!("{:?} {}", cx.protocol(), cx.can_upgrade());
                match cx.arena().alloc_str(&text) {
                    Ok(s) => Response::status_code(418).header("x-seen", s),
                    Err(_) => Response::status_code(500),
                }
            }
            "/stream" => Response::ok().stream(futures_util::stream::iter(
                ["one ", "two ", "three"].map(|s| Ok(bytes::Bytes::from_static(s.as_bytes()))),
            )),
            "/info" => {
                let r = cx.request();
                let text = format!(
                    "{} {} {:?} {:?} {}",
                    r.method(),
                    r.target(),
                    r.version(),
                    r.authority(),
                    r.headers().len()
                );
                match cx.arena().alloc_str(&text) {
                    Ok(s) => Response::text(s),
                    Err(_) => Response::status_code(500),
                }
            }
            "/echo-trailers" => {
                // The request body's length, then each request trailer as `name=value;`.
                let Ok(body) = cx.body().to_arena().await else {
                    return Response::status_code(400);
                };
                let mut text = format!("{}:", body.len());
                if let Some(t) = cx.body().trailers() {
                    for (n, v) in t.iter() {
                        text.push_str(&format!(
                            "{}={};",
                            String::from_utf8_lossy(n),
                            String::from_utf8_lossy(v)
                        ));
                    }
                }
                match cx.arena().alloc_str(&text) {
                    Ok(s) => Response::text(s),
                    Err(_) => Response::status_code(500),
                }
            }
            "/trailers" => Response::text("with trailers").trailers(TRAILERS),
            "/trailers-deferred" => Response::ok()
                .stream(futures_util::stream::iter(
                    ["part one, ", "part two"].map(|s| Ok(bytes::Bytes::from_static(s.as_bytes()))),
                ))
                .trailers_deferred(async {
                    tokio::task::yield_now().await;
                    let mut m = http::HeaderMap::new();
                    m.insert("grpc-status", http::HeaderValue::from_static("0"));
                    m.insert("grpc-message", http::HeaderValue::from_static("done"));
                    m
                }),
            "/trailers-dropped" => Response::text("body").trailers_deferred(async {
                // Only forbidden names: no trailer section, END_STREAM on an empty DATA.
                let mut m = http::HeaderMap::new();
                m.insert("connection", http::HeaderValue::from_static("close"));
                m.insert("content-length", http::HeaderValue::from_static("4"));
                m
            }),
            "/slow" => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                Response::text("slow")
            }
            _ => Response::status_code(404),
        }
    })
}

pub fn start() -> TestServer {
    start_with(Http2Config::default())
}

/// A TLS server (self-signed, ALPN `h2`).
pub fn start_tls() -> TestServer {
    let ss = shockwave::server::tls::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let mut tls = (*ss.config).clone();
    tls.alpn_protocols = vec![b"h2".to_vec()];
    spawn(
        Http2Config::default(),
        Some(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(tls))),
    )
}

pub fn start_with(config: Http2Config) -> TestServer {
    spawn(config, None)
}

fn spawn(config: Http2Config, tls: Option<tokio_rustls::TlsAcceptor>) -> TestServer {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let (stop, stop_rx) = watch::channel(false);
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            let state = Rc::new((
                routes(),
                ArenaPool::default(),
                RefCell::new(DateCache::new(std::time::SystemTime::now())),
            ));
            let mut stop_rx2 = stop_rx.clone();
            loop {
                let (stream, remote) = tokio::select! {
                    r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
                    _ = stop_rx2.wait_for(|s| *s) => break,
                };
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let config = config.clone();
                let stop_rx = stop_rx.clone();
                let tls = tls.clone();
                tokio::task::spawn_local(async move {
                    let mut cx = ServeContext::new(&state.0, &state.1);
                    cx.config = config;
                    cx.remote_addr = Some(remote);
                    let date = || shockwave::server::cached_date(&state.2);
                    cx.date = Some(&date);
                    cx.shutdown = Some(stop_rx);
                    match tls {
                        None => {
                            let _ = serve_connection(stream, cx, &[]).await;
                        }
                        Some(acceptor) => {
                            if let Ok(s) = acceptor.accept(stream).await {
                                assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
                                cx.scheme = shockwave::server::Scheme::Https;
                                let _ = serve_connection(s, cx, &[]).await;
                            }
                        }
                    }
                });
            }
        });
    });
    TestServer {
        addr,
        stop,
        thread: Some(thread),
    }
}
