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
    /// `--plateau-mib N`: most RSS growth allowed over the last third of the run (checked
    /// on runs of [`PLATEAU_MIN_MINUTES`] or more).
    pub(super) plateau_mib: f64,
}

/// The default `--rss-slack-mib`: what the server holds at the end beyond its baseline
/// and the arena pools' retained bytes, measured with 2 workers: 8.2 MiB after a 1-minute
/// soak, 11.4 MiB after 3 minutes, 13.5 MiB after 5 (before the pools' byte cap) and
/// 16.3 MiB after 30 (`docs/arenas.md`). It is each worker's buffer pool (at most
/// 128 × 16 KiB), the allocator's pages partly used by live objects after its trim
/// (fragmentation, which grows slowly with the run), TLS and QUIC state. The slack leaves
/// half as much again over the largest figure.
pub(super) const DEFAULT_RSS_SLACK_MIB: u64 = 24;

/// The default `--plateau-mib` (the flat-RSS check: the last third of the run).
pub(super) const DEFAULT_PLATEAU_MIB: f64 = 5.0;

/// Runs shorter than this are still filling the arena pools and the allocator's arenas at
/// their end: the plateau is printed but not checked.
pub(super) const PLATEAU_MIN_MINUTES: f64 = 10.0;

/// Parses `--minutes`, `--workers`, `--no-build`, `--server-bin`, `--rss-slack-mib`,
/// `--plateau-mib`.
pub(super) fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        minutes: 1.0,
        workers: 2,
        build: true,
        server_bin: None,
        rss_slack_mib: DEFAULT_RSS_SLACK_MIB,
        plateau_mib: DEFAULT_PLATEAU_MIB,
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
            "--plateau-mib" => {
                o.plateau_mib = value(a)?
                    .parse()
                    .map_err(|e| format!("--plateau-mib: {e}"))?
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
