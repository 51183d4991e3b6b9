//! The criterion micro-benches: which bench measures what against which peer (a data
//! table), running them, and reading criterion's estimates and the benches' `allocs/...`
//! lines back.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::SystemTime;

use serde::Deserialize;

use super::model::MicroResult;
use crate::{cargo, describe};

/// The bench targets of `shockwave-benches`, in run order, with a title.
pub const BENCHES: &[(&str, &str)] = &[
    ("http11", "HTTP/1.1 request parsing"),
    ("hpack", "HPACK"),
    ("frames", "HTTP/2 frames"),
    ("qpack", "QPACK"),
    ("arena", "Arena vs heap request graph"),
    ("client", "HTTP/1.1 client, sequential keep-alive GET"),
];

/// One implementation measured in a [`Case`].
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    /// Criterion function id inside the case's group.
    pub function: &'static str,
    /// Label in the report.
    pub label: &'static str,
    /// Ours (true) or a peer (false).
    pub ours: bool,
    /// The name of the bench's `allocs/...` line, when it differs from the criterion id.
    pub allocs: Option<String>,
}

/// One criterion group: our implementations next to the peers.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Bench target.
    pub bench: &'static str,
    /// Title in the report.
    pub title: String,
    /// Criterion group id.
    pub group: String,
    /// Implementations; ratios are taken against the first peer.
    pub subjects: Vec<Subject>,
}

impl Case {
    /// Criterion's full id of `s`.
    pub fn id(&self, s: &Subject) -> String {
        format!("{}/{}", self.group, s.function)
    }
    /// The first peer: the reference of the ratios.
    pub fn reference(&self) -> Option<&Subject> {
        self.subjects.iter().find(|s| !s.ours)
    }
}

fn ours(function: &'static str, label: &'static str) -> Subject {
    Subject {
        function,
        label,
        ours: true,
        allocs: None,
    }
}

fn peer(function: &'static str, label: &'static str) -> Subject {
    Subject {
        function,
        label,
        ours: false,
        allocs: None,
    }
}

fn with_allocs(mut s: Subject, name: impl Into<String>) -> Subject {
    s.allocs = Some(name.into());
    s
}

/// The pairing table: every group of the benches, ours next to its peers. A result that is
/// missing is reported as missing; a result not listed here is reported as unpaired.
pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    for (input, title) in [
        ("plaintext", "GET /plaintext (TechEmpower)"),
        ("browser_get_15_headers", "browser GET, 15 headers"),
        ("pipelined_16", "16 pipelined GETs"),
        ("chunked_post", "chunked POST"),
    ] {
        v.push(Case {
            bench: "http11",
            title: format!("parse {title}"),
            group: format!("http11/{input}"),
            subjects: vec![
                ours("shockwave_arena", "shockwave-http11 (arena)"),
                ours("shockwave_heap", "shockwave-http11 (heap)"),
                peer("httparse", "httparse"),
            ],
        });
    }
    for (group, title, allocs) in [
        (
            "hpack_decode/requests",
            "decode nghttp2 request stories",
            None,
        ),
        (
            "hpack_decode/responses",
            "decode nghttp2 response stories",
            None,
        ),
        (
            "hpack_decode/browser_request",
            "decode a browser request",
            Some("hpack_decode/browser"),
        ),
    ] {
        let a = |s: Subject| match allocs {
            Some(prefix) => {
                let name = format!("{prefix} {}", s.function);
                with_allocs(s, name)
            }
            None => s,
        };
        v.push(Case {
            bench: "hpack",
            title: title.into(),
            group: group.into(),
            subjects: vec![
                a(ours("shockwave-hpack", "shockwave-hpack")),
                a(ours("shockwave-hpack/arena", "shockwave-hpack (arena)")),
                a(peer("hpack", "hpack")),
                a(peer("httlib-hpack", "httlib-hpack")),
            ],
        });
    }
    for (ctx, title) in [
        ("requests", "encode request stories"),
        ("responses", "encode response stories"),
        ("browser_request", "encode a browser request"),
    ] {
        v.push(Case {
            bench: "hpack",
            title: title.into(),
            group: format!("hpack_encode/{ctx}"),
            subjects: vec![
                ours("shockwave-hpack", "shockwave-hpack"),
                peer("hpack", "hpack"),
                peer("httlib-hpack", "httlib-hpack"),
            ],
        });
    }
    v.push(Case {
        bench: "frames",
        title: "decode / encode a frame mix (no peer crate exposes a frame codec)".into(),
        group: "h2_frames".into(),
        subjects: vec![
            with_allocs(
                ours("decode_mix/frames", "decode (per mix)"),
                "h2_frames/decode_mix",
            ),
            with_allocs(
                ours("encode_mix/frames", "encode (per mix)"),
                "h2_frames/encode_mix",
            ),
            ours("decode_mix/bytes", "decode (bytes/s)"),
            ours("encode_mix/bytes", "encode (bytes/s)"),
        ],
    });
    v.push(Case {
        bench: "qpack",
        title: "encode a field section (no peer)".into(),
        group: "qpack/encode".into(),
        subjects: vec![ours("request", "request"), ours("response", "response")],
    });
    v.push(Case {
        bench: "qpack",
        title: "decode a field section (no peer)".into(),
        group: "qpack/decode".into(),
        subjects: vec![
            ours("request/arena", "request, into an arena"),
            ours("request/callback", "request, callback"),
            ours("response/arena", "response, into an arena"),
            ours("response/callback", "response, callback"),
            ours("request-dynamic/arena", "request, dynamic table, arena"),
        ],
    });
    v.push(Case {
        bench: "arena",
        title: "build and drop a request-shaped object graph".into(),
        group: "request_graph".into(),
        subjects: vec![
            ours("arena_pool", "pooled arena"),
            peer("heap", "Box/Vec/String (heap)"),
        ],
    });
    v.push(Case {
        bench: "client",
        title: "GET over one keep-alive connection".into(),
        group: "client_sequential_keepalive_get".into(),
        subjects: vec![
            with_allocs(
                ours("shockwave_arena", "shockwave (arena API)"),
                "shockwave_arena",
            ),
            with_allocs(
                ours("shockwave_owned", "shockwave (owned API)"),
                "shockwave_owned",
            ),
            with_allocs(peer("hyper_util_legacy", "hyper-util"), "hyper_util_legacy"),
            with_allocs(peer("reqwest", "reqwest"), "reqwest"),
        ],
    });
    v
}

/// Criterion settings for one mode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CriterionArgs {
    /// `--warm-up-time` seconds.
    pub warm_up: f64,
    /// `--measurement-time` seconds.
    pub measurement: f64,
    /// `--sample-size`.
    pub sample_size: usize,
    /// `--nresamples`.
    pub nresamples: usize,
    /// Draw criterion's plots (HTML reports).
    pub plots: bool,
}

impl CriterionArgs {
    /// The arguments after `--`.
    pub fn to_args(self) -> Vec<String> {
        let mut a = vec![
            "--warm-up-time".to_string(),
            self.warm_up.to_string(),
            "--measurement-time".into(),
            self.measurement.to_string(),
            "--sample-size".into(),
            self.sample_size.to_string(),
            "--nresamples".into(),
            self.nresamples.to_string(),
        ];
        if !self.plots {
            a.push("--noplot".into());
        }
        a
    }
}

/// One `allocs/iter NAME N allocs M bytes` line.
#[derive(Debug, Clone, PartialEq)]
pub struct AllocLine {
    /// The name the bench printed.
    pub name: String,
    /// Allocations per iteration.
    pub allocs: f64,
    /// Bytes per iteration.
    pub bytes: f64,
}

/// Parses the `allocs/iter` (and `allocs/request`) lines of a bench's output; other lines
/// are ignored. Names may contain spaces.
pub fn parse_alloc_lines(out: &str) -> Vec<AllocLine> {
    let mut v = Vec::new();
    for line in out.lines() {
        let Some(rest) = line
            .strip_prefix("allocs/iter ")
            .or_else(|| line.strip_prefix("allocs/request "))
        else {
            continue;
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        let n = words.len();
        if n < 5 || words[n - 3] != "allocs" || words[n - 1] != "bytes" {
            continue;
        }
        let (Ok(allocs), Ok(bytes)) = (words[n - 4].parse(), words[n - 2].parse()) else {
            continue;
        };
        v.push(AllocLine {
            name: words[..n - 4].join(" "),
            allocs,
            bytes,
        });
    }
    v
}

#[derive(Deserialize)]
struct BenchmarkJson {
    full_id: String,
    #[serde(default)]
    throughput: Option<ThroughputJson>,
}

#[derive(Deserialize)]
enum ThroughputJson {
    Bytes(u64),
    BytesDecimal(u64),
    Elements(u64),
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct EstimatesJson {
    median: EstimateJson,
}

#[derive(Deserialize)]
struct EstimateJson {
    point_estimate: f64,
    confidence_interval: IntervalJson,
}

#[derive(Deserialize)]
struct IntervalJson {
    lower_bound: f64,
    upper_bound: f64,
}

/// Builds a result from the text of criterion's `new/benchmark.json` and
/// `new/estimates.json`.
pub fn parse_criterion(
    bench: &str,
    benchmark_json: &str,
    estimates_json: &str,
) -> Result<MicroResult, String> {
    let b: BenchmarkJson =
        serde_json::from_str(benchmark_json).map_err(|e| format!("benchmark.json: {e}"))?;
    let e: EstimatesJson =
        serde_json::from_str(estimates_json).map_err(|e| format!("estimates.json: {e}"))?;
    let (throughput_bytes, throughput_elements) = match b.throughput {
        Some(ThroughputJson::Bytes(n) | ThroughputJson::BytesDecimal(n)) => (Some(n), None),
        Some(ThroughputJson::Elements(n)) => (None, Some(n)),
        _ => (None, None),
    };
    Ok(MicroResult {
        bench: bench.into(),
        id: b.full_id,
        median_ns: e.median.point_estimate,
        lower_ns: e.median.confidence_interval.lower_bound,
        upper_ns: e.median.confidence_interval.upper_bound,
        throughput_bytes,
        throughput_elements,
        allocs: None,
        alloc_bytes: None,
    })
}

/// Every `new/benchmark.json` under `dir` whose estimates were written at or after `since`.
fn fresh_results(dir: &Path, since: SystemTime, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            let est = path.join("estimates.json");
            let fresh = std::fs::metadata(&est)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since);
            if fresh && path.join("benchmark.json").is_file() {
                out.push(path);
            }
        } else if path
            .file_name()
            .is_some_and(|n| n != "report" && n != "base")
        {
            fresh_results(&path, since, out);
        }
    }
}

/// Attaches the bench's allocation lines to its results: by the pairing table's names,
/// else by the criterion id itself.
pub fn attach_allocs(results: &mut [MicroResult], bench: &str, lines: &[AllocLine]) {
    let cases = cases();
    for r in results.iter_mut().filter(|r| r.bench == bench) {
        let listed = cases
            .iter()
            .filter(|c| c.bench == bench)
            .flat_map(|c| c.subjects.iter().map(move |s| (c.id(s), s)))
            .find(|(id, _)| *id == r.id)
            .and_then(|(_, s)| s.allocs.clone());
        let name = listed.unwrap_or_else(|| r.id.clone());
        if let Some(l) = lines.iter().find(|l| l.name == name) {
            r.allocs = Some(l.allocs);
            r.alloc_bytes = Some(l.bytes);
        }
    }
}

/// Runs one bench target and returns its results, or why it could not run.
pub fn run_bench(
    bench: &str,
    profile: &str,
    args: CriterionArgs,
    criterion_dir: &Path,
) -> Result<Vec<MicroResult>, String> {
    let start = SystemTime::now();
    let mut cmd = cargo();
    cmd.args(["bench", "--profile", profile, "-p", "shockwave-benches"])
        .args(["--bench", bench, "--"])
        .args(args.to_args())
        .env("CRITERION_HOME", criterion_dir)
        .stdout(Stdio::piped());
    eprintln!("xtask bench: $ {}", describe(&cmd));
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start cargo bench: {e}"))?;
    let mut out = String::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            eprintln!("{line}");
            out.push_str(&line);
            out.push('\n');
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for cargo bench: {e}"))?;
    if !status.success() {
        return Err(format!(
            "`cargo bench --bench {bench}` failed ({status}); its output is above"
        ));
    }
    let mut dirs = Vec::new();
    fresh_results(criterion_dir, start, &mut dirs);
    let mut results = Vec::new();
    let mut seen = HashSet::new();
    for d in dirs {
        let read = |f: &str| std::fs::read_to_string(d.join(f)).map_err(|e| format!("{f}: {e}"));
        match read("benchmark.json")
            .and_then(|b| read("estimates.json").and_then(|e| parse_criterion(bench, &b, &e)))
        {
            Ok(r) => {
                if seen.insert(r.id.clone()) {
                    results.push(r);
                }
            }
            Err(e) => eprintln!("xtask bench: skipping {}: {e}", d.display()),
        }
    }
    if results.is_empty() {
        return Err(format!(
            "`cargo bench --bench {bench}` wrote no results under {}",
            criterion_dir.display()
        ));
    }
    results.sort_by(|a, b| a.id.cmp(&b.id));
    attach_allocs(&mut results, bench, &parse_alloc_lines(&out));
    Ok(results)
}

/// Builds the bench targets first, so that compile time is not mistaken for run time.
/// Returns the benches that failed to build, with the reason.
pub fn build_benches(profile: &str, benches: &[&'static str]) -> BTreeMap<&'static str, String> {
    let mut failed = BTreeMap::new();
    for bench in benches {
        let mut cmd = cargo();
        cmd.args(["bench", "--no-run", "--profile", profile, "-p"])
            .args(["shockwave-benches", "--bench", bench]);
        if let Err(e) = crate::run(&mut cmd) {
            failed.insert(*bench, e);
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    const BENCHMARK: &str = r#"{"group_id":"hpack_decode/browser_request","function_id":"shockwave-hpack/arena","value_str":null,"throughput":{"Bytes":523},"full_id":"hpack_decode/browser_request/shockwave-hpack/arena","directory_name":"hpack_decode_browser_request/shockwave-hpack_arena","title":"hpack_decode/browser_request/shockwave-hpack/arena"}"#;
    const ESTIMATES: &str = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":4635.3,"upper_bound":5103.1},"point_estimate":4873.2,"standard_error":119.4},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":4875.2,"upper_bound":5214.2},"point_estimate":5025.1,"standard_error":86.4},"median_abs_dev":{"confidence_interval":{"confidence_level":0.95,"lower_bound":512.3,"upper_bound":945.8},"point_estimate":723.9,"standard_error":106.5},"slope":null,"std_dev":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1001.8,"upper_bound":1356.4},"point_estimate":1194.4,"standard_error":90.4}}"#;

    #[test]
    fn criterion_estimates_parse() {
        let r = parse_criterion("hpack", BENCHMARK, ESTIMATES).unwrap();
        assert_eq!(r.id, "hpack_decode/browser_request/shockwave-hpack/arena");
        assert_eq!(r.bench, "hpack");
        assert_eq!(r.median_ns, 5025.1);
        assert_eq!((r.lower_ns, r.upper_ns), (4875.2, 5214.2));
        assert_eq!(r.throughput_bytes, Some(523));
        assert_eq!(r.throughput_elements, None);
        let elements = BENCHMARK.replace(r#"{"Bytes":523}"#, r#"{"Elements":7}"#);
        let r = parse_criterion("x", &elements, ESTIMATES).unwrap();
        assert_eq!((r.throughput_bytes, r.throughput_elements), (None, Some(7)));
        let none = BENCHMARK.replace(r#"{"Bytes":523}"#, "null");
        let r = parse_criterion("x", &none, ESTIMATES).unwrap();
        assert_eq!((r.throughput_bytes, r.throughput_elements), (None, None));
        assert!(parse_criterion("x", "{}", ESTIMATES).is_err());
        assert!(parse_criterion("x", BENCHMARK, "{\"mean\":1}").is_err());
    }

    #[test]
    fn alloc_lines_parse_with_spaces_in_names() {
        let out = "\
frames mix: 40 frames, 9000 bytes per iteration
allocs/iter http11/plaintext/shockwave_arena                 0.00 allocs        0.0 bytes
allocs/iter hpack_decode/browser shockwave-hpack/arena       0.00 allocs        0.0 bytes
allocs/request hyper_util_legacy                        12.50 allocs     1234.5 bytes
allocs/iter broken line
Benchmarking http11/plaintext/httparse: Warming up for 3.0000 s
";
        let v = parse_alloc_lines(out);
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].name, "http11/plaintext/shockwave_arena");
        assert_eq!(v[1].name, "hpack_decode/browser shockwave-hpack/arena");
        assert_eq!(
            v[2],
            AllocLine {
                name: "hyper_util_legacy".into(),
                allocs: 12.5,
                bytes: 1234.5
            }
        );
    }

    #[test]
    fn allocs_attach_by_table_name_or_id() {
        let mk = |bench: &str, id: &str| MicroResult {
            bench: bench.into(),
            id: id.into(),
            ..MicroResult::default()
        };
        let mut rs = vec![
            mk("hpack", "hpack_decode/browser_request/hpack"),
            mk("http11", "http11/plaintext/httparse"),
            mk("client", "client_sequential_keepalive_get/reqwest"),
        ];
        let lines = parse_alloc_lines(
            "allocs/iter hpack_decode/browser hpack 3.00 allocs 96.0 bytes\n\
             allocs/iter http11/plaintext/httparse 1.00 allocs 8.0 bytes\n\
             allocs/request reqwest 20.00 allocs 4000.0 bytes\n",
        );
        attach_allocs(&mut rs, "hpack", &lines);
        attach_allocs(&mut rs, "http11", &lines);
        attach_allocs(&mut rs, "client", &lines);
        assert_eq!(rs[0].allocs, Some(3.0));
        assert_eq!(rs[0].alloc_bytes, Some(96.0));
        assert_eq!(rs[1].allocs, Some(1.0));
        assert_eq!(rs[2].allocs, Some(20.0));
    }

    #[test]
    fn every_case_has_a_known_bench_and_unique_ids() {
        let cases = cases();
        let mut ids = HashSet::new();
        for c in &cases {
            assert!(BENCHES.iter().any(|(b, _)| *b == c.bench), "{}", c.bench);
            for s in &c.subjects {
                assert!(ids.insert(c.id(s)), "duplicate {}", c.id(s));
            }
        }
        assert!(cases.iter().any(|c| c.reference().is_some()));
    }

    #[test]
    fn criterion_args_for_a_quick_run() {
        let a = CriterionArgs {
            warm_up: 0.5,
            measurement: 1.0,
            sample_size: 20,
            nresamples: 10000,
            plots: false,
        }
        .to_args();
        assert_eq!(
            a,
            [
                "--warm-up-time",
                "0.5",
                "--measurement-time",
                "1",
                "--sample-size",
                "20",
                "--nresamples",
                "10000",
                "--noplot"
            ]
        );
    }
}
