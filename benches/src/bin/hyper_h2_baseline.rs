//! The hyper HTTP/2 (h2c prior knowledge) baseline for `h2load`: the same `/` route as
//! `examples/http2_server.rs`, on one current-thread runtime (like the example), with the
//! same windows (1 MiB stream and connection) and 200 concurrent streams.
//!
//! ```sh
//! cargo run --release -p shockwave-benches --bin hyper_h2_baseline -- 127.0.0.1:8082
//! h2load -n 200000 -c 16 -m 100 http://127.0.0.1:8082/
//! ```

use std::convert::Infallible;

use bytes::Bytes;
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::body::{Body as HttpBody, Frame};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};

static CHUNK: [u8; 1 << 20] = [b'x'; 1 << 20];

type Body = Either<Full<Bytes>, ChunkBody>;

/// `left` bytes in 1 MiB static chunks.
struct ChunkBody {
    left: usize,
}

impl HttpBody for ChunkBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let len = self.left.min(CHUNK.len());
        self.left -= len;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&CHUNK[..len])))))
    }
}

/// `/` → `Hello, World!`; `/bytes?N` → N bytes in 1 MiB chunks (the throughput run).
async fn route(req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let resp = match req.uri().path() {
        "/" => Response::builder()
            .header("content-type", "text/plain; charset=utf-8")
            .body(Either::Left(Full::new(Bytes::from_static(
                b"Hello, World!",
            )))),
        "/bytes" => {
            let n: usize = req
                .uri()
                .query()
                .and_then(|q| q.parse().ok())
                .unwrap_or(1 << 30);
            Response::builder().body(Either::Right(ChunkBody { left: n }))
        }
        _ => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Either::Left(Full::new(Bytes::new()))),
    };
    Ok(resp.expect("static response parts are valid"))
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8082".to_string());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("hyper HTTP/2 baseline on http://{}", listener.local_addr()?);
        loop {
            let (tcp, _) = listener.accept().await?;
            let _ = tcp.set_nodelay(true);
            tokio::spawn(async move {
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .initial_stream_window_size(1 << 20)
                    .initial_connection_window_size(1 << 20)
                    .max_concurrent_streams(200)
                    .serve_connection(TokioIo::new(tcp), hyper::service::service_fn(route))
                    .await;
            });
        }
    })
}
