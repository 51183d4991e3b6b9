//! docs/BENCHMARKS.md and the charts it links, rendered from a run's [`Results`].

use std::fmt::Write as _;

use super::charts::{Bar, Panel};
use super::micro::{self, Case};
use super::model::{IdleMemory, LoadResult, MicroResult, Results, Spread};

/// A chart to draw: file name under docs/bench/, title, panels.
pub type ChartSpec = (String, String, Vec<Panel>);

/// Formats nanoseconds with a readable unit.
pub fn fmt_time(ns: f64) -> String {
    if !ns.is_finite() {
        "–".into()
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// Formats a throughput from a result's per-iteration work and median time.
pub fn fmt_throughput(r: &MicroResult) -> String {
    if r.median_ns <= 0.0 {
        return String::new();
    }
    let per_sec = 1e9 / r.median_ns;
    if let Some(b) = r.throughput_bytes {
        let bps = b as f64 * per_sec;
        if bps >= 1024.0 * 1024.0 * 1024.0 {
            format!("{:.2} GiB/s", bps / (1024.0 * 1024.0 * 1024.0))
        } else {
            format!("{:.0} MiB/s", bps / (1024.0 * 1024.0))
        }
    } else if let Some(e) = r.throughput_elements {
        format!("{:.1} M elem/s", e as f64 * per_sec / 1e6)
    } else {
        String::new()
    }
}

fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    // Thousands separators for req/s-sized figures.
    let n = x.round() as i64;
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn fmt_ratio(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.2}×")
    } else {
        "–".into()
    }
}

fn fmt_opt(x: Option<f64>, digits: usize) -> String {
    x.map_or("–".into(), |v| format!("{v:.digits$}"))
}

fn mib(kib: f64) -> String {
    if kib.abs() < 1024.0 {
        format!("{kib:.0} KiB")
    } else {
        format!("{:.1} MiB", kib / 1024.0)
    }
}

/// File-name-safe slug.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

fn find<'r>(results: &'r [MicroResult], id: &str) -> Option<&'r MicroResult> {
    results.iter().find(|r| r.id == id)
}

/// The load scenarios of a run, in first-seen order: (protocol, scenario, tool).
fn scenarios(r: &Results) -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> = Vec::new();
    for l in &r.load {
        let key = (l.protocol.clone(), l.scenario.clone(), l.tool.clone());
        if !v.contains(&key) {
            v.push(key);
        }
    }
    v
}

fn load_of<'r>(r: &'r Results, protocol: &str, scenario: &str) -> Vec<&'r LoadResult> {
    r.load
        .iter()
        .filter(|l| l.protocol == protocol && l.scenario == scenario)
        .collect()
}

fn is_ours(label: &str) -> bool {
    label.starts_with("shockwave")
}

/// The peer a scenario's ratios divide by: the fastest (highest median requests/s) of
/// the servers that are neither ours nor the no-parsing ceiling; the first such on a tie.
fn reference<'r>(rows: &[&'r LoadResult]) -> Option<&'r LoadResult> {
    let rps = |l: &LoadResult| l.rps().map_or(f64::NEG_INFINITY, |s| s.median);
    rows.iter()
        .copied()
        .filter(|l| !is_ours(&l.server) && !l.server.starts_with("ceiling"))
        .fold(None, |best: Option<&LoadResult>, l| match best {
            Some(b) if rps(b) >= rps(l) => Some(b),
            _ => Some(l),
        })
}

/// The peer's short name for column headers: its label's first word.
fn short_name(label: &str) -> &str {
    label.split_whitespace().next().unwrap_or(label)
}

/// The charts for a run.
pub fn chart_specs(r: &Results) -> Vec<ChartSpec> {
    let mut v = Vec::new();
    for (protocol, scenario, tool) in scenarios(r) {
        let rows = load_of(r, &protocol, &scenario);
        let bars = |f: &dyn Fn(&LoadResult) -> Option<Spread>| -> Vec<Bar> {
            rows.iter()
                .filter_map(|l| {
                    f(l).map(|value| Bar {
                        label: l.server.clone(),
                        value,
                        ours: is_ours(&l.server),
                    })
                })
                .collect()
        };
        let rss = |l: &LoadResult| {
            l.peak_rss().map(|s| Spread {
                median: s.median / 1024.0,
                min: s.min / 1024.0,
                max: s.max / 1024.0,
            })
        };
        let mut panels = vec![
            Panel {
                caption: "requests/s (higher is better)".into(),
                bars: bars(&|l| l.rps()),
                unit: "",
                unit_line: false,
            },
            Panel {
                caption: "server CPU µs/request (lower is better)".into(),
                bars: bars(&|l| l.cpu()),
                unit: " µs",
                unit_line: false,
            },
            Panel {
                caption: "server peak RSS, MiB (lower is better)".into(),
                bars: bars(&rss),
                unit: " MiB",
                unit_line: false,
            },
        ];
        let download = bars(&|l| l.download());
        if !download.is_empty() {
            panels.insert(
                1,
                Panel {
                    caption: "large download, MB/s (higher is better)".into(),
                    bars: download,
                    unit: "",
                    unit_line: false,
                },
            );
        }
        v.push((
            format!("load_{}_{}.svg", slug(&protocol), slug(&scenario)),
            format!("{protocol} {scenario}: {tool}"),
            panels,
        ));
    }
    let cases = micro::cases();
    for (bench, title) in micro::BENCHES {
        let mut bars = Vec::new();
        for c in cases.iter().filter(|c| c.bench == *bench) {
            let Some(reference) = c.reference() else {
                continue;
            };
            let Some(peer) = find(&r.micro, &c.id(reference)) else {
                continue;
            };
            for s in c.subjects.iter().filter(|s| s.ours) {
                if let Some(ours) = find(&r.micro, &c.id(s)) {
                    bars.push(Bar {
                        label: format!("{}: {}", c.title, s.label),
                        value: ratio_spread(ours, peer),
                        ours: true,
                    });
                }
            }
        }
        if !bars.is_empty() {
            v.push((
                format!("micro_{bench}.svg"),
                format!("{title}: time relative to the peer (below 1 = faster)"),
                vec![Panel {
                    caption: format!("our time ÷ {}'s time", reference_label(&cases, bench)),
                    bars,
                    unit: "×",
                    unit_line: true,
                }],
            ));
        }
    }
    v
}

fn reference_label(cases: &[Case], bench: &str) -> String {
    let mut labels: Vec<&str> = cases
        .iter()
        .filter(|c| c.bench == bench)
        .filter_map(|c| c.reference().map(|s| s.label))
        .collect();
    labels.dedup();
    labels.join("/")
}

/// ours ÷ peer, with the range from the two confidence intervals.
fn ratio_spread(ours: &MicroResult, peer: &MicroResult) -> Spread {
    Spread {
        median: ours.median_ns / peer.median_ns,
        min: ours.lower_ns / peer.upper_ns,
        max: ours.upper_ns / peer.lower_ns,
    }
}

/// The markdown of docs/BENCHMARKS.md. `charts` are the chart files that were written
/// (linked as `bench/NAME`).
pub fn render(r: &Results, charts: &[String]) -> String {
    let mut md = String::new();
    let chart = |md: &mut String, name: &str| {
        if charts.iter().any(|c| c == name) {
            let _ = writeln!(md, "![{name}](bench/{name})\n");
        }
    };
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "<!-- GENERATED by `cargo xtask bench`: do not edit by hand, rerun the command. -->\n"
    );
    let _ = writeln!(
        md,
        "Generated by `{}` on {} ({} mode). Every figure below was measured in that one run, \
         ours and the peers on the same machine in alternation; none is edited by hand.\n",
        r.command, r.date, r.mode
    );
    let m = &r.machine;
    let _ = writeln!(md, "## Machine\n");
    let _ = writeln!(md, "| | |\n|---|---|");
    for (k, v) in [
        ("CPU", m.cpu.as_str()),
        ("cores", &m.cores.to_string()),
        ("kernel", m.kernel.as_str()),
        ("rustc", m.rustc.as_str()),
        ("wrk", m.wrk.as_str()),
        ("h2load", m.h2load.as_str()),
    ] {
        let _ = writeln!(md, "| {k} | {v} |");
    }
    md.push('\n');
    if !r.settings.is_empty() {
        let _ = writeln!(md, "Settings:\n");
        for s in &r.settings {
            let _ = writeln!(md, "- {s}");
        }
        md.push('\n');
    }

    // ---- load ------------------------------------------------------------------------
    let _ = writeln!(md, "## Load comparisons\n");
    let _ = writeln!(
        md,
        "Each server is started fresh for every sample and the servers take turns \
         (A B C A B C ...); the tables give the median over the rounds and the spread \
         (min–max). Server CPU is user + system time from `/proc/PID/stat` divided by the \
         requests served (HTTP/3: from `/proc/PID/task/*/schedstat` around the measured \
         phases), summed over the server's whole process tree (h2o and nginx fork their \
         workers); peak RSS is the sum of the tree's `VmHWM`. Ratios divide by the fastest \
         peer of the scenario (highest median req/s), named in the column: above 1 is better \
         for req/s and MB/s, below 1 is better for CPU. WebSocket: a \
         request is one echoed message (req/s = messages/s, CPU µs/req = server CPU per \
         message, over the server's process tree). HTTP/3 client busy: the client thread's CPU \
         time over wall time in the request phase and in the download (near 100%: the \
         client, not the server, sets the pace).\n"
    );
    for (protocol, scenario, tool) in scenarios(r) {
        let rows = load_of(r, &protocol, &scenario);
        let _ = writeln!(md, "### {protocol}, {scenario}\n\n`{tool}`\n");
        chart(
            &mut md,
            &format!("load_{}_{}.svg", slug(&protocol), slug(&scenario)),
        );
        let reference = reference(&rows);
        let peer = reference.map_or("peer", |r| short_name(&r.server));
        let median = |s: Option<Spread>| s.map_or(f64::NAN, |s| s.median);
        let (ref_rps, ref_cpu, ref_dl) = reference
            .map(|h| (median(h.rps()), median(h.cpu()), median(h.download())))
            .unwrap_or((f64::NAN, f64::NAN, f64::NAN));
        let with_download = rows.iter().any(|l| l.download().is_some());
        let with_busy = rows.iter().any(|l| l.client_busy().is_some());
        let (busy_head, busy_rule) = if with_busy {
            (" client busy (req / download) |", "---:|")
        } else {
            ("", "")
        };
        let (dl_head, dl_rule) = if with_download {
            (
                format!(" download MB/s | spread | MB/s ÷ {peer} |"),
                "---:|---:|---:|",
            )
        } else {
            (String::new(), "")
        };
        let _ = writeln!(
            md,
            "| server | req/s | spread | req/s ÷ {peer} | CPU µs/req | spread | CPU ÷ {peer} |{dl_head}{busy_head} peak RSS | errors |\n\
             |---|---:|---:|---:|---:|---:|---:|{dl_rule}{busy_rule}---:|---:|"
        );
        for l in &rows {
            let (Some(rps), Some(cpu)) = (l.rps(), l.cpu()) else {
                continue;
            };
            let rss = l.peak_rss().map_or("–".into(), |s| mib(s.median));
            let dl = match (with_download, l.download()) {
                (false, _) => String::new(),
                (true, Some(d)) => format!(
                    " {:.0} | {:.0}–{:.0} | {} |",
                    d.median,
                    d.min,
                    d.max,
                    fmt_ratio(d.median / ref_dl)
                ),
                (true, None) => " – | – | – |".into(),
            };
            let pct =
                |s: Option<Spread>| s.map_or("–".into(), |s| format!("{:.0}%", s.median * 100.0));
            let busy = if with_busy {
                format!(
                    " {} / {} |",
                    pct(l.client_busy()),
                    pct(l.client_busy_download())
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                md,
                "| {} | {} | {}–{} | {} | {:.2} | {:.2}–{:.2} | {} |{dl}{busy} {} | {} |",
                l.server,
                fmt_num(rps.median),
                fmt_num(rps.min),
                fmt_num(rps.max),
                fmt_ratio(rps.median / ref_rps),
                cpu.median,
                cpu.min,
                cpu.max,
                fmt_ratio(cpu.median / ref_cpu),
                rss,
                l.errors()
            );
        }
        md.push('\n');
        let arena = rows.iter().find(|l| l.server.contains("--alloc arena"));
        let heap = rows.iter().find(|l| l.server.contains("--alloc heap"));
        if let (Some(a), Some(h)) = (arena, heap) {
            if let (Some(ar), Some(hr), Some(ac), Some(hc)) = (a.rps(), h.rps(), a.cpu(), h.cpu()) {
                let _ = writeln!(
                    md,
                    "Arena vs heap: `--alloc arena` serves {} the requests/s of `--alloc heap` \
                     at {} its CPU per request.\n",
                    fmt_ratio(ar.median / hr.median),
                    fmt_ratio(ac.median / hc.median)
                );
            }
        }
    }
    if r.load.is_empty() && r.load_notes.is_empty() {
        let _ = writeln!(md, "Not run in this run.\n");
    }
    for note in &r.load_notes {
        let _ = writeln!(md, "> {note}\n");
    }
    if !r.load.iter().any(|l| l.protocol == "HTTP/3") {
        let _ = writeln!(
            md,
            "### HTTP/3\n\nNot measured in this run (see the notes above, or rerun without \
             `--skip-load`).\n"
        );
    }

    // ---- memory ----------------------------------------------------------------------
    let _ = writeln!(md, "## Memory after a long run\n");
    if r.long_run.is_empty() {
        let _ = writeln!(md, "Not measured in this run.\n");
    } else {
        let _ = writeln!(
            md,
            "The server serves a warm-up, then many more keep-alive requests (`h2load --h1`); \
             RSS is read from `/proc/PID/status` after each. Growth beyond the arena pools' \
             retained capacity would show as RSS at the end well above RSS after the warm-up.\n"
        );
        let _ = writeln!(
            md,
            "| server | warm-up requests | then requests | RSS after warm-up | RSS at end | growth | peak RSS | arena pool retains | arenas created | server counted | errors |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for l in &r.long_run {
            let growth = l.rss_end_kib as f64 - l.rss_warm_kib as f64;
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {}{} | {} | {} | {} | {} | {} |",
                l.server,
                fmt_num(l.warmup_requests as f64),
                fmt_num(l.requests as f64),
                mib(l.rss_warm_kib as f64),
                mib(l.rss_end_kib as f64),
                if growth >= 0.0 { "+" } else { "" },
                mib(growth),
                mib(l.peak_rss_kib as f64),
                l.retained_bytes
                    .map_or("–".into(), |b| mib(b as f64 / 1024.0)),
                l.arenas_created.map_or("–".into(), |n| fmt_num(n as f64)),
                l.server_requests.map_or("–".into(), |n| fmt_num(n as f64)),
                l.errors
            );
        }
        md.push('\n');
    }

    // ---- idle connections -------------------------------------------------------------
    let _ = writeln!(
        md,
        "## Memory per idle keep-alive connection
"
    );
    if r.idle_memory.is_empty() {
        let _ = writeln!(
            md,
            "Not measured in this run.
"
        );
    } else {
        let _ = writeln!(
            md,
            "The harness opens the connections one after the other, sends `GET /` on each \
             and reads the response (HTTP/2: prior-knowledge h2c, SETTINGS acknowledged), then \
             leaves them all open and idle. Per connection: the growth of the RSS summed over \
             the server's process tree, from after one warm-up connection to 0.5 s after the \
             last one opened, divided by the connections still open then. Ratios divide by \
             hyper's figure for the same protocol (below 1 = less memory).\n"
        );
        let _ = writeln!(
            md,
            "| protocol | server | connections | still open | RSS before | RSS with them | per connection | ÷ hyper | opening took | errors |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for m in &r.idle_memory {
            let hyper = r
                .idle_memory
                .iter()
                .find(|h| h.protocol == m.protocol && h.server.starts_with("hyper"))
                .map_or(f64::NAN, IdleMemory::bytes_per_connection);
            let per = m.bytes_per_connection();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {:.1} s | {} |",
                m.protocol,
                m.server,
                fmt_num(m.connections as f64),
                fmt_num(m.open as f64),
                mib(m.rss_before_kib as f64),
                mib(m.rss_after_kib as f64),
                if per.is_finite() {
                    format!("{:.1} KiB", per / 1024.0)
                } else {
                    "–".into()
                },
                fmt_ratio(per / hyper),
                m.opening_ms as f64 / 1000.0,
                m.errors
            );
        }
        md.push('\n');
    }

    // ---- micro -----------------------------------------------------------------------
    let _ = writeln!(md, "## Micro-benchmarks (criterion)\n");
    let _ = writeln!(
        md,
        "Median time per iteration with criterion's 95% confidence interval, heap \
         allocations and bytes per iteration from the counting allocator \
         (`shockwave_benches::report_allocs`), and our time divided by the first peer's \
         (below 1 = faster). Criterion's full reports (distributions, regressions) are in \
         `target/criterion/report/index.html` after a run.\n"
    );
    let cases = micro::cases();
    for (bench, title) in micro::BENCHES {
        let _ = writeln!(md, "### {title} (`benches/benches/{bench}.rs`)\n");
        if let Some(note) = r
            .micro_notes
            .iter()
            .find(|n| n.starts_with(&format!("{bench}: ")))
        {
            let _ = writeln!(md, "Missing: {}\n", &note[bench.len() + 2..]);
            continue;
        }
        if !r.micro.iter().any(|m| m.bench == *bench) {
            let _ = writeln!(md, "Not run in this run.\n");
            continue;
        }
        chart(&mut md, &format!("micro_{bench}.svg"));
        let _ = writeln!(
            md,
            "| case | implementation | time/op | 95% CI | throughput | allocs/op | bytes/op | time ÷ peer |\n\
             |---|---|---:|---:|---:|---:|---:|---:|"
        );
        for c in cases.iter().filter(|c| c.bench == *bench) {
            let reference = c
                .reference()
                .and_then(|s| find(&r.micro, &c.id(s)))
                .map(|p| (p.median_ns, c.reference().map_or("", |s| s.label)));
            for (i, s) in c.subjects.iter().enumerate() {
                let case = if i == 0 { c.title.as_str() } else { "" };
                let label = if s.ours {
                    format!("**{}**", s.label)
                } else {
                    s.label.to_string()
                };
                match find(&r.micro, &c.id(s)) {
                    Some(m) => {
                        let ratio = match reference {
                            Some((t, peer)) if c.reference() != Some(s) => {
                                format!("{} {peer}", fmt_ratio(m.median_ns / t))
                            }
                            _ => String::new(),
                        };
                        let _ = writeln!(
                            md,
                            "| {case} | {label} | {} | {}–{} | {} | {} | {} | {ratio} |",
                            fmt_time(m.median_ns),
                            fmt_time(m.lower_ns),
                            fmt_time(m.upper_ns),
                            fmt_throughput(m),
                            fmt_opt(m.allocs, 2),
                            fmt_opt(m.alloc_bytes, 0),
                        );
                    }
                    None => {
                        let _ = writeln!(
                            md,
                            "| {case} | {label} | missing (`{}` not measured) | | | | | |",
                            c.id(s)
                        );
                    }
                }
            }
        }
        md.push('\n');
        let listed: Vec<String> = cases
            .iter()
            .filter(|c| c.bench == *bench)
            .flat_map(|c| c.subjects.iter().map(|s| c.id(s)))
            .collect();
        let others: Vec<&MicroResult> = r
            .micro
            .iter()
            .filter(|m| m.bench == *bench && !listed.contains(&m.id))
            .collect();
        if !others.is_empty() {
            let _ = writeln!(
                md,
                "Other results of this bench (not in the pairing table of `xtask/src/bench/micro.rs`):\n\n\
                 | id | time/op | 95% CI | throughput | allocs/op | bytes/op |\n|---|---:|---:|---:|---:|---:|"
            );
            for m in others {
                let _ = writeln!(
                    md,
                    "| `{}` | {} | {}–{} | {} | {} | {} |",
                    m.id,
                    fmt_time(m.median_ns),
                    fmt_time(m.lower_ns),
                    fmt_time(m.upper_ns),
                    fmt_throughput(m),
                    fmt_opt(m.allocs, 2),
                    fmt_opt(m.alloc_bytes, 0),
                );
            }
            md.push('\n');
        }
    }
    let _ = writeln!(
        md,
        "## Reproduce\n\n```sh\ncargo xtask peers                 # installs wrk, h2load, h2o, nginx if missing\n\
         cargo xtask bench --quick         # about 8 minutes on 2 cores, after the first release build\n\
         cargo xtask bench                 # the full run\n\
         cargo xtask bench --save before   # keep a run as target/xtask-bench/before.json ...\n\
         cargo xtask bench --compare before after   # ... and compare two saved runs\n```"
    );
    md
}

#[cfg(test)]
mod tests {
    use super::super::model::{LoadSample, LongRun, Machine};
    use super::*;

    fn micro(bench: &str, id: &str, ns: f64, allocs: Option<f64>) -> MicroResult {
        MicroResult {
            bench: bench.into(),
            id: id.into(),
            median_ns: ns,
            lower_ns: ns * 0.95,
            upper_ns: ns * 1.05,
            throughput_bytes: Some(100),
            allocs,
            alloc_bytes: allocs.map(|a| a * 16.0),
            ..MicroResult::default()
        }
    }

    fn load(protocol: &str, scenario: &str, server: &str, rps: f64, cpu: f64) -> LoadResult {
        LoadResult {
            protocol: protocol.into(),
            scenario: scenario.into(),
            tool: "wrk -c32".into(),
            server: server.into(),
            samples: [0.9, 1.0, 1.1]
                .iter()
                .map(|k| LoadSample {
                    requests: 1000,
                    rps: rps * k,
                    cpu_us_per_req: cpu,
                    peak_rss_kib: 10 * 1024,
                    errors: 0,
                    ..LoadSample::default()
                })
                .collect(),
        }
    }

    fn sample() -> Results {
        Results {
            schema: 1,
            mode: "quick".into(),
            command: "cargo xtask bench --quick".into(),
            date: "2026-11-25 18:00 UTC".into(),
            machine: Machine {
                cpu: "Test CPU".into(),
                cores: 2,
                ..Machine::default()
            },
            settings: vec!["3 rounds".into()],
            micro: vec![
                micro(
                    "http11",
                    "http11/plaintext/shockwave_arena",
                    50.0,
                    Some(0.0),
                ),
                micro("http11", "http11/plaintext/httparse", 100.0, Some(1.0)),
                micro("arena", "request_graph/zzz_new", 7.0, None),
            ],
            micro_notes: vec!["client: `cargo bench --bench client` failed".into()],
            load: vec![
                load(
                    "HTTP/1.1",
                    "plain",
                    "shockwave (--alloc arena)",
                    200_000.0,
                    5.0,
                ),
                load(
                    "HTTP/1.1",
                    "plain",
                    "shockwave (--alloc heap)",
                    180_000.0,
                    6.0,
                ),
                load("HTTP/1.1", "plain", "hyper 1.x", 100_000.0, 10.0),
            ],
            load_notes: vec!["HTTP/2 comparison unavailable: no h2c".into()],
            long_run: vec![LongRun {
                server: "shockwave (--alloc arena)".into(),
                requests: 1_000_000,
                warmup_requests: 100_000,
                rss_warm_kib: 8 * 1024,
                rss_end_kib: 8 * 1024 + 512,
                peak_rss_kib: 9 * 1024,
                retained_bytes: Some(1 << 20),
                ..LongRun::default()
            }],
            idle_memory: vec![
                IdleMemory {
                    protocol: "HTTP/1.1".into(),
                    server: "shockwave (--alloc arena)".into(),
                    connections: 10_000,
                    open: 10_000,
                    rss_before_kib: 6 * 1024,
                    rss_after_kib: 6 * 1024 + 40_000,
                    opening_ms: 2500,
                    errors: 0,
                },
                IdleMemory {
                    protocol: "HTTP/1.1".into(),
                    server: "hyper 1.x".into(),
                    connections: 10_000,
                    open: 8_000,
                    rss_before_kib: 4 * 1024,
                    rss_after_kib: 4 * 1024 + 80_000,
                    opening_ms: 2000,
                    errors: 0,
                },
            ],
        }
    }

    #[test]
    fn idle_memory_rows_divide_by_hyper_per_open_connection() {
        let md = render(&sample(), &[]);
        assert!(
            md.contains("## Memory per idle keep-alive connection"),
            "{md}"
        );
        // shockwave: 40000 KiB / 10000 = 4.0 KiB; hyper: 80000 KiB / 8000 = 10.0 KiB.
        assert!(
            md.contains("| HTTP/1.1 | shockwave (--alloc arena) | 10,000 | 10,000 |"),
            "{md}"
        );
        assert!(md.contains("| 4.0 KiB | 0.40× | 2.5 s | 0 |"), "{md}");
        assert!(md.contains("| 10.0 KiB | 1.00× |"), "{md}");
        let mut none = sample();
        none.idle_memory.clear();
        assert!(render(&none, &[])
            .contains("## Memory per idle keep-alive connection\n\nNot measured in this run."));
    }

    #[test]
    fn ratios_divide_by_the_fastest_peer() {
        let mut r = sample();
        r.load.push(load(
            "HTTP/1.1",
            "plain",
            "may_minihttp 0.1",
            400_000.0,
            2.0,
        ));
        r.load.push(load(
            "HTTP/1.1",
            "plain",
            "ceiling (no HTTP parsing)",
            900_000.0,
            1.0,
        ));
        let md = render(&r, &[]);
        assert!(md.contains("| req/s ÷ may_minihttp |"), "{md}");
        // shockwave arena: 200k req/s = 0.50× may_minihttp, CPU 5 = 2.50×.
        assert!(md.contains("| 0.50× |"), "{md}");
        assert!(md.contains("| 2.50× |"), "{md}");
    }

    #[test]
    fn markdown_has_tables_ratios_notes_and_missing() {
        let r = sample();
        let charts: Vec<String> = chart_specs(&r).into_iter().map(|c| c.0).collect();
        assert!(
            charts.contains(&"load_http_1_1_plain.svg".to_string()),
            "{charts:?}"
        );
        assert!(
            charts.contains(&"micro_http11.svg".to_string()),
            "{charts:?}"
        );
        let md = render(&r, &charts);
        assert!(md.contains("Generated by `cargo xtask bench --quick` on 2026-11-25 18:00 UTC"));
        assert!(md.contains("| CPU | Test CPU |"));
        assert!(md.contains("![load_http_1_1_plain.svg](bench/load_http_1_1_plain.svg)"));
        // shockwave arena: 200k req/s = 2.00× hyper, CPU 5 = 0.50× hyper.
        assert!(
            md.contains("| shockwave (--alloc arena) | 200,000 | 180,000–220,000 | 2.00× | 5.00 | 5.00–5.00 | 0.50× | 10.0 MiB | 0 |"),
            "{md}"
        );
        assert!(
            md.contains("`--alloc arena` serves 1.11× the requests/s"),
            "{md}"
        );
        assert!(md.contains("> HTTP/2 comparison unavailable: no h2c"));
        assert!(md.contains("### HTTP/3\n\nNot measured in this run"));
        assert!(md.contains("| req/s ÷ hyper |"), "{md}");
        // Parser: 50 ns vs 100 ns → 0.50× httparse, with allocs.
        assert!(
            md.contains("| parse GET /plaintext (TechEmpower) | **shockwave-http11 (arena)** | 50.0 ns | 47.5 ns–52.5 ns | 1.86 GiB/s | 0.00 | 0 | 0.50× httparse |"),
            "{md}"
        );
        assert!(md.contains("missing (`http11/plaintext/shockwave_heap` not measured)"));
        assert!(md.contains("Missing: `cargo bench --bench client` failed"));
        assert!(md.contains("| `request_graph/zzz_new` | 7.0 ns |"), "{md}");
        assert!(md.contains("| +512 KiB |"), "{md}");
        assert!(md.contains("| 1.0 MiB |"), "{md}");
        assert!(!md.contains("NaN"), "{md}");
    }

    #[test]
    fn http3_rows_have_download_and_divide_by_h3() {
        let mut r = sample();
        let with_dl = |server: &str, rps: f64, cpu: f64, mbps: f64| {
            let mut l = load("HTTP/3", "one connection", server, rps, cpu);
            for s in &mut l.samples {
                s.download_mbps = Some(mbps);
            }
            l
        };
        r.load = vec![
            with_dl("shockwave HTTP/3 (1 worker)", 30_000.0, 3.0, 400.0),
            with_dl("h3 0.0.8 + h3-quinn (1 runtime)", 20_000.0, 4.0, 200.0),
        ];
        for s in &mut r.load[0].samples {
            s.client_busy = Some(0.8);
            s.client_busy_download = Some(0.95);
        }
        let specs = chart_specs(&r);
        let (_, _, panels) = specs
            .iter()
            .find(|c| c.0 == "load_http_3_one_connection.svg")
            .expect("HTTP/3 chart");
        assert_eq!(panels.len(), 4);
        assert!(panels[1].caption.contains("MB/s"));
        let charts: Vec<String> = specs.into_iter().map(|c| c.0).collect();
        let md = render(&r, &charts);
        assert!(md.contains("| req/s ÷ h3 |"), "{md}");
        assert!(
            md.contains("| shockwave HTTP/3 (1 worker) | 30,000 | 27,000–33,000 | 1.50× | 3.00 | 3.00–3.00 | 0.75× | 400 | 400–400 | 2.00× | 80% / 95% | 10.0 MiB | 0 |"),
            "{md}"
        );
        assert!(
            md.contains("| 2.00× | – / – |") || md.contains("| 1.00× | – / – |"),
            "{md}"
        );
        assert!(md.contains("client busy (req / download) |"), "{md}");
        assert!(!md.contains("Not measured in this run (see"), "{md}");
    }

    #[test]
    fn formatting_helpers() {
        assert_eq!(fmt_time(12.34), "12.3 ns");
        assert_eq!(fmt_time(1234.0), "1.23 µs");
        assert_eq!(fmt_time(2_500_000.0), "2.50 ms");
        assert_eq!(fmt_num(1234567.4), "1,234,567");
        assert_eq!(fmt_num(999.0), "999");
        assert_eq!(fmt_num(-1000.0), "-1,000");
        assert_eq!(slug("HTTP/1.1"), "http_1_1");
        assert_eq!(slug("16-deep pipelined"), "16_deep_pipelined");
    }
}
