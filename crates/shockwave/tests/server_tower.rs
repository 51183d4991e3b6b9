//! The `tower::Service` adapter ([`from_tower`]): a service with shared state behind an
//! `Arc`, `poll_ready` honoured on every (cloned) call, errors answered with 500.

mod server_util;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use server_util::{builder, connect, read_response, stop};
use shockwave::server::{from_tower, TowerBody};
use std::io::Write;

#[derive(Clone, Default)]
struct Counter {
    calls: Arc<AtomicUsize>,
    ready_polls: Arc<AtomicUsize>,
}

impl tower_service::Service<http::Request<TowerBody>> for Counter {
    type Response = http::Response<Full<Bytes>>;
    type Error = String;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, String>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        self.ready_polls.fetch_add(1, Ordering::Relaxed);
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<TowerBody>) -> Self::Future {
        let n = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        Box::pin(async move {
            match req.uri().path() {
                "/fail" => Err("service error on purpose".to_string()),
                "/echo" => Ok(http::Response::builder()
                    .header("x-calls", n.to_string())
                    .header("content-type", "application/octet-stream")
                    .body(Full::new(
                        req.into_body().collect().await.unwrap().to_bytes(),
                    ))
                    .unwrap()),
                path => Ok(http::Response::builder()
                    .status(201)
                    .header("x-calls", n.to_string())
                    .header("x-a", "1")
                    .header("x-b", "2")
                    .header("x-c", "3")
                    .body(Full::new(Bytes::from(format!("{} {path}", req.method()))))
                    .unwrap()),
            }
        })
    }
}

#[test]
fn tower_service_serves_requests_with_shared_state() {
    let service = Counter::default();
    let h = builder().start(from_tower(service.clone())).unwrap();
    let mut s = connect(h.local_addr());
    let mut pending = Vec::new();
    s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let r = read_response(&mut s, &mut pending);
    assert_eq!(r.status, 201);
    assert_eq!(r.body, b"GET /hello");
    assert_eq!(r.header("x-calls"), Some("1"));
    assert_eq!(r.header("x-c"), Some("3"));
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        .unwrap();
    let r = read_response(&mut s, &mut pending);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"hello");
    assert_eq!(
        r.header("x-calls"),
        Some("2"),
        "state is shared by the clones"
    );
    s.write_all(b"GET /fail HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let r = read_response(&mut s, &mut pending);
    assert_eq!(r.status, 500);
    let r = read_response(&mut s, &mut pending);
    assert_eq!(r.status, 201, "the connection survives a service error");
    assert_eq!(service.calls.load(Ordering::Relaxed), 4);
    assert_eq!(service.ready_polls.load(Ordering::Relaxed), 4);
    stop(h);
}
