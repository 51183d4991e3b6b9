//! Name resolution and TCP connection establishment: the pluggable [`Resolve`] trait,
//! static overrides ([`ClientBuilder::resolve`](super::ClientBuilder::resolve)), and
//! Happy Eyeballs version 2 (RFC 8305) racing the resolved addresses.
//!
//! The connect timeout of the client covers resolution and the whole race (and the
//! proxy handshake and TLS after it).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::net::TcpStream;

/// The future a [`Resolve`] implementation returns: the addresses of a host (boxed, so
/// the trait is object safe; `'static`, so copy the host name into it).
pub type Resolving = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'static>>;

/// A DNS resolver: maps a host name and port to socket addresses. Install one with
/// [`ClientBuilder::resolver`](super::ClientBuilder::resolver); the default,
/// [`GaiResolver`], uses the system's `getaddrinfo` (tokio's `lookup_host`).
///
/// IP literals never reach the resolver. The addresses are tried in the Happy Eyeballs
/// order (RFC 8305 §4: families interleaved, IPv6 first, otherwise in the order given).
///
/// ```
/// use std::net::SocketAddr;
/// use shockwave::client::{Resolve, Resolving};
///
/// /// Resolves every name to the local host.
/// struct Loopback;
///
/// impl Resolve for Loopback {
///     fn resolve(&self, _host: &str, port: u16) -> Resolving {
///         Box::pin(async move { Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]) })
///     }
/// }
/// ```
pub trait Resolve: Send + Sync + 'static {
    /// The addresses of `host` (a DNS name, never an IP literal) for `port`.
    fn resolve(&self, host: &str, port: u16) -> Resolving;
}

/// The default resolver: the system's `getaddrinfo` on tokio's blocking pool
/// (`tokio::net::lookup_host`).
#[derive(Debug, Clone, Copy, Default)]
pub struct GaiResolver;

impl Resolve for GaiResolver {
    fn resolve(&self, host: &str, port: u16) -> Resolving {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
                .await?
                .collect();
            Ok(addrs)
        })
    }
}

/// The default Connection Attempt Delay of Happy Eyeballs (RFC 8305 §5 recommends
/// 250 ms).
pub(crate) const DEFAULT_ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// How the client reaches a host: its proxies, its dialer and its I/O driver.
#[derive(Debug, Clone, Default)]
pub(crate) struct Network {
    pub proxies: super::proxy::Proxies,
    pub dialer: Dialer,
    /// Every connection goes to this Unix domain socket instead (proxies do not apply).
    #[cfg(unix)]
    pub unix: Option<UnixSocket>,
    /// The I/O driver of cleartext TCP connections: asked for by
    /// [`ClientBuilder::io`](super::ClientBuilder::io), then (at build) the one in use.
    pub io: crate::common::io::Io,
    /// The io_uring ring of [`Io::Uring`](crate::common::io::Io::Uring), shared by the
    /// client's clones (set at build where io_uring works).
    #[cfg(all(feature = "io-uring", target_os = "linux"))]
    pub uring: Option<Arc<super::uring::Rings>>,
}

impl Network {
    /// Settles the I/O driver at build time: [`Io::Uring`](crate::common::io::Io::Uring)
    /// only where io_uring works here (else a warning with the reason, and epoll).
    pub fn settle_io(&mut self) {
        use crate::common::io::Io;
        if self.io != Io::Uring {
            return;
        }
        match crate::common::io::uring_available() {
            Ok(()) => {
                #[cfg(all(feature = "io-uring", target_os = "linux"))]
                {
                    self.uring = Some(Arc::default());
                }
            }
            Err(reason) => {
                tracing::warn!(%reason, "io_uring is unavailable; the client uses epoll");
                self.io = Io::Epoll;
            }
        }
    }

    /// Moves a connected cleartext TCP socket onto the io_uring ring when the client
    /// uses [`Io::Uring`](crate::common::io::Io::Uring); else (or where the ring cannot
    /// be set up, with a logged reason) keeps it on epoll.
    pub fn plain(&self, tcp: TcpStream) -> io::Result<super::Transport> {
        #[cfg(all(feature = "io-uring", target_os = "linux"))]
        if let Some(rings) = &self.uring {
            return Ok(match rings.adopt(tcp)? {
                Ok(s) => super::Transport::Uring(s),
                Err((reason, tcp)) => {
                    tracing::warn!(%reason, "io_uring connection unavailable; using epoll");
                    super::Transport::Tcp(tcp)
                }
            });
        }
        Ok(super::Transport::Tcp(tcp))
    }
}

/// The Unix domain socket of [`ClientBuilder::unix_socket`](super::ClientBuilder::unix_socket).
#[cfg(unix)]
#[derive(Debug, Clone)]
pub(crate) struct UnixSocket {
    pub path: std::path::PathBuf,
    /// The pool key part: `unix:` and the path (connections are pooled per socket).
    pub key: String,
}

impl Network {
    /// The HTTP proxy `t` is sent to in absolute form (an `http://` URL through an HTTP
    /// proxy), if any.
    pub fn forward_proxy(&self, t: &super::target::Target<'_>) -> Option<&super::proxy::Via> {
        #[cfg(unix)]
        if self.unix.is_some() {
            return None;
        }
        self.proxies.find(t).filter(|v| {
            v.kind == super::proxy::ViaKind::Http && t.scheme == super::target::Scheme::Http
        })
    }
}

/// How the client turns a host name into a TCP connection.
#[derive(Clone)]
pub(crate) struct Dialer {
    pub resolver: Arc<dyn Resolve>,
    /// Static overrides (lowercase host name to addresses; port 0 means "the URL's").
    pub overrides: HashMap<String, Vec<SocketAddr>>,
    /// Happy Eyeballs' Connection Attempt Delay.
    pub attempt_delay: Duration,
}

impl Default for Dialer {
    fn default() -> Self {
        Dialer {
            resolver: Arc::new(GaiResolver),
            overrides: HashMap::new(),
            attempt_delay: DEFAULT_ATTEMPT_DELAY,
        }
    }
}

impl fmt::Debug for Dialer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dialer")
            .field("overrides", &self.overrides)
            .field("attempt_delay", &self.attempt_delay)
            .finish_non_exhaustive()
    }
}

impl Dialer {
    /// The addresses of `host:port`: an IP literal as is, a static override, else the
    /// resolver's answer (an empty answer is an error).
    pub async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        if let Some(list) = self.overrides.get(&host.to_ascii_lowercase()) {
            return Ok(list
                .iter()
                .map(|a| match a.port() {
                    0 => SocketAddr::new(a.ip(), port),
                    _ => *a,
                })
                .collect());
        }
        let addrs = self.resolver.resolve(host, port).await?;
        if addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no addresses found for {host}"),
            ));
        }
        Ok(addrs)
    }

    /// Resolves `host` and connects to it with Happy Eyeballs; sets `TCP_NODELAY`.
    pub async fn connect(&self, host: &str, port: u16) -> io::Result<TcpStream> {
        let addrs = sort_addresses(self.resolve(host, port).await?);
        let tcp = race(&addrs, self.attempt_delay).await?;
        // Requests are written whole; don't let Nagle delay them.
        let _ = tcp.set_nodelay(true);
        Ok(tcp)
    }
}

/// RFC 8305 §4: interleave the address families, IPv6 first, keeping the resolver's
/// order within each family.
pub(crate) fn sort_addresses(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let (v6, v4): (Vec<_>, Vec<_>) = addrs.into_iter().partition(SocketAddr::is_ipv6);
    let mut out = Vec::with_capacity(v6.len() + v4.len());
    let (mut a, mut b) = (v6.into_iter(), v4.into_iter());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return out,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
}

/// RFC 8305 §5: starts a connection attempt to each address in turn, the next one
/// after `delay` or as soon as the previous attempt fails; the first to succeed wins
/// and the others are dropped (closed). All failing returns the last error.
pub(crate) async fn race(addrs: &[SocketAddr], delay: Duration) -> io::Result<TcpStream> {
    let mut pending = addrs.iter().copied();
    let mut running = FuturesUnordered::new();
    let mut last_err: Option<io::Error> = None;
    let start = |a: SocketAddr| async move { TcpStream::connect(a).await };
    match pending.next() {
        Some(a) => running.push(start(a)),
        None => return Err(io::Error::new(io::ErrorKind::NotFound, "no addresses")),
    }
    loop {
        let timer = tokio::time::sleep(delay);
        tokio::pin!(timer);
        tokio::select! {
            done = running.next() => match done {
                Some(Ok(tcp)) => return Ok(tcp),
                Some(Err(e)) => {
                    last_err = Some(e);
                    // A failed attempt starts the next one right away.
                    match pending.next() {
                        Some(a) => running.push(start(a)),
                        None if running.is_empty() => break,
                        None => {}
                    }
                }
                None => break,
            },
            _ = &mut timer, if pending.len() > 0 => {
                if let Some(a) = pending.next() {
                    running.push(start(a));
                }
            }
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("no address could be connected")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_interleaved_ipv6_first() {
        let a4 = |n: u8| SocketAddr::from(([10, 0, 0, n], 80));
        let a6 = |n: u16| SocketAddr::from(([0x2001, 0xdb8, 0, 0, 0, 0, 0, n], 80));
        let sorted = sort_addresses(vec![a4(1), a4(2), a4(3), a6(1), a6(2)]);
        assert_eq!(sorted, vec![a6(1), a4(1), a6(2), a4(2), a4(3)]);
        assert_eq!(sort_addresses(vec![a4(1), a4(2)]), vec![a4(1), a4(2)]);
    }

    #[tokio::test]
    async fn overrides_and_literals_skip_the_resolver() {
        struct Fails;
        impl Resolve for Fails {
            fn resolve(&self, _: &str, _: u16) -> Resolving {
                Box::pin(async { Err(io::Error::other("resolver called")) })
            }
        }
        let mut d = Dialer {
            resolver: Arc::new(Fails),
            ..Dialer::default()
        };
        d.overrides.insert(
            "example.test".into(),
            vec![
                SocketAddr::from(([127, 0, 0, 1], 0)),
                SocketAddr::from(([127, 0, 0, 2], 9)),
            ],
        );
        let got = d.resolve("Example.TEST", 8080).await.unwrap();
        assert_eq!(
            got,
            vec![
                SocketAddr::from(([127, 0, 0, 1], 8080)),
                SocketAddr::from(([127, 0, 0, 2], 9))
            ]
        );
        assert_eq!(
            d.resolve("::1", 443).await.unwrap(),
            vec![SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 443))]
        );
        assert!(d.resolve("other.test", 80).await.is_err());
    }
}
