//! `shockwave ws`: a WebSocket client like websocat (stdin lines out as messages, received
//! messages to stdout), or an echo load test with `-n`/`-c`.

use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use hdrhistogram::Histogram;
use shockwave::client::Client;
use shockwave::websocket::{
    CloseCode, CloseFrame, Message, WebSocket, WebSocketConfig, WebSocketError,
};

use crate::get::{chain, new_histogram, tls_options};

/// Arguments of `shockwave ws`.
#[derive(clap::Args, Debug)]
pub struct WsArgs {
    /// The URL (`ws://` or `wss://`; `http://` and `https://` are accepted too).
    url: String,
    /// Accept any server certificate (DANGEROUS: for testing only).
    #[arg(short = 'k', long)]
    insecure: bool,
    /// Trust the certificates in this PEM file (in addition to the built-in roots).
    #[arg(long, value_name = "FILE")]
    cacert: Option<std::path::PathBuf>,
    /// Send each stdin line as a binary message instead of a text message.
    #[arg(long)]
    binary: bool,
    /// Print received binary messages as they are (default: one hex line per message).
    #[arg(long)]
    raw: bool,
    /// Offer a subprotocol (`Sec-WebSocket-Protocol`; repeatable).
    #[arg(long = "protocol", value_name = "NAME")]
    protocols: Vec<String>,
    /// Do not offer permessage-deflate (RFC 7692). Load mode never offers it.
    #[arg(long)]
    no_deflate: bool,
    /// The largest message accepted, in bytes.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    max_message_size: usize,
    /// WebSocket over HTTP/2 (RFC 8441 extended CONNECT): h2c for `ws://` (prior
    /// knowledge), ALPN `h2` for `wss://`. The server must announce
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL. In load mode the sockets are streams of
    /// shared HTTP/2 connections (a new one only when the server's stream limit is
    /// reached).
    #[arg(long)]
    http2: bool,
    /// WebSocket over HTTP/3 (RFC 9220 extended CONNECT on a QUIC stream); `wss://`
    /// only. The server must announce SETTINGS_ENABLE_CONNECT_PROTOCOL. In load mode
    /// the sockets are streams of one QUIC connection.
    #[arg(long, conflicts_with = "http2")]
    http3: bool,
    /// Connect timeout (TCP, TLS and the opening handshake) in seconds.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Load mode: total number of messages (echo round trips).
    #[arg(short = 'n', long = "messages")]
    messages: Option<u64>,
    /// Load mode: concurrent connections.
    #[arg(short = 'c', long = "connections", default_value_t = 1)]
    connections: usize,
    /// Load mode: payload size of each (binary) message in bytes.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Load mode: worker threads (default: the number of cores, at most -c).
    #[arg(long)]
    threads: Option<usize>,
}

/// Runs `shockwave ws`.
pub fn run(args: WsArgs) -> anyhow::Result<ExitCode> {
    if args.connections == 0 {
        bail!("-c must be at least 1");
    }
    if args.http3 && !(args.url.starts_with("wss://") || args.url.starts_with("https://")) {
        bail!("--http3 needs a wss:// URL (QUIC always runs TLS)");
    }
    match args.messages {
        None => interactive(&args),
        Some(n) => load(&args, n),
    }
}

fn build_client(args: &WsArgs) -> anyhow::Result<Client> {
    let timeout = Duration::try_from_secs_f64(args.timeout).context("invalid --timeout")?;
    Ok(Client::builder()
        .tls(tls_options(args.insecure, args.cacert.as_deref())?)
        .connect_timeout(timeout)
        .build()?)
}

fn config(args: &WsArgs, deflate: bool) -> WebSocketConfig {
    let mut config = WebSocketConfig::default();
    config.max_message_size = args.max_message_size.max(args.size);
    config.max_frame_size = config.max_message_size;
    if !deflate {
        config.deflate = None;
    }
    config
}

/// Opens the socket; a TLS failure gets the same hint as `get`.
async fn open(client: &Client, args: &WsArgs, deflate: bool) -> anyhow::Result<WebSocket> {
    let protocols: Vec<&str> = args.protocols.iter().map(String::as_str).collect();
    let version = if args.http3 {
        http::Version::HTTP_3
    } else if args.http2 {
        http::Version::HTTP_2
    } else {
        http::Version::HTTP_11
    };
    match client
        .websocket_request(&args.url)
        .config(config(args, deflate))
        .protocols(protocols)
        .version(version)
        .open()
        .await
    {
        Ok(ws) => Ok(ws),
        Err(e) => {
            let text = chain(&e);
            if text.contains("TLS") {
                bail!(
                    "{text}\nhint: if the server's certificate is signed by a private CA, \
                     trust it with --cacert FILE (PEM); -k (--insecure) skips verification \
                     (for testing only)"
                )
            }
            bail!("{text}")
        }
    }
}

/// websocat mode: stdin lines out, messages to stdout, until the connection closes.
fn interactive(args: &WsArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Stdin is read on a thread of its own (blocking reads); a bounded channel keeps a
    // fast producer from queueing unbounded lines ahead of a slow connection.
    let (tx, mut lines) = tokio::sync::mpsc::channel::<std::io::Result<String>>(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let stop = line.is_err();
            if tx.blocking_send(line).is_err() || stop {
                break;
            }
        }
    });
    rt.block_on(async {
        let client = build_client(args)?;
        let mut ws = open(&client, args, !args.no_deflate).await?;
        let mut stdin_open = true;
        let mut out = std::io::stdout().lock();
        let mut close: Option<Option<CloseFrame>> = None;
        loop {
            // `recv` may be dropped while it waits for bytes (then nothing is lost): a
            // line from stdin interrupts it.
            tokio::select! {
                received = ws.recv() => match received {
                    None => break,
                    Some(Ok(message)) => match message {
                        Message::Text(text) => {
                            out.write_all(text.as_bytes())?;
                            out.write_all(b"\n")?;
                            out.flush()?;
                        }
                        Message::Binary(data) => {
                            if args.raw {
                                out.write_all(&data)?;
                            } else {
                                for b in data.iter() {
                                    write!(out, "{b:02x}")?;
                                }
                                out.write_all(b"\n")?;
                            }
                            out.flush()?;
                        }
                        Message::Ping(_) | Message::Pong(_) => {}
                        Message::Close(frame) => close = Some(frame),
                    },
                    Some(Err(e)) => bail!("{}", chain(&e)),
                },
                line = lines.recv(), if stdin_open => match line {
                    Some(Ok(line)) => {
                        let line = line.strip_suffix('\r').unwrap_or(&line).to_owned();
                        let message = if args.binary {
                            Message::binary(line.into_bytes())
                        } else {
                            Message::text(line)
                        };
                        match ws.send(message).await {
                            Ok(()) => {}
                            // The peer closed meanwhile: its Close comes from `recv`.
                            Err(WebSocketError::Closed) => stdin_open = false,
                            Err(e) => bail!("{}", chain(&e)),
                        }
                    }
                    Some(Err(e)) => bail!("reading stdin: {e}"),
                    None => {
                        // End of input: close normally, then print what is still on
                        // its way until the peer's Close.
                        stdin_open = false;
                        let frame = CloseFrame { code: CloseCode::NORMAL, reason: String::new() };
                        match ws.send(Message::Close(Some(frame))).await {
                            Ok(()) | Err(WebSocketError::Closed) => {}
                            Err(e) => bail!("{}", chain(&e)),
                        }
                    }
                },
            }
        }
        match close {
            Some(Some(frame)) => {
                let code = frame.code.0;
                if frame.reason.is_empty() {
                    eprintln!("closed: {code}");
                } else {
                    eprintln!("closed: {code} {}", frame.reason);
                }
                Ok(if code == 1000 || code == 1001 {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
            Some(None) => {
                eprintln!("closed: {}", CloseCode::NO_STATUS.0);
                Ok(ExitCode::SUCCESS)
            }
            None => {
                eprintln!("closed without a Close frame");
                Ok(ExitCode::FAILURE)
            }
        }
    })
}

/// Shared state of a load run.
struct Load {
    total: u64,
    next: AtomicU64,
    ok: AtomicU64,
    errors: AtomicU64,
    first_errors: Mutex<Vec<String>>,
}

impl Load {
    /// Claims one message; false when all are claimed.
    fn claim(&self) -> bool {
        self.next.fetch_add(1, Ordering::Relaxed) < self.total
    }

    fn error(&self, e: impl std::fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_errors.lock().unwrap_or_else(|e| e.into_inner());
        if first.len() < 5 {
            first.push(e.to_string());
        }
    }
}

/// Load mode: `total` binary messages of `--size` bytes echoed over `-c` connections,
/// one round trip at a time per connection.
fn load(args: &WsArgs, total: u64) -> anyhow::Result<ExitCode> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = args.threads.unwrap_or(cores).clamp(1, args.connections);
    let state = Arc::new(Load {
        total,
        next: AtomicU64::new(0),
        ok: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        first_errors: Mutex::new(Vec::new()),
    });
    let payload = bytes::Bytes::from(
        (0..args.size)
            .map(|i| b"abcdefghijklmnopqrstuvwxyz"[i % 26])
            .collect::<Vec<u8>>(),
    );
    let started = Instant::now();
    let hist = std::thread::scope(|scope| -> anyhow::Result<Histogram<u64>> {
        let mut workers = Vec::new();
        for t in 0..threads {
            let conns = args.connections / threads + usize::from(t < args.connections % threads);
            let (state, payload) = (state.clone(), payload.clone());
            workers.push(scope.spawn(move || worker(args, &state, conns, payload)));
        }
        let mut hist = new_histogram();
        for w in workers {
            match w.join() {
                Ok(Ok(h)) => hist.add(&h).context("merging histograms")?,
                Ok(Err(e)) => state.error(format!("{e:#}")),
                Err(_) => bail!("a load worker panicked"),
            }
        }
        Ok(hist)
    })?;
    let elapsed = started.elapsed();
    let ok = state.ok.load(Ordering::Relaxed);
    let errors = state.errors.load(Ordering::Relaxed);
    let secs = elapsed.as_secs_f64().max(1e-9);
    let ms = |us: u64| us as f64 / 1000.0;
    println!("URL:          {}", args.url);
    println!(
        "Load:         {total} messages of {} bytes, {} connections, {threads} threads",
        args.size, args.connections
    );
    println!("Completed:    {ok} ok, {errors} errors in {secs:.3} s");
    println!(
        "Throughput:   {:.0} msg/s ({:.1} MiB/s each way)",
        ok as f64 / secs,
        (ok as f64 * args.size as f64) / secs / (1024.0 * 1024.0)
    );
    println!(
        "Latency:      p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
        ms(hist.value_at_quantile(0.50)),
        ms(hist.value_at_quantile(0.90)),
        ms(hist.value_at_quantile(0.99)),
        ms(hist.max())
    );
    for e in state
        .first_errors
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
    {
        println!("Error:        {e}");
    }
    Ok(if errors == 0 && ok == total {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One load thread: a current-thread runtime running `conns` connections.
fn worker(
    args: &WsArgs,
    state: &Load,
    conns: usize,
    payload: bytes::Bytes,
) -> anyhow::Result<Histogram<u64>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = build_client(args)?;
    let hist = rt.block_on(async {
        let runs = (0..conns).map(|_| connection(args, state, &client, payload.clone()));
        futures_util::future::join_all(runs).await
    });
    let mut all = new_histogram();
    for h in hist {
        all.add(&h).context("merging histograms")?;
    }
    Ok(all)
}

/// One connection: claim a message, send it, wait for its echo, until all are claimed.
async fn connection(
    args: &WsArgs,
    state: &Load,
    client: &Client,
    payload: bytes::Bytes,
) -> Histogram<u64> {
    let mut hist = new_histogram();
    let mut ws = match open(client, args, false).await {
        Ok(ws) => ws,
        Err(e) => {
            state.error(format!("{e:#}"));
            return hist;
        }
    };
    while state.claim() {
        let t0 = Instant::now();
        if let Err(e) = ws.send(Message::Binary(payload.clone())).await {
            state.error(chain(&e));
            return hist;
        }
        let echo = loop {
            match ws.recv().await {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => break other,
            }
        };
        match echo {
            Some(Ok(Message::Binary(data))) if data.len() == payload.len() => {
                let _ = hist.record((t0.elapsed().as_micros() as u64).max(1));
                state.ok.fetch_add(1, Ordering::Relaxed);
            }
            Some(Ok(Message::Close(frame))) => {
                let code = frame.map_or(CloseCode::NO_STATUS.0, |f| f.code.0);
                state.error(format!("the server closed the connection ({code})"));
                return hist;
            }
            Some(Ok(other)) => {
                state.error(format!(
                    "unexpected echo: {} bytes instead of {}",
                    other.as_bytes().len(),
                    payload.len()
                ));
            }
            Some(Err(e)) => {
                state.error(chain(&e));
                return hist;
            }
            None => {
                state.error("the connection closed");
                return hist;
            }
        }
    }
    if let Err(e) = ws.close(CloseCode::NORMAL, "").await {
        state.error(format!("closing: {}", chain(&e)));
    }
    hist
}
