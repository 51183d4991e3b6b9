//! The connection's TLS details reach handlers (`RequestContext::tls_info`) and tower
//! services (a `TlsInfo` in the request extensions): the negotiated ALPN protocol, the SNI
//! name, the TLS version and the cipher suite, over HTTP/1.1 over TLS (ALPN `http/1.1`
//! and no ALPN at all), HTTP/2 over TLS (ALPN `h2`), TLS 1.2 and HTTP/3; cleartext
//! HTTP/1.1 and h2c have none. axum's `Extension<TlsInfo>` extractor finds it; a client
//! certificate reaches the handler; an `Upgrade: h2c` over TLS stays on HTTP/1.1.
//!
//! The peers are hyper (HTTP/1.1), h2 and h3 clients over tokio-rustls and quinn, as in
//! `cross_protocol.rs`.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::{Buf as _, Bytes};
use http_body_util::BodyExt as _;
use rustls::pki_types::ServerName;
use shockwave::http3::{quic_client_config, Http3Config};
use shockwave::server::{
    from_tower, handler_fn, tls, Handler, Response, Server, ServerHandle, TlsInfo, TowerBody,
};
use tokio::io::{AsyncRead, AsyncWrite};

async fn stop(h: ServerHandle) {
    tokio::task::spawn_blocking(move || h.stop())
        .await
        .unwrap()
        .unwrap();
}

/// One line per detail, `-` when absent.
fn describe(tls: Option<&TlsInfo>) -> String {
    let Some(tls) = tls else {
        return "cleartext".to_owned();
    };
    format!(
        "alpn={} sni={} version={} cipher={} peer_cert={}",
        tls.alpn_protocol()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .unwrap_or("-".into()),
        tls.server_name().unwrap_or("-"),
        tls.protocol_version().unwrap_or("-"),
        tls.cipher_suite().unwrap_or("-"),
        tls.peer_certificate().is_some(),
    )
}

fn start<H: Handler>(handler: H) -> (ServerHandle, tls::SelfSigned) {
    let cert = tls::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let handle = Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .bind_tls("127.0.0.1:0".parse().unwrap())
        .bind_h3("127.0.0.1:0".parse().unwrap())
        .tls(cert.config.clone())
        .workers(1)
        .handle_signals(false)
        .build()
        .start(handler)
        .unwrap();
    (handle, cert)
}

fn handler_server() -> (ServerHandle, tls::SelfSigned) {
    start(handler_fn(async |cx| {
        Response::ok().body(Bytes::from(describe(cx.tls_info())))
    }))
}

fn tower_server() -> (ServerHandle, tls::SelfSigned) {
    let service = tower::service_fn(|req: http::Request<TowerBody>| async move {
        let text = describe(req.extensions().get::<TlsInfo>());
        Ok::<_, Infallible>(http::Response::new(http_body_util::Full::new(Bytes::from(
            text,
        ))))
    });
    start(from_tower(service))
}

/// A TLS connection to the server's TLS port with these ALPN protocols, TLS versions and
/// server name (`localhost` sends SNI; an IP address does not, RFC 6066 §3).
async fn tls_connect(
    h: &ServerHandle,
    cert: &tls::SelfSigned,
    alpn: &[&[u8]],
    tls12_only: bool,
    name: &str,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut config = if tls12_only {
        // The same trust as `client_config`, restricted to TLS 1.2.
        let mut roots = rustls::RootCertStore::empty();
        let der =
            rustls::pki_types::pem::PemObject::from_pem_slice(cert.cert_pem.as_bytes()).unwrap();
        roots.add(der).unwrap();
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
    } else {
        cert.client_config().unwrap()
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tls_connect_with(h, config, name).await
}

async fn tls_connect_with(
    h: &ServerHandle,
    config: rustls::ClientConfig,
    name: &str,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(h.tls_local_addrs()[0])
        .await
        .unwrap();
    let name = ServerName::try_from(name.to_owned()).unwrap();
    connector.connect(name, tcp).await.unwrap()
}

/// `GET /` over HTTP/1.1 on `io`: the body as text.
async fn get_h1<IO>(io: IO) -> String
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = http::Request::builder()
        .uri("/")
        .header("host", "localhost")
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

/// `GET /` over HTTP/2 on `io`: the body as text.
async fn get_h2<IO>(io: IO, scheme: &str) -> String
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, conn) = h2::client::handshake(io).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut send = send.ready().await.unwrap();
    let req = http::Request::builder()
        .uri(format!("{scheme}://localhost/"))
        .body(())
        .unwrap();
    let (resp, _) = send.send_request(req, true).unwrap();
    let resp = resp.await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let mut out = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        out.extend_from_slice(&chunk);
    }
    String::from_utf8(out).unwrap()
}

/// `GET /` over HTTP/3 with the server name `localhost`: the body as text.
async fn get_h3(h: &ServerHandle, cert: &tls::SelfSigned) -> String {
    get_h3_with(h, &cert.client_config().unwrap()).await
}

async fn get_h3_with(h: &ServerHandle, client: &rustls::ClientConfig) -> String {
    let mut ep = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    ep.set_default_client_config(quic_client_config(client, &Http3Config::default()).unwrap());
    let conn = ep
        .connect(h.h3_local_addrs()[0], "localhost")
        .unwrap()
        .await
        .unwrap();
    let (mut driver, mut send) = h3::client::new(h3_quinn::Connection::new(conn))
        .await
        .unwrap();
    let drive = tokio::spawn(async move {
        let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
    });
    let req = http::Request::builder()
        .uri("https://localhost/")
        .body(())
        .unwrap();
    let mut stream = send.send_request(req).await.unwrap();
    // The server may stop our (empty) request stream once it has answered.
    let _ = stream.finish().await;
    let resp = stream.recv_response().await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut out = Vec::new();
    while let Some(mut chunk) = stream.recv_data().await.unwrap() {
        while chunk.has_remaining() {
            let part = chunk.chunk();
            out.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    drop(send);
    drive.abort();
    ep.close(0u32.into(), b"done");
    String::from_utf8(out).unwrap()
}

/// The TLS 1.3 cipher suites rustls (ring) negotiates.
const TLS13_SUITES: [&str; 3] = [
    "TLS13_AES_128_GCM_SHA256",
    "TLS13_AES_256_GCM_SHA384",
    "TLS13_CHACHA20_POLY1305_SHA256",
];

/// Splits `describe`'s line into its cipher suite and the rest (the suite depends on the
/// hardware: AES or ChaCha20 first).
fn split_cipher(line: &str) -> (String, String) {
    let cipher = line
        .split(' ')
        .find_map(|f| f.strip_prefix("cipher="))
        .unwrap_or_else(|| panic!("no cipher in {line:?}"))
        .to_owned();
    (
        line.replace(&format!("cipher={cipher}"), "cipher=?"),
        cipher,
    )
}

/// What a handler and a tower service both see, protocol by protocol.
async fn check_all(h: &ServerHandle, cert: &tls::SelfSigned) {
    // HTTP/1.1 over TLS, ALPN `http/1.1`, SNI `localhost`.
    let io = tls_connect(h, cert, &[b"http/1.1"], false, "localhost").await;
    let (rest, cipher) = split_cipher(&get_h1(io).await);
    assert_eq!(
        rest,
        "alpn=http/1.1 sni=localhost version=TLSv1_3 cipher=? peer_cert=false"
    );
    assert!(TLS13_SUITES.contains(&cipher.as_str()), "{cipher}");

    // HTTP/2 over TLS, ALPN `h2`.
    let io = tls_connect(h, cert, &[b"h2"], false, "localhost").await;
    assert_eq!(io.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (rest, cipher) = split_cipher(&get_h2(io, "https").await);
    assert_eq!(
        rest,
        "alpn=h2 sni=localhost version=TLSv1_3 cipher=? peer_cert=false"
    );
    assert!(TLS13_SUITES.contains(&cipher.as_str()), "{cipher}");

    // No ALPN and an IP address as the server name: no SNI either.
    let io = tls_connect(h, cert, &[], false, "127.0.0.1").await;
    let (rest, _) = split_cipher(&get_h1(io).await);
    assert_eq!(
        rest,
        "alpn=- sni=- version=TLSv1_3 cipher=? peer_cert=false"
    );

    // TLS 1.2: the version and a TLS 1.2 suite (ECDHE with the certificate's key).
    let io = tls_connect(h, cert, &[b"http/1.1"], true, "localhost").await;
    let (rest, cipher) = split_cipher(&get_h1(io).await);
    assert_eq!(
        rest,
        "alpn=http/1.1 sni=localhost version=TLSv1_2 cipher=? peer_cert=false"
    );
    assert!(cipher.starts_with("TLS_ECDHE_"), "{cipher}");

    // HTTP/3: ALPN `h3`, SNI, TLS 1.3; quinn does not expose the cipher suite.
    assert_eq!(
        get_h3(h, cert).await,
        "alpn=h3 sni=localhost version=TLSv1_3 cipher=- peer_cert=false"
    );

    // Cleartext HTTP/1.1 and h2c: none.
    let tcp = tokio::net::TcpStream::connect(h.local_addrs()[0])
        .await
        .unwrap();
    assert_eq!(get_h1(tcp).await, "cleartext");
    let tcp = tokio::net::TcpStream::connect(h.local_addrs()[0])
        .await
        .unwrap();
    assert_eq!(get_h2(tcp, "http").await, "cleartext");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_see_the_tls_details_of_their_connection() {
    let (h, cert) = handler_server();
    check_all(&h, &cert).await;
    stop(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tower_services_find_tls_info_in_the_request_extensions() {
    let (h, cert) = tower_server();
    check_all(&h, &cert).await;
    stop(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_of_a_connection_shares_one_capture() {
    // Two requests on one HTTP/2 connection see the same details (one capture per
    // connection, borrowed by each request).
    let (h, cert) = start(handler_fn(async |cx| {
        let tls = cx.tls_info().expect("over TLS");
        // The address of the shared capture: equal for both requests.
        let addr = tls.server_name().map(|s| s.as_ptr() as usize).unwrap_or(0);
        Response::ok().body(Bytes::from(addr.to_string()))
    }));
    let io = tls_connect(&h, &cert, &[b"h2"], false, "localhost").await;
    let (send, conn) = h2::client::handshake(io).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut seen = Vec::new();
    for _ in 0..2 {
        let mut s = send.clone().ready().await.unwrap();
        let req = http::Request::builder()
            .uri("https://localhost/")
            .body(())
            .unwrap();
        let (resp, _) = s.send_request(req, true).unwrap();
        let mut body = resp.await.unwrap().into_body();
        let mut out = Vec::new();
        while let Some(chunk) = body.data().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        seen.push(String::from_utf8(out).unwrap());
    }
    assert_ne!(seen[0], "0");
    assert_eq!(seen[0], seen[1]);
    stop(h).await;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The DER of the first certificate in `pem`.
fn der(pem: &str) -> rustls::pki_types::CertificateDer<'static> {
    rustls::pki_types::pem::PemObject::from_pem_slice(pem.as_bytes()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_reaches_the_handler() {
    // A server that asks for client certificates and trusts one self-signed client
    // certificate; the handler answers with the DER of the certificate it was shown.
    let server = tls::self_signed(&["localhost"]).unwrap();
    let client = tls::self_signed(&["client.example"]).unwrap();
    let client_der = der(&client.cert_pem);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut client_roots = rustls::RootCertStore::empty();
    client_roots.add(client_der.clone()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(client_roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let key = |pem: &str| -> rustls::pki_types::PrivateKeyDer<'static> {
        rustls::pki_types::pem::PemObject::from_pem_slice(pem.as_bytes()).unwrap()
    };
    let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![der(&server.cert_pem)], key(&server.key_pem))
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let h = Server::builder()
        .bind_tls("127.0.0.1:0".parse().unwrap())
        .bind_h3("127.0.0.1:0".parse().unwrap())
        .tls(Arc::new(config))
        .workers(1)
        .handle_signals(false)
        .build()
        .start(handler_fn(async |cx| {
            let der = cx.tls_info().and_then(|t| t.peer_certificate());
            Response::ok().body(Bytes::from(der.map_or("none".into(), hex)))
        }))
        .unwrap();
    let mut server_roots = rustls::RootCertStore::empty();
    server_roots.add(der(&server.cert_pem)).unwrap();
    let client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(server_roots)
        .with_client_auth_cert(vec![client_der.clone()], key(&client.key_pem))
        .unwrap();
    let expected = hex(client_der.as_ref());

    let mut h1 = client_config.clone();
    h1.alpn_protocols = vec![b"http/1.1".to_vec()];
    let io = tls_connect_with(&h, h1, "localhost").await;
    assert_eq!(get_h1(io).await, expected);

    let mut h2 = client_config.clone();
    h2.alpn_protocols = vec![b"h2".to_vec()];
    let io = tls_connect_with(&h, h2, "localhost").await;
    assert_eq!(get_h2(io, "https").await, expected);

    assert_eq!(get_h3_with(&h, &client_config).await, expected);
    stop(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h2c_upgrade_over_tls_stays_on_http1_with_its_tls_details() {
    // `Upgrade: h2c` names HTTP/2 over cleartext TCP: over TLS the server ignores it and
    // answers on HTTP/1.1, so the request keeps its TLS details.
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (h, cert) = handler_server();
    let mut io = tls_connect(&h, &cert, &[b"http/1.1"], false, "localhost").await;
    io.write_all(
        b"GET / HTTP/1.1\r\nhost: localhost\r\nconnection: Upgrade, HTTP2-Settings, close\r\n\
          upgrade: h2c\r\nhttp2-settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n",
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    // The server may close without close_notify: keep what arrived.
    let _ = io.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.contains("alpn=http/1.1 sni=localhost version=TLSv1_3"),
        "{text}"
    );
    stop(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_reads_tls_info_with_the_extension_extractor() {
    // An axum 0.8 Router as it is: `Extension<TlsInfo>` finds the adapter's extension.
    use axum::routing::get;
    use axum::Extension;
    let app = axum::Router::new().route(
        "/",
        get(|Extension(tls): Extension<TlsInfo>| async move { describe(Some(&tls)) }),
    );
    let (h, cert) = start(from_tower(app));
    let io = tls_connect(&h, &cert, &[b"h2"], false, "localhost").await;
    let (rest, _) = split_cipher(&get_h2(io, "https").await);
    assert_eq!(
        rest,
        "alpn=h2 sni=localhost version=TLSv1_3 cipher=? peer_cert=false"
    );
    assert_eq!(
        get_h3(&h, &cert).await,
        "alpn=h3 sni=localhost version=TLSv1_3 cipher=- peer_cert=false"
    );
    stop(h).await;
}
