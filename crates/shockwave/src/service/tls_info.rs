//! [`TlsInfo`]: what the TLS handshake of a connection negotiated, for handlers
//! ([`RequestContext::tls_info`](super::RequestContext::tls_info)) and tower services
//! (request extensions, see [`from_tower`](super::from_tower)).

use std::sync::Arc;

/// What the TLS handshake of the request's connection negotiated: the ALPN protocol,
/// the SNI server name, the TLS version, the cipher suite and the client's certificate.
///
/// Captured once per connection right after the handshake and shared by its requests:
/// reading it costs no allocation, and cloning it is a reference-count increment (the
/// tower adapter puts a clone in the request extensions, beside
/// [`RemoteAddr`](super::RemoteAddr)). Cleartext connections have none.
///
/// | | HTTP/1.1 and HTTP/2 over TLS (rustls) | HTTP/3 (QUIC, quinn) |
/// |---|---|---|
/// | [`alpn_protocol`](Self::alpn_protocol) | `http/1.1` or `h2` | `h3` |
/// | [`server_name`](Self::server_name) | the SNI name (RFC 6066 §3) | the SNI name |
/// | [`protocol_version`](Self::protocol_version) | e.g. `TLSv1_3`, `TLSv1_2` | `TLSv1_3` (QUIC always runs TLS 1.3, RFC 9001 §4.2) |
/// | [`cipher_suite`](Self::cipher_suite) | e.g. `TLS13_AES_128_GCM_SHA256` | `None`: quinn does not expose it |
/// | [`peer_certificate`](Self::peer_certificate) | the client's end-entity certificate, with client authentication | the same |
///
/// ```
/// use shockwave::server::{handler_fn, Response};
///
/// // Answers with the SNI name the client asked for.
/// let h = handler_fn(async |cx| match cx.tls_info() {
///     Some(tls) => Response::text(tls.server_name().unwrap_or("no SNI")),
///     None => Response::text("cleartext"),
/// });
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct TlsInfo(Arc<Inner>);

#[derive(Clone, PartialEq, Eq, Default)]
struct Inner {
    alpn: Option<Box<[u8]>>,
    server_name: Option<Box<str>>,
    version: Option<&'static str>,
    cipher_suite: Option<&'static str>,
    peer_certificate: Option<Box<[u8]>>,
}

impl std::fmt::Debug for TlsInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsInfo")
            .field(
                "alpn_protocol",
                &self.alpn_protocol().map(String::from_utf8_lossy),
            )
            .field("server_name", &self.server_name())
            .field("protocol_version", &self.protocol_version())
            .field("cipher_suite", &self.cipher_suite())
            .field(
                "peer_certificate",
                &self.peer_certificate().map(|der| der.len()),
            )
            .finish()
    }
}

impl TlsInfo {
    /// The details of a handshake that negotiated `alpn_protocol` (the ALPN protocol
    /// identifier, RFC 7301) for the SNI name `server_name`; the other details are
    /// unknown until set with the `with_*` methods. Protocol drivers build these; this
    /// constructor is for tests and custom transports.
    pub fn new(alpn_protocol: Option<&[u8]>, server_name: Option<&str>) -> Self {
        TlsInfo(Arc::new(Inner {
            alpn: alpn_protocol.map(Into::into),
            server_name: server_name.map(Into::into),
            ..Inner::default()
        }))
    }

    /// Sets the TLS version name (rustls' spelling: `TLSv1_3`, `TLSv1_2`).
    pub fn with_protocol_version(mut self, version: &'static str) -> Self {
        Arc::make_mut(&mut self.0).version = Some(version);
        self
    }

    /// Sets the cipher suite name (IANA name as rustls spells it, e.g.
    /// `TLS13_AES_128_GCM_SHA256`).
    pub fn with_cipher_suite(mut self, cipher_suite: &'static str) -> Self {
        Arc::make_mut(&mut self.0).cipher_suite = Some(cipher_suite);
        self
    }

    /// Sets the DER encoding of the client's end-entity certificate.
    pub fn with_peer_certificate(mut self, der: &[u8]) -> Self {
        Arc::make_mut(&mut self.0).peer_certificate = Some(der.into());
        self
    }

    /// The negotiated ALPN protocol identifier (RFC 7301): `b"h2"`, `b"http/1.1"`,
    /// `b"h3"`; `None` when the client offered no ALPN.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.0.alpn.as_deref()
    }

    /// The server name the client asked for with SNI (RFC 6066 §3), e.g. `localhost`;
    /// `None` when the client sent none (an IP address is never sent as SNI).
    pub fn server_name(&self) -> Option<&str> {
        self.0.server_name.as_deref()
    }

    /// The negotiated TLS version as rustls names it: `TLSv1_3` or `TLSv1_2`.
    pub fn protocol_version(&self) -> Option<&'static str> {
        self.0.version
    }

    /// The negotiated cipher suite as rustls names it (e.g. `TLS13_AES_128_GCM_SHA256`);
    /// `None` on HTTP/3, where quinn does not expose it.
    pub fn cipher_suite(&self) -> Option<&'static str> {
        self.0.cipher_suite
    }

    /// The DER encoding of the certificate the client presented (the first of its
    /// chain); `None` without client authentication. Its presence tells that the client
    /// authenticated with a certificate the server's verifier accepted.
    pub fn peer_certificate(&self) -> Option<&[u8]> {
        self.0.peer_certificate.as_deref()
    }

    /// The details of a rustls server connection whose handshake is complete.
    #[cfg(feature = "tls")]
    pub(crate) fn from_rustls(conn: &rustls::ServerConnection) -> Self {
        let mut info = TlsInfo::new(conn.alpn_protocol(), conn.server_name());
        let inner = Arc::make_mut(&mut info.0);
        inner.version = conn.protocol_version().and_then(|v| v.as_str());
        inner.cipher_suite = conn
            .negotiated_cipher_suite()
            .and_then(|s| s.suite().as_str());
        inner.peer_certificate = conn
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|der| der.as_ref().into());
        info
    }

    /// The details of an established QUIC connection (quinn with rustls): ALPN and SNI
    /// from its handshake data, the client's certificate if any; TLS 1.3 always.
    #[cfg(feature = "http3")]
    pub(crate) fn from_quinn(conn: &quinn::Connection) -> Self {
        let data = conn
            .handshake_data()
            .and_then(|d| d.downcast::<quinn::crypto::rustls::HandshakeData>().ok());
        let (alpn, sni) = match &data {
            Some(d) => (d.protocol.as_deref(), d.server_name.as_deref()),
            None => (None, None),
        };
        let mut info = TlsInfo::new(alpn, sni).with_protocol_version("TLSv1_3");
        let peer = conn.peer_identity().and_then(|p| {
            p.downcast::<Vec<rustls_pki_types::CertificateDer<'static>>>()
                .ok()
        });
        if let Some(der) = peer.as_ref().and_then(|chain| chain.first()) {
            info = info.with_peer_certificate(der.as_ref());
        }
        info
    }
}

#[cfg(test)]
mod tests {
    use super::TlsInfo;

    #[test]
    fn clones_share_one_allocation() {
        let info = TlsInfo::new(Some(b"h2"), Some("localhost"))
            .with_protocol_version("TLSv1_3")
            .with_cipher_suite("TLS13_AES_128_GCM_SHA256");
        let copy = info.clone();
        assert!(std::sync::Arc::ptr_eq(&info.0, &copy.0));
        assert_eq!(copy.alpn_protocol(), Some(&b"h2"[..]));
        assert_eq!(copy.server_name(), Some("localhost"));
        assert_eq!(copy.protocol_version(), Some("TLSv1_3"));
        assert_eq!(copy.cipher_suite(), Some("TLS13_AES_128_GCM_SHA256"));
        assert_eq!(copy.peer_certificate(), None);
    }
}
