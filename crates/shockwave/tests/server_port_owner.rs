//! A port that another socket already serves is refused: the server never joins a foreign
//! `SO_REUSEPORT` group (which would let the kernel split connections between the two
//! programs), on TCP, TLS and HTTP/3 UDP addresses, and `shockwave serve` exits non-zero.
#![cfg(all(unix, feature = "server"))]

use std::net::SocketAddr;

use shockwave::server::routes::DefaultRoutes;
use shockwave::server::Server;
use socket2::{Domain, Protocol, Socket, Type};

/// What another program does: a listening TCP socket with `SO_REUSEADDR` + `SO_REUSEPORT`.
fn foreign_tcp_listener() -> (Socket, SocketAddr) {
    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    s.set_reuse_address(true).unwrap();
    s.set_reuse_port(true).unwrap();
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    s.bind(&addr.into()).unwrap();
    s.listen(128).unwrap();
    let local = s.local_addr().unwrap().as_socket().unwrap();
    (s, local)
}

#[test]
fn tcp_address_held_by_a_foreign_reuseport_listener_is_refused() {
    let (_foreign, addr) = foreign_tcp_listener();
    for workers in [1, 3] {
        let err = Server::builder()
            .bind(addr)
            .workers(workers)
            .handle_signals(false)
            .start(DefaultRoutes::new())
            .err()
            .unwrap_or_else(|| {
                panic!("{workers} workers: started on a port another socket serves")
            });
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(&addr.to_string()),
            "the error names the address: {msg}"
        );
    }
}

#[test]
fn own_workers_still_share_the_port() {
    // Several workers on one address (the port picked by the first socket) still bind,
    // and the kernel spreads connections over their sockets (one SO_REUSEPORT group,
    // although the first socket turned SO_REUSEPORT on only after its bind).
    let h = Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .workers(3)
        .handle_signals(false)
        .start(shockwave::server::handler_fn(async |cx| {
            let name = format!("{:?}", std::thread::current().id());
            shockwave::server::Response::text(cx.arena().alloc_str(&name).unwrap())
        }))
        .unwrap();
    let addr = h.local_addr();
    let mut threads = std::collections::HashSet::new();
    for _ in 0..60 {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        use std::io::{Read, Write};
        s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        assert!(out.starts_with(b"HTTP/1.1 200 "));
        let body = out.split(|&b| b == b'\n').next_back().unwrap().to_vec();
        threads.insert(body);
    }
    // 60 connections over 3 sockets by source-port hash: all on one is (1/3)^59.
    assert!(threads.len() >= 2, "{threads:?}");
    // And once we hold the port, a foreign SO_REUSEPORT socket cannot join us while we run
    // with one worker (no SO_REUSEPORT at all).
    let one = Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .workers(1)
        .handle_signals(false)
        .start(DefaultRoutes::new())
        .unwrap();
    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    s.set_reuse_address(true).unwrap();
    s.set_reuse_port(true).unwrap();
    assert!(s.bind(&one.local_addr().into()).is_err());
    one.shutdown();
    h.shutdown();
}

#[cfg(feature = "tls")]
#[test]
fn tls_address_held_by_a_foreign_listener_is_refused() {
    let (_foreign, addr) = foreign_tcp_listener();
    let ss = shockwave::server::tls::self_signed(&["localhost"]).unwrap();
    let err = Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .bind_tls(addr)
        .tls(ss.config)
        .workers(2)
        .handle_signals(false)
        .start(DefaultRoutes::new())
        .err()
        .unwrap_or_else(|| panic!("started on a TLS port another socket serves"));
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

#[cfg(feature = "http3")]
#[test]
fn udp_address_held_by_a_foreign_reuseport_socket_is_refused() {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    s.set_reuse_port(true).unwrap();
    s.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    let addr = s.local_addr().unwrap().as_socket().unwrap();
    for workers in [1, 2] {
        let ss = shockwave::server::tls::self_signed(&["localhost"]).unwrap();
        let err = Server::builder()
            .bind("127.0.0.1:0".parse().unwrap())
            .bind_h3(addr)
            .tls(ss.config)
            .workers(workers)
            .handle_signals(false)
            .start(DefaultRoutes::new())
            .err()
            .unwrap_or_else(|| panic!("started on a UDP port another socket serves"));
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
    }
}

#[cfg(feature = "cli")]
#[test]
fn serve_exits_non_zero_on_a_port_another_process_serves() {
    use std::time::{Duration, Instant};
    let (_foreign, addr) = foreign_tcp_listener();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_shockwave"))
        .args(["serve", "--addr", &addr.to_string(), "--workers", "2"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("`serve` kept running on a port another socket serves");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success(), "{status:?}");
    assert!(stderr.contains("already in use"), "{stderr}");
    assert!(stderr.contains(&addr.to_string()), "{stderr}");
}
