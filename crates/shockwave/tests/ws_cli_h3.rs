//! `shockwave ws --http3`: WebSocket over HTTP/3 (RFC 9220) from the command line against
//! an in-process HTTP/3 server with the default routes (`/ws` echo), in the interactive
//! and the load mode.

// Runs the `shockwave` binary, built with the `cli` feature (which brings `http3`).
#![cfg(feature = "cli")]

use std::process::{Command, Stdio};

use shockwave::server::routes::DefaultRoutes;
use shockwave::server::{tls, Server};

fn ws(args: &[&str], input: &[u8]) -> (bool, String, String) {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_shockwave"))
        .arg("ws")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    // `--timeout 10` bounds the handshake; the echo and close take milliseconds.
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn ws_http3_echoes_stdin_lines_and_runs_the_load_mode() {
    let cert = tls::self_signed(&["localhost"]).unwrap();
    let server = Server::builder()
        .bind_h3("127.0.0.1:0".parse().unwrap())
        .tls(cert.config.clone())
        .workers(1)
        .handle_signals(false)
        .start(DefaultRoutes::new())
        .unwrap();
    let dir = std::env::temp_dir().join(format!("shockwave-ws-cli-h3-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("ca.pem");
    std::fs::write(&pem, &cert.cert_pem).unwrap();
    let pem = pem.to_str().unwrap().to_owned();
    let url = format!("wss://localhost:{}/ws", server.local_addr().port());
    let common = ["--http3", "--timeout", "10", "--cacert", &pem];

    let mut args = common.to_vec();
    args.push(&url);
    let (ok, out, err) = ws(&args, b"hello\nover quic\n");
    assert!(ok, "{err}");
    assert_eq!(out, "hello\nover quic\n");
    assert!(err.contains("closed: 1000"), "{err}");

    let mut args = common.to_vec();
    args.extend([url.as_str(), "-n", "200", "-c", "2", "--size", "2000"]);
    let (ok, out, err) = ws(&args, b"");
    assert!(ok, "{err}\n{out}");
    assert!(out.contains("Completed:    200 ok, 0 errors"), "{out}");

    // QUIC always runs TLS.
    let plain = format!("ws://localhost:{}/ws", server.local_addr().port());
    let (ok, _, err) = ws(&["--http3", &plain], b"");
    assert!(!ok);
    assert!(err.contains("--http3 needs a wss:// URL"), "{err}");

    let _ = std::fs::remove_dir_all(&dir);
    // Every socket was a stream of HTTP/3 connections to this server.
    let stats = server.http3_stats().expect("HTTP/3 stats");
    assert!(stats.requests >= 3, "{stats:?}");
    server.stop().unwrap();
}
