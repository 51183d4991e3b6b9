//! `cargo xtask load`: the HTTP/1.1 load comparison. Builds `shockwave serve` (run with
//! the epoll driver and, as its own row, `--io uring`), the hyper
//! HTTP/1.1 baseline and the no-parse ceiling server in release mode, runs each in turn
//! under the same `wrk` settings (plain and 16-deep pipelined), and reports requests/s and
//! server CPU time per request (utime+stime from /proc/PID/stat), with ratios.
//!
//! Options: `--duration SECS` (default 5), `--connections N` (default 32),
//! `--workers N` (server threads, default: all cores), `--no-build`.
//!
//! Old vs new: `--baseline-bin OLD` runs the freshly built `shockwave` (or `--new-bin NEW`)
//! and OLD side by side instead, `--rounds N` (default 5) alternating rounds, and reports
//! medians, ranges and new/old ratios (see `bench::oldnew`); `--h2-requests N` (default
//! 500000: CPU is counted in clock ticks, so fewer requests blur the h2c figure) and
//! `--h3-requests N` (default 20000) size the h2load and HTTP/3 samples;
//! `--baseline-h3-args` / `--new-h3-args "ARGS"` override how each binary serves HTTP/3
//! and `--baseline-serve-args` / `--new-serve-args "ARGS"` add `serve` arguments.

use std::io::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::bench::loadrun::LoadSettings;
use crate::bench::oldnew;
use crate::{cargo, run};

struct Target {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
}

#[derive(Clone, Copy)]
struct Figures {
    rps: f64,
    requests: u64,
    cpu_us_per_req: f64,
}

/// A wrk script that sends 16 pipelined `GET /` per write (shared with `cargo xtask bench`).
pub(crate) const PIPELINE_LUA: &str = r#"-- 16-deep HTTP/1.1 pipelining (as TechEmpower's plaintext test)
init = function(args)
  local r = {}
  for i = 1, 16 do
    r[i] = wrk.format(nil, "/")
  end
  req = table.concat(r)
end
request = function()
  return req
end
"#;

/// Runs the comparison.
pub fn load(args: &[String]) -> Result<(), String> {
    let mut duration = 5u64;
    let mut connections = 32u32;
    let mut workers: Option<usize> = None;
    let mut build = true;
    let mut oldnew_flags = oldnew::Flags::default();
    let mut rounds = 5usize;
    let mut h2_requests = 500_000u64;
    let mut h3_requests = 20_000u64;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| format!("{name} needs a value"))
                .cloned()
        };
        if oldnew_flags.parse(a, &mut value)? {
            continue;
        }
        match a.as_str() {
            "--rounds" => {
                rounds = value("--rounds")?
                    .parse()
                    .map_err(|e| format!("--rounds: {e}"))?
            }
            "--h2-requests" => {
                h2_requests = value("--h2-requests")?
                    .parse()
                    .map_err(|e| format!("--h2-requests: {e}"))?
            }
            "--h3-requests" => {
                h3_requests = value("--h3-requests")?
                    .parse()
                    .map_err(|e| format!("--h3-requests: {e}"))?
            }
            "--duration" => {
                duration = value("--duration")?
                    .parse()
                    .map_err(|e| format!("--duration: {e}"))?
            }
            "--connections" => {
                connections = value("--connections")?
                    .parse()
                    .map_err(|e| format!("--connections: {e}"))?
            }
            "--workers" => {
                workers = Some(
                    value("--workers")?
                        .parse()
                        .map_err(|e| format!("--workers: {e}"))?,
                )
            }
            "--no-build" => build = false,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if Command::new("wrk").arg("--version").output().is_err() {
        return Err("wrk missing: run `sudo apt-get install -y wrk` or `cargo xtask peers`".into());
    }
    if let Some(old) = oldnew_flags.old.clone() {
        if Command::new("h2load").arg("--version").output().is_err() {
            return Err(
                "h2load missing: run `sudo apt-get install -y nghttp2-client` or `cargo xtask peers`"
                    .into(),
            );
        }
        let mut notes = Vec::new();
        let (new, client) = oldnew::build("release", build, oldnew_flags.new.clone(), &mut notes)?;
        let binaries = oldnew_flags.binaries(old, new, workers);
        let settings = LoadSettings {
            rounds: rounds.max(1),
            duration,
            connections,
            warmup: 1,
            h2_requests,
            h2_clients: 16,
            h2_streams: 100,
            long_requests: 0,
            long_warmup: 0,
            h3_requests,
            // `shockwave serve` has no download route: requests/s only.
            h3_mib: 0,
        };
        oldnew::run(&binaries, &settings, client.as_deref(), None, &mut notes)?;
        return Ok(());
    }
    let bin_dir = build_servers("release", build)?;
    let bin = |name: &str| bin_dir.join(name);
    let port = 18480u16;
    let addr = format!("127.0.0.1:{port}");
    let shockwave_args = |alloc: &str| {
        let mut a = vec![
            "serve".to_string(),
            "--addr".into(),
            addr.clone(),
            "--alloc".into(),
            alloc.into(),
        ];
        if let Some(w) = workers {
            a.extend(["--workers".into(), w.to_string()]);
        }
        a
    };
    let targets = vec![
        Target {
            name: "shockwave (arena)",
            program: bin("shockwave"),
            args: shockwave_args("arena"),
        },
        Target {
            name: "shockwave (heap)",
            program: bin("shockwave"),
            args: shockwave_args("heap"),
        },
        Target {
            name: "hyper 1.x",
            program: bin("hyper_h1_baseline"),
            args: vec![addr.clone()],
        },
        Target {
            name: "ceiling (no parse)",
            program: bin("ceiling_server"),
            args: vec![addr.clone()],
        },
    ];
    let mut targets = targets;
    targets.insert(
        2,
        io_uring_target(bin("shockwave"), shockwave_args("arena")),
    );
    let lua = std::env::temp_dir().join(format!("shockwave-pipeline-{}.lua", std::process::id()));
    std::fs::File::create(&lua)
        .and_then(|mut f| f.write_all(PIPELINE_LUA.as_bytes()))
        .map_err(|e| format!("writing {}: {e}", lua.display()))?;
    let tck = clock_ticks_per_second();
    let url = format!("http://{addr}/");
    let mut results: Vec<(&str, Figures, Figures)> = Vec::new();
    for t in &targets {
        eprintln!("xtask load: {} ...", t.name);
        let mut child = Command::new(&t.program)
            .args(&t.args)
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", t.program.display()))?;
        let outcome = (|| {
            wait_listening(&addr, &mut child)?;
            // Warm-up (connections, buffers, pools, CPU frequency).
            wrk(&url, 1, connections, None)?;
            let plain = measure(&child, tck, || wrk(&url, duration, connections, None))?;
            let piped = measure(&child, tck, || wrk(&url, duration, connections, Some(&lua)))?;
            Ok::<_, String>((plain, piped))
        })();
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait();
        let (plain, piped) = outcome?;
        results.push((t.name, plain, piped));
    }
    let _ = std::fs::remove_file(&lua);
    report(&results, duration, connections);
    Ok(())
}

/// The io_uring row: `shockwave serve --io uring` (the arena strategy). Where io_uring is
/// unavailable the server falls back to epoll and says so on stderr.
fn io_uring_target(program: PathBuf, mut args: Vec<String>) -> Target {
    args.extend(["--io".to_string(), "uring".to_string()]);
    Target {
        name: "shockwave (arena, io_uring)",
        program,
        args,
    }
}

/// Builds the `shockwave` command (it needs the crate's `cli` feature) with cargo profile
/// `profile`. Every harness that runs the binary builds it through here.
pub(crate) fn build_shockwave(profile: &str) -> Result<(), String> {
    run(cargo().args([
        "build",
        "--profile",
        profile,
        "-p",
        "shockwave",
        "--bin",
        "shockwave",
        "--features",
        "cli",
    ]))
}

/// Builds `shockwave`, `hyper_h1_baseline` and `ceiling_server` with cargo profile
/// `profile` (skipped when `build` is false) and returns the directory holding the binaries.
/// Shared with `cargo xtask bench`.
pub(crate) fn build_servers(profile: &str, build: bool) -> Result<PathBuf, String> {
    if build {
        build_shockwave(profile)?;
        run(cargo().args([
            "build",
            "--profile",
            profile,
            "-p",
            "shockwave-benches",
            "--bin",
            "hyper_h1_baseline",
            "--bin",
            "ceiling_server",
        ]))?;
    }
    Ok(profile_dir(profile))
}

/// Where cargo puts the binaries of `profile` (honours `CARGO_TARGET_DIR`).
pub(crate) fn profile_dir(profile: &str) -> PathBuf {
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target_dir.join(if profile == "dev" { "debug" } else { profile })
}

/// The workspace root (the parent of `xtask/`).
pub(crate) fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// `getconf CLK_TCK`: the unit of the CPU times in /proc/PID/stat.
pub(crate) fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Waits until `addr` accepts connections (10 s at most), failing if `child` exits first.
pub(crate) fn wait_listening(addr: &str, child: &mut Child) -> Result<(), String> {
    let sa: SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("server exited early: {status}"));
        }
        if TcpStream::connect_timeout(&sa, Duration::from_millis(100)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("server did not listen on {addr} within 10 s"))
}

/// Server CPU ticks (utime + stime of all its threads) from /proc/PID/stat.
pub(crate) fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    parse_cpu_ticks(&stat)
}

/// Raises this process's soft limit on open files to its hard limit (inherited by the
/// servers and load generators it starts) and returns the new soft limit.
pub(crate) fn raise_nofile_limit() -> Result<u64, String> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable `rlimit` for the call's duration.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(format!(
            "getrlimit(RLIMIT_NOFILE): {}",
            std::io::Error::last_os_error()
        ));
    }
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid `rlimit` read above, soft limit = hard limit.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(format!(
                "setrlimit(RLIMIT_NOFILE, {}): {}",
                lim.rlim_max,
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(lim.rlim_cur)
}

/// `pid` and all its descendants, from `/proc/P/task/*/children` (h2o and nginx fork
/// worker processes; their CPU time is the server's too). Processes that exit while the
/// tree is walked are left out.
pub(crate) fn process_tree(pid: u32) -> Vec<u32> {
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        i += 1;
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let Ok(text) = std::fs::read_to_string(t.path().join("children")) else {
                continue;
            };
            for c in text
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok())
            {
                if !tree.contains(&c) {
                    tree.push(c);
                }
            }
        }
    }
    tree
}

/// Server CPU ticks over its whole process tree: utime + stime of every process (each
/// process's figure covers all its threads), see [`process_tree`].
pub(crate) fn tree_cpu_ticks(pid: u32) -> Result<u64, String> {
    let mut total = cpu_ticks(pid)?;
    for p in process_tree(pid).into_iter().skip(1) {
        // A worker that exited meanwhile took its ticks with it.
        total += cpu_ticks(p).unwrap_or(0);
    }
    Ok(total)
}

/// utime + stime from the text of a /proc/PID/stat file.
pub(crate) fn parse_cpu_ticks(stat: &str) -> Result<u64, String> {
    // The command name is parenthesized and may contain spaces: split after the last ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or("bad /proc stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3 → index 0; utime is field 14 → index 11; stime → 12.
    let utime: u64 = fields
        .get(11)
        .and_then(|f| f.parse().ok())
        .ok_or("bad utime")?;
    let stime: u64 = fields
        .get(12)
        .and_then(|f| f.parse().ok())
        .ok_or("bad stime")?;
    Ok(utime + stime)
}

fn measure(
    child: &Child,
    tck: f64,
    f: impl FnOnce() -> Result<(u64, f64), String>,
) -> Result<Figures, String> {
    let before = tree_cpu_ticks(child.id())?;
    let (requests, rps) = f()?;
    let after = tree_cpu_ticks(child.id())?;
    let cpu_us = (after - before) as f64 * 1e6 / tck;
    Ok(Figures {
        rps,
        requests,
        cpu_us_per_req: if requests == 0 {
            f64::NAN
        } else {
            cpu_us / requests as f64
        },
    })
}

/// Runs wrk; returns (requests completed, requests/s).
fn wrk(
    url: &str,
    secs: u64,
    connections: u32,
    script: Option<&PathBuf>,
) -> Result<(u64, f64), String> {
    let out = wrk_run(url, secs, connections, script)?;
    if out.errors > 0 {
        eprintln!("xtask load: wrk reported {} errors", out.errors);
    }
    Ok((out.requests, out.rps))
}

/// What one wrk run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct WrkOutput {
    /// Requests completed.
    pub requests: u64,
    /// Requests per second.
    pub rps: f64,
    /// Socket errors (connect, read, write, timeout) plus non-2xx/3xx responses.
    pub errors: u64,
}

/// Runs `wrk -t1 -cN -dSs [-s script] url` and parses its report.
pub(crate) fn wrk_run(
    url: &str,
    secs: u64,
    connections: u32,
    script: Option<&PathBuf>,
) -> Result<WrkOutput, String> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t1", &format!("-c{connections}"), &format!("-d{secs}s")]);
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    cmd.arg(url);
    let out = cmd.output().map_err(|e| format!("wrk: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "wrk failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    parse_wrk(&text)
}

/// Parses wrk's report: requests, requests/s and errors.
pub(crate) fn parse_wrk(text: &str) -> Result<WrkOutput, String> {
    let mut errors = 0u64;
    for line in text.lines().map(str::trim) {
        if let Some(n) = line.strip_prefix("Non-2xx or 3xx responses:") {
            errors += n.trim().parse::<u64>().unwrap_or(1);
        } else if let Some(list) = line.strip_prefix("Socket errors:") {
            // "Socket errors: connect 0, read 0, write 0, timeout 0"
            errors += list
                .split(',')
                .filter_map(|kv| kv.split_whitespace().nth(1))
                .filter_map(|n| n.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("cannot read wrk output: {text}"))?;
    let rps = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("cannot read wrk output: {text}"))?;
    Ok(WrkOutput {
        requests,
        rps,
        errors,
    })
}

fn report(results: &[(&str, Figures, Figures)], duration: u64, connections: u32) {
    let find = |name: &str| {
        results
            .iter()
            .find(|r| r.0.starts_with(name))
            .map(|r| (r.1, r.2))
    };
    let hyper = find("hyper");
    let ceiling = find("ceiling");
    println!("\nwrk -t1 -c{connections} -d{duration}s, GET / (\"Hello, World!\"), server CPU = utime+stime / requests\n");
    for (label, pick) in [("no pipelining", 0usize), ("16-deep pipelining", 1usize)] {
        println!("{label}:");
        println!(
            "  {:<20} {:>12} {:>12} {:>10} {:>10} {:>12} {:>12}",
            "server", "req/s", "CPU µs/req", "rps/hyper", "rps/ceil", "CPU hyper/x", "CPU x/ceil"
        );
        for (name, plain, piped) in results {
            let f = if pick == 0 { plain } else { piped };
            let h = hyper.map(|(a, b)| if pick == 0 { a } else { b });
            let c = ceiling.map(|(a, b)| if pick == 0 { a } else { b });
            println!(
                "  {:<20} {:>12.0} {:>12.3} {:>10} {:>10} {:>12} {:>12}",
                name,
                f.rps,
                f.cpu_us_per_req,
                h.map_or("-".into(), |h| format!("{:.2}x", f.rps / h.rps)),
                c.map_or("-".into(), |c| format!("{:.2}x", f.rps / c.rps)),
                h.map_or("-".into(), |h| format!(
                    "{:.2}x",
                    h.cpu_us_per_req / f.cpu_us_per_req
                )),
                c.map_or("-".into(), |c| format!(
                    "{:.2}x",
                    f.cpu_us_per_req / c.cpu_us_per_req
                )),
            );
        }
        println!();
    }
    println!(
        "rps/hyper > 1 and CPU hyper/x > 1 mean shockwave beats hyper; CPU x/ceil is the \
         cost over a server that does no HTTP work at all. Requests counted: {}.",
        results
            .iter()
            .map(|r| r.1.requests + r.2.requests)
            .sum::<u64>()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nofile_limit_is_raised_to_the_hard_limit() {
        let soft = raise_nofile_limit().unwrap();
        let text = std::fs::read_to_string("/proc/self/limits").unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap();
        let fields: Vec<&str> = line.split_whitespace().collect();
        // "Max open files  SOFT  HARD  files"
        assert_eq!(fields[3], soft.to_string(), "{line}");
        assert_eq!(fields[3], fields[4], "soft = hard: {line}");
    }

    #[test]
    fn the_process_tree_holds_forked_children() {
        let mut child = Command::new("sh")
            .args(["-c", "sleep 5 & sleep 5 & wait"])
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut tree = Vec::new();
        while Instant::now() < deadline {
            tree = process_tree(child.id());
            if tree.len() == 3 {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for p in tree.iter().skip(1) {
            let _ = Command::new("kill").arg(p.to_string()).status();
        }
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(tree.len(), 3, "sh and its two sleeps: {tree:?}");
        assert_eq!(tree[0], child.id());
    }
}
