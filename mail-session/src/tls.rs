//! rustls set-up: load a certificate and key from PEM files, or make a self-signed pair with
//! rcgen at first start and keep it for the next.
//!
//! A self-signed pair is made only when neither file exists: with one of the two present
//! (a mistyped path, a half-restored backup) [`ensure_self_signed`] refuses, and it never
//! writes over a key. A certificate made here names the configured host, is valid for about a
//! year ([`SELF_SIGNED_VALIDITY`]), and is recorded in a note beside it
//! (`<certificate>.self-signed`), so that a later start renews it, for the same key, once it
//! expires within [`RENEW_BEFORE`] or the names asked for change. Certificates made
//! elsewhere are never touched.
//!
//! Clients in tests trust that certificate through [`client_config_trusting`], which builds a
//! normal verifying rustls client with the one certificate as its root: nothing here turns
//! verification off.

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
    #[cfg(feature = "self-signed")]
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
    /// One of the certificate and the key exists and the other does not: no pair is made,
    /// so that an operator's key is never replaced.
    #[error(
        "{present} exists but {missing} does not: refusing to make a self-signed pair over it \
         (fix the path of {missing}, or move {present} away to have a new pair made)"
    )]
    Incomplete {
        /// The file that exists.
        present: PathBuf,
        /// The file that does not.
        missing: PathBuf,
    },
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

#[cfg(feature = "self-signed")]
pub use self_signed::*;

/// Making and renewing a self-signed pair (feature `self-signed`: rcgen).
#[cfg(feature = "self-signed")]
mod self_signed {
    use super::*;
    use std::fs;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    /// How long a self-signed certificate made by [`ensure_self_signed`] is valid: about a year.
    pub const SELF_SIGNED_VALIDITY: Duration = Duration::from_secs(365 * 24 * 60 * 60);

    /// A self-signed certificate made here is renewed at start when it expires within this
    /// time: 30 days.
    pub const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 60 * 60);

    /// What [`ensure_self_signed_at`] did.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[non_exhaustive]
    pub enum SelfSigned {
        /// Both files exist and are kept as they are.
        Kept,
        /// Neither existed: a new key and a certificate were made.
        Made,
        /// The certificate was one made here that expires within [`RENEW_BEFORE`] (or named
        /// other names): a new certificate for the same key replaced it.
        Renewed,
    }

    /// [`ensure_self_signed_at`] with the system clock's time; true when it made or renewed the
    /// certificate.
    pub fn ensure_self_signed(
        certificate: &Path,
        private_key: &Path,
        names: &[String],
    ) -> Result<bool, TlsSetupError> {
        let done = ensure_self_signed_at(certificate, private_key, names, SystemTime::now())?;
        Ok(done != SelfSigned::Kept)
    }

    /// Makes a self-signed certificate for `names` (the first is also its common name), valid
    /// from a day before `now` for [`SELF_SIGNED_VALIDITY`], at `certificate`, with a new key at
    /// `private_key` (created with mode 0600, never over an existing file), when neither file
    /// exists. With both present it keeps them, unless the certificate is one this function made
    /// (it leaves a note beside it, `<certificate>.self-signed`) that expires within
    /// [`RENEW_BEFORE`] of `now` or was made for other `names`: then it makes a new certificate
    /// for the same key (and makes that key's mode 0600). With only one of the two present it refuses
    /// ([`TlsSetupError::Incomplete`]).
    pub fn ensure_self_signed_at(
        certificate: &Path,
        private_key: &Path,
        names: &[String],
        now: SystemTime,
    ) -> Result<SelfSigned, TlsSetupError> {
        match (exists(certificate)?, exists(private_key)?) {
            (false, false) => {
                let key_pair = rcgen::KeyPair::generate()?;
                let (pem, note) = self_signed_pem(&key_pair, names, now)?;
                write_new_file(private_key, key_pair.serialize_pem().as_bytes(), KEY_MODE)?;
                write_new_file(certificate, pem.as_bytes(), CERTIFICATE_MODE)?;
                replace_file(&note_path(certificate), note.as_bytes(), CERTIFICATE_MODE)?;
                Ok(SelfSigned::Made)
            }
            (true, false) => Err(TlsSetupError::Incomplete {
                present: certificate.to_owned(),
                missing: private_key.to_owned(),
            }),
            (false, true) => Err(TlsSetupError::Incomplete {
                present: private_key.to_owned(),
                missing: certificate.to_owned(),
            }),
            (true, true) => {
                if !needs_renewal(certificate, names, now)? {
                    return Ok(SelfSigned::Kept);
                }
                let key_pem =
                    fs::read_to_string(private_key).map_err(|source| TlsSetupError::Io {
                        path: private_key.to_owned(),
                        source,
                    })?;
                let key_pair = rcgen::KeyPair::from_pem(&key_pem)?;
                let (pem, note) = self_signed_pem(&key_pair, names, now)?;
                replace_file(certificate, pem.as_bytes(), CERTIFICATE_MODE)?;
                replace_file(&note_path(certificate), note.as_bytes(), CERTIFICATE_MODE)?;
                // The key is ours too: older versions left it as the umask made it.
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    fs::set_permissions(private_key, fs::Permissions::from_mode(KEY_MODE))
                        .map_err(|source| TlsSetupError::Io {
                            path: private_key.to_owned(),
                            source,
                        })?;
                }
                Ok(SelfSigned::Renewed)
            }
        }
    }

    pub(super) const KEY_MODE: u32 = 0o600;
    pub(super) const CERTIFICATE_MODE: u32 = 0o644;
    /// The subject rcgen's `generate_simple_self_signed` gives, as older versions of this module
    /// made their certificates (valid 1975 to 4096, without a note): renewed like ours.
    pub(super) const OLD_RCGEN_SUBJECT: &[u8] = b"rcgen self signed cert";
    pub(super) const DAY_SECS: u64 = 24 * 60 * 60;

    pub(super) fn exists(path: &Path) -> Result<bool, TlsSetupError> {
        path.try_exists().map_err(|source| TlsSetupError::Io {
            path: path.to_owned(),
            source,
        })
    }

    /// The note beside a certificate made here.
    pub(super) fn note_path(certificate: &Path) -> PathBuf {
        let mut name = certificate
            .file_name()
            .map(|name| name.to_os_string())
            .unwrap_or_default();
        name.push(".self-signed");
        certificate.with_file_name(name)
    }

    /// Whether the certificate at `certificate` is one made here that expires within
    /// [`RENEW_BEFORE`] of `now` or names other names than `names`.
    pub(super) fn needs_renewal(
        certificate: &Path,
        names: &[String],
        now: SystemTime,
    ) -> Result<bool, TlsSetupError> {
        match fs::read_to_string(note_path(certificate)) {
            Ok(note) => {
                let mut not_after = None;
                let mut noted_names = Vec::new();
                for line in note.lines() {
                    if let Some(secs) = line.strip_prefix("not_after ") {
                        not_after = secs.trim().parse::<u64>().ok();
                    } else if let Some(name) = line.strip_prefix("name ") {
                        noted_names.push(name.trim().to_string());
                    }
                }
                let Some(not_after) = not_after else {
                    return Ok(true);
                };
                let expires = UNIX_EPOCH + Duration::from_secs(not_after);
                Ok(now + RENEW_BEFORE >= expires || noted_names != names)
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                // No note: made elsewhere (kept), or by an older version of this module.
                let certificates = load_certificates(certificate)?;
                Ok(certificates.len() == 1
                    && memchr::memmem::find(certificates[0].as_ref(), OLD_RCGEN_SUBJECT).is_some())
            }
            Err(source) => Err(TlsSetupError::Io {
                path: note_path(certificate),
                source,
            }),
        }
    }

    /// A self-signed certificate (PEM) for `names` with `key_pair`, valid from the day before
    /// `now` for [`SELF_SIGNED_VALIDITY`], and the note that records it.
    pub(super) fn self_signed_pem(
        key_pair: &rcgen::KeyPair,
        names: &[String],
        now: SystemTime,
    ) -> Result<(String, String), TlsSetupError> {
        let today = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs() / DAY_SECS);
        let first_day = today.saturating_sub(1);
        let last_day = today + SELF_SIGNED_VALIDITY.as_secs() / DAY_SECS;
        let mut params = rcgen::CertificateParams::new(names.to_vec())?;
        if let Some(name) = names.first() {
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name.as_str());
        }
        let (year, month, day) = date_of_day(first_day);
        params.not_before = rcgen::date_time_ymd(year, month, day);
        let (year, month, day) = date_of_day(last_day);
        params.not_after = rcgen::date_time_ymd(year, month, day);
        let certificate = params.self_signed(key_pair)?;
        let mut note = format!(
            "# Made by mail-server at start: renewed at start when it expires within {} days.\n\
             not_after {}\n",
            RENEW_BEFORE.as_secs() / DAY_SECS,
            last_day * DAY_SECS
        );
        for name in names {
            note.push_str(&format!("name {name}\n"));
        }
        Ok((certificate.pem(), note))
    }

    /// Year, month and day of day `days` since 1970-01-01 (years kept within 1..=9999).
    pub(super) fn date_of_day(days: u64) -> (i32, u8, u8) {
        // Howard Hinnant's civil_from_days.
        let z = days as i64 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        match yoe + era * 400 + i64::from(month <= 2) {
            year @ 1..=9999 => (year as i32, month, day),
            ..=0 => (1, 1, 1),
            _ => (9999, 12, 31),
        }
    }

    /// Writes a file that must not exist yet (never over another), with `mode`.
    pub(super) fn write_new_file(
        path: &Path,
        contents: &[u8],
        mode: u32,
    ) -> Result<(), TlsSetupError> {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        write_with(path, contents, mode, options)
    }

    /// Replaces a file whole: written beside it, then renamed over it.
    pub(super) fn replace_file(
        path: &Path,
        contents: &[u8],
        mode: u32,
    ) -> Result<(), TlsSetupError> {
        let mut temporary_name = path
            .file_name()
            .map(|name| name.to_os_string())
            .unwrap_or_default();
        temporary_name.push(format!(".{}.tmp", std::process::id()));
        let temporary = path.with_file_name(temporary_name);
        let _ = fs::remove_file(&temporary);
        write_new_file(&temporary, contents, mode)?;
        fs::rename(&temporary, path).map_err(|source| TlsSetupError::Io {
            path: path.to_owned(),
            source,
        })
    }

    pub(super) fn write_with(
        path: &Path,
        contents: &[u8],
        mode: u32,
        mut options: fs::OpenOptions,
    ) -> Result<(), TlsSetupError> {
        let io_error = |source| TlsSetupError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            let mut folder = fs::DirBuilder::new();
            folder.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                folder.mode(0o700);
            }
            folder.create(parent).map_err(io_error)?;
        }
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

#[cfg(all(test, feature = "self-signed"))]
mod tests {
    use super::self_signed::*;
    use super::*;
    use std::fs;
    use std::path::PathBuf;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls::pki_types::ServerName;

    fn pair(dir: &Path) -> (PathBuf, PathBuf) {
        (dir.join("tls/cert.pem"), dir.join("tls/key.pem"))
    }

    fn names(host: &str) -> Vec<String> {
        vec![host.to_string(), "localhost".into(), "127.0.0.1".into()]
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// The validity (notBefore, notAfter) of a DER certificate as `YYMMDDhhmmssZ` strings:
    /// the first two UTCTime values, which rcgen writes for years before 2050.
    fn validity(der: &[u8]) -> (String, String) {
        let times: Vec<String> = der
            .windows(15)
            .filter(|window| window[0] == 0x17 && window[1] == 13 && window[14] == b'Z')
            .map(|window| String::from_utf8_lossy(&window[2..15]).into_owned())
            .take(2)
            .collect();
        (times[0].clone(), times[1].clone())
    }

    fn utc_time(at: SystemTime) -> String {
        let secs = at.duration_since(UNIX_EPOCH).unwrap().as_secs();
        let (year, month, day) = date_of_day(secs / DAY_SECS);
        format!("{:02}{month:02}{day:02}000000Z", year % 100)
    }

    #[test]
    fn a_certificate_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path());
        assert!(ensure_self_signed(&cert, &key, &["localhost".into()]).unwrap());
        let first = fs::read(&cert).unwrap();
        assert!(!ensure_self_signed(&cert, &key, &["localhost".into()]).unwrap());
        assert_eq!(
            fs::read(&cert).unwrap(),
            first,
            "an existing certificate is kept"
        );
        #[cfg(unix)]
        assert_eq!(mode(&key), 0o600);
        server_config(&cert, &key).unwrap();
    }

    #[test]
    fn a_made_certificate_names_the_host_and_is_valid_for_a_year_from_now() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path());
        let now = SystemTime::now();
        assert_eq!(
            ensure_self_signed_at(&cert, &key, &names("mail.example.test"), now).unwrap(),
            SelfSigned::Made
        );
        let der = load_certificates(&cert).unwrap().remove(0);
        let (not_before, not_after) = validity(der.as_ref());
        assert_eq!(not_before, utc_time(now - Duration::from_secs(DAY_SECS)));
        assert_eq!(not_after, utc_time(now + SELF_SIGNED_VALIDITY));
        assert!(
            memchr::memmem::find(der.as_ref(), b"mail.example.test").is_some(),
            "the configured host name is in the certificate"
        );
    }

    #[test]
    fn one_file_of_the_pair_alone_is_refused_and_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path());
        fs::create_dir_all(key.parent().unwrap()).unwrap();
        // An operator's key, with a mistyped certificate path.
        fs::write(&key, "-----BEGIN PRIVATE KEY-----\noperator's\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&key, fs::Permissions::from_mode(0o640)).unwrap();
        }
        let error = ensure_self_signed(&cert, &key, &names("localhost")).unwrap_err();
        assert!(
            matches!(&error, TlsSetupError::Incomplete { present, missing }
                if *present == key && *missing == cert),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains(&key.display().to_string())
                && message.contains(&cert.display().to_string()),
            "{message}"
        );
        assert_eq!(
            fs::read_to_string(&key).unwrap(),
            "-----BEGIN PRIVATE KEY-----\noperator's\n"
        );
        #[cfg(unix)]
        assert_eq!(mode(&key), 0o640);
        assert!(!cert.exists());

        // A certificate without its key.
        let other = tempfile::tempdir().unwrap();
        let (cert, key) = pair(other.path());
        fs::create_dir_all(cert.parent().unwrap()).unwrap();
        fs::write(&cert, "operator's certificate").unwrap();
        assert!(matches!(
            ensure_self_signed(&cert, &key, &names("localhost")),
            Err(TlsSetupError::Incomplete { .. })
        ));
        assert!(!key.exists());
        assert_eq!(fs::read_to_string(&cert).unwrap(), "operator's certificate");
    }

    #[test]
    fn a_certificate_made_here_is_renewed_for_the_same_key_near_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path());
        let made = SystemTime::now();
        let hosts = names("mail.example.test");
        ensure_self_signed_at(&cert, &key, &hosts, made).unwrap();
        let (first_cert, first_key) = (fs::read(&cert).unwrap(), fs::read(&key).unwrap());
        let day = Duration::from_secs(DAY_SECS);
        // 36 days before its end: kept.
        assert_eq!(
            ensure_self_signed_at(&cert, &key, &hosts, made + SELF_SIGNED_VALIDITY - 36 * day)
                .unwrap(),
            SelfSigned::Kept
        );
        assert_eq!(fs::read(&cert).unwrap(), first_cert);
        // 20 days before its end: a new certificate, valid a year from then, same key.
        let later = made + SELF_SIGNED_VALIDITY - 20 * day;
        assert_eq!(
            ensure_self_signed_at(&cert, &key, &hosts, later).unwrap(),
            SelfSigned::Renewed
        );
        assert_ne!(fs::read(&cert).unwrap(), first_cert);
        assert_eq!(
            fs::read(&key).unwrap(),
            first_key,
            "the key is never replaced"
        );
        let der = load_certificates(&cert).unwrap().remove(0);
        assert_eq!(
            validity(der.as_ref()).1,
            utc_time(later + SELF_SIGNED_VALIDITY)
        );
        server_config(&cert, &key).expect("the new certificate goes with the key");
        // Another host name configured: renewed for it.
        let renamed = names("mx.example.test");
        assert_eq!(
            ensure_self_signed_at(&cert, &key, &renamed, later).unwrap(),
            SelfSigned::Renewed
        );
        let der = load_certificates(&cert).unwrap().remove(0);
        assert!(memchr::memmem::find(der.as_ref(), b"mx.example.test").is_some());
        assert_eq!(
            ensure_self_signed_at(&cert, &key, &renamed, later).unwrap(),
            SelfSigned::Kept
        );
    }

    #[test]
    fn a_certificate_made_elsewhere_is_never_renewed() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path());
        ensure_self_signed_at(&cert, &key, &names("localhost"), SystemTime::now()).unwrap();
        // Without our note it is the operator's, however near its end.
        fs::remove_file(note_path(&cert)).unwrap();
        let operator = fs::read(&cert).unwrap();
        let far = SystemTime::now() + 2 * SELF_SIGNED_VALIDITY;
        assert_eq!(
            ensure_self_signed_at(&cert, &key, &names("localhost"), far).unwrap(),
            SelfSigned::Kept
        );
        assert_eq!(fs::read(&cert).unwrap(), operator);
    }

    #[test]
    fn a_certificate_of_an_older_version_valid_until_4096_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path());
        fs::create_dir_all(cert.parent().unwrap()).unwrap();
        let old = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        fs::write(&key, old.key_pair.serialize_pem()).unwrap();
        fs::write(&cert, old.cert.pem()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
        }
        let now = SystemTime::now();
        assert_eq!(
            ensure_self_signed_at(&cert, &key, &names("localhost"), now).unwrap(),
            SelfSigned::Renewed
        );
        let der = load_certificates(&cert).unwrap().remove(0);
        assert_eq!(
            validity(der.as_ref()).1,
            utc_time(now + SELF_SIGNED_VALIDITY)
        );
        assert_eq!(
            fs::read_to_string(&key).unwrap(),
            old.key_pair.serialize_pem()
        );
        #[cfg(unix)]
        assert_eq!(mode(&key), 0o600, "the old key is made the owner's only");
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
