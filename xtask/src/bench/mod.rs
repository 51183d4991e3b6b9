//! `cargo xtask bench`: every benchmark side by side, written to docs/BENCHMARKS.md.
//!
//! 1. Checks for the load generators (wrk, h2load) and refuses to run without them.
//! 2. Builds everything first (so build time never counts as run time).
//! 3. Runs the criterion micro-benches of `shockwave-benches` one target at a time and reads
//!    criterion's estimates plus the `allocs/...` lines the benches print; the pairing of
//!    ours and peers is the data table in [`micro::cases`].
//! 4. Runs the load comparisons in alternation (HTTP/1.1 with wrk, reusing
//!    `cargo xtask load`; HTTP/2 with h2load when our h2c works; HTTP/3 with
//!    `h3_baseline client`, ours vs h3 + h3-quinn), and a long run for memory.
//! 5. Saves the results as JSON (`target/xtask-bench/latest.json`, and `NAME.json` with
//!    `--save NAME`) and writes docs/BENCHMARKS.md with SVG charts in docs/bench/.
//!
//! `cargo xtask bench --compare A B` compares two saved runs instead.

mod charts;
mod compare;
mod idle;
pub(crate) mod loadrun;
mod micro;
pub(crate) mod model;
pub(crate) mod oldnew;
mod report;
mod servers;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use loadrun::{LoadSettings, Scenario, ServerSpec, Tool};
use micro::CriterionArgs;
use model::{Machine, Results, SCHEMA};

use crate::load;

const USAGE: &str = "usage: cargo xtask bench [--quick] [--save NAME] [--no-build] \
[--skip-micro] [--skip-load] [--bench NAME]... [--out DIR]\n       \
cargo xtask bench --websocket-only [--quick] [--no-build] [--save NAME] [--out DIR]\n       \
cargo xtask bench --compare A B      (A, B: names given to --save, or JSON paths)\n       \
cargo xtask bench --baseline-bin OLD [--new-bin NEW] [--quick] [--no-build] \
[--baseline-h3-args ARGS] [--new-h3-args ARGS]\n                    \
[--baseline-serve-args ARGS] [--new-serve-args ARGS]\n                    \
(old vs new shockwave side by side: HTTP/1.1 pipelined and plain, h2c, HTTP/3)";

/// How long and how thoroughly to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Full,
    Quick,
    /// Hidden: tiny durations and debug builds, to test the orchestration only.
    Smoke,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Quick => "quick",
            Mode::Smoke => "smoke",
        }
    }
    /// Cargo profile of the criterion benches.
    fn bench_profile(self) -> &'static str {
        match self {
            Mode::Smoke => "dev",
            _ => "bench",
        }
    }
    /// Cargo profile of the servers (release: shared with `cargo xtask load`).
    fn server_profile(self) -> &'static str {
        match self {
            Mode::Smoke => "dev",
            _ => "release",
        }
    }
    /// Idle keep-alive connections held open for the memory figures.
    fn idle_connections(self) -> usize {
        match self {
            Mode::Smoke => 200,
            _ => 10_000,
        }
    }
    fn criterion(self) -> CriterionArgs {
        match self {
            Mode::Full => CriterionArgs {
                warm_up: 3.0,
                measurement: 5.0,
                sample_size: 100,
                nresamples: 100_000,
                plots: true,
            },
            Mode::Quick => CriterionArgs {
                warm_up: 0.3,
                measurement: 1.0,
                sample_size: 20,
                nresamples: 10_000,
                plots: true,
            },
            Mode::Smoke => CriterionArgs {
                warm_up: 0.05,
                measurement: 0.1,
                sample_size: 10,
                nresamples: 1000,
                plots: false,
            },
        }
    }
    fn load(self) -> LoadSettings {
        match self {
            Mode::Full => LoadSettings {
                rounds: 5,
                duration: 10,
                connections: 32,
                warmup: 2,
                h2_requests: 500_000,
                h2_clients: 16,
                h2_streams: 100,
                long_requests: 1_000_000,
                long_warmup: 100_000,
                h3_requests: 50_000,
                h3_mib: 100,
            },
            Mode::Quick => LoadSettings {
                rounds: 3,
                duration: 2,
                connections: 32,
                warmup: 1,
                h2_requests: 100_000,
                h2_clients: 16,
                h2_streams: 100,
                long_requests: 200_000,
                long_warmup: 20_000,
                h3_requests: 20_000,
                h3_mib: 32,
            },
            Mode::Smoke => LoadSettings {
                rounds: 2,
                duration: 1,
                connections: 8,
                warmup: 0,
                h2_requests: 2_000,
                h2_clients: 4,
                h2_streams: 10,
                long_requests: 5_000,
                long_warmup: 1_000,
                h3_requests: 1_000,
                h3_mib: 2,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Options {
    mode: Mode,
    save: Option<String>,
    compare: Option<(String, String)>,
    build: bool,
    micro: bool,
    load: bool,
    benches: Vec<String>,
    out: Option<PathBuf>,
    /// `--baseline-bin` and friends: compare two `shockwave` binaries instead.
    oldnew: oldnew::Flags,
    /// `--websocket-only`: only the WebSocket echo comparison (no micro-benches, no HTTP
    /// load), reported to `target/xtask-bench/websocket-docs/` unless `--out` is given.
    websocket_only: bool,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        mode: Mode::Full,
        save: None,
        compare: None,
        build: true,
        micro: true,
        load: true,
        benches: Vec::new(),
        out: None,
        oldnew: oldnew::Flags::default(),
        websocket_only: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        if o.oldnew.parse(a, &mut value)? {
            continue;
        }
        match a.as_str() {
            "--quick" => o.mode = Mode::Quick,
            "--smoke" => o.mode = Mode::Smoke,
            "--save" => o.save = Some(value("--save")?),
            "--compare" => {
                let a = value("--compare")?;
                let b = value("--compare")?;
                o.compare = Some((a, b));
            }
            "--no-build" => o.build = false,
            "--skip-micro" => o.micro = false,
            "--skip-load" => o.load = false,
            "--websocket-only" => o.websocket_only = true,
            "--bench" => {
                let b = value("--bench")?;
                if !micro::BENCHES.iter().any(|(n, _)| *n == b) {
                    let known: Vec<&str> = micro::BENCHES.iter().map(|(n, _)| *n).collect();
                    return Err(format!("unknown bench {b}; known: {}", known.join(", ")));
                }
                o.benches.push(b);
            }
            "--out" => o.out = Some(PathBuf::from(value("--out")?)),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    if let Some(name) = &o.save {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(format!("--save {name}: use a plain name like `before`"));
        }
    }
    Ok(o)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| load::workspace_root().join("target"))
}

fn results_dir() -> PathBuf {
    target_dir().join("xtask-bench")
}

/// A saved run: a name given to `--save`, or a path to a JSON file.
fn load_saved(name: &str) -> Result<Results, String> {
    let path = if name.ends_with(".json") || name.contains('/') {
        PathBuf::from(name)
    } else {
        results_dir().join(format!("{name}.json"))
    };
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let r: Results =
        serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", path.display()))?;
    if r.schema != SCHEMA {
        return Err(format!(
            "{} has schema {}, this xtask reads {SCHEMA}",
            path.display(),
            r.schema
        ));
    }
    Ok(r)
}

fn have_command(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The load generators must be there: a missing one is an error, never a silent skip.
fn check_peers() -> Result<(), String> {
    let missing: Vec<&str> = [
        ("wrk", "wrk"),
        ("h2load", "nghttp2-client"),
        ("h2o", "h2o"),
        ("nginx", "nginx"),
        ("openssl", "openssl"),
    ]
    .into_iter()
    .filter(|(cmd, _)| !have_command(cmd) && servers::find_command(cmd).is_none())
    .map(|(_, pkg)| pkg)
    .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "missing load generator(s) or peer server(s): run `cargo xtask peers` (or `sudo apt-get install -y {}`), \
             then rerun `cargo xtask bench`",
            missing.join(" ")
        ))
    }
}

fn first_line_of(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| {
            let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
            s.push_str(&String::from_utf8_lossy(&o.stderr));
            s.lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// The CPU model from the text of /proc/cpuinfo.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|l| {
            l.starts_with("model name") || l.starts_with("Model") || l.starts_with("cpu model")
        })
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn machine() -> Machine {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    Machine {
        cpu: std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| cpu_model(&t))
            .unwrap_or_else(|| "unknown".into()),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| format!("Linux {}", s.trim()))
            .unwrap_or_else(|_| "unknown".into()),
        rustc: first_line_of(&rustc, &["--version"]),
        wrk: first_line_of("wrk", &["--version"])
            .split(" Copyright")
            .next()
            .unwrap_or("")
            .to_string(),
        h2load: first_line_of("h2load", &["--version"]),
    }
}

/// `YYYY-MM-DD HH:MM UTC` for seconds since the Unix epoch (proleptic Gregorian calendar).
fn utc_date(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Days to civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

fn settings_text(mode: Mode, o: &Options) -> Vec<String> {
    let c = mode.criterion();
    let l = mode.load();
    let mut v = Vec::new();
    if o.micro {
        v.push(format!(
            "criterion: `--warm-up-time {} --measurement-time {} --sample-size {} --nresamples {}` \
             (cargo profile `{}`; a bench may fix its own measurement time)",
            c.warm_up,
            c.measurement,
            c.sample_size,
            c.nresamples,
            mode.bench_profile()
        ));
    }
    if o.load {
        v.push(format!(
            "load: {} rounds; wrk `-t1 -c{} -d{}s` after a {} s warm-up per sample; h2load \
             `-n {} -c {} -m {} -t 1` after a 10% warm-up; servers built with cargo profile `{}`, \
             default worker count (one per core); peers h2o, nginx and may_minihttp with {} \
             workers each",
            l.rounds,
            l.connections,
            l.duration,
            l.warmup,
            l.h2_requests,
            l.h2_clients,
            l.h2_streams,
            mode.server_profile(),
            servers::PEER_WORKERS
        ));
        v.push(format!(
            "idle connections: {} per server and protocol, one run each",
            mode.idle_connections()
        ));
        v.push(format!(
            "HTTP/3: `h3_baseline client CLIENT ADDR {} {}`: {} GET / over one connection with \
             100 concurrent streams after 200 warm-up requests, then one {} MiB download; server \
             CPU from `/proc/PID/task/*/schedstat` around those phases only",
            l.h3_requests, l.h3_mib, l.h3_requests, l.h3_mib
        ));
        v.push(format!(
            "WebSocket: `ws_echo load ADDR C N SIZE {} {} PID` (one thread, C connections with \
             N binary messages in flight each, a {} s warm-up then {} s measured; a request is \
             one echoed message); server CPU is utime + stime of the server's process tree",
            l.warmup, l.duration, l.warmup, l.duration
        ));
        v.push(format!(
            "long run: {} warm-up + {} requests with `h2load --h1 -c {} -m 1`",
            l.long_warmup, l.long_requests, l.h2_clients
        ));
    }
    v
}

/// The HTTP/3 scenarios: `benches/src/bin/h3_baseline.rs` runs our HTTP/3 server and an
/// `h3` + `h3-quinn` server (same quinn, same transport settings, same routes, one
/// current-thread runtime each), each in its own process so CPU and peak RSS are per
/// server, and drives them with the same client: once the `h3` crate's, once ours.
/// The HTTP/3 driver always decodes fields into the request arena, so there is no
/// `--alloc heap` variant.
fn http3_scenarios(bin_dir: &Path, settings: &LoadSettings) -> Vec<Scenario> {
    let program = bin_dir.join("h3_baseline");
    let servers = vec![
        ServerSpec::h3_baseline(bin_dir, "shockwave HTTP/3 (1 worker)", "shockwave"),
        ServerSpec::h3_baseline(bin_dir, "h3 0.0.8 + h3-quinn (1 runtime)", "h3"),
    ];
    [
        ("one connection x 100 streams, h3 client", "h3"),
        (
            "one connection x 100 streams, shockwave client",
            "shockwave",
        ),
    ]
    .into_iter()
    .map(|(name, client)| Scenario {
        protocol: "HTTP/3",
        name,
        tool_text: format!(
            "h3_baseline client {client} ADDR {} {}",
            settings.h3_requests, settings.h3_mib
        ),
        tool: Tool::H3 {
            program: program.clone(),
            client,
        },
        servers: servers.clone(),
    })
    .collect()
}

/// The WebSocket echo scenarios: `benches/src/bin/ws_echo.rs` serves an echo with
/// Shockwave (borrowed messages, `recv_and_reply`; and owned ones, `recv`/`send`),
/// fastwebsockets (over a hyper 1 upgrade) and tokio-tungstenite, each in its own
/// process with one worker per core, and drives them with its own load generator (one
/// thread, binary messages, permessage-deflate off). Ratios divide by fastwebsockets.
fn websocket_scenarios(bin_dir: &Path, settings: &LoadSettings) -> Vec<Scenario> {
    let program = bin_dir.join("ws_echo");
    let servers = vec![
        ServerSpec::ws_echo(bin_dir, "shockwave (recv_and_reply: borrowed)", "shockwave"),
        ServerSpec::ws_echo(bin_dir, "shockwave (recv/send: owned)", "shockwave-owned"),
        ServerSpec::ws_echo(
            bin_dir,
            "fastwebsockets 0.10 (hyper 1 upgrade)",
            "fastwebsockets",
        ),
        ServerSpec::ws_echo(bin_dir, "tokio-tungstenite 0.28", "tungstenite"),
    ];
    [
        ("echo 64 B, 32 connections x 16 in flight", 32, 16, 64),
        // One at a time: no batching of answers possible, a system call per message.
        ("echo 64 B, 64 connections x 1 in flight", 64, 1, 64),
        (
            "echo 64 KiB, 16 connections x 2 in flight",
            16,
            2,
            64 * 1024,
        ),
    ]
    .into_iter()
    .map(|(name, connections, in_flight, size)| Scenario {
        protocol: "WebSocket",
        name,
        tool_text: format!(
            "ws_echo load ADDR {connections} {in_flight} {size} {} {} PID",
            settings.warmup, settings.duration
        ),
        tool: Tool::Ws {
            program: program.clone(),
            connections,
            in_flight,
            size,
        },
        servers: servers.clone(),
    })
    .collect()
}

/// Runs `cargo xtask bench`.
pub fn bench(args: &[String]) -> Result<(), String> {
    let o = parse_args(args)?;
    if let Some((a, b)) = &o.compare {
        let (ra, rb) = (load_saved(a)?, load_saved(b)?);
        let d = compare::deltas(&ra, &rb);
        if d.is_empty() {
            return Err(format!("{a} and {b} have no figures in common"));
        }
        print!("{}", compare::render(a, b, &d));
        return Ok(());
    }
    let mode = o.mode;
    if let Some(old) = &o.oldnew.old {
        return old_vs_new(&o, old);
    }
    if o.load && !o.websocket_only {
        check_peers()?;
        // The idle-memory run holds 10k sockets in this process, and the servers it
        // starts inherit the limit.
        let limit = load::raise_nofile_limit()?;
        if limit < mode.idle_connections() as u64 + 256 {
            eprintln!(
                "xtask bench: warning: only {limit} open files allowed (hard limit); the \
                 idle-connection run needs {}",
                mode.idle_connections() + 256
            );
        }
    }
    let started = SystemTime::now();
    let mut results = Results {
        schema: SCHEMA,
        mode: mode.name().into(),
        command: std::iter::once("cargo xtask bench".to_string())
            .chain(args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" "),
        date: utc_date(
            started
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        ),
        machine: machine(),
        settings: settings_text(mode, &o),
        ..Results::default()
    };
    if o.websocket_only {
        return websocket_only(&o, results);
    }
    let benches: Vec<&'static str> = micro::BENCHES
        .iter()
        .map(|(b, _)| *b)
        .filter(|b| o.benches.is_empty() || o.benches.iter().any(|x| x == b))
        .collect();

    // ---- build everything first ------------------------------------------------------
    let build_start = Instant::now();
    let mut build_failed = std::collections::BTreeMap::new();
    if o.micro && o.build {
        build_failed = micro::build_benches(mode.bench_profile(), &benches);
    }
    let mut bin_dir = None;
    let mut h2_baseline = None;
    let mut h2_example = None;
    let mut h3_built = Ok(());
    let mut ws_built = Ok(());
    let mut may_built = Ok(());
    if o.load {
        match load::build_servers(mode.server_profile(), o.build) {
            Ok(dir) => bin_dir = Some(dir),
            Err(e) => results.load_notes.push(format!(
                "Load comparisons unavailable: the servers did not build: {e}"
            )),
        }
        let src = load::workspace_root().join("benches/src/bin/hyper_h2_baseline.rs");
        if !src.is_file() {
            h2_baseline = Some(Err(
                "the hyper HTTP/2 baseline (benches/src/bin/hyper_h2_baseline.rs) does not exist yet"
                    .to_string(),
            ));
        } else if o.build {
            let mut cmd = crate::cargo();
            cmd.args(["build", "--profile", mode.server_profile(), "-p"])
                .args(["shockwave-benches", "--bin", "hyper_h2_baseline"]);
            h2_baseline = Some(
                crate::run(&mut cmd).map_err(|e| format!("hyper_h2_baseline did not build: {e}")),
            );
        } else {
            h2_baseline = Some(Ok(()));
        }
        let example = load::workspace_root().join("crates/shockwave/examples/http2_server.rs");
        if !example.is_file() {
            h2_example = Some(Err(
                "crates/shockwave/examples/http2_server.rs does not exist".into(),
            ));
        } else if o.build {
            let mut cmd = crate::cargo();
            cmd.args(["build", "--profile", mode.server_profile(), "-p"])
                .args(["shockwave", "--example", "http2_server"]);
            h2_example =
                Some(crate::run(&mut cmd).map_err(|e| format!("http2_server did not build: {e}")));
        } else {
            h2_example = Some(Ok(()));
        }
        if o.build {
            may_built = servers::build_may_minihttp(mode.server_profile())
                .map_err(|e| format!("benches/may_minihttp did not build: {e}"));
        }
        if o.build {
            let mut cmd = crate::cargo();
            cmd.args(["build", "--profile", mode.server_profile(), "-p"])
                .args(["shockwave-benches", "--bin", "h3_baseline"]);
            h3_built = crate::run(&mut cmd).map_err(|e| format!("h3_baseline did not build: {e}"));
            let mut cmd = crate::cargo();
            cmd.args(["build", "--profile", mode.server_profile(), "-p"])
                .args(["shockwave-benches", "--bin", "ws_echo"]);
            ws_built = crate::run(&mut cmd).map_err(|e| format!("ws_echo did not build: {e}"));
        }
    }
    eprintln!(
        "xtask bench: build phase took {:.0} s; measuring now",
        build_start.elapsed().as_secs_f64()
    );
    let measure_start = Instant::now();

    // ---- micro-benches ---------------------------------------------------------------
    if o.micro {
        let criterion_dir = std::env::var_os("CRITERION_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| target_dir().join("criterion"));
        for bench in &benches {
            if let Some(e) = build_failed.get(bench) {
                results
                    .micro_notes
                    .push(format!("{bench}: did not build: {e}"));
                continue;
            }
            match micro::run_bench(
                bench,
                mode.bench_profile(),
                mode.criterion(),
                &criterion_dir,
            ) {
                Ok(mut r) => results.micro.append(&mut r),
                Err(e) => {
                    eprintln!("xtask bench: {bench}: {e}");
                    results.micro_notes.push(format!("{bench}: {e}"));
                }
            }
        }
        eprintln!(
            "xtask bench: micro-benches took {:.0} s",
            measure_start.elapsed().as_secs_f64()
        );
    }

    // ---- load ------------------------------------------------------------------------
    if let Some(bin_dir) = &bin_dir {
        let load_start = Instant::now();
        let settings = mode.load();
        let lua = std::env::temp_dir().join(format!(
            "shockwave-bench-pipeline-{}.lua",
            std::process::id()
        ));
        std::fs::write(&lua, load::PIPELINE_LUA)
            .map_err(|e| format!("writing {}: {e}", lua.display()))?;
        let files = servers::PeerFiles::create()?;
        let mut h1_servers = vec![
            ServerSpec::shockwave(bin_dir, "arena"),
            ServerSpec::shockwave(bin_dir, "heap"),
            ServerSpec::shockwave_uring(bin_dir),
            ServerSpec::baseline(bin_dir, "hyper 1.x", "hyper_h1_baseline"),
            ServerSpec::baseline(bin_dir, "ceiling (no HTTP parsing)", "ceiling_server"),
        ];
        let may = match &may_built {
            Ok(()) if servers::may_minihttp_program(bin_dir).is_file() => {
                Some(servers::may_minihttp(bin_dir))
            }
            Ok(()) => {
                results.load_notes.push(format!(
                    "HTTP/1.1: no may_minihttp peer: {} was not built (rerun without --no-build)",
                    servers::may_minihttp_program(bin_dir).display()
                ));
                None
            }
            Err(e) => {
                results
                    .load_notes
                    .push(format!("HTTP/1.1: no may_minihttp peer: {e}"));
                None
            }
        };
        h1_servers.extend(may.clone());
        let h2o_plain = servers::h2o(&files, servers::Listen::Plain)?;
        let nginx_plain = servers::nginx(&files, servers::Listen::Plain)?;
        h1_servers.push(h2o_plain.clone());
        h1_servers.push(nginx_plain.clone());
        let wrk_text = |extra: &str| {
            format!(
                "wrk -t1 -c{} -d{}s{extra} http://127.0.0.1:PORT/",
                settings.connections, settings.duration
            )
        };
        let mut scenarios = vec![
            Scenario {
                protocol: "HTTP/1.1",
                name: "plain",
                tool_text: wrk_text(""),
                tool: Tool::Wrk { script: None },
                servers: h1_servers.clone(),
            },
            Scenario {
                protocol: "HTTP/1.1",
                name: "16-deep pipelining",
                tool_text: wrk_text(" -s pipeline16.lua"),
                tool: Tool::Wrk {
                    script: Some(lua.clone()),
                },
                servers: h1_servers,
            },
        ];
        let h2_baseline_ok = matches!(h2_baseline, None | Some(Ok(())));
        match h2_scenario(bin_dir, &settings, h2_baseline.take(), h2_example.take()) {
            Ok((mut sc, notes)) => {
                sc.servers.push(h2o_plain.clone());
                sc.servers
                    .push(servers::nginx(&files, servers::Listen::H2c)?);
                scenarios.push(sc);
                results.load_notes.extend(notes);
                scenarios.push(tls_h2_scenario(bin_dir, &settings, &files, h2_baseline_ok)?);
            }
            Err(reason) => results
                .load_notes
                .push(format!("HTTP/2 comparison unavailable: {reason}")),
        }
        match &h3_built {
            Ok(()) => scenarios.extend(http3_scenarios(bin_dir, &settings)),
            Err(e) => results
                .load_notes
                .push(format!("HTTP/3 comparison unavailable: {e}")),
        }
        match &ws_built {
            Ok(()) => scenarios.extend(websocket_scenarios(bin_dir, &settings)),
            Err(e) => results
                .load_notes
                .push(format!("WebSocket comparison unavailable: {e}")),
        }
        for sc in &scenarios {
            let mut r = loadrun::run_scenario(sc, &settings, &mut results.load_notes);
            results.load.append(&mut r);
        }
        let _ = std::fs::remove_file(&lua);
        for alloc in ["arena", "heap"] {
            let spec = ServerSpec::shockwave(bin_dir, alloc);
            eprintln!("xtask bench: long run, {} ...", spec.label);
            match loadrun::long_run(&spec, &settings) {
                Ok(l) => results.long_run.push(l),
                Err(e) => results
                    .load_notes
                    .push(format!("Long run of {} failed: {e}", spec.label)),
            }
        }
        let n = mode.idle_connections();
        let mut idle_runs = vec![
            (idle::Proto::H1, ServerSpec::shockwave(bin_dir, "arena")),
            (
                idle::Proto::H1,
                ServerSpec::baseline(bin_dir, "hyper 1.x", "hyper_h1_baseline"),
            ),
        ];
        idle_runs.extend(may.map(|m| (idle::Proto::H1, m)));
        idle_runs.push((idle::Proto::H1, h2o_plain.clone()));
        idle_runs.push((idle::Proto::H1, nginx_plain));
        idle_runs.push((idle::Proto::H2c, ServerSpec::shockwave(bin_dir, "arena")));
        if h2_baseline_ok {
            idle_runs.push((
                idle::Proto::H2c,
                ServerSpec::baseline(bin_dir, "hyper 1.x (h2)", "hyper_h2_baseline"),
            ));
        }
        idle_runs.push((idle::Proto::H2c, h2o_plain));
        idle_runs.push((
            idle::Proto::H2c,
            servers::nginx(&files, servers::Listen::H2c)?,
        ));
        for (proto, spec) in &idle_runs {
            eprintln!(
                "xtask bench: {n} idle {} connections, {} ...",
                proto.name(),
                spec.label
            );
            match idle::measure(spec, *proto, n) {
                Ok(m) => {
                    eprintln!(
                        "xtask bench:   {} open, {:.1} KiB per connection",
                        m.open,
                        m.bytes_per_connection() / 1024.0
                    );
                    results.idle_memory.push(m);
                }
                Err(e) => results.load_notes.push(format!(
                    "Idle {} connections of {} failed: {e}",
                    proto.name(),
                    spec.label
                )),
            }
        }
        eprintln!(
            "xtask bench: load comparisons took {:.0} s",
            load_start.elapsed().as_secs_f64()
        );
    }
    eprintln!(
        "xtask bench: measuring took {:.0} s in total ({} mode)",
        measure_start.elapsed().as_secs_f64(),
        mode.name()
    );

    // ---- save and report -------------------------------------------------------------
    let json = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
    let dir = results_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let mut saved = vec![dir.join(format!("latest-{}.json", mode.name()))];
    if let Some(name) = &o.save {
        saved.push(dir.join(format!("{name}.json")));
    }
    for path in &saved {
        std::fs::write(path, &json).map_err(|e| format!("writing {}: {e}", path.display()))?;
        eprintln!("xtask bench: results saved to {}", path.display());
    }
    let out = o.out.clone().unwrap_or_else(|| match mode {
        // Smoke figures are meaningless: never overwrite the published report with them.
        Mode::Smoke => dir.join("smoke-docs"),
        _ => load::workspace_root().join("docs"),
    });
    write_report(&results, &out)?;
    for n in results.micro_notes.iter().chain(&results.load_notes) {
        eprintln!("xtask bench: note: {n}");
    }
    Ok(())
}

/// `cargo xtask bench --websocket-only`: builds `ws_echo`, runs the WebSocket scenarios
/// alone and writes their report (by default to `target/xtask-bench/websocket-docs/`:
/// the published docs/BENCHMARKS.md comes from a full run).
fn websocket_only(o: &Options, mut results: Results) -> Result<(), String> {
    let mode = o.mode;
    if o.build {
        let mut cmd = crate::cargo();
        cmd.args(["build", "--profile", mode.server_profile(), "-p"])
            .args(["shockwave-benches", "--bin", "ws_echo"]);
        crate::run(&mut cmd).map_err(|e| format!("ws_echo did not build: {e}"))?;
    }
    let bin_dir = load::profile_dir(mode.server_profile());
    let settings = mode.load();
    results.settings.retain(|s| s.starts_with("WebSocket"));
    for sc in websocket_scenarios(&bin_dir, &settings) {
        let mut r = loadrun::run_scenario(&sc, &settings, &mut results.load_notes);
        results.load.append(&mut r);
    }
    let json = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
    let dir = results_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let mut saved = vec![dir.join(format!("websocket-{}.json", mode.name()))];
    if let Some(name) = &o.save {
        saved.push(dir.join(format!("{name}.json")));
    }
    for path in &saved {
        std::fs::write(path, &json).map_err(|e| format!("writing {}: {e}", path.display()))?;
        eprintln!("xtask bench: results saved to {}", path.display());
    }
    let out = o.out.clone().unwrap_or_else(|| dir.join("websocket-docs"));
    write_report(&results, &out)?;
    for n in &results.load_notes {
        eprintln!("xtask bench: note: {n}");
    }
    Ok(())
}

/// `cargo xtask bench --baseline-bin OLD`: the old-vs-new comparison at this mode's load
/// settings (see [`oldnew`]); the samples go to `target/xtask-bench/oldnew-MODE.json`.
fn old_vs_new(o: &Options, old: &Path) -> Result<(), String> {
    check_peers()?;
    let mut notes = Vec::new();
    let (new, client) = oldnew::build(
        o.mode.server_profile(),
        o.build,
        o.oldnew.new.clone(),
        &mut notes,
    )?;
    let binaries = o.oldnew.binaries(old.to_path_buf(), new, None);
    let settings = LoadSettings {
        // `shockwave serve` has no download route: requests/s only.
        h3_mib: 0,
        ..o.mode.load()
    };
    let save = results_dir().join(format!("oldnew-{}.json", o.mode.name()));
    oldnew::run(
        &binaries,
        &settings,
        client.as_deref(),
        Some(&save),
        &mut notes,
    )?;
    Ok(())
}

fn h2_scenario(
    bin_dir: &Path,
    settings: &LoadSettings,
    baseline: Option<Result<(), String>>,
    example_built: Option<Result<(), String>>,
) -> Result<(Scenario, Vec<String>), String> {
    let arena = ServerSpec::shockwave(bin_dir, "arena");
    let mut notes = Vec::new();
    let mut servers = match loadrun::probe_h2(&arena) {
        Ok(()) => vec![arena, ServerSpec::shockwave(bin_dir, "heap")],
        Err(e) => {
            let serve = format!("`shockwave serve` does not answer h2c prior knowledge: {e}");
            // Fallback: the HTTP/2 example server (same engine and handler API).
            let example = ServerSpec {
                label: "shockwave examples/http2_server (1 thread, arena)".into(),
                program: bin_dir.join("examples").join("http2_server"),
                args: vec!["{addr}".into()],
                has_stats: false,
                udp: false,
                ready_marker: "",
                tls: false,
                config: None,
            };
            match example_built
                .unwrap_or(Err("not built".into()))
                .and_then(|()| loadrun::probe_h2(&example))
            {
                Ok(()) => {
                    notes.push(format!(
                        "HTTP/2 comparison unavailable for `shockwave serve`: {serve}. The \
                         HTTP/2 figures use crates/shockwave/examples/http2_server.rs instead."
                    ));
                    vec![example]
                }
                Err(e2) => {
                    return Err(format!(
                        "{serve}; examples/http2_server unavailable too: {e2}"
                    ))
                }
            }
        }
    };
    let hyper = ServerSpec::baseline(bin_dir, "hyper 1.x (h2)", "hyper_h2_baseline");
    match baseline
        .unwrap_or(Ok(()))
        .and_then(|()| loadrun::probe_h2(&hyper))
    {
        Ok(()) if servers.iter().any(|s| s.has_stats) => {
            notes.push(
                "HTTP/2: the hyper peer (benches/src/bin/hyper_h2_baseline.rs) runs on one \
                 current-thread runtime; compare CPU µs/request across servers with different \
                 thread counts rather than req/s."
                    .into(),
            );
            servers.push(hyper)
        }
        Ok(()) => servers.push(hyper),
        Err(e) => notes.push(format!(
            "HTTP/2: no hyper peer in this run ({e}); shockwave's figures are shown alone"
        )),
    }
    Ok((
        Scenario {
            protocol: "HTTP/2",
            name: "h2c, 16 clients x 100 streams",
            tool_text: format!(
                "h2load -n {} -c {} -m {} -t 1 http://127.0.0.1:PORT/",
                settings.h2_requests, settings.h2_clients, settings.h2_streams
            ),
            tool: Tool::H2load,
            servers,
        },
        notes,
    ))
}

/// HTTP/2 over TLS (ALPN `h2`) with h2load: `shockwave serve` on its TLS port with the
/// run's certificate, h2o and nginx with the same certificate.
fn tls_h2_scenario(
    bin_dir: &Path,
    settings: &LoadSettings,
    files: &servers::PeerFiles,
    with_hyper: bool,
) -> Result<Scenario, String> {
    let mut ours = ServerSpec::shockwave(bin_dir, "arena");
    // The cleartext listener on an ephemeral port; `{addr}` (measured) is the TLS one.
    ours.args = vec![
        "serve".into(),
        "--addr".into(),
        "127.0.0.1:0".into(),
        "--tls-addr".into(),
        "{addr}".into(),
        "--cert".into(),
        files.cert.display().to_string(),
        "--key".into(),
        files.key.display().to_string(),
        "--alloc".into(),
        "arena".into(),
    ];
    ours.tls = true;
    let mut servers = vec![
        ours,
        servers::h2o(files, servers::Listen::Tls)?,
        servers::nginx(files, servers::Listen::Tls)?,
    ];
    if with_hyper {
        let mut hyper =
            ServerSpec::baseline(bin_dir, "hyper 1.x (h2, rustls)", "hyper_h2_baseline");
        hyper.args.push(files.cert.display().to_string());
        hyper.args.push(files.key.display().to_string());
        hyper.tls = true;
        servers.push(hyper);
    }
    Ok(Scenario {
        protocol: "HTTP/2",
        name: "TLS h2, 16 clients x 100 streams",
        tool_text: format!(
            "h2load -n {} -c {} -m {} -t 1 https://127.0.0.1:PORT/",
            settings.h2_requests, settings.h2_clients, settings.h2_streams
        ),
        tool: Tool::H2load,
        servers,
    })
}

/// Writes OUT/BENCHMARKS.md and OUT/bench/*.svg.
fn write_report(results: &Results, out: &Path) -> Result<(), String> {
    let chart_dir = out.join("bench");
    std::fs::create_dir_all(&chart_dir)
        .map_err(|e| format!("creating {}: {e}", chart_dir.display()))?;
    let mut written = Vec::new();
    for (name, title, panels) in report::chart_specs(results) {
        match charts::draw(&chart_dir.join(&name), &title, &panels) {
            Ok(()) => written.push(name),
            Err(e) => eprintln!("xtask bench: chart {name} not drawn: {e}"),
        }
    }
    // Charts of an earlier run that this run did not draw would be stale.
    if let Ok(entries) = std::fs::read_dir(&chart_dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".svg") && !written.contains(&name) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let md = report::render(results, &written);
    let path = out.join("BENCHMARKS.md");
    std::fs::write(&path, md).map_err(|e| format!("writing {}: {e}", path.display()))?;
    eprintln!(
        "xtask bench: wrote {} and {} chart(s) in {}",
        path.display(),
        written.len(),
        chart_dir.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn options_parse() {
        let o = parse_args(&args("--quick --save before --bench http11 --bench hpack")).unwrap();
        assert_eq!(o.mode, Mode::Quick);
        assert_eq!(o.save.as_deref(), Some("before"));
        assert_eq!(o.benches, ["http11", "hpack"]);
        let o = parse_args(&args("--compare a b")).unwrap();
        assert_eq!(o.compare, Some(("a".into(), "b".into())));
        assert!(parse_args(&args("--compare a")).is_err());
        assert!(parse_args(&args("--bench nope")).is_err());
        assert!(parse_args(&args("--save ../x")).is_err());
        assert!(parse_args(&args("--fast")).is_err());
        assert!(
            parse_args(&args("--websocket-only --quick"))
                .unwrap()
                .websocket_only
        );
        assert_eq!(parse_args(&[]).unwrap().mode, Mode::Full);
    }

    #[test]
    fn dates_are_utc_civil() {
        assert_eq!(utc_date(0), "1970-01-01 00:00 UTC");
        // 2000-02-29 12:34:56 UTC (a leap day).
        assert_eq!(utc_date(951_827_696), "2000-02-29 12:34 UTC");
        // 2026-11-25 17:42:48 UTC.
        assert_eq!(utc_date(1_795_628_568), "2026-11-25 17:42 UTC");
    }

    #[test]
    fn cpu_model_from_cpuinfo() {
        let t = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel\t\t: 85\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.00GHz\n";
        assert_eq!(
            cpu_model(t).as_deref(),
            Some("Intel(R) Xeon(R) CPU @ 2.00GHz")
        );
        assert_eq!(cpu_model("processor: 0\n"), None);
    }

    #[test]
    fn quick_mode_is_sized_for_five_minutes() {
        // ~50 criterion benchmarks and 2 wrk scenarios x 8 servers (ours three times: arena,
        // heap, io_uring; hyper, the ceiling, may_minihttp, h2o, nginx) x rounds x
        // (warm-up + run).
        let c = Mode::Quick.criterion();
        let l = Mode::Quick.load();
        let micro = 50.0 * (c.warm_up + c.measurement + 0.5) + 4.0 * 4.5;
        let load = (2 * 8 * l.rounds) as f64 * (l.warmup + l.duration) as f64 + 30.0;
        assert!(micro + load < 300.0, "{micro} + {load}");
        // HTTP/3: 2 clients x 2 servers x rounds, each at >= 10k req/s and >= 50 MB/s
        // plus ~1 s of start-up and handshake.
        let h3 = (2 * 2 * l.rounds) as f64
            * (l.h3_requests as f64 / 10_000.0 + l.h3_mib as f64 * 1.05 / 50.0 + 1.0);
        assert!(h3 < 60.0, "{h3}");
        // WebSocket: 3 scenarios x 4 servers x rounds, warm-up + duration + ~1 s of start-up.
        let ws = websocket_scenarios(Path::new("/b"), &l);
        let servers: usize = ws.iter().map(|sc| sc.servers.len()).sum();
        let ws = (servers * l.rounds) as f64 * (l.warmup + l.duration + 1) as f64;
        assert!(ws < 150.0, "{ws}");
        assert!(l.rounds >= 3);
    }
}
