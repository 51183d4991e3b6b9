//! The flat-RSS check: does the server's resident set still grow at the end of the soak?
//!
//! RSS is sampled every few seconds during the traffic. Attack waves (slowloris, 16 MB
//! bodies, floods) make it spike and fall back, so single samples say little. The check
//! takes the last third of the run, cuts it into [`WINDOWS`] windows of equal duration,
//! keeps the *minimum* of each window (what the process holds between spikes), fits a
//! least-squares line through those minima and reports its rise over the span. A leak
//! shows as a steady rise of the minima; spikes and a settled allocator do not.

/// How many windows the last third of the run is cut into.
pub(super) const WINDOWS: usize = 6;

/// One RSS sample: seconds since the traffic started, and KiB.
pub(super) type Sample = (f64, u64);

/// What the plateau check saw over the last third of the run.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Plateau {
    /// Start and end of the span checked, seconds since the traffic started.
    pub(super) from_secs: f64,
    pub(super) to_secs: f64,
    /// The minimum RSS of each window (KiB), first to last.
    pub(super) window_min_kib: Vec<u64>,
    /// The fitted line's rise over the span, KiB (negative: RSS fell).
    pub(super) growth_kib: f64,
}

/// Fits the plateau over the last third of `samples` (time-ordered). `None` if fewer
/// than two windows hold a sample.
pub(super) fn plateau(samples: &[Sample]) -> Option<Plateau> {
    let (first, last) = (samples.first()?.0, samples.last()?.0);
    let from = first + (last - first) * 2.0 / 3.0;
    let width = (last - from) / WINDOWS as f64;
    if width <= 0.0 {
        return None;
    }
    // (window centre, window minimum) for every window holding a sample.
    let mut mins: Vec<(f64, u64)> = Vec::with_capacity(WINDOWS);
    for w in 0..WINDOWS {
        let (lo, hi) = (from + width * w as f64, from + width * (w + 1) as f64);
        let min = samples
            .iter()
            .filter(|s| s.0 >= lo && (s.0 < hi || (w == WINDOWS - 1 && s.0 <= hi)))
            .map(|s| s.1)
            .min();
        if let Some(min) = min {
            mins.push(((lo + hi) / 2.0, min));
        }
    }
    if mins.len() < 2 {
        return None;
    }
    let n = mins.len() as f64;
    let mean_t = mins.iter().map(|m| m.0).sum::<f64>() / n;
    let mean_v = mins.iter().map(|m| m.1 as f64).sum::<f64>() / n;
    let num: f64 = mins
        .iter()
        .map(|m| (m.0 - mean_t) * (m.1 as f64 - mean_v))
        .sum();
    let den: f64 = mins.iter().map(|m| (m.0 - mean_t).powi(2)).sum();
    let slope = if den > 0.0 { num / den } else { 0.0 };
    Some(Plateau {
        from_secs: from,
        to_secs: last,
        window_min_kib: mins.iter().map(|m| m.1).collect(),
        growth_kib: slope * (last - from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Samples every `step` seconds for `secs` seconds of `f(t)` KiB.
    fn series(secs: f64, step: f64, f: impl Fn(f64) -> u64) -> Vec<Sample> {
        let n = (secs / step) as usize;
        (0..=n)
            .map(|i| (i as f64 * step, f(i as f64 * step)))
            .collect()
    }

    #[test]
    fn a_flat_run_with_spikes_has_no_growth() {
        // 30 minutes at 60 MiB, with a 40 MiB spike every 50 s lasting 6 s.
        let s = series(1800.0, 3.0, |t| {
            if (t as u64 % 50) < 6 {
                100 * 1024
            } else {
                60 * 1024
            }
        });
        let p = plateau(&s).unwrap();
        assert_eq!(p.window_min_kib.len(), WINDOWS);
        assert!(p.growth_kib.abs() < 1.0, "{p:?}");
        assert!((p.from_secs - 1200.0).abs() < 1e-9);
    }

    #[test]
    fn a_leak_is_measured_over_the_last_third() {
        // 1 MiB per minute: 10 MiB over the last 10 minutes of 30.
        let s = series(1800.0, 3.0, |t| 50 * 1024 + (t / 60.0 * 1024.0) as u64);
        let p = plateau(&s).unwrap();
        assert!((p.growth_kib - 10.0 * 1024.0).abs() < 200.0, "{p:?}");
    }

    #[test]
    fn growth_early_in_the_run_does_not_count() {
        // Warm-up: 0 -> 40 MiB over the first 10 minutes, then flat.
        let s = series(1800.0, 3.0, |t| {
            20 * 1024 + (t.min(600.0) / 600.0 * 40960.0) as u64
        });
        let p = plateau(&s).unwrap();
        assert!(p.growth_kib.abs() < 1.0, "{p:?}");
    }

    #[test]
    fn a_leak_hidden_under_spikes_is_still_seen() {
        // The minima rise by 8 MiB over the last third while spikes stay at the top.
        let s = series(1800.0, 2.0, |t| {
            if (t as u64 % 20) < 4 {
                200 * 1024
            } else {
                40 * 1024 + (t / 1800.0 * 24.0 * 1024.0) as u64
            }
        });
        let p = plateau(&s).unwrap();
        assert!(
            p.growth_kib > 7.0 * 1024.0 && p.growth_kib < 9.0 * 1024.0,
            "{p:?}"
        );
    }

    #[test]
    fn falling_rss_is_negative_growth() {
        let s = series(600.0, 2.0, |t| 80 * 1024 - (t / 600.0 * 10240.0) as u64);
        assert!(plateau(&s).unwrap().growth_kib < 0.0);
    }

    #[test]
    fn too_few_samples_give_no_verdict() {
        assert_eq!(plateau(&[]), None);
        assert_eq!(plateau(&[(0.0, 10)]), None);
        assert_eq!(plateau(&[(5.0, 10), (5.0, 12)]), None);
    }
}
