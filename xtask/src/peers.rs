//! The third-party peers the test suite talks to, and how to install them.
//!
//! Tests never skip a missing peer: they fail with the install command printed here.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::run;

/// A command-line peer from Debian's packages.
struct AptPeer {
    command: &'static str,
    package: &'static str,
}

/// A Python module peer from PyPI.
struct PipPeer {
    module: &'static str,
    requirement: &'static str,
}

const APT_PEERS: &[AptPeer] = &[
    AptPeer {
        command: "curl",
        package: "curl",
    },
    AptPeer {
        command: "nghttp",
        package: "nghttp2-client",
    },
    AptPeer {
        command: "h2load",
        package: "nghttp2-client",
    },
    AptPeer {
        command: "wrk",
        package: "wrk",
    },
    AptPeer {
        command: "tinyproxy",
        package: "tinyproxy",
    },
    AptPeer {
        command: "microsocks",
        package: "microsocks",
    },
    // HTTP/1.1 and HTTP/2 (h2c, TLS) peers of `cargo xtask bench`, and the certificate
    // the bench makes for the TLS rows.
    AptPeer {
        command: "h2o",
        package: "h2o",
    },
    AptPeer {
        command: "nginx",
        package: "nginx",
    },
    AptPeer {
        command: "openssl",
        package: "openssl",
    },
    // The WebSocket browser-API test needs Node.js 20.10+ (its built-in `WebSocket`); the
    // package is the fallback where no Node.js is installed at all.
    AptPeer {
        command: "node",
        package: "nodejs",
    },
    // Installs the npm peers (NPM_PEERS).
    AptPeer {
        command: "npm",
        package: "npm",
    },
    // The headless browser that loads `/ws.html` (ws_browser.rs).
    AptPeer {
        command: "chromium",
        package: "chromium",
    },
];

/// A Node.js package peer from npm, installed under [`npm_prefix`] (the tests run `node`
/// with `NODE_PATH` set to its `node_modules`).
struct NpmPeer {
    package: &'static str,
    spec: &'static str,
}

const NPM_PEERS: &[NpmPeer] = &[
    // WebSocket client and server, with permessage-deflate (ws_node_package.rs).
    NpmPeer {
        package: "ws",
        spec: "ws@8",
    },
];

/// Where the npm peers are installed: `$SHOCKWAVE_NPM_PREFIX`, else
/// `$HOME/.cache/shockwave-peers/node` (the tests look in the same place).
fn npm_prefix() -> PathBuf {
    match std::env::var_os("SHOCKWAVE_NPM_PREFIX") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
            .join(".cache/shockwave-peers/node"),
    }
}

fn have_npm_package(package: &str) -> bool {
    npm_prefix()
        .join("node_modules")
        .join(package)
        .join("package.json")
        .is_file()
}

const PIP_PEERS: &[PipPeer] = &[
    PipPeer {
        module: "h2",
        requirement: "h2",
    },
    PipPeer {
        module: "hpack",
        requirement: "hpack",
    },
    PipPeer {
        module: "aioquic",
        requirement: "aioquic",
    },
    PipPeer {
        module: "httpx",
        requirement: "httpx[http2]",
    },
    // httpx decodes `br` and `zstd` responses with these (response compression tests).
    PipPeer {
        module: "brotli",
        requirement: "brotli",
    },
    PipPeer {
        module: "zstandard",
        requirement: "zstandard",
    },
    PipPeer {
        module: "websockets",
        requirement: "websockets",
    },
];

fn have_command(cmd: &str) -> bool {
    Command::new("sh")
        // nginx lives in /usr/sbin, which a non-root PATH may lack.
        .args([
            "-c",
            &format!("command -v {cmd} || test -x /usr/sbin/{cmd}"),
        ])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn python() -> &'static str {
    if have_command("python3") {
        "python3"
    } else {
        "python"
    }
}

fn have_module(module: &str) -> bool {
    Command::new(python())
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Installs every missing peer; errors only if an install command fails.
pub fn ensure_all() -> Result<(), String> {
    let mut packages: Vec<&str> = APT_PEERS
        .iter()
        .filter(|p| !have_command(p.command))
        .map(|p| p.package)
        .collect();
    packages.dedup();
    if !packages.is_empty() {
        let sudo: &[&str] = if is_root() { &[] } else { &["sudo"] };
        let apt = |args: &[&str]| {
            let mut cmd = Command::new(sudo.first().copied().unwrap_or("apt-get"));
            if !sudo.is_empty() {
                cmd.arg("apt-get");
            }
            cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
            cmd
        };
        run(&mut apt(&["update", "-qq"]))?;
        let mut install = apt(&["install", "-y", "-qq"]);
        install.args(&packages);
        run(&mut install)?;
    }
    let missing: Vec<&str> = PIP_PEERS
        .iter()
        .filter(|p| !have_module(p.module))
        .map(|p| p.requirement)
        .collect();
    if !missing.is_empty() {
        let mut pip = Command::new(python());
        pip.args(["-m", "pip", "install", "-q", "--disable-pip-version-check"]);
        pip.args(&missing);
        run(&mut pip)?;
    }
    let missing: Vec<&str> = NPM_PEERS
        .iter()
        .filter(|p| !have_npm_package(p.package))
        .map(|p| p.spec)
        .collect();
    if !missing.is_empty() {
        let prefix = npm_prefix();
        std::fs::create_dir_all(&prefix)
            .map_err(|e| format!("cannot create {}: {e}", prefix.display()))?;
        let mut npm = Command::new("npm");
        npm.args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .args(&missing);
        run(&mut npm)?;
    }
    for p in APT_PEERS {
        eprintln!(
            "xtask: peer {:<8} {}",
            p.command,
            status(have_command(p.command))
        );
    }
    for p in PIP_PEERS {
        eprintln!(
            "xtask: peer {:<8} {}",
            p.module,
            status(have_module(p.module))
        );
    }
    for p in NPM_PEERS {
        eprintln!(
            "xtask: peer {:<8} {} (npm, in {})",
            p.package,
            status(have_npm_package(p.package)),
            npm_prefix().display()
        );
    }
    Ok(())
}

fn status(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "MISSING"
    }
}
