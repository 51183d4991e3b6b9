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
