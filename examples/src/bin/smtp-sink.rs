//! An SMTP sink with a router of its own: takes every message, prints its envelope and
//! subject, and keeps nothing.
//!
//! ```sh
//! cargo run -p mail-examples --bin smtp-sink
//! swaks --server 127.0.0.1:2525 --to bob@example.net
//! ```

use smtp_submit::server::Envelope;
use smtp_submit::tokio::{RecipientRoute, Router, SpooledMessage, SubmissionServer};
use smtp_submit::types::Reply;

/// Prints each message and accepts it.
struct PrintingSink;

impl Router for PrintingSink {
    async fn deliver(
        &self,
        envelope: &Envelope,
        _routes: &[RecipientRoute],
        message: SpooledMessage,
    ) -> Result<String, Reply> {
        let octets = message
            .to_vec(10 << 20)
            .await
            .map_err(|_| Reply::new(552, Some((5, 3, 4)), "too large for this sink"))?;
        let text = String::from_utf8_lossy(&octets);
        let subject = text
            .lines()
            .take_while(|line| !line.is_empty())
            .find_map(|line| line.strip_prefix("Subject:"))
            .unwrap_or("")
            .trim();
        let recipients: Vec<String> = envelope
            .recipients
            .iter()
            .map(|r| r.to.to_string())
            .collect();
        println!(
            "from {} to {} ({} octets): {subject:?}",
            envelope.from,
            recipients.join(", "),
            octets.len()
        );
        Ok("printed".into())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // No directory: AUTH is not offered and every client may send (a sink on loopback).
    let server = SubmissionServer::builder(PrintingSink).build();
    let listener = tokio::net::TcpListener::bind(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "127.0.0.1:2525".into()),
    )
    .await?;
    println!("SMTP sink on {}; Ctrl-C stops", listener.local_addr()?);
    let shutdown = mail_session::listener::Shutdown::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.trigger();
    });
    server.serve_plain(listener, shutdown.subscribe()).await;
    Ok(())
}
