//! The `/ws.html` page's WebSocket code path with a browser-grade client: Node's built-in
//! `WebSocket` (undici, the WHATWG API browsers implement) against `serve`'s routes, over
//! `ws://`. (A real browser loads the page itself in `ws_browser.rs`; here the page is
//! checked for the URL it opens.)

mod server_util;

use std::process::Command;

use server_util::{builder, roundtrip, stop};
use shockwave::server::routes::DefaultRoutes;

/// The same calls as the page: `new WebSocket(url)`, `send`, `onmessage`, `close`.
const CLIENT: &str = r#"
const ws = new WebSocket(process.argv[1]);
const got = [];
ws.onopen = () => { ws.send("typed text"); ws.send("héllo €"); };
ws.onmessage = (e) => {
  got.push(e.data);
  if (got.length === 2) ws.close(1000, "bye");
};
ws.onclose = (e) => { console.log(JSON.stringify({ got, code: e.code })); };
ws.onerror = (e) => { console.log("error " + e.message); process.exit(1); };
"#;

#[test]
fn node_websocket_echoes_through_the_serve_routes() {
    let node_ok = Command::new("node")
        .args([
            "--experimental-websocket",
            "-e",
            "if (typeof WebSocket !== 'function') process.exit(1)",
        ])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        node_ok,
        "Node.js 20.10+ (with its built-in WebSocket) missing: install Node.js 20 or later (`cargo xtask peers` installs Debian's nodejs where there is none)"
    );
    let h = builder().start(DefaultRoutes::new()).unwrap();
    let page = roundtrip(h.local_addr(), b"GET /ws.html HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains(r#"location.host + "/ws""#), "{html}");
    assert!(html.contains(r#""wss://" : "ws://""#));
    let out = Command::new("node")
        .args(["--experimental-websocket", "--no-warnings", "-e", CLIENT])
        .arg(format!("ws://{}/ws", h.local_addr()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.trim(),
        r#"{"got":["typed text","héllo €"],"code":1000}"#,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stop(h);
}
