//! Request-body memory and minimum data rates on HTTP/3: a request body trickled a byte at
//! a time is cut (H3_REQUEST_CANCELLED), a handler slow to read its body is not, a reader
//! that drains its response too slowly is cut, and uploads that are never answered stay
//! within the worker's body budget while legitimate concurrent uploads still finish.
//! Rates are small (1000 B/s, 100 KB/s) with a 300 ms grace so each test takes a few
//! seconds at most; 127.0.0.1 only.

// HTTP/3 needs the `http3` feature.
#![cfg(feature = "http3")]

mod h3_support;

use std::time::{Duration, Instant};

use h3_support::{control, quic_connect, stop};
use shockwave::http3::frame;
use shockwave::http3::qpack::Encoder;
use shockwave::http3::Http3Config;
use shockwave::server::{handler_fn, tls, MinDataRate, Response, Server, ServerHandle};

const REQUEST_CANCELLED: u64 = 0x10c;

static BIG: [u8; 8 << 20] = [b'b'; 8 << 20];

fn start(
    body: Option<MinDataRate>,
    response: Option<MinDataRate>,
) -> (ServerHandle, tls::SelfSigned) {
    start_with(body, response, 16 << 20, 256 << 20)
}

fn start_with(
    body: Option<MinDataRate>,
    response: Option<MinDataRate>,
    max_body: u64,
    worker_budget: u64,
) -> (ServerHandle, tls::SelfSigned) {
    let cert = tls::self_signed(&["localhost"]).unwrap();
    let handler = handler_fn(async |mut cx| match cx.path() {
        "/late" => {
            tokio::time::sleep(Duration::from_secs(1)).await;
            match cx.body().to_arena().await {
                Ok(b) => Response::ok().body(b),
                Err(e) => Response::new(e.status()),
            }
        }
        "/big" => Response::ok().body(&BIG[..]),
        _ => match cx.body().to_arena().await {
            Ok(b) => Response::ok().body(b),
            Err(e) => Response::new(e.status()),
        },
    });
    let h = Server::builder()
        .bind_h3("127.0.0.1:0".parse().unwrap())
        .tls(cert.config.clone())
        .workers(1)
        .shutdown_grace(Duration::from_millis(500))
        .min_request_body_rate(body)
        .min_response_rate(response)
        .max_body_size(max_body)
        .max_body_bytes_per_worker(worker_budget)
        .handle_signals(false)
        .build()
        .start(handler)
        .unwrap();
    (h, cert)
}

async fn connect(
    h: &ServerHandle,
    cert: &tls::SelfSigned,
    config: &Http3Config,
) -> (quinn::Endpoint, quinn::Connection) {
    quic_connect(h.local_addr(), cert, config).await
}

fn head(method: &str, path: &str, len: Option<usize>) -> Vec<u8> {
    let len = len.map(|l| l.to_string());
    let mut fields: Vec<(&[u8], &[u8])> = vec![
        (b":method", method.as_bytes()),
        (b":scheme", b"https"),
        (b":authority", b"localhost"),
        (b":path", path.as_bytes()),
    ];
    if let Some(l) = &len {
        fields.push((b"content-length", l.as_bytes()));
    }
    let mut out = Vec::new();
    Encoder::new()
        .encode_headers_frame(fields, &mut out)
        .unwrap();
    out
}

fn rate(bytes_per_second: u64) -> Option<MinDataRate> {
    Some(MinDataRate {
        bytes_per_second,
        grace: Duration::from_millis(300),
    })
}

#[tokio::test]
async fn h3_slow_post_is_cut_and_a_late_reading_handler_is_not() {
    let (h, cert) = start(rate(1000), None);
    let (_ep, conn) = connect(&h, &cert, &Http3Config::default()).await;
    let _c = control(&conn).await;

    // A handler that reads its body after 1 s: served.
    let (mut send, recv) = conn.open_bi().await.unwrap();
    let mut w = head("POST", "/late", Some(5));
    frame::encode_data(b"hello", &mut w).unwrap();
    send.write_all(&w).await.unwrap();
    send.finish().unwrap();
    let late = tokio::spawn(async move {
        let mut recv = recv;
        recv.read_to_end(1 << 16).await
    });

    // One byte every 100 ms: cut once the grace period is over.
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    send.write_all(&head("POST", "/echo", Some(10_000)))
        .await
        .unwrap();
    let start = Instant::now();
    let trickle = tokio::spawn(async move {
        for _ in 0..30 {
            let mut w = Vec::new();
            frame::encode_data(b"z", &mut w).unwrap();
            if send.write_all(&w).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let r = tokio::time::timeout(Duration::from_secs(4), recv.read_to_end(1 << 16))
        .await
        .expect("the slow body was not cut");
    match r {
        Err(quinn::ReadToEndError::Read(quinn::ReadError::Reset(code))) => {
            assert_eq!(code.into_inner(), REQUEST_CANCELLED)
        }
        other => panic!("expected a reset, got {other:?}"),
    }
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    trickle.abort();

    let body = late.await.unwrap().expect("the late reader was served");
    assert!(body.ends_with(b"hello"), "{body:?}");
    stop(h).await;
}

#[tokio::test]
async fn h3_slow_reader_is_cut() {
    let (h, cert) = start(None, rate(100_000));
    // A small receive window: the server waits on our reads right away.
    let client = Http3Config {
        stream_receive_window: 16 * 1024,
        ..Http3Config::default()
    };
    let (_ep, conn) = connect(&h, &cert, &client).await;
    let _c = control(&conn).await;
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    send.write_all(&head("GET", "/big", None)).await.unwrap();
    send.finish().unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 10];
    let mut got = 0usize;
    let code = loop {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "still served after {got} bytes"
        );
        match recv.read(&mut buf).await {
            Ok(Some(n)) => got += n,
            Ok(None) => panic!("the whole response arrived ({got} bytes)"),
            Err(quinn::ReadError::Reset(code)) => break code.into_inner(),
            Err(e) => panic!("{e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(code, REQUEST_CANCELLED);
    assert!(got < BIG.len());
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    stop(h).await;
}

const MIB: usize = 1 << 20;

/// Sends a POST of `len` bytes to `/echo` on a new stream (in 64 KiB writes); returns the
/// stream's receive half (unread) once every byte was written.
async fn upload(conn: quinn::Connection, len: usize) -> quinn::RecvStream {
    let (mut send, recv) = conn.open_bi().await.unwrap();
    let mut w = head("POST", "/echo", Some(len));
    frame::encode_data_header(len as u64, &mut w).unwrap();
    send.write_all(&w).await.unwrap();
    let chunk = vec![b'u'; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len());
        send.write_all(&chunk[..n]).await.unwrap();
        left -= n;
    }
    send.finish().unwrap();
    recv
}

#[tokio::test]
async fn h3_uploads_that_are_never_answered_stay_within_the_worker_budget() {
    // QUIC gives credit back as the handler reads: without the budget every handler
    // reads its whole body (10 x 2 MiB here) and holds it.
    let (h, cert) = start_with(None, None, 2 * MIB as u64, MIB as u64);
    let (_ep, conn) = connect(&h, &cert, &Http3Config::default()).await;
    let _c = control(&conn).await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let conn = conn.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::timeout(Duration::from_secs(3), upload(conn, 2 * MIB)).await
        }));
    }
    let mut held = Vec::new();
    let mut finished = 0;
    for t in tasks {
        if let Ok(recv) = t.await.unwrap() {
            finished += 1;
            held.push(recv); // never read, kept open
        }
    }
    tokio::time::sleep(Duration::from_millis(250)).await; // published every 100 ms
    let s = h.stats();
    eprintln!(
        "{finished} of 10 uploads accepted in full; peak held {} bytes",
        s.body_bytes_held_peak
    );
    assert!(
        s.body_bytes_held_peak <= (3 * MIB + 256 * 1024) as u64,
        "peak {}",
        s.body_bytes_held_peak
    );
    assert!(
        s.body_bytes_held_peak >= MIB as u64,
        "peak {}",
        s.body_bytes_held_peak
    );
    assert!(finished < 10, "every upload was taken in full");
    drop(held);
    conn.close(0u32.into(), b"bye");
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        tokio::time::sleep(Duration::from_millis(150)).await;
        if h.stats().body_bytes_held == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{:?}", h.stats());
    }
    stop(h).await;
}

#[tokio::test]
async fn h3_concurrent_uploads_all_finish_under_a_small_worker_budget() {
    let (h, cert) = start_with(None, None, 2 * MIB as u64, MIB as u64);
    let (_ep, conn) = connect(&h, &cert, &Http3Config::default()).await;
    let _c = control(&conn).await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let conn = conn.clone();
        tasks.push(tokio::spawn(async move {
            let up = tokio::spawn(upload(conn, 3 * MIB / 2));
            let mut recv = up.await.unwrap();
            recv.read_to_end(4 * MIB).await.unwrap()
        }));
    }
    for t in tasks {
        let raw = tokio::time::timeout(Duration::from_secs(20), t)
            .await
            .expect("an upload did not finish")
            .unwrap();
        assert!(raw.len() > 3 * MIB / 2, "{} bytes", raw.len());
        assert!(raw.ends_with(&[b'u'; 1024]));
    }
    stop(h).await;
}
