//! HTTP/3 end to end on loopback: our HTTP/3 server (self-signed certificate) answering
//! a GET and a POST from our HTTP/3 client, with the owned and the arena APIs.
//!
//! `cargo run -p shockwave --example http3`

use std::sync::Arc;

use http::Method;
use shockwave::arena::Arena;
use shockwave::http3::client::Http3Client;
use shockwave::http3::server::Http3Server;
use shockwave::server::{handler_fn, tls, Response};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cert = tls::self_signed(&["localhost", "127.0.0.1"])?;
    let server = Http3Server::new("127.0.0.1:0".parse()?, cert.config.clone()).start(
        handler_fn(async |mut cx| match cx.path() {
            "/echo" => match cx.body().to_arena().await {
                Ok(body) => Response::ok().body(body),
                Err(e) => Response::new(e.status()),
            },
            _ => Response::text("Hello over HTTP/3!"),
        }),
    )?;
    let port = server.local_addr().port();
    println!("HTTP/3 server on udp 127.0.0.1:{port}");

    // A client trusting the self-signed certificate.
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from_pem_slice(
        cert.cert_pem.as_bytes(),
    )?)?;
    let client_tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let client = Http3Client::new(client_tls)?;
        let resp = client.get(&format!("https://127.0.0.1:{port}/")).await?;
        println!(
            "GET /      -> {} {:?}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        );
        let arena = Arena::new();
        let resp = client
            .send_in(
                &arena,
                &Method::POST,
                &format!("https://127.0.0.1:{port}/echo"),
                &[],
                b"ping",
            )
            .await?;
        println!(
            "POST /echo -> {} {:?} (head and body in the arena)",
            resp.status,
            String::from_utf8_lossy(resp.body)
        );
        client.close().await;
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    server.stop()?;
    Ok(())
}
