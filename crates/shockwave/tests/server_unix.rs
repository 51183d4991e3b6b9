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
    assert_eq!(h.unix_paths(), [path.clone()]);
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
