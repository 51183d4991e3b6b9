//! The hyper HTTP/2 (h2c prior knowledge) baseline for `h2load`: the same `/` route as
//! `examples/http2_server.rs`, on one current-thread runtime (like the example), with the
//! same windows (1 MiB stream and connection) and 200 concurrent streams.
//!
//! With `CERT.pem KEY.pem` after the address it serves HTTP/2 over TLS instead (rustls
//! through tokio-rustls, ALPN `h2`): the TLS h2 row of `cargo xtask bench`.
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

/// A TLS acceptor offering only `h2` for `cert` and `key` (PEM files).
fn tls_acceptor(cert: &str, key: &str) -> std::io::Result<tokio_rustls::TlsAcceptor> {
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |e: &dyn std::fmt::Display| std::io::Error::other(e.to_string());
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&e))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(&e))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(&e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad(&e))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)))
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8082".to_string());
    let tls = match (args.next(), args.next()) {
        (Some(cert), Some(key)) => Some(tls_acceptor(&cert, &key)?),
        _ => None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        println!(
            "hyper HTTP/2 baseline on {scheme}://{}",
            listener.local_addr()?
        );
        loop {
            let (tcp, _) = listener.accept().await?;
            let _ = tcp.set_nodelay(true);
            let tls = tls.clone();
            tokio::spawn(async move {
                let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
                builder
                    .initial_stream_window_size(1 << 20)
                    .initial_connection_window_size(1 << 20)
                    .max_concurrent_streams(200);
                let service = hyper::service::service_fn(route);
                match tls {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(tcp).await {
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                    }
                    None => {
                        let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
                    }
                }
            });
        }
    })
}
