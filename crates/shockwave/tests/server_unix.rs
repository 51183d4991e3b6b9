//! Unix domain sockets: the server's `bind_unix` (HTTP/1.1 and h2c, driven by curl
//! `--unix-socket`), the socket file's mode, its removal on shutdown, a stale file
//! replaced, a live listener refused; the client's Unix socket connector.
#![cfg(unix)]

mod server_util;

use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use server_util::{require_tool, stop};
use shockwave::server::routes::DefaultRoutes;
use shockwave::server::{handler_fn, Response, Server, ServerBuilder, ServerHandle};

/// A fresh socket path for `name` (short: `sun_path` holds 108 bytes).
fn sock_path(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("sw-uds-{}-{name}.sock", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

fn unix_builder(path: &Path) -> ServerBuilder {
    Server::builder()
        .bind_unix(path)
        .workers(2)
        .shutdown_grace(Duration::from_secs(2))
        .handle_signals(false)
}

fn start(path: &Path) -> ServerHandle {
    unix_builder(path).start(DefaultRoutes::new()).unwrap()
}

fn curl(path: &Path) -> Command {
    require_tool("curl", "sudo apt-get install -y curl");
    let mut c = Command::new("curl");
    c.args(["-sS", "--max-time", "10", "--unix-socket"])
        .arg(path);
    c
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run curl");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "curl failed: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn curl_over_a_unix_socket_http1_h2c_prior_knowledge_and_upgrade() {
    let path = sock_path("curl");
    let h = start(&path);
    assert_eq!(h.unix_paths(), std::slice::from_ref(&path));
    assert!(h.local_addrs().is_empty());
    // HTTP/1.1, twice on one connection (keep-alive works over the socket).
    let out = run(curl(&path).args([
        "-w",
        " %{http_version}\n",
        "http://localhost/json",
        "http://localhost/",
    ]));
    assert_eq!(
        out, "{\"message\":\"Hello, World!\"} 1.1\nHello, World! 1.1\n",
        "{out}"
    );
    // h2c with prior knowledge.
    let out = run(curl(&path).args([
        "--http2-prior-knowledge",
        "-w",
        " %{http_version}",
        "http://localhost/json",
    ]));
    assert_eq!(out, "{\"message\":\"Hello, World!\"} 2", "{out}");
    // h2c by `Upgrade: h2c` (curl --http2 on http://).
    let out = run(curl(&path).args(["--http2", "-w", " %{http_version}", "http://localhost/"]));
    assert_eq!(out, "Hello, World! 2", "{out}");
    // A POST body goes through.
    let out = run(curl(&path).args(["--data-binary", "ping", "http://localhost/echo"]));
    assert_eq!(out, "ping");
    let stats = h.stats();
    assert_eq!(stats.connections_accepted, 4, "{stats:?}");
    stop(h);
}

#[test]
fn a_unix_request_has_no_remote_address() {
    let path = sock_path("remote");
    let h = unix_builder(&path)
        .start(handler_fn(async |cx| {
            let said = format!("{:?}", cx.request().remote_addr());
            Response::text(cx.arena().alloc_str(&said).unwrap())
        }))
        .unwrap();
    assert_eq!(run(curl(&path).arg("http://localhost/")), "None");
    stop(h);
}

/// The per-worker connection cap holds on a Unix socket as on TCP: a connection over it
/// gets a 503 (or nothing) and is closed, counted as refused; the served one goes on.
#[test]
fn a_unix_connection_over_the_cap_is_refused_with_503() {
    use std::io::{Read as _, Write as _};
    use std::os::unix::net::UnixStream;
    fn get(s: &mut UnixStream) {
        s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while !got.ends_with(b"Hello, World!") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got.starts_with(b"HTTP/1.1 200 "), "{got:?}");
    }
    let path = sock_path("cap");
    let h = unix_builder(&path)
        .workers(1)
        .max_connections_per_worker(1)
        .start(DefaultRoutes::new())
        .unwrap();
    let mut served = UnixStream::connect(&path).unwrap();
    served
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    get(&mut served);
    for _ in 0..3 {
        let mut over = UnixStream::connect(&path).unwrap();
        over.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut all = Vec::new();
        over.read_to_end(&mut all).unwrap();
        let all = String::from_utf8(all).unwrap();
        assert!(all.is_empty() || all.starts_with("HTTP/1.1 503"), "{all:?}");
    }
    get(&mut served);
    assert_eq!(h.stats().connections_refused, 3);
    assert_eq!(h.stats().connections_active, 1);
    stop(h);
}

#[test]
fn the_socket_file_gets_its_mode_and_is_removed_on_stop_and_on_drop() {
    let path = sock_path("mode");
    let h = start(&path);
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    stop(h);
    assert!(!path.exists(), "the socket file outlived the server");

    let h = unix_builder(&path)
        .unix_socket_mode(0o600)
        .start(DefaultRoutes::new())
        .unwrap();
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(run(curl(&path).arg("http://localhost/")), "Hello, World!");
    // Dropping the handle stops the server too; the last worker out removes the file.
    drop(h);
    let mut waited = 0;
    while path.exists() && waited < 100 {
        std::thread::sleep(Duration::from_millis(20));
        waited += 1;
    }
    assert!(
        !path.exists(),
        "the socket file outlived the dropped server"
    );
}

#[test]
fn a_stale_socket_file_is_replaced() {
    let path = sock_path("stale");
    // A crashed run's leftover: the file stays, nothing listens.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let h = start(&path);
    assert_eq!(run(curl(&path).arg("http://localhost/")), "Hello, World!");
    stop(h);
    assert!(!path.exists());
}

#[test]
fn a_live_listener_or_a_regular_file_is_refused_and_left_alone() {
    let path = sock_path("live");
    let other = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let err = unix_builder(&path)
        .start(DefaultRoutes::new())
        .expect_err("a live listener holds the path");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
    assert!(err.to_string().contains("already served"), "{err}");
    // The other listener still owns its file and still accepts.
    assert!(path.exists());
    std::os::unix::net::UnixStream::connect(&path).unwrap();
    let _ = other.accept().unwrap();
    drop(other);
    std::fs::remove_file(&path).unwrap();

    let path = sock_path("regular");
    std::fs::write(&path, b"not a socket").unwrap();
    let err = unix_builder(&path)
        .start(DefaultRoutes::new())
        .expect_err("a regular file is not replaced");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"not a socket");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_second_server_on_the_same_path_is_refused_and_the_first_keeps_its_file() {
    let path = sock_path("twice");
    let first = start(&path);
    let err = unix_builder(&path)
        .start(DefaultRoutes::new())
        .expect_err("the path is served");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
    assert_eq!(run(curl(&path).arg("http://localhost/")), "Hello, World!");
    stop(first);
    assert!(!path.exists());
}

#[tokio::test]
async fn our_client_over_a_unix_socket_pools_per_socket_and_speaks_h2c() {
    use shockwave::client::Client;
    let path = sock_path("client");
    let h = start(&path);
    let client = Client::builder().unix_socket(&path).build().unwrap();
    for _ in 0..3 {
        let resp = client.get("http://localhost/json").send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.version(), http::Version::HTTP_11);
        assert_eq!(
            resp.text().await.unwrap(),
            "{\"message\":\"Hello, World!\"}"
        );
    }
    let resp = client
        .post("http://localhost/echo")
        .body("over the socket")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "over the socket");
    // One connection, reused: the pool keys on the socket.
    let stats = client.stats();
    assert_eq!(stats.connections_opened, 1, "{stats:?}");
    assert_eq!(stats.connections_reused, 3, "{stats:?}");
    assert_eq!(client.idle_connections("http://localhost/"), 1);
    assert_eq!(h.stats().connections_accepted, 1);

    // h2c with prior knowledge over the socket.
    let h2 = Client::builder()
        .unix_socket(&path)
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let resp = h2.get("http://localhost/").send().await.unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert_eq!(resp.text().await.unwrap(), "Hello, World!");

    // https cannot go over the socket; a missing socket is a connect error.
    let err = client.get("https://localhost/").send().await.unwrap_err();
    assert!(err.to_string().contains("Unix domain socket"), "{err}");
    stop(h);
    let err = Client::builder()
        .unix_socket(&path)
        .build()
        .unwrap()
        .get("http://localhost/")
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

/// `shockwave serve --unix` and `shockwave get --unix-socket`: the socket file goes away
/// when SIGTERM stops the server.
#[cfg(feature = "cli")]
#[test]
fn cli_serve_unix_and_get_unix_socket() {
    use std::io::BufRead as _;
    let path = sock_path("cli");
    let mut serve = Command::new(env!("CARGO_BIN_EXE_shockwave"))
        .args(["serve", "--addr", "127.0.0.1:0", "--workers", "1", "--unix"])
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(serve.stdout.take().unwrap()).lines();
    let mut said = String::new();
    while !said.contains("routes:") {
        said = lines.next().expect("serve printed its addresses").unwrap();
    }
    assert!(path.exists());
    let out = Command::new(env!("CARGO_BIN_EXE_shockwave"))
        .args(["get", "--unix-socket"])
        .arg(&path)
        .arg("http://localhost/json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"{\"message\":\"Hello, World!\"}");
    assert_eq!(run(curl(&path).arg("http://localhost/")), "Hello, World!");
    // SIGTERM: graceful stop, the file removed.
    let killed = Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = serve.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!path.exists(), "serve left its socket file behind");
}

#[test]
fn a_start_that_fails_after_the_unix_bind_removes_the_socket_file() {
    let path = sock_path("failed");
    // A TCP address another socket holds: the start fails after the Unix bind.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = unix_builder(&path)
        .bind(held.local_addr().unwrap())
        .start(DefaultRoutes::new())
        .expect_err("the TCP address is held");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
    assert!(!path.exists(), "a failed start left its socket file behind");
}
