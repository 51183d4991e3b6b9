//! CONNECT tunnels (RFC 9110 §9.3.6 on HTTP/1.1, RFC 9113 §8.5 on HTTP/2, RFC 9114 §4.4
//! on HTTP/3):
//! [`Client::connect_tunnel`] asks a server (usually a proxy) for a byte stream to
//! `host:port` and returns it as a [`Tunnel`].

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Version;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[cfg(feature = "http2")]
use super::h2::H2Stream;
use super::target::Target;
use super::{Client, Error, Result, Transport};

/// A CONNECT tunnel: a tokio [`AsyncRead`] + [`AsyncWrite`] byte stream to the
/// authority given to [`Client::connect_tunnel`], through the server that accepted the
/// CONNECT. It is `Send` and may move to any task.
///
/// Over HTTP/1.1 it is the connection itself (a new one, never pooled: dropping the
/// tunnel closes it). Over HTTP/2 it is one stream of a shared connection: `shutdown`
/// sends END_STREAM (the peer's END_STREAM is the end of the reads), dropping it before
/// both sides ended resets the stream (CANCEL); flow control applies both ways. Over
/// HTTP/3 it is one request stream of the pooled QUIC connection (RFC 9114 §4.4): DATA
/// frames both ways, `shutdown` sends FIN, dropping it before resets the stream
/// (`H3_REQUEST_CANCELLED`).
pub struct Tunnel {
    inner: Inner,
}

enum Inner {
    H1(Box<Transport>),
    /// A request stream of the pooled QUIC connection (RFC 9114 §4.4).
    #[cfg(feature = "http3")]
    H3(Box<super::Http3Tunnel>),
    #[cfg(feature = "http2")]
    H2 {
        stream: H2Stream,
        /// END_STREAM was sent.
        fin: bool,
    },
}

impl std::fmt::Debug for Tunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tunnel")
            .field("version", &self.version())
            .finish_non_exhaustive()
    }
}

impl Tunnel {
    /// The HTTP version that carries the tunnel (`HTTP_11`, `HTTP_2` or `HTTP_3`).
    pub fn version(&self) -> Version {
        match &self.inner {
            Inner::H1(_) => Version::HTTP_11,
            #[cfg(feature = "http3")]
            Inner::H3(_) => Version::HTTP_3,
            #[cfg(feature = "http2")]
            Inner::H2 { .. } => Version::HTTP_2,
        }
    }

    /// An HTTP/2 stream whose 2xx answer arrived, as a tunnel.
    #[cfg(feature = "http2")]
    pub(crate) fn h2(stream: H2Stream) -> Tunnel {
        Tunnel {
            inner: Inner::H2 { stream, fin: false },
        }
    }
}

#[cfg(feature = "http2")]
fn h2_io_error(e: Error) -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, e)
}

impl AsyncRead for Tunnel {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Inner::H1(io) => Pin::new(&mut **io).poll_read(cx, buf),
            #[cfg(feature = "http3")]
            Inner::H3(io) => Pin::new(&mut **io).poll_read(cx, buf),
            #[cfg(feature = "http2")]
            Inner::H2 { stream, .. } => {
                let n = match stream.poll_read(cx, buf.initialize_unfilled()) {
                    Poll::Ready(Ok(n)) => n,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(h2_io_error(e))),
                    Poll::Pending => return Poll::Pending,
                };
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
        }
    }
}

impl AsyncWrite for Tunnel {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.inner {
            Inner::H1(io) => Pin::new(&mut **io).poll_write(cx, data),
            #[cfg(feature = "http3")]
            Inner::H3(io) => Pin::new(&mut **io).poll_write(cx, data),
            #[cfg(feature = "http2")]
            Inner::H2 { stream, fin } => {
                if *fin {
                    return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
                }
                if data.is_empty() {
                    return Poll::Ready(Ok(0));
                }
                stream.poll_send_data(cx, data, false).map_err(h2_io_error)
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Inner::H1(io) => Pin::new(&mut **io).poll_flush(cx),
            #[cfg(feature = "http3")]
            Inner::H3(io) => Pin::new(&mut **io).poll_flush(cx),
            // Queued DATA is written by the connection's task.
            #[cfg(feature = "http2")]
            Inner::H2 { .. } => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Inner::H1(io) => Pin::new(&mut **io).poll_shutdown(cx),
            #[cfg(feature = "http3")]
            Inner::H3(io) => Pin::new(&mut **io).poll_shutdown(cx),
            #[cfg(feature = "http2")]
            Inner::H2 { stream, fin } => {
                if *fin {
                    return Poll::Ready(Ok(()));
                }
                match stream.poll_send_data(cx, &[], true) {
                    Poll::Ready(Ok(_)) => {
                        *fin = true;
                        Poll::Ready(Ok(()))
                    }
                    Poll::Ready(Err(e)) => Poll::Ready(Err(h2_io_error(e))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

/// RFC 9112 §3.2.3: `uri-host ":" port` (an IPv6 host in brackets).
fn valid_authority(authority: &str) -> bool {
    let Some((host, port)) = authority.rsplit_once(':') else {
        return false;
    };
    let host_ok = if let Some(inner) = host.strip_prefix('[') {
        inner
            .strip_suffix(']')
            .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok())
    } else {
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    };
    host_ok && port.parse::<u16>().is_ok()
}

impl Client {
    /// Opens a CONNECT tunnel to `authority` (`host:port`) through the server at `url`
    /// (usually a proxy: `http://proxy:3128`, or `https://` for TLS to it). The HTTP
    /// version follows the client's preference for `url`, as a request would: HTTP/2
    /// over TLS when the server picks `h2` in ALPN, h2c with
    /// [`ClientBuilder::http2_prior_knowledge`](super::ClientBuilder::http2_prior_knowledge),
    /// HTTP/1.1 otherwise. See [`Client::connect_tunnel_with`] to choose it.
    ///
    /// A refusal (a status other than 2xx) is an [`Error::Proxy`] with the status.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use shockwave::client::Client;
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// let client = Client::new();
    /// let mut tunnel = client
    ///     .connect_tunnel("http://127.0.0.1:3128", "example.com:80")
    ///     .await?;
    /// tunnel.write_all(b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n").await?;
    /// let mut answer = Vec::new();
    /// tunnel.read_to_end(&mut answer).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect_tunnel(&self, url: &str, authority: &str) -> Result<Tunnel> {
        self.connect_tunnel_with(url, authority, None).await
    }

    /// [`Client::connect_tunnel`] over a chosen HTTP version: `Some(Version::HTTP_11)`
    /// (a new connection: `CONNECT authority HTTP/1.1`), `Some(Version::HTTP_2)` (a
    /// stream of a shared HTTP/2 connection, RFC 9113 §8.5; needs the `http2` feature,
    /// and for `http://` URLs a server that speaks h2c), `Some(Version::HTTP_3)` (a
    /// request stream of the pooled QUIC connection, RFC 9114 §4.4; `https://` only,
    /// needs the `http3` feature), or `None` (the client's preference: HTTP/3 for
    /// `https://` with `ClientBuilder::http3`).
    pub async fn connect_tunnel_with(
        &self,
        url: &str,
        authority: &str,
        version: Option<Version>,
    ) -> Result<Tunnel> {
        let t = Target::parse(url)?;
        if !valid_authority(authority) {
            return Err(Error::invalid_url(
                authority,
                "a CONNECT target must be host:port",
            ));
        }
        let origin = format!("{}://{}", t.scheme.as_str(), t.authority);
        let refused = |status: Option<http::StatusCode>, reason: String| Error::Proxy {
            proxy: origin.clone(),
            status,
            reason,
        };
        #[cfg(feature = "http3")]
        {
            let https = t.scheme == super::Scheme::Https;
            let wants_h3 = match version {
                Some(v) => v == Version::HTTP_3,
                None => https && self.inner.config.http3,
            };
            if wants_h3 {
                if !https {
                    return Err(Error::invalid_url(url, "HTTP/3 needs an https URL"));
                }
                let conn = self.h3_connection(&t).await?;
                let cfg = &self.inner.config;
                let timeout = cfg.request_timeout.unwrap_or(cfg.connect_timeout);
                let request = super::Http3ConnectRequest {
                    authority,
                    protocol: None,
                    path: "",
                    headers: &[],
                };
                let tunnel = tokio::time::timeout(timeout, conn.open_tunnel(request))
                    .await
                    .map_err(|_| Error::Timeout {
                        kind: super::TimeoutKind::Request,
                        after: timeout,
                    })??;
                if !tunnel.is_established() {
                    let status = tunnel.status;
                    return Err(refused(
                        Some(status),
                        format!("refused CONNECT to {authority} with status {status}"),
                    ));
                }
                return Ok(Tunnel {
                    inner: Inner::H3(Box::new(tunnel)),
                });
            }
        }
        #[cfg(not(feature = "http3"))]
        if version == Some(Version::HTTP_3) {
            return Err(Error::invalid_url(
                url,
                "HTTP/3 needs the `http3` feature of shockwave",
            ));
        }
        #[cfg(feature = "http2")]
        {
            let https = t.scheme == super::Scheme::Https;
            let cfg = &self.inner.config;
            let wants_h2 = match version {
                Some(Version::HTTP_2) => true,
                Some(_) => false,
                None => (https && cfg.h2.alpn) || (!https && cfg.h2.prior_knowledge),
            };
            if wants_h2 {
                match self.h2_connection(&t).await? {
                    Some(conn) => {
                        let fields = [
                            (&b":method"[..], &b"CONNECT"[..]),
                            (b":authority", authority.as_bytes()),
                        ];
                        let mut stream = conn.open_stream(fields.iter().copied(), false).await?;
                        let timeout = cfg.request_timeout.unwrap_or(cfg.connect_timeout);
                        let head = tokio::time::timeout(timeout, stream.response())
                            .await
                            .map_err(|_| Error::Timeout {
                                kind: super::TimeoutKind::Request,
                                after: timeout,
                            })??;
                        let status = head.status().unwrap_or(0);
                        stream.recycle(head);
                        return match http::StatusCode::from_u16(status) {
                            Ok(s) if s.is_success() => Ok(Tunnel::h2(stream)),
                            s => Err(refused(
                                s.ok(),
                                format!("refused CONNECT to {authority} with status {status}"),
                            )),
                        };
                    }
                    None if version == Some(Version::HTTP_2) => {
                        return Err(Error::invalid_url(
                            url,
                            "the server did not choose HTTP/2 in ALPN",
                        ))
                    }
                    None => {}
                }
            }
        }
        #[cfg(not(feature = "http2"))]
        if version == Some(Version::HTTP_2) {
            return Err(Error::invalid_url(
                url,
                "HTTP/2 needs the `http2` feature of shockwave",
            ));
        }
        let mut io = self.connect(url).await?;
        super::proxy::connect_exchange(&mut io, authority, None, refused).await?;
        Ok(Tunnel {
            inner: Inner::H1(Box::new(io)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::valid_authority;

    #[test]
    fn authorities() {
        assert!(valid_authority("example.com:443"));
        assert!(valid_authority("127.0.0.1:8080"));
        assert!(valid_authority("[::1]:80"));
        assert!(!valid_authority("example.com"));
        assert!(!valid_authority("example.com:x"));
        assert!(!valid_authority("/path:1"));
        assert!(!valid_authority("a b:1"));
        assert!(!valid_authority("[::1:80"));
    }
}
