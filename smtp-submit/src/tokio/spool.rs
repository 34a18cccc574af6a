//! A message being received, kept in an unnamed temporary file (never in memory whole), and the
//! `Received:` trace field put in front of it (RFC 5321 section 4.4).

use std::io::{self, Seek, SeekFrom, Write};
use std::net::IpAddr;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::server::Envelope;

/// Octets gathered before they are written to the file in one blocking call.
const WRITE_BATCH: usize = 256 * 1024;

/// Receives a message's octets into a temporary file.
#[derive(Debug)]
pub struct SpoolWriter {
    file: Option<std::fs::File>,
    batch: Vec<u8>,
    size: u64,
    failed: Option<io::Error>,
}

impl SpoolWriter {
    /// A new, empty spool file in `directory` (it has no name: nothing is left behind if the
    /// process dies).
    pub fn create(directory: &Path) -> io::Result<SpoolWriter> {
        Ok(SpoolWriter {
            file: Some(tempfile::tempfile_in(directory)?),
            batch: Vec::with_capacity(WRITE_BATCH),
            size: 0,
            failed: None,
        })
    }

    /// Adds octets (copied into the current batch).
    pub fn push(&mut self, octets: &[u8]) {
        self.batch.extend_from_slice(octets);
        self.size += octets.len() as u64;
    }

    /// Writes the batch out once it is large enough, off the async threads.
    pub async fn write_if_full(&mut self) {
        if self.batch.len() >= WRITE_BATCH {
            self.write_batch().await;
        }
    }

    async fn write_batch(&mut self) {
        if self.batch.is_empty() || self.failed.is_some() {
            self.batch.clear();
            return;
        }
        let Some(mut file) = self.file.take() else {
            return;
        };
        let batch = std::mem::take(&mut self.batch);
        let written = tokio::task::spawn_blocking(move || {
            let result = file.write_all(&batch);
            (file, batch, result)
        })
        .await;
        match written {
            Ok((file, mut batch, result)) => {
                batch.clear();
                self.batch = batch;
                self.file = Some(file);
                if let Err(error) = result {
                    self.failed = Some(error);
                }
            }
            Err(_) => self.failed = Some(io::Error::other("spool write task failed")),
        }
    }

    /// Writes what is left and hands over the complete message.
    pub async fn finish(mut self) -> io::Result<SpooledMessage> {
        self.write_batch().await;
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        let file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("spool file lost"))?;
        Ok(SpooledMessage {
            file,
            size: self.size,
        })
    }
}

/// A complete message in its spool file.
#[derive(Debug)]
pub struct SpooledMessage {
    file: std::fs::File,
    size: u64,
}

impl SpooledMessage {
    /// Its size in octets.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// An async reader from its start (sharing the file position with other readers: read one
    /// at a time).
    pub async fn reader(&self) -> io::Result<tokio::fs::File> {
        let mut file = self.file.try_clone()?;
        file.seek(SeekFrom::Start(0))?;
        Ok(tokio::fs::File::from_std(file))
    }

    /// The file, for blocking readers.
    pub fn into_file(self) -> io::Result<std::fs::File> {
        let mut file = self.file;
        file.seek(SeekFrom::Start(0))?;
        Ok(file)
    }
}

/// The `Received:` field for a message (RFC 5321 section 4.4, with the protocol names of
/// RFC 3848: `ESMTPSA` is ESMTP with TLS and AUTH).
pub fn received_field(
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
pub fn rfc5322_date(time: SystemTime) -> String {
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

    #[test]
    fn dates_are_rfc_5322() {
        assert_eq!(rfc5322_date(UNIX_EPOCH), "Thu, 1 Jan 1970 00:00:00 +0000");
        let leap_day = UNIX_EPOCH + Duration::from_secs(951_782_400 + 3723);
        assert_eq!(rfc5322_date(leap_day), "Tue, 29 Feb 2000 01:02:03 +0000");
        let later = UNIX_EPOCH + Duration::from_secs(1_795_392_000);
        assert_eq!(rfc5322_date(later), "Mon, 23 Nov 2026 00:00:00 +0000");
    }
}
