//! A POP3 server on loopback over an in-memory store, shared by the socket-level tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use mail_session::listener::Shutdown;
use mail_session::tls;
use mailstore::{AccessPolicy, MemoryStore, UsersFile};
use pop3_proto::client::ClientOptions;
use pop3_proto::server::Options;
use pop3_proto::tokio::{ClientConfig, Pop3Server, Pop3ServerConfig, Security};
use tokio::net::TcpListener;

pub struct Fixture {
    _dir: tempfile::TempDir,
    pub store: Arc<MemoryStore>,
    pub address: std::net::SocketAddr,
    _shutdown: Shutdown,
}

pub async fn start() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    tls::ensure_self_signed(&cert, &key, &["localhost".into()]).unwrap();
    let users = Arc::new(UsersFile::open(dir.path().join("users")).unwrap());
    users
        .add_user("alice", "pw", AccessPolicy::default())
        .unwrap();
    let store = Arc::new(MemoryStore::new());
    let server = Pop3Server::builder(store.clone(), users)
        .tls(tls::server_config(&cert, &key).unwrap())
        .config({
            let mut pop3_server_config = Pop3ServerConfig::default();
            pop3_server_config.session = {
                let mut options = Options::default();
                options.allow_plaintext_auth = true;
                options
            };
            pop3_server_config
        })
        .build();
    let shutdown = Shutdown::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(server.serve_plain(listener, shutdown.subscribe()));
    Fixture {
        _dir: dir,
        store,
        address,
        _shutdown: shutdown,
    }
}

pub fn plain_config(address: std::net::SocketAddr) -> ClientConfig {
    ClientConfig {
        address,
        server_name: "localhost".into(),
        security: Security::Plain,
        tls: None,
        options: ClientOptions::default(),
        connect_timeout: Duration::from_secs(5),
    }
}
