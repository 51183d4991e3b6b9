//! TLS h2, h2c and TLS HTTP/1.1 load through `h2load`, checked by its status counts.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use crate::soak::tally::Tally;

/// Runs h2load in turn over TLS h2, h2c and TLS HTTP/1.1 until `stop`; each run's
/// requests must all succeed with 2xx.
pub(crate) fn h2load_loop(plain: SocketAddr, tls: SocketAddr, stop: &AtomicBool, tally: &Tally) {
    let runs: [(&'static str, String, &[&str]); 3] = [
        ("h2 TLS (h2load)", format!("https://{tls}/json"), &[]),
        ("h2c (h2load)", format!("http://{plain}/"), &[]),
        ("h1 TLS (h2load --h1)", format!("https://{tls}/"), &["--h1"]),
    ];
    let mut i = 0usize;
    while !stop.load(Relaxed) {
        let (class, url, extra) = &runs[i % runs.len()];
        let class: &'static str = class;
        i += 1;
        let out = Command::new("h2load")
            .args(["-n", "3000", "-c", "4", "-m", "8", "-t", "1"])
            .args(extra.iter())
            .arg(url)
            .output();
        match out {
            Err(e) => {
                tally.fail(class, format!("h2load: {e}"));
                return;
            }
            Ok(o) => {
                let text = String::from_utf8_lossy(&o.stdout).into_owned();
                match parse_h2load(&text) {
                    Some((succeeded, bad, non2xx)) => {
                        tally.ok(class, succeeded.saturating_sub(non2xx));
                        if bad > 0 || non2xx > 0 || !o.status.success() {
                            tally.fail(
                                class,
                                format!("h2load: {bad} failed/errored, {non2xx} non-2xx: {text}"),
                            );
                        }
                    }
                    None => tally.fail(class, format!("cannot read h2load output: {text}")),
                }
            }
        }
    }
}

/// (succeeded, failed + errored + timeout, non-2xx) from h2load's report.
fn parse_h2load(text: &str) -> Option<(u64, u64, u64)> {
    let line = text.lines().find(|l| l.starts_with("requests:"))?;
    let num = |key: &str| -> Option<u64> {
        line.split(',')
            .find(|p| p.trim().ends_with(key))?
            .split_whitespace()
            .rev()
            .nth(1)?
            .parse()
            .ok()
    };
    let bad = num("failed")? + num("errored")? + num("timeout").unwrap_or(0);
    let codes = text.lines().find(|l| l.starts_with("status codes:"))?;
    let mut non2xx = 0u64;
    for part in codes["status codes:".len()..].split(',') {
        let mut w = part.split_whitespace();
        let (n, class) = (w.next()?.parse::<u64>().ok()?, w.next()?);
        if class != "2xx" {
            non2xx += n;
        }
    }
    Some((num("succeeded")?, bad, non2xx))
}
