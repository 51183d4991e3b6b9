//! A warmed WebSocket echo over a real loopback connection makes zero heap allocations
//! per message at the `shockwave::websocket::WebSocket` layer, on the server and on the
//! client, for 64-byte and 64 KiB messages, with and without permessage-deflate: the
//! server echoes with `recv_and_reply` (or `recv_into` + `send_bytes`), the client sends
//! with `send_bytes`/`send_str` and receives with `recv_ref`. The owned API
//! (`recv`/`send`) is measured too, to show that the counter sees per-message copies.
//!
//! One test per binary: the counting allocator sees every thread of the process, so
//! nothing else may run concurrently.

mod server_util;

use shockwave::arena::alloc_count::{self, AllocCounts, CountingAllocator};
use shockwave::client::Client;
use shockwave::server::ws::{WebSocketConfig, WebSocketUpgrade};
use shockwave::server::{Handler, RequestContext, Response};
use shockwave::websocket::{Message, MessageRef, WebSocket};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

/// `/reply`: echo with `recv_and_reply`; `/into`: echo with `recv_into` into a reused
/// vector and `send_bytes`/`send_str`; `/owned`: echo with `recv`/`send`.
struct Echo;

impl Handler for Echo {
    async fn call<'a>(&'a self, cx: RequestContext<'a>) -> Response<'a> {
        let path = cx.path();
        let ws = match WebSocketUpgrade::from_request(&cx) {
            Ok(ws) => ws.max_message_size(1 << 20),
            Err(refusal) => return refusal,
        };
        match path {
            "/reply" => ws.on_upgrade(|mut socket| async move {
                while let Some(Ok(_)) = socket.recv_and_reply(|m| m.is_data().then_some(m)).await {}
            }),
            "/into" => ws.on_upgrade(|mut socket| async move {
                let mut buf = Vec::new();
                loop {
                    let text = match socket.recv_into(&mut buf).await {
                        Some(Ok(MessageRef::Text(_))) => true,
                        Some(Ok(MessageRef::Binary(_))) => false,
                        Some(Ok(_)) => continue,
                        _ => break,
                    };
                    let sent = if text {
                        socket
                            .send_str(std::str::from_utf8(&buf).expect("checked text"))
                            .await
                    } else {
                        socket.send_bytes(&buf).await
                    };
                    if sent.is_err() {
                        break;
                    }
                }
            }),
            _ => ws.on_upgrade(|mut socket| async move {
                while let Some(Ok(m)) = socket.recv().await {
                    if socket.send(m).await.is_err() {
                        break;
                    }
                }
            }),
        }
    }
}

/// Sends `rounds` messages of `payload` (text when `text`), each followed by its echo,
/// checked byte for byte; `owned` uses `send`/`recv` instead of the borrowing calls.
async fn echo(ws: &mut WebSocket, payload: &[u8], text: bool, owned: bool, rounds: usize) {
    for _ in 0..rounds {
        if owned {
            let m = if text {
                Message::text(std::str::from_utf8(payload).unwrap())
            } else {
                Message::binary(payload.to_vec())
            };
            ws.send(m).await.unwrap();
            let back = ws.recv().await.unwrap().unwrap();
            assert_eq!(back.as_bytes(), payload);
            continue;
        }
        if text {
            ws.send_str(std::str::from_utf8(payload).unwrap())
                .await
                .unwrap();
        } else {
            ws.send_bytes(payload).await.unwrap();
        }
        match ws.recv_ref().await.unwrap().unwrap() {
            MessageRef::Text(t) => {
                assert!(text);
                assert!(t.as_bytes() == payload, "text echo differs");
            }
            MessageRef::Binary(b) => {
                assert!(!text);
                assert!(b == payload, "binary echo differs");
            }
            other => panic!("unexpected {:?}", other.to_owned()),
        }
    }
}

/// Sends `rounds` batches of 16 numbered 64-byte binary messages back to back, then
/// reads the 16 echoes of each batch, checking their order and content: the server's
/// `recv_and_reply` finds the batch buffered and writes its answers together.
async fn pipelined(ws: &mut WebSocket, rounds: usize) {
    let mut msg = [b'p'; 64];
    for _ in 0..rounds {
        for i in 0..16u8 {
            msg[0] = i;
            ws.send_bytes(&msg).await.unwrap();
        }
        for i in 0..16u8 {
            msg[0] = i;
            match ws.recv_ref().await.unwrap().unwrap() {
                MessageRef::Binary(b) => assert!(b == msg, "echo {i} out of order or changed"),
                other => panic!("unexpected {:?}", other.to_owned()),
            }
        }
    }
}

/// Allocations (process-wide, and on the client's thread) per message over `rounds`
/// echoes after a warm-up.
async fn measure(
    ws: &mut WebSocket,
    payload: &[u8],
    text: bool,
    owned: bool,
    rounds: usize,
) -> (f64, f64) {
    echo(ws, payload, text, owned, 50).await;
    let client_before = alloc_count::thread_counts();
    let before = alloc_count::global_counts();
    echo(ws, payload, text, owned, rounds).await;
    let all: AllocCounts = alloc_count::global_counts().since(&before);
    let client = alloc_count::thread_counts().since(&client_before);
    (
        all.total_requests() as f64 / rounds as f64,
        client.total_requests() as f64 / rounds as f64,
    )
}

#[test]
fn warmed_websocket_echo_makes_zero_allocations_per_message() {
    alloc_count::assert_installed();
    let handle = server_util::builder().start(Echo).unwrap();
    let addr = handle.local_addr();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let small: Vec<u8> = (0..64).map(|i| b'a' + (i % 26) as u8).collect();
    let large: Vec<u8> = (0..64 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    let mut failures = Vec::new();
    rt.block_on(async {
        let client = Client::new();
        for deflate in [false, true] {
            let config = WebSocketConfig {
                deflate: if deflate {
                    WebSocketConfig::default().deflate
                } else {
                    None
                },
                ..WebSocketConfig::default()
            };
            for route in ["/reply", "/into"] {
                let url = format!("ws://{addr}{route}");
                let mut ws = client
                    .websocket_with(&url, config.clone(), &[])
                    .await
                    .unwrap();
                assert_eq!(ws.is_compressed(), deflate);
                for (payload, rounds) in [(&small, 2000), (&large, 200)] {
                    for text in [false, true] {
                        let (all, client) = measure(&mut ws, payload, text, false, rounds).await;
                        let what = format!(
                            "{route} deflate={deflate} {} B {}: {all} allocations per \
                             message in all, {client} on the client",
                            payload.len(),
                            if text { "text" } else { "binary" }
                        );
                        eprintln!("{what}");
                        if all != 0.0 {
                            failures.push(what);
                        }
                    }
                }
                pipelined(&mut ws, 20).await;
                let before = alloc_count::global_counts();
                pipelined(&mut ws, 100).await;
                let all = alloc_count::global_counts().since(&before).total_requests();
                let what = format!("{route} deflate={deflate} pipelined x16: {all} allocations");
                eprintln!("{what}");
                if all != 0 {
                    failures.push(what);
                }
                ws.close(shockwave::websocket::CloseCode::NORMAL, "")
                    .await
                    .unwrap();
            }
        }
        // The owned API copies every message: the counter must see it.
        let url = format!("ws://{addr}/owned");
        let config = WebSocketConfig {
            deflate: None,
            ..WebSocketConfig::default()
        };
        let mut ws = client.websocket_with(&url, config, &[]).await.unwrap();
        let (all, client) = measure(&mut ws, &small, false, true, 500).await;
        eprintln!("/owned 64 B binary: {all} allocations per message, {client} on the client");
        assert!(
            all >= 2.0 && client >= 1.0,
            "the owned echo copies each message (client and server): {all}, {client}"
        );
    });
    server_util::stop(handle);
    assert!(
        failures.is_empty(),
        "allocations per message: {failures:#?}"
    );
}
