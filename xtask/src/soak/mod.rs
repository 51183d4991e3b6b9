//! `cargo xtask soak --minutes N`: a bounded soak of the release `shockwave serve`.
//!
//! Starts the server (HTTP/1.1 + h2c on one port; TLS h1/h2 and HTTP/3 on another, with a
//! self-signed certificate), then for N minutes drives, all at once:
//!
//! - valid traffic whose every answer is checked (status and body bytes): HTTP/1.1
//!   keep-alive and 16-deep pipelining with GETs and `/echo` uploads (Content-Length and
//!   chunked), h2c with several streams per connection (our own minimal client), TLS h2 /
//!   h2c / TLS h1 through `h2load`, and HTTP/3
//!   through `shockwave get --http3` (load runs checked by status counts and body bytes,
//!   single requests byte for byte);
//! - attack traffic over raw sockets, each with the outcome it must get: request smuggling
//!   (CL+TE, two Content-Lengths, TE not ending in chunked, TE in HTTP/1.0, bare LF,
//!   obs-fold), oversized request line / head / field count / body, 16 MB bodies declared
//!   but never sent (the server must not allocate them up front), malformed chunked,
//!   abrupt disconnects mid-body and mid-response, a pipelining flood, slowloris (request
//!   head and TLS handshake), an invalid HTTP/2 preface and first frame, HTTP/2 Rapid
//!   Reset (CVE-2023-44487), CONTINUATION flood, PING and SETTINGS floods, an HPACK bomb,
//!   too many concurrent streams and a zero flow-control window.
//!
//! Afterwards it checks that every valid request was answered correctly, every attack got
//! its outcome, the server is alive with no panic on its stderr, no worker thread was lost
//! (thread names in /proc, and 64 fresh connections all answered),
//! `/stats` shows no open connection but ours and no arena in use, the final RSS is within
//! the baseline plus the pools' retained bytes plus a slack (24 MiB by default: what the
//! server holds beyond those was measured at 8–16 MiB), that RSS stayed flat over the last
//! third of the run ([`plateau`]: the minima of six windows grow by less than 5 MiB; on
//! runs of 10 minutes or more) and that SIGTERM stops the server cleanly. Prints a
//! summary; exits nonzero if any check failed.
//!
//! Options: `--minutes N` (default 1; decimals allowed), `--workers N` (server threads,
//! default 2), `--no-build`, `--server-bin PATH` (a prebuilt `shockwave`),
//! `--rss-slack-mib N` (default 24), `--plateau-mib N` (default 5).
//!
//! Layout: [`options`] parses the flags; [`traffic`] holds the valid traffic, one file per
//! protocol ([`traffic::h1`], [`traffic::h2`], [`traffic::h3`], and [`traffic::h2load`]
//! for the h2load runs); [`attacks`] the attack classes by family (`h1`, `h2`, `slow`);
//! [`monitor`] the watching of the server process (RSS, threads, `/stats`); [`tally`] the
//! per-class counts. This file starts the server, runs everything and checks the end
//! state.
//!
//! Valid traffic is written and read with the project's own codecs, so the soak exercises
//! them against the server as a peer would: HTTP/1.1 request heads and chunked bodies with
//! `shockwave-http11`'s writers and responses with its parser and body decoder; HTTP/2
//! frames with `shockwave-http2-frames`' encoders and field blocks with `shockwave-hpack`
//! (encoder without dynamic-table insertion, so every block stands alone; decoder for the
//! responses); HTTP/3 through `shockwave get --http3`, the project's own client. The
//! attacks' malformed bytes (smuggling, oversized and broken HTTP/1.1, the HPACK bomb's
//! field block) stay hand-made: being malformed is their point.

mod attacks;
mod monitor;
mod options;
mod plateau;
mod tally;
mod traffic;
mod verdict;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use shockwave_http11::{BodyLength, Method};

use crate::load::{build_shockwave, profile_dir, wait_listening};
use attacks::{attack_loop, slow_loop, SERVER_PID};
use monitor::{free_port, get_u64, in_use, rss_kib, sampler, stats, thread_names, Memory};
use options::parse_options;
use tally::Tally;
use traffic::h1::{h1_keepalive, h1_pipelined, request, H1};
use traffic::h2::h2c_valid;
use traffic::h2load::h2load_loop;
use traffic::h3::h3_loop;
use traffic::HELLO;

/// The server's slowloris deadline (`Timeouts::header_read`, 10 s by default) plus slack
/// for a loaded machine (the soak may share its cores with builds).
const SLOW_DEADLINE: Duration = Duration::from_secs(20);

/// How long an attack waits for an expected answer or close: generous, so a loaded
/// machine does not fail the soak (the server answers these in milliseconds; a server
/// that never answers still fails).
const PATIENCE: Duration = Duration::from_secs(15);

/// The server process; killed on drop if still running.
struct Server {
    child: Child,
    stderr_path: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs the soak.
pub fn soak(args: &[String]) -> Result<(), String> {
    let o = parse_options(args)?;
    if Command::new("h2load").arg("--version").output().is_err() {
        return Err(
            "h2load missing: run `sudo apt-get install -y nghttp2-client` or `cargo xtask peers`"
                .into(),
        );
    }
    let bin = match &o.server_bin {
        Some(b) => b.clone(),
        None => {
            if o.build {
                build_shockwave("release")?;
            }
            profile_dir("release").join("shockwave")
        }
    };
    let plain = SocketAddr::from(([127, 0, 0, 1], free_port(false)?));
    let tls = SocketAddr::from(([127, 0, 0, 1], free_port(true)?));
    let stderr_path =
        std::env::temp_dir().join(format!("shockwave-soak-{}.stderr", std::process::id()));
    let stderr = std::fs::File::create(&stderr_path)
        .map_err(|e| format!("{}: {e}", stderr_path.display()))?;
    let child = Command::new(&bin)
        .args(["serve", "--addr", &plain.to_string(), "--self-signed"])
        .args(["--tls-addr", &tls.to_string()])
        .args(["--workers", &o.workers.to_string()])
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let mut server = Server { child, stderr_path };
    let pid = server.child.id();
    SERVER_PID.store(pid, Relaxed);
    wait_listening(&plain.to_string(), &mut server.child)?;
    wait_listening(&tls.to_string(), &mut server.child)?;
    let duration = Duration::from_secs_f64(o.minutes * 60.0);
    eprintln!(
        "xtask soak: {} (pid {pid}, {} workers) on http://{plain} and https://{tls} (TLS + HTTP/3) for {:.1} min",
        bin.display(),
        o.workers,
        o.minutes
    );

    // Warm up every path once, then take the baseline.
    let tally = Tally::default();
    {
        let (stop, warm) = (AtomicBool::new(false), Tally::default());
        std::thread::scope(|s| {
            s.spawn(|| h1_keepalive(plain, &stop, &warm, 1));
            s.spawn(|| h2c_valid(plain, &stop, &warm, 2));
            std::thread::sleep(Duration::from_secs(2));
            stop.store(true, Relaxed);
        });
        if warm.snapshot().values().any(|c| c.1 > 0) {
            return Err("the warm-up requests failed (see above)".into());
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let baseline_kib = rss_kib(pid).ok_or("cannot read the server's VmRSS")?;
    let threads_before = thread_names(pid);

    let stop = AtomicBool::new(false);
    let mem = Memory::default();
    let started = Instant::now();
    std::thread::scope(|s| {
        let (stop, tally, mem, bin) = (&stop, &tally, &mem, &bin);
        s.spawn(move || sampler(pid, plain, stop, mem, started));
        for seed in [11, 12] {
            s.spawn(move || h1_keepalive(plain, stop, tally, seed));
        }
        s.spawn(move || h1_pipelined(plain, stop, tally, 13));
        for seed in [21, 22] {
            s.spawn(move || h2c_valid(plain, stop, tally, seed));
        }
        s.spawn(move || h2load_loop(plain, tls, stop, tally));
        s.spawn(move || h3_loop(bin, tls, stop, tally, 31));
        s.spawn(move || attack_loop(plain, tls, stop, tally));
        s.spawn(move || slow_loop(plain, tls, stop, tally));
        let mut last_report = Instant::now();
        while started.elapsed() < duration {
            std::thread::sleep(Duration::from_millis(200));
            if let Ok(Some(status)) = server.child.try_wait() {
                tally.fail(
                    "server process",
                    format!("exited during the soak: {status}"),
                );
                break;
            }
            if last_report.elapsed() >= Duration::from_secs(15) {
                last_report = Instant::now();
                let total: u64 = tally.snapshot().values().map(|c| c.0).sum();
                eprintln!(
                    "xtask soak: {:>4.0} s, {total} requests/attacks answered, RSS {} KiB",
                    started.elapsed().as_secs_f64(),
                    rss_kib(pid).unwrap_or(0)
                );
            }
        }
        stop.store(true, Relaxed);
        eprintln!("xtask soak: time is up; waiting for the clients (slowloris waves take up to {SLOW_DEADLINE:?})");
    });
    let traffic_secs = started.elapsed().as_secs_f64();

    // Let the server settle: only our /stats connection open, no arena in use.
    let mut failures: Vec<String> = Vec::new();
    let mut last = serde_json::Value::Null;
    let settle = Instant::now();
    let mut settled = false;
    while settle.elapsed() < Duration::from_secs(30) {
        match stats(plain) {
            Ok(s) => {
                settled = get_u64(&s, &["connections", "active"]) <= 1 && in_use(&s) == 0;
                last = s;
                if settled {
                    // Once more after a publication interval (arena stats every 100 ms).
                    std::thread::sleep(Duration::from_millis(300));
                    if let Ok(s) = stats(plain) {
                        settled = get_u64(&s, &["connections", "active"]) <= 1 && in_use(&s) == 0;
                        last = s;
                    }
                    if settled {
                        break;
                    }
                }
            }
            Err(e) => {
                failures.push(format!("/stats after the soak: {e}"));
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // The workers give freed memory back at most once per second after a bulk release
    // (the connections just closed): wait out one interval.
    std::thread::sleep(Duration::from_millis(1500));
    let final_kib = rss_kib(pid).unwrap_or(0);
    // Every worker still serves: 64 fresh connections land on all the SO_REUSEPORT
    // listeners (a worker that died would leave some of them unanswered).
    let mut fresh_ok = 0;
    for _ in 0..64 {
        let r = H1::connect(plain, Duration::from_secs(5))
            .map_err(|e| e.to_string())
            .and_then(|mut c| {
                c.send(&request(&Method::GET, "/", &[], BodyLength::None, false))?;
                c.read_response()
            });
        match r {
            Ok(r) if r.status == 200 && r.body == HELLO => fresh_ok += 1,
            Ok(r) => failures.push(format!(
                "fresh connection after the soak: status {}",
                r.status
            )),
            Err(e) => failures.push(format!("fresh connection after the soak: {e}")),
        }
    }
    let threads_after = thread_names(pid);
    let alive = matches!(server.child.try_wait(), Ok(None));

    // Graceful stop.
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let stop_start = Instant::now();
    let mut exit = None;
    while stop_start.elapsed() < Duration::from_secs(15) {
        if let Ok(Some(status)) = server.child.try_wait() {
            exit = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let stop_secs = stop_start.elapsed().as_secs_f64();
    let stderr_text = std::fs::read_to_string(&server.stderr_path).unwrap_or_default();

    let end = verdict::End {
        classes: tally.snapshot(),
        last: &last,
        settled,
        alive,
        stderr_text: &stderr_text,
        stderr_path: &server.stderr_path,
        threads_before: &threads_before,
        threads_after: &threads_after,
        workers: o.workers,
        rss_slack_mib: o.rss_slack_mib,
        plateau_mib: o.plateau_mib,
        baseline_kib,
        final_kib,
        exit,
        traffic_secs,
        stop_secs,
        bin: &bin,
        mem: &mem,
        fresh_ok,
    };
    verdict::judge(&end, &mut failures);
    let messages = tally.messages.lock().unwrap_or_else(|e| e.into_inner());
    if failures.is_empty() {
        let _ = std::fs::remove_file(&server.stderr_path);
        println!("\nsoak passed");
        Ok(())
    } else {
        for m in messages.iter() {
            println!("  first failures: {m}");
        }
        Err(format!("soak failed:\n  {}", failures.join("\n  ")))
    }
}
