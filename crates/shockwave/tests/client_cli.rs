//! `shockwave get`: curl mode and load mode, against an in-process Shockwave server.

// Runs the `shockwave` binary, built with the `cli` feature.
#![cfg(feature = "cli")]

use std::process::Command;

use shockwave::server::routes::DefaultRoutes;
use shockwave::server::{Server, ServerHandle};

fn start() -> ServerHandle {
    Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .workers(1)
        .handle_signals(false)
        .start(DefaultRoutes::new())
        .unwrap()
}

fn get(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_shockwave"))
        .arg("get")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn curl_mode_prints_the_body_and_optionally_the_head() {
    let server = start();
    let url = format!("http://{}/", server.local_addr());
    let (ok, out, err) = get(&[&url]);
    assert!(ok, "{err}");
    assert_eq!(out, "Hello, World!");

    let (ok, out, err) = get(&["-i", &url]);
    assert!(ok, "{err}");
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.contains("content-length: 13\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\nHello, World!"), "{out}");

    let echo = format!("http://{}/echo", server.local_addr());
    let (ok, out, err) = get(&["-d", "a=1&b=2", "-H", "Content-Type: text/plain", &echo]);
    assert!(ok, "{err}");
    assert_eq!(out, "a=1&b=2");
    let (ok, out, err) = get(&["-X", "PUT", "-d", "put body", "-i", &echo]);
    assert!(ok, "{err}");
    assert!(out.contains("application/x-www-form-urlencoded"), "{out}");
    assert!(out.ends_with("put body"), "{out}");
    server.stop().unwrap();
}

#[test]
fn curl_mode_errors_are_reported() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (ok, _, err) = get(&[&format!("http://127.0.0.1:{port}/")]);
    assert!(!ok);
    assert!(err.contains("connecting to 127.0.0.1"), "{err}");
    // The cause is printed once, after what failed.
    assert_eq!(err.matches("refused").count(), 1, "{err}");
    assert!(
        err.contains(&format!("connecting to 127.0.0.1:{port} failed: ")),
        "{err}"
    );
    assert!(
        !err.contains("--cacert"),
        "no TLS hint for a refused connection: {err}"
    );
    let (ok, _, err) = get(&["-H", "no colon", "http://127.0.0.1:1/"]);
    assert!(!ok);
    assert!(err.contains("Name: value"), "{err}");
}

#[test]
fn load_mode_reports_throughput_and_latency() {
    let server = start();
    let url = format!("http://{}/", server.local_addr());
    for pipeline in ["1", "4"] {
        let (ok, out, err) = get(&[&url, "-n", "400", "-c", "4", "--pipeline", pipeline]);
        assert!(ok, "{err}\n{out}");
        assert!(out.contains("Completed:    400 ok, 0 errors"), "{out}");
        assert!(out.contains("req/s"), "{out}");
        assert!(
            out.contains("p50") && out.contains("p99") && out.contains("max"),
            "{out}"
        );
        assert!(out.contains("200: 400"), "{out}");
        assert!(out.contains("Body bytes:   5200"), "{out}");
    }
    // Connections are reused: at most 4 (sequential) + 4 (pipelined) for 800 requests.
    let accepted = server.stats().connections_accepted;
    assert!((2..=8).contains(&accepted), "{accepted} connections");
    assert_eq!(server.stats().requests, 800);
    server.stop().unwrap();
}

#[test]
fn tls_failures_hint_at_cacert_and_insecure() {
    let cert = shockwave::server::tls::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let server = Server::builder()
        .bind_tls("127.0.0.1:0".parse().unwrap())
        .tls(cert.config.clone())
        .workers(1)
        .handle_signals(false)
        .start(DefaultRoutes::new())
        .unwrap();
    let url = format!("https://{}/", server.tls_local_addrs()[0]);
    let (ok, _, err) = get(&[&url]);
    assert!(!ok);
    assert!(
        err.contains("TLS handshake with 127.0.0.1 failed: "),
        "{err}"
    );
    assert_eq!(
        err.matches("certificate").count(),
        2,
        "cause once, then the hint: {err}"
    );
    assert!(err.contains("--cacert") && err.contains("-k"), "{err}");
    // The flags the hint names work.
    let (ok, out, err) = get(&["-k", &url]);
    assert!(ok, "{err}");
    assert_eq!(out, "Hello, World!");
    let ca = std::env::temp_dir().join(format!("shockwave-cli-hint-{}.pem", std::process::id()));
    std::fs::write(&ca, &cert.cert_pem).unwrap();
    let (ok, out, err) = get(&["--cacert", ca.to_str().unwrap(), &url]);
    let _ = std::fs::remove_file(&ca);
    assert!(ok, "{err}");
    assert_eq!(out, "Hello, World!");
    server.stop().unwrap();
}

#[test]
fn load_mode_errors_print_each_cause_once() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/");
    for pipeline in ["1", "2"] {
        let (ok, out, err) = get(&[&url, "-n", "2", "--pipeline", pipeline]);
        assert!(!ok, "{out}{err}");
        let errors: Vec<&str> = out.lines().filter(|l| l.starts_with("Error:")).collect();
        assert!(!errors.is_empty(), "{out}");
        for line in errors {
            // What failed, then why, once.
            assert!(
                line.contains(&format!("connecting to 127.0.0.1:{port} failed: ")),
                "{line}"
            );
            assert_eq!(line.matches("refused").count(), 1, "{line}");
        }
    }
}
