//! `shockwave serve`: the server with embedded default routes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use shockwave::server::files::StaticFiles;
use shockwave::server::routes::DefaultRoutes;
use shockwave::server::{tls, Alloc, Compression, Handler, Io, RequestContext, Response, Server};

/// `println!` that ignores a closed stdout (a pipe whose reader went away).
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// Arguments of `shockwave serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Plain-text HTTP address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Worker threads (default: the number of cores).
    #[arg(long)]
    workers: Option<usize>,
    /// Allocation strategy for parsed requests.
    #[arg(long, default_value = "arena", value_parser = ["arena", "heap"])]
    alloc: String,
    /// I/O driver of the plain-text TCP listener: epoll, or io_uring (Linux; falls back
    /// to epoll, with a warning, where io_uring is unavailable or SHOCKWAVE_IO_URING=off).
    #[arg(long, default_value = "epoll", value_parser = ["epoll", "uring"])]
    io: String,
    /// HTTPS address (needs --cert and --key, or --self-signed).
    #[arg(long)]
    tls_addr: Option<SocketAddr>,
    /// PEM certificate chain for HTTPS.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Generate a self-signed certificate for localhost (development); HTTPS listens on
    /// --tls-addr (default 127.0.0.1:8443).
    #[arg(long, conflicts_with_all = ["cert", "key"])]
    self_signed: bool,
    /// Serve the files below DIR under /static/.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Compress responses (br, zstd, gzip, deflate as the client's Accept-Encoding
    /// allows; compressible types of at least 860 bytes, streamed bodies included).
    #[arg(long)]
    compress: bool,
    /// Also listen on the Unix domain socket PATH (HTTP/1.1 and h2c; file mode 0660,
    /// removed on exit; a stale file nothing listens on is replaced).
    #[arg(long, value_name = "PATH")]
    unix: Option<PathBuf>,
    /// Write an access log to stderr: one line per request (remote address, method,
    /// target, status, body bytes, handler duration). `RUST_LOG` filters the server's
    /// logs in general (`RUST_LOG=shockwave::access=info` is this log alone).
    #[arg(long)]
    log: bool,
}

/// The tracing target of the access log lines.
const ACCESS_TARGET: &str = "shockwave::access";

/// Installs a stderr subscriber when `--log` or `RUST_LOG` asks for one.
fn init_logging(access_log: bool) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    if !access_log && env.is_none() {
        return Ok(());
    }
    let mut filter = match &env {
        Some(v) => EnvFilter::try_new(v).with_context(|| format!("RUST_LOG={v:?}"))?,
        None => EnvFilter::new("warn"),
    };
    if access_log {
        filter = filter.add_directive(format!("{ACCESS_TARGET}=info").parse()?);
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init()
        .map_err(anyhow::Error::msg)
}

/// Wraps a handler with the access log: one `info` event on the `shockwave::access`
/// target per answered request (free when that target is disabled).
struct AccessLog<H>(H);

impl<H: Handler> Handler for AccessLog<H> {
    async fn call<'a>(&'a self, cx: RequestContext<'a>) -> Response<'a> {
        if !tracing::enabled!(target: ACCESS_TARGET, tracing::Level::INFO) {
            return self.0.call(cx).await;
        }
        let req = cx.request();
        let remote = req
            .remote_addr()
            .map_or_else(|| "-".to_owned(), |a| a.to_string());
        let method = req.method().clone();
        let path = req.target();
        let t0 = std::time::Instant::now();
        let resp = self.0.call(cx).await;
        let micros = t0.elapsed().as_micros() as u64;
        let bytes = resp
            .body_ref()
            .len()
            .map_or_else(|| "-".to_owned(), |n| n.to_string());
        tracing::info!(
            target: ACCESS_TARGET,
            "{remote} \"{method} {path}\" {} {bytes} {}.{:03}ms",
            resp.status().as_u16(),
            micros / 1000,
            micros % 1000
        );
        resp
    }
}

/// A directory for the self-signed certificate's PEM file, removed when dropped (after
/// the server stopped, on SIGINT/SIGTERM too, or on an error return).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!("shockwave-serve-{}", std::process::id()));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `shockwave serve`.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let alloc: Alloc = args.alloc.parse().map_err(anyhow::Error::msg)?;
    init_logging(args.log)?;
    let mut pem_dir = None;
    let io = if args.io == "uring" {
        Io::Uring
    } else {
        Io::Epoll
    };
    let mut builder = Server::builder().bind(args.addr).alloc(alloc).io(io);
    if let Some(w) = args.workers {
        builder = builder.workers(w);
    }
    if let Some(path) = &args.unix {
        builder = builder.bind_unix(path);
    }
    let mut cert_note = None;
    if args.self_signed || args.cert.is_some() {
        let tls_addr = args
            .tls_addr
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8443)));
        let config = if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
            tls::from_pem_files(cert, key)?
        } else {
            let ss = tls::self_signed(&["localhost", "127.0.0.1"])?;
            let dir = pem_dir.insert(TempDir::new()?);
            let path = dir.0.join("self-signed.pem");
            std::fs::write(&path, &ss.cert_pem)
                .with_context(|| format!("writing {}", path.display()))?;
            cert_note = Some(path);
            ss.config
        };
        // HTTP/3 listens on UDP at the TLS address (same server, same handler); the TLS
        // responses advertise it with Alt-Svc.
        builder = builder.bind_tls(tls_addr).bind_h3(tls_addr).tls(config);
    } else if args.tls_addr.is_some() {
        anyhow::bail!("--tls-addr needs --cert and --key, or --self-signed");
    }
    let mut routes = DefaultRoutes::new();
    if let Some(root) = &args.root {
        let files = StaticFiles::new(root).with_context(|| format!("--root {}", root.display()))?;
        routes = routes.with_static(files);
    }
    let slot = routes.stats_slot();
    let server = builder.build();
    let workers = server.config().workers;
    // The access-log wrapper only when its target is on (`--log` or `RUST_LOG`): its
    // larger per-request future costs a copy per request even when it logs nothing
    // (measured with h2load: ~0.2 µs of CPU per h2c request).
    let access_log = tracing::enabled!(target: ACCESS_TARGET, tracing::Level::INFO);
    let started = match (args.compress, access_log) {
        (true, true) => server.start(AccessLog(Compression::new().wrap(routes))),
        (true, false) => server.start(Compression::new().wrap(routes)),
        (false, true) => server.start(AccessLog(routes)),
        (false, false) => server.start(routes),
    };
    let handle = started.with_context(|| format!("cannot listen on {}", args.addr))?;
    // `/stats` counts every protocol (HTTP/1.1, HTTP/2, HTTP/3).
    let _ = slot.set(handle.stats_source());
    let io_name = match handle.io() {
        Io::Uring => "uring",
        _ => "epoll",
    };
    if io == Io::Uring && handle.io() != Io::Uring {
        eprintln!(
            "shockwave: io_uring is unavailable here; serving with epoll \
             (RUST_LOG=warn shows the reason)"
        );
    }
    for a in handle.local_addrs() {
        say!(
            "shockwave: listening on http://{a}/  ({workers} workers, --alloc {}, --io {io_name})",
            args.alloc
        );
    }
    for p in handle.unix_paths() {
        say!(
            "shockwave: listening on unix:{} (curl --unix-socket {} http://localhost/)",
            p.display(),
            p.display()
        );
    }
    for a in handle.tls_local_addrs() {
        say!("shockwave: listening on https://{a}/");
    }
    for a in handle.h3_local_addrs() {
        say!("shockwave: listening on https://{a}/ over HTTP/3 (UDP, advertised with Alt-Svc)");
    }
    if let Some(path) = cert_note {
        say!(
            "shockwave: self-signed certificate for localhost written to {} (curl --cacert {} https://localhost:{}/)",
            path.display(),
            path.display(),
            handle.tls_local_addrs()[0].port()
        );
    }
    if args.root.is_some() {
        say!(
            "shockwave: serving {} under /static/",
            args.root
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
    }
    say!("shockwave: routes: GET / | GET /json | POST /echo | GET /stats | GET /ws (WebSocket echo) | GET /ws.html; Ctrl-C stops");
    handle.shutdown_on_signals()?;
    handle.wait()?;
    drop(pem_dir);
    say!("shockwave: stopped");
    Ok(ExitCode::SUCCESS)
}
