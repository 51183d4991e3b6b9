//! The same axum 0.8 app on Shockwave (`from_tower`) and on `axum::serve` (hyper), side
//! by side in one run: server CPU per request and requests per second.
//!
//! `cargo run --release -p shockwave-benches --bin axum_compare -- [requests] [connections]`
//!
//! The parent starts each server as a child process of this binary (`serve-shockwave` /
//! `serve-axum`, one server thread each: Shockwave with one worker, axum on a
//! current-thread tokio runtime), drives it with keep-alive HTTP/1.1 connections
//! (hyper's client, in the parent), and reads the child's CPU time from
//! `/proc/PID/task/*/schedstat` (ns) around the measured phase. Linux only.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

#[derive(Clone)]
struct AppState {
    greeting: Arc<str>,
}

/// The app both servers run: a path parameter with state and a JSON answer, a plain
/// text route, and a JSON echo (a request body).
fn app() -> Router {
    Router::new()
        .route(
            "/users/{id}",
            get(
                |Path(id): Path<u32>, State(s): State<AppState>| async move {
                    Json(serde_json::json!({ "id": id, "greeting": &*s.greeting }))
                },
            ),
        )
        .route("/", get(|| async { "Hello, World!" }))
        .route(
            "/echo",
            post(|Json(v): Json<serde_json::Value>| async move { Json(v) }),
        )
        .with_state(AppState {
            greeting: "hello".into(),
        })
}

fn serve_shockwave() -> std::io::Result<()> {
    let handle = shockwave::server::Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .workers(1)
        .handle_signals(false)
        .build()
        .start(shockwave::server::from_tower(app()))?;
    println!("{}", handle.local_addrs()[0]);
    loop {
        std::thread::park();
    }
}

fn serve_axum() -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("{}", listener.local_addr()?);
        axum::serve(listener, app()).await
    })
}

/// Total CPU time of every thread of `pid`, in ns.
fn cpu_ns(pid: u32) -> u64 {
    let mut total = 0;
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in dir.flatten() {
            if let Ok(s) = std::fs::read_to_string(task.path().join("schedstat")) {
                total += s
                    .split_whitespace()
                    .next()
                    .and_then(|f| f.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    total
}

fn spawn(mode: &str) -> (Child, SocketAddr) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg(mode)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().parse().expect("the server's address"))
}

/// `requests` requests over `connections` keep-alive connections, cycling the routes.
async fn load(addr: SocketAddr, requests: usize, connections: usize) -> usize {
    let mut tasks = Vec::new();
    for c in 0..connections {
        let n = requests / connections;
        tasks.push(tokio::spawn(async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            tcp.set_nodelay(true).unwrap();
            let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .unwrap();
            tokio::spawn(conn);
            let mut ok = 0;
            for i in 0..n {
                let req = match (c + i) % 3 {
                    0 => http::Request::get(format!("/users/{i}"))
                        .header("host", "bench")
                        .body(Full::new(Bytes::new())),
                    1 => http::Request::get("/")
                        .header("host", "bench")
                        .body(Full::new(Bytes::new())),
                    _ => http::Request::post("/echo")
                        .header("host", "bench")
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from_static(br#"{"a":[1,2,3],"b":"x"}"#))),
                }
                .unwrap();
                send.ready().await.unwrap();
                let resp = send.send_request(req).await.unwrap();
                let status = resp.status();
                let _ = resp.into_body().collect().await.unwrap();
                if status == 200 {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap();
    }
    ok
}

struct Run {
    name: &'static str,
    rps: f64,
    cpu_us: f64,
    ok: usize,
}

fn measure(name: &'static str, mode: &str, requests: usize, connections: usize) -> Run {
    let (mut child, addr) = spawn(mode);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(load(addr, requests / 10, connections)); // warm-up
    let cpu0 = cpu_ns(child.id());
    let t0 = Instant::now();
    let ok = rt.block_on(load(addr, requests, connections));
    let wall = t0.elapsed();
    let cpu = cpu_ns(child.id()) - cpu0;
    let _ = child.kill();
    let _ = child.wait();
    Run {
        name,
        rps: ok as f64 / wall.as_secs_f64().max(1e-9),
        cpu_us: cpu as f64 / 1000.0 / ok.max(1) as f64,
        ok,
    }
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let first = args.next();
    match first.as_deref() {
        Some("serve-shockwave") => return serve_shockwave(),
        Some("serve-axum") => return serve_axum(),
        _ => {}
    }
    let requests: usize = first.and_then(|a| a.parse().ok()).unwrap_or(30_000);
    let connections: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);
    let runs = [
        measure(
            "shockwave from_tower",
            "serve-shockwave",
            requests,
            connections,
        ),
        measure("axum::serve (hyper)", "serve-axum", requests, connections),
    ];
    println!(
        "axum app, HTTP/1.1 keep-alive, {connections} connections, {requests} requests \
         (GET /users/{{id}} JSON+State, GET / text, POST /echo JSON), one server thread each"
    );
    println!(
        "{:<24} {:>12} {:>16} {:>8}",
        "server", "req/s", "CPU µs/request", "200s"
    );
    for r in &runs {
        println!(
            "{:<24} {:>12.0} {:>16.2} {:>8}",
            r.name, r.rps, r.cpu_us, r.ok
        );
    }
    std::thread::sleep(Duration::from_millis(10));
    Ok(())
}
