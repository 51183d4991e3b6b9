//! The tokio driver's timers against raw-frame peers: keep-alive PINGs that are never
//! acknowledged close the connection, unacknowledged SETTINGS time out, and a stream
//! stalled on a zero flow-control window is cancelled while the others are served.
//! Timeouts are configured at 50–100 ms; every read is bounded.

mod http2_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use http2_support::{server, Client, F};
use shockwave::http2::Http2Config;
use shockwave_http2_frames::{ErrorCode, SettingId};

/// Reads frames until `until` matches one, EOF (`true`), or 5 s pass (a test failure).
fn read_until(
    sock: &mut TcpStream,
    client: &mut Client,
    until: impl Fn(&F) -> bool,
) -> (Vec<F>, bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut all = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        assert!(
            Instant::now() < deadline,
            "no matching frame in 5 s: {all:?}"
        );
        match sock.read(&mut buf) {
            Ok(0) => return (all, true),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (all, true),
            Ok(n) => {
                let frames = client.parse(&buf[..n]);
                let done = frames.iter().any(&until);
                all.extend(frames);
                if done {
                    return (all, false);
                }
            }
        }
    }
}

fn connect(addr: std::net::SocketAddr) -> TcpStream {
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    sock.set_nodelay(true).unwrap();
    sock
}

fn send(sock: &mut TcpStream, client: &mut Client) {
    let bytes = client.take();
    sock.write_all(&bytes).unwrap();
}

#[test]
fn peer_that_never_acks_pings_is_disconnected() {
    let srv = server::start_with(Http2Config {
        keep_alive_interval: Some(Duration::from_millis(50)),
        keep_alive_timeout: Duration::from_millis(50),
        ..Default::default()
    });
    let mut sock = connect(srv.addr);
    let mut c = Client::new();
    c.preface(&[]).settings_ack();
    send(&mut sock, &mut c);
    let (frames, eof) = read_until(&mut sock, &mut c, |f| matches!(f, F::GoAway { .. }));
    assert!(!eof, "{frames:?}");
    let ping = frames
        .iter()
        .position(|f| matches!(f, F::Ping { ack: false, .. }))
        .expect("a keep-alive PING");
    let goaway = frames
        .iter()
        .position(|f| matches!(f, F::GoAway { .. }))
        .unwrap();
    assert!(ping < goaway);
    assert_eq!(
        frames[goaway],
        F::GoAway {
            last: 0,
            code: ErrorCode::NoError
        }
    );
    // Then the server closes the socket.
    let (_, eof) = read_until(&mut sock, &mut c, |_| false);
    assert!(eof);
}

#[test]
fn peer_that_acks_pings_stays_connected() {
    let srv = server::start_with(Http2Config {
        keep_alive_interval: Some(Duration::from_millis(30)),
        keep_alive_timeout: Duration::from_millis(100),
        ..Default::default()
    });
    let mut sock = connect(srv.addr);
    let mut c = Client::new();
    c.preface(&[]).settings_ack();
    send(&mut sock, &mut c);
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let (frames, eof) = read_until(&mut sock, &mut c, |f| {
            matches!(f, F::Ping { ack: false, .. })
        });
        assert!(!eof, "{frames:?}");
        assert!(!frames.iter().any(|f| matches!(f, F::GoAway { .. })));
        for f in frames {
            if let F::Ping { ack: false, data } = f {
                seen.push(data);
                c.raw(0x6, 0x1, 0, &data); // PING ACK
            }
        }
        send(&mut sock, &mut c);
    }
    seen.dedup();
    assert_eq!(seen.len(), 3, "each PING carries new data");
    c.get(1, "/");
    send(&mut sock, &mut c);
    let (frames, _) = read_until(&mut sock, &mut c, |f| {
        matches!(
            f,
            F::Data {
                id: 1,
                end_stream: true,
                ..
            }
        )
    });
    assert!(frames.iter().any(|f| f.status() == Some("200")));
}

#[test]
fn unacknowledged_settings_time_out() {
    let srv = server::start_with(Http2Config {
        settings_timeout: Duration::from_millis(50),
        ..Default::default()
    });
    let mut sock = connect(srv.addr);
    let mut c = Client::new();
    c.preface(&[]); // never acknowledges the server's SETTINGS
    send(&mut sock, &mut c);
    let (frames, eof) = read_until(&mut sock, &mut c, |f| matches!(f, F::GoAway { .. }));
    assert!(!eof, "{frames:?}");
    assert!(frames.contains(&F::GoAway {
        last: 0,
        code: ErrorCode::SettingsTimeout
    }));
    let (_, eof) = read_until(&mut sock, &mut c, |_| false);
    assert!(eof);
}

#[test]
fn stalled_stream_is_cancelled_and_the_connection_keeps_serving() {
    let srv = server::start_with(Http2Config {
        stream_stall_timeout: Some(Duration::from_millis(100)),
        ..Default::default()
    });
    let mut sock = connect(srv.addr);
    let mut c = Client::new();
    // 100-byte stream windows, and this client never sends WINDOW_UPDATE.
    c.preface(&[(SettingId::InitialWindowSize, 100)])
        .settings_ack()
        .get(1, "/big")
        .get(3, "/");
    send(&mut sock, &mut c);
    let (frames, eof) = read_until(&mut sock, &mut c, |f| matches!(f, F::Rst { id: 1, .. }));
    assert!(!eof, "{frames:?}");
    assert!(frames.contains(&F::Rst {
        id: 1,
        code: ErrorCode::Cancel
    }));
    let data1: usize = frames
        .iter()
        .map(|f| match f {
            F::Data { id: 1, data, .. } => data.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(data1, 100, "only the window's worth was sent");
    // Stream 3 was answered in full meanwhile.
    assert!(frames.contains(&F::Data {
        id: 3,
        data: b"Hello, World!".to_vec(),
        end_stream: true
    }));
    assert!(!frames.iter().any(|f| matches!(f, F::GoAway { .. })));
    // The connection is still usable.
    c.get(5, "/");
    send(&mut sock, &mut c);
    let (frames, eof) = read_until(&mut sock, &mut c, |f| {
        matches!(
            f,
            F::Data {
                id: 5,
                end_stream: true,
                ..
            }
        )
    });
    assert!(!eof, "{frames:?}");
    assert!(frames.iter().any(|f| f.status() == Some("200")));
}

#[test]
fn acknowledged_pings_do_not_keep_an_idle_connection_open() {
    let srv = server::start_with(Http2Config {
        keep_alive_interval: Some(Duration::from_millis(20)),
        keep_alive_timeout: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(150),
        ..Default::default()
    });
    let mut sock = connect(srv.addr);
    let mut c = Client::new();
    c.preface(&[]).settings_ack();
    send(&mut sock, &mut c);
    let mut acked = 0;
    loop {
        let (frames, eof) = read_until(&mut sock, &mut c, |f| {
            matches!(f, F::Ping { ack: false, .. } | F::GoAway { .. })
        });
        assert!(!eof, "{frames:?}");
        if let Some(code) = frames.iter().find_map(|f| match f {
            F::GoAway { code, .. } => Some(*code),
            _ => None,
        }) {
            // The idle timeout, not a missing ACK: every PING was answered.
            assert_eq!(code, ErrorCode::NoError);
            break;
        }
        for f in frames {
            if let F::Ping { ack: false, data } = f {
                c.raw(0x6, 0x1, 0, &data);
                acked += 1;
            }
        }
        send(&mut sock, &mut c);
    }
    assert!(acked >= 2, "keep-alive PINGs were sent ({acked})");
    let (_, eof) = read_until(&mut sock, &mut c, |_| false);
    assert!(eof);
}
