//! `cargo xtask bench --compare A B`: per-benchmark deltas between two saved runs, with a
//! noise estimate, in the spirit of benchstat. A difference counts only when the two
//! runs' intervals do not overlap (criterion's 95% confidence interval of the median for
//! micro-benches; the min–max range over the rounds for load figures); otherwise it is
//! reported as `~` (within noise).

use super::model::{Results, Spread};

/// Which direction is an improvement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Smaller is better (time, CPU, memory, allocations).
    Lower,
    /// Larger is better (requests/s).
    Higher,
}

/// One compared figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Delta {
    /// What was measured.
    pub name: String,
    /// Unit of the figures.
    pub unit: &'static str,
    /// The figure in run A.
    pub a: Spread,
    /// The figure in run B.
    pub b: Spread,
    /// Improvement direction.
    pub better: Better,
}

/// The verdict on a delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The intervals overlap: no significant difference.
    Noise,
    /// B is significantly better than A.
    Better,
    /// B is significantly worse than A.
    Worse,
}

impl Delta {
    /// (B − A) / A in percent.
    pub fn pct(&self) -> f64 {
        if self.a.median == 0.0 {
            if self.b.median == 0.0 {
                0.0
            } else {
                f64::INFINITY
            }
        } else {
            (self.b.median - self.a.median) / self.a.median.abs() * 100.0
        }
    }

    /// Whether the difference exceeds the combined spread.
    pub fn verdict(&self) -> Verdict {
        let overlap = self.a.min <= self.b.max && self.b.min <= self.a.max;
        if overlap || self.a.median == self.b.median {
            return Verdict::Noise;
        }
        let b_higher = self.b.median > self.a.median;
        match (self.better, b_higher) {
            (Better::Higher, true) | (Better::Lower, false) => Verdict::Better,
            _ => Verdict::Worse,
        }
    }
}

fn exact(v: f64) -> Spread {
    Spread {
        median: v,
        min: v,
        max: v,
    }
}

/// Every figure present in both runs, micro-benches first.
pub fn deltas(a: &Results, b: &Results) -> Vec<Delta> {
    let mut v = Vec::new();
    for ma in &a.micro {
        let Some(mb) = b.micro.iter().find(|m| m.id == ma.id) else {
            continue;
        };
        v.push(Delta {
            name: ma.id.clone(),
            unit: "ns",
            a: ma.spread(),
            b: mb.spread(),
            better: Better::Lower,
        });
        if let (Some(x), Some(y)) = (ma.allocs, mb.allocs) {
            v.push(Delta {
                name: format!("{} allocs/op", ma.id),
                unit: "",
                a: exact(x),
                b: exact(y),
                better: Better::Lower,
            });
        }
    }
    for la in &a.load {
        let Some(lb) = b.load.iter().find(|l| {
            l.protocol == la.protocol && l.scenario == la.scenario && l.server == la.server
        }) else {
            continue;
        };
        let name = |m: &str| format!("{} {} {} {m}", la.protocol, la.scenario, la.server);
        let figures = [
            ("req/s", "", la.rps(), lb.rps(), Better::Higher),
            ("CPU/req", "µs", la.cpu(), lb.cpu(), Better::Lower),
            (
                "peak RSS",
                "KiB",
                la.peak_rss(),
                lb.peak_rss(),
                Better::Lower,
            ),
            (
                "download",
                "MB/s",
                la.download(),
                lb.download(),
                Better::Higher,
            ),
        ];
        for (m, unit, x, y, better) in figures {
            if let (Some(x), Some(y)) = (x, y) {
                v.push(Delta {
                    name: name(m),
                    unit,
                    a: x,
                    b: y,
                    better,
                });
            }
        }
    }
    for ra in &a.long_run {
        let Some(rb) = b.long_run.iter().find(|r| r.server == ra.server) else {
            continue;
        };
        v.push(Delta {
            name: format!("long run {} RSS at end", ra.server),
            unit: "KiB",
            a: exact(ra.rss_end_kib as f64),
            b: exact(rb.rss_end_kib as f64),
            better: Better::Lower,
        });
    }
    v
}

fn fmt_value(x: f64, unit: &str) -> String {
    let n = if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    };
    if unit.is_empty() {
        n
    } else {
        format!("{n} {unit}")
    }
}

/// The comparison as a text table.
pub fn render(a_name: &str, b_name: &str, deltas: &[Delta]) -> String {
    let mut rows = vec![[
        "benchmark".to_string(),
        a_name.to_string(),
        "±".into(),
        b_name.to_string(),
        "±".into(),
        "delta".into(),
        "".into(),
    ]];
    for d in deltas {
        let verdict = match d.verdict() {
            Verdict::Noise => "~ (within noise)",
            Verdict::Better => "better",
            Verdict::Worse => "WORSE",
        };
        rows.push([
            d.name.clone(),
            fmt_value(d.a.median, d.unit),
            format!("{:.1}%", d.a.noise_pct()),
            fmt_value(d.b.median, d.unit),
            format!("{:.1}%", d.b.noise_pct()),
            format!("{:+.1}%", d.pct()),
            verdict.into(),
        ]);
    }
    let mut widths = [0usize; 7];
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (i, (c, w)) in r.iter().zip(widths).enumerate() {
            let pad = w - c.chars().count();
            if i == 0 || i == 6 {
                line.push_str(c);
                line.push_str(&" ".repeat(pad));
            } else {
                line.push_str(&" ".repeat(pad));
                line.push_str(c);
            }
            line.push_str("  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let better = deltas
        .iter()
        .filter(|d| d.verdict() == Verdict::Better)
        .count();
    let worse = deltas
        .iter()
        .filter(|d| d.verdict() == Verdict::Worse)
        .count();
    out.push_str(&format!(
        "\n{} figures compared: {better} better, {worse} worse, {} within noise. ± is half the \
         interval (criterion's 95% CI of the median; min–max over the load rounds) relative to \
         the median; a delta counts only when the intervals do not overlap.\n",
        deltas.len(),
        deltas.len() - better - worse
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::super::model::{LoadResult, LoadSample, MicroResult};
    use super::*;

    fn s(median: f64, min: f64, max: f64) -> Spread {
        Spread { median, min, max }
    }

    #[test]
    fn verdicts_follow_overlap_and_direction() {
        let d = |a, b, better| Delta {
            name: "x".into(),
            unit: "ns",
            a,
            b,
            better,
        };
        let fast = s(90.0, 88.0, 92.0);
        let slow = s(100.0, 98.0, 102.0);
        let wide = s(95.0, 80.0, 110.0);
        assert_eq!(d(slow, fast, Better::Lower).verdict(), Verdict::Better);
        assert_eq!(d(fast, slow, Better::Lower).verdict(), Verdict::Worse);
        assert_eq!(d(fast, slow, Better::Higher).verdict(), Verdict::Better);
        assert_eq!(d(slow, wide, Better::Lower).verdict(), Verdict::Noise);
        assert_eq!(d(slow, fast, Better::Lower).pct(), -10.0);
        assert_eq!(d(exact(0.0), exact(0.0), Better::Lower).pct(), 0.0);
        assert_eq!(
            d(exact(0.0), exact(0.0), Better::Lower).verdict(),
            Verdict::Noise
        );
        assert_eq!(
            d(exact(0.0), exact(2.0), Better::Lower).verdict(),
            Verdict::Worse
        );
    }

    #[test]
    fn deltas_pair_figures_by_name() {
        let micro = |id: &str, m: f64, allocs| MicroResult {
            id: id.into(),
            median_ns: m,
            lower_ns: m - 1.0,
            upper_ns: m + 1.0,
            allocs,
            ..MicroResult::default()
        };
        let load = |rps: &[f64]| LoadResult {
            protocol: "HTTP/1.1".into(),
            scenario: "plain".into(),
            server: "shockwave".into(),
            samples: rps
                .iter()
                .map(|&rps| LoadSample {
                    rps,
                    cpu_us_per_req: 10.0,
                    peak_rss_kib: 1000,
                    ..LoadSample::default()
                })
                .collect(),
            ..LoadResult::default()
        };
        let a = Results {
            micro: vec![micro("g/a", 100.0, Some(1.0)), micro("g/only_a", 5.0, None)],
            load: vec![load(&[100.0, 110.0, 120.0])],
            ..Results::default()
        };
        let b = Results {
            micro: vec![micro("g/a", 50.0, Some(0.0))],
            load: vec![load(&[200.0, 210.0, 220.0])],
            ..Results::default()
        };
        let d = deltas(&a, &b);
        let names: Vec<&str> = d.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "g/a",
                "g/a allocs/op",
                "HTTP/1.1 plain shockwave req/s",
                "HTTP/1.1 plain shockwave CPU/req",
                "HTTP/1.1 plain shockwave peak RSS"
            ]
        );
        assert_eq!(d[0].verdict(), Verdict::Better);
        assert_eq!(d[1].verdict(), Verdict::Better);
        assert_eq!(d[2].verdict(), Verdict::Better);
        assert!((d[2].pct() - 100.0 / 1.1).abs() < 1e-9, "{}", d[2].pct());
        assert_eq!(d[3].verdict(), Verdict::Noise);
        let text = render("A", "B", &d);
        assert!(text.contains("-50.0%"), "{text}");
        assert!(text.contains("+90.9%"), "{text}");
        assert!(text.contains("3 better, 0 worse, 2 within noise"), "{text}");
    }
}
