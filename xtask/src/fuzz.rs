//! `cargo xtask fuzz`: coverage-guided fuzzing of every decoder that reads untrusted bytes
//! with cargo-fuzz (libFuzzer + AddressSanitizer).
//!
//! Options: `--seconds N` per target (default 60), `--target NAME` (repeatable; default
//! all), `--smoke` (5 s per target unless `--seconds` is given), `--no-build`. Every
//! target, the HTTP/2 connection (`h2_server`) included, depends only on the protocol
//! crates, so the smoke run covers them all.
//!
//! Steps: installs cargo-fuzz if it is missing (`cargo install cargo-fuzz --locked`), seeds
//! `fuzz/corpus/<target>/` (gitignored) from the test vectors in `../shared/` (the same
//! checkouts the hpack and http2-frames tests read), from the synthetic seeds below and from
//! `fuzz/seeds/<target>/` (small committed inputs, e.g. past crashes), builds every target
//! with `cargo fuzz build -O -a` (release + debug assertions, so integer overflows are
//! caught too; `RUSTC_BOOTSTRAP=1` because the toolchain is stable), then runs each binary
//! for the bounded time and reports its executions (libFuzzer's
//! `stat::number_of_executed_units`). A crash, timeout or OOM fails the command, naming the
//! input libFuzzer saved under `fuzz/artifacts/<target>/` and how to replay it. The full
//! log of each run is `fuzz/artifacts/<target>/fuzz.log`.

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::{cargo, describe, load::workspace_root, run};

/// Every fuzz target.
const TARGETS: &[&str] = &[
    "parse_request",
    "parse_response",
    "chunked_body",
    "hpack_decode",
    "hpack_roundtrip",
    "h2_frames",
    "h2_server",
    "qpack_decode",
    "h3_frames",
    "h3_request",
    "h3_connection",
    "ws_frames",
    "ws_inflate",
];

struct Outcome {
    target: &'static str,
    seconds: u64,
    execs: Option<u64>,
    corpus: usize,
    failure: Option<String>,
}

/// Runs the fuzz targets (see the module docs).
pub fn fuzz(args: &[String]) -> Result<(), String> {
    let mut seconds: Option<u64> = None;
    let mut smoke = false;
    let mut build = true;
    let mut selected: Vec<&'static str> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                let v = it.next().ok_or("--seconds needs a value")?;
                seconds = Some(v.parse().map_err(|_| format!("bad --seconds {v}"))?);
            }
            "--target" => {
                let v = it.next().ok_or("--target needs a value")?;
                let t = TARGETS.iter().find(|n| *n == v).ok_or_else(|| {
                    format!("unknown fuzz target {v}; targets: {}", TARGETS.join(", "))
                })?;
                selected.push(t);
            }
            "--smoke" => smoke = true,
            "--no-build" => build = false,
            other => {
                return Err(format!(
                    "unknown option {other}; usage: cargo xtask fuzz [--seconds N] \
                     [--target NAME]... [--smoke] [--no-build]"
                ))
            }
        }
    }
    if selected.is_empty() {
        selected = TARGETS.to_vec();
    }
    let seconds = seconds.unwrap_or(if smoke { 5 } else { 60 });
    let root = workspace_root();
    let dir = root.join("fuzz");

    ensure_cargo_fuzz()?;
    // fuzz/ is its own workspace with a gitignored lock file: start it from the main
    // workspace's, so the fuzzed dependency versions are the ones we ship.
    let lock = dir.join("Cargo.lock");
    if !lock.exists() {
        fs::copy(root.join("Cargo.lock"), &lock)
            .map_err(|e| format!("cannot copy Cargo.lock into fuzz/: {e}"))?;
    }
    let vectors = root.join("../shared");
    if !vectors.join("hpack-test-case").is_dir() {
        eprintln!(
            "xtask: note: {} not found; seeding from the synthetic inputs only",
            vectors.display()
        );
    }
    for t in &selected {
        let n = write_seeds(&dir, &vectors, t)?;
        eprintln!("xtask: fuzz/corpus/{t}: {n} seed inputs");
    }

    let target_dir = dir.join("target");
    if build {
        let mut cmd = cargo();
        cmd.current_dir(&dir)
            .env("RUSTC_BOOTSTRAP", "1")
            .env("CARGO_TARGET_DIR", &target_dir)
            .args(["fuzz", "build", "-O", "-a"]);
        if let [one] = selected[..] {
            cmd.arg(one);
        }
        let start = Instant::now();
        run(&mut cmd)?;
        eprintln!(
            "xtask: fuzz build took {:.0} s",
            start.elapsed().as_secs_f64()
        );
    }

    let bin_dir = target_dir.join(host_triple()?).join("release");
    let mut outcomes = Vec::new();
    for t in &selected {
        outcomes.push(run_target(&dir, &bin_dir, t, seconds)?);
    }

    eprintln!("\nxtask: fuzz results ({seconds} s per target)");
    eprintln!(
        "  {:<16} {:>8} {:>14} {:>10} {:>8}  result",
        "target", "seconds", "executions", "exec/s", "corpus"
    );
    let mut failures = Vec::new();
    for o in &outcomes {
        let execs = o.execs.map_or("?".to_string(), |n| n.to_string());
        let rate = o
            .execs
            .map_or("?".to_string(), |n| (n / o.seconds.max(1)).to_string());
        let result = match &o.failure {
            None => "ok".to_string(),
            Some(f) => {
                failures.push(format!("{}: {f}", o.target));
                "FAILED".to_string()
            }
        };
        eprintln!(
            "  {:<16} {:>8} {:>14} {:>10} {:>8}  {result}",
            o.target, o.seconds, execs, rate, o.corpus
        );
    }
    if failures.is_empty() {
        eprintln!("xtask: fuzz passed");
        Ok(())
    } else {
        Err(format!(
            "fuzzing found crashes:\n  {}",
            failures.join("\n  ")
        ))
    }
}

/// Installs cargo-fuzz unless `cargo fuzz` already works.
fn ensure_cargo_fuzz() -> Result<(), String> {
    let present = cargo()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    eprintln!("xtask: cargo-fuzz is missing; installing it (`cargo install cargo-fuzz --locked`)");
    run(cargo().args(["install", "cargo-fuzz", "--locked"])).map_err(|e| {
        format!("{e}\ninstall it by hand with `cargo install cargo-fuzz --locked`, then retry")
    })
}

fn host_triple() -> Result<String, String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(&rustc)
        .arg("-vV")
        .output()
        .map_err(|e| format!("cannot run {rustc} -vV: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .ok_or_else(|| "no host triple in `rustc -vV`".to_string())
}

/// Runs one target's binary for `seconds` on its corpus and parses libFuzzer's output.
fn run_target(
    dir: &Path,
    bin_dir: &Path,
    target: &'static str,
    seconds: u64,
) -> Result<Outcome, String> {
    let corpus = dir.join("corpus").join(target);
    let artifacts = dir.join("artifacts").join(target);
    fs::create_dir_all(&artifacts).map_err(|e| format!("{}: {e}", artifacts.display()))?;
    let bin = bin_dir.join(target);
    let mut cmd = Command::new(&bin);
    cmd.arg(&corpus)
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1")
        .arg("-timeout=10")
        .arg("-rss_limit_mb=2048")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .env("ASAN_OPTIONS", "detect_odr_violation=0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    eprintln!("xtask: $ {}", describe(&cmd));
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e} (build it first)", bin.display()))?;
    let log_path = artifacts.join("fuzz.log");
    let mut log =
        fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let (mut execs, mut last_progress, mut saved, mut reason) = (None, None, None, None);
    let stderr = child.stderr.take().expect("piped stderr");
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        let _ = writeln!(log, "{line}");
        if let Some(v) = line.strip_prefix("stat::number_of_executed_units:") {
            execs = v.trim().parse().ok();
        } else if let Some(rest) = line.strip_prefix('#') {
            // "#12345\tDONE ..." / "#12345\tpulse ..." progress lines.
            if let Some(n) = rest.split_whitespace().next().and_then(|n| n.parse().ok()) {
                last_progress = Some(n);
            }
        } else if let Some(p) = line.split("Test unit written to ").nth(1) {
            saved = Some(p.trim().to_string());
        } else if reason.is_none()
            && (line.contains("panicked at")
                || line.contains("==ERROR:")
                || line.contains("libFuzzer: timeout")
                || line.contains("out-of-memory"))
        {
            reason = Some(line.trim().to_string());
        }
    }
    let status = child.wait().map_err(|e| format!("{target}: {e}"))?;
    let elapsed = started.elapsed().as_secs();
    let corpus_len = fs::read_dir(&corpus).map_or(0, |d| d.count());
    let failure = if status.success() && saved.is_none() {
        None
    } else {
        let input = saved.unwrap_or_else(|| "no input saved".into());
        Some(format!(
            "{} ({status}); input: {input}; replay: ASAN_OPTIONS=detect_odr_violation=0 {} {input}; log: {}",
            reason.unwrap_or_else(|| "crash".into()),
            bin.display(),
            log_path.display()
        ))
    };
    eprintln!(
        "xtask: {target}: {} executions in {elapsed} s{}",
        execs
            .or(last_progress)
            .map_or("?".into(), |n: u64| n.to_string()),
        if failure.is_some() { ", FAILED" } else { "" }
    );
    Ok(Outcome {
        target,
        seconds: elapsed,
        execs: execs.or(last_progress),
        corpus: corpus_len,
        failure,
    })
}

// ---- seeds ------------------------------------------------------------------------------

/// Writes the seeds of `target` into `fuzz/corpus/<target>/` (named by content, so
/// re-running adds nothing twice); returns how many there are.
fn write_seeds(dir: &Path, vectors: &Path, target: &str) -> Result<usize, String> {
    let corpus = dir.join("corpus").join(target);
    fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
    let mut seeds = synthetic_seeds(target, vectors);
    let committed = dir.join("seeds").join(target);
    if let Ok(entries) = fs::read_dir(&committed) {
        for e in entries.flatten() {
            if let Ok(bytes) = fs::read(e.path()) {
                seeds.push(bytes);
            }
        }
    }
    for s in &seeds {
        let mut h = DefaultHasher::new();
        s.hash(&mut h);
        let path = corpus.join(format!("seed-{:016x}", h.finish()));
        if !path.exists() {
            fs::write(&path, s).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(seeds.len())
}

fn synthetic_seeds(target: &str, vectors: &Path) -> Vec<Vec<u8>> {
    match target {
        "parse_request" => REQUESTS.iter().map(|r| r.to_vec()).collect(),
        "parse_response" => RESPONSES.iter().map(|r| r.to_vec()).collect(),
        "chunked_body" => CHUNKED
            .iter()
            .enumerate()
            .map(|(i, c)| cat(&[&[i as u8 * 37], c]))
            .collect(),
        "hpack_decode" => hpack_stories(vectors)
            .into_iter()
            .map(|story| {
                let mut s = vec![0u8];
                for (size, block) in story {
                    let tag = match size.and_then(|z| HPACK_SIZES.iter().position(|&x| x == z)) {
                        Some(i) => 0x80 | i as u8,
                        None => 0,
                    };
                    record(&mut s, tag, &block);
                }
                s
            })
            .collect(),
        "hpack_roundtrip" => vec![vec![0; 16], (0..64).collect()],
        "h2_frames" => {
            let mut seeds: Vec<Vec<u8>> = h2_vector_wires(vectors)
                .into_iter()
                .map(|w| cat(&[&[0, 0], &w]))
                .collect();
            for session in h2_sessions(vectors) {
                seeds.push(cat(&[&[0, 2, 4, 30], &session]));
            }
            seeds
        }
        "h2_server" => {
            let mut seeds = Vec::new();
            for session in h2_sessions(vectors) {
                for head in [
                    &[0u8, 1, 0x1f][..],
                    &[1, 1, 0x5f],
                    &[0, 3, 0x03, 0x41, 0x22],
                ] {
                    seeds.push(cat(&[head, &session]));
                }
            }
            seeds
        }
        "qpack_decode" => qpack_seeds(),
        "h3_frames" => h3_frame_seeds(),
        "h3_request" => h3_request_seeds(),
        "h3_connection" => h3_connection_seeds(),
        "ws_frames" => ws_frame_seeds(),
        "ws_inflate" => ws_inflate_seeds(),
        _ => Vec::new(),
    }
}

const REQUESTS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
    b"GET /a?b=c HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nUser-Agent: x\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n",
    b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: h\r\n\r\n",
    b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n",
    b"GET http://example.com/x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
    b"GET / HTTP/1.1\nHost: h\n\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
];

const RESPONSES: &[&[u8]] = &[
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nx-t: 1\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nServer: s\r\n\r\nbody until close",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
];

const CHUNKED: &[&[u8]] = &[
    b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    b"5;ext=1;q=\"x\"\r\nhello\r\n0\r\nTrailer: x\r\nOther: y\r\n\r\nNEXT",
    b"A\r\n0123456789\r\n0\r\n\r\n",
    b"3\nabc\n0\n\n",
    b"ffffffffffffffff\r\n",
];

const HPACK_SIZES: [usize; 8] = [0, 64, 256, 1365, 2730, 4096, 8192, 65536];

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// `[tag][len: u16 BE][bytes]`, the record format of the hpack and qpack targets.
fn record(dst: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    let len = bytes.len().min(usize::from(u16::MAX));
    dst.push(tag);
    dst.extend_from_slice(&(len as u16).to_be_bytes());
    dst.extend_from_slice(&bytes[..len]);
}

fn hex(s: &str) -> Option<Vec<u8>> {
    let s: String = s.split_whitespace().collect();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return files;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files.extend(json_files(&p));
        } else if p.extension().is_some_and(|x| x == "json") {
            files.push(p);
        }
    }
    files.sort();
    files
}

/// The hpack-test-case stories: per case, the table size set before it (if any) and the
/// encoded block. At most 12 cases per story and 4 stories per encoder, to keep seeds small.
fn hpack_stories(vectors: &Path) -> Vec<Vec<(Option<usize>, Vec<u8>)>> {
    let mut stories = Vec::new();
    let root = vectors.join("hpack-test-case");
    let Ok(encoders) = fs::read_dir(&root) else {
        return stories;
    };
    let mut encoders: Vec<PathBuf> = encoders.flatten().map(|e| e.path()).collect();
    encoders.sort();
    for enc in encoders
        .iter()
        .filter(|p| p.is_dir() && !p.ends_with("raw-data"))
    {
        for file in json_files(enc).into_iter().take(4) {
            let Ok(text) = fs::read_to_string(&file) else {
                continue;
            };
            let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            let Some(cases) = json["cases"].as_array() else {
                continue;
            };
            let story: Vec<_> = cases
                .iter()
                .take(12)
                .filter_map(|c| {
                    let block = hex(c["wire"].as_str()?)?;
                    let size = c["header_table_size"].as_u64().map(|s| s as usize);
                    Some((size, block))
                })
                .collect();
            if !story.is_empty() {
                stories.push(story);
            }
        }
    }
    stories
}

/// Every frame of the http2-frame-test-case vectors (valid and invalid).
fn h2_vector_wires(vectors: &Path) -> Vec<Vec<u8>> {
    json_files(&vectors.join("http2-frame-test-case"))
        .iter()
        .filter_map(|f| {
            let json: serde_json::Value =
                serde_json::from_str(&fs::read_to_string(f).ok()?).ok()?;
            hex(json["wire"].as_str()?)
        })
        .collect()
}

fn h2_frame(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, ty, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// HPACK literal fields without indexing, new names (RFC 7541 §6.2.2); short strings only.
fn hpack_literals(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut b = Vec::new();
    for (n, v) in fields {
        b.push(0x00);
        b.push(n.len() as u8);
        b.extend_from_slice(n.as_bytes());
        b.push(v.len() as u8);
        b.extend_from_slice(v.as_bytes());
    }
    b
}

/// Client byte streams after the preface: SETTINGS, then requests of several shapes, and
/// the hpack-test-case request blocks as HEADERS frames.
fn h2_sessions(vectors: &Path) -> Vec<Vec<u8>> {
    const END_STREAM: u8 = 0x1;
    const END_HEADERS: u8 = 0x4;
    let settings = h2_frame(0x4, 0, 0, &[0, 4, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0]);
    let get = hpack_literals(&[
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/"),
        (":authority", "example.com"),
    ]);
    let post = hpack_literals(&[
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/upload"),
        (":authority", "a"),
        ("content-length", "5"),
    ]);
    let trailers = hpack_literals(&[("grpc-status", "0")]);
    let mut sessions = vec![
        cat(&[
            &settings,
            &h2_frame(0x1, END_STREAM | END_HEADERS, 1, &get),
            &h2_frame(0x4, 0x1, 0, &[]),
            &h2_frame(0x6, 0, 0, b"pingping"),
            &h2_frame(0x8, 0, 0, &[0, 1, 0, 0]),
        ]),
        cat(&[
            &settings,
            &h2_frame(0x1, END_HEADERS, 1, &post),
            &h2_frame(0x0, 0, 1, b"hel"),
            &h2_frame(0x8, 0, 1, &[0, 0, 1, 0]),
            &h2_frame(0x0, END_STREAM, 1, b"lo"),
            &h2_frame(0x1, END_HEADERS, 3, &post),
            &h2_frame(0x0, 0, 3, b"hello"),
            &h2_frame(0x1, END_STREAM | END_HEADERS, 3, &trailers),
        ]),
        cat(&[
            &settings,
            &h2_frame(0x1, END_STREAM, 1, &get[..10]),
            &h2_frame(0x9, 0, 1, &get[10..20]),
            &h2_frame(0x9, END_HEADERS, 1, &get[20..]),
            &h2_frame(0x2, 0, 3, &[0, 0, 0, 1, 16]),
            &h2_frame(0x1, END_HEADERS, 5, &get),
            &h2_frame(0x3, 0, 5, &[0, 0, 0, 8]),
            &h2_frame(0x7, 0, 0, &[0, 0, 0, 5, 0, 0, 0, 0]),
        ]),
    ];
    for story in hpack_stories(vectors).into_iter().take(6) {
        let mut s = settings.clone();
        let mut id = 1u32;
        for (size, block) in story {
            if size.is_some_and(|z| z > 4096) {
                break; // larger than the table our server advertises
            }
            s.extend(h2_frame(0x1, END_STREAM | END_HEADERS, id, &block));
            id += 2;
        }
        sessions.push(s);
    }
    sessions
}

fn varint(v: u64, dst: &mut Vec<u8>) {
    match v {
        0..=63 => dst.push(v as u8),
        64..=16383 => dst.extend_from_slice(&(v as u16 | 0x4000).to_be_bytes()),
        16384..=1_073_741_823 => dst.extend_from_slice(&(v as u32 | 0x8000_0000).to_be_bytes()),
        _ => dst.extend_from_slice(&(v | 0xc000_0000_0000_0000).to_be_bytes()),
    }
}

fn h3_frame(ty: u64, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    varint(ty, &mut f);
    varint(payload.len() as u64, &mut f);
    f.extend_from_slice(payload);
    f
}

/// A QPACK field section with Required Insert Count 0: static-table lines (`0xc0 | index`
/// for index < 64) and literals with literal names (RFC 9204 §4.5.2, §4.5.6).
fn qpack_section(static_lines: &[u8], literals: &[(&str, &str)]) -> Vec<u8> {
    let mut b = vec![0, 0];
    for i in static_lines {
        b.push(0xc0 | i);
    }
    for (n, v) in literals {
        if n.len() < 7 {
            b.push(0x20 | n.len() as u8);
        } else {
            b.push(0x27);
            b.push((n.len() - 7) as u8);
        }
        b.extend_from_slice(n.as_bytes());
        b.push(v.len() as u8);
        b.extend_from_slice(v.as_bytes());
    }
    b
}

/// RFC 9204 Appendix B (encoder stream, field sections, in order) and static sections.
fn qpack_seeds() -> Vec<Vec<u8>> {
    let b = |s: &str| hex(s).expect("valid hex");
    let get = qpack_section(&[17, 1, 23], &[(":authority", "example.com")]);
    let mut seeds = Vec::new();
    for config in [0u8, 0x10, 0x05] {
        let mut s = vec![config];
        record(&mut s, 1, &b("0000 510b 2f69 6e64 6578 2e68 746d 6c"));
        record(&mut s, 1, &get);
        record(&mut s, 1 | (1 << 2), &b("0381 10 11"));
        record(
            &mut s,
            0,
            &b("3fbd01 c00f 7777 772e 6578 616d 706c 652e 636f 6d c10c 2f73 616d 706c 652f 7061 7468"),
        );
        record(&mut s, 3, &[]);
        record(
            &mut s,
            0,
            &b("4a63 7573 746f 6d2d 6b65 790c 6375 7374 6f6d 2d76 616c 7565"),
        );
        record(&mut s, 3, &[]);
        record(&mut s, 0, &b("02"));
        record(&mut s, 1 | (2 << 2), &b("0500 80 c1 81"));
        record(&mut s, 2 | (2 << 2), &[]);
        record(&mut s, 0, &b("810d 6375 7374 6f6d 2d76 616c 7565 32"));
        record(&mut s, 3, &[]);
        seeds.push(s);
    }
    seeds
}

fn h3_frame_seeds() -> Vec<Vec<u8>> {
    let settings = h3_frame(0x4, &[0x01, 0x40, 0x64, 0x06, 0x44, 0x00, 0x07, 0x10]);
    let section = qpack_section(&[17, 1, 23], &[(":authority", "a")]);
    let request = cat(&[
        &h3_frame(0x1, &section),
        &h3_frame(0x0, b"hello"),
        &h3_frame(0x21, b"grease"),
        &h3_frame(0x0, b" world"),
    ]);
    let control = cat(&[
        &[0x00],
        &settings,
        &h3_frame(0x7, &[0x04]),
        &h3_frame(0xd, &[0x08]),
    ]);
    vec![
        cat(&[&[0, 0], &request]),
        cat(&[&[0, 3, 0, 6, 1], &request]),
        cat(&[&[1, 0], &control]),
        cat(&[&[3, 2, 1, 0], &control]),
        cat(&[&[1, 0], &[0x02, 0x3f, 0xe1]]),
        cat(&[&[0, 0], &settings, &h3_frame(0x3, &[0x01])]),
    ]
}

/// Records for `h3_connection`: `tag & 3` the stream, `tag >> 2` the call (0 bytes,
/// 1 bytes + FIN, 2 reset, 3 and 4 decode a section, 5 cancel).
fn h3_connection_seeds() -> Vec<Vec<u8>> {
    const BYTES: u8 = 0;
    const FIN: u8 = 1 << 2;
    const RESET: u8 = 2 << 2;
    const DECODE: u8 = 3 << 2;
    const DECODE_WITH: u8 = 4 << 2;
    const CANCEL: u8 = 5 << 2;
    let settings = h3_frame(0x4, &[0x01, 0x50, 0x00, 0x07, 0x10, 0x06, 0x44, 0x00]);
    let control = cat(&[&[0x00], &settings]);
    // Set Dynamic Table Capacity 4096, Insert With Literal Name `x-a: b` (RFC 9204 §4.3).
    let encoder = [0x02, 0x3f, 0xe1, 0x1f, 0x43, b'x', b'-', b'a', 0x01, b'b'];
    // Required Insert Count 1 (encoded 2), base 0, dynamic index 0: blocks until the insert.
    let dynamic = [0x02, 0x00, 0x80];
    let get = qpack_section(&[17, 1, 23], &[(":authority", "example.com")]);
    let story = |config: u8, steps: &[(u8, &[u8])]| {
        let mut s = vec![config];
        for (tag, bytes) in steps {
            record(&mut s, *tag, bytes);
        }
        s
    };
    vec![
        // Server with a dynamic table: SETTINGS, a blocked section, the insert unblocks it.
        story(
            2,
            &[
                (BYTES, &control),
                (DECODE | 1, &dynamic),
                (BYTES | 1, &encoder),
                (DECODE, &get),
                (DECODE_WITH | 2, &get),
                (BYTES | 2, &[0x03]),
                (BYTES | 3, &[0x21, 1, 2, 3]),
            ],
        ),
        // Blocked, then cancelled; the encoder stream split in two; a closed control stream.
        story(
            6,
            &[
                (BYTES, &control[..2]),
                (BYTES, &control[2..]),
                (DECODE, &dynamic),
                (CANCEL, &[]),
                (BYTES | 1, &encoder[..4]),
                (BYTES | 1, &encoder[4..]),
                (FIN, &[]),
            ],
        ),
        // Client: the server's control stream, GOAWAY, a push stream (H3_ID_ERROR).
        story(
            1,
            &[
                (BYTES, &cat(&[&control, &h3_frame(0x7, &[0x04])])),
                (DECODE, &qpack_section(&[25], &[("content-length", "2")])),
                (BYTES | 1, &[0x01, 0x00]),
            ],
        ),
        // Too many untyped streams; a reset decoder stream.
        story(
            8,
            &[
                (BYTES, &[]),
                (BYTES | 1, &[]),
                (BYTES | 2, &[0x03]),
                (RESET | 2, &[]),
                (BYTES | 3, &[0x40]),
            ],
        ),
    ]
}

fn h3_request_seeds() -> Vec<Vec<u8>> {
    // Static indices: 17 :method GET, 20 :method POST, 1 :path /, 23 :scheme https,
    // 25 :status 200, 24 :status 103, 4 content-length 0.
    let get = qpack_section(&[17, 1, 23], &[(":authority", "example.com")]);
    let post = qpack_section(
        &[20, 1, 23],
        &[(":authority", "a"), ("content-length", "5")],
    );
    let trailers = qpack_section(&[], &[("x-checksum", "abc")]);
    let interim = qpack_section(&[24], &[]);
    let ok = qpack_section(&[25], &[("content-length", "2")]);
    vec![
        cat(&[&[0, 0], &h3_frame(0x1, &get)]),
        cat(&[
            &[0, 2, 3, 1],
            &h3_frame(0x1, &post),
            &h3_frame(0x0, b"hel"),
            &h3_frame(0x0, b"lo"),
            &h3_frame(0x1, &trailers),
        ]),
        cat(&[
            &[1, 0],
            &h3_frame(0x1, &interim),
            &h3_frame(0x1, &ok),
            &h3_frame(0x0, b"ok"),
        ]),
        cat(&[
            &[0x13, 0],
            &h3_frame(0x5, &cat(&[&[0x01], &get])),
            &h3_frame(0x1, &ok),
        ]),
    ]
}

/// `[config][n][splits][wire]` for `ws_frames`: masked client frames for a server
/// (config bit 0 clear) and unmasked server frames for a client, with fragments,
/// interleaved control frames, a close, and one compressed message (config bit 1).
fn ws_frame_seeds() -> Vec<Vec<u8>> {
    fn frame(first: u8, mask: bool, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![first, payload.len() as u8 | if mask { 0x80 } else { 0 }];
        if mask {
            f.extend_from_slice(&[0, 0, 0, 0]); // the zero key leaves the payload as is
        }
        f.extend_from_slice(payload);
        f
    }
    let mut seeds = Vec::new();
    for (role, mask) in [(0u8, true), (1, false)] {
        let wire = cat(&[
            &frame(0x81, mask, b"Hello"),
            &frame(0x01, mask, b"frag"),
            &frame(0x89, mask, b"ping"),
            &frame(0x80, mask, "ment κόσμε".as_bytes()),
            &frame(0x82, mask, &[0, 1, 2, 255]),
            &frame(0x8a, mask, b""),
            &frame(0x88, mask, &[0x03, 0xe8, b'b', b'y', b'e']),
        ]);
        seeds.push(cat(&[&[role | 4, 0], &wire]));
        seeds.push(cat(&[&[role | 4, 3, 0, 6, 1], &wire]));
        // RFC 7692 §7.2.3.1: "Hello" compressed, RSV1 set.
        let compressed = frame(0xc1, mask, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        seeds.push(cat(&[&[role | 2 | 4, 0], &compressed, &compressed]));
    }
    seeds
}

/// `[config][n][fragment sizes][compressed payload]` for `ws_inflate`: RFC 7692's
/// "Hello" examples (§7.2.3.1, with a stored block §7.2.3.3) and runs of zeros.
fn ws_inflate_seeds() -> Vec<Vec<u8>> {
    // 100 000 zeros at level 9 (114 bytes): a small bomb for the 256-byte limit.
    let mut bomb = vec![
        0xec, 0xc1, 0x31, 0x01, 0x00, 0x00, 0x00, 0xc2, 0xa0, 0xf5, 0x4f, 0x6d, 0x0d, 0x0f, 0xa0,
    ];
    bomb.resize(111, 0);
    bomb.extend_from_slice(&[0x80, 0x57, 0x03]);
    vec![
        cat(&[&[0x12, 0], &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]]),
        cat(&[
            &[0x93, 2, 2, 0],
            &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
        ]),
        cat(&[
            &[0x01, 0],
            &[
                0x00, 0x05, 0x00, 0xfa, 0xff, b'H', b'e', b'l', b'l', b'o', 0x00,
            ],
        ]),
        cat(&[&[0x00, 0], &bomb]),
        cat(&[&[0x83, 4, 10, 20, 30, 40], &bomb]),
    ]
}
