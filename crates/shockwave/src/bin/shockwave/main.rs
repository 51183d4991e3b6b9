//! The `shockwave` command: `serve` runs the server with embedded defaults, `get` is a
//! curl-like client with a load mode.

mod get;
mod serve;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Get(args) => get::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("shockwave: {e:#}");
            ExitCode::FAILURE
        }
    }
}
