//! WebSocket interop with Python's `websockets` (a client that negotiates
//! permessage-deflate by default, RFC 7692) against the server's `/ws` echo route.

mod server_util;

use std::process::Command;

use server_util::{builder, stop};
use shockwave::server::routes::DefaultRoutes;

/// Fails (never skips) when the peer is missing.
fn require_websockets() {
    let ok = Command::new("python3")
        .args(["-c", "import websockets"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "Python websockets missing: run `python3 -m pip install websockets` or `cargo xtask test`"
    );
}

const CLIENT: &str = r#"
import asyncio, sys
from websockets.asyncio.client import connect

async def main(url):
    async with connect(url, max_size=None) as ws:
        ext = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        assert ext.startswith("permessage-deflate"), ext
        await ws.send("hello")
        assert await ws.recv() == "hello"
        await ws.send(b"\x00\x01\xff")
        assert await ws.recv() == b"\x00\x01\xff"
        big = bytes(i % 251 for i in range(64 * 1024))
        await ws.send(big)
        assert await ws.recv() == big
        text = "compressible " * 5000
        await ws.send(text)
        assert await ws.recv() == text
        # A fragmented message (an iterable is sent as fragments).
        await ws.send(["frag", "ment", "ed"])
        assert await ws.recv() == "fragmented"
        pong = await ws.ping(b"p")
        await asyncio.wait_for(pong, 5)
        await ws.close(code=4001, reason="done")
        assert ws.close_code == 4001, ws.close_code
    print("ok")

asyncio.run(main(sys.argv[1]))
"#;

#[test]
fn python_websockets_client_with_permessage_deflate() {
    require_websockets();
    let h = builder().start(DefaultRoutes::new()).unwrap();
    let url = format!("ws://{}/ws", h.local_addr());
    let out = Command::new("python3")
        .args(["-c", CLIENT, &url])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.trim() == "ok",
        "{stdout}\n{stderr}"
    );
    stop(h);
}

const SERVER: &str = r#"
import asyncio, sys
from websockets.asyncio.server import serve

async def echo(ws):
    ext = ws.request.headers.get("Sec-WebSocket-Extensions", "")
    await ws.send("ext:" + ext)
    async for m in ws:
        await ws.send(m)

async def main():
    async with serve(echo, "127.0.0.1", 0, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(port, flush=True)
        await asyncio.sleep(30)

asyncio.run(main())
"#;

#[tokio::test]
async fn our_client_against_a_python_websockets_server_with_deflate() {
    use shockwave::websocket::{CloseCode, Message};
    use std::io::BufRead as _;
    require_websockets();
    let mut child = Command::new("python3")
        .args(["-c", SERVER])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().expect("the server's port");
    let result = async {
        let client = shockwave::client::Client::new();
        let mut ws = client.websocket(&format!("ws://127.0.0.1:{port}/")).await?;
        assert!(ws.is_compressed(), "websockets accepts permessage-deflate");
        let Some(Ok(Message::Text(ext))) = ws.recv().await else {
            panic!("no greeting")
        };
        assert!(ext.starts_with("ext:permessage-deflate"), "{ext}");
        let text = "compressible ".repeat(5000);
        ws.send(Message::text(text.clone())).await?;
        assert_eq!(ws.recv().await.unwrap()?, Message::Text(text));
        let big: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
        ws.send(Message::binary(big.clone())).await?;
        assert_eq!(ws.recv().await.unwrap()?, Message::binary(big));
        ws.close(CloseCode::NORMAL, "bye").await?;
        Ok::<_, shockwave::websocket::WebSocketError>(())
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    result.unwrap();
}

const BAD_VERSION: &str = r#"
import asyncio, sys
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

async def main(url):
    try:
        async with connect(url, additional_headers={"X": "y"}) as ws:
            pass
    except InvalidStatus as e:
        print(e.response.status_code)

asyncio.run(main(sys.argv[1]))
"#;

#[test]
fn python_websockets_client_sees_a_refusal_on_a_plain_route() {
    require_websockets();
    let h = builder().start(DefaultRoutes::new()).unwrap();
    // `/` is not a WebSocket route: the handshake gets the route's answer (200), which
    // the client reports as a refused handshake.
    let url = format!("ws://{}/", h.local_addr());
    let out = Command::new("python3")
        .args(["-c", BAD_VERSION, &url])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.trim(),
        "200",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stop(h);
}
