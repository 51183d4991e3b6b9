//! A real browser against `serve`'s routes: headless Chromium (Debian's `chromium`) loads
//! `/ws.html?auto=...` over `http://` and `https://` (a self-signed certificate, accepted
//! with `--ignore-certificate-errors`); the page opens `/ws` over `ws://` or `wss://`,
//! sends two texts and a 64 KiB binary message, closes once all came back and writes a
//! JSON summary into `<pre id="result">`, which the test reads over the DevTools
//! protocol (tokio-tungstenite as its WebSocket client).
#![cfg(feature = "tls")]

mod server_util;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use server_util::{builder, roundtrip, stop};
use shockwave::server::routes::DefaultRoutes;
use tokio_tungstenite::tungstenite::Message as TMessage;

/// How long one browser run may take (a loaded 2-core machine starts Chromium slowly).
const BROWSER_BOUND: Duration = Duration::from_secs(120);

/// Kills the browser (and removes its profile) on drop, also when an assertion failed.
struct Browser {
    child: Child,
    profile: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // SIGTERM first: Chromium then ends its own helper processes (a SIGKILL would
        // orphan them); SIGKILL if it has not exited after a few seconds.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

static PROFILES: AtomicUsize = AtomicUsize::new(0);

/// One browser at a time: two Chromiums at once on a loaded 2-core machine only slow
/// each other down.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Opens `url` in headless Chromium and returns the JSON the page writes into
/// `<pre id="result">`, read over the DevTools protocol (`--dump-dom` alone can print
/// the DOM before the socket's exchange is over: virtual time does not wait for
/// WebSocket frames). Fails with the install command when Chromium is missing.
async fn page_result(url: &str) -> serde_json::Value {
    let found = Command::new("chromium")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "chromium missing: `apt-get install chromium` (or `cargo xtask peers`)"
    );
    let _one = ONE_BROWSER.lock().await;
    let profile = std::env::temp_dir().join(format!(
        "shockwave-chromium-{}-{}",
        std::process::id(),
        PROFILES.fetch_add(1, Ordering::Relaxed)
    ));
    let child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "--ignore-certificate-errors",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let mut browser = Browser { child, profile };
    // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID" on stderr.
    let stderr = browser.child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(at) = line.find("ws://") {
                let _ = tx.send(Ok(line[at..].trim().to_string()));
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        let _ = tx.send(Err(seen));
    });
    let browser_ws = match rx.recv_timeout(BROWSER_BOUND) {
        Ok(Ok(url)) => url,
        Ok(Err(stderr)) => panic!("chromium exited without a DevTools endpoint: {stderr}"),
        Err(_) => panic!("no DevTools endpoint within {BROWSER_BOUND:?}"),
    };
    let port: u16 = browser_ws
        .strip_prefix("ws://127.0.0.1:")
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected DevTools endpoint {browser_ws}"));
    let devtools: SocketAddr = ([127, 0, 0, 1], port).into();

    let deadline = Instant::now() + BROWSER_BOUND;
    // The page's target (listed once the browser opened it).
    let page_ws = loop {
        assert!(
            Instant::now() < deadline,
            "no page target within {BROWSER_BOUND:?}"
        );
        let list = roundtrip(
            devtools,
            b"GET /json/list HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        );
        let targets: serde_json::Value = serde_json::from_slice(&list.body).unwrap_or_default();
        let page = targets.as_array().into_iter().flatten().find(|t| {
            t["type"] == "page" && t["url"].as_str().is_some_and(|u| u.contains("/ws.html"))
        });
        if let Some(ws) = page.and_then(|t| t["webSocketDebuggerUrl"].as_str()) {
            break ws.to_string();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let tcp = tokio::net::TcpStream::connect(devtools).await.unwrap();
    let (mut cdp, _) = tokio_tungstenite::client_async(page_ws.as_str(), tcp)
        .await
        .unwrap();
    // Poll the DOM until the page wrote its result.
    let mut id = 0u64;
    loop {
        assert!(
            Instant::now() < deadline,
            "the page wrote no result within {BROWSER_BOUND:?}"
        );
        id += 1;
        let call = serde_json::json!({
            "id": id,
            "method": "Runtime.evaluate",
            "params": {
                "expression": "(document.getElementById('result') || {}).textContent || ''",
                "returnByValue": true,
            },
        });
        cdp.send(TMessage::text(call.to_string())).await.unwrap();
        let answer = loop {
            let msg = tokio::time::timeout_at(deadline.into(), cdp.next())
                .await
                .expect("DevTools answers")
                .expect("DevTools connection open")
                .unwrap();
            let TMessage::Text(text) = msg else { continue };
            let v: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
            if v["id"] == id {
                break v;
            }
        };
        if let Some(text) = answer["result"]["result"]["value"].as_str() {
            if !text.is_empty() {
                drop(browser);
                return serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn check(result: &serde_json::Value, ws_url: &str) {
    assert_eq!(result["url"], ws_url, "{result}");
    assert_eq!(
        result["echoes"],
        serde_json::json!(["hello", "héllo € ✓"]),
        "{result}"
    );
    assert_eq!(
        result["binaryOk"], true,
        "64 KiB binary echoed intact: {result}"
    );
    assert_eq!(
        result["extensions"], "permessage-deflate",
        "Chromium's deflate offer accepted: {result}"
    );
    assert_eq!(result["code"], 1000, "{result}");
    assert_eq!(result["clean"], true, "a clean close handshake: {result}");
}

/// The query of the page: two texts (one non-ASCII, percent-encoded).
const QUERY: &str = "?auto=hello&auto=h%C3%A9llo%20%E2%82%AC%20%E2%9C%93";

#[tokio::test]
async fn chromium_exchanges_messages_over_ws() {
    let h = builder().start(DefaultRoutes::new()).unwrap();
    let addr = h.local_addr();
    let result = page_result(&format!("http://{addr}/ws.html{QUERY}")).await;
    check(&result, &format!("ws://{addr}/ws"));
    stop(h);
}

#[tokio::test]
async fn chromium_exchanges_messages_over_wss() {
    let tls = shockwave::server::tls::self_signed(&["127.0.0.1"]).unwrap();
    let h = builder()
        .bind_tls("127.0.0.1:0".parse().unwrap())
        .tls(tls.config)
        .start(DefaultRoutes::new())
        .unwrap();
    let port = h.tls_local_addrs()[0].port();
    let result = page_result(&format!("https://127.0.0.1:{port}/ws.html{QUERY}")).await;
    check(&result, &format!("wss://127.0.0.1:{port}/ws"));
    stop(h);
}
