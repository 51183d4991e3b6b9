//! WebSocket over HTTP/1.1 against Node's `ws` package (npm), both directions: its client
//! against `serve`'s `/ws` echo, and `Client::websocket` against its `WebSocketServer`.
//! Text, a 1 MiB binary message, ping/pong, permessage-deflate (RFC 7692) negotiated
//! both ways, and close codes with reasons (RFC 6455 §5.5.1, §7.4).
//!
//! `ws` is looked up in `$SHOCKWAVE_NPM_PREFIX/node_modules`, else
//! `$HOME/.cache/shockwave-peers/node/node_modules` (where `cargo xtask peers` installs
//! it).

mod server_util;

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use server_util::{builder, stop};
use shockwave::client::Client;
use shockwave::server::routes::DefaultRoutes;
use shockwave::websocket::{CloseCode, Message};

fn npm_prefix() -> PathBuf {
    match std::env::var_os("SHOCKWAVE_NPM_PREFIX") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
            .join(".cache/shockwave-peers/node"),
    }
}

/// `node` with `NODE_PATH` pointing at the `ws` package; fails with the install command
/// when either is missing.
fn node() -> Command {
    let modules = npm_prefix().join("node_modules");
    let node_ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        node_ok,
        "node missing: `apt-get install nodejs npm` (or `cargo xtask peers`)"
    );
    assert!(
        modules.join("ws/package.json").is_file(),
        "the npm package `ws` is missing from {}: `npm install --prefix {} ws@8` (or `cargo xtask peers`)",
        modules.display(),
        npm_prefix().display()
    );
    let mut cmd = Command::new("node");
    cmd.env("NODE_PATH", modules);
    cmd
}

/// Kills the child on drop (a failed assertion must not leave a server running).
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `ws` client: text, 1 MiB binary, ping, then Close 4000 "bye"; prints what it saw
/// as one JSON line.
const CLIENT: &str = r#"
const WebSocket = require("ws");
const ws = new WebSocket(process.argv[1], { perMessageDeflate: true });
const out = {};
const big = Buffer.alloc(1 << 20);
for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 251;
let step = 0;
const timer = setTimeout(() => { console.log("timeout " + JSON.stringify(out)); process.exit(1); }, 60000);
ws.on("open", () => { out.extensions = ws.extensions; ws.send("héllo €"); });
ws.on("message", (data, isBinary) => {
  if (step === 0) {
    out.text = data.toString();
    out.textIsBinary = isBinary;
    ws.send(big);
  } else if (step === 1) {
    out.bigEchoed = isBinary && Buffer.compare(data, big) === 0;
    ws.ping("are you there");
  }
  step++;
});
ws.on("pong", (data) => { out.pong = data.toString(); ws.close(4000, "bye"); });
ws.on("close", (code, reason) => {
  clearTimeout(timer);
  out.code = code;
  out.reason = reason.toString();
  console.log(JSON.stringify(out));
});
ws.on("error", (e) => { console.log("error " + e.message); process.exit(1); });
"#;

#[test]
fn ws_package_client_against_our_server() {
    let mut node = node();
    let h = builder().start(DefaultRoutes::new()).unwrap();
    let out = node
        .args(["-e", CLIENT])
        .arg(format!("ws://{}/ws", h.local_addr()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let got: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(
        got["extensions"], "permessage-deflate",
        "our server accepts ws's deflate offer: {got}"
    );
    assert_eq!(got["text"], "héllo €");
    assert_eq!(got["textIsBinary"], false);
    assert_eq!(got["bigEchoed"], true, "1 MiB binary echoed intact");
    assert_eq!(got["pong"], "are you there");
    // The close handshake completed: ws reports the code our socket echoed (RFC 6455
    // §5.5.1: the code, not necessarily the reason) instead of 1006.
    assert_eq!(got["code"], 4000, "our server echoes the close code: {got}");
    stop(h);
}

/// The `ws` server: echoes, closes with 4002 "server bye" on the text "close-me", and
/// prints one JSON line per connection when it ends (its negotiated extensions, what it
/// received, the close code and reason it saw). Exits after two connections.
const SERVER: &str = r#"
const { WebSocketServer } = require("ws");
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: { threshold: 0 } });
let ended = 0;
setTimeout(() => { console.log("timeout"); process.exit(1); }, 60000);
wss.on("listening", () => { console.log("PORT " + wss.address().port); });
wss.on("connection", (ws, req) => {
  const seen = { extensions: req.headers["sec-websocket-extensions"] || "", negotiated: Object.keys(ws._extensions || {}), received: [] };
  ws.on("message", (data, isBinary) => {
    seen.received.push(isBinary ? "binary " + data.length : data.toString());
    if (!isBinary && data.toString() === "close-me") ws.close(4002, "server bye");
    else ws.send(data, { binary: isBinary });
  });
  ws.on("close", (code, reason) => {
    seen.code = code;
    seen.reason = reason.toString();
    console.log(JSON.stringify(seen));
    if (++ended === 2) { wss.close(); process.exit(0); }
  });
});
"#;

#[tokio::test]
async fn our_client_against_the_ws_package_server() {
    let child = node()
        .args(["-e", SERVER])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut child = Reaper(child);
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let port: u16 = first
        .strip_prefix("PORT ")
        .unwrap_or_else(|| panic!("{first}"))
        .parse()
        .unwrap();
    let url = format!("ws://127.0.0.1:{port}/");
    let client = Client::new();

    // First connection: data both ways, compressed; the server closes.
    tokio::time::timeout(Duration::from_secs(60), async {
        let mut ws = client.websocket(&url).await.unwrap();
        assert!(
            ws.is_compressed(),
            "ws accepts our permessage-deflate offer"
        );
        ws.send(Message::text("héllo €")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("héllo €"));
        let big: Vec<u8> = (0..1 << 20).map(|i| (i * 7 % 251) as u8).collect();
        ws.send(Message::binary(big.clone())).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::binary(big));
        ws.send(Message::Ping(b"ping?".to_vec().into()))
            .await
            .unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::Pong(b"ping?".to_vec().into())
        );
        ws.send(Message::text("close-me")).await.unwrap();
        match ws.recv().await {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(frame.code, CloseCode(4002));
                assert_eq!(frame.reason, "server bye");
            }
            other => panic!("expected the server's Close, got {other:?}"),
        }
        assert!(ws.recv().await.is_none(), "closed after the handshake");
    })
    .await
    .expect("first connection within 60 s");

    // Second connection: we close, with a code and reason.
    tokio::time::timeout(Duration::from_secs(60), async {
        let mut ws = client.websocket(&url).await.unwrap();
        ws.send(Message::text("one")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("one"));
        ws.close(CloseCode(4003), "client bye").await.unwrap();
        assert!(ws.is_closed());
    })
    .await
    .expect("second connection within 60 s");

    let seen: Vec<serde_json::Value> = lines
        .take(2)
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert_eq!(seen.len(), 2);
    assert!(
        seen[0]["extensions"]
            .as_str()
            .unwrap()
            .starts_with("permessage-deflate"),
        "{}",
        seen[0]
    );
    assert_eq!(seen[0]["negotiated"][0], "permessage-deflate");
    assert_eq!(
        seen[0]["received"],
        serde_json::json!(["héllo €", "binary 1048576", "close-me"])
    );
    assert_eq!(seen[0]["code"], 4002);
    assert_eq!(seen[1]["received"], serde_json::json!(["one"]));
    assert_eq!(seen[1]["code"], 4003, "ws saw our close code: {}", seen[1]);
    assert_eq!(seen[1]["reason"], "client bye");
}

/// The `ws` client against a handler that closes first: a text message `close REASON`
/// makes it close with 4002 and REASON; ws reports both (RFC 6455 §7.1.5, §7.1.6).
const CLOSED_BY_SERVER: &str = r#"
const WebSocket = require("ws");
const ws = new WebSocket(process.argv[1], { perMessageDeflate: true });
setTimeout(() => { console.log("timeout"); process.exit(1); }, 60000);
ws.on("open", () => { ws.send("close done for now ✓"); });
ws.on("close", (code, reason) => {
  console.log(JSON.stringify({ code, reason: reason.toString(), extensions: ws.extensions }));
  process.exit(0);
});
ws.on("error", (e) => { console.log("error " + e.message); process.exit(1); });
"#;

#[test]
fn ws_package_client_sees_our_close_code_and_reason() {
    use shockwave::server::handler_fn;
    use shockwave::server::ws::WebSocketUpgrade;

    let mut node = node();
    let handler = handler_fn(async |cx| match WebSocketUpgrade::from_request(&cx) {
        Ok(ws) => ws.on_upgrade(|mut socket| async move {
            while let Some(Ok(msg)) = socket.recv().await {
                if let Message::Text(text) = msg {
                    if let Some(reason) = text.strip_prefix("close ") {
                        let _ = socket.close(CloseCode(4002), reason).await;
                        break;
                    }
                }
            }
        }),
        Err(refusal) => refusal,
    });
    let h = builder().start(handler).unwrap();
    let out = node
        .args(["-e", CLOSED_BY_SERVER])
        .arg(format!("ws://{}/", h.local_addr()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let got: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(got["code"], 4002, "{got}");
    assert_eq!(got["reason"], "done for now ✓", "{got}");
    assert_eq!(got["extensions"], "permessage-deflate");
    stop(h);
}
