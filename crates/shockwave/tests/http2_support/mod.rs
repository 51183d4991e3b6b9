//! Test helpers for the HTTP/2 tests: a tiny frame-level client (our frame codec + HPACK)
//! and a decoder of what the server writes.
#![allow(dead_code)]

pub mod server;

/// Fails (never skips) when the third-party peer `cmd` is not installed, naming the
/// command that installs it.
pub fn require_peer(cmd: &str, install: &str) {
    let ok = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd}"))
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "{cmd} missing: run `{install}` or `cargo xtask test`");
}

/// The frame-level peer (our frame codec + HPACK): the same one the HTTP/2 connection's
/// own tests use, so both suites speak through one implementation.
#[path = "../../../http2-frames/tests/conn_support/mod.rs"]
mod peer;
// Not every test binary uses every helper.
#[allow(unused_imports)]
pub use peer::*;

/// Reads frames from a blocking socket (with a read timeout) until one matches `until`;
/// panics on EOF, on a read error or after 5 s.
pub fn read_frames(
    sock: &mut std::net::TcpStream,
    c: &mut Client,
    until: impl Fn(&F) -> bool,
) -> Vec<F> {
    use std::io::Read as _;
    use std::time::{Duration, Instant};
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut all = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        assert!(
            Instant::now() < deadline,
            "no matching frame in 5 s: {all:?}"
        );
        match sock.read(&mut buf) {
            Ok(0) => panic!("EOF before the expected frame: {all:?}"),
            Ok(n) => {
                let frames = c.parse(&buf[..n]);
                let done = frames.iter().any(&until);
                all.extend(frames);
                if done {
                    return all;
                }
            }
            Err(e) => panic!("read failed: {e}; frames so far: {all:?}"),
        }
    }
}
