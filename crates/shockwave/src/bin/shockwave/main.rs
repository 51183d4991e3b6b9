//! The `shockwave` command: `serve` runs the server with embedded defaults, `get` is a
//! curl-like client with a load mode, `ws` a WebSocket client with a load mode.

mod get;
mod serve;
mod ws;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Shockwave: an arena-backed HTTP/1.1, HTTP/2 and HTTP/3 server and client.
#[derive(Parser, Debug)]
#[command(name = "shockwave", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size difference between the variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Command {
    /// Serve HTTP with the embedded default routes (/, /json, /echo, /stats, /static/).
    Serve(serve::ServeArgs),
    /// Fetch a URL (like curl), or load-test it with -n/-c.
    Get(get::GetArgs),
    /// Open a WebSocket (like websocat: stdin lines out, messages to stdout), or
    /// load-test an echo endpoint with -n/-c.
    Ws(ws::WsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Get(args) => get::run(args),
        Command::Ws(args) => ws::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("shockwave: {e:#}");
            ExitCode::FAILURE
        }
    }
}
