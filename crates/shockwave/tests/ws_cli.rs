//! `shockwave ws`: the websocat-like mode (stdin lines out, messages printed, the close
//! code on stderr) and the echo load mode, over HTTP/1.1 and HTTP/2 (`--http2`, RFC
//! 8441), through the binary against an in-process server with the default routes
//! (`/ws` echo), a route that closes with 4001 and one that names the HTTP version.

// Runs the `shockwave` binary, built with the `cli` feature.
#![cfg(feature = "cli")]

use std::io::{Read as _, Write as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use shockwave::server::routes::DefaultRoutes;
use shockwave::server::ws::{CloseCode, Message, WebSocketUpgrade};
use shockwave::server::{Handler, RequestContext, Response, Server, ServerHandle};

/// The default routes plus `/bye`: an echo that answers the text `bye` with Close 4001
/// "see you", and answers binary messages with their length as text.
struct Routes(DefaultRoutes);

impl Handler for Routes {
    async fn call<'a>(&'a self, cx: RequestContext<'a>) -> Response<'a> {
        if cx.path() == "/version" {
            // Says which HTTP version carried the handshake, then echoes text.
            let version = format!("{:?}", cx.request().version());
            return match WebSocketUpgrade::from_request(&cx) {
                Ok(ws) => ws.on_upgrade(|mut socket| async move {
                    let _ = socket.send(Message::Text(version)).await;
                    while let Some(Ok(Message::Text(t))) = socket.recv().await {
                        if socket.send(Message::Text(t)).await.is_err() {
                            break;
                        }
                    }
                }),
                Err(refusal) => refusal,
            };
        }
        if cx.path() != "/bye" {
            return self.0.call(cx).await;
        }
        match WebSocketUpgrade::from_request(&cx) {
            Ok(ws) => ws.on_upgrade(|mut socket| async move {
                while let Some(Ok(m)) = socket.recv().await {
                    let r = match m {
                        Message::Text(t) if t == "bye" => {
                            let _ = socket.close(CloseCode(4001), "see you").await;
                            break;
                        }
                        Message::Text(t) => socket.send(Message::Text(t)).await,
                        Message::Binary(b) => socket.send(Message::Binary(b)).await,
                        _ => Ok(()),
                    };
                    if r.is_err() {
                        break;
                    }
                }
            }),
            Err(refusal) => refusal,
        }
    }
}

fn start() -> ServerHandle {
    Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .workers(1)
        .handle_signals(false)
        .start(Routes(DefaultRoutes::new()))
        .unwrap()
}

/// Runs `shockwave ws ARGS` with `input` on stdin (closed afterwards unless `keep_open`),
/// killed after 30 s at most: (success, stdout, stderr).
fn ws(args: &[&str], input: &[u8], keep_open: bool) -> (bool, Vec<u8>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shockwave"))
        .arg("ws")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    stdin.flush().unwrap();
    let held = if keep_open {
        Some(stdin)
    } else {
        drop(stdin);
        None
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("shockwave ws did not exit within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(held);
    let (mut out, mut err) = (Vec::new(), String::new());
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.success(), out, err)
}

#[test]
fn stdin_lines_are_echoed_and_eof_closes_with_1000() {
    let server = start();
    let url = format!("ws://{}/ws", server.local_addr());
    let (ok, out, err) = ws(&[&url], b"hello\nworld\n", false);
    assert!(ok, "{err}");
    assert_eq!(String::from_utf8_lossy(&out), "hello\nworld\n");
    // Our Close 1000 on end of input, answered with 1000.
    assert_eq!(err.trim(), "closed: 1000", "{err}");

    // Binary messages: printed as hex, or raw with --raw.
    let (ok, out, err) = ws(&["--binary", &url], b"hi\r\n\x01\n", false);
    assert!(ok, "{err}");
    assert_eq!(String::from_utf8_lossy(&out), "6869\n01\n");
    let (ok, out, err) = ws(&["--binary", "--raw", &url], b"hi\n", false);
    assert!(ok, "{err}");
    assert_eq!(out, b"hi");
    assert_eq!(server.stats().connections_accepted, 3);
    server.stop().unwrap();
}

#[test]
fn http2_carries_the_socket_with_the_flag() {
    let server = start();
    let url = format!("ws://{}/version", server.local_addr());
    let (ok, out, err) = ws(&["--http2", &url], b"over h2\n", false);
    assert!(ok, "{err}");
    assert_eq!(String::from_utf8_lossy(&out), "HTTP/2.0\nover h2\n");
    assert_eq!(err.trim(), "closed: 1000", "{err}");
    let (ok, out, err) = ws(&[&url], b"over h1\n", false);
    assert!(ok, "{err}");
    assert_eq!(String::from_utf8_lossy(&out), "HTTP/1.1\nover h1\n");
    // Load mode over HTTP/2 streams.
    let url = format!("ws://{}/ws", server.local_addr());
    let (ok, out, err) = ws(&["--http2", "-n", "200", "-c", "4", &url], b"", false);
    assert!(ok, "{err}");
    let out = String::from_utf8_lossy(&out);
    assert!(out.contains("200 ok, 0 errors"), "{out}");
    server.stop().unwrap();
}

#[test]
fn the_peers_close_code_and_reason_are_printed() {
    let server = start();
    let url = format!("ws://{}/bye", server.local_addr());
    // Stdin stays open: the server's Close ends the command, with its code.
    let (ok, out, err) = ws(&[&url], b"one\nbye\n", true);
    assert!(!ok, "4001 is not a normal close: {err}");
    assert_eq!(String::from_utf8_lossy(&out), "one\n");
    assert_eq!(err.trim(), "closed: 4001 see you", "{err}");
    server.stop().unwrap();
}

#[test]
fn handshake_failures_are_reported() {
    let server = start();
    // `/` is no WebSocket endpoint.
    let url = format!("ws://{}/", server.local_addr());
    let (ok, out, err) = ws(&[&url], b"x\n", false);
    assert!(!ok);
    assert!(out.is_empty());
    assert!(err.contains("handshake"), "{err}");
    server.stop().unwrap();
}

#[test]
fn wss_needs_cacert_or_insecure() {
    let cert = shockwave::server::tls::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let server = Server::builder()
        .bind_tls("127.0.0.1:0".parse().unwrap())
        .tls(cert.config.clone())
        .workers(1)
        .handle_signals(false)
        .start(Routes(DefaultRoutes::new()))
        .unwrap();
    let url = format!("wss://{}/ws", server.tls_local_addrs()[0]);
    let (ok, _, err) = ws(&[&url], b"x\n", false);
    assert!(!ok);
    assert!(err.contains("--cacert") && err.contains("-k"), "{err}");

    let (ok, out, err) = ws(&["-k", &url], b"secure\n", false);
    assert!(ok, "{err}");
    assert_eq!(out, b"secure\n");

    let dir = std::env::temp_dir().join(format!("shockwave-ws-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("ca.pem");
    std::fs::write(&pem, &cert.cert_pem).unwrap();
    let (ok, out, err) = ws(
        &["--cacert", pem.to_str().unwrap(), &url],
        b"trusted\n",
        false,
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ok, "{err}");
    assert_eq!(out, b"trusted\n");
    server.stop().unwrap();
}

#[test]
fn load_mode_counts_every_round_trip() {
    let server = start();
    let url = format!("ws://{}/ws", server.local_addr());
    let (ok, out, err) = ws(
        &[&url, "-n", "500", "-c", "4", "--size", "1000"],
        b"",
        false,
    );
    let out = String::from_utf8_lossy(&out);
    assert!(ok, "{err}\n{out}");
    assert!(
        out.contains("Load:         500 messages of 1000 bytes, 4 connections"),
        "{out}"
    );
    assert!(out.contains("Completed:    500 ok, 0 errors"), "{out}");
    assert!(out.contains("msg/s"), "{out}");
    assert!(out.contains("p50") && out.contains("p99"), "{out}");
    // One connection per -c, each closed cleanly.
    assert_eq!(server.stats().connections_accepted, 4);

    // A server that closes on the first message: counted as errors, exit failure.
    let url = format!("ws://{}/", server.local_addr());
    let (ok, out, _) = ws(&[&url, "-n", "10", "-c", "2"], b"", false);
    let out = String::from_utf8_lossy(&out);
    assert!(!ok, "{out}");
    assert!(out.contains("Completed:    0 ok, 2 errors"), "{out}");
    assert!(out.contains("Error:"), "{out}");
    server.stop().unwrap();
}
