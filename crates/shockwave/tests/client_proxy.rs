//! Proxies and connection establishment in `client::Client`: HTTP proxies (absolute-form
//! requests for `http://`, `CONNECT` tunnels for `https://`, RFC 9112 §3.2.2 and RFC 9110
//! §9.3.6) against a real tinyproxy, SOCKS5 (RFC 1928/1929) against a real microsocks,
//! in-test fake proxies that record what is on the wire, the proxy environment variables
//! through the CLI, and Happy Eyeballs (RFC 8305) with a custom resolver.
//!
//! tinyproxy and microsocks are started by the tests on random 127.0.0.1 ports with their
//! own configuration in a temporary directory, and killed at the end. A missing binary
//! fails the test with the install command.

mod client_support;

use std::convert::Infallible;
use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use client_support::{hyper_server, raw_server, read_request_head};
use http::Version;
use http_body_util::Full;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use shockwave::client::{Client, ClientBuilder, NoProxy, Proxy, Resolve, Resolving};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const INSTALL: &str = "apt-get install -y tinyproxy microsocks";

/// Every test's deadline.
const DEADLINE: Duration = Duration::from_secs(30);

async fn within<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(DEADLINE, f)
        .await
        .expect("test timed out")
}

fn builder() -> ClientBuilder {
    // The environment's proxies must not interfere with these tests.
    Client::builder().no_proxy()
}

// ---------------------------------------------------------------------------------
// Real proxies as child processes.

fn binary(name: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    if let Ok(path) = std::env::var("PATH") {
        for dir in path.split(':') {
            let p = Path::new(dir).join(name);
            if p.exists() {
                return p;
            }
        }
    }
    panic!("{name} is not installed: run `sudo {INSTALL}` (or `cargo xtask peers`)");
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "shockwave-proxy-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A proxy process, killed (and its directory removed) on drop.
struct ProxyProc {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for ProxyProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl ProxyProc {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("proxy.log")).unwrap_or_default()
    }

    /// Waits (bounded) until the log contains `needle`.
    async fn log_contains(&self, needle: &str) -> bool {
        for _ in 0..40 {
            if self.log().contains(needle) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

/// Starts `cmd` and waits until its port accepts connections (bounded).
async fn spawn_listening(mut cmd: Command, port: u16, dir: PathBuf) -> ProxyProc {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e} (install: `sudo {INSTALL}`)"));
    let mut p = ProxyProc { child, port, dir };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return p;
        }
        if let Ok(Some(status)) = p.child.try_wait() {
            panic!("{cmd:?} exited with {status}; log:\n{}", p.log());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{cmd:?} did not listen on port {port}");
}

/// tinyproxy on 127.0.0.1 (foreground), optionally requiring Basic credentials.
async fn tinyproxy(auth: Option<(&str, &str)>) -> ProxyProc {
    let bin = binary("tinyproxy");
    let dir = temp_dir("tinyproxy");
    let port = free_port();
    let mut conf = format!(
        "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 50\nLogLevel Info\n\
         LogFile \"{}\"\nAllow 127.0.0.1\n",
        dir.join("proxy.log").display()
    );
    if let Some((u, p)) = auth {
        conf.push_str(&format!("BasicAuth {u} {p}\n"));
    }
    let conf_path = dir.join("tinyproxy.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let mut cmd = Command::new(bin);
    cmd.arg("-d").arg("-c").arg(&conf_path);
    spawn_listening(cmd, port, dir).await
}

/// microsocks on 127.0.0.1 requiring a user name and password.
async fn microsocks(user: &str, pass: &str) -> ProxyProc {
    let bin = binary("microsocks");
    let dir = temp_dir("microsocks");
    let port = free_port();
    let mut cmd = Command::new(bin);
    cmd.args([
        "-i",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-u",
        user,
        "-P",
        pass,
    ]);
    spawn_listening(cmd, port, dir).await
}

// ---------------------------------------------------------------------------------
// A TLS origin (self-signed, ALPN h2 and http/1.1) that reports what it received.

struct TlsOrigin {
    port: u16,
    cert: CertificateDer<'static>,
}

async fn tls_origin() -> TlsOrigin {
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let cert = ck.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    let svc = hyper::service::service_fn(|req: http::Request<_>| async move {
                        let mut out = format!("{:?} {}\n", req.version(), req.uri());
                        for (n, v) in req.headers() {
                            out.push_str(&format!("{n}: {}\n", v.to_str().unwrap_or("?")));
                        }
                        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(out))))
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                    .await;
                }
            });
        }
    });
    TlsOrigin { port, cert }
}

// ---------------------------------------------------------------------------------
// HTTP proxy: tinyproxy.

#[tokio::test]
async fn http_url_through_tinyproxy_uses_the_absolute_form() {
    within(async {
        let origin = hyper_server().await;
        let proxy = tinyproxy(None).await;
        let client = builder()
            .proxy(Proxy::http(&format!("http://127.0.0.1:{}", proxy.port)).unwrap())
            .build()
            .unwrap();
        let url = origin.url("/headers");
        let resp = client.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let body = resp.text().await.unwrap();
        // tinyproxy adds `Via` when it forwards.
        assert!(body.to_ascii_lowercase().contains("(tinyproxy/"), "{body}");
        assert!(
            proxy.log_contains(&format!("GET {url} HTTP/1.1")).await,
            "tinyproxy did not log the absolute-form request:\n{}",
            proxy.log()
        );
        // A second request (tinyproxy closes client connections after each response).
        let resp = client.get(origin.url("/hello")).send().await.unwrap();
        assert_eq!(resp.text().await.unwrap(), "hello world");
        // `Client::connect` (raw HTTP/1.1, e.g. for pipelining) tunnels with CONNECT.
        let mut io = client.connect(&origin.url("/")).await.unwrap();
        io.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut raw = Vec::new();
        io.read_to_end(&mut raw).await.unwrap();
        assert!(String::from_utf8_lossy(&raw).ends_with("hello world"));
        assert!(
            proxy
                .log_contains(&format!("CONNECT {} HTTP/1.1", origin.addr))
                .await,
            "{}",
            proxy.log()
        );
    })
    .await;
}

#[tokio::test]
async fn https_url_through_tinyproxy_connect_tunnel_with_auth() {
    within(async {
        let origin = tls_origin().await;
        let proxy = tinyproxy(Some(("alice", "s3cret"))).await;
        let client = builder()
            .add_root_certificate(origin.cert.clone())
            .proxy(Proxy::all(&format!("http://alice:s3cret@127.0.0.1:{}", proxy.port)).unwrap())
            .build()
            .unwrap();
        let url = format!("https://localhost:{}/x?y=1", origin.port);
        let resp = client.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        // ALPN inside the tunnel chose HTTP/2.
        assert_eq!(resp.version(), Version::HTTP_2);
        let body = resp.text().await.unwrap();
        assert!(body.starts_with("HTTP/2.0 https://localhost:"), "{body}");
        // The proxy credentials never reach the origin.
        assert!(
            !body.to_ascii_lowercase().contains("proxy-authorization"),
            "{body}"
        );
        assert!(
            proxy
                .log_contains(&format!("CONNECT localhost:{} HTTP/1.1", origin.port))
                .await,
            "{}",
            proxy.log()
        );
        // A second request shares the HTTP/2 connection through the tunnel.
        let resp = client.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(client.stats().http2_connections_opened, 1);

        // Plain http through the same authenticated proxy (absolute form with
        // Proxy-Authorization).
        let plain = hyper_server().await;
        let resp = client.get(plain.url("/headers")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let body = resp.text().await.unwrap();
        assert!(
            !body.to_ascii_lowercase().contains("proxy-authorization"),
            "{body}"
        );
        assert!(body.to_ascii_lowercase().contains("(tinyproxy/"), "{body}");
    })
    .await;
}

#[tokio::test]
async fn tinyproxy_407_is_a_typed_error_for_connect() {
    within(async {
        let origin = tls_origin().await;
        let proxy = tinyproxy(Some(("alice", "s3cret"))).await;
        for proxy_url in [
            format!("http://127.0.0.1:{}", proxy.port),
            format!("http://alice:wrong@127.0.0.1:{}", proxy.port),
        ] {
            let client = builder()
                .add_root_certificate(origin.cert.clone())
                .proxy(Proxy::all(&proxy_url).unwrap())
                .build()
                .unwrap();
            let err = client
                .get(format!("https://localhost:{}/", origin.port))
                .send()
                .await
                .unwrap_err();
            assert!(err.is_proxy(), "{err:?}");
            assert!(err.is_proxy_auth(), "{err:?}");
            // tinyproxy 1.11 answers a CONNECT without valid credentials with 401, not
            // the 407 of RFC 9110 §15.5.8; both count as a proxy authentication failure.
            let status = err.proxy_status().unwrap().as_u16();
            assert!(status == 407 || status == 401, "{err:?}");
            let msg = err.to_string();
            assert!(msg.contains(&status.to_string()), "{msg}");
            assert!(!msg.contains("wrong"), "credentials in the message: {msg}");
            // For http:// the 407 is the response (the proxy answered the request).
            let plain = hyper_server().await;
            let resp = client.get(plain.url("/hello")).send().await.unwrap();
            assert!(matches!(resp.status().as_u16(), 401 | 407), "{resp:?}");
        }
        // `basic_auth` replaces missing URL credentials.
        let client = builder()
            .add_root_certificate(origin.cert.clone())
            .proxy(
                Proxy::all(&format!("127.0.0.1:{}", proxy.port))
                    .unwrap()
                    .basic_auth("alice", "s3cret"),
            )
            .build()
            .unwrap();
        let resp = client
            .get(format!("https://localhost:{}/", origin.port))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    })
    .await;
}

// ---------------------------------------------------------------------------------
// A fake HTTP proxy that records the request heads.

async fn recording_proxy() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let (addr, _) = raw_server(move |_, mut s| {
        let log = log.clone();
        async move {
            while let Some(head) = read_request_head(&mut s).await {
                log.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).into_owned());
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nproxied!")
                    .await;
            }
        }
    })
    .await;
    (addr, seen)
}

#[tokio::test]
async fn absolute_form_and_proxy_authorization_on_the_wire() {
    within(async {
        let (addr, seen) = recording_proxy().await;
        let client = builder()
            .proxy(Proxy::http(&format!("http://us%20er:p%40ss@{addr}")).unwrap())
            .build()
            .unwrap();
        let resp = client
            .get("http://origin.invalid:8080/a/b?c=d")
            .header("x-test", "1")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.text().await.unwrap(), "proxied!");
        let head = seen.lock().unwrap()[0].clone();
        assert!(
            head.starts_with("GET http://origin.invalid:8080/a/b?c=d HTTP/1.1\r\n"),
            "{head}"
        );
        let lower = head.to_ascii_lowercase();
        assert!(lower.contains("host: origin.invalid:8080\r\n"), "{head}");
        // base64("us er:p@ss")
        assert!(
            lower.contains("proxy-authorization: basic dxmgzxi6cebzcw==\r\n"),
            "{head}"
        );
        assert!(lower.contains("x-test: 1\r\n"), "{head}");
        // Pooled by proxy: the idle connection is the one to the proxy, reused.
        assert_eq!(client.idle_connections("http://origin.invalid:8080/"), 1);
        let resp = client
            .get("http://origin.invalid:8080/second")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let heads = seen.lock().unwrap().clone();
        assert!(heads[1].starts_with("GET http://origin.invalid:8080/second HTTP/1.1\r\n"));
        // Both requests went over one pooled connection to the proxy.
        assert_eq!(client.stats().connections_opened, 1);
        assert_eq!(client.stats().connections_reused, 1);
        // Even with HTTP/2 prior knowledge, a forwarding proxy gets HTTP/1.1.
        let h2c = builder()
            .http2_prior_knowledge()
            .proxy(Proxy::http(&format!("http://{addr}")).unwrap())
            .build()
            .unwrap();
        let resp = h2c.get("http://third.invalid/").send().await.unwrap();
        assert_eq!(resp.version(), Version::HTTP_11);
        let heads = seen.lock().unwrap().clone();
        assert!(heads[2].starts_with("GET http://third.invalid/ HTTP/1.1\r\n"));
        assert!(!heads[2]
            .to_ascii_lowercase()
            .contains("proxy-authorization"));
    })
    .await;
}

#[tokio::test]
async fn no_proxy_bypasses_and_scheme_selection() {
    within(async {
        let (addr, seen) = recording_proxy().await;
        let origin = hyper_server().await;
        let client = builder()
            .proxy(
                Proxy::http(&format!("http://{addr}"))
                    .unwrap()
                    .no_proxy(Some(NoProxy::from_string("localhost,127.0.0.0/8"))),
            )
            .build()
            .unwrap();
        // 127.0.0.1 is exempt: direct to the origin.
        let resp = client.get(origin.url("/hello")).send().await.unwrap();
        assert_eq!(resp.text().await.unwrap(), "hello world");
        assert_eq!(origin.connections(), 1);
        assert!(seen.lock().unwrap().is_empty());
        // An https-only proxy does not see http:// URLs.
        let client = builder()
            .proxy(Proxy::https(&format!("http://{addr}")).unwrap())
            .build()
            .unwrap();
        let resp = client.get(origin.url("/hello")).send().await.unwrap();
        assert_eq!(resp.text().await.unwrap(), "hello world");
        assert!(seen.lock().unwrap().is_empty());
    })
    .await;
}

/// A fake HTTP proxy answering every CONNECT with `answer`.
async fn connect_answering(answer: &'static [u8]) -> SocketAddr {
    let (addr, _) = raw_server(move |_, mut s| async move {
        if read_request_head(&mut s).await.is_some() {
            let _ = s.write_all(answer).await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    })
    .await;
    addr
}

#[tokio::test]
async fn connect_response_limits() {
    within(async {
        static HUGE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        let huge = HUGE.get_or_init(|| {
            let mut v = b"HTTP/1.1 200 OK\r\n".to_vec();
            for i in 0..1000 {
                v.extend_from_slice(format!("x-filler-{i}: {}\r\n", "a".repeat(20)).as_bytes());
            }
            v.extend_from_slice(b"\r\n");
            v
        });
        let cases: [(&'static [u8], &str); 4] = [
            (huge, "larger than 16384 bytes"),
            (
                b"HTTP/1.1 200 OK\r\n\r\nEARLY",
                "sent data after its CONNECT response",
            ),
            (b"HTTP/1.1 403 Forbidden\r\n\r\n", "403"),
            (b"HTTP/1.1 200 OK\r\n", "closed the connection"),
        ];
        for (answer, expect) in cases {
            let addr = connect_answering(answer).await;
            let client = builder()
                .proxy(Proxy::https(&format!("http://{addr}")).unwrap())
                .connect_timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let err = client
                .get("https://origin.invalid/")
                .send()
                .await
                .unwrap_err();
            assert!(err.is_proxy(), "{err:?}");
            assert!(!err.is_proxy_auth(), "{err:?}");
            assert!(err.to_string().contains(expect), "{err} (want {expect:?})");
        }
    })
    .await;
}

#[cfg(feature = "http3")]
#[tokio::test]
async fn http3_refuses_a_proxy() {
    let client = builder()
        .proxy(Proxy::all("http://127.0.0.1:9").unwrap())
        .build()
        .unwrap();
    let err = client
        .get("https://127.0.0.1:4433/")
        .version(Version::HTTP_3)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_request(), "{err:?}");
    assert!(err.to_string().contains("proxy"), "{err}");
}

// ---------------------------------------------------------------------------------
// SOCKS5.

#[tokio::test]
async fn socks5_through_microsocks_with_credentials() {
    within(async {
        let origin = hyper_server().await;
        let tls = tls_origin().await;
        let proxy = microsocks("bob", "hunter2").await;
        for scheme in ["socks5h", "socks5"] {
            let client = builder()
                .add_root_certificate(tls.cert.clone())
                .proxy(
                    Proxy::all(&format!("{scheme}://bob:hunter2@127.0.0.1:{}", proxy.port))
                        .unwrap(),
                )
                .build()
                .unwrap();
            let url = format!("http://localhost:{}/headers", origin.addr.port());
            let resp = client.get(&url).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            let body = resp.text().await.unwrap();
            // Origin-form through a tunnel: no proxy headers at all.
            assert!(!body.to_ascii_lowercase().contains("proxy"), "{body}");
            let resp = client
                .get(format!("https://localhost:{}/s", tls.port))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.version(), Version::HTTP_2);
            assert!(resp.text().await.unwrap().starts_with("HTTP/2.0"));
        }
        let before = origin.connections();
        let client = builder()
            .proxy(Proxy::all(&format!("socks5h://bob:nope@127.0.0.1:{}", proxy.port)).unwrap())
            .build()
            .unwrap();
        let err = client
            .get(format!("http://localhost:{}/", origin.addr.port()))
            .send()
            .await
            .unwrap_err();
        assert!(err.is_proxy_auth(), "{err:?}");
        assert!(!err.to_string().contains("nope"), "{err}");
        assert_eq!(origin.connections(), before);
    })
    .await;
}

/// A fake SOCKS5 proxy (no authentication) that records each CONNECT request's address
/// type and address, then tunnels to `origin`.
async fn recording_socks(origin: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<(u8, String)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let (addr, _) = raw_server(move |_, mut s| {
        let log = log.clone();
        async move {
            let res: io::Result<()> = async {
                let mut g = [0u8; 2];
                s.read_exact(&mut g).await?;
                let mut methods = vec![0u8; usize::from(g[1])];
                s.read_exact(&mut methods).await?;
                s.write_all(&[5, 0]).await?;
                let mut req = [0u8; 4];
                s.read_exact(&mut req).await?;
                let host = match req[3] {
                    1 => {
                        let mut a = [0u8; 4];
                        s.read_exact(&mut a).await?;
                        std::net::Ipv4Addr::from(a).to_string()
                    }
                    4 => {
                        let mut a = [0u8; 16];
                        s.read_exact(&mut a).await?;
                        std::net::Ipv6Addr::from(a).to_string()
                    }
                    _ => {
                        let mut n = [0u8; 1];
                        s.read_exact(&mut n).await?;
                        let mut name = vec![0u8; usize::from(n[0])];
                        s.read_exact(&mut name).await?;
                        String::from_utf8_lossy(&name).into_owned()
                    }
                };
                let mut port = [0u8; 2];
                s.read_exact(&mut port).await?;
                log.lock().unwrap().push((req[3], host));
                s.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
                let mut up = tokio::net::TcpStream::connect(origin).await?;
                tokio::io::copy_bidirectional(&mut s, &mut up).await?;
                Ok(())
            }
            .await;
            let _ = res;
        }
    })
    .await;
    (addr, seen)
}

/// Resolves every name to 127.0.0.1 and counts the calls.
struct Loopback(AtomicUsize);

impl Resolve for Loopback {
    fn resolve(&self, _host: &str, port: u16) -> Resolving {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move { Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]) })
    }
}

#[tokio::test]
async fn socks5h_sends_the_name_and_socks5_the_address() {
    within(async {
        let origin = hyper_server().await;
        let (addr, seen) = recording_socks(origin.addr).await;
        let resolver = Arc::new(Loopback(AtomicUsize::new(0)));
        // socks5h: the name goes to the proxy; our resolver is not asked.
        let client = builder()
            .resolver(resolver.clone())
            .proxy(Proxy::all(&format!("socks5h://{addr}")).unwrap())
            .build()
            .unwrap();
        let resp = client
            .get("http://only-the-proxy-knows.invalid/hello")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.text().await.unwrap(), "hello world");
        assert_eq!(
            seen.lock().unwrap()[0],
            (3, "only-the-proxy-knows.invalid".to_owned())
        );
        assert_eq!(resolver.0.load(Ordering::SeqCst), 0);
        // socks5: resolved here (by the custom resolver), the address is sent.
        let client = builder()
            .resolver(resolver.clone())
            .proxy(Proxy::all(&format!("socks5://{addr}")).unwrap())
            .build()
            .unwrap();
        let resp = client
            .get("http://resolved-locally.invalid/hello")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.text().await.unwrap(), "hello world");
        assert_eq!(seen.lock().unwrap()[1], (1, "127.0.0.1".to_owned()));
        assert_eq!(resolver.0.load(Ordering::SeqCst), 1);
    })
    .await;
}

// ---------------------------------------------------------------------------------
// The environment, through the CLI.

#[cfg(feature = "cli")]
fn cli_get(args: &[&str], env: &[(&str, String)]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shockwave"));
    cmd.arg("get").args(args);
    for v in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "no_proxy",
        "NO_PROXY",
        "REQUEST_METHOD",
    ] {
        cmd.env_remove(v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[cfg(feature = "cli")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_reads_proxy_environment_and_flags() {
    within(async {
        let origin = hyper_server().await;
        let (proxy, seen) = recording_proxy().await;
        let url = origin.url("/hello");
        let run = |args: Vec<String>, env: Vec<(&'static str, String)>| {
            tokio::task::spawn_blocking(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                cli_get(&args, &env)
            })
        };
        // A dead HTTP_PROXY is not ignored: the request fails connecting to it.
        let (ok, _, err) = run(
            vec![url.clone()],
            vec![("HTTP_PROXY", "http://127.0.0.1:1".into())],
        )
        .await
        .unwrap();
        assert!(!ok);
        assert!(err.contains("127.0.0.1:1"), "{err}");
        // A live one gets the absolute-form request.
        let (ok, out, err) = run(
            vec![url.clone()],
            vec![("http_proxy", format!("http://{proxy}"))],
        )
        .await
        .unwrap();
        assert!(ok, "{err}");
        assert_eq!(out, "proxied!");
        assert!(seen.lock().unwrap()[0].starts_with(&format!("GET {url} HTTP/1.1")));
        // ALL_PROXY applies too; NO_PROXY exempts the origin.
        let (ok, out, err) = run(
            vec![url.clone()],
            vec![
                ("ALL_PROXY", "http://127.0.0.1:1".into()),
                ("NO_PROXY", "127.0.0.1".into()),
            ],
        )
        .await
        .unwrap();
        assert!(ok, "{err}");
        assert_eq!(out, "hello world");
        // --noproxy '*' like curl.
        let (ok, out, err) = run(
            vec![url.clone(), "--noproxy".into(), "*".into()],
            vec![("HTTP_PROXY", "http://127.0.0.1:1".into())],
        )
        .await
        .unwrap();
        assert!(ok, "{err}");
        assert_eq!(out, "hello world");
        // -x and --proxy-user.
        let (ok, out, err) = run(
            vec![
                url.clone(),
                "-x".into(),
                format!("http://{proxy}"),
                "--proxy-user".into(),
                "u:p".into(),
            ],
            vec![],
        )
        .await
        .unwrap();
        assert!(ok, "{err}");
        assert_eq!(out, "proxied!");
        let head = seen.lock().unwrap()[1].to_ascii_lowercase();
        assert!(
            head.contains("proxy-authorization: basic dtpw\r\n"),
            "{head}"
        );
        assert_eq!(origin.connections(), 2);
    })
    .await;
}

// ---------------------------------------------------------------------------------
// Happy Eyeballs (RFC 8305) with a custom resolver.

/// Resolves every name to a fixed list.
struct Fixed(Vec<SocketAddr>);

impl Resolve for Fixed {
    fn resolve(&self, _host: &str, _port: u16) -> Resolving {
        let list = self.0.clone();
        Box::pin(async move { Ok(list) })
    }
}

/// An address whose connects hang: a listener with a backlog of 0 whose one queue slot
/// is taken by a connection that is never accepted, so Linux drops further SYNs (a
/// non-routable address such as 10.255.255.1 fails at once where there is no route).
/// Checked: a probe connect must not finish within 300 ms. Keep the guard alive.
async fn blackhole() -> (SocketAddr, (TcpListener, tokio::net::TcpStream)) {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = sock.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let filler = tokio::net::TcpStream::connect(addr).await.unwrap();
    let probe = tokio::time::timeout(
        Duration::from_millis(300),
        tokio::net::TcpStream::connect(addr),
    )
    .await;
    assert!(probe.is_err(), "could not make a blackholed address");
    (addr, (listener, filler))
}

fn refused_port() -> u16 {
    // Bound then closed: nothing listens there.
    free_port()
}

#[tokio::test]
async fn happy_eyeballs_skips_a_blackholed_first_address() {
    within(async {
        let origin = hyper_server().await;
        let (hole, _guard) = blackhole().await;
        let connect_timeout = Duration::from_secs(8);
        let client = builder()
            .resolver(Arc::new(Fixed(vec![hole, origin.addr])))
            .connect_timeout(connect_timeout)
            .happy_eyeballs_delay(Duration::from_millis(100))
            .build()
            .unwrap();
        let start = Instant::now();
        let resp = client
            .get(format!("http://dual.invalid:{}/hello", origin.addr.port()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.text().await.unwrap(), "hello world");
        // Without racing, the first address would take the whole connect timeout.
        assert!(
            start.elapsed() < connect_timeout / 2,
            "{:?}",
            start.elapsed()
        );
        assert_eq!(origin.connections(), 1);
    })
    .await;
}

#[tokio::test]
async fn happy_eyeballs_moves_on_at_once_when_an_attempt_fails() {
    within(async {
        let origin = hyper_server().await;
        let client = builder()
            .resolver(Arc::new(Fixed(vec![
                SocketAddr::from(([127, 0, 0, 1], refused_port())),
                SocketAddr::from(([127, 0, 0, 1], refused_port())),
                origin.addr,
            ])))
            .connect_timeout(Duration::from_secs(25))
            // Far longer than the test: only failures can start the next attempts.
            .happy_eyeballs_delay(Duration::from_secs(20))
            .build()
            .unwrap();
        let start = Instant::now();
        let resp = client
            .get("http://refusing.invalid/hello")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.text().await.unwrap(), "hello world");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );

        // All refused: a connect error naming the host, each cause once.
        let client = builder()
            .resolver(Arc::new(Fixed(vec![
                SocketAddr::from(([127, 0, 0, 1], refused_port())),
                SocketAddr::from(([127, 0, 0, 1], refused_port())),
            ])))
            .build()
            .unwrap();
        let err = client
            .get("http://nowhere.invalid/")
            .send()
            .await
            .unwrap_err();
        assert!(err.is_connect(), "{err:?}");
        assert!(err.to_string().contains("nowhere.invalid"), "{err}");
    })
    .await;
}

/// Answers one request per connection with `tag` and counts the connections.
async fn tagged_server(bind: &str, tag: &'static str) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if read_request_head(&mut s).await.is_some() {
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{tag}",
                        tag.len()
                    );
                    let _ = s.write_all(resp.as_bytes()).await;
                }
            });
        }
    });
    (addr, count)
}

#[tokio::test]
async fn happy_eyeballs_tries_ipv6_first() {
    within(async {
        let (v4, v4_count) = tagged_server("127.0.0.1:0", "v4").await;
        let (v6, v6_count) = tagged_server("[::1]:0", "v6").await;
        // The resolver lists IPv4 first; RFC 8305 §4 puts IPv6 first.
        let client = builder()
            .resolver(Arc::new(Fixed(vec![v4, v6])))
            .happy_eyeballs_delay(Duration::from_secs(5))
            .build()
            .unwrap();
        let resp = client.get("http://both.invalid/").send().await.unwrap();
        assert_eq!(resp.text().await.unwrap(), "v6");
        assert_eq!(v6_count.load(Ordering::SeqCst), 1);
        assert_eq!(v4_count.load(Ordering::SeqCst), 0);
    })
    .await;
}

#[tokio::test]
async fn static_resolve_override() {
    within(async {
        let origin = hyper_server().await;
        let client = builder()
            .resolve("pinned.invalid", SocketAddr::from(([127, 0, 0, 1], 0)))
            .build()
            .unwrap();
        let resp = client
            .get(format!(
                "http://pinned.invalid:{}/hello",
                origin.addr.port()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.text().await.unwrap(), "hello world");
        // The default resolver fails for the .invalid TLD (RFC 6761).
        let err = Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .get("http://pinned.invalid/")
            .send()
            .await
            .unwrap_err();
        assert!(err.is_connect(), "{err:?}");
    })
    .await;
}
