//! Per-route body limits (`Body::set_limit` / `RequestContext::set_body_limit`) and a 413
//! the client can read: a 10 MB upload to a route limited to 1 MiB gets its 413 — over
//! HTTP/1.1 (with and without `Expect: 100-continue`, Content-Length or chunked) and
//! HTTP/2 — in curl, in our client and in a raw socket that keeps writing, instead of a
//! connection reset.

mod server_util;

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use server_util::{builder, require_tool, stop};
use shockwave::server::{handler_fn, Response, ServerHandle};

const MIB: u64 = 1 << 20;
const UPLOAD: usize = 10 * 1000 * 1000;

fn start(max_body: u64) -> ServerHandle {
    builder()
        .max_body_size(max_body)
        .start(handler_fn(async |mut cx| match cx.path() {
            // Collected whole, limited to 1 MiB.
            "/small" => {
                cx.set_body_limit(MIB);
                match cx.body().to_arena().await {
                    Ok(b) => Response::text(cx.arena().alloc_str(&b.len().to_string()).unwrap()),
                    Err(e) => Response::new(e.status()),
                }
            }
            // Streamed with `read`, limited to 1 MiB.
            "/stream" => {
                cx.body().set_limit(MIB);
                let mut buf = vec![0u8; 64 * 1024];
                let mut total = 0usize;
                loop {
                    match cx.body().read(&mut buf).await {
                        Ok(0) => break,
                        Ok(n) => total += n,
                        Err(e) => return Response::new(e.status()),
                    }
                }
                Response::text(cx.arena().alloc_str(&total.to_string()).unwrap())
            }
            // Raising the limit above the server's stays at the server's.
            "/raise" => {
                cx.set_body_limit(u64::MAX);
                let limit = cx.body().limit();
                Response::text(cx.arena().alloc_str(&limit.to_string()).unwrap())
            }
            // Answers without reading the body at all.
            _ => Response::status_code(401),
        }))
        .unwrap()
}

fn upload_file() -> PathBuf {
    let p = std::env::temp_dir().join(format!("sw-body-limit-{}.bin", std::process::id()));
    if std::fs::metadata(&p).map(|m| m.len()).ok() != Some(UPLOAD as u64) {
        std::fs::write(&p, vec![b'x'; UPLOAD]).unwrap();
    }
    p
}

/// curl's `%{http_code}` for an upload of the 10 MB file; curl must exit 0.
fn curl_code(url: &str, extra: &[&str]) -> String {
    require_tool("curl", "sudo apt-get install -y curl");
    let file = upload_file();
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .args(extra)
        .arg("--data-binary")
        .arg(format!("@{}", file.display()))
        .arg(url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "curl {extra:?} {url} failed ({:?}): {stderr}",
        out.status
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn curl_reads_the_413_of_a_route_limited_body_over_http1() {
    let h = start(64 * MIB);
    let base = format!("http://{}", h.local_addr());
    for path in ["/small", "/stream"] {
        let url = format!("{base}{path}");
        // Without `Expect: 100-continue` curl sends the whole body at once.
        assert_eq!(curl_code(&url, &["-H", "Expect:"]), "413", "{path}");
        // Chunked: no declared length, the limit trips while reading.
        assert_eq!(
            curl_code(&url, &["-H", "Expect:", "-H", "Transfer-Encoding: chunked"]),
            "413",
            "{path} chunked"
        );
        // With `Expect: 100-continue` (curl's own choice for large bodies).
        assert_eq!(curl_code(&url, &[]), "413", "{path} 100-continue");
    }
    // A handler that never reads the body: its answer arrives too.
    assert_eq!(
        curl_code(&format!("{base}/ignore"), &["-H", "Expect:"]),
        "401"
    );
    stop(h);
}

#[test]
fn curl_reads_the_413_of_the_server_wide_limit() {
    // Content-Length above `max_body_size`: refused before the handler runs.
    let h = start(MIB);
    let url = format!("http://{}/small", h.local_addr());
    assert_eq!(curl_code(&url, &["-H", "Expect:"]), "413");
    assert_eq!(curl_code(&url, &[]), "413");
    stop(h);
}

/// HTTP/2: the 413 ends its stream, then RST_STREAM NO_ERROR stops the upload (RFC 9113
/// §8.1); nghttp2's client reads the 413. (curl 7.88 fails such an exchange with
/// "Stream error in the HTTP/2 framing layer" while it is still uploading, before it
/// processes the response: a client-side limitation.)
#[test]
fn nghttp_reads_the_413_over_http2_and_the_limit_cannot_be_raised() {
    require_tool("nghttp", "sudo apt-get install -y nghttp2-client");
    let h = start(64 * MIB);
    let base = format!("http://{}", h.local_addr());
    let file = upload_file();
    for path in ["/small", "/stream"] {
        let out = Command::new("nghttp")
            .args(["-v", "-t", "10", "-d"])
            .arg(&file)
            .arg(format!("{base}{path}"))
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{path}: {said}");
        assert!(said.contains(":status: 413"), "{path}: {said}");
        assert!(said.contains("error_code=NO_ERROR"), "{path}: {said}");
    }
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-d", "x"])
        .arg(format!("{base}/raise"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), (64 * MIB).to_string());
    stop(h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_reads_the_413_instead_of_a_broken_pipe() {
    use shockwave::client::Client;
    let h = start(64 * MIB);
    let h1 = Client::builder().http2(false).build().unwrap();
    let h2 = Client::builder().http2_prior_knowledge().build().unwrap();
    for (client, path) in [
        (&h1, "/small"),
        (&h1, "/stream"),
        (&h2, "/small"),
        (&h2, "/stream"),
    ] {
        let url = format!("http://{}{path}", h.local_addr());
        let resp = client
            .post(&url)
            .body(vec![b'x'; UPLOAD])
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e:?}"));
        assert_eq!(resp.status(), 413, "{path} {:?}", resp.version());
        // Within the limit the same route works.
        let resp = client
            .post(&url)
            .body(vec![b'x'; 1000])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await.unwrap(), "1000");
    }
    stop(h);
}

/// A raw client that writes all 10 MB before it reads: every write succeeds (the server
/// drains the refused body instead of resetting the connection), then the 413 arrives,
/// with `Connection: close`, and the connection ends cleanly.
#[test]
fn a_client_that_keeps_sending_gets_no_reset_and_reads_the_413() {
    let h = start(64 * MIB);
    let mut s = std::net::TcpStream::connect(h.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST /small HTTP/1.1\r\nhost: x\r\ncontent-length: {UPLOAD}\r\n\r\n"
    )
    .unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while sent < UPLOAD {
        let n = chunk.len().min(UPLOAD - sent);
        s.write_all(&chunk[..n])
            .unwrap_or_else(|e| panic!("write failed after {sent} bytes: {e}"));
        sent += n;
    }
    let mut got = Vec::new();
    s.read_to_end(&mut got)
        .unwrap_or_else(|e| panic!("read failed: {e} after {:?}", String::from_utf8_lossy(&got)));
    let text = String::from_utf8_lossy(&got).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 413 "), "{text}");
    assert!(text.contains("connection: close\r\n"), "{text}");
    stop(h);
}
