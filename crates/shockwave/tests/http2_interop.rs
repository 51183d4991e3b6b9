//! Our HTTP/2 server with independent clients: the `h2` crate, hyper, curl, nghttp,
//! h2load and Python httpx. A missing peer fails with its install command.

mod http2_support;

use std::process::Command;

use bytes::Bytes;
use http2_support::{require_peer as peer, server};

fn run(cmd: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(cmd).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn h2_client(addr: std::net::SocketAddr) -> h2::client::SendRequest<Bytes> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

async fn h2_request(
    client: &mut h2::client::SendRequest<Bytes>,
    method: &str,
    uri: String,
    body: Option<Vec<u8>>,
) -> (u16, Vec<u8>) {
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .body(())
        .unwrap();
    let mut c = client.clone().ready().await.unwrap();
    let (resp, mut send) = c.send_request(req, body.is_none()).unwrap();
    if let Some(b) = body {
        send.reserve_capacity(b.len());
        send.send_data(Bytes::from(b), true).unwrap();
    }
    let resp = resp.await.unwrap();
    let status = resp.status().as_u16();
    let mut body = resp.into_body();
    let mut out = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        out.extend_from_slice(&chunk);
    }
    (status, out)
}

#[tokio::test]
async fn h2_crate_client() {
    let srv = server::start();
    let base = format!("http://{}", srv.addr);
    let mut c = h2_client(srv.addr).await;
    let (status, body) = h2_request(&mut c, "GET", format!("{base}/"), None).await;
    assert_eq!((status, body.as_slice()), (200, &b"Hello, World!"[..]));
    // A 300 KB upload echoed back (flow control both ways).
    let up: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let (status, body) = h2_request(&mut c, "POST", format!("{base}/echo"), Some(up.clone())).await;
    assert_eq!(status, 200);
    assert_eq!(body, up);
    // A 4 MiB download: many WINDOW_UPDATEs.
    let (status, body) = h2_request(&mut c, "GET", format!("{base}/big?4194304"), None).await;
    assert_eq!(status, 200);
    assert_eq!(body.len(), 4 << 20);
    assert!(body.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
    // A panicking handler is a 500; the connection carries on.
    let (status, _) = h2_request(&mut c, "GET", format!("{base}/panic"), None).await;
    assert_eq!(status, 500);
    let (status, body) = h2_request(&mut c, "GET", format!("{base}/stream"), None).await;
    assert_eq!((status, body.as_slice()), (200, &b"one two three"[..]));
    let (_, body) = h2_request(&mut c, "GET", format!("{base}/info?x"), None).await;
    let info = String::from_utf8(body).unwrap();
    assert!(
        info.starts_with("GET /info?x HTTP/2.0 Some(\"127.0.0.1:"),
        "{info}"
    );
}

#[tokio::test]
async fn h2_crate_many_concurrent_streams() {
    let srv = server::start();
    let c = h2_client(srv.addr).await;
    let mut tasks = Vec::new();
    for i in 0..100 {
        let mut c = c.clone();
        let uri = format!(
            "http://{}/{}",
            srv.addr,
            if i % 2 == 0 { "slow" } else { "" }
        );
        tasks.push(tokio::spawn(async move {
            h2_request(&mut c, "GET", uri, None).await
        }));
    }
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200);
        assert!(body == b"slow" || body == b"Hello, World!");
    }
}

#[tokio::test]
async fn hyper_client() {
    use http_body_util::{BodyExt as _, Full};
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let srv = server::start();
    let tcp = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    for _ in 0..3 {
        let req = http::Request::builder()
            .method("POST")
            .uri(format!("http://{}/echo", srv.addr))
            .body(Full::new(Bytes::from_static(b"ping from hyper")))
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.version(), http::Version::HTTP_2);
        assert!(resp.headers().contains_key("date"));
        assert_eq!(resp.headers()["content-length"], "15");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"ping from hyper");
    }
}

#[test]
fn curl_prior_knowledge() {
    peer("curl", "apt-get install -y curl");
    let srv = server::start();
    let url = format!("http://{}/", srv.addr);
    let (ok, out, err) = run(
        "curl",
        &[
            "-sS",
            "--http2-prior-knowledge",
            "-w",
            " %{http_version} %{http_code}",
            &url,
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out, "Hello, World! 2 200");
    let echo = format!("http://{}/echo", srv.addr);
    let (ok, out, err) = run(
        "curl",
        &[
            "-sS",
            "--http2-prior-knowledge",
            "--data-binary",
            "abc=def",
            &echo,
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out, "abc=def");
}

#[test]
fn curl_over_tls_with_alpn_h2() {
    peer("curl", "apt-get install -y curl");
    let srv = server::start_tls();
    let url = format!("https://127.0.0.1:{}/info", srv.addr.port());
    let (ok, out, err) = run("curl", &["-sSk", "--http2", "-w", " %{http_version}", &url]);
    assert!(ok, "{err}");
    assert!(out.starts_with("GET /info HTTP/2.0"), "{out}");
    assert!(out.ends_with(" 2"), "{out}");
}

#[test]
fn nghttp_client() {
    peer("nghttp", "apt-get install -y nghttp2-client");
    let srv = server::start();
    let url = format!("http://{}/", srv.addr);
    let (ok, out, err) = run("nghttp", &["-v", &url]);
    assert!(ok, "{err}{out}");
    assert!(out.contains("Hello, World!"), "{out}");
    assert!(out.contains(":status: 200"), "{out}");
    // Upload with nghttp's flow control and a small window (-w 16: 64 KiB).
    let dir = std::env::temp_dir().join(format!("sw-h2-nghttp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("up.bin");
    std::fs::write(&file, vec![b'x'; 200_000]).unwrap();
    let echo = format!("http://{}/echo", srv.addr);
    let (ok, out, err) = run(
        "nghttp",
        &["-n", "-s", "-w", "16", "-d", file.to_str().unwrap(), &echo],
    );
    assert!(ok, "{err}{out}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn h2load_no_failures() {
    peer("h2load", "apt-get install -y nghttp2-client");
    let srv = server::start();
    let url = format!("http://{}/", srv.addr);
    let (ok, out, err) = run("h2load", &["-n", "1000", "-c", "4", "-m", "10", &url]);
    assert!(ok, "{err}{out}");
    assert!(
        out.contains("1000 total, 1000 started, 1000 done, 1000 succeeded, 0 failed, 0 errored"),
        "{out}"
    );
    assert!(out.contains("status codes: 1000 2xx"), "{out}");
}

#[test]
fn python_httpx_h2c() {
    let has = Command::new("python3")
        .args(["-c", "import httpx, h2"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        has,
        "python3 modules httpx/h2 missing: run `pip install 'httpx[http2]'` or `cargo xtask test`"
    );
    let srv = server::start();
    let script = format!(
        "import httpx\n\
         with httpx.Client(http1=False, http2=True) as c:\n\
         \x20   r = c.get('http://{0}/')\n\
         \x20   assert r.http_version == 'HTTP/2', r.http_version\n\
         \x20   assert r.status_code == 200 and r.text == 'Hello, World!', r.text\n\
         \x20   r = c.post('http://{0}/echo', content=b'y' * 100000)\n\
         \x20   assert r.content == b'y' * 100000\n\
         \x20   print('ok')\n",
        srv.addr
    );
    let (ok, out, err) = run("python3", &["-c", &script]);
    assert!(ok && out.trim() == "ok", "{out}{err}");
}
