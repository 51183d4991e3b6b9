//! HTTP/3 through `shockwave get --http3`: load runs checked by status counts and body
//! bytes, single requests byte for byte.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use super::JSON;
use crate::soak::tally::{Rng, Tally};

/// HTTP/3: alternately a load run (`shockwave get --http3 -n 1000 -c 8`, every answer a
/// 200 with the JSON body, checked through the status counts and body bytes) and single
/// requests whose body is compared byte for byte (GET /json, POST /echo).
pub(crate) fn h3_loop(bin: &PathBuf, tls: SocketAddr, stop: &AtomicBool, tally: &Tally, seed: u64) {
    const CLASS: &str = "h3 (shockwave get --http3)";
    const LOAD: &str = "h3 load (shockwave get --http3 -n)";
    let mut rng = Rng(seed);
    let mut round = 0u64;
    while !stop.load(Relaxed) {
        round += 1;
        if round % 4 == 1 {
            let n = 1000u64;
            let out = Command::new(bin)
                .args(["get", "--http3", "-k", "--timeout", "10", "-n"])
                .arg(n.to_string())
                .args(["-c", "8", "--threads", "1"])
                .arg(format!("https://{tls}/json"))
                .stderr(Stdio::piped())
                .output();
            match out {
                Err(e) => tally.fail(LOAD, format!("cannot run shockwave get: {e}")),
                Ok(o) => {
                    let text = String::from_utf8_lossy(&o.stdout).into_owned();
                    let field = |key: &str| {
                        text.lines()
                            .find_map(|l| l.strip_prefix(key))
                            .map(|v| v.trim().to_string())
                    };
                    let ok = field("Completed:")
                        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok());
                    let bytes = field("Body bytes:")
                        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok());
                    let codes = field("Status codes:");
                    let want_codes = format!("200: {n}");
                    if o.status.success()
                        && ok == Some(n)
                        && bytes == Some(n * JSON.len() as u64)
                        && codes.as_deref() == Some(want_codes.as_str())
                    {
                        tally.ok(LOAD, n);
                    } else {
                        tally.fail(
                            LOAD,
                            format!(
                                "{}: {text} {}",
                                o.status,
                                String::from_utf8_lossy(&o.stderr[..o.stderr.len().min(300)])
                            ),
                        );
                    }
                }
            }
            continue;
        }
        let mut cmd = Command::new(bin);
        cmd.args(["get", "--http3", "-k", "--timeout", "10"]);
        let want: Vec<u8> = if rng.below(2) == 0 {
            cmd.arg(format!("https://{tls}/json"));
            JSON.to_vec()
        } else {
            let body: Vec<u8> = (0..rng.below(3000) + 1)
                .map(|i| b'a' + ((i + seed) % 26) as u8)
                .collect();
            cmd.args(["-d", &String::from_utf8_lossy(&body)]);
            cmd.arg(format!("https://{tls}/echo"));
            body
        };
        match cmd.stderr(Stdio::piped()).output() {
            Err(e) => {
                tally.fail(CLASS, format!("cannot run shockwave get: {e}"));
                return;
            }
            Ok(o) if o.status.success() && o.stdout.trim_ascii_end() == want.as_slice() => {
                tally.ok(CLASS, 1)
            }
            Ok(o) => tally.fail(
                CLASS,
                format!(
                    "{}: stdout {:?} stderr {:?}",
                    o.status,
                    String::from_utf8_lossy(&o.stdout[..o.stdout.len().min(100)]),
                    String::from_utf8_lossy(&o.stderr[..o.stderr.len().min(300)])
                ),
            ),
        }
    }
}
