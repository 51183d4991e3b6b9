//! The load comparisons: HTTP/1.1 with wrk (reusing `cargo xtask load`'s machinery),
//! HTTP/2 with h2load, and the server's memory after a long run. Every server is started
//! fresh for each sample, and the servers of a scenario take turns (A B C A B C ...).

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::model::{LoadResult, LoadSample, LongRun};
use crate::load;

/// Durations and sizes of the load comparisons.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadSettings {
    /// Rounds of each scenario (each server once per round).
    pub rounds: usize,
    /// wrk duration of one sample, seconds.
    pub duration: u64,
    /// wrk connections.
    pub connections: u32,
    /// wrk warm-up before each sample, seconds (0: none).
    pub warmup: u64,
    /// h2load requests per sample.
    pub h2_requests: u64,
    /// h2load clients.
    pub h2_clients: u32,
    /// h2load concurrent streams per client.
    pub h2_streams: u32,
    /// Requests of the long run (after its warm-up).
    pub long_requests: u64,
    /// Requests of the long run's warm-up.
    pub long_warmup: u64,
    /// HTTP/3: requests per sample (one connection, 100 concurrent streams).
    pub h3_requests: u64,
    /// HTTP/3: size of the download per sample, MiB.
    pub h3_mib: u64,
}

/// A server the comparisons start.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSpec {
    /// Label in the report.
    pub label: String,
    /// The binary.
    pub program: PathBuf,
    /// Arguments; `{addr}` is replaced by the listen address.
    pub args: Vec<String>,
    /// Answers `GET /stats` (shockwave).
    pub has_stats: bool,
    /// Listens on UDP (HTTP/3) instead of TCP.
    pub udp: bool,
    /// A UDP server is ready once it prints a stdout line containing this.
    pub ready_marker: &'static str,
    /// Served over TLS (`https://` URLs; h2load negotiates `h2` by ALPN).
    pub tls: bool,
    /// A configuration file written before each start (h2o, nginx): its name and text.
    /// In it and in `args`, `{addr}`, `{host}`, `{port}` name the listen address and
    /// `{dir}` a fresh directory of this start (pid file, logs, temporary files).
    pub config: Option<(&'static str, String)>,
}

impl ServerSpec {
    /// `shockwave serve --alloc ALLOC` from `bin_dir`.
    pub fn shockwave(bin_dir: &Path, alloc: &str) -> ServerSpec {
        ServerSpec {
            label: format!("shockwave (--alloc {alloc})"),
            program: bin_dir.join("shockwave"),
            args: ["serve", "--addr", "{addr}", "--alloc", alloc]
                .map(String::from)
                .to_vec(),
            has_stats: true,
            udp: false,
            ready_marker: "",
            tls: false,
            config: None,
        }
    }

    /// `shockwave serve --alloc arena --io uring`: the io_uring driver (the binary is built
    /// with the `cli` feature, which has `io-uring`). Where io_uring is unavailable the
    /// server falls back to epoll and says so on stderr.
    pub fn shockwave_uring(bin_dir: &Path) -> ServerSpec {
        let mut spec = ServerSpec::shockwave(bin_dir, "arena");
        spec.label = "shockwave (--alloc arena, --io uring)".into();
        spec.args.extend(["--io".to_string(), "uring".to_string()]);
        spec
    }

    /// A baseline binary from `shockwave-benches` that takes the address as its argument.
    pub fn baseline(bin_dir: &Path, label: &str, bin: &str) -> ServerSpec {
        ServerSpec {
            label: label.into(),
            program: bin_dir.join(bin),
            args: vec!["{addr}".into()],
            has_stats: false,
            udp: false,
            ready_marker: "",
            tls: false,
            config: None,
        }
    }

    /// `h3_baseline serve SERVER {addr}` (HTTP/3 over UDP): `h3` or `shockwave`.
    pub fn h3_baseline(bin_dir: &Path, label: &str, server: &str) -> ServerSpec {
        ServerSpec {
            label: label.into(),
            program: bin_dir.join("h3_baseline"),
            args: vec!["serve".into(), server.into(), "{addr}".into()],
            has_stats: false,
            udp: true,
            ready_marker: "listening on udp",
            tls: false,
            config: None,
        }
    }

    /// `ws_echo serve SERVER {addr}`: a WebSocket echo server (`shockwave`,
    /// `shockwave-owned`, `tungstenite`, `fastwebsockets`).
    pub fn ws_echo(bin_dir: &Path, label: &str, server: &str) -> ServerSpec {
        ServerSpec {
            label: label.into(),
            program: bin_dir.join("ws_echo"),
            args: vec!["serve".into(), server.into(), "{addr}".into()],
            has_stats: false,
            udp: false,
            ready_marker: "",
            tls: false,
            config: None,
        }
    }

    pub(crate) fn start(&self) -> Result<Running, String> {
        let addr = if self.udp {
            free_udp_addr()?
        } else {
            free_addr()?
        };
        let stdout = if self.udp {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        let (host, port) = addr.rsplit_once(':').unwrap_or((&addr, ""));
        let dir =
            std::env::temp_dir().join(format!("shockwave-bench-{}-{}", std::process::id(), port));
        let fill = |t: &str| {
            t.replace("{addr}", &addr)
                .replace("{host}", host)
                .replace("{port}", port)
                .replace("{dir}", &dir.display().to_string())
        };
        if let Some((name, text)) = &self.config {
            std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::write(dir.join(name), fill(text)))
                .map_err(|e| format!("{}: writing its configuration: {e}", self.label))?;
        }
        let args: Vec<String> = self.args.iter().map(|a| fill(a)).collect();
        let mut child = Command::new(&self.program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.program.display()))?;
        let ready = if self.udp {
            wait_ready_line(&mut child, self.ready_marker)
        } else {
            load::wait_listening(&addr, &mut child)
        };
        let running = Running {
            child,
            addr,
            tls: self.tls,
            dir: self.config.as_ref().map(|_| dir),
        };
        if let Err(e) = ready {
            return Err(format!("{}: {e}", self.label));
        }
        Ok(running)
    }
}

/// A started server; stopped (and its configuration directory removed) on drop.
pub(crate) struct Running {
    child: Child,
    pub(crate) addr: String,
    tls: bool,
    dir: Option<PathBuf>,
}

impl Running {
    pub(crate) fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}/", self.addr)
    }
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
    /// Memory of the whole process tree (h2o and nginx fork their workers): the sums of
    /// every process's VmHWM and VmRSS.
    pub(crate) fn mem(&self) -> Result<ProcMem, String> {
        let mut total = ProcMem {
            hwm_kib: 0,
            rss_kib: 0,
        };
        for pid in load::process_tree(self.pid()) {
            let path = format!("/proc/{pid}/status");
            // A process of the tree may exit between the listing and the read.
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let m = parse_proc_status(&text)?;
            total.hwm_kib += m.hwm_kib;
            total.rss_kib += m.rss_kib;
        }
        Ok(total)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        stop(&mut self.child);
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// SIGTERM, then SIGKILL if the process has not exited within 3 s.
fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stderr(Stdio::null())
        .status();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A free loopback address (bound, read, released).
fn free_addr() -> Result<String, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
    let a = l.local_addr().map_err(|e| e.to_string())?;
    Ok(a.to_string())
}

/// A free loopback UDP address (bound, read, released).
fn free_udp_addr() -> Result<String, String> {
    let s = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind udp 127.0.0.1:0: {e}"))?;
    let a = s.local_addr().map_err(|e| e.to_string())?;
    Ok(a.to_string())
}

/// Waits (up to 10 s) until the child prints a line containing `marker` on its stdout
/// (a UDP server cannot be probed by connecting; probing by binding would race with
/// the server's own bind). The rest of its output is drained in the background.
fn wait_ready_line(child: &mut Child, marker: &'static str) -> Result<(), String> {
    use std::io::BufRead as _;
    let stdout = child.stdout.take().ok_or("no stdout to read")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = false;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if !seen && line.contains(marker) {
                seen = true;
                let _ = tx.send(());
            }
        }
    });
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if rx.recv_timeout(Duration::from_millis(20)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited before listening ({status})"));
        }
    }
    Err(format!("did not print `{marker}` within 10 s"))
}

/// Memory figures of /proc/PID/status, KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcMem {
    /// VmHWM: peak resident set size.
    pub hwm_kib: u64,
    /// VmRSS: resident set size now.
    pub rss_kib: u64,
}

/// Reads VmHWM and VmRSS from the text of /proc/PID/status.
pub fn parse_proc_status(text: &str) -> Result<ProcMem, String> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| format!("no {name} in /proc/PID/status"))
    };
    Ok(ProcMem {
        hwm_kib: field("VmHWM:")?,
        rss_kib: field("VmRSS:")?,
    })
}

/// What one h2load run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct H2loadOutput {
    /// Requests that succeeded.
    pub succeeded: u64,
    /// Requests that failed, errored or timed out, plus non-2xx responses.
    pub errors: u64,
    /// Requests per second.
    pub rps: f64,
}

/// Parses h2load's summary.
pub fn parse_h2load(text: &str) -> Result<H2loadOutput, String> {
    let mut rps = None;
    let mut succeeded = None;
    let mut errors = 0u64;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("finished in ") {
            // "finished in 1.02s, 97932.44 req/s, 4.02MB/s"
            rps = rest
                .split(',')
                .map(str::trim)
                .find_map(|p| p.strip_suffix(" req/s"))
                .and_then(|n| n.trim().parse::<f64>().ok());
        } else if let Some(rest) = line.strip_prefix("requests:") {
            // "requests: 100 total, 100 started, 100 done, 98 succeeded, 2 failed, 0 errored, 0 timeout"
            for part in rest.split(',') {
                let mut w = part.split_whitespace();
                let (Some(n), Some(what)) = (w.next(), w.next()) else {
                    continue;
                };
                let Ok(n) = n.parse::<u64>() else { continue };
                match what {
                    "succeeded" => succeeded = Some(n),
                    "failed" | "errored" | "timeout" => errors += n,
                    _ => {}
                }
            }
        } else if let Some(rest) = line.strip_prefix("status codes:") {
            // "status codes: 100 2xx, 0 3xx, 0 4xx, 0 5xx"
            for part in rest.split(',') {
                let mut w = part.split_whitespace();
                if let (Some(n), Some(class)) = (w.next(), w.next()) {
                    if class != "2xx" && class != "3xx" {
                        errors += n.parse::<u64>().unwrap_or(0);
                    }
                }
            }
        }
    }
    match (rps, succeeded) {
        (Some(rps), Some(succeeded)) => Ok(H2loadOutput {
            succeeded,
            errors,
            rps,
        }),
        _ => Err(format!("cannot read h2load output: {}", snippet(text))),
    }
}

/// The first lines of a tool's output, for an error message.
fn snippet(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(6)
        .collect();
    if lines.is_empty() {
        "(no output)".into()
    } else {
        lines.join(" | ")
    }
}

/// Runs h2load with `args` (the URL last), killing it after `timeout`.
fn h2load(args: &[String], timeout: Duration) -> Result<H2loadOutput, String> {
    let (status, text, err) = run_with_timeout(Path::new("h2load"), args, timeout)?;
    parse_h2load(&text).map_err(|e| {
        if status.success() {
            e
        } else {
            format!(
                "h2load failed ({status}): {}",
                snippet(&format!("{text}{err}"))
            )
        }
    })
}

fn h2load_args(s: &LoadSettings, requests: u64, h1: bool, url: &str) -> Vec<String> {
    let mut a = vec![
        "-n".to_string(),
        requests.to_string(),
        "-c".into(),
        s.h2_clients.to_string(),
        "-t".into(),
        "1".into(),
    ];
    if h1 {
        a.extend(["--h1".into(), "-m".into(), "1".into()]);
    } else {
        a.extend(["-m".into(), s.h2_streams.to_string()]);
    }
    a.push(url.into());
    a
}

/// Generous: h2load at a few thousand requests per second would still finish.
fn h2load_timeout(requests: u64) -> Duration {
    Duration::from_secs(30 + requests / 2000)
}

/// How one sample is taken.
#[derive(Debug, Clone)]
pub enum Tool {
    /// wrk for `duration` seconds, optionally with a Lua script.
    Wrk {
        /// The script (pipelining).
        script: Option<PathBuf>,
    },
    /// h2load with prior-knowledge h2c.
    H2load,
    /// `h3_baseline client CLIENT ADDR REQUESTS MIB PID`: HTTP/3 requests/s over one
    /// connection with 100 concurrent streams, then one download; the client reads the
    /// server's CPU time itself (ns precision, only around the measured phases).
    H3 {
        /// The h3_baseline binary.
        program: PathBuf,
        /// `h3` or `shockwave`: whose client drives the servers.
        client: &'static str,
    },
    /// `ws_echo load ADDR CONNECTIONS IN_FLIGHT SIZE WARMUP SECONDS PID`: WebSocket echo
    /// messages/s (a "request" is one echoed message) over the settings' warm-up and
    /// duration; the load generator reads the server tree's CPU time itself.
    Ws {
        /// The ws_echo binary.
        program: PathBuf,
        /// Connections.
        connections: u32,
        /// Messages in flight per connection.
        in_flight: u32,
        /// Message size, bytes.
        size: u32,
    },
}

/// A scenario: one protocol, one load generator, several servers.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// `HTTP/1.1`, `HTTP/2`.
    pub protocol: &'static str,
    /// Short name.
    pub name: &'static str,
    /// The load generator in words.
    pub tool_text: String,
    /// How samples are taken.
    pub tool: Tool,
    /// The servers, in turn order.
    pub servers: Vec<ServerSpec>,
}

/// Takes one sample: start the server, warm it up, measure, read its peak RSS, stop it.
fn sample(
    spec: &ServerSpec,
    sc: &Scenario,
    s: &LoadSettings,
    tck: f64,
) -> Result<LoadSample, String> {
    let server = spec.start()?;
    let url = server.url();
    let pid = server.pid();
    let (requests, rps, errors, cpu) = match &sc.tool {
        Tool::Wrk { script } => {
            if s.warmup > 0 {
                load::wrk_run(&url, s.warmup, s.connections, script.as_ref())?;
            }
            let before = load::tree_cpu_ticks(pid)?;
            let w = load::wrk_run(&url, s.duration, s.connections, script.as_ref())?;
            let after = load::tree_cpu_ticks(pid)?;
            (w.requests, w.rps, w.errors, after.saturating_sub(before))
        }
        Tool::H2load => {
            let warm = (s.h2_requests / 10).max(100);
            h2load(&h2load_args(s, warm, false, &url), h2load_timeout(warm))?;
            let before = load::tree_cpu_ticks(pid)?;
            let h = h2load(
                &h2load_args(s, s.h2_requests, false, &url),
                h2load_timeout(s.h2_requests),
            )?;
            let after = load::tree_cpu_ticks(pid)?;
            (h.succeeded, h.rps, h.errors, after.saturating_sub(before))
        }
        Tool::H3 { program, client } => {
            let args: Vec<String> = [
                "client",
                client,
                &server.addr,
                &s.h3_requests.to_string(),
                &s.h3_mib.to_string(),
                &pid.to_string(),
            ]
            .map(String::from)
            .to_vec();
            let timeout = Duration::from_secs(60 + s.h3_requests / 1000 + s.h3_mib);
            let text = run_captured(program, &args, timeout)?;
            let h = parse_h3_client(&text)?;
            let mem = server.mem()?;
            drop(server);
            return Ok(LoadSample {
                requests: h.requests,
                rps: h.rps,
                cpu_us_per_req: h.cpu_us_per_req,
                peak_rss_kib: mem.hwm_kib,
                errors: h.errors,
                download_mbps: Some(h.mbps).filter(|m| m.is_finite()),
                client_busy: h.client_busy,
                client_busy_download: h.client_busy_download,
            });
        }
        Tool::Ws {
            program,
            connections,
            in_flight,
            size,
        } => {
            let args: Vec<String> = vec![
                "load".into(),
                server.addr.clone(),
                connections.to_string(),
                in_flight.to_string(),
                size.to_string(),
                s.warmup.to_string(),
                s.duration.to_string(),
                pid.to_string(),
            ];
            let timeout = Duration::from_secs(30 + s.warmup + s.duration);
            let text = run_captured(program, &args, timeout)?;
            let w = parse_ws_load(&text)?;
            let mem = server.mem()?;
            drop(server);
            return Ok(LoadSample {
                requests: w.messages,
                rps: w.mps,
                cpu_us_per_req: w.cpu_us_per_msg,
                peak_rss_kib: mem.hwm_kib,
                errors: w.errors,
                download_mbps: None,
                client_busy: Some(w.client_busy).filter(|b| b.is_finite()),
                client_busy_download: None,
            });
        }
    };
    let mem = server.mem()?;
    drop(server);
    Ok(LoadSample {
        requests,
        rps,
        cpu_us_per_req: cpu_us_per_request(cpu, tck, requests),
        peak_rss_kib: mem.hwm_kib,
        errors,
        download_mbps: None,
        client_busy: None,
        client_busy_download: None,
    })
}

/// What one `ws_echo load` run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WsLoadOutput {
    /// Echoes received in the measured window.
    pub messages: u64,
    /// Wrong echoes plus failed connections.
    pub errors: u64,
    /// Echoed messages per second.
    pub mps: f64,
    /// Server CPU (the process tree's utime + stime) µs per message.
    pub cpu_us_per_msg: f64,
    /// The load generator's CPU time over wall time.
    pub client_busy: f64,
}

/// Parses the `ws_echo: messages=N errors=N mps=X server_cpu_us_per_msg=X
/// client_busy=X` line.
pub fn parse_ws_load(text: &str) -> Result<WsLoadOutput, String> {
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with("ws_echo: messages="))
        .ok_or_else(|| format!("cannot read ws_echo output: {}", snippet(text)))?;
    let get = |key: &str| -> Result<f64, String> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| format!("no {key} in ws_echo output: {line}"))
    };
    Ok(WsLoadOutput {
        messages: get("messages")? as u64,
        errors: get("errors")? as u64,
        mps: get("mps")?,
        cpu_us_per_msg: get("server_cpu_us_per_msg")?,
        client_busy: get("client_busy")?,
    })
}

/// What one `h3_baseline client` run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct H3ClientOutput {
    /// Requests that succeeded.
    pub requests: u64,
    /// Failed requests (and a failed download).
    pub errors: u64,
    /// Requests per second.
    pub rps: f64,
    /// Download throughput, MB/s (NaN if the download failed).
    pub mbps: f64,
    /// Server CPU µs per request.
    pub cpu_us_per_req: f64,
    /// The client thread's CPU time over wall time, request phase (when reported).
    pub client_busy: Option<f64>,
    /// The same during the download (when reported).
    pub client_busy_download: Option<f64>,
}

/// Parses the `h3_baseline: client=... requests=N errors=N rps=X mbps=X
/// server_cpu_us_per_req=X ...` line.
pub fn parse_h3_client(text: &str) -> Result<H3ClientOutput, String> {
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with("h3_baseline: client="))
        .ok_or_else(|| format!("cannot read h3_baseline output: {}", snippet(text)))?;
    let get = |key: &str| -> Result<f64, String> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| format!("no {key} in h3_baseline output: {line}"))
    };
    Ok(H3ClientOutput {
        requests: get("requests")? as u64,
        errors: get("errors")? as u64,
        rps: get("rps")?,
        mbps: get("mbps")?,
        cpu_us_per_req: get("server_cpu_us_per_req")?,
        client_busy: get("client_busy").ok().filter(|b| b.is_finite()),
        client_busy_download: get("client_busy_download").ok().filter(|b| b.is_finite()),
    })
}

/// Runs `program args`, killing it after `timeout`; its stdout (and stderr on failure).
fn run_captured(program: &Path, args: &[String], timeout: Duration) -> Result<String, String> {
    let (status, text, err) = run_with_timeout(program, args, timeout)?;
    if status.success() {
        Ok(text)
    } else {
        Err(format!(
            "{} failed ({status}): {}",
            program.display(),
            snippet(&format!("{text}{err}"))
        ))
    }
}

/// Runs `program args` with both outputs captured (read on their own threads, so neither
/// pipe can fill up), killing it after `timeout`: its exit status, stdout and stderr.
fn run_with_timeout(
    program: &Path,
    args: &[String],
    timeout: Duration,
) -> Result<(std::process::ExitStatus, String, String), String> {
    let name = program.display().to_string();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{name}: {e}"))?;
    fn read_all<R: std::io::Read + Send + 'static>(
        pipe: Option<R>,
    ) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut s);
            }
            s
        })
    }
    let out_reader = read_all(child.stdout.take());
    let err_reader = read_all(child.stderr.take());
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{name} did not finish within {} s",
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("{name}: {e}")),
        }
    };
    let text = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    Ok((status, text, err))
}

/// CPU ticks over requests, in µs per request (NaN when nothing was served).
pub fn cpu_us_per_request(ticks: u64, ticks_per_second: f64, requests: u64) -> f64 {
    if requests == 0 || ticks_per_second <= 0.0 {
        f64::NAN
    } else {
        ticks as f64 * 1e6 / ticks_per_second / requests as f64
    }
}

/// Runs a scenario's rounds in alternation. Servers that fail are dropped from the
/// remaining rounds and reported in `notes`.
pub fn run_scenario(sc: &Scenario, s: &LoadSettings, notes: &mut Vec<String>) -> Vec<LoadResult> {
    let tck = load::clock_ticks_per_second();
    let mut results: Vec<LoadResult> = sc
        .servers
        .iter()
        .map(|spec| LoadResult {
            protocol: sc.protocol.into(),
            scenario: sc.name.into(),
            tool: sc.tool_text.clone(),
            server: spec.label.clone(),
            samples: Vec::new(),
        })
        .collect();
    let mut failed = vec![false; sc.servers.len()];
    for round in 1..=s.rounds {
        for (i, spec) in sc.servers.iter().enumerate() {
            if failed[i] {
                continue;
            }
            eprintln!(
                "xtask bench: {} {} round {round}/{}: {} ...",
                sc.protocol, sc.name, s.rounds, spec.label
            );
            match sample(spec, sc, s, tck) {
                Ok(x) => {
                    let download = x
                        .download_mbps
                        .map_or(String::new(), |m| format!(", download {m:.0} MB/s"));
                    eprintln!(
                        "xtask bench:   {:.0} req/s, {:.2} µs CPU/req{download}, peak RSS {} KiB, {} errors",
                        x.rps, x.cpu_us_per_req, x.peak_rss_kib, x.errors
                    );
                    results[i].samples.push(x);
                }
                Err(e) => {
                    eprintln!("xtask bench:   failed: {e}");
                    notes.push(format!(
                        "{} {}: {} failed in round {round}: {e}",
                        sc.protocol, sc.name, spec.label
                    ));
                    failed[i] = true;
                }
            }
        }
    }
    results.retain(|r| !r.samples.is_empty());
    results
}

/// Checks that a server answers h2c prior-knowledge requests without failures.
pub fn probe_h2(spec: &ServerSpec) -> Result<(), String> {
    let server = spec.start()?;
    let n = 200u64;
    let args: Vec<String> = ["-n", "200", "-c", "2", "-m", "10", "-t", "1"]
        .iter()
        .map(|s| s.to_string())
        .chain([server.url()])
        .collect();
    let out = h2load(&args, Duration::from_secs(20))?;
    if out.succeeded != n || out.errors > 0 {
        return Err(format!(
            "h2load against {}: {} of {n} requests succeeded, {} errors",
            spec.label, out.succeeded, out.errors
        ));
    }
    Ok(())
}

/// Sends `GET /stats` and returns the JSON body.
fn fetch_stats(addr: &str) -> Result<serde_json::Value, String> {
    let sa: SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let mut s =
        TcpStream::connect_timeout(&sa, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    s.write_all(b"GET /stats HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    parse_stats_response(&buf)
}

/// The JSON body of a `/stats` response (Content-Length framed or closed by the server).
pub fn parse_stats_response(raw: &[u8]) -> Result<serde_json::Value, String> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or("no end of head in /stats response")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!(
            "/stats answered {}",
            head.lines().next().unwrap_or("")
        ));
    }
    let start = body.find('{').ok_or("no JSON in /stats response")?;
    let end = body.rfind('}').ok_or("no JSON in /stats response")?;
    serde_json::from_str(&body[start..=end]).map_err(|e| format!("/stats JSON: {e}"))
}

/// Serves `warmup` then `requests` requests (h2load --h1, keep-alive) and reads the
/// server's memory after each, plus its arena pool figures from `/stats`.
pub fn long_run(spec: &ServerSpec, s: &LoadSettings) -> Result<LongRun, String> {
    let server = spec.start()?;
    let url = server.url();
    let settle = || std::thread::sleep(Duration::from_millis(300)); // /stats publishes every 100 ms
    let w = h2load(
        &h2load_args(s, s.long_warmup, true, &url),
        h2load_timeout(s.long_warmup),
    )?;
    settle();
    let warm = server.mem()?;
    let r = h2load(
        &h2load_args(s, s.long_requests, true, &url),
        h2load_timeout(s.long_requests),
    )?;
    settle();
    let end = server.mem()?;
    let stats = if spec.has_stats {
        fetch_stats(&server.addr).ok()
    } else {
        None
    };
    let get = |path: &[&str]| {
        let mut v = stats.as_ref()?;
        for p in path {
            v = v.get(p)?;
        }
        v.as_u64()
    };
    Ok(LongRun {
        server: spec.label.clone(),
        requests: r.succeeded,
        warmup_requests: w.succeeded,
        rss_warm_kib: warm.rss_kib,
        rss_end_kib: end.rss_kib,
        peak_rss_kib: end.hwm_kib,
        retained_bytes: get(&["arena", "retained_bytes"]),
        arenas_created: get(&["arena", "arenas_created"]),
        server_requests: get(&["requests"]),
        errors: w.errors + r.errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_status_parses() {
        let text = "Name:\tshockwave\nVmPeak:\t  200000 kB\nVmHWM:\t    8123 kB\nVmRSS:\t    7000 kB\nThreads:\t3\n";
        assert_eq!(
            parse_proc_status(text).unwrap(),
            ProcMem {
                hwm_kib: 8123,
                rss_kib: 7000
            }
        );
        assert!(parse_proc_status("Name:\tx\n").is_err());
    }

    #[test]
    fn h2load_output_parses() {
        let text = "starting benchmark...
spawning thread #0: 16 total client(s). 100000 total requests
Application protocol: h2c

finished in 1.02s, 97932.44 req/s, 4.02MB/s
requests: 100000 total, 100000 started, 100000 done, 99990 succeeded, 10 failed, 0 errored, 0 timeout
status codes: 99980 2xx, 0 3xx, 10 4xx, 0 5xx
traffic: 4.10MB (4300000) total, 1.00MB (1000000) headers (space savings 90.00%), 1.24MB (1300000) data
";
        let o = parse_h2load(text).unwrap();
        assert_eq!(o.succeeded, 99990);
        assert_eq!(o.errors, 20);
        assert_eq!(o.rps, 97932.44);
        assert!(parse_h2load("connect error\n").is_err());
    }

    #[test]
    fn h2load_all_failed_is_zero_succeeded() {
        let text = "finished in 5.00s, 0.00 req/s, 0B/s\nrequests: 200 total, 200 started, 0 done, 0 succeeded, 200 failed, 200 errored, 0 timeout\n";
        let o = parse_h2load(text).unwrap();
        assert_eq!((o.succeeded, o.errors, o.rps), (0, 400, 0.0));
    }

    #[test]
    fn wrk_output_parses_with_errors() {
        let ok = "Running 2s test @ http://127.0.0.1:1/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   211.00us  100.00us   3.00ms   90.00%
    Req/Sec    150.00k    10.00k  160.00k    80.00%
  300123 requests in 2.00s, 36.00MB read
Requests/sec: 150061.50
Transfer/sec:     18.00MB
";
        let w = load::parse_wrk(ok).unwrap();
        assert_eq!((w.requests, w.rps, w.errors), (300123, 150061.5, 0));
        let bad = ok.replace(
            "Requests/sec:",
            "  Socket errors: connect 0, read 3, write 1, timeout 2\n  Non-2xx or 3xx responses: 5\nRequests/sec:",
        );
        assert_eq!(load::parse_wrk(&bad).unwrap().errors, 11);
        assert!(load::parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n").is_err());
    }

    #[test]
    fn proc_stat_cpu_ticks_parse() {
        // pid (comm with spaces and a ')') state ppid ... utime=14th stime=15th field.
        let stat = "4242 (tokio-rt (w) 1) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 3 0 100 2000000 500 18446744073709551615";
        assert_eq!(load::parse_cpu_ticks(stat).unwrap(), 325);
        assert!(load::parse_cpu_ticks("4242 (x) S 1 2").is_err());
        assert!(load::parse_cpu_ticks("garbage").is_err());
    }

    #[test]
    fn cpu_per_request() {
        assert_eq!(cpu_us_per_request(100, 100.0, 1_000_000), 1.0);
        assert!(cpu_us_per_request(5, 100.0, 0).is_nan());
    }

    #[test]
    fn stats_response_parses() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 50\r\n\r\n{\"requests\":42,\"arena\":{\"retained_bytes\":65536}}";
        let v = parse_stats_response(raw).unwrap();
        assert_eq!(v["requests"].as_u64(), Some(42));
        assert_eq!(v["arena"]["retained_bytes"].as_u64(), Some(65536));
        assert!(parse_stats_response(b"HTTP/1.1 404 Not Found\r\n\r\n").is_err());
        assert!(parse_stats_response(b"garbage").is_err());
    }

    #[test]
    fn h2load_arguments() {
        let s = LoadSettings {
            rounds: 3,
            duration: 1,
            connections: 32,
            warmup: 1,
            h2_requests: 1000,
            h2_clients: 16,
            h2_streams: 100,
            long_requests: 10,
            long_warmup: 1,
            h3_requests: 100,
            h3_mib: 1,
        };
        assert_eq!(
            h2load_args(&s, 500, false, "http://127.0.0.1:1/").join(" "),
            "-n 500 -c 16 -t 1 -m 100 http://127.0.0.1:1/"
        );
        assert_eq!(
            h2load_args(&s, 500, true, "http://x/").join(" "),
            "-n 500 -c 16 -t 1 --h1 -m 1 http://x/"
        );
    }

    #[test]
    fn h3_client_output_parses() {
        let text = "h3_baseline: client=h3 requests=20000 errors=0 rps=25123.4 mbps=310.50 \
                    server_cpu_us_per_req=4.125 server_cpu_ms_download=120.00\n";
        let o = parse_h3_client(text).unwrap();
        assert_eq!(
            o,
            H3ClientOutput {
                requests: 20000,
                errors: 0,
                rps: 25123.4,
                mbps: 310.5,
                cpu_us_per_req: 4.125,
                client_busy: None,
                client_busy_download: None,
            }
        );
        let busy = "h3_baseline: client=h3 requests=5 errors=0 rps=5.0 mbps=9.0 \
                    server_cpu_us_per_req=1.0 server_cpu_ms_download=2.0 \
                    client_cpu_us_per_req=3.0 client_busy=0.81 client_busy_download=0.97";
        let o = parse_h3_client(busy).unwrap();
        assert_eq!(o.client_busy, Some(0.81));
        assert_eq!(o.client_busy_download, Some(0.97));
        let failed = "h3_baseline: client=h3 requests=10 errors=2 rps=5.0 mbps=NaN \
                      server_cpu_us_per_req=NaN server_cpu_ms_download=NaN";
        let o = parse_h3_client(failed).unwrap();
        assert!(o.mbps.is_nan() && o.cpu_us_per_req.is_nan());
        assert_eq!(o.errors, 2);
        assert!(parse_h3_client("thread 'main' panicked").is_err());
        let spec = ServerSpec::h3_baseline(Path::new("/b"), "h3", "h3");
        assert!(spec.udp);
        assert_eq!(spec.args, ["serve", "h3", "{addr}"]);
    }

    #[test]
    fn ws_load_output_parses() {
        let text = "ws_echo: 1 connection(s) failed, first: x\n\
                    ws_echo: messages=900000 errors=1 mps=300000.5 server_cpu_us_per_msg=1.537 \
                    client_busy=0.22\n";
        let o = parse_ws_load(text).unwrap();
        assert_eq!(
            o,
            WsLoadOutput {
                messages: 900000,
                errors: 1,
                mps: 300000.5,
                cpu_us_per_msg: 1.537,
                client_busy: 0.22,
            }
        );
        let nan = parse_ws_load(
            "ws_echo: messages=0 errors=0 mps=0.0 server_cpu_us_per_msg=NaN client_busy=0.00",
        )
        .unwrap();
        assert!(nan.cpu_us_per_msg.is_nan());
        assert!(parse_ws_load("ws_echo: connect refused").is_err());
        let spec = ServerSpec::ws_echo(Path::new("/b"), "fastwebsockets", "fastwebsockets");
        assert_eq!(spec.program, Path::new("/b/ws_echo"));
        assert_eq!(spec.args, ["serve", "fastwebsockets", "{addr}"]);
        assert!(!spec.udp);
    }

    #[test]
    fn udp_readiness_waits_for_the_listening_line() {
        let spawn = |script: &str| {
            Command::new("sh")
                .args(["-c", script])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let mut child = spawn("echo starting; echo 'x: listening on udp 127.0.0.1:1'; sleep 5");
        let r = wait_ready_line(&mut child, "listening on udp");
        let _ = child.kill();
        let _ = child.wait();
        r.unwrap();
        let mut child = spawn("echo starting; exit 3");
        let r = wait_ready_line(&mut child, "listening on udp");
        let _ = child.wait();
        assert!(r.unwrap_err().contains("exited before listening"));
        assert!(free_udp_addr().unwrap().starts_with("127.0.0.1:"));
    }

    #[test]
    fn shockwave_spec_substitutes_the_address() {
        let s = ServerSpec::shockwave(Path::new("/b"), "heap");
        assert_eq!(s.program, Path::new("/b/shockwave"));
        assert_eq!(s.args[2], "{addr}");
        assert!(s.label.contains("heap"));
    }
}
