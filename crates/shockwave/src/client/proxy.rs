//! Proxies: HTTP proxies (absolute-form requests for `http://` URLs, RFC 9112 §3.2.2;
//! `CONNECT` tunnels for `https://` URLs, RFC 9110 §9.3.6), SOCKS5 (RFC 1928, with
//! username/password authentication, RFC 1929), proxy credentials, and the
//! `HTTP_PROXY`/`HTTPS_PROXY`/`ALL_PROXY`/`NO_PROXY` environment variables.
//!
//! ```no_run
//! # fn demo() -> Result<(), shockwave::client::Error> {
//! use shockwave::client::{Client, NoProxy, Proxy};
//!
//! let client = Client::builder()
//!     .proxy(
//!         Proxy::all("http://user:secret@proxy.internal:3128")?
//!             .no_proxy(Some(NoProxy::from_string("localhost,.corp.example,10.0.0.0/8"))),
//!     )
//!     .build()?;
//! // Through a SOCKS5 proxy that resolves names itself:
//! let tor = Client::builder().proxy(Proxy::all("socks5h://127.0.0.1:9050")?).build()?;
//! # let _ = (client, tor); Ok(()) }
//! ```
//!
//! Without any [`ClientBuilder::proxy`](super::ClientBuilder::proxy), the client reads the
//! environment when it is built, as curl and reqwest do: `http_proxy`/`HTTP_PROXY` for
//! `http://` URLs, `https_proxy`/`HTTPS_PROXY` for `https://` URLs, `all_proxy`/`ALL_PROXY`
//! for both, and `no_proxy`/`NO_PROXY` for exceptions (the lowercase name wins). Inside a
//! CGI program (`REQUEST_METHOD` set) `HTTP_PROXY` is ignored, because a request's
//! `Proxy:` header arrives as that variable ("httpoxy"). [`ClientBuilder::no_proxy`]
//! turns the environment off.
//!
//! HTTP/3 runs over QUIC and cannot use these proxies: an HTTP/3 request whose URL would
//! go through a proxy fails with an invalid-request [`Error`] (exempt the host with
//! [`NoProxy`] to connect directly).

use std::fmt;
use std::net::IpAddr;

use http::HeaderValue;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::connect::Dialer;
use super::error::{Error, Result};
use super::target::{Scheme, Target};

/// Largest `CONNECT` response head accepted from an HTTP proxy.
pub(crate) const CONNECT_HEAD_MAX: usize = 16 * 1024;

/// Which URLs a [`Proxy`] applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intercept {
    Http,
    Https,
    All,
}

/// A proxy for the client ([`ClientBuilder::proxy`](super::ClientBuilder::proxy)).
///
/// The URL's scheme selects the protocol: `http://` (an HTTP proxy; also when the scheme
/// is missing, `host:port`), `socks5://` (SOCKS5, names resolved locally) or
/// `socks5h://` (SOCKS5, names resolved by the proxy). Credentials come from the URL's
/// user info (`http://user:pass@host:port`, percent-decoded) or
/// [`Proxy::basic_auth`]. They are sent only to the proxy (`Proxy-Authorization`, or the
/// SOCKS5 username/password exchange), never to the origin.
#[derive(Clone)]
pub struct Proxy {
    intercept: Intercept,
    via: Via,
    no_proxy: Option<NoProxy>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("intercept", &self.intercept)
            .field("via", &self.via)
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

/// The protocol spoken to a proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ViaKind {
    /// An HTTP proxy: absolute-form requests for `http://`, `CONNECT` for `https://`.
    Http,
    /// SOCKS5; `remote_dns`: send the host name (socks5h) rather than an address.
    Socks5 { remote_dns: bool },
}

/// Where and how to reach a proxy.
#[derive(Clone)]
pub(crate) struct Via {
    pub kind: ViaKind,
    pub host: String,
    pub port: u16,
    /// User name and password.
    pub auth: Option<(String, String)>,
    /// The pool key part: connections through different proxies (or credentials) are
    /// never shared.
    pub key: String,
}

impl fmt::Debug for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the password.
        f.debug_struct("Via")
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.auth.as_ref().map(|a| &a.0))
            .finish()
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.kind {
            ViaKind::Http => "http",
            ViaKind::Socks5 { remote_dns: false } => "socks5",
            ViaKind::Socks5 { remote_dns: true } => "socks5h",
        };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

impl Via {
    fn parse(url: &str) -> Result<Via> {
        let bad = |reason| Error::invalid_url(url, reason);
        let full;
        let url_text = if url.contains("://") {
            url
        } else {
            full = format!("http://{url}");
            &full
        };
        let parsed = url::Url::parse(url_text).map_err(|_| bad("not a valid proxy URL"))?;
        let kind = match parsed.scheme() {
            "http" => ViaKind::Http,
            "socks5" => ViaKind::Socks5 { remote_dns: false },
            "socks5h" => ViaKind::Socks5 { remote_dns: true },
            "https" => return Err(bad("TLS to the proxy (https://) is not supported")),
            _ => return Err(bad("proxy scheme must be http, socks5 or socks5h")),
        };
        let host = match parsed.host() {
            Some(url::Host::Ipv6(a)) => a.to_string(),
            Some(h) => h.to_string(),
            None => return Err(bad("proxy URL without a host")),
        };
        let port = parsed.port().unwrap_or(match kind {
            ViaKind::Http => 80,
            ViaKind::Socks5 { .. } => 1080,
        });
        let decode = |s: &str| -> Result<String> {
            percent_decode(s).ok_or_else(|| bad("bad percent-encoding in the proxy credentials"))
        };
        let auth = if parsed.username().is_empty() && parsed.password().is_none() {
            None
        } else {
            Some((
                decode(parsed.username())?,
                decode(parsed.password().unwrap_or(""))?,
            ))
        };
        let mut via = Via {
            kind,
            host,
            port,
            auth,
            key: String::new(),
        };
        via.rekey();
        Ok(via)
    }

    fn rekey(&mut self) {
        // The credentials are part of the key (as a fingerprint: the key never holds them).
        self.key = match &self.auth {
            Some((u, p)) => format!("{self} {}", fingerprint(u, p)),
            None => self.to_string(),
        };
    }

    /// The `Proxy-Authorization` value for an HTTP proxy (RFC 9110 §11.7.2, Basic).
    pub fn authorization(&self) -> Option<HeaderValue> {
        let (u, p) = self.auth.as_ref()?;
        let v = format!(
            "Basic {}",
            super::request::base64(format!("{u}:{p}").as_bytes())
        );
        let mut v = HeaderValue::from_str(&v).ok()?;
        v.set_sensitive(true);
        Some(v)
    }
}

/// A stable, non-reversible tag of credentials for the pool key (FNV-1a, 64 bits).
fn fingerprint(user: &str, pass: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in user.bytes().chain([0]).chain(pass.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("#{h:016x}")
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl Proxy {
    fn new(intercept: Intercept, url: &str) -> Result<Proxy> {
        Ok(Proxy {
            intercept,
            via: Via::parse(url)?,
            no_proxy: None,
        })
    }

    /// A proxy for `http://` URLs only.
    pub fn http(url: &str) -> Result<Proxy> {
        Proxy::new(Intercept::Http, url)
    }

    /// A proxy for `https://` URLs only.
    pub fn https(url: &str) -> Result<Proxy> {
        Proxy::new(Intercept::Https, url)
    }

    /// A proxy for every URL.
    pub fn all(url: &str) -> Result<Proxy> {
        Proxy::new(Intercept::All, url)
    }

    /// Authenticates to the proxy with this user name and password (HTTP Basic in
    /// `Proxy-Authorization`, or SOCKS5 username/password); replaces credentials from the
    /// URL.
    pub fn basic_auth(mut self, user: &str, password: &str) -> Proxy {
        self.via.auth = Some((user.to_owned(), password.to_owned()));
        self.via.rekey();
        self
    }

    /// Hosts that bypass this proxy (`None`: none do).
    pub fn no_proxy(mut self, no_proxy: Option<NoProxy>) -> Proxy {
        self.no_proxy = no_proxy;
        self
    }

    fn applies(&self, t: &Target<'_>) -> bool {
        let scheme_ok = match self.intercept {
            Intercept::All => true,
            Intercept::Http => t.scheme == Scheme::Http,
            Intercept::Https => t.scheme == Scheme::Https,
        };
        scheme_ok
            && !self
                .no_proxy
                .as_ref()
                .is_some_and(|n| n.matches(t.host, t.port))
    }
}

/// Hosts that must not go through a proxy: a comma-separated list as in `NO_PROXY`.
///
/// Each entry is one of
/// * `*`: every host;
/// * a domain name: that name and its subdomains (`example.com` and `.example.com`
///   both match `example.com` and `a.example.com`; `*.example.com` likewise);
/// * an IP address (`10.1.2.3`, `::1`, `[::1]`) or a CIDR block (`10.0.0.0/8`,
///   `fd00::/8`): URLs whose host is such an address;
/// * any of the above with `:port`: only URLs with that port.
///
/// Matching is on the URL's host as written (no resolution) and ignores case.
#[derive(Debug, Clone, Default)]
pub struct NoProxy {
    entries: Vec<NoProxyEntry>,
}

#[derive(Debug, Clone)]
enum NoProxyHost {
    All,
    Domain(String),
    Net(IpAddr, u8),
}

#[derive(Debug, Clone)]
struct NoProxyEntry {
    host: NoProxyHost,
    port: Option<u16>,
}

impl NoProxy {
    /// Parses a `NO_PROXY`-style list (entries that cannot be parsed are ignored).
    pub fn from_string(list: &str) -> NoProxy {
        let entries = list
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .filter_map(NoProxyEntry::parse)
            .collect();
        NoProxy { entries }
    }

    /// `no_proxy` or `NO_PROXY` from the environment, if set and not empty.
    pub fn from_env() -> Option<NoProxy> {
        let v = env_var("no_proxy").or_else(|| env_var("NO_PROXY"))?;
        Some(NoProxy::from_string(&v))
    }

    /// True when a URL with this host (IPv6 without brackets) and port bypasses the
    /// proxy.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = host.trim_end_matches('.');
        let ip = host.parse::<IpAddr>().ok();
        self.entries.iter().any(|e| {
            if e.port.is_some_and(|p| p != port) {
                return false;
            }
            match &e.host {
                NoProxyHost::All => true,
                NoProxyHost::Net(net, bits) => ip.is_some_and(|ip| in_net(ip, *net, *bits)),
                NoProxyHost::Domain(d) => {
                    ip.is_none()
                        && (host.eq_ignore_ascii_case(d)
                            || (host.len() > d.len()
                                && host.as_bytes()[host.len() - d.len() - 1] == b'.'
                                && host[host.len() - d.len()..].eq_ignore_ascii_case(d)))
                }
            }
        })
    }
}

impl NoProxyEntry {
    fn parse(e: &str) -> Option<NoProxyEntry> {
        // Split an optional port: `[v6]:p`, `host:p`, `a.b.c.d/n:p`; a bare IPv6 address
        // (more than one ':') has none.
        let (host, port) = if let Some(rest) = e.strip_prefix('[') {
            let (h, after) = rest.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p.parse().ok()?),
                None if after.is_empty() => None,
                None => {
                    // `[v6]/64`
                    let bits = after.strip_prefix('/')?;
                    return NoProxyEntry::parse(&format!("{h}/{bits}"));
                }
            };
            (h, port)
        } else if e.matches(':').count() == 1 {
            let (h, p) = e.split_once(':')?;
            (h, Some(p.parse().ok()?))
        } else {
            (e, None)
        };
        let host = if host == "*" {
            NoProxyHost::All
        } else if let Some((addr, bits)) = host.split_once('/') {
            let ip: IpAddr = addr.parse().ok()?;
            let bits: u8 = bits.parse().ok()?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            if bits > max {
                return None;
            }
            NoProxyHost::Net(ip, bits)
        } else if let Ok(ip) = host.parse::<IpAddr>() {
            NoProxyHost::Net(ip, if ip.is_ipv4() { 32 } else { 128 })
        } else {
            let d = host.trim_start_matches("*.").trim_start_matches('.');
            let d = d.trim_end_matches('.');
            if d.is_empty() {
                return None;
            }
            NoProxyHost::Domain(d.to_ascii_lowercase())
        };
        Some(NoProxyEntry { host, port })
    }
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        // An IPv4-mapped IPv6 host against an IPv4 block.
        (IpAddr::V6(a), IpAddr::V4(_)) => a
            .to_ipv4_mapped()
            .is_some_and(|a| in_net(IpAddr::V4(a), net, bits)),
        _ => false,
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The client's proxies, in the order they are tried.
#[derive(Debug, Clone, Default)]
pub(crate) struct Proxies {
    list: Vec<Proxy>,
}

impl Proxies {
    /// `explicit`, then (with `env`) the proxies of the environment.
    pub fn new(explicit: Vec<Proxy>, env: bool) -> Proxies {
        let mut list = explicit;
        if env {
            list.extend(Proxy::from_env());
        }
        Proxies { list }
    }

    /// The proxy for `t`, if any.
    pub fn find(&self, t: &Target<'_>) -> Option<&Via> {
        self.list.iter().find(|p| p.applies(t)).map(|p| &p.via)
    }

    /// The pool key part of `t`'s proxy ("" without one).
    pub fn key(&self, t: &Target<'_>) -> &str {
        self.find(t).map_or("", |v| &v.key)
    }
}

impl Proxy {
    /// The proxies named by the environment, which a client uses unless
    /// [`ClientBuilder::no_proxy`](super::ClientBuilder::no_proxy) is called:
    /// `http_proxy`/`HTTP_PROXY` (`http://` URLs; the uppercase one is ignored in CGI
    /// programs), `https_proxy`/`HTTPS_PROXY` (`https://` URLs), `all_proxy`/`ALL_PROXY`
    /// (both), each with `no_proxy`/`NO_PROXY` as its exceptions. Empty and malformed
    /// values are skipped (the latter with a warning).
    pub fn from_env() -> Vec<Proxy> {
        env_proxies()
    }
}

fn env_proxies() -> Vec<Proxy> {
    let no_proxy = NoProxy::from_env();
    let cgi = std::env::var_os("REQUEST_METHOD").is_some();
    let mut out = Vec::new();
    let mut add = |intercept, names: &[&str]| {
        let Some(v) = names.iter().find_map(|n| env_var(n)) else {
            return;
        };
        match Proxy::new(intercept, v.trim()) {
            Ok(p) => out.push(p.no_proxy(no_proxy.clone())),
            Err(e) => tracing::warn!("ignoring the proxy in {}: {e}", names[0]),
        }
    };
    add(
        Intercept::Http,
        if cgi {
            &["http_proxy"]
        } else {
            &["http_proxy", "HTTP_PROXY"]
        },
    );
    add(Intercept::Https, &["https_proxy", "HTTPS_PROXY"]);
    add(Intercept::All, &["all_proxy", "ALL_PROXY"]);
    out
}

/// Opens a TCP connection to the proxy `via` and sets up a tunnel to `t` (HTTP
/// `CONNECT` or SOCKS5); for an HTTP proxy with `tunnel == false`, only connects (the
/// requests then use the absolute form).
pub(crate) async fn open(
    via: &Via,
    t: &Target<'_>,
    dialer: &Dialer,
    tunnel: bool,
) -> Result<TcpStream> {
    let mut tcp = dialer
        .connect(&via.host, via.port)
        .await
        .map_err(|source| Error::Connect {
            host: via.host.clone(),
            port: via.port,
            source,
        })?;
    match via.kind {
        ViaKind::Http if !tunnel => {}
        ViaKind::Http => http_connect(&mut tcp, via, t).await?,
        ViaKind::Socks5 { remote_dns } => socks5(&mut tcp, via, t, dialer, remote_dns).await?,
    }
    Ok(tcp)
}

fn proxy_error(via: &Via, status: Option<http::StatusCode>, reason: String) -> Error {
    Error::Proxy {
        proxy: via.to_string(),
        status,
        reason,
    }
}

/// RFC 9110 §9.3.6: `CONNECT host:port`; a 2xx answer turns the connection into a
/// tunnel. The response head is read with the HTTP/1.1 parser, up to
/// [`CONNECT_HEAD_MAX`] bytes; the proxy must not send anything after it.
async fn http_connect(tcp: &mut TcpStream, via: &Via, t: &Target<'_>) -> Result<()> {
    let authority = if t.host.contains(':') {
        format!("[{}]:{}", t.host, t.port)
    } else {
        format!("{}:{}", t.host, t.port)
    };
    let auth = via.authorization();
    let auth = auth.as_ref().and_then(|a| a.to_str().ok());
    connect_exchange(tcp, &authority, auth, |status, reason| {
        proxy_error(via, status, reason)
    })
    .await
}

/// The HTTP/1.1 CONNECT exchange on `io` (a proxy, or any server that tunnels):
/// `CONNECT authority` with an optional `Proxy-Authorization`, then a 2xx head and
/// nothing after it (RFC 9110 §9.3.6). `fail` builds the error for a refusal or a bad
/// answer. Shared by the proxy support and
/// [`Client::connect_tunnel`](super::Client::connect_tunnel).
pub(crate) async fn connect_exchange<IO>(
    io: &mut IO,
    authority: &str,
    authorization: Option<&str>,
    fail: impl Fn(Option<http::StatusCode>, String) -> Error,
) -> Result<()>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut req = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(a) = authorization {
        req.push_str("Proxy-Authorization: ");
        req.push_str(a);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    io.write_all(req.as_bytes()).await?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let end = loop {
        let n = io.read(&mut chunk).await?;
        if n == 0 {
            return Err(fail(
                None,
                "closed the connection before answering CONNECT".into(),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = shockwave_http11::find_head_end(&buf, 0) {
            break end;
        }
        if buf.len() > CONNECT_HEAD_MAX {
            return Err(fail(
                None,
                format!("CONNECT response head larger than {CONNECT_HEAD_MAX} bytes"),
            ));
        }
    };
    let arena = shockwave_arena::Arena::with_capacity(4096);
    let limits = shockwave_http11::Limits::default();
    let status = match shockwave_http11::parse_response(&buf[..end], &arena, &limits)? {
        shockwave_http11::Status::Complete((resp, _)) => resp.status(),
        shockwave_http11::Status::Partial => return Err(Error::MalformedHead),
    };
    if !status.is_success() {
        let reason = if status == http::StatusCode::PROXY_AUTHENTICATION_REQUIRED
            || status == http::StatusCode::UNAUTHORIZED
        {
            format!(
                "requires authentication ({}): check the proxy credentials",
                status.as_u16()
            )
        } else {
            format!("refused CONNECT to {authority} with status {status}")
        };
        return Err(fail(Some(status), reason));
    }
    if buf.len() > end {
        return Err(fail(
            Some(status),
            "sent data after its CONNECT response".into(),
        ));
    }
    Ok(())
}

/// RFC 1928 (with RFC 1929 username/password): greeting, optional authentication,
/// then a CONNECT request carrying the host name (`remote_dns`) or an address resolved
/// here.
async fn socks5(
    tcp: &mut TcpStream,
    via: &Via,
    t: &Target<'_>,
    dialer: &Dialer,
    remote_dns: bool,
) -> Result<()> {
    let fail = |reason: String| proxy_error(via, None, reason);
    // Greeting: version 5, methods "no authentication" (0) and, with credentials,
    // "username/password" (2).
    if via.auth.is_some() {
        tcp.write_all(&[5, 2, 0, 2]).await?;
    } else {
        tcp.write_all(&[5, 1, 0]).await?;
    }
    let mut reply = [0u8; 2];
    tcp.read_exact(&mut reply).await?;
    if reply[0] != 5 {
        return Err(fail("is not a SOCKS5 proxy".into()));
    }
    match (reply[1], &via.auth) {
        (0, _) => {}
        (2, Some((user, pass))) => {
            if user.len() > 255 || pass.len() > 255 {
                return Err(fail("SOCKS5 credentials longer than 255 bytes".into()));
            }
            let mut msg = vec![1, user.len() as u8];
            msg.extend_from_slice(user.as_bytes());
            msg.push(pass.len() as u8);
            msg.extend_from_slice(pass.as_bytes());
            tcp.write_all(&msg).await?;
            tcp.read_exact(&mut reply).await?;
            if reply[1] != 0 {
                return Err(proxy_error(
                    via,
                    Some(http::StatusCode::PROXY_AUTHENTICATION_REQUIRED),
                    "rejected the SOCKS5 username/password".into(),
                ));
            }
        }
        _ => {
            return Err(proxy_error(
                via,
                Some(http::StatusCode::PROXY_AUTHENTICATION_REQUIRED),
                "accepts none of the offered SOCKS5 authentication methods".into(),
            ))
        }
    }
    let mut req = vec![5, 1, 0];
    let ip = match t.host.parse::<IpAddr>() {
        Ok(ip) => Some(ip),
        Err(_) if remote_dns => None,
        Err(_) => {
            let addrs =
                super::connect::sort_addresses(dialer.resolve(t.host, t.port).await.map_err(
                    |source| Error::Connect {
                        host: t.host.to_owned(),
                        port: t.port,
                        source,
                    },
                )?);
            Some(addrs[0].ip())
        }
    };
    match ip {
        Some(IpAddr::V4(a)) => {
            req.push(1);
            req.extend_from_slice(&a.octets());
        }
        Some(IpAddr::V6(a)) => {
            req.push(4);
            req.extend_from_slice(&a.octets());
        }
        None => {
            if t.host.len() > 255 {
                return Err(fail("host name longer than 255 bytes".into()));
            }
            req.push(3);
            req.push(t.host.len() as u8);
            req.extend_from_slice(t.host.as_bytes());
        }
    }
    req.extend_from_slice(&t.port.to_be_bytes());
    tcp.write_all(&req).await?;
    let mut head = [0u8; 4];
    tcp.read_exact(&mut head).await?;
    if head[0] != 5 {
        return Err(fail("sent a malformed SOCKS5 reply".into()));
    }
    if head[1] != 0 {
        let why = match head[1] {
            1 => "general failure",
            2 => "connection not allowed by ruleset",
            3 => "network unreachable",
            4 => "host unreachable",
            5 => "connection refused",
            6 => "TTL expired",
            7 => "command not supported",
            8 => "address type not supported",
            _ => "unknown error",
        };
        return Err(fail(format!(
            "could not connect to {}:{}: {why} (SOCKS5 reply {})",
            t.host, t.port, head[1]
        )));
    }
    // Skip the bound address.
    let skip = match head[3] {
        1 => 4,
        4 => 16,
        3 => {
            let mut n = [0u8; 1];
            tcp.read_exact(&mut n).await?;
            usize::from(n[0])
        }
        _ => return Err(fail("sent a malformed SOCKS5 reply".into())),
    } + 2;
    let mut rest = [0u8; 258];
    tcp.read_exact(&mut rest[..skip]).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(url: &str) -> Target<'_> {
        Target::parse(url).unwrap()
    }

    #[test]
    fn no_proxy_matching() {
        let n = NoProxy::from_string(
            "localhost, .corp.example,*.wild.test,exact.test:8080,10.0.0.0/8,192.168.1.7,[::1],fd00::/8,bad/99",
        );
        assert!(n.matches("localhost", 80));
        assert!(n.matches("LOCALHOST", 443));
        assert!(n.matches("corp.example", 80));
        assert!(n.matches("a.b.corp.example", 80));
        assert!(!n.matches("notcorp.example", 80));
        assert!(n.matches("x.wild.test", 80));
        assert!(n.matches("wild.test", 80));
        assert!(n.matches("exact.test", 8080));
        assert!(!n.matches("exact.test", 80));
        assert!(n.matches("10.20.30.40", 80));
        assert!(!n.matches("11.0.0.1", 80));
        assert!(n.matches("192.168.1.7", 1));
        assert!(!n.matches("192.168.1.8", 1));
        assert!(n.matches("::1", 80));
        assert!(n.matches("fd12::5", 80));
        assert!(!n.matches("fe80::1", 80));
        assert!(!n.matches("example.com", 80));
        // A domain entry does not match an address, nor an address a name.
        assert!(!NoProxy::from_string("1.2.3.4").matches("1.2.3.4.nip.io", 80));
        assert!(NoProxy::from_string("*").matches("anything.example", 1));
        assert!(!NoProxy::from_string("").matches("localhost", 80));
        assert!(NoProxy::from_string("[::1]:81").matches("::1", 81));
        assert!(!NoProxy::from_string("[::1]:81").matches("::1", 80));
    }

    #[test]
    fn proxy_urls() {
        let p = Proxy::all("http://us%40er:p%3Ass@proxy.test:3128").unwrap();
        assert_eq!(p.via.kind, ViaKind::Http);
        assert_eq!((p.via.host.as_str(), p.via.port), ("proxy.test", 3128));
        assert_eq!(p.via.auth, Some(("us@er".to_owned(), "p:ss".to_owned())));
        // "Basic base64(us@er:p:ss)"
        assert_eq!(p.via.authorization().unwrap(), "Basic dXNAZXI6cDpzcw==");
        assert!(!format!("{p:?}").contains("p:ss"));
        assert!(!p.via.key.contains("p:ss"));
        let p = Proxy::http("127.0.0.1:8888").unwrap();
        assert_eq!((p.via.kind, p.via.port), (ViaKind::Http, 8888));
        let p = Proxy::https("socks5h://[::1]").unwrap();
        assert_eq!(p.via.kind, ViaKind::Socks5 { remote_dns: true });
        assert_eq!((p.via.host.as_str(), p.via.port), ("::1", 1080));
        assert_eq!(p.via.to_string(), "socks5h://[::1]:1080");
        assert!(Proxy::all("ftp://x").is_err());
        assert!(Proxy::all("https://x").is_err());
        // Different credentials, different pool keys.
        let a = Proxy::all("http://p:1").unwrap().basic_auth("u", "a");
        let b = Proxy::all("http://p:1").unwrap().basic_auth("u", "b");
        assert_ne!(a.via.key, b.via.key);
    }

    #[test]
    fn selection_by_scheme_and_no_proxy() {
        let proxies = Proxies::new(
            vec![
                Proxy::http("http://h:1")
                    .unwrap()
                    .no_proxy(Some(NoProxy::from_string("skip.test"))),
                Proxy::https("socks5://s:2").unwrap(),
            ],
            false,
        );
        assert_eq!(proxies.find(&t("http://a.test/")).unwrap().host, "h");
        assert_eq!(proxies.find(&t("https://a.test/")).unwrap().host, "s");
        assert!(proxies.find(&t("http://skip.test/")).is_none());
        assert_eq!(proxies.key(&t("http://skip.test/")), "");
    }
}
