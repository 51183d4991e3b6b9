//! TLS for the client: rustls with the workspace's one crypto provider (ring), the
//! webpki root store by default, extra roots, ALPN, and an explicit opt-in to skip
//! certificate verification for tests.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::error::{Error, Result};

/// How the client sets up TLS. Build one with [`TlsOptions::default`] and the methods
/// below, or hand a complete `rustls::ClientConfig` to
/// [`ClientBuilder::tls_config`](super::ClientBuilder::tls_config).
#[derive(Clone, Debug)]
pub struct TlsOptions {
    pub(crate) builtin_roots: bool,
    pub(crate) extra_roots: Vec<CertificateDer<'static>>,
    /// `None`: the client's default (`h2`, `http/1.1` unless HTTP/2 is disabled).
    pub(crate) alpn: Option<Vec<Vec<u8>>>,
    pub(crate) accept_invalid_certs: bool,
}

impl Default for TlsOptions {
    /// webpki roots, no extra roots, the client's default ALPN list, certificates
    /// verified.
    fn default() -> Self {
        TlsOptions {
            builtin_roots: true,
            extra_roots: Vec::new(),
            alpn: None,
            accept_invalid_certs: false,
        }
    }
}

impl TlsOptions {
    /// Trust (or stop trusting) the bundled Mozilla root store (`webpki-roots`).
    pub fn builtin_roots(mut self, enabled: bool) -> Self {
        self.builtin_roots = enabled;
        self
    }

    /// Trusts one more root certificate (DER).
    pub fn add_root_certificate(mut self, der: CertificateDer<'static>) -> Self {
        self.extra_roots.push(der);
        self
    }

    /// Trusts every certificate in a PEM bundle.
    pub fn add_root_certificates_pem(mut self, pem: &[u8]) -> Result<Self> {
        use rustls::pki_types::pem::PemObject;
        let mut n = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| Error::TlsConfig(format!("bad PEM certificate: {e}")))?;
            self.extra_roots.push(cert);
            n += 1;
        }
        if n == 0 {
            return Err(Error::TlsConfig("no certificate in PEM data".into()));
        }
        Ok(self)
    }

    /// The ALPN protocols offered, most preferred first (default: `["h2", "http/1.1"]`
    /// in a [`Client`](super::Client) with HTTP/2 enabled, else `["http/1.1"]`). The
    /// client speaks HTTP/2 on a connection only if the server selects `h2`.
    pub fn alpn(mut self, protocols: &[&[u8]]) -> Self {
        self.alpn = Some(protocols.iter().map(|p| p.to_vec()).collect());
        self
    }

    /// **Dangerous**: accept any server certificate (expired, self-signed, wrong name).
    /// Handshake signatures are still checked, but anyone can impersonate the server.
    /// Only for tests and `shockwave get --insecure`.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.accept_invalid_certs = accept;
        self
    }

    /// Builds the rustls configuration (ring provider, TLS 1.2 and 1.3); without an
    /// explicit [`TlsOptions::alpn`] list, ALPN offers `http/1.1` only.
    pub fn build(&self) -> Result<Arc<rustls::ClientConfig>> {
        self.build_with_default_alpn(&[b"http/1.1"])
    }

    /// [`TlsOptions::build`] with `default_alpn` when no ALPN list was set.
    pub(crate) fn build_with_default_alpn(
        &self,
        default_alpn: &[&[u8]],
    ) -> Result<Arc<rustls::ClientConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::TlsConfig(e.to_string()))?;
        let mut config = if self.accept_invalid_certs {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification { provider }))
                .with_no_client_auth()
        } else {
            let mut roots = rustls::RootCertStore::empty();
            if self.builtin_roots {
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
            for cert in &self.extra_roots {
                roots
                    .add(cert.clone())
                    .map_err(|e| Error::TlsConfig(format!("bad root certificate: {e}")))?;
            }
            if roots.is_empty() {
                return Err(Error::TlsConfig(
                    "no trusted root certificates (built-in roots disabled and none added)".into(),
                ));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        config.alpn_protocols = match &self.alpn {
            Some(list) => list.clone(),
            None => default_alpn.iter().map(|p| p.to_vec()).collect(),
        };
        Ok(Arc::new(config))
    }
}

/// Accepts any certificate but still verifies handshake signatures with the provider's
/// algorithms (so the handshake is at least internally consistent).
#[derive(Debug)]
struct NoVerification {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
