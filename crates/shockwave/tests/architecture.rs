//! The dependency rules of the layout, checked on the source text: a forbidden import
//! fails this test with the file and line that has it.
//!
//! - `service` (the protocol-neutral handler types) imports nothing else of this crate;
//! - `common` (crate-private machinery) imports only `service`;
//! - `server` and `client` never import each other;
//! - the `http2` / `http3` re-export modules import neither `server` nor `client`;
//! - the protocol crates depend on neither tokio, quinn, rustls nor this crate, and read no
//!   clock and hold no `Waker` (they are sans-I/O: time is passed in).

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Which lines of a file are checked.
#[derive(Clone, Copy)]
enum Scope {
    /// Library code only: the `#[cfg(test)]` module that ends a file is left out (a unit
    /// test of the umbrella may name both roles).
    Library,
    /// Everything in `src`, unit tests included (a protocol crate's unit tests get their
    /// time from the test, never from the clock, just like its code).
    Everything,
}

/// Lines of code (comments and doc comments left out) with their 1-based numbers.
fn code_lines(path: &Path, scope: Scope) -> Vec<(usize, String)> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .take_while(|line| matches!(scope, Scope::Everything) || line.trim() != "#[cfg(test)]")
        .enumerate()
        .filter_map(|(i, line)| {
            let code = line.split("//").next().unwrap_or("").trim();
            (!code.is_empty()).then(|| (i + 1, code.to_string()))
        })
        .collect()
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn violations(dir: &Path, forbidden: &[&str], scope: Scope) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    assert!(!files.is_empty(), "no Rust files under {}", dir.display());
    let mut found = Vec::new();
    for file in files {
        for (n, line) in code_lines(&file, scope) {
            for pattern in forbidden {
                if line.contains(pattern) {
                    found.push(format!("{}:{n}: `{pattern}` in `{line}`", file.display()));
                }
            }
        }
    }
    found
}

fn assert_clean(dir: &str, forbidden: &[&str]) {
    let found = violations(&src().join(dir), forbidden, Scope::Library);
    assert!(
        found.is_empty(),
        "forbidden imports in src/{dir}:\n{}",
        found.join("\n")
    );
}

#[test]
fn service_imports_nothing_above_it() {
    assert_clean(
        "service",
        &[
            "crate::server",
            "crate::client",
            "crate::common",
            "super::super",
        ],
    );
}

#[test]
fn common_imports_only_service() {
    assert_clean("common", &["crate::server", "crate::client"]);
}

#[test]
fn server_and_client_never_import_each_other() {
    assert_clean("server", &["crate::client"]);
    assert_clean("client", &["crate::server"]);
}

#[test]
fn protocol_reexports_import_no_role() {
    for dir in ["http2", "http3"] {
        if src().join(dir).exists() {
            assert_clean(dir, &["crate::server", "crate::client"]);
        }
    }
    for file in ["http2.rs", "http3.rs"] {
        let path = src().join(file);
        if path.exists() {
            for (n, line) in code_lines(&path, Scope::Library) {
                assert!(
                    !line.contains("crate::server") && !line.contains("crate::client"),
                    "{}:{n}: a protocol module imports a role: `{line}`",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn protocol_crates_are_sans_io() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for name in ["http11", "hpack", "http2-frames", "quic", "websocket"] {
        let dir = crates.join(name);
        let manifest = fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let deps = manifest
            .split("[dependencies]")
            .nth(1)
            .map(|rest| rest.split("\n[").next().unwrap_or(""))
            .unwrap_or("");
        for dep in [
            "tokio",
            "quinn",
            "rustls",
            "shockwave ",
            "shockwave.",
            "shockwave=",
        ] {
            assert!(
                !deps.lines().any(|l| l.trim_start().starts_with(dep)),
                "crates/{name} depends on `{}`: protocol crates are sans-I/O",
                dep.trim_end_matches([' ', '.', '='])
            );
        }
        let found = violations(
            &dir.join("src"),
            &[
                "tokio::",
                "Waker",
                "Instant::now",
                "SystemTime::now",
                "shockwave::",
            ],
            Scope::Everything,
        );
        assert!(
            found.is_empty(),
            "crates/{name} is not sans-I/O:\n{}",
            found.join("\n")
        );
    }
}
