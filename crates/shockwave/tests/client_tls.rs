//! HTTPS: a self-signed certificate (rcgen) trusted as a custom root, verification
//! failures as typed errors, the explicit opt-out, and ALPN.

mod client_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use client_support::serve_hyper;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use shockwave::arena::Arena;
use shockwave::client::{ArenaRequest, Client, Error, TlsOptions};
use tokio::net::TcpListener;

struct TlsServer {
    port: u16,
    cert: CertificateDer<'static>,
    cert_pem: String,
    accepted: Arc<AtomicUsize>,
}

async fn tls_server() -> TlsServer {
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
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    serve_hyper(tls).await;
                }
            });
        }
    });
    TlsServer {
        port,
        cert,
        cert_pem: ck.cert.pem(),
        accepted,
    }
}

#[tokio::test]
async fn https_with_a_custom_root() {
    let server = tls_server().await;
    let client = Client::builder()
        .tls(TlsOptions::default().builtin_roots(false))
        .add_root_certificate(server.cert.clone())
        .build()
        .unwrap();
    let url = format!("https://127.0.0.1:{}/hello", server.port);
    for _ in 0..5 {
        let resp = client.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await.unwrap(), "hello world");
    }
    let arena = Arena::new();
    let resp = client
        .send_in(&arena, ArenaRequest::get(&url))
        .await
        .unwrap();
    assert_eq!(resp.body(), b"hello world");
    let big = client
        .get(format!("https://127.0.0.1:{}/big", server.port))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(big == client_support::big_body());
    // One TLS connection for everything.
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1);

    // The same root from PEM, with the host name instead of the address.
    let tls = TlsOptions::default()
        .add_root_certificates_pem(server.cert_pem.as_bytes())
        .unwrap();
    let client = Client::builder().tls(tls).build().unwrap();
    let resp = client
        .get(format!("https://localhost:{}/hello", server.port))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "hello world");
}

#[tokio::test]
async fn untrusted_certificate_is_a_tls_error() {
    let server = tls_server().await;
    let url = format!("https://127.0.0.1:{}/hello", server.port);
    let err = Client::new().get(&url).send().await.unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err}");
    assert!(err.is_tls());
    let msg = format!("{err}");
    assert!(msg.contains("127.0.0.1"), "{msg}");

    // Right root, wrong name: also refused.
    let other = rcgen::generate_simple_self_signed(vec!["example.invalid".into()]).unwrap();
    let client = Client::builder()
        .tls(TlsOptions::default().builtin_roots(false))
        .add_root_certificate(other.cert.der().clone())
        .build()
        .unwrap();
    assert!(client.get(&url).send().await.unwrap_err().is_tls());
}

#[tokio::test]
async fn danger_accept_invalid_certs_is_an_explicit_opt_in() {
    let server = tls_server().await;
    let client = Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let url = format!("https://127.0.0.1:{}/hello", server.port);
    assert_eq!(
        client.get(&url).send().await.unwrap().text().await.unwrap(),
        "hello world"
    );
}

#[tokio::test]
async fn alpn_is_negotiated() {
    let server = tls_server().await;
    let client = Client::builder()
        .tls(TlsOptions::default().builtin_roots(false))
        .add_root_certificate(server.cert.clone())
        .build()
        .unwrap();
    let transport = client
        .connect(&format!("https://127.0.0.1:{}/", server.port))
        .await
        .unwrap();
    assert_eq!(transport.alpn_protocol(), Some(&b"http/1.1"[..]));
}

#[test]
fn bad_tls_configuration_is_an_error() {
    assert!(TlsOptions::default()
        .add_root_certificates_pem(b"not pem")
        .is_err());
    let err = Client::builder()
        .tls(TlsOptions::default().builtin_roots(false))
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::TlsConfig(_)), "{err}");
}
