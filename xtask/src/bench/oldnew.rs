//! Old vs new: two `shockwave` binaries measured side by side in one run.
//!
//! `cargo xtask load --baseline-bin OLD` and `cargo xtask bench --baseline-bin OLD` start
//! the freshly built `shockwave` (or `--new-bin NEW`) and OLD in alternation, a fresh
//! process for every sample (new, old, new, old, ... through [`loadrun::run_scenario`]),
//! and report per figure the median, the range and the new/old ratio of the medians:
//!
//! - HTTP/1.1 16-deep pipelined (wrk + the pipelining script): CPU µs/request and req/s;
//! - HTTP/1.1 plain keep-alive (wrk): CPU µs/request;
//! - h2c prior knowledge (h2load): CPU µs/request;
//! - HTTP/3 (the `h3` crate's client of `h3_baseline`, one connection, 100 streams): req/s.
//!
//! Server CPU is utime + stime of the whole server process (all its threads) from
//! /proc/PID/stat for wrk and h2load, and from /proc/PID/task/*/schedstat for HTTP/3 (the
//! `h3_baseline` client reads it), exactly as `cargo xtask bench` measures it.
//!
//! HTTP/3 is served by `shockwave serve` itself. The flags that turn it on differ between
//! versions (the old binary serves HTTP/3 on the UDP port of `--tls-addr` when TLS is on);
//! [`h3_args_from_help`] reads `shockwave serve --help` to pick them, and
//! `--baseline-h3-args` / `--new-h3-args` override the choice per binary
//! (`{addr}` stands for the UDP address). `--baseline-serve-args` / `--new-serve-args`
//! add arguments to every `shockwave serve` of one binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::loadrun::{self, LoadSettings, Scenario, ServerSpec, Tool};
use super::model::{LoadResult, Spread};
use crate::load;

/// The two binaries and how to serve HTTP/3 with each.
#[derive(Debug, Clone, PartialEq)]
pub struct Binaries {
    /// The `shockwave` under test.
    pub new: PathBuf,
    /// The `shockwave` before the change.
    pub old: PathBuf,
    /// `shockwave serve` arguments that turn HTTP/3 on for `new` (`{addr}`: the UDP
    /// address); `None`: read from `new serve --help`.
    pub new_h3_args: Option<Vec<String>>,
    /// The same for `old`.
    pub old_h3_args: Option<Vec<String>>,
    /// Extra `shockwave serve` arguments for `new` in every scenario.
    pub new_extra: Vec<String>,
    /// Extra `shockwave serve` arguments for `old` in every scenario.
    pub old_extra: Vec<String>,
    /// `--workers N` for both servers (default: theirs).
    pub workers: Option<usize>,
}

/// The options `load` and `bench` share (see [`Flags::parse`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Flags {
    /// `--baseline-bin OLD`: the comparison runs when this is set.
    pub old: Option<PathBuf>,
    /// `--new-bin NEW` (default: the freshly built `shockwave`).
    pub new: Option<PathBuf>,
    /// `--baseline-h3-args "ARGS"`.
    pub old_h3: Option<Vec<String>>,
    /// `--new-h3-args "ARGS"`.
    pub new_h3: Option<Vec<String>>,
    /// `--baseline-serve-args "ARGS"`.
    pub old_extra: Vec<String>,
    /// `--new-serve-args "ARGS"`.
    pub new_extra: Vec<String>,
}

impl Flags {
    /// Takes `flag` (and its value from `value`) if it is one of `--baseline-bin`,
    /// `--new-bin`, `--baseline-h3-args`, `--new-h3-args`, `--baseline-serve-args`,
    /// `--new-serve-args`; returns whether it was.
    pub fn parse(
        &mut self,
        flag: &str,
        mut value: impl FnMut(&str) -> Result<String, String>,
    ) -> Result<bool, String> {
        let split = |s: String| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        match flag {
            "--baseline-bin" => self.old = Some(PathBuf::from(value(flag)?)),
            "--new-bin" => self.new = Some(PathBuf::from(value(flag)?)),
            "--baseline-h3-args" => self.old_h3 = Some(split(value(flag)?)),
            "--new-h3-args" => self.new_h3 = Some(split(value(flag)?)),
            "--baseline-serve-args" => self.old_extra = split(value(flag)?),
            "--new-serve-args" => self.new_extra = split(value(flag)?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The binaries to compare, `new` being the built one unless `--new-bin` was given.
    pub fn binaries(&self, old: PathBuf, new: PathBuf, workers: Option<usize>) -> Binaries {
        Binaries {
            new,
            old,
            new_h3_args: self.new_h3.clone(),
            old_h3_args: self.old_h3.clone(),
            new_extra: self.new_extra.clone(),
            old_extra: self.old_extra.clone(),
            workers,
        }
    }
}

/// `shockwave serve` arguments that serve HTTP/3 on UDP `{addr}`, chosen from the text
/// of `shockwave serve --help`: a dedicated HTTP/3 address flag if there is one,
/// otherwise TLS with a self-signed certificate on `--tls-addr` (HTTP/3 then listens on
/// the same port over UDP), plus a plain `--http3` switch if the binary has one.
pub fn h3_args_from_help(help: &str) -> Option<Vec<String>> {
    let has = |flag: &str| {
        help.split(|c: char| c.is_whitespace() || c == ',' || c == '=')
            .any(|w| w == flag)
    };
    let mut args: Vec<String> = Vec::new();
    if let Some(flag) = ["--http3-addr", "--h3-addr", "--quic-addr"]
        .into_iter()
        .find(|f| has(f))
    {
        args.extend([flag.to_string(), "{addr}".into()]);
        if has("--self-signed") {
            args.push("--self-signed".into());
        }
    } else if has("--tls-addr") && has("--self-signed") {
        args.extend(["--self-signed", "--tls-addr", "{addr}"].map(String::from));
    } else {
        return None;
    }
    if has("--http3") {
        args.push("--http3".into());
    }
    Some(args)
}

/// `program serve --help`, stdout and stderr together.
fn serve_help(program: &Path) -> Result<String, String> {
    let out = Command::new(program)
        .args(["serve", "--help"])
        .output()
        .map_err(|e| format!("{} serve --help: {e}", program.display()))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok(text)
}

/// `shockwave serve` on `{addr}` (TCP) with arena allocation, like the bench's own spec.
fn tcp_spec(label: &str, program: &Path, extra: &[String], workers: Option<usize>) -> ServerSpec {
    let mut spec = ServerSpec::shockwave(program.parent().unwrap_or(Path::new(".")), "arena");
    spec.label = label.into();
    spec.program = program.to_path_buf();
    if let Some(w) = workers {
        spec.args.extend(["--workers".into(), w.to_string()]);
    }
    spec.args.extend(extra.iter().cloned());
    spec
}

/// `shockwave serve` serving HTTP/3 on UDP `{addr}` (plain HTTP on an ephemeral port);
/// ready once it prints a line that mentions HTTP/3.
fn h3_spec(
    label: &str,
    program: &Path,
    h3_args: &[String],
    extra: &[String],
    workers: Option<usize>,
) -> ServerSpec {
    let mut args: Vec<String> = ["serve", "--addr", "127.0.0.1:0"]
        .map(String::from)
        .to_vec();
    args.extend(h3_args.iter().cloned());
    if let Some(w) = workers {
        args.extend(["--workers".into(), w.to_string()]);
    }
    args.extend(extra.iter().cloned());
    ServerSpec {
        label: label.into(),
        program: program.to_path_buf(),
        args,
        has_stats: true,
        udp: true,
        ready_marker: "HTTP/3",
        tls: false,
        config: None,
    }
}

/// The HTTP/3 arguments of one binary: the override, or what its `--help` offers.
fn h3_args_for(program: &Path, given: &Option<Vec<String>>) -> Result<Vec<String>, String> {
    if let Some(a) = given {
        return Ok(a.clone());
    }
    let help = serve_help(program)?;
    h3_args_from_help(&help).ok_or_else(|| {
        format!(
            "{} serve --help shows no way to serve HTTP/3 (no --http3-addr / --h3-addr, no \
             --tls-addr with --self-signed); pass its flags with --new-h3-args / \
             --baseline-h3-args, `{{addr}}` standing for the UDP address",
            program.display()
        )
    })
}

/// The labels of the two servers in the report.
const NEW: &str = "new";
const OLD: &str = "old";

/// The scenarios, each with the new and the old server in that turn order.
/// `h3_client`: the `h3_baseline` binary (None: no HTTP/3 scenario, with a note why).
pub fn scenarios(
    b: &Binaries,
    s: &LoadSettings,
    lua: &Path,
    h3_client: Option<&Path>,
    notes: &mut Vec<String>,
) -> Vec<Scenario> {
    let pair = || {
        vec![
            tcp_spec(NEW, &b.new, &b.new_extra, b.workers),
            tcp_spec(OLD, &b.old, &b.old_extra, b.workers),
        ]
    };
    let wrk_text = |extra: &str| {
        format!(
            "wrk -t1 -c{} -d{}s{extra} http://127.0.0.1:PORT/",
            s.connections, s.duration
        )
    };
    let mut v = vec![
        Scenario {
            protocol: "HTTP/1.1",
            name: "16-deep pipelining",
            tool_text: wrk_text(" -s pipeline16.lua"),
            tool: Tool::Wrk {
                script: Some(lua.to_path_buf()),
            },
            servers: pair(),
        },
        Scenario {
            protocol: "HTTP/1.1",
            name: "plain keep-alive",
            tool_text: wrk_text(""),
            tool: Tool::Wrk { script: None },
            servers: pair(),
        },
        Scenario {
            protocol: "HTTP/2",
            name: "h2c prior knowledge",
            tool_text: format!(
                "h2load -n {} -c {} -m {} -t 1 http://127.0.0.1:PORT/",
                s.h2_requests, s.h2_clients, s.h2_streams
            ),
            tool: Tool::H2load,
            servers: pair(),
        },
    ];
    let Some(client) = h3_client else {
        notes.push("HTTP/3: no h3_baseline client binary, so no HTTP/3 figures".into());
        return v;
    };
    let servers = [
        (NEW, &b.new, &b.new_h3_args, &b.new_extra),
        (OLD, &b.old, &b.old_h3_args, &b.old_extra),
    ]
    .into_iter()
    .map(|(label, program, given, extra)| {
        h3_args_for(program, given).map(|a| h3_spec(label, program, &a, extra, b.workers))
    })
    .collect::<Result<Vec<_>, String>>();
    match servers {
        Ok(servers) => v.push(Scenario {
            protocol: "HTTP/3",
            name: "one connection x 100 streams",
            tool_text: format!("h3_baseline client h3 ADDR {} 0", s.h3_requests),
            tool: Tool::H3 {
                program: client.to_path_buf(),
                client: "h3",
            },
            servers,
        }),
        Err(e) => notes.push(format!("HTTP/3 not compared: {e}")),
    }
    v
}

/// One line of the comparison: a figure of a scenario for both binaries.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `HTTP/1.1 16-deep pipelining`, ...
    pub scenario: String,
    /// `CPU µs/req` or `req/s`.
    pub figure: &'static str,
    /// Whether a larger figure is better (req/s) or a smaller one (CPU).
    pub higher_is_better: bool,
    /// The new binary's figures.
    pub new: Spread,
    /// The old binary's figures.
    pub old: Spread,
    /// Samples per binary.
    pub samples: (usize, usize),
    /// Load generator errors per binary.
    pub errors: (u64, u64),
}

impl Row {
    /// new / old of the medians.
    pub fn ratio(&self) -> f64 {
        self.new.median / self.old.median
    }
    /// Whether the two ranges overlap (then the difference is within the noise).
    pub fn overlap(&self) -> bool {
        self.new.min <= self.old.max && self.old.min <= self.new.max
    }
    /// The change in the good direction counts as no regression; a worse one must stay
    /// within `pct` percent.
    pub fn within(&self, pct: f64) -> bool {
        let r = self.ratio();
        if self.higher_is_better {
            r >= 1.0 - pct / 100.0
        } else {
            r <= 1.0 + pct / 100.0
        }
    }
}

/// The figures each scenario is compared on.
fn figures(protocol: &str, scenario: &str) -> &'static [(&'static str, bool)] {
    match (protocol, scenario) {
        ("HTTP/1.1", s) if s.contains("pipelining") => &[("CPU µs/req", false), ("req/s", true)],
        ("HTTP/3", _) => &[("req/s", true)],
        _ => &[("CPU µs/req", false)],
    }
}

/// Pairs the new and the old results of each scenario into rows. `h3_download_errors`:
/// HTTP/3 samples count one error for the download that `shockwave serve` cannot serve
/// (the comparison asks for 0 MiB); it is taken off.
pub fn rows(results: &[LoadResult]) -> Vec<Row> {
    let mut out = Vec::new();
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for r in results {
        let key = (r.protocol.as_str(), r.scenario.as_str());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let find = |label: &str| {
            results
                .iter()
                .find(|x| x.protocol == r.protocol && x.scenario == r.scenario && x.server == label)
        };
        let (Some(n), Some(o)) = (find(NEW), find(OLD)) else {
            continue;
        };
        let errors = |x: &LoadResult| -> u64 {
            x.samples
                .iter()
                .map(|s| {
                    let download = u64::from(x.protocol == "HTTP/3" && s.download_mbps.is_none());
                    s.errors.saturating_sub(download)
                })
                .sum()
        };
        for (figure, higher) in figures(&r.protocol, &r.scenario) {
            let pick = |x: &LoadResult| if *higher { x.rps() } else { x.cpu() };
            if let (Some(ns), Some(os)) = (pick(n), pick(o)) {
                out.push(Row {
                    scenario: format!("{} {}", r.protocol, r.scenario),
                    figure,
                    higher_is_better: *higher,
                    new: ns,
                    old: os,
                    samples: (n.samples.len(), o.samples.len()),
                    errors: (errors(n), errors(o)),
                });
            }
        }
    }
    out
}

fn fmt(x: f64) -> String {
    if x.abs() >= 1000.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.3}")
    }
}

/// The comparison as a Markdown table (median [min–max], ratio, verdict at 5%).
pub fn render(rows: &[Row], b: &Binaries, s: &LoadSettings) -> String {
    let mut t = format!(
        "old: {}\nnew: {}\n{} alternating rounds (new, old, new, old, ...), each sample a fresh \
         server process; median [min–max]; ratio = new/old of the medians\n\n",
        b.old.display(),
        b.new.display(),
        s.rounds
    );
    t.push_str(
        "| scenario | figure | new | old | new/old | within 5% | ranges overlap | errors new/old |\n",
    );
    t.push_str("|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        t.push_str(&format!(
            "| {} | {} | {} [{}–{}] (n={}) | {} [{}–{}] (n={}) | {:.3} | {} | {} | {}/{} |\n",
            r.scenario,
            r.figure,
            fmt(r.new.median),
            fmt(r.new.min),
            fmt(r.new.max),
            r.samples.0,
            fmt(r.old.median),
            fmt(r.old.min),
            fmt(r.old.max),
            r.samples.1,
            r.ratio(),
            if r.within(5.0) { "yes" } else { "NO" },
            if r.overlap() { "yes" } else { "no" },
            r.errors.0,
            r.errors.1,
        ));
    }
    t.push_str(
        "\nCPU µs/req: lower is better (ratio < 1: new cheaper). req/s: higher is better. The \
         noise is the range: a ratio inside both ranges' overlap is not a difference.\n",
    );
    t
}

/// Builds what the comparison needs: the new `shockwave` (unless `--new-bin` was given)
/// and the `h3_baseline` client, with cargo profile `profile`. Returns the new binary and
/// the client (None, with a note, if it did not build).
pub fn build(
    profile: &str,
    build: bool,
    new_bin: Option<PathBuf>,
    notes: &mut Vec<String>,
) -> Result<(PathBuf, Option<PathBuf>), String> {
    let dir = load::profile_dir(profile);
    if build {
        if new_bin.is_none() {
            load::build_shockwave(profile)?;
        }
        let mut cmd = crate::cargo();
        cmd.args(["build", "--profile", profile, "-p", "shockwave-benches"])
            .args(["--bin", "h3_baseline"]);
        if let Err(e) = crate::run(&mut cmd) {
            notes.push(format!("h3_baseline did not build: {e}"));
        }
    }
    let new = new_bin.unwrap_or_else(|| dir.join("shockwave"));
    let client = dir.join("h3_baseline");
    Ok((new, client.is_file().then_some(client)))
}

/// Runs every scenario for both binaries and prints the table; saves the raw samples as
/// JSON to `save` when given. Returns the rows.
pub fn run(
    b: &Binaries,
    s: &LoadSettings,
    h3_client: Option<&Path>,
    save: Option<&Path>,
    notes: &mut Vec<String>,
) -> Result<Vec<Row>, String> {
    for p in [&b.new, &b.old] {
        if !p.is_file() {
            return Err(format!("{} does not exist", p.display()));
        }
    }
    let lua = std::env::temp_dir().join(format!(
        "shockwave-oldnew-pipeline-{}.lua",
        std::process::id()
    ));
    std::fs::write(&lua, load::PIPELINE_LUA)
        .map_err(|e| format!("writing {}: {e}", lua.display()))?;
    let mut results = Vec::new();
    for sc in scenarios(b, s, &lua, h3_client, notes) {
        results.append(&mut loadrun::run_scenario(&sc, s, notes));
    }
    let _ = std::fs::remove_file(&lua);
    if let Some(path) = save {
        let json = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(path, json).map_err(|e| format!("writing {}: {e}", path.display()))?;
        eprintln!("xtask: old-vs-new samples saved to {}", path.display());
    }
    let rows = rows(&results);
    println!("\n{}", render(&rows, b, s));
    for n in notes.iter() {
        println!("note: {n}");
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::model::LoadSample;

    const OLD_HELP: &str = "Usage: shockwave serve [OPTIONS]\n\nOptions:\n      --addr <ADDR>          Plain-text HTTP address\n      --tls-addr <TLS_ADDR>  HTTPS address\n      --self-signed          Generate a self-signed certificate\n  -h, --help                 Print help\n";

    #[test]
    fn h3_flags_come_from_help() {
        assert_eq!(
            h3_args_from_help(OLD_HELP).unwrap(),
            ["--self-signed", "--tls-addr", "{addr}"]
        );
        let new = "      --http3-addr <ADDR>  HTTP/3 (UDP) address\n      --self-signed  x\n";
        assert_eq!(
            h3_args_from_help(new).unwrap(),
            ["--http3-addr", "{addr}", "--self-signed"]
        );
        let switch = "--tls-addr <A>\n--self-signed\n--http3  Also serve HTTP/3\n";
        assert_eq!(
            h3_args_from_help(switch).unwrap(),
            ["--self-signed", "--tls-addr", "{addr}", "--http3"]
        );
        assert_eq!(h3_args_from_help("--addr <ADDR>\n"), None);
    }

    #[test]
    fn shared_flags_parse() {
        let mut f = Flags::default();
        let v = |_: &str| Ok::<_, String>("--http3-addr {addr} --self-signed".to_string());
        assert!(f.parse("--new-h3-args", v).unwrap());
        assert_eq!(
            f.new_h3.as_deref().unwrap(),
            ["--http3-addr", "{addr}", "--self-signed"]
        );
        let p = |_: &str| Ok::<_, String>("/b/old".to_string());
        assert!(f.parse("--baseline-bin", p).unwrap());
        assert_eq!(f.old.as_deref().unwrap(), Path::new("/b/old"));
        let x = |_: &str| Ok::<_, String>("--alloc heap".to_string());
        assert!(f.parse("--baseline-serve-args", x).unwrap());
        assert!(!f.parse("--quick", p).unwrap());
        let b = f.binaries("/o".into(), "/n".into(), Some(2));
        assert_eq!(b.old_extra, ["--alloc", "heap"]);
        assert!(b.new_extra.is_empty());
        assert_eq!(b.workers, Some(2));
    }

    #[test]
    fn specs_use_each_binary() {
        let s = tcp_spec(NEW, Path::new("/x/shockwave"), &[], Some(2));
        assert_eq!(s.program, Path::new("/x/shockwave"));
        assert_eq!(
            s.args.join(" "),
            "serve --addr {addr} --alloc arena --workers 2"
        );
        let extra = ["--root".to_string(), "/tmp".to_string()];
        let h3 = h3_args_from_help(OLD_HELP).unwrap();
        let h = h3_spec(OLD, Path::new("/o"), &h3, &extra, None);
        assert!(h.udp);
        assert_eq!(
            h.args.join(" "),
            "serve --addr 127.0.0.1:0 --self-signed --tls-addr {addr} --root /tmp"
        );
    }

    fn result(protocol: &str, scenario: &str, server: &str, v: &[(f64, f64)]) -> LoadResult {
        LoadResult {
            protocol: protocol.into(),
            scenario: scenario.into(),
            tool: String::new(),
            server: server.into(),
            samples: v
                .iter()
                .map(|&(rps, cpu)| LoadSample {
                    requests: 1,
                    rps,
                    cpu_us_per_req: cpu,
                    errors: u64::from(protocol == "HTTP/3"),
                    ..LoadSample::default()
                })
                .collect(),
        }
    }

    #[test]
    fn rows_pair_new_and_old_with_medians() {
        let results = vec![
            result(
                "HTTP/1.1",
                "16-deep pipelining",
                NEW,
                &[(100.0, 1.0), (120.0, 1.2), (110.0, 1.1)],
            ),
            result(
                "HTTP/1.1",
                "16-deep pipelining",
                OLD,
                &[(100.0, 1.0), (100.0, 1.0), (100.0, 1.0)],
            ),
            result("HTTP/2", "h2c prior knowledge", NEW, &[(1.0, 2.0)]),
            result("HTTP/2", "h2c prior knowledge", OLD, &[(1.0, 2.2)]),
            result(
                "HTTP/3",
                "one connection x 100 streams",
                NEW,
                &[(900.0, 5.0)],
            ),
            result(
                "HTTP/3",
                "one connection x 100 streams",
                OLD,
                &[(1000.0, 5.0)],
            ),
        ];
        let r = rows(&results);
        assert_eq!(r.len(), 4);
        assert_eq!((r[0].figure, r[1].figure), ("CPU µs/req", "req/s"));
        assert!((r[0].ratio() - 1.1).abs() < 1e-9);
        assert!(!r[0].within(5.0) && r[1].within(5.0));
        assert!(r[2].within(5.0), "cheaper is never a regression");
        assert_eq!(r[3].figure, "req/s");
        assert!(!r[3].within(5.0));
        assert_eq!(r[3].errors, (0, 0), "the unserved download is not an error");
        let text = render(
            &r,
            &Flags::default().binaries("/o".into(), "/n".into(), None),
            &LoadSettings {
                rounds: 3,
                duration: 1,
                connections: 1,
                warmup: 0,
                h2_requests: 1,
                h2_clients: 1,
                h2_streams: 1,
                long_requests: 0,
                long_warmup: 0,
                h3_requests: 1,
                h3_mib: 0,
            },
        );
        assert!(text
            .contains("| HTTP/1.1 16-deep pipelining | CPU µs/req | 1.100 [1.000–1.200] (n=3) |"));
        assert!(text.contains("| 1.100 | NO | yes |"), "{text}");
        assert!(r[0].overlap() && r[1].overlap());
        assert!(!r[2].overlap() && !r[3].overlap());
    }
}
