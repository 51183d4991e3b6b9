//! HTTP/2 inside the full server (`shockwave::server::Server`): h2c with prior knowledge
//! and HTTP/1.1 on the same cleartext port, `Upgrade: h2c`, and ALPN `h2` over TLS.

use std::process::Command;
use std::time::Duration;

mod http2_support;
use http2_support::require_peer as peer;

use shockwave::server::routes::DefaultRoutes;
use shockwave::server::{tls, Server, ServerBuilder};

fn builder() -> ServerBuilder {
    Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .workers(1)
        .shutdown_grace(Duration::from_secs(2))
        .handle_signals(false)
}

fn curl(args: &[&str]) -> String {
    peer("curl", "apt-get install -y curl");
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn prior_knowledge_and_http1_share_the_port() {
    let h = builder().start(DefaultRoutes::new()).unwrap();
    let url = format!("http://{}/", h.local_addr());
    let out = curl(&["--http2-prior-knowledge", "-w", " %{http_version}", &url]);
    assert_eq!(out, "Hello, World! 2");
    let out = curl(&["--http1.1", "-w", " %{http_version}", &url]);
    assert_eq!(out, "Hello, World! 1.1");
    let echo = format!("http://{}/echo", h.local_addr());
    let out = curl(&["--http2-prior-knowledge", "--data-binary", "h2 body", &echo]);
    assert_eq!(out, "h2 body");
    let stats = h.stats();
    assert_eq!(stats.requests, 3);
    assert_eq!(stats.responses_by_class[1], 3);
    h.stop().unwrap();
}

#[test]
fn upgrade_h2c() {
    let h = builder().start(DefaultRoutes::new()).unwrap();
    let url = format!("http://{}/json", h.local_addr());
    let out = curl(&["--http2", "-w", " %{http_version}", &url, &url]);
    assert_eq!(
        out,
        "{\"message\":\"Hello, World!\"} 2{\"message\":\"Hello, World!\"} 2"
    );
    h.stop().unwrap();
}

#[test]
fn alpn_h2_over_tls() {
    let ss = tls::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let h = builder()
        .bind_tls("127.0.0.1:0".parse().unwrap())
        .tls(ss.config.clone())
        .start(DefaultRoutes::new())
        .unwrap();
    let url = format!("https://127.0.0.1:{}/", h.tls_local_addrs()[0].port());
    let out = curl(&["-k", "--http2", "-w", " %{http_version}", &url]);
    assert_eq!(out, "Hello, World! 2");
    let out = curl(&["-k", "--http1.1", "-w", " %{http_version}", &url]);
    assert_eq!(out, "Hello, World! 1.1");
    h.stop().unwrap();
}

#[test]
fn h2load_against_the_server() {
    peer("h2load", "apt-get install -y nghttp2-client");
    let h = builder().start(DefaultRoutes::new()).unwrap();
    let url = format!("http://{}/", h.local_addr());
    let out = Command::new("h2load")
        .args(["-n", "1000", "-c", "4", "-m", "10", &url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1000 total, 1000 started, 1000 done, 1000 succeeded, 0 failed, 0 errored"),
        "{text}"
    );
    h.stop().unwrap();
}

// Runs the `shockwave` binary, built with the `cli` feature.
#[cfg(feature = "cli")]
#[test]
fn shockwave_get_http2() {
    let h = builder().start(DefaultRoutes::new()).unwrap();
    let url = format!("http://{}/json", h.local_addr());
    let out = Command::new(env!("CARGO_BIN_EXE_shockwave"))
        .args(["get", "--http2", "-i", &url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("HTTP/2 200\n"), "{text}");
    assert!(text.ends_with("{\"message\":\"Hello, World!\"}"), "{text}");
    h.stop().unwrap();
}
