//! The polling helper: download the messages whose UIDL has not been seen, hand each to a
//! sink, and remember it only once the sink has it safely; optionally delete what was taken.
//!
//! What it remembers lives in a file ([`UidlMemory`]) that is rewritten atomically (temporary
//! file, fsync, rename, directory fsync) after each message is handed over, so a crash at any
//! point loses no message: at worst one message is handed over twice. In delete mode a message
//! handed over in a run that crashed before QUIT is deleted on the next run without being
//! fetched again.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;

use super::client::{Client, ClientConfig, ClientError};

/// Where fetched messages go.
pub trait MessageSink {
    /// A message with this unique id begins.
    fn start(&mut self, unique_id: &str) -> io::Result<()>;
    /// The next part of the message (un-stuffed, CRLF line ends).
    fn write(&mut self, data: &[u8]) -> io::Result<()>;
    /// The message is complete: make it durable. Only after this returns `Ok` is the message
    /// remembered as taken.
    fn finish(&mut self) -> io::Result<()>;
    /// The message could not be completed: discard what was written.
    fn abandon(&mut self);
}

/// A sink that writes each message to its own file `<dir>/<unique-id>.eml`, through a
/// temporary file, fsync and rename, so a file that exists is complete.
#[derive(Debug)]
pub struct DirectorySink {
    dir: PathBuf,
    current: Option<(fs::File, PathBuf, PathBuf)>,
}

impl DirectorySink {
    /// Writes into `dir` (created if missing).
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(DirectorySink { dir, current: None })
    }

    /// The file name for a unique id: characters other than letters, digits, `-` and `_` are
    /// hex-escaped, so no id can name a path outside the directory.
    pub fn file_name(unique_id: &str) -> String {
        let mut name = String::new();
        for byte in unique_id.bytes() {
            if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
                name.push(byte as char);
            } else {
                name.push_str(&format!("%{byte:02X}"));
            }
        }
        name.push_str(".eml");
        name
    }
}

impl MessageSink for DirectorySink {
    fn start(&mut self, unique_id: &str) -> io::Result<()> {
        let target = self.dir.join(Self::file_name(unique_id));
        let temporary = self
            .dir
            .join(format!(".{}.tmp", Self::file_name(unique_id)));
        let file = fs::File::create(&temporary)?;
        self.current = Some((file, temporary, target));
        Ok(())
    }

    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.current {
            Some((file, _, _)) => file.write_all(data),
            None => Err(io::Error::other("no message started")),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        let (file, temporary, target) = self
            .current
            .take()
            .ok_or_else(|| io::Error::other("no message started"))?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temporary, &target)?;
        fs::File::open(&self.dir)?.sync_all()
    }

    fn abandon(&mut self) {
        if let Some((file, temporary, _)) = self.current.take() {
            drop(file);
            let _ = fs::remove_file(temporary);
        }
    }
}

/// The unique ids already taken, kept in a file (one id a line).
#[derive(Debug)]
pub struct UidlMemory {
    path: PathBuf,
    seen: BTreeSet<String>,
}

impl UidlMemory {
    /// Loads the memory at `path`; a missing file is an empty memory.
    pub fn load(path: impl Into<PathBuf>) -> io::Result<Self> {
        let path = path.into();
        let seen = match fs::read_to_string(&path) {
            Ok(text) => text
                .lines()
                .filter(|line| !line.is_empty() && !line.starts_with('#'))
                .map(str::to_string)
                .collect(),
            Err(error) if error.kind() == io::ErrorKind::NotFound => BTreeSet::new(),
            Err(error) => return Err(error),
        };
        Ok(UidlMemory { path, seen })
    }

    /// Whether `unique_id` was taken.
    pub fn contains(&self, unique_id: &str) -> bool {
        self.seen.contains(unique_id)
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    fn insert(&mut self, unique_id: &str) {
        self.seen.insert(unique_id.to_string());
    }

    fn retain_present(&mut self, present: &BTreeSet<&str>) {
        self.seen.retain(|id| present.contains(id.as_str()));
    }

    /// Writes the memory durably: temporary file, fsync, rename, directory fsync.
    pub fn save(&self) -> io::Result<()> {
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(dir)?;
        let temporary = self.path.with_extension("tmp");
        let mut text = String::from("# POP3 unique ids already taken\n");
        for id in &self.seen {
            text.push_str(id);
            text.push('\n');
        }
        let mut file = fs::File::create(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temporary, &self.path)?;
        fs::File::open(dir)?.sync_all()
    }
}

/// What to poll and what to do with it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PollConfig {
    /// The server.
    pub client: ClientConfig,
    /// The account.
    pub username: String,
    /// Its password.
    pub password: mail_session::sasl::Secret,
    /// Delete messages from the server once they are handed over (otherwise leave them).
    pub delete: bool,
}

impl PollConfig {
    /// Polls `username`'s maildrop on the server of `client` with `password`, leaving the
    /// messages on the server (`delete` false).
    pub fn new(
        client: ClientConfig,
        username: impl Into<String>,
        password: mail_session::sasl::Secret,
    ) -> PollConfig {
        PollConfig {
            client,
            username: username.into(),
            password,
            delete: false,
        }
    }
}

/// What one poll did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Messages on the server.
    pub on_server: usize,
    /// Messages downloaded and handed over.
    pub fetched: usize,
    /// Messages marked for deletion.
    pub deleted: usize,
}

struct SinkWriter<'a>(&'a mut dyn MessageSink);

impl AsyncWrite for SinkWriter<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.get_mut().0.write(data).map(|()| data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Polls once: connects, logs in, hands every message with an unseen UIDL to `sink`,
/// remembers it in `memory`, deletes it in delete mode, and quits.
pub async fn poll_once(
    config: &PollConfig,
    memory: &mut UidlMemory,
    sink: &mut dyn MessageSink,
) -> Result<PollReport, ClientError> {
    let mut client = Client::connect(&config.client).await?;
    client
        .login(&config.username, config.password.expose())
        .await?;
    let listing = client.uidl().await?;
    let mut report = PollReport {
        on_server: listing.len(),
        ..PollReport::default()
    };
    for (message, unique_id) in &listing {
        if !memory.contains(unique_id) {
            sink.start(unique_id)?;
            let fetched = client.retr(*message, &mut SinkWriter(sink)).await;
            match fetched.and_then(|_| sink.finish().map_err(Into::into)) {
                Ok(()) => {}
                Err(error) => {
                    sink.abandon();
                    return Err(error);
                }
            }
            memory.insert(unique_id);
            memory.save()?;
            report.fetched += 1;
        }
        if config.delete {
            client.dele(*message).await?;
            report.deleted += 1;
        }
    }
    let present: BTreeSet<&str> = listing.iter().map(|(_, id)| id.as_str()).collect();
    memory.retain_present(&present);
    memory.save()?;
    client.quit().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_ids_cannot_escape_the_directory() {
        assert_eq!(
            DirectorySink::file_name("0000001A5F000001"),
            "0000001A5F000001.eml"
        );
        assert_eq!(
            DirectorySink::file_name("../etc/passwd"),
            "%2E%2E%2Fetc%2Fpasswd.eml"
        );
    }

    #[test]
    fn the_memory_survives_reloading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/seen");
        let mut memory = UidlMemory::load(&path).unwrap();
        assert!(memory.is_empty());
        memory.insert("a");
        memory.insert("b");
        memory.save().unwrap();
        let mut reloaded = UidlMemory::load(&path).unwrap();
        assert!(reloaded.contains("a") && reloaded.contains("b"));
        reloaded.retain_present(&["b"].into_iter().collect());
        assert!(!reloaded.contains("a"));
    }
}
