//! A message being received, kept in memory while it is small and in an unnamed temporary
//! file once it is not (never in memory whole beyond 256 KiB), and the
//! `Received:` trace field put in front of it (RFC 5321 section 4.4).
//!
//! Most submissions are a few kilobytes: creating, writing and deleting a file for each costs
//! the file system more than the message's own delivery does, so the file is made only when a
//! message outgrows the first batch.

use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::io::{AsyncRead, ReadBuf};

use crate::server::Envelope;

/// Octets gathered before they are written to the file in one blocking call; a message no
/// larger than this never gets a file.
pub(crate) const WRITE_BATCH: usize = 256 * 1024;

/// Receives a message's octets: in memory up to `WRITE_BATCH`, then into a temporary file.
#[derive(Debug)]
pub(crate) struct SpoolWriter {
    directory: PathBuf,
    file: Option<std::fs::File>,
    batch: Vec<u8>,
    size: u64,
    failed: Option<io::Error>,
}

impl SpoolWriter {
    /// A new, empty spool whose file, if the message needs one, goes into `directory` (it
    /// has no name: nothing is left behind if the process dies). Fails if `directory` is not
    /// a directory.
    pub(crate) fn create(directory: &Path) -> io::Result<SpoolWriter> {
        if !std::fs::metadata(directory)?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", directory.display()),
            ));
        }
        Ok(SpoolWriter {
            directory: directory.to_path_buf(),
            file: None,
            batch: Vec::new(),
            size: 0,
            failed: None,
        })
    }

    /// Adds octets (copied into the current batch).
    pub(crate) fn push(&mut self, octets: &[u8]) {
        self.batch.extend_from_slice(octets);
        self.size += octets.len() as u64;
    }

    /// Writes the batch out once it is large enough, off the async threads.
    pub(crate) async fn write_if_full(&mut self) {
        if self.batch.len() >= WRITE_BATCH {
            self.write_batch().await;
        }
    }

    async fn write_batch(&mut self) {
        if self.batch.is_empty() || self.failed.is_some() {
            self.batch.clear();
            return;
        }
        let file = self.file.take();
        let directory = self.directory.clone();
        let batch = std::mem::take(&mut self.batch);
        let written = tokio::task::spawn_blocking(move || {
            let mut file = match file {
                Some(file) => file,
                None => match tempfile::tempfile_in(&directory) {
                    Ok(file) => file,
                    Err(error) => return (None, batch, Err(error)),
                },
            };
            let result = file.write_all(&batch);
            (Some(file), batch, result)
        })
        .await;
        match written {
            Ok((file, mut batch, result)) => {
                batch.clear();
                self.batch = batch;
                self.file = file;
                if let Err(error) = result {
                    self.failed = Some(error);
                }
            }
            Err(_) => self.failed = Some(io::Error::other("spool write task failed")),
        }
    }

    /// Hands over the complete message: in memory if it never outgrew the first batch,
    /// otherwise in its file with what is left written out.
    pub(crate) async fn finish(mut self) -> io::Result<SpooledMessage> {
        if self.file.is_none() && self.failed.is_none() {
            let octets = Bytes::from(std::mem::take(&mut self.batch));
            return Ok(SpooledMessage {
                content: Spooled::Memory(octets),
                size: self.size,
            });
        }
        self.write_batch().await;
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        let file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("spool file lost"))?;
        Ok(SpooledMessage {
            content: Spooled::File(file),
            size: self.size,
        })
    }
}

#[derive(Debug)]
enum Spooled {
    Memory(Bytes),
    File(std::fs::File),
}

/// A complete message, in memory or in its spool file.
#[derive(Debug)]
pub struct SpooledMessage {
    content: Spooled,
    size: u64,
}

impl SpooledMessage {
    /// Its size in octets.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// An async reader from its start (readers of a spool file share its position: read one
    /// at a time).
    pub async fn reader(&self) -> io::Result<SpoolReader> {
        Ok(SpoolReader(match &self.content {
            Spooled::Memory(octets) => AsyncSource::Memory(Cursor::new(octets.clone())),
            Spooled::File(file) => {
                let mut file = file.try_clone()?;
                file.seek(SeekFrom::Start(0))?;
                AsyncSource::File(tokio::fs::File::from_std(file))
            }
        }))
    }

    /// The whole message in memory, if it is no larger than `limit` octets (an error of kind
    /// `FileTooLarge` otherwise, before anything is read).
    ///
    /// ```no_run
    /// # async fn example(message: smtp_submit::tokio::SpooledMessage) -> std::io::Result<()> {
    /// let octets = message.to_vec(10 * 1024 * 1024).await?;
    /// assert_eq!(octets.len() as u64, message.size());
    /// # Ok(()) }
    /// ```
    pub async fn to_vec(&self, limit: u64) -> io::Result<Vec<u8>> {
        if self.size > limit {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                format!("the message has {} octets, more than {limit}", self.size),
            ));
        }
        match &self.content {
            Spooled::Memory(octets) => Ok(octets.to_vec()),
            Spooled::File(_) => {
                let mut octets = Vec::with_capacity(usize::try_from(self.size).unwrap_or(0));
                tokio::io::AsyncReadExt::read_to_end(&mut self.reader().await?, &mut octets)
                    .await?;
                Ok(octets)
            }
        }
    }

    /// A blocking reader from its start, which can seek back to read it again.
    pub fn into_blocking_reader(self) -> io::Result<BlockingSpoolReader> {
        Ok(BlockingSpoolReader(match self.content {
            Spooled::Memory(octets) => BlockingSource::Memory(Cursor::new(octets)),
            Spooled::File(mut file) => {
                file.seek(SeekFrom::Start(0))?;
                BlockingSource::File(file)
            }
        }))
    }
}

/// Reads a [`SpooledMessage`] asynchronously.
#[derive(Debug)]
pub struct SpoolReader(AsyncSource);

#[derive(Debug)]
enum AsyncSource {
    Memory(Cursor<Bytes>),
    File(tokio::fs::File),
}

impl AsyncRead for SpoolReader {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().0 {
            AsyncSource::Memory(cursor) => Pin::new(cursor).poll_read(context, buffer),
            AsyncSource::File(file) => Pin::new(file).poll_read(context, buffer),
        }
    }
}

/// Reads a [`SpooledMessage`] in blocking code, and seeks in it.
#[derive(Debug)]
pub struct BlockingSpoolReader(BlockingSource);

#[derive(Debug)]
enum BlockingSource {
    Memory(Cursor<Bytes>),
    File(std::fs::File),
}

impl Read for BlockingSpoolReader {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match &mut self.0 {
            BlockingSource::Memory(cursor) => cursor.read(buffer),
            BlockingSource::File(file) => file.read(buffer),
        }
    }
}

impl Seek for BlockingSpoolReader {
    fn seek(&mut self, position: SeekFrom) -> io::Result<u64> {
        match &mut self.0 {
            BlockingSource::Memory(cursor) => cursor.seek(position),
            BlockingSource::File(file) => file.seek(position),
        }
    }
}

/// The `Received:` field for a message (RFC 5321 section 4.4, with the protocol names of
/// RFC 3848: `ESMTPSA` is ESMTP with TLS and AUTH).
pub(crate) fn received_field(
    envelope: &Envelope,
    peer: IpAddr,
    hostname: &str,
    id: &str,
    now: SystemTime,
) -> String {
    let protocol = match (
        envelope.esmtp,
        envelope.tls,
        envelope.authenticated_as.is_some(),
    ) {
        (false, _, _) => "SMTP",
        (true, false, false) => "ESMTP",
        (true, true, false) => "ESMTPS",
        (true, false, true) => "ESMTPA",
        (true, true, true) => "ESMTPSA",
    };
    let recipient = match envelope.recipients.as_slice() {
        [only] => format!("\r\n\tfor {}", only.to),
        _ => String::new(),
    };
    format!(
        "Received: from {} ([{peer}])\r\n\tby {hostname} with {protocol} id {id}{recipient};\r\n\t{}\r\n",
        envelope.client_domain,
        rfc5322_date(now)
    )
}

/// `date-time` of RFC 5322 section 3.3, in UTC.
pub(crate) fn rfc5322_date(time: SystemTime) -> String {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map(|duration| duration.as_secs())
        .unwrap_or(0);
    let days = seconds / 86_400;
    let of_day = seconds % 86_400;
    // Howard Hinnant's civil_from_days, for days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {day} {} {year} {:02}:{:02}:{:02} +0000",
        WEEKDAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncReadExt;

    async fn spool(directory: &Path, message: &[u8]) -> SpooledMessage {
        let mut writer = SpoolWriter::create(directory).unwrap();
        for piece in message.chunks(10_000) {
            writer.push(piece);
            writer.write_if_full().await;
        }
        writer.finish().await.unwrap()
    }

    async fn read_both_ways(message: SpooledMessage) -> (Vec<u8>, Vec<u8>) {
        let mut read_async = Vec::new();
        message
            .reader()
            .await
            .unwrap()
            .read_to_end(&mut read_async)
            .await
            .unwrap();
        let mut blocking = message.into_blocking_reader().unwrap();
        let mut read_blocking = Vec::new();
        blocking.read_to_end(&mut read_blocking).unwrap();
        // Delivery to a second account seeks back and reads again.
        blocking.seek(SeekFrom::Start(0)).unwrap();
        let mut again = Vec::new();
        blocking.read_to_end(&mut again).unwrap();
        assert_eq!(again, read_blocking);
        (read_async, read_blocking)
    }

    #[tokio::test]
    async fn small_messages_stay_in_memory_and_large_ones_go_to_a_file() {
        let directory = tempfile::tempdir().unwrap();
        let small: Vec<u8> = (0..WRITE_BATCH - 1).map(|i| (i % 251) as u8).collect();
        let message = spool(directory.path(), &small).await;
        assert!(matches!(message.content, Spooled::Memory(_)));
        assert_eq!(message.size(), small.len() as u64);
        let (read_async, read_blocking) = read_both_ways(message).await;
        assert_eq!((read_async == small, read_blocking == small), (true, true));

        let large: Vec<u8> = (0..3 * WRITE_BATCH + 17).map(|i| (i % 253) as u8).collect();
        let message = spool(directory.path(), &large).await;
        assert!(matches!(message.content, Spooled::File(_)));
        assert_eq!(message.size(), large.len() as u64);
        let (read_async, read_blocking) = read_both_ways(message).await;
        assert_eq!((read_async == large, read_blocking == large), (true, true));
        // The file has no name: nothing is left in the directory.
        assert_eq!(std::fs::read_dir(directory.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn a_missing_spool_directory_is_refused_at_once() {
        let directory = tempfile::tempdir().unwrap();
        assert!(SpoolWriter::create(&directory.path().join("missing")).is_err());
    }

    #[test]
    fn dates_are_rfc_5322() {
        assert_eq!(rfc5322_date(UNIX_EPOCH), "Thu, 1 Jan 1970 00:00:00 +0000");
        let leap_day = UNIX_EPOCH + Duration::from_secs(951_782_400 + 3723);
        assert_eq!(rfc5322_date(leap_day), "Tue, 29 Feb 2000 01:02:03 +0000");
        let later = UNIX_EPOCH + Duration::from_secs(1_795_392_000);
        assert_eq!(rfc5322_date(later), "Mon, 23 Nov 2026 00:00:00 +0000");
    }
}
