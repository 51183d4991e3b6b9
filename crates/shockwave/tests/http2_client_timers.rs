//! The HTTP/2 client runs the engine's timers: keep-alive PINGs on an idle connection
//! (RFC 9113 §6.7), closing a connection whose peer does not acknowledge them, and the
//! SETTINGS acknowledgement timeout (§6.5.3). The peer is a raw TCP socket speaking
//! frames written with `shockwave::http2::frames`, so the test controls exactly what it
//! acknowledges.

use std::net::SocketAddr;
use std::time::Duration;

use shockwave::client::{Client, ErrorKind, Http2Client, TimeoutKind};
use shockwave::http2::frames::{self, ErrorCode, Frame, FrameDecoder, Ping, PREFACE};
use shockwave::http2::Http2Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Every test finishes well within this (it only bounds a hang).
const BOUND: Duration = Duration::from_secs(20);

/// What the raw peer does with the client's frames.
#[derive(Clone, Copy)]
struct PeerPolicy {
    ack_settings: bool,
    ack_pings: bool,
    /// Stop (and report) after this many PINGs.
    stop_after_pings: usize,
}

/// What the raw peer saw.
#[derive(Debug, Default)]
struct Seen {
    pings: usize,
    headers: usize,
    goaway: Option<ErrorCode>,
    /// The client closed the socket.
    eof: bool,
}

async fn listen() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

/// Serves one connection as a minimal HTTP/2 server that never answers requests: sends
/// its (empty) SETTINGS, then acknowledges SETTINGS and PINGs as `policy` says, until the
/// client closes the connection or `stop_after_pings` PINGs arrived.
async fn raw_peer(listener: TcpListener, policy: PeerPolicy) -> Seen {
    let (mut tcp, _) = listener.accept().await.unwrap();
    let mut out = Vec::new();
    frames::encode_settings(&mut out, &[]).unwrap();
    tcp.write_all(&out).await.unwrap();
    let mut seen = Seen::default();
    let mut buf = Vec::new();
    let mut preface_done = false;
    let mut decoder = FrameDecoder::default();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = match tcp.read(&mut chunk).await {
            Ok(0) | Err(_) => {
                seen.eof = true;
                return seen;
            }
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        if !preface_done {
            if buf.len() < PREFACE.len() {
                continue;
            }
            assert_eq!(&buf[..PREFACE.len()], PREFACE, "client preface");
            buf.drain(..PREFACE.len());
            preface_done = true;
        }
        out.clear();
        let mut used = 0;
        while let Some((frame, n)) = decoder.decode(&buf[used..]).unwrap() {
            used += n;
            match frame {
                Frame::Settings(s) if !s.is_ack() && policy.ack_settings => {
                    frames::encode_settings_ack(&mut out)
                }
                Frame::Ping(p) if !p.ack => {
                    seen.pings += 1;
                    if policy.ack_pings {
                        Ping {
                            ack: true,
                            data: p.data,
                        }
                        .encode(&mut out)
                        .unwrap();
                    }
                }
                Frame::Headers(_) => seen.headers += 1,
                Frame::GoAway(g) => seen.goaway = Some(g.error_code),
                _ => {}
            }
        }
        buf.drain(..used);
        if !out.is_empty() && tcp.write_all(&out).await.is_err() {
            seen.eof = true;
            return seen;
        }
        if policy.stop_after_pings > 0 && seen.pings >= policy.stop_after_pings {
            return seen;
        }
    }
}

fn timers_config() -> Http2Config {
    Http2Config {
        keep_alive_interval: Some(Duration::from_millis(100)),
        keep_alive_timeout: Duration::from_millis(400),
        settings_timeout: Duration::from_millis(400),
        ..Http2Config::default()
    }
}

#[tokio::test]
async fn an_idle_client_connection_sends_keep_alive_pings() {
    let (listener, addr) = listen().await;
    let peer = tokio::spawn(raw_peer(
        listener,
        PeerPolicy {
            ack_settings: true,
            ack_pings: true,
            stop_after_pings: 3,
        },
    ));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let client = Http2Client::connect(tcp, timers_config());
    let seen = tokio::time::timeout(BOUND, peer)
        .await
        .expect("the idle connection sends keep-alive PINGs")
        .unwrap();
    assert!(seen.pings >= 3, "{seen:?}");
    assert_eq!(seen.headers, 0, "no request was sent");
    // Acknowledged PINGs keep the connection alive.
    assert!(client.is_usable(), "{seen:?}");
}

#[tokio::test]
async fn a_peer_that_never_acks_the_ping_is_dropped() {
    let (listener, addr) = listen().await;
    let peer = tokio::spawn(raw_peer(
        listener,
        PeerPolicy {
            ack_settings: true,
            ack_pings: false,
            stop_after_pings: 0,
        },
    ));
    let client = Client::builder()
        .http2_prior_knowledge()
        .http2_config(timers_config())
        .request_timeout(Some(BOUND))
        .build()
        .unwrap();
    let url = format!("http://{addr}/");
    let err = tokio::time::timeout(BOUND, client.get(&url).send())
        .await
        .expect("the request ends when the connection is dropped")
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Timeout(TimeoutKind::KeepAlive),
        "{err:?}"
    );
    assert!(err.is_timeout(), "{err}");
    // The dead connection left the pool.
    assert_eq!(client.http2_connections(&url), 0);
    let seen = tokio::time::timeout(BOUND, peer).await.unwrap().unwrap();
    assert_eq!(seen.headers, 1, "{seen:?}");
    assert!(seen.pings >= 1, "{seen:?}");
    assert_eq!(seen.goaway, Some(ErrorCode::NoError), "{seen:?}");
    assert!(seen.eof, "the client closed the socket: {seen:?}");
}

#[tokio::test]
async fn settings_never_acknowledged_close_the_connection_with_settings_timeout() {
    let (listener, addr) = listen().await;
    let peer = tokio::spawn(raw_peer(
        listener,
        PeerPolicy {
            ack_settings: false,
            ack_pings: true,
            stop_after_pings: 0,
        },
    ));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let config = Http2Config {
        keep_alive_interval: None,
        ..timers_config()
    };
    let client = Http2Client::connect(tcp, config);
    let req = http::Request::get(format!("http://{addr}/"))
        .body(bytes::Bytes::new())
        .unwrap();
    let err = tokio::time::timeout(BOUND, client.send(req))
        .await
        .expect("the request ends with the connection")
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Timeout(TimeoutKind::Settings),
        "{err:?}"
    );
    let seen = tokio::time::timeout(BOUND, peer).await.unwrap().unwrap();
    assert_eq!(seen.goaway, Some(ErrorCode::SettingsTimeout), "{seen:?}");
    assert!(seen.eof, "{seen:?}");
    assert!(client.is_closed());
}
