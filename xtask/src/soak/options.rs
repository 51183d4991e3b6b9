//! The soak's command-line options.

use std::path::PathBuf;

/// What `cargo xtask soak` was asked to do.
pub(super) struct Options {
    /// `--minutes N`: how long the traffic runs.
    pub(super) minutes: f64,
    /// `--workers N`: the server's worker threads.
    pub(super) workers: usize,
    /// Build the release server first (unless `--no-build` or `--server-bin`).
    pub(super) build: bool,
    /// `--server-bin PATH`: a prebuilt `shockwave`.
    pub(super) server_bin: Option<PathBuf>,
    /// `--rss-slack-mib N`: the final RSS bound's slack over baseline + retained arenas.
    pub(super) rss_slack_mib: u64,
}

/// Parses `--minutes`, `--workers`, `--no-build`, `--server-bin`, `--rss-slack-mib`.
pub(super) fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        minutes: 1.0,
        workers: 2,
        build: true,
        server_bin: None,
        rss_slack_mib: 64,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--minutes" => o.minutes = value(a)?.parse().map_err(|e| format!("--minutes: {e}"))?,
            "--workers" => o.workers = value(a)?.parse().map_err(|e| format!("--workers: {e}"))?,
            "--rss-slack-mib" => {
                o.rss_slack_mib = value(a)?
                    .parse()
                    .map_err(|e| format!("--rss-slack-mib: {e}"))?
            }
            "--server-bin" => o.server_bin = Some(PathBuf::from(value(a)?)),
            "--no-build" => o.build = false,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if !(o.minutes > 0.0 && o.minutes <= 24.0 * 60.0) {
        return Err("--minutes must be > 0 (and at most a day)".into());
    }
    o.workers = o.workers.max(1);
    Ok(o)
}
