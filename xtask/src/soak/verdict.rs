//! The end of the soak: every check on what was observed, and the summary printed.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitStatus;
use std::sync::atomic::Ordering::Relaxed;

use super::attacks;
use super::monitor::{get_u64, in_use, Memory};
use super::options::PLATEAU_MIN_MINUTES;
use super::plateau::plateau;

/// What the soak observed once the traffic stopped and the server was asked to exit.
pub(super) struct End<'a> {
    /// Requests by class: (ok, failed).
    pub(super) classes: BTreeMap<&'static str, (u64, u64)>,
    /// The last `/stats` document.
    pub(super) last: &'a serde_json::Value,
    /// Whether `/stats` showed only our connection and no arena in use.
    pub(super) settled: bool,
    /// Whether the server was still running before SIGTERM.
    pub(super) alive: bool,
    /// The server's stderr, and where it was written.
    pub(super) stderr_text: &'a str,
    pub(super) stderr_path: &'a Path,
    /// Thread names (counted) before the traffic and after it.
    pub(super) threads_before: &'a BTreeMap<String, usize>,
    pub(super) threads_after: &'a BTreeMap<String, usize>,
    /// `--workers`, `--rss-slack-mib` and `--plateau-mib`.
    pub(super) workers: usize,
    pub(super) rss_slack_mib: u64,
    pub(super) plateau_mib: f64,
    /// RSS after the warm-up and at the end, KiB.
    pub(super) baseline_kib: u64,
    pub(super) final_kib: u64,
    /// How the server exited after SIGTERM (None: it did not within 15 s).
    pub(super) exit: Option<ExitStatus>,
    /// Seconds of traffic, and from SIGTERM to exit.
    pub(super) traffic_secs: f64,
    pub(super) stop_secs: f64,
    /// The server binary.
    pub(super) bin: &'a Path,
    /// The memory samples.
    pub(super) mem: &'a Memory,
    /// Fresh connections (of 64) answered after the soak.
    pub(super) fresh_ok: usize,
}

/// Checks `end`, adding one line per failed check to `failures`, and prints the summary.
pub(super) fn judge(end: &End<'_>, failures: &mut Vec<String>) {
    let End {
        ref classes,
        last,
        settled,
        alive,
        stderr_text,
        stderr_path,
        threads_before,
        threads_after,
        workers,
        rss_slack_mib,
        plateau_mib,
        baseline_kib,
        final_kib,
        exit,
        traffic_secs,
        stop_secs,
        bin,
        mem,
        fresh_ok,
    } = *end;
    // Checks.
    let valid = [
        "h1 keep-alive",
        "h1 pipelined",
        "h2c (own client)",
        "h2 TLS (h2load)",
        "h2c (h2load)",
        "h1 TLS (h2load --h1)",
        "h3 (shockwave get --http3)",
        "h3 load (shockwave get --http3 -n)",
    ];
    for class in valid {
        if classes.get(class).is_none_or(|c| c.0 == 0) {
            failures.push(format!("no successful {class} request"));
        }
    }
    for (name, _) in attacks::all() {
        if !classes.contains_key(name) {
            failures.push(format!("attack {name} never ran"));
        }
    }
    for (class, (_, failed)) in classes {
        if *failed > 0 {
            failures.push(format!("{class}: {failed} failed"));
        }
    }
    if !alive {
        failures.push("the server process died".into());
    }
    if stderr_text.contains("panicked") {
        failures.push("a panic on the server's stderr".into());
    }
    // `/stats` totals cover every protocol; its "http3" object is only a breakdown.
    if get_u64(last, &["handler_panics"]) > 0 {
        failures.push("handler panics counted in /stats".into());
    }
    if get_u64(last, &["errors_by_status", "500"]) > 0 {
        failures.push("500 responses counted in /stats".into());
    }
    if !settled {
        failures.push(format!(
            "did not settle within 30 s: {} connections active, {} arenas in use",
            get_u64(last, &["connections", "active"]),
            in_use(last)
        ));
    }
    let workers_before = threads_before.get("shockwave-worke").copied().unwrap_or(0);
    let workers_after = threads_after.get("shockwave-worke").copied().unwrap_or(0);
    if workers_before != workers || workers_after != workers_before {
        failures.push(format!(
            "worker threads: {workers_before} at start, {workers_after} at the end (wanted {})",
            workers
        ));
    }
    // HTTP/3 runs on the same workers and arena pools: the totals hold every protocol.
    let retained_kib = get_u64(last, &["arena", "retained_bytes"]) / 1024;
    let bound_kib = baseline_kib + retained_kib + rss_slack_mib * 1024;
    if final_kib > bound_kib {
        failures.push(format!(
            "final RSS {final_kib} KiB over the bound {bound_kib} KiB (baseline {baseline_kib} + retained arenas {retained_kib} + slack {} MiB)",
            rss_slack_mib
        ));
    }
    // The flat-RSS check: the minima of the last third of the run must not keep rising.
    let series = mem.series.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let flat = plateau(&series);
    let checked = traffic_secs >= PLATEAU_MIN_MINUTES * 60.0;
    match &flat {
        Some(p) if checked && p.growth_kib > plateau_mib * 1024.0 => failures.push(format!(
            "RSS still grows at the end: +{:.1} MiB over {:.0}-{:.0} s (allowed {plateau_mib} MiB; window minima {:?} KiB)",
            p.growth_kib / 1024.0,
            p.from_secs,
            p.to_secs,
            p.window_min_kib
        )),
        None if checked => failures.push(format!(
            "too few RSS samples for the plateau check ({})",
            series.len()
        )),
        _ => {}
    }
    match exit {
        Some(s) if s.success() => {}
        Some(s) => failures.push(format!("SIGTERM: the server exited with {s}")),
        None => failures.push("SIGTERM: the server did not exit within 15 s".into()),
    }

    // Report.
    println!(
        "\nsoak: {:.1} s of traffic against {} ({} workers), stopped {:.2} s after SIGTERM\n",
        traffic_secs,
        bin.display(),
        workers,
        stop_secs
    );
    println!("  {:<42} {:>10} {:>8}", "class", "ok", "failed");
    let mut total_valid = 0u64;
    let mut total_attacks = 0u64;
    for (class, (ok, failed)) in classes {
        println!("  {class:<42} {ok:>10} {failed:>8}");
        if valid.contains(class) {
            total_valid += ok;
        } else {
            total_attacks += ok;
        }
    }
    let total_failed: u64 = classes.values().map(|c| c.1).sum();
    println!(
        "\n  valid requests answered correctly: {total_valid}; attacks with the expected outcome: {total_attacks}; failures: {total_failed}"
    );
    println!(
        "  RSS: baseline {:.1} MiB, peak {:.1} MiB, final {:.1} MiB (bound {:.1} MiB = baseline + retained arenas {:.1} MiB + slack {} MiB); {} samples",
        baseline_kib as f64 / 1024.0,
        mem.peak_kib.load(Relaxed) as f64 / 1024.0,
        final_kib as f64 / 1024.0,
        bound_kib as f64 / 1024.0,
        retained_kib as f64 / 1024.0,
        rss_slack_mib,
        mem.samples.load(Relaxed)
    );
    match &flat {
        Some(p) => println!(
            "  RSS plateau over the last third ({:.0}-{:.0} s, minima of {} windows {:?} KiB): {:+.2} MiB (fitted), {:+.2} MiB first-to-last window; allowed {plateau_mib} MiB{}",
            p.from_secs,
            p.to_secs,
            p.window_min_kib.len(),
            p.window_min_kib,
            p.growth_kib / 1024.0,
            (*p.window_min_kib.last().unwrap_or(&0) as f64
                - *p.window_min_kib.first().unwrap_or(&0) as f64)
                / 1024.0,
            if checked {
                String::new()
            } else {
                format!(" (not checked: runs under {PLATEAU_MIN_MINUTES} min are still warming up)")
            }
        ),
        None => println!("  RSS plateau: too few samples ({})", series.len()),
    }
    println!(
        "  /stats at the end: {} connections active (ours), arenas in use {} (peak seen {}), idle {}, created {}, discarded {}, gets {}, peak arena {} B; peak connections {}",
        get_u64(last, &["connections", "active"]),
        get_u64(last, &["arena", "arenas_in_use"]),
        mem.peak_arenas_in_use.load(Relaxed),
        get_u64(last, &["arena", "arenas_idle"]),
        get_u64(last, &["arena", "arenas_created"]),
        get_u64(last, &["arena", "arenas_discarded"]),
        get_u64(last, &["arena", "gets"]),
        get_u64(last, &["arena", "peak_arena_bytes"]),
        mem.peak_connections.load(Relaxed),
    );
    println!(
        "  /stats totals (HTTP/1.1 + HTTP/2): {} requests, responses {}, errors by status {}, timeouts {}, TLS handshake failures {}, handler panics {}",
        get_u64(last, &["requests"]),
        last["responses"],
        last["errors_by_status"],
        get_u64(last, &["timeouts"]),
        get_u64(last, &["connections", "tls_handshake_failures"]),
        get_u64(last, &["handler_panics"]),
    );
    if last["http3"].is_object() {
        println!(
            "  /stats HTTP/3: {} requests, responses {}, errors by status {}, arenas in use {}, idle {}, retained {} B, peak arena {} B, handler panics {}",
            get_u64(last, &["http3", "requests"]),
            last["http3"]["responses"],
            last["http3"]["errors_by_status"],
            get_u64(last, &["http3", "arena", "arenas_in_use"]),
            get_u64(last, &["http3", "arena", "arenas_idle"]),
            get_u64(last, &["http3", "arena", "retained_bytes"]),
            get_u64(last, &["http3", "arena", "peak_arena_bytes"]),
            get_u64(last, &["http3", "handler_panics"]),
        );
    } else {
        println!("  /stats has no \"http3\" section: HTTP/3 arenas are not checked");
    }
    println!(
        "  worker threads (HTTP/3 included) {workers_before} -> {workers_after}, fresh connections answered after the soak {fresh_ok}/64; server stderr: {}",
        stderr_path.display()
    );
}
