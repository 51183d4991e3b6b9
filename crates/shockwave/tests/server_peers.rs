//! The server driven by real clients: curl (keep-alive, chunked upload, 100-continue,
//! HTTPS with a self-signed certificate) and the hyper client.

mod server_util;

use std::process::Command;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use server_util::{builder, require_tool, stop};
use shockwave::server::routes::DefaultRoutes;
use shockwave::server::tls;

fn curl() -> Command {
    require_tool("curl", "sudo apt-get install -y curl");
    let mut c = Command::new("curl");
    c.args(["-sS", "--max-time", "10"]);
    c
}

fn run(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().expect("run curl");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "curl failed: {stderr}");
    (stdout, stderr)
}

#[test]
fn curl_keep_alive_reuses_the_connection() {
    let h = builder().start(DefaultRoutes::new()).unwrap();
    let base = format!("http://{}", h.local_addr());
    let (out, err) = run(curl().args(["-v", &format!("{base}/"), &format!("{base}/json")]));
    assert_eq!(out, "Hello, World!{\"message\":\"Hello, World!\"}");
    assert!(
        err.contains("Re-using existing connection") || err.contains("Reusing existing"),
        "{err}"
    );
    assert_eq!(h.stats().connections_accepted, 1);
    stop(h);
}

#[test]
fn curl_chunked_upload_and_100_continue() {
    let h = builder().start(DefaultRoutes::new()).unwrap();
    let url = format!("http://{}/echo", h.local_addr());
    let body = "x".repeat(300_000);
    let file = std::env::temp_dir().join(format!("sw-curl-body-{}", std::process::id()));
    std::fs::write(&file, &body).unwrap();
    let data = format!("@{}", file.display());
    let (out, err) = run(curl().args([
        "-v",
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &data,
        &url,
    ]));
    assert_eq!(out.len(), body.len(), "{err}");
    // curl sends Expect: 100-continue for large bodies on its own; force it anyway.
    let (out, err) = run(curl().args([
        "-v",
        "-H",
        "Expect: 100-continue",
        "--data-binary",
        &data,
        &url,
    ]));
    assert_eq!(out, body);
    assert!(err.contains("HTTP/1.1 100 Continue"), "{err}");
    let _ = std::fs::remove_file(&file);
    stop(h);
}

#[test]
fn curl_https_with_the_self_signed_certificate() {
    let ss = tls::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let h = builder()
        .bind_tls("127.0.0.1:0".parse().unwrap())
        .tls(ss.config.clone())
        .start(DefaultRoutes::new())
        .unwrap();
    let port = h.tls_local_addrs()[0].port();
    let ca = std::env::temp_dir().join(format!("sw-ca-{}.pem", std::process::id()));
    std::fs::write(&ca, &ss.cert_pem).unwrap();
    let url = format!("https://localhost:{port}/json");
    let (out, err) = run(curl().args([
        "-v",
        "--cacert",
        &ca.display().to_string(),
        "--resolve",
        &format!("localhost:{port}:127.0.0.1"),
        &url,
        &url,
    ]));
    assert_eq!(out, "{\"message\":\"Hello, World!\"}".repeat(2));
    assert!(err.contains("ALPN") && err.contains("http/1.1"), "{err}");
    // Without the CA, verification fails.
    let out = curl()
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1"), &url])
        .output()
        .unwrap();
    assert!(!out.status.success());
    // The plain listener still works beside it.
    let (out, _) = run(curl().args([&format!("http://{}/", h.local_addr())]));
    assert_eq!(out, "Hello, World!");
    let _ = std::fs::remove_file(&ca);
    stop(h);
}

#[test]
fn hyper_client_keep_alive_and_bodies() {
    let h = builder().workers(2).start(DefaultRoutes::new()).unwrap();
    let addr = h.local_addr();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(io)
            .await
            .unwrap();
        tokio::spawn(conn);
        for i in 0..50 {
            let req = if i % 2 == 0 {
                http::Request::get("/")
                    .header("host", "x")
                    .body(Full::new(Bytes::new()))
                    .unwrap()
            } else {
                http::Request::post("/echo")
                    .header("host", "x")
                    .body(Full::new(Bytes::from(format!("body {i}"))))
                    .unwrap()
            };
            let resp = sender.send_request(req).await.unwrap();
            assert_eq!(resp.status(), 200);
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            if i % 2 == 0 {
                assert_eq!(body, "Hello, World!");
            } else {
                assert_eq!(body, format!("body {i}"));
            }
        }
    });
    assert_eq!(h.stats().connections_accepted, 1);
    assert_eq!(h.stats().requests, 50);
    stop(h);
}

// Runs the `shockwave` binary, built with the `cli` feature.
#[cfg(feature = "cli")]
#[test]
fn serve_command_runs_prints_its_address_and_exits_0_on_sigterm() {
    use std::io::BufRead;
    /// Kills the server if the test fails half-way.
    struct Guard(std::process::Child);
    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut guard = Guard(
        Command::new(env!("CARGO_BIN_EXE_shockwave"))
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--workers",
                "1",
                "--alloc",
                "heap",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let child = &mut guard.0;
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_string();
    let (out, _) = run(curl().arg(format!("{url}json")));
    assert_eq!(out, "{\"message\":\"Hello, World!\"}");
    let (out, _) = run(curl().arg(format!("{url}stats")));
    assert!(out.contains("\"2xx\":1"), "{out}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}
