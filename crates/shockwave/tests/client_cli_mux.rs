//! `shockwave get --http2` / `--http3` go through `client::Client`: curl mode and load
//! mode (one multiplexed connection per load thread, counted by the server).

// Runs the `shockwave` binary, built with the `cli` feature.
#![cfg(feature = "cli")]

use std::process::Command;

use shockwave::server::{handler_fn, tls, Response, Server};

const BIN: &str = env!("CARGO_BIN_EXE_shockwave");

fn get(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).arg("get").args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn get_http2_curl_and_load_mode_over_one_connection() {
    let server = Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .workers(1)
        .handle_signals(false)
        .start(handler_fn(async |_cx| Response::text("multiplexed")))
        .unwrap();
    let url = format!("http://{}/", server.local_addr());
    let (ok, out, err) = get(&["--http2", "-i", &url]);
    assert!(ok, "{err}");
    assert!(out.starts_with("HTTP/2 200\n"), "{out}");
    assert!(out.ends_with("\nmultiplexed"), "{out}");
    assert_eq!(server.stats().connections_accepted, 1);

    let (ok, out, err) = get(&["--http2", "-n", "300", "-c", "20", "--threads", "1", &url]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("Completed:    300 ok, 0 errors"), "{out}");
    assert!(out.contains("Status codes: 200: 300"), "{out}");
    // 20 concurrent requests shared one HTTP/2 connection.
    assert_eq!(server.stats().connections_accepted, 2);

    let (ok, _, err) = get(&["--http2", "--pipeline", "4", "-n", "4", &url]);
    assert!(!ok);
    assert!(err.contains("--pipeline"), "{err}");
    server.stop().unwrap();
}

#[test]
fn get_http3_load_mode_over_one_quic_connection() {
    let cert = tls::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let server = Server::builder()
        .bind_h3("127.0.0.1:0".parse().unwrap())
        .tls(cert.config.clone())
        .workers(1)
        .handle_signals(false)
        .start(handler_fn(async |_cx| Response::text("over quic")))
        .unwrap();
    let url = format!("https://127.0.0.1:{}/", server.h3_local_addrs()[0].port());
    let (ok, out, err) = get(&["--http3", "-k", "-i", &url]);
    assert!(ok, "{err}");
    assert!(out.starts_with("HTTP/3 200 OK\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\nover quic"), "{out}");
    let (ok, out, err) = get(&[
        "--http3",
        "-k",
        "-n",
        "200",
        "-c",
        "16",
        "--threads",
        "1",
        &url,
    ]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("Completed:    200 ok, 0 errors"), "{out}");
    // One QUIC connection for curl mode, one for the load run.
    assert_eq!(server.stats().connections_accepted, 2);
    server.stop().unwrap();
}
