//! `cargo xtask`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! - `cargo xtask ci`: exactly what CI runs (`.ci/run` calls it after installing tools).
//! - `cargo xtask test`: installs missing third-party test peers, then `cargo test --workspace`.
//! - `cargo xtask peers`: only checks and installs the peers.
//! - `cargo xtask bench`: micro-benches and load comparisons, written to docs/BENCHMARKS.md.
//! - `cargo xtask fuzz`: coverage-guided fuzzing of every decoder, bounded in time.

mod bench;
mod fuzz;
mod load;
mod peers;
mod soak;

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("test") => test(&args[1..]),
        Some("peers") => peers::ensure_all(),
        Some("load") => load::load(&args[1..]),
        Some("bench") => bench::bench(&args[1..]),
        Some("fuzz") => fuzz::fuzz(&args[1..]),
        Some("soak") => soak::soak(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n\
                 commands:\n  \
                 ci      run everything CI runs (fmt, clippy, tests, bench and example builds)\n  \
                 test    install missing test peers, then cargo test --workspace [ARGS]\n  \
                 peers   check for and install the third-party test peers\n  \
                 load    wrk load comparison: shockwave vs hyper vs a no-parse ceiling\n  \
                 bench   every benchmark side by side; regenerates docs/BENCHMARKS.md (--quick, --save, --compare)\n  \
                 fuzz    cargo-fuzz every decoder for --seconds N each (default 60; --smoke, --target NAME)\n  \
                 soak    valid + attack traffic against the release server for --minutes N, then health checks"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a command, echoing it first; a non-zero exit is an error naming the command.
pub fn run(cmd: &mut Command) -> Result<(), String> {
    eprintln!("xtask: $ {}", describe(cmd));
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start `{}`: {e}", describe(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed with {status}", describe(cmd)))
    }
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// `cargo xtask test [ARGS]`: peers first, then the whole workspace's tests.
fn test(extra: &[String]) -> Result<(), String> {
    peers::ensure_all()?;
    run(cargo().args(["test", "--workspace"]).args(extra))
}

/// `cargo xtask ci`: the same steps, in the same order, as CI.
fn ci() -> Result<(), String> {
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    test(&[])?;
    run(cargo().args(["build", "--workspace", "--examples"]))?;
    run(cargo().args(["bench", "--workspace", "--no-run"]))?;
    // Fuzz smoke: the codec targets, 5 s each (~3 min with the sanitizer build on 2 cores;
    // the HTTP/2 engine target's build alone costs several more, so it is left to
    // `cargo xtask fuzz`). See fuzz/README.md.
    fuzz::fuzz(&["--smoke".into(), "--no-engine".into()])?;
    eprintln!("xtask: ci passed");
    Ok(())
}
