//! The third-party servers of the load comparisons besides the Rust baselines: h2o and
//! nginx (Debian packages, `cargo xtask peers` installs them) started from configuration
//! files this module writes, and may_minihttp (`benches/may_minihttp`, its own workspace,
//! built by the harness). Each serves `GET /` with the same 13-byte `Hello, World!` body
//! as ours, with 2 workers, as the current user, on 127.0.0.1 only.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::loadrun::ServerSpec;

/// Worker processes or threads of every peer (the machine's 2 cores).
pub const PEER_WORKERS: usize = 2;

/// What a server listens for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    /// Cleartext HTTP/1.1 (and, where the server sniffs the preface, h2c).
    Plain,
    /// Cleartext HTTP/2 with prior knowledge (h2c).
    H2c,
    /// HTTP/2 over TLS (ALPN `h2`).
    Tls,
}

/// Files the peers share in one run: a self-signed certificate and the document root
/// holding `index.html` (h2o's fixed response is that file).
#[derive(Debug, Clone)]
pub struct PeerFiles {
    /// The directory (removed on drop).
    pub dir: PathBuf,
    /// PEM certificate for `localhost` and `127.0.0.1`.
    pub cert: PathBuf,
    /// PEM private key of `cert`.
    pub key: PathBuf,
    /// Document root with `index.html` = `Hello, World!`.
    pub www: PathBuf,
}

impl PeerFiles {
    /// Writes the document root and makes a certificate with the `openssl` command.
    pub fn create() -> Result<PeerFiles, String> {
        let dir =
            std::env::temp_dir().join(format!("shockwave-bench-peers-{}", std::process::id()));
        let www = dir.join("www");
        std::fs::create_dir_all(&www).map_err(|e| format!("creating {}: {e}", www.display()))?;
        std::fs::write(www.join("index.html"), "Hello, World!")
            .map_err(|e| format!("writing index.html: {e}"))?;
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let out = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
            .args(["-subj", "/CN=localhost", "-addext"])
            .arg("subjectAltName=DNS:localhost,IP:127.0.0.1")
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("openssl (apt-get install -y openssl): {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "openssl req failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(PeerFiles {
            dir,
            cert,
            key,
            www,
        })
    }
}

impl Drop for PeerFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// True when the current user is root (h2o and nginx then need to be told to stay root
/// instead of switching to `nobody`).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The path of `cmd` on `PATH` (or in /usr/sbin, where Debian puts nginx).
pub fn find_command(cmd: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(cmd))
        .find(|p| p.is_file())
}

/// h2o's configuration (YAML): 2 threads, the fixed file, long idle timeouts (the idle
/// memory run holds thousands of connections for a while).
pub fn h2o_config(files: &PeerFiles, listen: Listen, root: bool) -> String {
    let mut c = format!(
        "num-threads: {PEER_WORKERS}\npid-file: {{dir}}/h2o.pid\nerror-log: {{dir}}/error.log\n\
         http1-request-timeout: 600\nhttp2-idle-timeout: 600\nmax-connections: 20000\n"
    );
    if root {
        c.push_str("user: root\n");
    }
    c.push_str("listen:\n  host: {host}\n  port: {port}\n");
    if listen == Listen::Tls {
        c.push_str(&format!(
            "  ssl:\n    certificate-file: {}\n    key-file: {}\n",
            files.cert.display(),
            files.key.display()
        ));
    }
    c.push_str(&format!(
        "hosts:\n  default:\n    paths:\n      /:\n        file.dir: {}\n",
        files.www.display()
    ));
    c
}

/// nginx's configuration: 2 worker processes, `return 200` with the fixed body, no
/// access log, every temporary path inside the start's own directory.
pub fn nginx_config(files: &PeerFiles, listen: Listen, root: bool) -> String {
    let user = if root { "user root;\n" } else { "" };
    let flags = match listen {
        Listen::Plain => String::new(),
        Listen::H2c => " http2".into(),
        Listen::Tls => format!(
            " ssl http2;\n    ssl_certificate {};\n    ssl_certificate_key {}",
            files.cert.display(),
            files.key.display()
        ),
    };
    format!(
        "{user}worker_processes {PEER_WORKERS};\ndaemon off;\npid {{dir}}/nginx.pid;\n\
         error_log {{dir}}/error.log error;\nevents {{ worker_connections 20000; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {{dir}}/body;\n  \
         proxy_temp_path {{dir}}/proxy;\n  fastcgi_temp_path {{dir}}/fastcgi;\n  \
         uwsgi_temp_path {{dir}}/uwsgi;\n  scgi_temp_path {{dir}}/scgi;\n  \
         keepalive_timeout 600s;\n  keepalive_requests 100000000;\n  \
         server {{\n    listen {{addr}}{flags};\n    \
         location / {{ default_type \"text/plain; charset=utf-8\"; return 200 \"Hello, World!\"; }}\n  \
         }}\n}}\n"
    )
}

/// h2o 2.x from Debian, listening as `listen` says.
pub fn h2o(files: &PeerFiles, listen: Listen) -> Result<ServerSpec, String> {
    let program = find_command("h2o")
        .ok_or("h2o missing: run `cargo xtask peers` (or `sudo apt-get install -y h2o`)")?;
    Ok(ServerSpec {
        label: format!(
            "h2o {} ({PEER_WORKERS} threads)",
            version_of(&program, "-v")
        ),
        program,
        args: vec!["-c".into(), "{dir}/h2o.conf".into()],
        has_stats: false,
        udp: false,
        ready_marker: "",
        tls: listen == Listen::Tls,
        config: Some(("h2o.conf", h2o_config(files, listen, is_root()))),
    })
}

/// nginx from Debian, listening as `listen` says.
pub fn nginx(files: &PeerFiles, listen: Listen) -> Result<ServerSpec, String> {
    let program = find_command("nginx")
        .ok_or("nginx missing: run `cargo xtask peers` (or `sudo apt-get install -y nginx`)")?;
    Ok(ServerSpec {
        label: format!(
            "nginx {} ({PEER_WORKERS} workers)",
            version_of(&program, "-v")
        ),
        program,
        args: [
            "-p",
            "{dir}",
            "-c",
            "{dir}/nginx.conf",
            "-e",
            "{dir}/error.log",
        ]
        .map(String::from)
        .to_vec(),
        has_stats: false,
        udp: false,
        ready_marker: "",
        tls: listen == Listen::Tls,
        config: Some(("nginx.conf", nginx_config(files, listen, is_root()))),
    })
}

/// The may_minihttp server binary of `benches/may_minihttp` (built into the same
/// target directory's `release` folder).
pub fn may_minihttp_program(profile_dir: &Path) -> PathBuf {
    profile_dir.join("may-minihttp-peer")
}

/// `may-minihttp-peer ADDR 2`.
pub fn may_minihttp(profile_dir: &Path) -> ServerSpec {
    ServerSpec {
        label: format!("may_minihttp 0.1 ({PEER_WORKERS} workers)"),
        program: may_minihttp_program(profile_dir),
        args: vec!["{addr}".into(), PEER_WORKERS.to_string()],
        has_stats: false,
        udp: false,
        ready_marker: "",
        tls: false,
        config: None,
    }
}

/// Builds `benches/may_minihttp` (its own workspace and lock file) with `profile`.
pub fn build_may_minihttp(profile: &str) -> Result<(), String> {
    let root = crate::load::workspace_root();
    // The main workspace's target directory, so that the binary lands beside the others.
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let mut cmd = crate::cargo();
    cmd.args(["build", "--profile", profile, "--manifest-path"])
        .arg(root.join("benches/may_minihttp/Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    crate::run(&mut cmd)
}

/// The version a server prints (`h2o -v`: `h2o version 2.2.5`, nginx on stderr:
/// `nginx version: nginx/1.22.1`): its first number-like word.
fn version_of(program: &Path, flag: &str) -> String {
    let out = Command::new(program).arg(flag).output();
    let text = out
        .map(|o| {
            let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
            s.push_str(&String::from_utf8_lossy(&o.stderr));
            s
        })
        .unwrap_or_default();
    parse_version(&text).unwrap_or_else(|| "?".into())
}

fn parse_version(text: &str) -> Option<String> {
    let first = text.lines().next()?;
    first
        .split(|c: char| c.is_whitespace() || c == '/')
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()) && w.contains('.'))
        .map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> PeerFiles {
        PeerFiles {
            dir: PathBuf::from("/nonexistent-test-dir"),
            cert: "/c/cert.pem".into(),
            key: "/c/key.pem".into(),
            www: "/c/www".into(),
        }
    }

    #[test]
    fn versions_parse() {
        assert_eq!(
            parse_version("h2o version 2.2.5\nOpenSSL: x").as_deref(),
            Some("2.2.5")
        );
        assert_eq!(
            parse_version("nginx version: nginx/1.22.1\n").as_deref(),
            Some("1.22.1")
        );
        assert_eq!(parse_version("nothing here"), None);
    }

    #[test]
    fn nginx_configs_listen_as_asked() {
        let f = files();
        let plain = nginx_config(&f, Listen::Plain, false);
        assert!(plain.contains("listen {addr};"), "{plain}");
        assert!(plain.contains("worker_processes 2;"));
        assert!(!plain.contains("user root"));
        let h2c = nginx_config(&f, Listen::H2c, true);
        assert!(h2c.contains("listen {addr} http2;"), "{h2c}");
        assert!(h2c.starts_with("user root;"));
        let tls = nginx_config(&f, Listen::Tls, false);
        assert!(tls.contains("listen {addr} ssl http2;"), "{tls}");
        assert!(tls.contains("ssl_certificate /c/cert.pem;"));
        assert!(tls.contains("ssl_certificate_key /c/key.pem;"));
        // Braces balance: the format string escaped them right.
        assert_eq!(tls.matches('{').count(), tls.matches('}').count());
    }

    #[test]
    fn h2o_configs_listen_as_asked() {
        let f = files();
        let plain = h2o_config(&f, Listen::Plain, false);
        assert!(plain.contains("num-threads: 2\n"));
        assert!(plain.contains("  port: {port}\n"));
        assert!(plain.contains("file.dir: /c/www"));
        assert!(!plain.contains("ssl:"));
        let tls = h2o_config(&f, Listen::Tls, true);
        assert!(tls.contains("certificate-file: /c/cert.pem"));
        assert!(tls.contains("user: root"));
    }

    /// Starts h2o and nginx from the written configurations and checks they answer with
    /// the fixed body over h2c and TLS h2, and that the process tree (nginx's workers)
    /// is found. Needs the Debian packages: fails with the install command otherwise.
    #[test]
    fn h2o_and_nginx_start_and_answer() {
        let files = PeerFiles::create().expect("openssl");
        for spec in [
            h2o(&files, Listen::Plain).unwrap(),
            h2o(&files, Listen::Tls).unwrap(),
            nginx(&files, Listen::Plain).unwrap(),
            nginx(&files, Listen::H2c).unwrap(),
            nginx(&files, Listen::Tls).unwrap(),
        ] {
            let running = spec
                .start()
                .unwrap_or_else(|e| panic!("{}: {e}", spec.label));
            let mut args = vec!["-s".to_string(), "-k".into()];
            match (
                spec.tls,
                spec.config.as_ref().unwrap().1.contains(" http2;"),
            ) {
                (true, _) => args.push("--http2".into()),
                (false, true) => args.push("--http2-prior-knowledge".into()),
                (false, false) => {}
            }
            args.push(running.url());
            let out = Command::new("curl").args(&args).output().expect("curl");
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "Hello, World!",
                "{}: curl {args:?}",
                spec.label
            );
            if spec.label.starts_with("nginx") {
                // The master and its 2 workers.
                let tree = crate::load::process_tree(running.pid());
                assert!(tree.len() > PEER_WORKERS, "{}: {tree:?}", spec.label);
                assert!(crate::load::tree_cpu_ticks(running.pid()).is_ok());
            }
        }
    }
}
