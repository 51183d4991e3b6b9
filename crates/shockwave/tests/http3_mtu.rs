//! QUIC path MTU discovery (RFC 9000 §14.3) through `Http3Config`:
//! `mtu_discovery_upper_bound` lets each side grow its datagrams beyond the default
//! 1452 bytes up to what the peer accepts (`max_udp_payload_size`, applied to the
//! server's worker endpoints and to the pooled client's endpoint).
//! On loopback (MTU 65536) a download then arrives in datagrams larger than a 1500-byte
//! Ethernet frame could carry (never above `MAX_MTU_UPPER_BOUND`); with the defaults it
//! never does.

// HTTP/3 needs the `http3` feature.
#![cfg(feature = "http3")]

use std::sync::Arc;

use shockwave::client::{Client, Http3Request};
use shockwave::http3::{Http3Config, MAX_MTU_UPPER_BOUND};
use shockwave::server::{handler_fn, tls, Response, Server};

/// The size of the download each test makes.
const BODY: usize = 2 * 1024 * 1024;

/// Serves `BODY` bytes with `config` on both ends, downloads it twice over one
/// connection and returns (the client's path MTU, the average size of the datagrams
/// the client received during the second download, in bytes).
fn download(config: Http3Config) -> (u16, u64) {
    let cert = tls::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let body = bytes::Bytes::from(vec![7u8; BODY]);
    let server = Server::builder()
        .bind_h3("127.0.0.1:0".parse().unwrap())
        .tls(cert.config.clone())
        .workers(1)
        .http3(config.clone())
        .handle_signals(false)
        .start(handler_fn(async move |_cx| {
            Response::ok().body(body.clone())
        }))
        .unwrap();
    let addr = server.h3_local_addrs()[0];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let figures = rt.block_on(async {
        // The pooled client: its endpoint takes `max_udp_payload_size` from the config.
        let client = Client::builder()
            .http3()
            .http3_config(config.clone())
            .tls_config(Arc::new(cert.client_config().unwrap()))
            .build()
            .unwrap();
        let conn = client
            .http3_connection(&format!("https://127.0.0.1:{}/", addr.port()))
            .await
            .unwrap();
        let get = || Http3Request {
            method: &http::Method::GET,
            authority: "127.0.0.1",
            path: "/",
            headers: &[],
            body: &[],
        };
        // The first download gives MTU discovery (which starts after the handshake)
        // round trips to finish; the second one is measured.
        let r = conn.send(get()).await.unwrap();
        assert_eq!((r.status.as_u16(), r.body.len()), (200, BODY));
        for _ in 0..3 {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            let before = conn.quic().stats().udp_rx;
            let r = conn.send(get()).await.unwrap();
            let s = conn.quic().stats();
            eprintln!(
                "DBG {} {:?} {:?}",
                r.body.len(),
                s.udp_rx.bytes - before.bytes,
                s.udp_rx.datagrams - before.datagrams
            );
            eprintln!("DBG {:?}", s.path);
        }
        let before = conn.quic().stats().udp_rx;
        let r = conn.send(get()).await.unwrap();
        assert_eq!((r.status.as_u16(), r.body.len()), (200, BODY));
        let stats = conn.quic().stats();
        let datagrams = stats.udp_rx.datagrams - before.datagrams;
        let bytes = stats.udp_rx.bytes - before.bytes;
        (stats.path.current_mtu, bytes / datagrams.max(1))
    });
    server.stop().unwrap();
    figures
}

#[test]
fn a_raised_upper_bound_grows_datagrams_on_loopback() {
    let config = Http3Config {
        mtu_discovery_upper_bound: 16_000,
        max_udp_payload_size: 16_000,
        ..Http3Config::default()
    };
    let (mtu, average) = download(config);
    // The client's own discovery (upper bound from its transport configuration, bounded
    // by the server endpoint's max_udp_payload_size)...
    assert!(mtu > 1472, "client path MTU {mtu}");
    // At most the bound every upper bound is lowered to (10 datagrams per GSO send must
    // fit one UDP datagram).
    assert!(mtu <= MAX_MTU_UPPER_BOUND, "client path MTU {mtu}");
    // ...and the server's (its upper bound, bounded by what our endpoint accepts): the
    // download's datagrams average far above an Ethernet frame. (Unbounded, the
    // server's discovery reached 16,000 bytes, its 10-datagram GSO sends failed, and it
    // fell back to 1,200-byte datagrams.)
    assert!(average > 4_000, "average datagram {average} bytes");
    assert!(
        average <= u64::from(MAX_MTU_UPPER_BOUND),
        "average datagram {average} bytes"
    );
}

#[test]
fn the_defaults_stay_within_an_ethernet_frame() {
    let config = Http3Config::default();
    assert_eq!(
        (
            config.mtu_discovery_upper_bound,
            config.max_udp_payload_size
        ),
        (1452, 1472)
    );
    let (mtu, average) = download(config);
    assert!(mtu <= 1452, "client path MTU {mtu}");
    assert!(average <= 1472, "average datagram {average} bytes");
}

#[test]
fn the_endpoint_configuration_clamps_the_payload_size() {
    let low = Http3Config {
        max_udp_payload_size: 100,
        ..Http3Config::default()
    };
    assert_eq!(low.endpoint_config().get_max_udp_payload_size(), 1200);
    let high = Http3Config {
        max_udp_payload_size: u16::MAX,
        ..Http3Config::default()
    };
    assert_eq!(high.endpoint_config().get_max_udp_payload_size(), 65_527);
}
