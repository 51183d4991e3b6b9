//! HTTP/3 end to end on loopback: our HTTP/3 server (self-signed certificate) answering
//! a GET and a POST from the pooled `client::Client` with HTTP/3 enabled, with the owned
//! and the arena APIs, then a 4 MiB download read piece by piece with the streaming API
//! of the client's pooled HTTP/3 connection. Both ends let QUIC's path MTU discovery grow
//! datagrams beyond an Ethernet frame (loopback's MTU is 64 KiB), so the download moves
//! in fewer, larger datagrams.
//!
//! `cargo run -p shockwave --features http3 --example http3`

use shockwave::arena::Arena;
use shockwave::client::{ArenaRequest, Client, Http3Request};
use shockwave::http3::{Http3Config, MAX_MTU_UPPER_BOUND};
use shockwave::server::{handler_fn, tls, Response, Server};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cert = tls::self_signed(&["localhost", "127.0.0.1"])?;
    let big = bytes::Bytes::from(vec![b'x'; 4 << 20]);
    // Loopback carries 64 KiB datagrams: probe up to the largest bound used (on other
    // paths discovery settles on what the path carries), and accept as much.
    let h3_config = Http3Config {
        mtu_discovery_upper_bound: MAX_MTU_UPPER_BOUND,
        max_udp_payload_size: MAX_MTU_UPPER_BOUND,
        ..Http3Config::default()
    };
    let server = Server::builder()
        .bind_h3("127.0.0.1:0".parse()?)
        .tls(cert.config.clone())
        .workers(1)
        .http3(h3_config.clone())
        .handle_signals(false)
        .build()
        .start(handler_fn(async move |mut cx| match cx.path() {
            "/echo" => match cx.body().to_arena().await {
                Ok(body) => Response::ok().body(body),
                Err(e) => Response::new(e.status()),
            },
            // A shared `Bytes` body: cloned per request, never copied.
            "/big" => Response::ok().body(big.clone()),
            _ => Response::text("Hello over HTTP/3!"),
        }))?;
    let port = server.local_addr().port();
    println!("HTTP/3 server on udp 127.0.0.1:{port}");

    // The pooled client, HTTP/3 by default, trusting the self-signed certificate.
    use rustls::pki_types::pem::PemObject;
    let root = rustls::pki_types::CertificateDer::from_pem_slice(cert.cert_pem.as_bytes())?;
    let client = Client::builder()
        .http3()
        .http3_config(h3_config)
        .add_root_certificate(root)
        .build()?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let resp = client
            .get(format!("https://127.0.0.1:{port}/"))
            .send()
            .await?;
        println!(
            "GET /      -> {} {:?} {:?}",
            resp.status(),
            resp.version(),
            resp.text().await?
        );
        let arena = Arena::new();
        let url = format!("https://127.0.0.1:{port}/echo");
        let resp = client
            .send_in(&arena, ArenaRequest::post(&url, b"ping"))
            .await?;
        println!(
            "POST /echo -> {} {:?} (head and body in the arena)",
            resp.status(),
            String::from_utf8_lossy(resp.body())
        );
        println!(
            "QUIC connections opened: {}",
            client.stats().http3_connections_opened
        );

        // The streaming API of one HTTP/3 connection: the head first, then the body as
        // slices of the received packets, so a large download is never buffered whole.
        let conn = client
            .http3_connection(&format!("https://127.0.0.1:{port}/"))
            .await?;
        let authority = format!("127.0.0.1:{port}");
        let mut resp = conn
            .send_streaming(Http3Request {
                method: &http::Method::GET,
                authority: &authority,
                path: "/big",
                headers: &[],
                body: &[],
            })
            .await?;
        let (mut pieces, mut largest) = (0usize, 0usize);
        while let Some(piece) = resp.body.chunk().await? {
            pieces += 1;
            largest = largest.max(piece.len());
        }
        println!(
            "GET /big   -> {} {} bytes in {pieces} pieces (largest {largest} bytes)",
            resp.status,
            resp.body.received()
        );
        let stats = conn.quic().stats();
        println!(
            "QUIC path MTU {} bytes; {} datagrams received ({} bytes)",
            stats.path.current_mtu, stats.udp_rx.datagrams, stats.udp_rx.bytes
        );
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    server.stop()?;
    Ok(())
}
