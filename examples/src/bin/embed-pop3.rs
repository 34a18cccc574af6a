//! A POP3 server embedded in a program: one account made in code, mail in memory.
//!
//! ```sh
//! cargo run -p mail-examples --bin embed-pop3
//! curl -u alice:wonderland pop3://127.0.0.1:1110/1
//! ```
//! Plain POP3 with passwords on loopback only: set up TLS (`Pop3ServerBuilder::tls`) for
//! anything else.

use std::sync::Arc;

use mail_session::listener::Shutdown;
use mailstore::{AccountName, MailStore, MemoryDirectory, MemoryStore};
use pop3_proto::tokio::{Pop3Server, Pop3ServerConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = Arc::new(MemoryStore::new());
    let directory = Arc::new(MemoryDirectory::new().with_user("alice", "wonderland")?);
    let alice = AccountName::try_from("alice")?;
    store.deliver(&alice, &mut &b"Subject: welcome\r\n\r\nHello Alice\r\n"[..])?;

    let mut config = Pop3ServerConfig::default();
    config.session.allow_plaintext_auth = true; // loopback demo without TLS
    let server = Pop3Server::builder(store, directory).config(config).build();

    let listener = tokio::net::TcpListener::bind(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "127.0.0.1:1110".into()),
    )
    .await?;
    println!("POP3 on {}; Ctrl-C stops", listener.local_addr()?);
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.trigger();
    });
    server.serve_plain(listener, shutdown.subscribe()).await;
    Ok(())
}
