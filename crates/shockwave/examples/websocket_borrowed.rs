//! WebSocket without copies or allocations per message: borrowed messages on both sides.
//!
//! `cargo run -p shockwave --example websocket_borrowed` starts a server on an ephemeral
//! port with two echo routes, runs a client against each and stops:
//!
//! - `/echo`: `recv_and_reply` answers each message straight from the socket's read
//!   buffer (the answer may borrow the received message);
//! - `/upper`: `recv_into` copies each message into the handler's own reused buffer,
//!   which it changes and sends back with `send_bytes`/`send_str`.
//!
//! The client sends with `send_str`/`send_bytes` (from borrowed data) and receives with
//! `recv_ref` (a message borrowed from the socket until the next call).

use shockwave::client::Client;
use shockwave::server::ws::WebSocketUpgrade;
use shockwave::server::{Handler, RequestContext, Response, Server};
use shockwave::websocket::{CloseCode, MessageRef};

struct Routes;

impl Handler for Routes {
    async fn call<'a>(&'a self, cx: RequestContext<'a>) -> Response<'a> {
        let path = cx.path();
        let ws = match WebSocketUpgrade::from_request(&cx) {
            Ok(ws) => ws,
            Err(refusal) => return refusal,
        };
        match path {
            "/echo" => ws.on_upgrade(|mut socket| async move {
                // Text and binary messages go back as they came; pings are answered by
                // the socket itself; the loop ends with the connection.
                while let Some(Ok(_)) = socket.recv_and_reply(|m| m.is_data().then_some(m)).await {}
            }),
            "/upper" => ws.on_upgrade(|mut socket| async move {
                let mut buf = Vec::new();
                while let Some(Ok(kind)) = socket.recv_into(&mut buf).await {
                    let text = match kind {
                        MessageRef::Text(_) => true,
                        MessageRef::Binary(_) => false,
                        _ => continue,
                    };
                    buf.make_ascii_uppercase();
                    let sent = match std::str::from_utf8(&buf) {
                        Ok(s) if text => socket.send_str(s).await,
                        _ => socket.send_bytes(&buf).await,
                    };
                    if sent.is_err() {
                        break;
                    }
                }
            }),
            _ => Response::status_code(404),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::builder()
        .bind("127.0.0.1:0".parse()?)
        .handle_signals(false)
        .start(Routes)?;
    let client = Client::new();
    for route in ["/echo", "/upper"] {
        let url = format!("ws://{}{route}", server.local_addr());
        let mut ws = client.websocket(&url).await?;
        ws.send_str("hello").await?;
        ws.send_bytes(&[1, 2, 3]).await?;
        for _ in 0..2 {
            match ws.recv_ref().await {
                Some(Ok(MessageRef::Text(t))) => println!("{route}: text {t:?}"),
                Some(Ok(MessageRef::Binary(b))) => println!("{route}: binary {b:?}"),
                Some(Ok(other)) => println!("{route}: {other:?}"),
                Some(Err(e)) => return Err(e.into()),
                None => break,
            }
        }
        ws.close(CloseCode::NORMAL, "done").await?;
    }
    server.stop()?;
    Ok(())
}
