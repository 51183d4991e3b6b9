//! Response compression and client decompression against independent peers: curl
//! `--compressed`, Python httpx, tower-http's `CompressionLayer` and `DecompressionLayer`
//! (over hyper), plus streamed (SSE) bodies, precompressed static files and the
//! decompression-bomb limit. A missing peer fails with its install command.
#![cfg(all(feature = "compression", feature = "http2"))]

mod server_util;

use std::convert::Infallible;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use shockwave::client::{Client, Error as ClientError};
use shockwave::server::files::StaticFiles;
use shockwave::server::routes::DefaultRoutes;
use shockwave::server::{Compression, FileBody, Handler, RequestContext, Response, ServerHandle};
use tokio::sync::mpsc;

const CODINGS: [&str; 4] = ["gzip", "br", "zstd", "deflate"];

/// A compressible text body of about 100 KB.
fn text() -> &'static str {
    static T: OnceLock<String> = OnceLock::new();
    T.get_or_init(|| {
        (0..2500)
            .map(|i| format!("line {i:05}: the quick brown fox jumps over the lazy dog\n"))
            .collect()
    })
}

/// About 1.4 MB: above the size compressed in one go, so it is streamed.
fn big() -> &'static str {
    static T: OnceLock<String> = OnceLock::new();
    T.get_or_init(|| text().repeat(14))
}

type SseSlot = Arc<Mutex<Option<mpsc::UnboundedReceiver<()>>>>;

struct App {
    sse: SseSlot,
    file: PathBuf,
}

impl Handler for App {
    async fn call<'a>(&'a self, cx: RequestContext<'a>) -> Response<'a> {
        match cx.path() {
            "/text" => Response::text(text()),
            "/big" => Response::text(big()),
            "/small" => Response::json("{\"ok\":true}"),
            "/png" => Response::ok()
                .header("content-type", "image/png")
                .body(text()),
            "/no-transform" => Response::text(text()).header("cache-control", "no-transform"),
            "/vary" => Response::text(text())
                .header("vary", "Origin")
                .header("etag", "\"v1\""),
            "/file" => {
                let file = std::fs::File::open(&self.file).unwrap();
                Response::ok()
                    .header("content-type", "text/plain")
                    .body(FileBody::new(file).unwrap())
            }
            "/sse" => {
                let Some(rx) = self.sse.lock().unwrap().take() else {
                    return Response::status_code(409);
                };
                // Event 0 at once; each further event only after the test says it got
                // the previous one.
                let events = futures_util::stream::unfold((rx, 0u32), |(mut rx, i)| async move {
                    if i == 3 {
                        return None;
                    }
                    if i > 0 {
                        rx.recv().await?;
                    }
                    let event = Bytes::from(format!("id: {i}\ndata: event number {i}\n\n"));
                    Some((Ok(event), (rx, i + 1)))
                });
                Response::ok()
                    .header("content-type", "text/event-stream")
                    .stream(events)
            }
            _ => Response::status_code(404),
        }
    }
}

struct Srv {
    handle: Option<ServerHandle>,
    addr: SocketAddr,
    sse: SseSlot,
}

impl Srv {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Srv {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.stop();
        }
    }
}

/// The file behind `/file` (written once: the tests run in parallel).
fn big_file() -> PathBuf {
    static F: OnceLock<PathBuf> = OnceLock::new();
    F.get_or_init(|| {
        let file = std::env::temp_dir().join(format!("sw-compress-it-{}.txt", std::process::id()));
        std::fs::write(&file, big()).unwrap();
        file
    })
    .clone()
}

/// Compares bodies without printing megabytes on failure.
#[track_caller]
fn same(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let at = got.iter().zip(want).position(|(a, b)| a != b);
        panic!(
            "{what}: {} bytes, want {} (first difference at {at:?})",
            got.len(),
            want.len()
        );
    }
}

fn start() -> Srv {
    let file = big_file();
    let sse: SseSlot = Arc::default();
    let app = App {
        sse: sse.clone(),
        file,
    };
    let handle = server_util::builder()
        .start(Compression::new().wrap(app))
        .unwrap();
    Srv {
        addr: handle.local_addr(),
        handle: Some(handle),
        sse,
    }
}

fn require_curl() {
    server_util::require_tool("curl", "apt-get install -y curl");
}

/// curl with `args`; returns (response head, body).
fn curl(args: &[&str]) -> (String, Vec<u8>) {
    let out = Command::new("curl")
        .args(["-sS", "-D", "/dev/stderr"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stderr).to_lowercase(),
        out.stdout,
    )
}

fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        (n.trim() == name).then(|| v.trim())
    })
}

#[test]
fn curl_compressed_decodes_every_coding_over_http1_and_h2c() {
    require_curl();
    let srv = start();
    for proto in ["--http1.1", "--http2-prior-knowledge"] {
        for coding in CODINGS {
            let ae = format!("Accept-Encoding: {coding}");
            let (head, body) = curl(&[proto, "--compressed", "-H", &ae, &srv.url("/text")]);
            assert_eq!(
                header(&head, "content-encoding"),
                Some(coding),
                "{proto} {head}"
            );
            assert_eq!(header(&head, "vary"), Some("accept-encoding"), "{head}");
            same(&body, text().as_bytes(), &format!("{proto} {coding}"));
            // The bytes on the wire are the compressed ones.
            let (_, raw) = curl(&[proto, "-H", &ae, &srv.url("/text")]);
            assert!(
                raw.len() < text().len() / 5,
                "{coding}: {} bytes",
                raw.len()
            );
        }
        // curl's own Accept-Encoding (deflate, gzip, br, zstd): br wins on our order.
        for path in ["/text", "/big", "/file"] {
            let (head, body) = curl(&[proto, "--compressed", &srv.url(path)]);
            assert_eq!(
                header(&head, "content-encoding"),
                Some("br"),
                "{path} {head}"
            );
            let want = if path == "/text" { text() } else { big() };
            same(&body, want.as_bytes(), &format!("{proto} {path}"));
        }
    }
}

#[test]
fn curl_sees_no_coding_where_none_belongs() {
    require_curl();
    let srv = start();
    for path in ["/small", "/png", "/no-transform"] {
        let (head, _) = curl(&["--compressed", &srv.url(path)]);
        assert_eq!(header(&head, "content-encoding"), None, "{path}: {head}");
    }
    // Not asked for: identity, but marked as varying.
    let (head, body) = curl(&[&srv.url("/text")]);
    assert_eq!(header(&head, "content-encoding"), None, "{head}");
    assert_eq!(header(&head, "vary"), Some("accept-encoding"), "{head}");
    same(&body, text().as_bytes(), "identity");
    // identity;q=0 with nothing else acceptable: sent as is.
    let (head, _) = curl(&[
        "-H",
        "Accept-Encoding: identity;q=0, compress",
        &srv.url("/text"),
    ]);
    assert_eq!(header(&head, "content-encoding"), None, "{head}");
    // q-values over the wire: gzip preferred by the client wins over br.
    let (head, body) = curl(&[
        "--compressed",
        "-H",
        "Accept-Encoding: br;q=0.5, gzip;q=0.9",
        &srv.url("/text"),
    ]);
    assert_eq!(header(&head, "content-encoding"), Some("gzip"), "{head}");
    same(&body, text().as_bytes(), "q-values");
    // An existing Vary is kept and extended; the strong ETag becomes weak.
    let (head, _) = curl(&["--compressed", &srv.url("/vary")]);
    let varies: Vec<&str> = head
        .lines()
        .filter(|l| l.starts_with("vary:"))
        .map(|l| l[5..].trim())
        .collect();
    assert_eq!(varies, ["origin", "accept-encoding"], "{head}");
    assert_eq!(header(&head, "etag"), Some("w/\"v1\""), "{head}");
    // HEAD: no coding, same Vary.
    let (head, _) = curl(&["--compressed", "-I", &srv.url("/text")]);
    assert_eq!(header(&head, "content-encoding"), None, "{head}");
    assert_eq!(header(&head, "vary"), Some("accept-encoding"), "{head}");
}

#[test]
fn python_httpx_decodes_every_coding() {
    server_util::require_python_modules(
        "httpx, h2, brotli, zstandard",
        "pip install 'httpx[http2]' brotli zstandard",
    );
    let srv = start();
    let script = format!(
        "import httpx\n\
         want = ''.join('line %05d: the quick brown fox jumps over the lazy dog\\n' % i for i in range(2500)).encode()\n\
         for h2 in (False, True):\n\
         \x20   with httpx.Client(http1=not h2, http2=h2) as c:\n\
         \x20       for coding in ('gzip', 'br', 'zstd', 'deflate'):\n\
         \x20           r = c.get('http://{0}/text', headers={{'accept-encoding': coding}})\n\
         \x20           assert r.http_version == ('HTTP/2' if h2 else 'HTTP/1.1'), r.http_version\n\
         \x20           assert r.headers['content-encoding'] == coding, r.headers\n\
         \x20           assert r.headers['vary'] == 'accept-encoding', r.headers\n\
         \x20           assert r.content == want, (coding, len(r.content))\n\
         \x20           assert r.num_bytes_downloaded < len(want) // 5, r.num_bytes_downloaded\n\
         \x20       r = c.get('http://{0}/big')\n\
         \x20       assert r.headers['content-encoding'] == 'br', r.headers\n\
         \x20       assert r.content == want * 14\n\
         print('ok')\n",
        srv.addr
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success() && stdout.trim() == "ok",
        "{stdout}{stderr}"
    );
}

fn client(h2: bool) -> Client {
    let b = Client::builder();
    if h2 {
        b.http2_prior_knowledge().build().unwrap()
    } else {
        b.http1_only().build().unwrap()
    }
}

#[tokio::test]
async fn our_client_decodes_our_server_streaming_and_sends_accept_encoding() {
    let srv = start();
    for h2 in [false, true] {
        let c = client(h2);
        for path in ["/text", "/big", "/file"] {
            let resp = c.get(srv.url(path)).send().await.unwrap();
            // Decoded: the coding's fields are gone.
            assert!(resp.headers().get("content-encoding").is_none());
            assert!(resp.content_length().is_none());
            let want = if path == "/text" { text() } else { big() };
            same(&resp.bytes().await.unwrap(), want.as_bytes(), path);
        }
        // A request with its own Accept-Encoding gets the body as received.
        let resp = c
            .get(srv.url("/text"))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["content-encoding"], "gzip");
        let raw = resp.bytes().await.unwrap();
        let mut d = flate2::write::GzDecoder::new(Vec::new());
        d.write_all(&raw).unwrap();
        same(&d.finish().unwrap(), text().as_bytes(), "gzip by hand");
        // Opt-out: no Accept-Encoding sent, identity received.
        let plain = Client::builder()
            .http1_only()
            .decompress(false)
            .build()
            .unwrap();
        let resp = plain.get(srv.url("/text")).send().await.unwrap();
        assert!(resp.headers().get("content-encoding").is_none());
        assert_eq!(resp.content_length(), Some(text().len() as u64));
    }
}

/// An SSE stream is compressed piece by piece with a flush after each: every event is
/// readable before the server produces the next one (it waits for the test).
#[tokio::test]
async fn sse_events_arrive_compressed_before_the_next_is_produced() {
    let srv = start();
    for h2 in [false, true] {
        for coding in CODINGS {
            let (tx, rx) = mpsc::unbounded_channel();
            *srv.sse.lock().unwrap() = Some(rx);
            // Raw: check the coding on the wire, decode ourselves.
            let c = client(h2);
            let mut resp = c
                .get(srv.url("/sse"))
                .header("accept-encoding", coding)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.headers()["content-encoding"], coding);
            let mut decoder = RawDecoder::new(coding);
            for i in 0..3 {
                let mut got = Vec::new();
                let want = format!("id: {i}\ndata: event number {i}\n\n");
                while got.len() < want.len() {
                    let piece = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
                        .await
                        .unwrap_or_else(|_| panic!("{coding}: event {i} did not arrive"))
                        .unwrap()
                        .expect("stream ended early");
                    got.extend_from_slice(&decoder.feed(&piece));
                }
                assert_eq!(got, want.as_bytes(), "{coding} h2={h2}");
                let _ = tx.send(());
            }
            while resp.chunk().await.unwrap().is_some() {}

            // Decoded by the client, event by event.
            let (tx, rx) = mpsc::unbounded_channel();
            *srv.sse.lock().unwrap() = Some(rx);
            let mut resp = c.get(srv.url("/sse")).send().await.unwrap();
            for i in 0..3 {
                let piece = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
                    .await
                    .unwrap_or_else(|_| panic!("decoded event {i} did not arrive"))
                    .unwrap()
                    .unwrap();
                assert_eq!(
                    piece,
                    format!("id: {i}\ndata: event number {i}\n\n").as_bytes()
                );
                let _ = tx.send(());
            }
            assert!(resp.chunk().await.unwrap().is_none());
        }
    }
}

/// A streaming decoder for the test's own checks (the peers' crates, not ours).
enum RawDecoder {
    Gzip(flate2::write::GzDecoder<Vec<u8>>),
    Zlib(flate2::write::ZlibDecoder<Vec<u8>>),
    Br(Box<brotli::DecompressorWriter<Vec<u8>>>),
    Zstd(zstd::stream::write::Decoder<'static, Vec<u8>>),
}

impl RawDecoder {
    fn new(coding: &str) -> RawDecoder {
        match coding {
            "gzip" => RawDecoder::Gzip(flate2::write::GzDecoder::new(Vec::new())),
            "deflate" => RawDecoder::Zlib(flate2::write::ZlibDecoder::new(Vec::new())),
            "br" => RawDecoder::Br(Box::new(brotli::DecompressorWriter::new(Vec::new(), 4096))),
            "zstd" => RawDecoder::Zstd(zstd::stream::write::Decoder::new(Vec::new()).unwrap()),
            other => panic!("{other}"),
        }
    }

    fn feed(&mut self, data: &[u8]) -> Vec<u8> {
        match self {
            RawDecoder::Gzip(d) => {
                d.write_all(data).unwrap();
                d.flush().unwrap();
                std::mem::take(d.get_mut())
            }
            RawDecoder::Zlib(d) => {
                d.write_all(data).unwrap();
                d.flush().unwrap();
                std::mem::take(d.get_mut())
            }
            RawDecoder::Br(d) => {
                d.write_all(data).unwrap();
                d.flush().unwrap();
                std::mem::take(d.get_mut())
            }
            RawDecoder::Zstd(d) => {
                d.write_all(data).unwrap();
                d.flush().unwrap();
                std::mem::take(d.get_mut())
            }
        }
    }
}

/// A hyper server behind tower-http's `CompressionLayer` with only `coding` enabled.
async fn tower_http_server(coding: &str) -> SocketAddr {
    use tower_http::compression::CompressionLayer;
    let layer = CompressionLayer::new()
        .gzip(coding == "gzip")
        .deflate(coding == "deflate")
        .br(coding == "br")
        .zstd(coding == "zstd");
    let svc = tower::ServiceBuilder::new().layer(layer).service_fn(
        |_req: http::Request<hyper::body::Incoming>| async {
            Ok::<_, Infallible>(
                http::Response::builder()
                    .header("content-type", "text/plain")
                    .body(Full::new(Bytes::from_static(big().as_bytes())))
                    .unwrap(),
            )
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                return;
            };
            let svc = hyper_util::service::TowerToHyperService::new(svc.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn our_client_decodes_tower_http_compression_layer() {
    for coding in CODINGS {
        let addr = tower_http_server(coding).await;
        let url = format!("http://{addr}/");
        // The peer really compressed with `coding`.
        let raw = Client::builder().decompress(false).build().unwrap();
        let resp = raw
            .get(&url)
            .header("accept-encoding", "gzip, br, zstd, deflate")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["content-encoding"], coding);
        let wire = resp.bytes().await.unwrap().len();
        assert!(wire < big().len() / 5, "{coding}: {wire}");
        // Our client asks for it and decodes it, streaming.
        let mut resp = Client::new().get(&url).send().await.unwrap();
        assert!(resp.headers().get("content-encoding").is_none());
        let mut all = Vec::new();
        while let Some(p) = resp.chunk().await.unwrap() {
            all.extend_from_slice(&p);
        }
        same(&all, big().as_bytes(), coding);
    }
}

#[tokio::test]
async fn tower_http_decompression_layer_reads_our_responses() {
    use tower::ServiceExt as _;
    let srv = start();
    let hyper_client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http::<Full<Bytes>>();
    for path in ["/text", "/big", "/file"] {
        for coding in CODINGS {
            let req = || {
                http::Request::get(srv.url(path))
                    .header("accept-encoding", coding)
                    .body(Full::new(Bytes::new()))
                    .unwrap()
            };
            // What we send is `coding`...
            let resp = hyper_client.request(req()).await.unwrap();
            assert_eq!(resp.headers()["content-encoding"], coding);
            // ...and tower-http decodes it to the original bytes.
            let svc = tower_http::decompression::Decompression::new(hyper_client.clone());
            let resp = svc.oneshot(req()).await.unwrap();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            let want = if path == "/text" { text() } else { big() };
            same(&body, want.as_bytes(), &format!("{path} {coding}"));
        }
    }
}

/// A peer that answers every request with `body` (already encoded) and this
/// Content-Encoding, over HTTP/1.1 with a Content-Length.
async fn canned_encoded(coding: &'static str, body: Vec<u8>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let body = Arc::new(body);
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-encoding: {coding}\r\n\
                     content-length: {}\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&body).await;
            });
        }
    });
    addr
}

fn bomb(coding: &str, decoded: usize) -> Vec<u8> {
    let zeros = vec![0u8; decoded];
    match coding {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(&zeros).unwrap();
            e.finish().unwrap()
        }
        "deflate" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(&zeros).unwrap();
            e.finish().unwrap()
        }
        "br" => {
            let mut out = Vec::new();
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 4096, 9, 22);
                w.write_all(&zeros).unwrap();
            }
            out
        }
        "zstd" => zstd::encode_all(&zeros[..], 19).unwrap(),
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn a_decompression_bomb_is_a_typed_error_not_an_oom() {
    const DECODED: usize = 64 << 20;
    const LIMIT: u64 = 1 << 20;
    for coding in CODINGS {
        let packed = bomb(coding, DECODED);
        assert!(packed.len() < 256 << 10, "{coding}: {}", packed.len());
        let addr = canned_encoded(coding, packed).await;
        let url = format!("http://{addr}/");
        let c = Client::builder()
            .http1_only()
            .max_decompressed_size(LIMIT)
            .build()
            .unwrap();
        // Whole body.
        let err = c.get(&url).send().await.unwrap().bytes().await.unwrap_err();
        assert!(
            matches!(err, ClientError::DecompressedTooLarge { limit: LIMIT }),
            "{coding}: {err:?}"
        );
        assert_eq!(err.kind(), shockwave::client::ErrorKind::Body);
        // Streamed: at most LIMIT bytes come out before the error.
        let mut resp = c.get(&url).send().await.unwrap();
        let mut seen = 0u64;
        let err = loop {
            match resp.chunk().await {
                Ok(Some(p)) => seen += p.len() as u64,
                Ok(None) => panic!("{coding}: the bomb decoded completely ({seen} bytes)"),
                Err(e) => break e,
            }
        };
        assert!(
            matches!(err, ClientError::DecompressedTooLarge { .. }),
            "{err:?}"
        );
        assert!(seen <= LIMIT, "{coding}: {seen}");
        // The default limit is the client's max_response_body_size.
        let c = Client::builder()
            .http1_only()
            .max_response_body_size(4 << 20)
            .build()
            .unwrap();
        let err = c.get(&url).send().await.unwrap().bytes().await.unwrap_err();
        assert!(
            matches!(err, ClientError::DecompressedTooLarge { limit } if limit == 4 << 20),
            "{coding}: {err:?}"
        );
    }
    // Corrupt data is a decode error naming the coding.
    let addr = canned_encoded("gzip", b"this is not gzip at all".to_vec()).await;
    let err = Client::new()
        .get(format!("http://{addr}/"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Decompress {
                encoding: "gzip",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.kind(), shockwave::client::ErrorKind::Decode);
}

fn static_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sw-precompressed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("app.js"), text()).unwrap();
    std::fs::write(dir.join("app.js.br"), bomb("br", 100)).unwrap();
    std::fs::write(dir.join("app.js.gz"), bomb("gzip", 200)).unwrap();
    std::fs::write(dir.join("plain.txt"), text()).unwrap();
    dir
}

#[tokio::test]
async fn static_files_serve_precompressed_siblings() {
    let dir = static_dir();
    let routes = DefaultRoutes::new().with_static(StaticFiles::new(&dir).unwrap());
    let handle = server_util::builder()
        .start(Compression::new().wrap(routes))
        .unwrap();
    let url = format!("http://{}/static/app.js", handle.local_addr());
    let raw = Client::builder().decompress(false).build().unwrap();
    let get = |ae: Option<&'static str>, range: Option<&'static str>| {
        let mut r = raw.get(&url);
        if let Some(ae) = ae {
            r = r.header("accept-encoding", ae);
        }
        if let Some(range) = range {
            r = r.header("range", range);
        }
        r.send()
    };
    let br = get(Some("gzip, br"), None).await.unwrap();
    assert_eq!(br.headers()["content-encoding"], "br");
    assert_eq!(
        br.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(br.headers()["vary"], "accept-encoding");
    let br_etag = br.headers()["etag"].clone();
    assert_eq!(br.bytes().await.unwrap(), bomb("br", 100));
    let gz = get(Some("gzip"), None).await.unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let gz_etag = gz.headers()["etag"].clone();
    assert_eq!(gz.bytes().await.unwrap(), bomb("gzip", 200));
    // zstd has no sibling: the wrapper compresses the original on the fly.
    let zs = get(Some("zstd"), None).await.unwrap();
    assert_eq!(zs.headers()["content-encoding"], "zstd");
    let zs = zstd::decode_all(&zs.bytes().await.unwrap()[..]).unwrap();
    same(&zs, text().as_bytes(), "zstd on the fly");
    let id = get(None, None).await.unwrap();
    assert!(id.headers().get("content-encoding").is_none());
    assert_eq!(id.headers()["vary"], "accept-encoding");
    let id_etag = id.headers()["etag"].clone();
    same(
        &id.bytes().await.unwrap(),
        text().as_bytes(),
        "identity file",
    );
    // Each representation validates on its own.
    assert_ne!(br_etag, gz_etag);
    assert_ne!(br_etag, id_etag);
    let mut r = raw.get(&url).header("accept-encoding", "br");
    r = r.header("if-none-match", br_etag.to_str().unwrap());
    let nm = r.send().await.unwrap();
    assert_eq!(nm.status(), 304);
    assert_eq!(nm.headers()["content-encoding"], "br");
    // A range is served from the original, never compressed.
    let part = get(Some("br, gzip"), Some("bytes=0-9")).await.unwrap();
    assert_eq!(part.status(), 206);
    assert!(part.headers().get("content-encoding").is_none());
    assert_eq!(part.headers()["vary"], "accept-encoding");
    assert_eq!(part.bytes().await.unwrap(), &text().as_bytes()[..10]);
    // Our decoding client gets the original bytes from the br sibling.
    let decoded = Client::new().get(&url).send().await.unwrap();
    assert_eq!(decoded.bytes().await.unwrap(), br_sibling_decoded());
    // A file without siblings: compressed on the fly, no Vary from the files.
    let plain = format!("http://{}/static/plain.txt", handle.local_addr());
    let resp = raw
        .get(&plain)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    assert_eq!(resp.headers().get_all("vary").iter().count(), 1);
    server_util::stop(handle);
    let _ = std::fs::remove_dir_all(&dir);
}

/// What the `app.js.br` sibling decodes to (the test wrote 100 zeros, compressed).
fn br_sibling_decoded() -> Vec<u8> {
    vec![0u8; 100]
}

#[cfg(feature = "cli")]
#[test]
fn cli_get_compressed_and_serve_compress() {
    let srv = start();
    let bin = env!("CARGO_BIN_EXE_shockwave");
    // get --compressed: asks, decodes.
    let out = Command::new(bin)
        .args(["get", "--compressed", &srv.url("/text")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    same(&out.stdout, text().as_bytes(), "get --compressed");
    // Without it, like curl: a body asked for by hand is printed as received.
    let out = Command::new(bin)
        .args(["get", "-H", "Accept-Encoding: gzip", &srv.url("/text")])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(&out.stdout[..2], b"\x1f\x8b", "gzip magic");
    // And nothing asked: identity.
    let out = Command::new(bin)
        .args(["get", &srv.url("/text")])
        .output()
        .unwrap();
    same(&out.stdout, text().as_bytes(), "get");

    // serve --compress: the served routes are compressed (/echo of a text body).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _server = Kill(
        Command::new(bin)
            .args(["serve", "--workers", "1", "--compress", "--addr", &addr])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://{addr}/echo");
    let data = format!("@{}", big_file().display());
    let mut last = String::new();
    for _ in 0..100 {
        let out = Command::new("curl")
            .args([
                "-sS",
                "-D",
                "/dev/stderr",
                "--compressed",
                "-H",
                "content-type: text/plain",
            ])
            .args(["--data-binary", &data, &url])
            .output()
            .unwrap();
        if out.status.success() {
            let head = String::from_utf8_lossy(&out.stderr).to_lowercase();
            assert_eq!(header(&head, "content-encoding"), Some("br"), "{head}");
            same(&out.stdout, big().as_bytes(), "serve --compress /echo");
            return;
        }
        last = String::from_utf8_lossy(&out.stderr).into_owned();
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("serve --compress never answered: {last}");
}

/// The same wrapper over TLS (ALPN h2) and HTTP/3; our client decodes both.
#[cfg(feature = "http3")]
#[tokio::test]
async fn tls_h2_and_http3_responses_are_compressed_and_decoded() {
    use shockwave::server::tls;
    let cert = tls::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let root = {
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::CertificateDer::from_pem_slice(cert.cert_pem.as_bytes()).unwrap()
    };
    let app = App {
        sse: Arc::default(),
        file: big_file(),
    };
    let handle = server_util::builder()
        .bind_tls("127.0.0.1:0".parse().unwrap())
        .bind_h3("127.0.0.1:0".parse().unwrap())
        .tls(cert.config.clone())
        .start(Compression::new().wrap(app))
        .unwrap();
    let tls_url = |p: &str| {
        format!(
            "https://127.0.0.1:{}{p}",
            handle.tls_local_addrs()[0].port()
        )
    };
    let h3_url = |p: &str| format!("https://127.0.0.1:{}{p}", handle.h3_local_addrs()[0].port());
    let h2 = Client::builder()
        .add_root_certificate(root.clone())
        .build()
        .unwrap();
    let h3 = Client::builder()
        .http3()
        .add_root_certificate(root.clone())
        .build()
        .unwrap();
    let h3_raw = Client::builder()
        .http3()
        .decompress(false)
        .add_root_certificate(root)
        .build()
        .unwrap();
    for (client, url, version) in [
        (&h2, tls_url("/text"), http::Version::HTTP_2),
        (&h3, h3_url("/text"), http::Version::HTTP_3),
    ] {
        let resp = tokio::time::timeout(Duration::from_secs(20), client.get(&url).send())
            .await
            .expect("timed out")
            .unwrap();
        assert_eq!(resp.version(), version);
        assert!(resp.headers().get("content-encoding").is_none());
        same(&resp.bytes().await.unwrap(), text().as_bytes(), &url);
    }
    for path in ["/big", "/file"] {
        let resp = h3.get(h3_url(path)).send().await.unwrap();
        same(&resp.bytes().await.unwrap(), big().as_bytes(), path);
    }
    for coding in CODINGS {
        let resp = h3_raw
            .get(h3_url("/text"))
            .header("accept-encoding", coding)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["content-encoding"], coding);
        let wire = resp.bytes().await.unwrap();
        let mut d = RawDecoder::new(coding);
        same(&d.feed(&wire), text().as_bytes(), coding);
    }
    server_util::stop(handle);
}
