//! `shockwave get`: fetch a URL like curl, or load-test it with `-n`/`-c`.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use hdrhistogram::Histogram;
use shockwave::arena::Arena;
use shockwave::client::{
    ArenaRequest, Client, NoProxy, Proxy, RedirectPolicy, TlsOptions, Transport,
};
use shockwave_http11 as h11;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Arguments of `shockwave get`.
#[derive(clap::Args, Debug)]
pub struct GetArgs {
    /// The URL (`http://` or `https://`).
    url: String,
    /// Extra request header, `'Name: value'` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Request body (`@file` reads a file); implies POST unless -X is given.
    #[arg(short = 'd', long = "data")]
    data: Option<String>,
    /// Request method.
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    method: Option<String>,
    /// Print the status line and response headers before the body.
    #[arg(short = 'i', long = "include")]
    include: bool,
    /// Ask for a compressed response (Accept-Encoding: gzip, br, zstd, deflate) and
    /// decompress it (like curl's --compressed).
    #[arg(long)]
    compressed: bool,
    /// Follow redirects (up to --max-redirs).
    #[arg(short = 'L', long = "location")]
    follow: bool,
    /// Most redirects followed with -L.
    #[arg(long, default_value_t = 10)]
    max_redirs: usize,
    /// Accept any server certificate (DANGEROUS: for testing only).
    #[arg(short = 'k', long)]
    insecure: bool,
    /// Trust the certificates in this PEM file (in addition to the built-in roots).
    #[arg(long, value_name = "FILE")]
    cacert: Option<std::path::PathBuf>,
    /// Whole-request timeout in seconds.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Load mode: total number of requests.
    #[arg(short = 'n', long = "requests")]
    requests: Option<u64>,
    /// Load mode: concurrent connections.
    #[arg(short = 'c', long = "connections", default_value_t = 1)]
    connections: usize,
    /// Load mode: requests in flight per connection (HTTP/1.1 pipelining).
    #[arg(long, default_value_t = 1)]
    pipeline: usize,
    /// Load mode: worker threads (default: the number of cores, at most -c).
    #[arg(long)]
    threads: Option<usize>,
    /// Use HTTP/3 (QUIC, UDP) for an `https://` URL. In load mode each thread shares one
    /// QUIC connection and -c counts concurrent requests.
    #[arg(long, conflicts_with = "http2")]
    http3: bool,
    /// Use HTTP/2: prior knowledge (h2c) for `http://`, ALPN `h2` for `https://`. In load
    /// mode each thread shares one HTTP/2 connection and -c counts concurrent streams.
    #[arg(long)]
    http2: bool,
    /// Use this proxy (`http://`, `socks5://`, `socks5h://`; `user:pass@` allowed) instead
    /// of the environment's `HTTP_PROXY`/`HTTPS_PROXY`/`ALL_PROXY`.
    #[arg(short = 'x', long = "proxy", value_name = "URL")]
    proxy: Option<String>,
    /// Proxy credentials, `user:password`.
    #[arg(short = 'U', long = "proxy-user", value_name = "USER:PASSWORD")]
    proxy_user: Option<String>,
    /// Hosts that bypass the proxy (comma list as in NO_PROXY; `*` for all); overrides
    /// the environment's NO_PROXY.
    #[arg(long = "noproxy", value_name = "LIST")]
    noproxy: Option<String>,
    /// Connect to this Unix domain socket instead of the URL's host (like curl's
    /// --unix-socket; `http://` URLs, HTTP/1.1 or --http2).
    #[arg(long = "unix-socket", value_name = "PATH")]
    unix_socket: Option<std::path::PathBuf>,
}

/// Runs `shockwave get`.
pub fn run(args: GetArgs) -> anyhow::Result<ExitCode> {
    if args.pipeline == 0 || args.connections == 0 {
        bail!("--pipeline and -c must be at least 1");
    }
    let method = match (&args.method, &args.data) {
        (Some(m), _) => http::Method::from_bytes(m.as_bytes()).context("invalid method")?,
        (None, Some(_)) => http::Method::POST,
        (None, None) => http::Method::GET,
    };
    let body: Vec<u8> = match &args.data {
        None => Vec::new(),
        Some(d) => match d.strip_prefix('@') {
            Some(path) => std::fs::read(path).with_context(|| format!("reading {path}"))?,
            None => d.clone().into_bytes(),
        },
    };
    let mut headers = Vec::new();
    for h in &args.headers {
        let (name, value) = h
            .split_once(':')
            .with_context(|| format!("header {h:?} is not 'Name: value'"))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    if args.data.is_some()
        && !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        headers.push((
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
    }
    if (args.http2 || args.http3) && args.pipeline > 1 {
        bail!("--pipeline is HTTP/1.1 pipelining; HTTP/2 and HTTP/3 multiplex instead (use -c)");
    }
    let client = build_client(&args, args.connections)?;
    match args.requests {
        None => fetch(&args, &client, method, headers, body),
        Some(n) => load(&args, method, headers, body, n),
    }
}

fn build_client(args: &GetArgs, per_host: usize) -> anyhow::Result<Client> {
    let tls = tls_options(args.insecure, args.cacert.as_deref())?;
    let timeout = Duration::try_from_secs_f64(args.timeout).context("invalid --timeout")?;
    let mut b = Client::builder()
        .tls(tls)
        .request_timeout(Some(timeout))
        .max_connections_per_host(per_host)
        .max_idle_per_host(per_host)
        .decompress(args.compressed);
    if args.http3 {
        b = b.http3();
    } else if args.http2 {
        // One multiplexed connection per client (per load thread).
        b = b.http2_prior_knowledge().http2_max_connections_per_host(1);
    } else if args.requests.is_some() {
        // Load mode without --http2: -c means HTTP/1.1 connections.
        b = b.http2(false);
    }
    if args.follow {
        b = b.redirect(RedirectPolicy::limited(args.max_redirs));
    }
    if args.proxy.is_some() || args.noproxy.is_some() || args.proxy_user.is_some() {
        // Like curl: -x replaces the environment's proxies, --noproxy its NO_PROXY.
        b = b.no_proxy();
        let exempt = match &args.noproxy {
            Some(list) => Some(NoProxy::from_string(list)),
            None => NoProxy::from_env(),
        };
        let mut proxies = match &args.proxy {
            Some(url) => vec![Proxy::all(url)?],
            None => Proxy::from_env(),
        };
        if let Some(user) = &args.proxy_user {
            let (u, p) = user.split_once(':').unwrap_or((user, ""));
            proxies = proxies.into_iter().map(|x| x.basic_auth(u, p)).collect();
        }
        for p in proxies {
            b = b.proxy(p.no_proxy(exempt.clone()));
        }
    }
    if let Some(path) = &args.unix_socket {
        b = b.unix_socket(path);
    }
    Ok(b.build()?)
}

/// The TLS settings of `-k`/`--insecure` and `--cacert FILE` (shared with `ws`).
pub(crate) fn tls_options(
    insecure: bool,
    cacert: Option<&std::path::Path>,
) -> anyhow::Result<TlsOptions> {
    let mut tls = TlsOptions::default().danger_accept_invalid_certs(insecure);
    if let Some(path) = cacert {
        let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        tls = tls.add_root_certificates_pem(&pem)?;
    }
    Ok(tls)
}

/// curl mode: one request, the body to stdout.
fn fetch(
    args: &GetArgs,
    client: &Client,
    method: http::Method,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut req = client.request(method, &args.url).body(body);
        for (n, v) in &headers {
            req = req.header(n.as_str(), v.as_str());
        }
        let mut resp = req.send().await.map_err(with_hint)?;
        let mut out = std::io::stdout().lock();
        if args.include {
            let reason = resp.status().canonical_reason().unwrap_or("");
            let code = resp.status().as_u16();
            // curl's status lines: HTTP/2 has no reason phrase.
            let eol: &[u8] = match resp.version() {
                http::Version::HTTP_2 => {
                    write!(out, "HTTP/2 {code}")?;
                    b"\n"
                }
                http::Version::HTTP_3 => {
                    write!(out, "HTTP/3 {code} {reason}")?;
                    b"\r\n"
                }
                v => {
                    write!(out, "{v:?} {code} {reason}")?;
                    b"\r\n"
                }
            };
            out.write_all(eol)?;
            for (n, v) in resp.headers() {
                out.write_all(n.as_str().as_bytes())?;
                out.write_all(b": ")?;
                out.write_all(v.as_bytes())?;
                out.write_all(eol)?;
            }
            out.write_all(eol)?;
        }
        while let Some(piece) = resp.chunk().await? {
            out.write_all(&piece)?;
        }
        if let (true, Some(trailers)) = (args.include, resp.trailers()) {
            // Trailers after the body, like `curl -i` does for HTTP/1.1 chunked ones.
            for (n, v) in trailers {
                out.write_all(n.as_str().as_bytes())?;
                out.write_all(b": ")?;
                out.write_all(v.as_bytes())?;
                out.write_all(b"\n")?;
            }
        }
        out.flush()?;
        Ok(ExitCode::SUCCESS)
    })
}

/// An error and its causes, each printed once: `a: b: c` (the client's errors do not
/// repeat their source in their `Display`).
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        // An io::Error wrapping another error displays as that error: print it once.
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// A failed request as the CLI reports it: the error with its causes, and for a TLS
/// failure a hint at the flags that change certificate verification.
fn with_hint(e: shockwave::client::Error) -> anyhow::Error {
    if e.is_tls() {
        anyhow::anyhow!(
            "{}\nhint: if the server's certificate is signed by a private CA, trust it with \
             --cacert FILE (PEM); -k (--insecure) skips verification (for testing only)",
            chain(&e)
        )
    } else {
        anyhow::Error::new(e)
    }
}

/// Shared state of a load run.
struct Load {
    url: String,
    method: http::Method,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    total: u64,
    next: AtomicU64,
    done: AtomicU64,
    errors: AtomicU64,
    stop: AtomicBool,
    first_errors: Mutex<Vec<String>>,
    statuses: Mutex<std::collections::BTreeMap<u16, u64>>,
    bytes: AtomicU64,
}

impl Load {
    /// Claims up to `n` of the remaining requests; returns how many were claimed.
    fn claim(&self, n: u64) -> u64 {
        let start = self.next.fetch_add(n, Ordering::Relaxed);
        self.total.saturating_sub(start).min(n)
    }

    fn error(&self, e: impl std::fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.done.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_errors.lock().unwrap_or_else(|e| e.into_inner());
        if first.len() < 5 {
            first.push(e.to_string());
        }
    }
}

fn load(
    args: &GetArgs,
    method: http::Method,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    total: u64,
) -> anyhow::Result<ExitCode> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = args.threads.unwrap_or(cores).clamp(1, args.connections);
    let state = Arc::new(Load {
        url: args.url.clone(),
        method,
        headers,
        body,
        total,
        next: AtomicU64::new(0),
        done: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        first_errors: Mutex::new(Vec::new()),
        statuses: Mutex::new(Default::default()),
        bytes: AtomicU64::new(0),
    });
    let bar = if std::io::stderr().is_terminal() && total >= 1000 {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} requests  {per_sec}  eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let started = Instant::now();
    let mut workers = Vec::new();
    for t in 0..threads {
        // Spread connections over threads as evenly as possible.
        let conns = args.connections / threads + usize::from(t < args.connections % threads);
        let client = build_client(args, conns.max(1))?;
        let state = state.clone();
        let pipeline = args.pipeline;
        workers.push(std::thread::spawn(move || {
            worker(state, client, conns, pipeline)
        }));
    }
    while state.done.load(Ordering::Relaxed) < total && workers.iter().any(|w| !w.is_finished()) {
        bar.set_position(state.done.load(Ordering::Relaxed));
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut hist = new_histogram();
    for w in workers {
        match w.join() {
            Ok(Ok(h)) => hist.add(&h).context("merging histograms")?,
            Ok(Err(e)) => state.error(e),
            Err(_) => bail!("a load worker panicked"),
        }
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    report(args, &state, &hist, elapsed, threads);
    Ok(if state.errors.load(Ordering::Relaxed) == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub(crate) fn new_histogram() -> Histogram<u64> {
    // Microseconds, 1 µs .. 10 min, 3 significant figures.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

fn report(args: &GetArgs, s: &Load, h: &Histogram<u64>, elapsed: Duration, threads: usize) {
    let ok = h.len();
    let errors = s.errors.load(Ordering::Relaxed);
    let secs = elapsed.as_secs_f64().max(1e-9);
    let ms = |us: u64| us as f64 / 1000.0;
    println!("URL:          {} {}", s.method, s.url);
    println!(
        "Load:         {} requests, {} connections, pipeline {}, {} threads",
        s.total, args.connections, args.pipeline, threads
    );
    println!("Completed:    {ok} ok, {errors} errors in {secs:.3} s");
    println!("Throughput:   {:.0} req/s", ok as f64 / secs);
    println!(
        "Latency:      p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
        ms(h.value_at_quantile(0.50)),
        ms(h.value_at_quantile(0.90)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    );
    println!(
        "Body bytes:   {} ({:.1} MiB/s)",
        s.bytes.load(Ordering::Relaxed),
        s.bytes.load(Ordering::Relaxed) as f64 / secs / (1024.0 * 1024.0)
    );
    let statuses = s.statuses.lock().unwrap_or_else(|e| e.into_inner());
    let codes: Vec<String> = statuses.iter().map(|(c, n)| format!("{c}: {n}")).collect();
    println!("Status codes: {}", codes.join(", "));
    for e in s
        .first_errors
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
    {
        println!("Error:        {e}");
    }
}

/// One load thread: a current-thread runtime running `conns` connection tasks.
fn worker(
    state: Arc<Load>,
    client: Client,
    conns: usize,
    pipeline: usize,
) -> anyhow::Result<Histogram<u64>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let hist = Arc::new(Mutex::new(new_histogram()));
    local.block_on(&rt, async {
        let mut tasks = Vec::new();
        for _ in 0..conns {
            let (state, client, hist) = (state.clone(), client.clone(), hist.clone());
            tasks.push(tokio::task::spawn_local(async move {
                let mut local_hist = new_histogram();
                if pipeline > 1 {
                    pipelined(&state, &client, pipeline, &mut local_hist).await;
                } else {
                    sequential(&state, &client, &mut local_hist).await;
                }
                let mut h = hist.lock().unwrap_or_else(|e| e.into_inner());
                let _ = h.add(&local_hist);
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    let h = hist.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok(h)
}

/// One request at a time on a pooled connection, through the arena API.
async fn sequential(state: &Load, client: &Client, hist: &mut Histogram<u64>) {
    let pairs: Vec<(&[u8], &[u8])> = state
        .headers
        .iter()
        .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
        .collect();
    let mut arena = Arena::with_capacity(64 * 1024);
    let mut statuses: std::collections::BTreeMap<u16, u64> = Default::default();
    while !state.stop.load(Ordering::Relaxed) && state.claim(1) == 1 {
        let req = ArenaRequest::get(&state.url)
            .method(state.method.clone())
            .headers(&pairs)
            .body(&state.body);
        let t0 = Instant::now();
        match client.send_in(&arena, req).await {
            Ok(resp) => {
                let _ = hist.record((t0.elapsed().as_micros() as u64).max(1));
                *statuses.entry(resp.status().as_u16()).or_default() += 1;
                state
                    .bytes
                    .fetch_add(resp.body().len() as u64, Ordering::Relaxed);
                state.done.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => state.error(chain(&e)),
        }
        arena.reset();
    }
    merge_statuses(state, statuses);
}

fn merge_statuses(state: &Load, statuses: std::collections::BTreeMap<u16, u64>) {
    let mut all = state.statuses.lock().unwrap_or_else(|e| e.into_inner());
    for (c, n) in statuses {
        *all.entry(c).or_default() += n;
    }
}

/// HTTP/1.1 pipelining: write `depth` requests at once, then read their responses in
/// order. On an error the connection is replaced.
async fn pipelined(state: &Load, client: &Client, depth: usize, hist: &mut Histogram<u64>) {
    let Ok(target) = shockwave::client::Target::parse(&state.url) else {
        state.error("invalid URL");
        state.stop.store(true, Ordering::Relaxed);
        return;
    };
    let pairs: Vec<(&[u8], &[u8])> = state
        .headers
        .iter()
        .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
        .collect();
    let mut one = Vec::new();
    h11::RequestHead {
        method: &state.method,
        target: target.path_and_query,
        host: target.authority,
        headers: &pairs,
        body: if state.body.is_empty() {
            h11::BodyLength::None
        } else {
            h11::BodyLength::Known(state.body.len() as u64)
        },
        keep_alive: true,
    }
    .write_to(&mut one);
    one.extend_from_slice(&state.body);
    let mut statuses: std::collections::BTreeMap<u16, u64> = Default::default();
    let mut conn: Option<Transport> = None;
    let mut rbuf = vec![0u8; 64 * 1024];
    let (mut start, mut end) = (0usize, 0usize);
    let mut heap = h11::HeapHeaders::new();
    let limits = h11::Limits::default();
    let mut batch = Vec::with_capacity(one.len() * depth);
    loop {
        if state.stop.load(Ordering::Relaxed) {
            break;
        }
        let n = state.claim(depth as u64) as usize;
        if n == 0 {
            break;
        }
        let io = match conn.as_mut() {
            Some(io) => io,
            None => match client.connect(&state.url).await {
                Ok(io) => {
                    start = 0;
                    end = 0;
                    conn.insert(io)
                }
                Err(e) => {
                    let e = chain(&e);
                    for _ in 0..n {
                        state.error(&e);
                    }
                    continue;
                }
            },
        };
        batch.clear();
        for _ in 0..n {
            batch.extend_from_slice(&one);
        }
        let t0 = Instant::now();
        let mut completed = 0usize;
        let mut close = false;
        let result: Result<(), String> = async {
            io.write_all(&batch).await.map_err(|e| e.to_string())?;
            io.flush().await.map_err(|e| e.to_string())?;
            for _ in 0..n {
                // Head.
                let (status, framing, keep_alive, head_len) = loop {
                    match h11::parse_response_heap(&rbuf[start..end], &mut heap, &limits) {
                        Ok(h11::Status::Complete((r, len))) => {
                            break (r.status(), r.framing(&state.method), r.keep_alive(), len)
                        }
                        Ok(h11::Status::Partial) => {}
                        Err(e) => return Err(format!("malformed response: {e}")),
                    }
                    if end == rbuf.len() {
                        if start == 0 {
                            return Err("response head too large".into());
                        }
                        rbuf.copy_within(start..end, 0);
                        end -= start;
                        start = 0;
                    }
                    let got = io.read(&mut rbuf[end..]).await.map_err(|e| e.to_string())?;
                    if got == 0 {
                        return Err("server closed the connection".into());
                    }
                    end += got;
                };
                start += head_len;
                // Body.
                let mut dec = h11::BodyDecoder::new(framing, &limits);
                let mut body_len = 0u64;
                while !dec.is_done() {
                    let step = dec.decode(&rbuf[start..end]).map_err(|e| e.to_string())?;
                    body_len += step.data.len() as u64;
                    start += step.consumed;
                    if step.done {
                        break;
                    }
                    if step.consumed == 0 {
                        if start == end {
                            start = 0;
                            end = 0;
                        } else if end == rbuf.len() {
                            rbuf.copy_within(start..end, 0);
                            end -= start;
                            start = 0;
                        }
                        let got = io.read(&mut rbuf[end..]).await.map_err(|e| e.to_string())?;
                        if got == 0 {
                            dec.finish_at_eof().map_err(|e| e.to_string())?;
                            break;
                        }
                        end += got;
                    }
                }
                let _ = hist.record((t0.elapsed().as_micros() as u64).max(1));
                *statuses.entry(status.as_u16()).or_default() += 1;
                state.bytes.fetch_add(body_len, Ordering::Relaxed);
                state.done.fetch_add(1, Ordering::Relaxed);
                completed += 1;
                if !keep_alive {
                    close = true;
                    if completed < n {
                        return Err("server closed the connection (Connection: close) \
                                    with pipelined requests pending"
                            .into());
                    }
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            // Every request of the batch without a response failed with this error.
            for _ in completed..n.max(completed + 1) {
                state.error(&e);
            }
            close = true;
        }
        if close {
            conn = None;
        }
    }
    merge_statuses(state, statuses);
}
