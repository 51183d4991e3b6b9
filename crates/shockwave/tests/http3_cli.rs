//! The command line over HTTP/3: `shockwave get --http3` against our HTTP/3 server, and
//! `shockwave serve --self-signed` listening for HTTP/3 and advertising it with Alt-Svc.

// Runs the `shockwave` binary, built with the `cli` feature.
#![cfg(feature = "cli")]

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use shockwave::server::{handler_fn, tls, Response, Server};

const BIN: &str = env!("CARGO_BIN_EXE_shockwave");

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

#[test]
fn get_http3_fetches_a_large_body() {
    let cert = tls::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let body: &'static [u8] = Box::leak(pattern(1024 * 1024 + 77).into_boxed_slice());
    let server = Server::builder()
        .bind_h3("127.0.0.1:0".parse().unwrap())
        .tls(cert.config.clone())
        .workers(1)
        .handle_signals(false)
        .start(handler_fn(async move |_cx| {
            Response::ok().header("x-h3", "yes").body(body)
        }))
        .unwrap();
    let dir = std::env::temp_dir().join(format!("shockwave-h3-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &cert.cert_pem).unwrap();
    let url = format!(
        "https://127.0.0.1:{}/big",
        server.h3_local_addrs()[0].port()
    );
    let out = Command::new(BIN)
        .args(["get", "--http3", "--cacert", ca.to_str().unwrap(), &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout == body,
        "body differs ({} bytes)",
        out.stdout.len()
    );
    let out = Command::new(BIN)
        .args(["get", "--http3", "-i", "-k", &url])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout[..200]);
    assert!(text.starts_with("HTTP/3 200"), "{text}");
    assert!(text.contains("x-h3: yes"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
    server.stop().unwrap();
}
#[test]
fn serve_listens_for_http3_and_advertises_it() {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--self-signed",
            "--tls-addr",
            "127.0.0.1:0",
            "--workers",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut tls_url, mut h3_url) = (None, None);
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("shockwave: listening on https://") {
            let addr = rest.split('/').next().unwrap().to_owned();
            if line.contains("HTTP/3") {
                h3_url = Some(addr);
            } else {
                tls_url = Some(addr);
            }
        }
        if line.contains("routes:") {
            break;
        }
    }
    let (tls_addr, h3_addr) = (
        tls_url.expect("TLS address"),
        h3_url.expect("HTTP/3 address"),
    );
    // HTTP/1.1 over TLS advertises HTTP/3 on the UDP port.
    let out = Command::new(BIN)
        .args(["get", "-k", "-i", &format!("https://{tls_addr}/")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    let port = h3_addr.rsplit(':').next().unwrap();
    assert!(
        text.contains(&format!("alt-svc: h3=\":{port}\"")),
        "no alt-svc in {text}"
    );
    // And HTTP/3 answers there.
    let out = Command::new(BIN)
        .args(["get", "--http3", "-k", &format!("https://{h3_addr}/")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.stdout.is_empty());
    // `/stats` (over HTTP/1.1) counts the HTTP/3 connection and request under "http3".
    let out = Command::new(BIN)
        .args(["get", "-k", &format!("https://{tls_addr}/stats")])
        .output()
        .unwrap();
    // SIGTERM (not SIGKILL): serve stops gracefully and removes its PEM file.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let h3 = &json["http3"];
    assert_eq!(h3["workers"], 1, "{json}");
    assert_eq!(h3["connections"]["accepted"], 1, "{json}");
    assert_eq!(h3["requests"], 1, "{json}");
    assert_eq!(h3["responses"]["2xx"], 1, "{json}");
    // The HTTP/1.1 requests are counted at the top level, not under "http3".
    assert!(json["requests"].as_u64().unwrap() >= 1, "{json}");
}
