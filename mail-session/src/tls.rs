//! rustls set-up: load a certificate and key from PEM files, or make a self-signed pair with
//! rcgen at first start and keep it for the next.
//!
//! Clients in tests trust that certificate through [`client_config_trusting`], which builds a
//! normal verifying rustls client with the one certificate as its root: nothing here turns
//! verification off.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use thiserror::Error;

/// Why TLS could not be set up.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TlsSetupError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// A PEM file held nothing usable.
    #[error("{path}: {what}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was missing or malformed.
        what: String,
    },
    /// rustls refused the certificate or key.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// rcgen could not make a certificate.
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
}

fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads every certificate of a PEM file.
pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let pem = |what: String| TlsSetupError::Pem {
        path: path.to_owned(),
        what,
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| pem(error.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| pem(error.to_string()))?;
    if certificates.is_empty() {
        return Err(pem("no certificate in file".into()));
    }
    Ok(certificates)
}

/// Reads the private key of a PEM file.
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
    PrivateKeyDer::from_pem_file(path).map_err(|error| TlsSetupError::Pem {
        path: path.to_owned(),
        what: error.to_string(),
    })
}

/// A server configuration from a certificate chain and key in PEM files.
pub fn server_config(
    certificate: &Path,
    private_key: &Path,
) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let config = ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            load_certificates(certificate)?,
            load_private_key(private_key)?,
        )?;
    Ok(Arc::new(config))
}

/// Makes a self-signed certificate for `names` at `certificate` and `private_key` unless both
/// files exist already. Returns whether it made them. The key file is readable by its owner only.
pub fn ensure_self_signed(
    certificate: &Path,
    private_key: &Path,
    names: &[String],
) -> Result<bool, TlsSetupError> {
    if certificate.exists() && private_key.exists() {
        return Ok(false);
    }
    let generated = rcgen::generate_simple_self_signed(names.to_vec())?;
    write_file(
        private_key,
        generated.key_pair.serialize_pem().as_bytes(),
        0o600,
    )?;
    write_file(certificate, generated.cert.pem().as_bytes(), 0o644)?;
    Ok(true)
}

fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsSetupError> {
    let io_error = |source| TlsSetupError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io_error)?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(io_error)?;
    io::Write::write_all(&mut file, contents).map_err(io_error)?;
    file.sync_all().map_err(io_error)
}

/// A verifying client configuration whose only trust root is the certificate in the PEM file
/// at `certificate` (a test server's self-signed certificate).
pub fn client_config_trusting(certificate: &Path) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    for certificate in load_certificates(certificate)? {
        roots.add(certificate)?;
    }
    client_config(roots)
}

/// A verifying client configuration with the given trust roots.
pub fn client_config(roots: RootCertStore) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let config = ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls::pki_types::ServerName;

    #[test]
    fn a_certificate_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (
            dir.path().join("tls/cert.pem"),
            dir.path().join("tls/key.pem"),
        );
        assert!(ensure_self_signed(&cert, &key, &["localhost".into()]).unwrap());
        let first = fs::read(&cert).unwrap();
        assert!(!ensure_self_signed(&cert, &key, &["localhost".into()]).unwrap());
        assert_eq!(
            fs::read(&cert).unwrap(),
            first,
            "an existing certificate is kept"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&key).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        server_config(&cert, &key).unwrap();
    }

    #[test]
    fn a_file_without_a_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.pem");
        fs::write(&path, "not a pem file\n").unwrap();
        assert!(matches!(
            load_certificates(&path),
            Err(TlsSetupError::Pem { .. })
        ));
        assert!(matches!(
            load_certificates(&dir.path().join("missing.pem")),
            Err(TlsSetupError::Pem { .. })
        ));
    }

    #[tokio::test]
    async fn a_client_trusting_the_certificate_completes_a_handshake_and_others_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        ensure_self_signed(&cert, &key, &["localhost".into()]).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(server_config(&cert, &key).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            for _ in 0..2 {
                let (tcp, _) = listener.accept().await.unwrap();
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    tls.write_all(b"hello").await.unwrap();
                    tls.shutdown().await.unwrap();
                }
            }
        });
        let name = ServerName::try_from("localhost").unwrap();
        let trusting = tokio_rustls::TlsConnector::from(client_config_trusting(&cert).unwrap());
        let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
        let mut tls = trusting.connect(name.clone(), tcp).await.unwrap();
        let mut greeting = String::new();
        tls.read_to_string(&mut greeting).await.unwrap();
        assert_eq!(greeting, "hello");

        let other_dir = tempfile::tempdir().unwrap();
        let (other_cert, other_key) = (other_dir.path().join("c"), other_dir.path().join("k"));
        ensure_self_signed(&other_cert, &other_key, &["localhost".into()]).unwrap();
        let stranger =
            tokio_rustls::TlsConnector::from(client_config_trusting(&other_cert).unwrap());
        let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
        assert!(
            stranger.connect(name, tcp).await.is_err(),
            "a client that does not trust the certificate must fail the handshake"
        );
        server.await.unwrap();
    }
}
