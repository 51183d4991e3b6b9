//! The results of one `cargo xtask bench` run, as saved with `--save NAME` (JSON).

use serde::{Deserialize, Serialize};

/// Version of the JSON layout below; bumped on incompatible changes.
pub const SCHEMA: u32 = 1;

/// Everything one run measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// [`SCHEMA`] of the file.
    pub schema: u32,
    /// `full`, `quick` or `smoke`.
    pub mode: String,
    /// The command line that produced the run.
    pub command: String,
    /// UTC date and time of the start of the run (`YYYY-MM-DD HH:MM UTC`).
    pub date: String,
    /// The machine it ran on.
    pub machine: Machine,
    /// Settings that shape the figures (durations, rounds, connections), in words.
    pub settings: Vec<String>,
    /// Criterion micro-benchmark results.
    pub micro: Vec<MicroResult>,
    /// Micro-benchmarks that could not run, with the reason.
    pub micro_notes: Vec<String>,
    /// Load comparisons.
    pub load: Vec<LoadResult>,
    /// Load comparisons that could not run, with the reason.
    pub load_notes: Vec<String>,
    /// Memory after a long run.
    pub long_run: Vec<LongRun>,
    /// Memory per idle keep-alive connection.
    #[serde(default)]
    pub idle_memory: Vec<IdleMemory>,
}

/// A server holding many idle keep-alive connections (see `bench::idle`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IdleMemory {
    /// `HTTP/1.1` or `HTTP/2 (h2c)`.
    pub protocol: String,
    /// The server's label.
    pub server: String,
    /// Connections the harness opened (each served one request, then stayed idle).
    pub connections: u64,
    /// Connections still open when the memory was read.
    pub open: u64,
    /// RSS of the server's process tree after one warm-up connection, KiB.
    pub rss_before_kib: u64,
    /// RSS of the server's process tree with the connections open, KiB.
    pub rss_after_kib: u64,
    /// Time to open all connections, milliseconds.
    pub opening_ms: u64,
    /// Connections that failed to open or to get their response.
    pub errors: u64,
}

impl IdleMemory {
    /// RSS growth per connection still open, bytes (NaN when none is open).
    pub fn bytes_per_connection(&self) -> f64 {
        if self.open == 0 {
            return f64::NAN;
        }
        (self.rss_after_kib as f64 - self.rss_before_kib as f64) * 1024.0 / self.open as f64
    }
}

/// The machine a run was taken on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// CPU model name from /proc/cpuinfo.
    pub cpu: String,
    /// Logical cores available to the process.
    pub cores: usize,
    /// Kernel release.
    pub kernel: String,
    /// `rustc --version`.
    pub rustc: String,
    /// `wrk --version` (first line).
    pub wrk: String,
    /// `h2load --version`.
    pub h2load: String,
}

/// One criterion benchmark: its median time per iteration with the 95% confidence
/// interval, and the allocations per iteration the bench printed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MicroResult {
    /// Bench target (`http11`, `hpack`, ...).
    pub bench: String,
    /// Criterion's full id: `group/function[/value]`.
    pub id: String,
    /// Median time per iteration, nanoseconds.
    pub median_ns: f64,
    /// Lower bound of the median's 95% confidence interval.
    pub lower_ns: f64,
    /// Upper bound of the median's 95% confidence interval.
    pub upper_ns: f64,
    /// Bytes processed per iteration, when the bench declared it.
    pub throughput_bytes: Option<u64>,
    /// Elements processed per iteration, when the bench declared it.
    pub throughput_elements: Option<u64>,
    /// Heap allocations (plus reallocations) per iteration.
    pub allocs: Option<f64>,
    /// Heap bytes allocated per iteration.
    pub alloc_bytes: Option<f64>,
}

/// One server under one load scenario, over all rounds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadResult {
    /// `HTTP/1.1`, `HTTP/2`, ...
    pub protocol: String,
    /// The scenario's short name (`plain`, `pipelined`, `h2load`).
    pub scenario: String,
    /// The load generator command, in words.
    pub tool: String,
    /// The server's label.
    pub server: String,
    /// One sample per round.
    pub samples: Vec<LoadSample>,
}

/// One round of one server under one scenario.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadSample {
    /// Requests completed.
    pub requests: u64,
    /// Requests per second.
    pub rps: f64,
    /// Server CPU time (user + system) per request, microseconds.
    pub cpu_us_per_req: f64,
    /// Server peak resident set size (VmHWM), KiB.
    pub peak_rss_kib: u64,
    /// Errors the load generator reported.
    pub errors: u64,
    /// Throughput of one large download, MB/s (HTTP/3 scenario; absent elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_mbps: Option<f64>,
    /// The load generator's CPU time over wall time in the request phase (HTTP/3: the
    /// client thread; near 1.0 means the client, not the server, limits req/s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_busy: Option<f64>,
    /// As `client_busy`, during the download.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_busy_download: Option<f64>,
}

/// The server's memory after many requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LongRun {
    /// The server's label.
    pub server: String,
    /// Requests sent after the warm-up.
    pub requests: u64,
    /// Requests of the warm-up.
    pub warmup_requests: u64,
    /// Resident set size after the warm-up, KiB.
    pub rss_warm_kib: u64,
    /// Resident set size after all requests, KiB.
    pub rss_end_kib: u64,
    /// Peak resident set size, KiB.
    pub peak_rss_kib: u64,
    /// Bytes the arena pools retain for reuse at the end (from `/stats`), if known.
    pub retained_bytes: Option<u64>,
    /// Arenas the pools created in total (from `/stats`), if known.
    pub arenas_created: Option<u64>,
    /// Requests the server counted (from `/stats`), if known.
    pub server_requests: Option<u64>,
    /// Errors the load generator reported.
    pub errors: u64,
}

/// Median and range of a set of figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The median (mean of the middle two for an even count).
    pub median: f64,
    /// The smallest figure.
    pub min: f64,
    /// The largest figure.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`; `None` when empty. NaNs are ignored.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let mut v: Vec<f64> = values.into_iter().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            min: v[0],
            max: v[n - 1],
        })
    }

    /// Half the range relative to the median, in percent (the noise estimate).
    pub fn noise_pct(&self) -> f64 {
        if self.median == 0.0 {
            0.0
        } else {
            (self.max - self.min) / 2.0 / self.median.abs() * 100.0
        }
    }
}

impl LoadResult {
    /// Requests per second over the rounds.
    pub fn rps(&self) -> Option<Spread> {
        Spread::of(self.samples.iter().map(|s| s.rps))
    }
    /// Server CPU µs per request over the rounds.
    pub fn cpu(&self) -> Option<Spread> {
        Spread::of(self.samples.iter().map(|s| s.cpu_us_per_req))
    }
    /// Peak RSS (KiB) over the rounds.
    pub fn peak_rss(&self) -> Option<Spread> {
        Spread::of(self.samples.iter().map(|s| s.peak_rss_kib as f64))
    }
    /// Download throughput (MB/s) over the rounds, when the scenario measures one.
    pub fn download(&self) -> Option<Spread> {
        Spread::of(self.samples.iter().filter_map(|s| s.download_mbps))
    }
    /// The client's busy fraction in the request phase over the rounds, when measured.
    pub fn client_busy(&self) -> Option<Spread> {
        Spread::of(self.samples.iter().filter_map(|s| s.client_busy))
    }
    /// The client's busy fraction during the download over the rounds, when measured.
    pub fn client_busy_download(&self) -> Option<Spread> {
        Spread::of(self.samples.iter().filter_map(|s| s.client_busy_download))
    }
    /// Errors summed over the rounds.
    pub fn errors(&self) -> u64 {
        self.samples.iter().map(|s| s.errors).sum()
    }
}

impl MicroResult {
    /// The median and its confidence interval as a [`Spread`].
    pub fn spread(&self) -> Spread {
        Spread {
            median: self.median_ns,
            min: self.lower_ns,
            max: self.upper_ns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_odd_even_and_nan() {
        let s = Spread::of([3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        let s = Spread::of([4.0, 1.0, 2.0, 3.0, f64::NAN]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 4.0));
        assert!(Spread::of([]).is_none());
        assert!(Spread::of([f64::NAN]).is_none());
        assert_eq!(Spread::of([90.0, 100.0, 110.0]).unwrap().noise_pct(), 10.0);
    }

    #[test]
    fn results_round_trip_through_json() {
        let r = Results {
            schema: SCHEMA,
            mode: "quick".into(),
            micro: vec![MicroResult {
                bench: "arena".into(),
                id: "request_graph/heap".into(),
                median_ns: 10.0,
                lower_ns: 9.0,
                upper_ns: 11.0,
                throughput_bytes: Some(5),
                allocs: Some(2.0),
                ..MicroResult::default()
            }],
            load: vec![LoadResult {
                protocol: "HTTP/1.1".into(),
                samples: vec![LoadSample {
                    rps: 1.5,
                    ..LoadSample::default()
                }],
                ..LoadResult::default()
            }],
            ..Results::default()
        };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Results>(&json).unwrap(), r);
    }
}
