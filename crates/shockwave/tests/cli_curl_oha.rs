//! The `shockwave` command as a curl and oha user expects it: `get`'s curl flags and
//! refusals, load mode's measurement and summary (text and `--json`), and `serve`'s
//! access log and self-signed PEM cleanup. Everything runs the binary.

// Runs the `shockwave` binary, built with the `cli` feature.
#![cfg(feature = "cli")]

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use shockwave::server::{handler_fn, Response, Server, ServerHandle};

const BIN: &str = env!("CARGO_BIN_EXE_shockwave");

/// `/inspect...`: the request as the server saw it (method, target, header fields, body);
/// `/sleep`: 20 ms then 200; `/auth`: 200 with the right basic credentials, else 401;
/// `/missing`: 404; anything else: 200 "hi".
fn start() -> ServerHandle {
    let handler = handler_fn(async |mut cx| {
        let path = cx.path();
        if path.starts_with("/inspect") {
            let mut text = format!("{} {}\n", cx.method(), cx.request().target());
            for (n, v) in cx.headers().iter() {
                text.push_str(&String::from_utf8_lossy(n).to_ascii_lowercase());
                text.push_str(": ");
                text.push_str(&String::from_utf8_lossy(v));
                text.push('\n');
            }
            text.push('\n');
            let body = cx.body().to_arena().await.unwrap_or_default();
            text.push_str(&String::from_utf8_lossy(body));
            let method: &'static str = match cx.method().as_str() {
                "HEAD" => "HEAD",
                "POST" => "POST",
                "GET" => "GET",
                _ => "other",
            };
            return Response::ok()
                .header("x-method", method)
                .body(bytes::Bytes::from(text));
        }
        match path {
            "/sleep" => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Response::text("slept")
            }
            "/auth" => {
                // aladdin:opensesame (RFC 7617 §2's example user, another password)
                if cx.request().header("authorization")
                    == Some(b"Basic YWxhZGRpbjpvcGVuc2VzYW1l".as_slice())
                {
                    Response::text("welcome")
                } else {
                    Response::new(http::StatusCode::UNAUTHORIZED)
                }
            }
            "/missing" => Response::new(http::StatusCode::NOT_FOUND).body("no such thing"),
            _ => Response::text("hi"),
        }
    });
    Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .workers(1)
        .handle_signals(false)
        .start(handler)
        .unwrap()
}

/// Runs `shockwave get ARGS` in `dir`: (exit code, stdout, stderr).
fn get_in(dir: Option<&std::path::Path>, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("get").args(args);
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn get(args: &[&str]) -> (i32, String, String) {
    get_in(None, args)
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("shockwave-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn default_headers_scheme_and_overrides() {
    let server = start();
    // No scheme: http:// is assumed.
    let url = format!("{}/inspect", server.local_addr());
    let (code, out, err) = get(&[&url]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("GET /inspect\n"), "{out}");
    let ua = concat!("user-agent: shockwave/", env!("CARGO_PKG_VERSION"), "\n");
    assert!(out.contains(ua), "{out}");
    assert!(out.contains("accept: */*\n"), "{out}");

    let (code, out, err) = get(&["-A", "probe/1", "-H", "Accept: text/plain", &url]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("user-agent: probe/1\n"), "{out}");
    assert!(!out.contains("shockwave/"), "{out}");
    assert!(out.contains("accept: text/plain\n"), "{out}");
    assert_eq!(out.matches("accept:").count(), 1, "{out}");
    server.stop().unwrap();
}

#[test]
fn basic_auth_in_curl_and_load_mode() {
    let server = start();
    let url = format!("http://{}/auth", server.local_addr());
    let (code, out, err) = get(&["-u", "aladdin:opensesame", &url]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "welcome");
    let (code, out, err) = get(&["-u", "aladdin:wrong", "-f", &url]);
    assert_eq!(code, 22, "{out}{err}");
    let (code, out, err) = get(&["-u", "aladdin:opensesame", "-n", "5", "--json", &url]);
    assert_eq!(code, 0, "{err}");
    let j = json(&out);
    assert_eq!(j["ok"], 5, "{out}");
    assert_eq!(j["statuses"]["200"], 5, "{out}");
    server.stop().unwrap();
}

#[test]
fn output_to_a_file_and_to_the_remote_name() {
    let server = start();
    let dir = temp_dir("output");
    let file = dir.join("out.txt");
    let url = format!("http://{}/", server.local_addr());
    let (code, out, err) = get(&["-o", file.to_str().unwrap(), &url]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "", "the body went to the file");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "hi");

    let url = format!("http://{}/inspect/report.txt?x=1", server.local_addr());
    let (code, out, err) = get_in(Some(&dir), &["-O", &url]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "");
    let saved = std::fs::read_to_string(dir.join("report.txt")).unwrap();
    assert!(
        saved.starts_with("GET /inspect/report.txt?x=1\n"),
        "{saved}"
    );

    // A URL path without a file name is refused.
    let url = format!("http://{}/", server.local_addr());
    let (code, _, err) = get_in(Some(&dir), &["-O", &url]);
    assert_ne!(code, 0);
    assert!(err.contains("-O") && err.contains("-o FILE"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
    server.stop().unwrap();
}

#[test]
fn silent_verbose_head_and_fail() {
    let server = start();
    let base = format!("http://{}", server.local_addr());
    // -v: curl's > and < lines on stderr, the body alone on stdout.
    let (code, out, err) = get(&["-v", &format!("{base}/inspect?q=1")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("GET /inspect?q=1\n"), "{out}");
    assert!(err.contains("> GET /inspect?q=1 HTTP/1.1\n"), "{err}");
    assert!(
        err.contains(&format!("> host: {}\n", server.local_addr())),
        "{err}"
    );
    assert!(err.contains("> user-agent: shockwave/"), "{err}");
    assert!(err.contains("< HTTP/1.1 200 OK\n"), "{err}");
    assert!(err.contains("< x-method: GET\n"), "{err}");
    let req = err.find("> GET").unwrap();
    let resp = err.find("< HTTP/1.1").unwrap();
    assert!(req < resp, "{err}");

    // -I: a HEAD request, the head printed, no body.
    let (code, out, err) = get(&["-I", &format!("{base}/inspect")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.contains("x-method: HEAD\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\n"), "{out}");

    // -f: exit code 22 and no body on an error status; without -f the body and 0.
    let (code, out, err) = get(&["-f", &format!("{base}/missing")]);
    assert_eq!(code, 22, "{out}{err}");
    assert_eq!(out, "");
    assert!(err.contains("404"), "{err}");
    let (code, out, _) = get(&[&format!("{base}/missing")]);
    assert_eq!(code, 0);
    assert_eq!(out, "no such thing");
    let (code, out, err) = get(&["-f", "-s", &format!("{base}/missing")]);
    assert_eq!((code, out.as_str(), err.as_str()), (22, "", ""));

    // -s: a failure says nothing, the exit code tells.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dead = format!("http://127.0.0.1:{port}/");
    let (code, _, err) = get(&["-s", &dead]);
    assert_ne!(code, 0);
    assert_eq!(err, "");
    let (code, _, err) = get(&[&dead]);
    assert_ne!(code, 0);
    assert!(err.contains("refused"), "{err}");
    server.stop().unwrap();
}

#[test]
fn connect_timeout_covers_the_tls_handshake() {
    // A listener that accepts and never speaks TLS.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}/", listener.local_addr().unwrap());
    let t0 = Instant::now();
    let (code, _, err) = get(&["--connect-timeout", "0.3", "--timeout", "60", &url]);
    let took = t0.elapsed();
    assert_ne!(code, 0);
    assert!(err.to_ascii_lowercase().contains("time"), "{err}");
    assert!(took < Duration::from_secs(20), "{took:?}");
    drop(listener);
}

#[test]
fn multipart_form_fields_and_files() {
    let server = start();
    let dir = temp_dir("form");
    let file = dir.join("notes.bin");
    std::fs::write(&file, b"file \x00 bytes").unwrap();
    let url = format!("http://{}/inspect", server.local_addr());
    let field = format!("doc=@{}", file.display());
    let (code, out, err) = get(&["-F", "name=value", "-F", &field, &url]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("POST /inspect\n"), "{out}");
    let ct = out
        .lines()
        .find_map(|l| l.strip_prefix("content-type: multipart/form-data; boundary="))
        .unwrap_or_else(|| panic!("{out}"));
    let boundary = ct.to_owned();
    let body = out.split_once("\n\n").unwrap().1;
    let expected = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nvalue\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"notes.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\nfile \u{0} bytes\r\n--{boundary}--\r\n"
    );
    assert_eq!(body, expected);
    let (code, _, err) = get(&["-F", "novalue", &url]);
    assert_ne!(code, 0);
    assert!(err.contains("name=value"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
    server.stop().unwrap();
}

#[test]
fn flags_that_would_be_ignored_are_refused() {
    let refused: &[(&[&str], &str)] = &[
        (&["--http3", "http://127.0.0.1:1/"], "--http3"),
        (&["-c", "4", "http://127.0.0.1:1/"], "-c"),
        (&["--json", "http://127.0.0.1:1/"], "--json"),
        (&["--pipeline", "2", "http://127.0.0.1:1/"], "--pipeline"),
        (&["-n", "2", "-i", "http://127.0.0.1:1/"], "-i"),
        (&["-n", "2", "-o", "x", "http://127.0.0.1:1/"], "-o"),
        (&["-n", "2", "-v", "http://127.0.0.1:1/"], "-v"),
        (&["--duration", "1", "-I", "http://127.0.0.1:1/"], "-I"),
        (&["--duration", "0", "http://127.0.0.1:1/"], "--duration"),
        (
            &["-n", "2", "--duration", "1", "http://127.0.0.1:1/"],
            "--duration",
        ),
        (&["-d", "x", "-F", "a=b", "http://127.0.0.1:1/"], "--form"),
    ];
    for (args, flag) in refused {
        let (code, out, err) = get(args);
        assert_ne!(code, 0, "{args:?} accepted: {out}");
        assert!(err.contains(flag), "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}: nothing was sent");
    }
}

#[test]
fn load_elapsed_ends_with_the_last_request() {
    let server = start();
    let url = format!("http://{}/sleep", server.local_addr());
    // One 20 ms request: the old 100 ms completion polling reported at least 0.1 s.
    let (code, out, err) = get(&["-n", "1", "--json", &url]);
    assert_eq!(code, 0, "{err}");
    let j = json(&out);
    let elapsed = j["elapsed_s"].as_f64().unwrap();
    let max = j["latency_ms"]["max"].as_f64().unwrap() / 1000.0;
    assert!(elapsed >= 0.02, "{out}");
    assert!(
        elapsed < max + 0.07,
        "elapsed {elapsed} s for one {max} s request: {out}"
    );

    // Ten 20 ms requests one at a time: about 50 req/s (at most 50).
    let (code, out, err) = get(&["-n", "10", "-c", "1", "--json", &url]);
    assert_eq!(code, 0, "{err}");
    let j = json(&out);
    let rate = j["req_per_s"].as_f64().unwrap();
    assert!((20.0..=50.5).contains(&rate), "{rate} req/s: {out}");
    let elapsed = j["elapsed_s"].as_f64().unwrap();
    let work = j["latency_ms"]["mean"].as_f64().unwrap() * 10.0 / 1000.0;
    assert!(
        elapsed >= work * 0.95,
        "{elapsed} s < {work} s of work: {out}"
    );
    assert!(
        elapsed < work + 0.08,
        "{elapsed} s for {work} s of work: {out}"
    );
    server.stop().unwrap();
}

#[test]
fn load_json_summary_statuses_and_grouped_errors() {
    let server = start();
    let base = format!("http://{}", server.local_addr());
    let (code, out, err) = get(&["-n", "6", "-c", "2", "--json", &format!("{base}/missing")]);
    // Non-2xx responses are answers, not errors: exit 0 (22 with -f).
    assert_eq!(code, 0, "{err}");
    let j = json(&out);
    for key in [
        "url",
        "method",
        "requests",
        "ok",
        "non_2xx",
        "errors",
        "statuses",
        "elapsed_s",
        "req_per_s",
        "latency_ms",
        "bytes",
    ] {
        assert!(j.get(key).is_some(), "{key} missing: {out}");
    }
    assert_eq!(j["requests"], 6, "{out}");
    assert_eq!(j["ok"], 0, "a 404 is not ok: {out}");
    assert_eq!(j["non_2xx"], 6, "{out}");
    assert_eq!(j["statuses"]["404"], 6, "{out}");
    assert_eq!(j["errors"]["total"], 0, "{out}");
    assert_eq!(j["bytes"], 6 * 13, "{out}");
    for p in ["p50", "p90", "p99", "max"] {
        assert!(j["latency_ms"][p].as_f64().unwrap() > 0.0, "{p}: {out}");
    }
    let (code, _, _) = get(&["-n", "3", "-f", &format!("{base}/missing")]);
    assert_eq!(code, 22);
    // Text: non-2xx reported apart from ok, and the histogram.
    let (code, out, err) = get(&["-n", "4", &format!("{base}/missing")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Completed:    0 ok, 0 errors"), "{out}");
    assert!(
        out.contains("Not ok:       4 non-2xx responses (404: 4)"),
        "{out}"
    );
    assert!(out.contains("Latency histogram:"), "{out}");
    assert_eq!(out.matches(" ms [").count(), 10, "{out}");

    // Errors: grouped by kind and message, with counts.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dead = format!("http://127.0.0.1:{port}/");
    let (code, out, _) = get(&["-n", "5", "--json", &dead]);
    assert_ne!(code, 0);
    let j = json(&out);
    assert_eq!(j["errors"]["total"], 5, "{out}");
    assert_eq!(j["errors"]["by_kind"]["connect"], 5, "{out}");
    assert_eq!(j["errors"]["messages"][0]["count"], 5, "{out}");
    assert_eq!(j["ok"], 0, "{out}");
    let (_, out, _) = get(&["-n", "5", &dead]);
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("Error:")).collect();
    assert_eq!(lines.len(), 1, "one group: {out}");
    assert!(
        lines[0].contains("5 x [connect] connecting to 127.0.0.1"),
        "{out}"
    );
    server.stop().unwrap();
}

#[test]
fn load_for_a_duration_and_streams_labelled() {
    let server = start();
    let url = format!("http://{}/", server.local_addr());
    let t0 = Instant::now();
    let (code, out, err) = get(&["--duration", "0.5", "-c", "2", "--json", &url]);
    let took = t0.elapsed();
    assert_eq!(code, 0, "{err}");
    let j = json(&out);
    let elapsed = j["elapsed_s"].as_f64().unwrap();
    assert!((0.5..3.0).contains(&elapsed), "{out}");
    assert!(j["ok"].as_u64().unwrap() >= 2, "{out}");
    assert!(took < Duration::from_secs(20), "{took:?}");

    let (code, out, err) = get(&["--http2", "-n", "20", "-c", "4", "--threads", "1", &url]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("20 requests, 4 concurrent streams over 1 HTTP/2 connection"),
        "{out}"
    );
    let (code, out, err) = get(&["-n", "20", "-c", "4", "--threads", "1", &url]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("20 requests, 4 connections"), "{out}");
    server.stop().unwrap();
}

/// A running `shockwave serve` with its stdout read line by line.
struct Serve {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Serve {
    fn start(args: &[&str]) -> Serve {
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(["--addr", "127.0.0.1:0", "--workers", "1"])
            .args(args)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Serve { child, lines }
    }

    /// The first stdout line containing `needle`.
    fn line(&self, needle: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("no line with {needle:?}"));
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// SIGTERM, then the exit status and stderr.
    fn terminate(&mut self) -> (bool, String) {
        self.signal("-TERM")
    }

    /// Sends `signal` (`-TERM`, `-INT`) with kill(1), then the exit status and stderr.
    fn signal(&mut self, signal: &str) -> (bool, String) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = self.child.wait().unwrap();
        (status.success(), err)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        // A failed test does not leave the server running (no-op after terminate).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn listening_url(line: &str) -> String {
    // "shockwave: listening on http://127.0.0.1:PORT/  (...)"
    let start = line.find("http://").unwrap();
    line[start..].split_whitespace().next().unwrap().to_owned()
}

#[test]
fn serve_access_log_is_off_by_default_and_on_with_log() {
    let mut serve = Serve::start(&["--log"]);
    let url = listening_url(&serve.line("listening on http://"));
    let (code, out, err) = get(&[&format!("{url}json")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "{\"message\":\"Hello, World!\"}");
    let (code, _, _) = get(&[&format!("{url}nope?x=1")]);
    assert_eq!(code, 0);
    let (ok, err) = serve.terminate();
    assert!(ok, "{err}");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("shockwave::access"))
        .collect();
    assert_eq!(lines.len(), 2, "one line per request: {err}");
    assert!(lines[0].contains("127.0.0.1:"), "remote: {err}");
    assert!(lines[0].contains("\"GET /json\" 200 27 "), "{err}");
    assert!(lines[0].ends_with("ms"), "duration: {err}");
    assert!(lines[1].contains("\"GET /nope?x=1\" 404 "), "{err}");

    let mut serve = Serve::start(&[]);
    let url = listening_url(&serve.line("listening on http://"));
    let (code, _, _) = get(&[&format!("{url}json")]);
    assert_eq!(code, 0);
    let (ok, err) = serve.terminate();
    assert!(ok, "{err}");
    assert!(!err.contains("shockwave::access"), "off by default: {err}");
}

#[test]
fn serve_removes_its_self_signed_pem_on_sigterm_and_sigint() {
    for signal in ["-TERM", "-INT"] {
        serve_removes_its_self_signed_pem_on(signal);
    }
}

fn serve_removes_its_self_signed_pem_on(signal: &str) {
    let mut serve = Serve::start(&["--self-signed", "--tls-addr", "127.0.0.1:0"]);
    let tls = serve.line("listening on https://");
    let line = serve.line("self-signed certificate");
    // "... written to PATH (curl --cacert PATH https://localhost:PORT/)"
    let path = line
        .split_once("written to ")
        .unwrap()
        .1
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let path = std::path::PathBuf::from(path);
    let pem = std::fs::read_to_string(&path).unwrap();
    assert!(pem.contains("BEGIN CERTIFICATE"), "{pem}");
    // The certificate works for the TLS listener it was written for.
    let https = tls[tls.find("https://").unwrap()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let (code, out, err) = get(&["--cacert", path.to_str().unwrap(), &https]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "Hello, World!");
    let (ok, err) = serve.signal(signal);
    assert!(ok, "{signal}: {err}");
    assert!(
        !path.exists(),
        "{} left behind after {signal}",
        path.display()
    );
    assert!(
        !path.parent().unwrap().exists(),
        "its directory left behind"
    );
}
