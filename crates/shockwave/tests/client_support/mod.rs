//! Test servers for the client tests: a hyper server with a few routes, and raw-socket
//! servers that send exactly the bytes a test wants. All bind 127.0.0.1:0 and live only
//! as long as the test's runtime.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The 8 MiB body of `/big`: a deterministic, non-repeating-at-short-period pattern.
pub fn big_body() -> &'static [u8] {
    static BIG: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BIG.get_or_init(|| {
        (0..8 * 1024 * 1024u32)
            .map(|i| (i.wrapping_mul(31) ^ (i >> 11)) as u8)
            .collect()
    })
}

/// Our server for the client tests, on epoll (so only the client side varies): one
/// worker, bodies up to 16 MiB. Routes: `/` "Hello, World!", `/big` [`big_body`],
/// `/chunked` "alpha beta gamma" in three pieces, `/echo` the request body, `/slow` an
/// answer after 3 s, anything else 404.
pub fn start_shockwave() -> shockwave::server::ServerHandle {
    use shockwave::server::{handler_fn, Response, Server};
    Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .workers(1)
        .handle_signals(false)
        .max_body_size(16 << 20)
        .start(handler_fn(async |mut cx| match cx.path() {
            "/" => Response::text("Hello, World!"),
            "/big" => Response::ok().body(Bytes::from_static(big_body())),
            "/chunked" => Response::ok().stream(futures_util::stream::iter(
                ["alpha ", "beta ", "gamma"]
                    .into_iter()
                    .map(|s| Ok(Bytes::from_static(s.as_bytes()))),
            )),
            "/echo" => match cx.body().to_arena().await {
                Ok(body) => Response::ok().body(body),
                Err(e) => Response::new(e.status()),
            },
            "/slow" => {
                tokio::time::sleep(Duration::from_secs(3)).await;
                Response::text("too late")
            }
            _ => Response::status_code(404),
        }))
        .unwrap()
}

/// `http://ADDR/PATH` of a server from [`start_shockwave`].
pub fn url(h: &shockwave::server::ServerHandle, path: &str) -> String {
    format!("http://{}{}", h.local_addr(), path)
}

type BoxBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn full(b: impl Into<Bytes>) -> BoxBody {
    Full::new(b.into()).boxed()
}

async fn route(req: Request<Incoming>) -> Result<Response<BoxBody>, Infallible> {
    let path = req.uri().path().to_owned();
    let resp = match path.as_str() {
        "/hello" => Response::new(full("hello world")),
        "/chunked" => {
            let frames = ["chunk one, ", "chunk two, ", "and the last chunk"]
                .into_iter()
                .map(|s| Ok::<_, Infallible>(Frame::data(Bytes::from_static(s.as_bytes()))));
            let body = StreamBody::new(futures_util::stream::iter(frames));
            Response::new(BodyExt::boxed(body))
        }
        "/big" => Response::new(full(Bytes::from_static(big_body()))),
        "/echo" => {
            let method = req.method().to_string();
            let te = req
                .headers()
                .get("transfer-encoding")
                .map(|v| v.to_str().unwrap_or("").to_owned())
                .unwrap_or_default();
            let cl = req
                .headers()
                .get("content-length")
                .map(|v| v.to_str().unwrap_or("").to_owned())
                .unwrap_or_default();
            let body = req
                .into_body()
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            Response::builder()
                .header("x-method", method)
                .header("x-request-te", te)
                .header("x-request-cl", cl)
                .body(full(body))
                .unwrap()
        }
        "/headers" => {
            let mut out = String::new();
            for (n, v) in req.headers() {
                out.push_str(&format!("{}: {}\n", n, v.to_str().unwrap_or("?")));
            }
            Response::new(full(out))
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Response::new(full("too late"))
        }
        "/empty" => Response::builder().status(204).body(full("")).unwrap(),
        p if p.starts_with("/redirect/") => {
            let n: u32 = p["/redirect/".len()..].parse().unwrap_or(0);
            if n == 0 {
                Response::new(full(format!("arrived via {}", req.method())))
            } else {
                Response::builder()
                    .status(302)
                    .header("location", format!("/redirect/{}", n - 1))
                    .body(full("moved"))
                    .unwrap()
            }
        }
        p if p.starts_with("/status/") => {
            let code: u16 = p["/status/".len()..].parse().unwrap_or(500);
            let mut b = Response::builder().status(code);
            if (300..400).contains(&code) {
                b = b.header("location", "/redirect/0");
            }
            b.body(full("")).unwrap()
        }
        _ => Response::builder()
            .status(404)
            .body(full("not found"))
            .unwrap(),
    };
    Ok(resp)
}

/// A hyper HTTP/1.1 server; `accepted` counts TCP connections.
pub struct HyperServer {
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicUsize>,
}

impl HyperServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Starts the hyper server on the current runtime.
pub async fn hyper_server() -> HyperServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve_hyper(stream));
        }
    });
    HyperServer { addr, accepted }
}

/// Serves one connection (any `AsyncRead + AsyncWrite`, e.g. TLS) with the test routes.
pub async fn serve_hyper<S>(stream: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(route);
    let io = hyper_util::rt::TokioIo::new(stream);
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, svc)
        .await;
}

/// Reads one request head (through the blank line) and returns it, or `None` at EOF.
pub async fn read_request_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match stream.read(&mut byte).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => buf.push(byte[0]),
        }
        if buf.ends_with(b"\r\n\r\n") {
            return Some(buf);
        }
    }
}

/// A raw server: for every accepted connection, calls `handler(conn_index, stream)`.
pub async fn raw_server<F, Fut>(handler: F) -> (SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(usize, TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let i = count.fetch_add(1, Ordering::SeqCst);
            let h = handler.clone();
            tokio::spawn(async move { h(i, stream).await });
        }
    });
    (addr, accepted)
}

/// A raw server that answers every request head on a connection with `response`
/// (keep-alive), until the client closes.
pub async fn canned_server(response: &'static [u8]) -> (SocketAddr, Arc<AtomicUsize>) {
    raw_server(move |_, mut s| async move {
        while read_request_head(&mut s).await.is_some() {
            if s.write_all(response).await.is_err() {
                return;
            }
        }
    })
    .await
}
