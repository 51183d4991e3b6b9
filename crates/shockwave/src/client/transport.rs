//! Opening connections: TCP (with `TCP_NODELAY`) and optionally TLS on top.

use std::io;
use std::pin::Pin;
#[cfg(feature = "tls")]
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

#[cfg(feature = "tls")]
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
#[cfg(feature = "tls")]
use tokio_rustls::client::TlsStream;
#[cfg(feature = "tls")]
use tokio_rustls::TlsConnector;

use super::connect::Network;
use super::error::{Error, Result, TimeoutKind};
use super::target::{Scheme, Target};

/// What [`connect`] uses for `https` targets: the rustls configuration.
#[cfg(feature = "tls")]
pub(crate) type TlsConfig = Arc<rustls::ClientConfig>;
/// What [`connect`] uses for `https` targets: nothing without the `tls` feature (an
/// `https` URL then fails with [`Error::TlsConfig`]).
#[cfg(not(feature = "tls"))]
pub(crate) type TlsConfig = ();

/// A client connection's byte stream: plain TCP or (with the `tls` feature) TLS over TCP.
#[derive(Debug)]
pub enum Transport {
    /// Plain-text TCP.
    Tcp(TcpStream),
    /// A Unix domain socket ([`ClientBuilder::unix_socket`](super::ClientBuilder::unix_socket)).
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
    /// TLS over TCP (boxed: the TLS state is large).
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream<TcpStream>>),
    /// Plain-text TCP through the client's io_uring ring
    /// ([`ClientBuilder::io`](super::ClientBuilder::io) with [`Io::Uring`](super::Io::Uring)).
    #[cfg(all(feature = "io-uring", target_os = "linux"))]
    Uring(super::uring::UringStream),
}

impl Transport {
    /// The tokio TCP socket underneath (`None` over a Unix domain socket or io_uring).
    pub fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Transport::Tcp(s) => Some(s),
            #[cfg(unix)]
            Transport::Unix(_) => None,
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Some(s.get_ref().0),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Transport::Uring(_) => None,
        }
    }

    /// The ALPN protocol the server selected, if any (always `None` for plain TCP).
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        match self {
            Transport::Tcp(_) => None,
            #[cfg(unix)]
            Transport::Unix(_) => None,
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.get_ref().1.alpn_protocol(),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Transport::Uring(_) => None,
        }
    }

    /// Cheap liveness check for an idle connection: `false` if the peer has closed it
    /// or sent unsolicited bytes (either way it cannot carry a new request). Never blocks.
    pub(crate) fn idle_is_usable(&self) -> bool {
        let mut probe = [0u8; 1];
        let read = match self {
            #[cfg(unix)]
            Transport::Unix(s) => s.try_read(&mut probe),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Transport::Uring(s) => return s.idle_is_usable(),
            _ => self.tcp().map_or(Ok(0), |s| s.try_read(&mut probe)),
        };
        match read {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => true,
            _ => false, // EOF, unexpected data, or an error
        }
    }
}

/// Connects to `target` (resolution and Happy Eyeballs, or the proxy and its tunnel,
/// then TLS for `https`), all within `timeout`. With `forward`, an `http://` target
/// whose proxy is an HTTP proxy gets a plain connection to the proxy (the requests then
/// use the absolute form); otherwise every proxy is tunnelled through.
pub(crate) async fn connect(
    target: &Target<'_>,
    tls: &TlsConfig,
    net: &Network,
    forward: bool,
    timeout: Duration,
) -> Result<Transport> {
    let fut = connect_inner(target, tls, net, forward);
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(Error::Timeout {
            kind: TimeoutKind::Connect,
            after: timeout,
        }),
    }
}

async fn connect_inner(
    target: &Target<'_>,
    tls: &TlsConfig,
    net: &Network,
    forward: bool,
) -> Result<Transport> {
    // Without TLS support an `https` URL fails before any connection is opened.
    #[cfg(not(feature = "tls"))]
    if target.scheme == Scheme::Https {
        let _ = tls;
        return Err(Error::TlsConfig(
            "https:// URLs need the `tls` feature of shockwave".into(),
        ));
    }
    #[cfg(unix)]
    if let Some(unix) = &net.unix {
        // Like curl --unix-socket: the URL names the request, the socket is where it goes.
        if target.scheme == Scheme::Https {
            return Err(Error::invalid_url(
                target.authority,
                "https over a Unix domain socket is not supported; use http://",
            ));
        }
        let stream = tokio::net::UnixStream::connect(&unix.path)
            .await
            .map_err(|source| Error::Connect {
                host: unix.key.clone(),
                port: target.port,
                source,
            })?;
        return Ok(Transport::Unix(stream));
    }
    let tcp = match net.proxies.find(target) {
        Some(via) => {
            let tunnel = !forward || target.scheme == Scheme::Https;
            super::proxy::open(via, target, &net.dialer, tunnel).await?
        }
        None => net
            .dialer
            .connect(target.host, target.port)
            .await
            .map_err(|source| Error::Connect {
                host: target.host.to_owned(),
                port: target.port,
                source,
            })?,
    };
    match target.scheme {
        #[cfg(feature = "tls")]
        Scheme::Https => {
            let name = ServerName::try_from(target.host.to_owned()).map_err(|_| {
                Error::invalid_url(target.host, "host is not a valid TLS server name")
            })?;
            let stream = TlsConnector::from(tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|source| Error::Tls {
                    host: target.host.to_owned(),
                    source,
                })?;
            Ok(Transport::Tls(Box::new(stream)))
        }
        // `Http` (and, without the `tls` feature, nothing else gets here): epoll, or
        // the io_uring ring.
        _ => net.plain(tcp).map_err(|source| Error::Connect {
            host: target.host.to_owned(),
            port: target.port,
            source,
        }),
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(unix)]
            Transport::Unix(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Transport::Uring(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(unix)]
            Transport::Unix(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Transport::Uring(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            #[cfg(unix)]
            Transport::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Transport::Uring(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Transport::Tcp(s) => s.is_write_vectored(),
            #[cfg(unix)]
            Transport::Unix(s) => s.is_write_vectored(),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.is_write_vectored(),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Transport::Uring(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_flush(cx),
            #[cfg(unix)]
            Transport::Unix(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Transport::Uring(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(unix)]
            Transport::Unix(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Transport::Uring(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
