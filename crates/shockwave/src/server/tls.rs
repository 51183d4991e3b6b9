//! TLS configuration helpers (rustls with the ring provider; see docs/architecture.md).

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("{path}: {message}")]
    Pem {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// rustls rejected the certificate/key pair.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// rcgen could not generate a certificate.
    #[error("self-signed certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
}

/// A self-signed certificate generated for development (`--self-signed`).
#[derive(Debug, Clone)]
pub struct SelfSigned {
    /// The certificate, PEM-encoded (give it to clients, e.g. `curl --cacert`).
    pub cert_pem: String,
    /// The private key, PEM-encoded.
    pub key_pem: String,
    /// The server configuration using them.
    pub config: Arc<rustls::ServerConfig>,
}

impl SelfSigned {
    /// A rustls client configuration (the same ring provider as the server) that trusts
    /// this certificate and nothing else: for tests, examples and local development.
    ///
    /// ```
    /// let cert = shockwave::server::tls::self_signed(&["localhost"]).unwrap();
    /// let client = cert.client_config().unwrap();
    /// assert!(client.alpn_protocols.is_empty());
    /// ```
    pub fn client_config(&self) -> Result<rustls::ClientConfig, TlsError> {
        let der = CertificateDer::from_pem_slice(self.cert_pem.as_bytes()).map_err(|e| {
            TlsError::Pem {
                path: "<self-signed certificate>".into(),
                message: e.to_string(),
            }
        })?;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(der)?;
        Ok(rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth())
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls server configuration from a certificate chain and private key, with ALPN
/// `h2` and `http/1.1` (a client choosing `h2` is served over HTTP/2), or `http/1.1`
/// alone without the `http2` feature.
pub fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = if cfg!(feature = "http2") {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(Arc::new(config))
}

/// Loads a PEM certificate chain and a PEM private key (PKCS#8, PKCS#1 or SEC1).
pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let pem_err = |path: &Path, e: &dyn std::fmt::Display| TlsError::Pem {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem_err(cert, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(cert, &e))?;
    if certs.is_empty() {
        return Err(pem_err(cert, &"no certificate found"));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_err(key, &e))?;
    server_config(certs, key_der)
}

/// Generates a self-signed certificate for `names` (e.g. `localhost`, `127.0.0.1`) and
/// a server configuration using it.
pub fn self_signed(names: &[&str]) -> Result<SelfSigned, TlsError> {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let certified = rcgen::generate_simple_self_signed(names)?;
    let cert_pem = certified.cert.pem();
    let key_pem = certified.signing_key.serialize_pem();
    let cert_der = certified.cert.der().clone();
    let key_der = PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = server_config(vec![cert_der], key_der)?;
    Ok(SelfSigned {
        cert_pem,
        key_pem,
        config,
    })
}
