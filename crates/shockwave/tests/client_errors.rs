//! Client error messages: each cause printed once (the `Display` says what failed,
//! `source()` says why), and HTTP/3 certificate failures are TLS errors like TCP+TLS
//! ones.

use std::error::Error as _;

use shockwave::client::{Client, Error};

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn connect_errors_print_their_cause_once() {
    let port = closed_port();
    let err = Client::new()
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    let source = err.source().expect("the io::Error is the source");
    let cause = source.to_string();
    assert_eq!(
        err.to_string(),
        format!("connecting to 127.0.0.1:{port} failed")
    );
    assert!(!err.to_string().contains(&cause), "{err}");
    // Walking the chain (what anyhow's `{:#}` does) gives each part once.
    let mut chain = vec![err.to_string()];
    let mut next = err.source();
    while let Some(e) = next {
        chain.push(e.to_string());
        next = e.source();
    }
    let line = chain.join(": ");
    assert_eq!(line.matches(&cause).count(), 1, "{line}");
}

#[cfg(feature = "http3")]
#[tokio::test]
async fn http3_certificate_failures_are_tls_errors() {
    use shockwave::server::{handler_fn, tls, Response, Server};
    let cert = tls::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let server = Server::builder()
        .bind_h3("127.0.0.1:0".parse().unwrap())
        .tls(cert.config.clone())
        .workers(1)
        .handle_signals(false)
        .start(handler_fn(async |_cx| Response::text("hi")))
        .unwrap();
    let url = format!("https://127.0.0.1:{}/", server.h3_local_addrs()[0].port());
    // Not trusted (webpki roots only).
    let err = Client::builder()
        .http3()
        .build()
        .unwrap()
        .get(&url)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_tls(), "{err:?}");
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert!(!err.is_closed(), "{err:?}");
    let cause = err.source().unwrap().to_string();
    assert!(cause.contains("certificate"), "{cause}");
    // Trusted: the same server answers.
    let client = Client::builder()
        .http3()
        .tls(
            shockwave::client::TlsOptions::default()
                .add_root_certificates_pem(cert.cert_pem.as_bytes())
                .unwrap(),
        )
        .build()
        .unwrap();
    let resp = client.get(&url).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "hi");
    server.stop().unwrap();
}
