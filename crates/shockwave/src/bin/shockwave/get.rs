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

/// `println!` that ignores a closed stdout (`shockwave get -n 1000 URL | head`).
macro_rules! say {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// Arguments of `shockwave get`.
#[derive(clap::Args, Debug)]
pub struct GetArgs {
    /// The URL (`http://` or `https://`; `http://` when it names no scheme).
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
    /// Load mode: concurrent connections (HTTP/1.1), or concurrent streams with --http2
    /// and --http3.
    #[arg(short = 'c', long = "connections", value_name = "N")]
    connections: Option<usize>,
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
    /// Write the body to FILE instead of stdout.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        conflicts_with = "remote_name"
    )]
    output: Option<std::path::PathBuf>,
    /// Write the body to a file named like the URL path's last segment (in the current
    /// directory).
    #[arg(short = 'O', long = "remote-name")]
    remote_name: bool,
    /// Silent: no error messages, no progress bar (the exit code still tells).
    #[arg(short = 's', long)]
    silent: bool,
    /// Verbose: the request head (`> `) and the response head (`< `) on stderr.
    #[arg(short = 'v', long)]
    verbose: bool,
    /// HEAD request; print the response head.
    #[arg(short = 'I', long = "head")]
    head: bool,
    /// Fail on HTTP errors (status 400 and above): no body, exit code 22 like curl. In
    /// load mode: exit code 22 when any response had such a status.
    #[arg(short = 'f', long)]
    fail: bool,
    /// TCP connect plus TLS handshake deadline in seconds.
    #[arg(long, value_name = "SECS")]
    connect_timeout: Option<f64>,
    /// Basic authentication, `user:password` (RFC 7617).
    #[arg(short = 'u', long = "user", value_name = "USER:PASSWORD")]
    user: Option<String>,
    /// Multipart form field (RFC 7578), `name=value` or `name=@file` (repeatable); implies
    /// POST.
    #[arg(
        short = 'F',
        long = "form",
        value_name = "NAME=VALUE",
        conflicts_with = "data"
    )]
    form: Vec<String>,
    /// The `User-Agent` (default `shockwave/<version>`).
    #[arg(short = 'A', long = "user-agent", value_name = "NAME")]
    user_agent: Option<String>,
    /// Load mode: run for SECS seconds instead of -n requests.
    #[arg(long, value_name = "SECS", conflicts_with = "requests")]
    duration: Option<f64>,
    /// Load mode: print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
}

impl GetArgs {
    fn is_load(&self) -> bool {
        self.requests.is_some() || self.duration.is_some()
    }

    fn connections(&self) -> usize {
        self.connections.unwrap_or(1)
    }

    /// Flags that would be ignored are refused, each with what to do instead.
    fn check(&self) -> anyhow::Result<()> {
        if self.pipeline == 0 || self.connections == Some(0) {
            bail!("--pipeline and -c must be at least 1");
        }
        if self.http3 && self.url.starts_with("http://") {
            bail!("--http3 needs an https:// URL (QUIC always runs TLS)");
        }
        if self.is_load() {
            let ignored = [
                (self.include, "-i (--include)"),
                (self.head, "-I (--head)"),
                (self.output.is_some(), "-o (--output)"),
                (self.remote_name, "-O (--remote-name)"),
                (self.verbose, "-v (--verbose)"),
                (self.follow, "-L (--location)"),
            ];
            if let Some((_, flag)) = ignored.iter().find(|(set, _)| *set) {
                bail!("{flag} is not supported in load mode (-n/--duration): it prints no bodies or heads");
            }
            if matches!(self.duration, Some(d) if !(d > 0.0 && d.is_finite())) {
                bail!("--duration must be a positive number of seconds");
            }
        } else {
            let ignored = [
                (self.connections.is_some(), "-c (--connections)"),
                (self.pipeline != 1, "--pipeline"),
                (self.threads.is_some(), "--threads"),
                (self.json, "--json"),
            ];
            if let Some((_, flag)) = ignored.iter().find(|(set, _)| *set) {
                bail!("{flag} only applies to load mode: add -n REQUESTS or --duration SECS");
            }
        }
        if self.head && (self.data.is_some() || !self.form.is_empty()) {
            bail!("-I (HEAD) sends no body: drop -d/-F");
        }
        Ok(())
    }
}

/// The URL with `http://` prepended when it names no scheme (`localhost:8080/x`).
fn with_scheme(url: &str) -> String {
    if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    }
}

/// A `multipart/form-data` body (RFC 7578) from `-F name=value` / `name=@file` fields;
/// returns the body and its boundary.
fn multipart(fields: &[String]) -> anyhow::Result<(Vec<u8>, String)> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let boundary = format!(
        "------------------------shockwave{:016x}{:08x}",
        nanos as u64,
        std::process::id()
    );
    let mut body = Vec::new();
    for f in fields {
        let (name, value) = f
            .split_once('=')
            .with_context(|| format!("-F {f:?} is not name=value or name=@file"))?;
        if name.contains(['"', '\r', '\n']) {
            bail!("-F field name {name:?} contains a quote or a line break");
        }
        write!(body, "--{boundary}\r\n")?;
        match value.strip_prefix('@') {
            Some(path) => {
                let data = std::fs::read(path).with_context(|| format!("reading {path}"))?;
                let file = std::path::Path::new(path)
                    .file_name()
                    .map(|n| n.to_string_lossy().replace(['"', '\r', '\n'], "_"))
                    .unwrap_or_default();
                write!(
                    body,
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )?;
                body.extend_from_slice(&data);
            }
            None => {
                write!(
                    body,
                    "Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}"
                )?;
            }
        }
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{boundary}--\r\n")?;
    Ok((body, boundary))
}

/// `Basic base64(user:password)` (RFC 7617 §2).
fn basic_auth_value(user_pass: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user_pass)
    )
}

/// The file name `-O` writes: the URL path's last segment.
fn remote_file_name(url: &str) -> anyhow::Result<std::path::PathBuf> {
    let parsed = url::Url::parse(url).with_context(|| format!("invalid URL {url:?}"))?;
    let name = parsed
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("");
    if name.is_empty() || name == "." || name == ".." {
        bail!(
            "-O: the URL path {:?} names no file; use -o FILE",
            parsed.path()
        );
    }
    Ok(std::path::PathBuf::from(name))
}

/// Runs `shockwave get`.
pub fn run(mut args: GetArgs) -> anyhow::Result<ExitCode> {
    args.url = with_scheme(&args.url);
    args.check()?;
    let silent = args.silent;
    match run_checked(args) {
        // -s: no message, the exit code tells.
        Err(_) if silent => Ok(ExitCode::FAILURE),
        other => other,
    }
}

fn run_checked(args: GetArgs) -> anyhow::Result<ExitCode> {
    let method = match (&args.method, &args.data) {
        (Some(m), _) => http::Method::from_bytes(m.as_bytes()).context("invalid method")?,
        _ if args.head => http::Method::HEAD,
        (None, Some(_)) => http::Method::POST,
        (None, None) if !args.form.is_empty() => http::Method::POST,
        (None, None) => http::Method::GET,
    };
    let mut form_boundary = None;
    let body: Vec<u8> = match &args.data {
        None if !args.form.is_empty() => {
            let (body, boundary) = multipart(&args.form)?;
            form_boundary = Some(boundary);
            body
        }
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
    if let Some(boundary) = form_boundary {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        headers.push((
            "content-type".into(),
            format!("multipart/form-data; boundary={boundary}"),
        ));
    }
    // curl's defaults, each overridable with -H (and -A for the agent).
    let has = |headers: &[(String, String)], name: &str| {
        headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    if let Some(ua) = &args.user_agent {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case("user-agent"));
        headers.push(("user-agent".into(), ua.clone()));
    } else if !has(&headers, "user-agent") {
        headers.push((
            "user-agent".into(),
            concat!("shockwave/", env!("CARGO_PKG_VERSION")).into(),
        ));
    }
    if !has(&headers, "accept") {
        headers.push(("accept".into(), "*/*".into()));
    }
    if let (Some(user), true) = (&args.user, args.is_load()) {
        // Load mode sends through the arena API: the header RequestBuilder::basic_auth
        // sets in curl mode, made here.
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case("authorization"));
        headers.push(("authorization".into(), basic_auth_value(user)));
    }
    if (args.http2 || args.http3) && args.pipeline > 1 {
        bail!("--pipeline is HTTP/1.1 pipelining; HTTP/2 and HTTP/3 multiplex instead (use -c)");
    }
    let client = build_client(&args, args.connections())?;
    if args.is_load() {
        load(&args, method, headers, body)
    } else {
        fetch(&args, &client, method, headers, body)
    }
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
    } else if args.is_load() {
        // Load mode without --http2: -c means HTTP/1.1 connections.
        b = b.http2(false);
    }
    if args.follow {
        b = b.redirect(RedirectPolicy::limited(args.max_redirs));
    }
    if let Some(secs) = args.connect_timeout {
        b = b.connect_timeout(
            Duration::try_from_secs_f64(secs).context("invalid --connect-timeout")?,
        );
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

/// curl mode: one request, the body to stdout (or -o/-O's file).
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
        if args.verbose {
            verbose_request(args, &method, &headers, body.len());
        }
        let mut req = client.request(method, &args.url).body(body);
        for (n, v) in &headers {
            req = req.header(n.as_str(), v.as_str());
        }
        if let Some(user) = &args.user {
            let (u, p) = user.split_once(':').unwrap_or((user, ""));
            req = req.basic_auth(u, Some(p));
        }
        let mut resp = req.send().await.map_err(with_hint)?;
        if args.verbose {
            let mut err = std::io::stderr().lock();
            write_head(&mut err, &resp, "< ")?;
            err.flush()?;
        }
        if args.fail && resp.status().as_u16() >= 400 {
            // curl -f: no body, exit code 22.
            if !args.silent {
                eprintln!(
                    "shockwave: the requested URL returned error: {}",
                    resp.status().as_u16()
                );
            }
            return Ok(ExitCode::from(22));
        }
        let mut out: Box<dyn Write> = match (&args.output, args.remote_name) {
            (Some(path), _) => Box::new(std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("creating {}", path.display()))?,
            )),
            (None, true) => {
                let path = remote_file_name(&args.url)?;
                Box::new(std::io::BufWriter::new(
                    std::fs::File::create(&path)
                        .with_context(|| format!("creating {}", path.display()))?,
                ))
            }
            (None, false) => Box::new(std::io::stdout().lock()),
        };
        if args.include || args.head {
            write_head(&mut out, &resp, "")?;
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

/// `-v`: the request head as sent, curl's `> ` lines on stderr.
fn verbose_request(
    args: &GetArgs,
    method: &http::Method,
    headers: &[(String, String)],
    body_len: usize,
) {
    let mut err = std::io::stderr().lock();
    let (authority, path) = match url::Url::parse(&args.url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("").to_owned();
            let authority = match u.port() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            };
            let path = match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_owned(),
            };
            (authority, path)
        }
        Err(_) => (String::new(), args.url.clone()),
    };
    let version = if args.http3 {
        "HTTP/3"
    } else if args.http2 {
        "HTTP/2"
    } else {
        "HTTP/1.1"
    };
    let _ = writeln!(err, "> {method} {path} {version}");
    let _ = writeln!(err, "> host: {authority}");
    for (n, v) in headers {
        let _ = writeln!(err, "> {}: {v}", n.to_ascii_lowercase());
    }
    if let Some(user) = &args.user {
        let _ = writeln!(err, "> authorization: {}", basic_auth_value(user));
    }
    if body_len > 0 {
        let _ = writeln!(err, "> content-length: {body_len}");
    }
    let _ = writeln!(err, ">");
}

/// The status line and header fields, each line after `prefix` (curl's `-i` with an
/// empty prefix, `-v`'s `< `).
fn write_head(
    out: &mut dyn Write,
    resp: &shockwave::client::Response,
    prefix: &str,
) -> std::io::Result<()> {
    let reason = resp.status().canonical_reason().unwrap_or("");
    let code = resp.status().as_u16();
    // curl's status lines: HTTP/2 has no reason phrase; -v lines end with \n.
    let crlf: &[u8] = if prefix.is_empty() { b"\r\n" } else { b"\n" };
    let eol: &[u8] = match resp.version() {
        http::Version::HTTP_2 => {
            write!(out, "{prefix}HTTP/2 {code}")?;
            b"\n"
        }
        http::Version::HTTP_3 => {
            write!(out, "{prefix}HTTP/3 {code} {reason}")?;
            crlf
        }
        v => {
            write!(out, "{prefix}{v:?} {code} {reason}")?;
            crlf
        }
    };
    out.write_all(eol)?;
    for (n, v) in resp.headers() {
        out.write_all(prefix.as_bytes())?;
        out.write_all(n.as_str().as_bytes())?;
        out.write_all(b": ")?;
        out.write_all(v.as_bytes())?;
        out.write_all(eol)?;
    }
    out.write_all(prefix.trim_end().as_bytes())?;
    out.write_all(eol)
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
    /// Requests to send (`u64::MAX` with `--duration`).
    total: u64,
    /// No request starts after this instant (`--duration`).
    deadline: Option<Instant>,
    started: Instant,
    /// When the last request ended, in nanoseconds after `started`: the run's elapsed
    /// time (not when the main thread noticed).
    last_end: AtomicU64,
    next: AtomicU64,
    done: AtomicU64,
    errors: AtomicU64,
    stop: AtomicBool,
    /// Errors grouped by (kind, message), with counts.
    error_groups: Mutex<std::collections::BTreeMap<(String, String), u64>>,
    statuses: Mutex<std::collections::BTreeMap<u16, u64>>,
    bytes: AtomicU64,
}

impl Load {
    /// Claims up to `n` of the remaining requests; returns how many were claimed.
    fn claim(&self, n: u64) -> u64 {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return 0;
        }
        let start = self.next.fetch_add(n, Ordering::Relaxed);
        self.total.saturating_sub(start).min(n)
    }

    /// Marks one request ended now.
    fn ended(&self) {
        let at = self.started.elapsed().as_nanos() as u64;
        self.last_end.fetch_max(at, Ordering::Relaxed);
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    fn error(&self, kind: &str, e: impl std::fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.ended();
        let mut groups = self.error_groups.lock().unwrap_or_else(|e| e.into_inner());
        *groups.entry((kind.to_owned(), e.to_string())).or_default() += 1;
    }

    fn client_error(&self, e: &shockwave::client::Error) {
        let kind = match e.kind() {
            shockwave::client::ErrorKind::Timeout(_) => "timeout".to_owned(),
            k => format!("{k:?}").to_ascii_lowercase(),
        };
        self.error(&kind, chain(e));
    }
}

fn load(
    args: &GetArgs,
    method: http::Method,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> anyhow::Result<ExitCode> {
    let connections = args.connections();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = args.threads.unwrap_or(cores).clamp(1, connections);
    let total = args.requests.unwrap_or(u64::MAX);
    // One client per thread, connections spread as evenly as possible; built before the
    // clock starts (loading TLS roots is not part of the run).
    let mut clients = Vec::new();
    for t in 0..threads {
        let conns = connections / threads + usize::from(t < connections % threads);
        clients.push((build_client(args, conns.max(1))?, conns));
    }
    let started = Instant::now();
    let deadline = match args.duration {
        Some(secs) => {
            Some(started + Duration::try_from_secs_f64(secs).context("invalid --duration")?)
        }
        None => None,
    };
    let state = Arc::new(Load {
        url: args.url.clone(),
        method,
        headers,
        body,
        total,
        deadline,
        started,
        last_end: AtomicU64::new(0),
        next: AtomicU64::new(0),
        done: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        error_groups: Mutex::new(Default::default()),
        statuses: Mutex::new(Default::default()),
        bytes: AtomicU64::new(0),
    });
    let show_bar = std::io::stderr().is_terminal() && !args.silent && !args.json;
    let bar = if show_bar && args.requests.is_some_and(|n| n >= 1000) {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} requests  {per_sec}  eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    } else if show_bar && deadline.is_some() {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {pos} requests  {per_sec}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut workers = Vec::new();
    for (client, conns) in clients {
        let state = state.clone();
        let pipeline = args.pipeline;
        workers.push(std::thread::spawn(move || {
            worker(state, client, conns, pipeline)
        }));
    }
    // The progress bar only: the elapsed time is when the last request ended.
    while workers.iter().any(|w| !w.is_finished()) {
        bar.set_position(state.done.load(Ordering::Relaxed));
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut hist = new_histogram();
    for w in workers {
        match w.join() {
            Ok(Ok(h)) => hist.add(&h).context("merging histograms")?,
            Ok(Err(e)) => state.error("other", e),
            Err(_) => bail!("a load worker panicked"),
        }
    }
    let elapsed = Duration::from_nanos(state.last_end.load(Ordering::Relaxed));
    bar.finish_and_clear();
    let summary = Summary::new(args, &state, &hist, elapsed, threads);
    if args.json {
        say!("{}", summary.json(&hist));
    } else {
        summary.print(&hist);
    }
    Ok(if state.errors.load(Ordering::Relaxed) > 0 {
        ExitCode::FAILURE
    } else if args.fail && summary.statuses.keys().any(|&c| c >= 400) {
        ExitCode::from(22)
    } else {
        ExitCode::SUCCESS
    })
}

pub(crate) fn new_histogram() -> Histogram<u64> {
    // Microseconds, 1 µs .. 10 min, 3 significant figures.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// The figures of a load run, printed as text or JSON.
struct Summary {
    url: String,
    method: String,
    /// Requests that ended: responses plus errors.
    requests: u64,
    /// Responses with a 2xx status.
    ok: u64,
    /// Responses with another status.
    not_ok: u64,
    errors: u64,
    error_groups: Vec<(String, String, u64)>,
    statuses: std::collections::BTreeMap<u16, u64>,
    elapsed: Duration,
    bytes: u64,
    load_line: String,
}

impl Summary {
    fn new(
        args: &GetArgs,
        s: &Load,
        h: &Histogram<u64>,
        elapsed: Duration,
        threads: usize,
    ) -> Self {
        let statuses = s.statuses.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let ok: u64 = statuses
            .iter()
            .filter(|(c, _)| (200..300).contains(*c))
            .map(|(_, n)| n)
            .sum();
        let errors = s.errors.load(Ordering::Relaxed);
        let error_groups = s
            .error_groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|((k, m), n)| (k.clone(), m.clone(), *n))
            .collect();
        let what = match args.requests {
            Some(n) => format!("{n} requests"),
            None => format!("{} s", args.duration.unwrap_or_default()),
        };
        let c = args.connections();
        let load_line = if args.http2 || args.http3 {
            // One multiplexed connection per thread: -c counts streams.
            let proto = if args.http3 { "HTTP/3" } else { "HTTP/2" };
            let conns = threads.min(c);
            format!(
                "{what}, {c} concurrent streams over {conns} {proto} connection{}, {threads} threads",
                if conns == 1 { "" } else { "s" }
            )
        } else {
            format!(
                "{what}, {c} connections, pipeline {}, {threads} threads",
                args.pipeline
            )
        };
        Summary {
            url: s.url.clone(),
            method: s.method.to_string(),
            requests: h.len() + errors,
            ok,
            not_ok: h.len().saturating_sub(ok),
            errors,
            error_groups,
            statuses,
            elapsed,
            bytes: s.bytes.load(Ordering::Relaxed),
            load_line,
        }
    }

    fn secs(&self) -> f64 {
        self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Responses (any status) per second.
    fn rate(&self) -> f64 {
        (self.ok + self.not_ok) as f64 / self.secs()
    }

    fn print(&self, h: &Histogram<u64>) {
        let secs = self.secs();
        let ms = |us: u64| us as f64 / 1000.0;
        say!("URL:          {} {}", self.method, self.url);
        say!("Load:         {}", self.load_line);
        say!(
            "Completed:    {} ok, {} errors in {secs:.3} s",
            self.ok,
            self.errors
        );
        if self.not_ok > 0 {
            let codes: Vec<String> = self
                .statuses
                .iter()
                .filter(|(c, _)| !(200..300).contains(*c))
                .map(|(c, n)| format!("{c}: {n}"))
                .collect();
            say!(
                "Not ok:       {} non-2xx responses ({})",
                self.not_ok,
                codes.join(", ")
            );
        }
        say!("Throughput:   {:.0} req/s", self.rate());
        say!(
            "Latency:      p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
            ms(h.value_at_quantile(0.50)),
            ms(h.value_at_quantile(0.90)),
            ms(h.value_at_quantile(0.99)),
            ms(h.max())
        );
        say!(
            "Body bytes:   {} ({:.1} MiB/s)",
            self.bytes,
            self.bytes as f64 / secs / (1024.0 * 1024.0)
        );
        let codes: Vec<String> = self
            .statuses
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect();
        say!("Status codes: {}", codes.join(", "));
        for (kind, message, n) in &self.error_groups {
            say!("Error:        {n} x [{kind}] {message}");
        }
        if !h.is_empty() {
            say!();
            say!("Latency histogram:");
            for line in histogram_lines(h) {
                say!("  {line}");
            }
        }
    }

    fn json(&self, h: &Histogram<u64>) -> serde_json::Value {
        let ms = |us: u64| us as f64 / 1000.0;
        let mut by_kind = serde_json::Map::new();
        for (kind, _, n) in &self.error_groups {
            let slot = by_kind.entry(kind.clone()).or_insert(serde_json::json!(0));
            *slot = serde_json::json!(slot.as_u64().unwrap_or(0) + n);
        }
        let messages: Vec<_> = self
            .error_groups
            .iter()
            .map(|(kind, message, n)| serde_json::json!({"kind": kind, "message": message, "count": n}))
            .collect();
        let statuses: serde_json::Map<String, serde_json::Value> = self
            .statuses
            .iter()
            .map(|(c, n)| (c.to_string(), serde_json::json!(n)))
            .collect();
        let latency = if h.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::json!({
                "p50": ms(h.value_at_quantile(0.50)),
                "p90": ms(h.value_at_quantile(0.90)),
                "p99": ms(h.value_at_quantile(0.99)),
                "max": ms(h.max()),
                "mean": h.mean() / 1000.0,
            })
        };
        serde_json::json!({
            "url": self.url,
            "method": self.method,
            "requests": self.requests,
            "ok": self.ok,
            "non_2xx": self.not_ok,
            "errors": {"total": self.errors, "by_kind": by_kind, "messages": messages},
            "statuses": statuses,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "req_per_s": self.rate(),
            "latency_ms": latency,
            "bytes": self.bytes,
        })
    }
}

/// oha-style latency buckets: ten equal ranges from the fastest to the slowest
/// response, each with its count and a bar.
fn histogram_lines(h: &Histogram<u64>) -> Vec<String> {
    const BUCKETS: u64 = 10;
    const WIDTH: u64 = 32;
    let (lo, hi) = (h.min(), h.max());
    let step = ((hi - lo) / BUCKETS).max(1);
    let mut counts = [0u64; BUCKETS as usize];
    for v in h.iter_recorded() {
        let i = ((v.value_iterated_to().saturating_sub(lo)) / step).min(BUCKETS - 1);
        counts[i as usize] += v.count_at_value();
    }
    let most = counts.iter().copied().max().unwrap_or(1).max(1);
    counts
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let upper = if i as u64 == BUCKETS - 1 {
                hi
            } else {
                lo + step * (i as u64 + 1)
            };
            let bar = "■".repeat((n * WIDTH).div_ceil(most) as usize);
            format!("{:>10.3} ms [{n:>8}] |{bar}", upper as f64 / 1000.0)
        })
        .collect()
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
                state.ended();
            }
            Err(e) => state.client_error(&e),
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
        state.error("invalid_request", "invalid URL");
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
                    for _ in 0..n {
                        state.client_error(&e);
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
                state.ended();
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
                state.error("io", &e);
            }
            close = true;
        }
        if close {
            conn = None;
        }
    }
    merge_statuses(state, statuses);
}
