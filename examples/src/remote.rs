//! What the example clients (`pop3-fetch`, `smtp-send`) and the server's smarthost setting
//! need to reach another server: its address, its certificate's name, the trust store, and a
//! password read from a file or standard input.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// The rustls client configuration: trust only `ca_file` when given, else the system's store.
pub fn client_tls(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    if let Some(path) = ca_file {
        return mail_session::tls::client_config_trusting(path).map_err(|error| error.to_string());
    }
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for certificate in found.certs {
        let _ = roots.add(certificate);
    }
    if roots.is_empty() {
        return Err("no trusted certificates found in the system store; give a CA file".into());
    }
    mail_session::tls::client_config(roots).map_err(|error| error.to_string())
}

/// Resolves `host:port`.
pub async fn resolve(server: &str) -> Result<SocketAddr, String> {
    tokio::net::lookup_host(server)
        .await
        .map_err(|error| format!("{server}: {error}"))?
        .next()
        .ok_or_else(|| format!("{server}: no address"))
}

/// The host part of `host:port` (without IPv6 brackets): the name the certificate must carry
/// unless told otherwise.
pub fn host_of(server: &str) -> String {
    server
        .rsplit_once(':')
        .map(|(host, _)| host.trim_matches(['[', ']']).to_string())
        .unwrap_or_else(|| server.to_string())
}

/// The first line of `file`, or of standard input when `file` is `None` and `stdin` is set.
pub fn read_password(file: Option<&Path>, stdin: bool) -> Result<String, String> {
    let text = if let Some(path) = file {
        std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?
    } else if stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|error| format!("reading the password: {error}"))?;
        line
    } else {
        return Err("give --password-file or --password-stdin".into());
    };
    let password = text.lines().next().unwrap_or("").to_string();
    if password.is_empty() {
        return Err("empty password".into());
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_come_from_the_server_argument() {
        assert_eq!(host_of("mail.example.org:995"), "mail.example.org");
        assert_eq!(host_of("[::1]:465"), "::1");
        assert_eq!(host_of("localhost"), "localhost");
    }
}
