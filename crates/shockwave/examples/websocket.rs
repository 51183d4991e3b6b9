//! A WebSocket echo server and a client talking to it, in one program.
//!
//! `cargo run -p shockwave --example websocket` starts the server on 127.0.0.1:8080,
//! sends three messages with the client, prints the echoes and stops. With `serve` as
//! an argument it keeps serving: open http://127.0.0.1:8080/ (a page that uses the
//! socket) or connect any WebSocket client to ws://127.0.0.1:8080/ws.

use shockwave::client::Client;
use shockwave::server::ws::{Message, WebSocketUpgrade};
use shockwave::server::{handler_fn, Response, Server};
use shockwave::websocket::CloseCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let handler = handler_fn(async |cx| match cx.path() {
        "/ws" => match WebSocketUpgrade::from_request(&cx) {
            // 64 KiB messages at most; permessage-deflate when the client offers it.
            Ok(ws) => ws
                .max_message_size(64 * 1024)
                .on_upgrade(|mut socket| async move {
                    while let Some(Ok(message)) = socket.recv().await {
                        let reply = match message {
                            Message::Text(t) => Message::Text(format!("echo: {t}")),
                            Message::Binary(b) => Message::Binary(b),
                            // Pings are answered by the socket; a Close ends the loop.
                            _ => continue,
                        };
                        if socket.send(reply).await.is_err() {
                            break;
                        }
                    }
                }),
            // 400, or 426 for another WebSocket version.
            Err(refusal) => refusal,
        },
        "/" => Response::ok()
            .header("content-type", "text/html")
            .body(PAGE),
        _ => Response::status_code(404),
    });
    let server = Server::builder()
        .bind("127.0.0.1:8080".parse()?)
        .handle_signals(std::env::args().nth(1).as_deref() == Some("serve"))
        .start(handler)?;
    if std::env::args().nth(1).as_deref() == Some("serve") {
        println!("serving on http://{}/", server.local_addr());
        server.wait()?;
        return Ok(());
    }

    let client = Client::new();
    let mut ws = client.websocket("ws://127.0.0.1:8080/ws").await?;
    println!("connected (permessage-deflate: {})", ws.is_compressed());
    for text in ["hello", "WebSocket", "world"] {
        ws.send(Message::text(text)).await?;
        if let Some(Ok(Message::Text(echo))) = ws.recv().await {
            println!("{echo}");
        }
    }
    ws.close(CloseCode::NORMAL, "done").await?;
    server.stop()?;
    Ok(())
}

const PAGE: &str = r#"<!doctype html><meta charset="utf-8"><title>echo</title>
<input id="i"><pre id="o"></pre><script>
const ws = new WebSocket("ws://" + location.host + "/ws");
ws.onmessage = (e) => { document.getElementById("o").textContent += e.data + "\n"; };
document.getElementById("i").onchange = (e) => { ws.send(e.target.value); e.target.value = ""; };
</script>"#;
