//! `cargo xtask`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! - `cargo xtask ci`: exactly what CI runs (`.ci/run` calls it after installing tools).
//! - `cargo xtask test`: installs missing third-party test peers, then `cargo test --workspace --all-features`.
//! - `cargo xtask peers`: only checks and installs the peers.
//! - `cargo xtask bench`: micro-benches and load comparisons, written to docs/BENCHMARKS.md.
//! - `cargo xtask fuzz`: coverage-guided fuzzing of every decoder, bounded in time.

mod bench;
mod fuzz;
mod load;
mod package;
mod peers;
mod soak;

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(&args[1..]),
        Some("test") => test(&args[1..]),
        Some("peers") => peers::ensure_all(),
        Some("package") => package::package(cargo),
        Some("load") => load::load(&args[1..]),
        Some("bench") => bench::bench(&args[1..]),
        Some("fuzz") => fuzz::fuzz(&args[1..]),
        Some("soak") => soak::soak(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n\
                 commands:\n  \
                 ci      run everything CI runs (fmt, clippy, tests, the shockwave feature matrix:\n          \
                 check + clippy per feature set (--no-feature-matrix skips it), bench and\n          \
                 example builds, cargo package)\n  \
                 test    install missing test peers, then cargo test --workspace --all-features [ARGS]\n  \
                 peers   check for and install the third-party test peers\n  \
                 package cargo package every publishable crate (licenses and README examples checked)\n  \
                 load    wrk load comparison: shockwave vs hyper vs a no-parse ceiling\n          \
                 (--baseline-bin OLD: old vs new shockwave, HTTP/1.1, h2c and HTTP/3)\n  \
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

/// What the workspace-wide test, clippy, example and bench steps pass to cargo: every
/// feature, so the tests of the non-default ones (`http3`, and `cli`: the `shockwave`
/// binary the CLI tests run) are built and run too. Chosen over relying on feature
/// unification through the `shockwave-benches` crate (which enables only what its own
/// binaries need, `http3`): the flag is explicit and also covers `cli`.
const ALL_FEATURES: &str = "--all-features";

/// `cargo xtask test [ARGS]`: peers first, then the whole workspace's tests with every
/// feature ([`ALL_FEATURES`]).
fn test(extra: &[String]) -> Result<(), String> {
    peers::ensure_all()?;
    run(cargo()
        .args(["test", "--workspace", ALL_FEATURES])
        .args(extra))
}

/// Whether `cargo xtask ci` checks [`FEATURE_SETS`] by default; `--no-feature-matrix`
/// skips the step (and `--feature-matrix` is accepted for symmetry).
const FEATURE_MATRIX_BY_DEFAULT: bool = true;

/// The feature sets `cargo check -p shockwave` and `cargo clippy -p shockwave -- -D
/// warnings` must accept: everything, nothing, and each role alone (with one protocol
/// added), so no feature silently depends on another and none leaves dead code behind.
const FEATURE_SETS: &[&[&str]] = &[
    &["--all-features"],
    &["--no-default-features"],
    &["--no-default-features", "--features", "server"],
    &["--no-default-features", "--features", "client"],
    &["--no-default-features", "--features", "server,http2"],
    &["--no-default-features", "--features", "client,http3"],
    // Compression with one role: the codec module serves both (encoder vs decoder).
    &["--no-default-features", "--features", "server,compression"],
    &["--no-default-features", "--features", "client,compression"],
    // The client's serde, JSON and cookie conveniences without the default protocols.
    &["--no-default-features", "--features", "client,json,cookies"],
];

/// `cargo check -p shockwave` and `cargo clippy -p shockwave -- -D warnings` once per
/// entry of `sets` (`cargo` makes the command); every set is tried, and the error names
/// each set that failed.
fn feature_matrix(sets: &[&[&str]], cargo: impl Fn() -> Command) -> Result<(), String> {
    let mut failed = Vec::new();
    for set in sets {
        let mut check = cargo();
        check.args(["check", "-p", "shockwave"]).args(*set);
        let mut clippy = cargo();
        clippy
            .args(["clippy", "-p", "shockwave"])
            .args(*set)
            .args(["--", "-D", "warnings"]);
        if let Err(e) = run(&mut check).and_then(|()| run(&mut clippy)) {
            eprintln!("xtask: feature set `{}` failed: {e}", set.join(" "));
            failed.push(format!("`{}`", set.join(" ")));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "cargo check/clippy -p shockwave failed for feature set(s): {}",
            failed.join(", ")
        ))
    }
}

/// Reads `cargo xtask ci`'s options: whether to run the feature matrix.
fn ci_options(args: &[String]) -> Result<bool, String> {
    let mut matrix = FEATURE_MATRIX_BY_DEFAULT;
    for a in args {
        match a.as_str() {
            "--feature-matrix" => matrix = true,
            "--no-feature-matrix" => matrix = false,
            other => return Err(format!("ci: unknown option {other}")),
        }
    }
    Ok(matrix)
}

/// `cargo xtask ci`: the same steps, in the same order, as CI.
fn ci(args: &[String]) -> Result<(), String> {
    let feature_matrix_on = ci_options(args)?;
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        ALL_FEATURES,
        "--",
        "-D",
        "warnings",
    ]))?;
    test(&[])?;
    if feature_matrix_on {
        feature_matrix(FEATURE_SETS, cargo)?;
    }
    run(cargo().args(["build", "--workspace", "--examples", ALL_FEATURES]))?;
    run(cargo().args(["bench", "--workspace", "--no-run", ALL_FEATURES]))?;
    // Every publishable crate packages and builds from its package alone.
    package::package(cargo)?;
    // Fuzz smoke: every target, the HTTP/2 connection (`h2_server`) included, 5 s each
    // (the targets depend only on the protocol crates). See fuzz/README.md.
    fuzz::fuzz(&["--smoke".into()])?;
    eprintln!("xtask: ci passed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_feature_matrix_flag() {
        let args = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert!(
            ci_options(&[]).unwrap(),
            "the feature matrix runs by default"
        );
        assert!(!ci_options(&args("--no-feature-matrix")).unwrap());
        assert!(ci_options(&args("--feature-matrix")).unwrap());
        assert!(!ci_options(&args("--feature-matrix --no-feature-matrix")).unwrap());
        assert!(ci_options(&args("--fast")).is_err());
    }

    #[test]
    fn feature_matrix_failures_name_the_feature_sets() {
        let sets: &[&[&str]] = &[
            &["--all-features"],
            &["--no-default-features", "--features", "client"],
        ];
        let err = feature_matrix(sets, || Command::new("false")).unwrap_err();
        assert!(err.contains("`--all-features`"), "{err}");
        assert!(
            err.contains("`--no-default-features --features client`"),
            "{err}"
        );
        assert!(feature_matrix(sets, || Command::new("true")).is_ok());
    }

    #[test]
    fn feature_sets_cover_all_none_and_each_role() {
        let text: Vec<String> = FEATURE_SETS.iter().map(|s| s.join(" ")).collect();
        for want in [
            "--all-features",
            "--no-default-features",
            "--no-default-features --features server",
            "--no-default-features --features client",
            "--no-default-features --features server,http2",
            "--no-default-features --features client,http3",
            "--no-default-features --features client,json,cookies",
        ] {
            assert!(text.iter().any(|t| t == want), "{want} missing");
        }
    }
}
