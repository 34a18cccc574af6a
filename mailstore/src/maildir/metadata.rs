//! The files beside a Maildir folder's `cur/new/tmp` that make its UIDs and MODSEQs last:
//!
//! - `dovecot-uidlist`, in Dovecot's version 3 format, so that Dovecot and this store agree
//!   on every UID and on UIDVALIDITY:
//!   ```text
//!   3 V<uidvalidity> N<uidnext> G<guid>
//!   <uid> [M<modseq>] :<file name before ":2,">
//!   ```
//!   New messages are appended as records; the header is rewritten only when the file is.
//!   The `M` extension field holds the MODSEQ a message was stored with.
//! - `dovecot-keywords`: `<index> <keyword>` lines; index 0 is the info letter `a`.
//! - `mailstore-modseq`: an append-only log of `<uid> <modseq>` (a flag change) and
//!   `H <modseq>` (the highest MODSEQ after an expunge) records; the last record wins.
//!
//! A record cut short by a crash (no final line feed) is ignored, and the file is rewritten
//! whole before anything is appended to it again.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::Path;

use super::fsio;

pub(crate) const UIDLIST: &str = "dovecot-uidlist";
pub(crate) const KEYWORDS: &str = "dovecot-keywords";
pub(crate) const MODSEQ_LOG: &str = "mailstore-modseq";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UidRecord {
    pub uid: u32,
    pub base: String,
    pub modseq: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Uidlist {
    pub uid_validity: u32,
    pub uid_next: u32,
    pub guid: String,
    pub records: Vec<UidRecord>,
    /// Whether the file ended cleanly (with a line feed) in the version 3 format, so that
    /// records may be appended to it.
    pub complete: bool,
}

fn read_optional(path: &Path) -> io::Result<Option<String>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

pub(crate) fn read_uidlist(dir: &Path) -> io::Result<Option<Uidlist>> {
    let Some(text) = read_optional(&dir.join(UIDLIST))? else {
        return Ok(None);
    };
    let complete = text.ends_with('\n');
    let mut lines = text.split('\n');
    let header = lines.next().unwrap_or("");
    let mut fields = header.split(' ');
    let version = fields.next().unwrap_or("");
    let mut list = Uidlist {
        uid_validity: 0,
        uid_next: 1,
        guid: String::new(),
        records: Vec::new(),
        complete,
    };
    match version {
        "3" => {
            for field in fields {
                // The first character is the key; the file may hold any bytes, so split on a
                // character boundary, not at octet 1.
                let mut chars = field.chars();
                let key = chars.next();
                let value = chars.as_str();
                match key {
                    Some('V') => list.uid_validity = value.parse().unwrap_or(0),
                    Some('N') => list.uid_next = value.parse().unwrap_or(1),
                    Some('G') => list.guid = value.to_string(),
                    _ => {}
                }
            }
        }
        "1" => {
            list.uid_validity = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            list.uid_next = fields.next().and_then(|v| v.parse().ok()).unwrap_or(1);
            // Version 3 records cannot be appended to a version 1 file: rewrite it first.
            list.complete = false;
        }
        _ => return Ok(None),
    }
    let all: Vec<&str> = lines.collect();
    let usable = if complete {
        all.len()
    } else {
        all.len().saturating_sub(1)
    };
    for line in &all[..usable] {
        if let Some(record) = parse_record(line, version == "1") {
            list.records.push(record);
        }
    }
    Ok(Some(list))
}

fn parse_record(line: &str, version_one: bool) -> Option<UidRecord> {
    let (uid, rest) = line.split_once(' ')?;
    let uid: u32 = uid.parse().ok().filter(|&uid| uid > 0)?;
    if version_one {
        return Some(UidRecord {
            uid,
            base: rest.split(':').next()?.to_string(),
            modseq: None,
        });
    }
    let (extensions, base) = rest.split_once(':')?;
    let modseq = extensions
        .split(' ')
        .find_map(|field| field.strip_prefix('M'))
        .and_then(|value| value.parse().ok());
    if base.is_empty() {
        return None;
    }
    Some(UidRecord {
        uid,
        base: base.to_string(),
        modseq,
    })
}

fn record_line(record: &UidRecord) -> String {
    match record.modseq {
        Some(modseq) => format!("{} M{} :{}\n", record.uid, modseq, record.base),
        None => format!("{} :{}\n", record.uid, record.base),
    }
}

/// Writes the whole uidlist anew.
pub(crate) fn rewrite_uidlist(dir: &Path, list: &Uidlist) -> io::Result<()> {
    let mut text = format!(
        "3 V{} N{} G{}\n",
        list.uid_validity, list.uid_next, list.guid
    );
    for record in &list.records {
        text.push_str(&record_line(record));
    }
    fsio::replace_file(&dir.join(UIDLIST), text.as_bytes())
}

/// Appends records to the uidlist durably.
pub(crate) fn append_uid_records(dir: &Path, records: &[UidRecord]) -> io::Result<()> {
    let text: String = records.iter().map(record_line).collect();
    fsio::append_durably(&dir.join(UIDLIST), text.as_bytes())
}

pub(crate) fn read_keywords(dir: &Path) -> io::Result<Vec<String>> {
    let mut keywords: Vec<String> = Vec::new();
    if let Some(text) = read_optional(&dir.join(KEYWORDS))? {
        for line in text.lines() {
            if let Some((index, name)) = line.split_once(' ') {
                if let Ok(index) = index.parse::<usize>() {
                    if index < 26 && !name.is_empty() {
                        if keywords.len() <= index {
                            keywords.resize(index + 1, String::new());
                        }
                        keywords[index] = name.to_string();
                    }
                }
            }
        }
    }
    Ok(keywords)
}

pub(crate) fn write_keywords(dir: &Path, keywords: &[String]) -> io::Result<()> {
    let text: String = keywords
        .iter()
        .enumerate()
        .filter(|(_, name)| !name.is_empty())
        .map(|(index, name)| format!("{index} {name}\n"))
        .collect();
    fsio::replace_file(&dir.join(KEYWORDS), text.as_bytes())
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ModseqLog {
    pub highest: u64,
    pub by_uid: HashMap<u32, u64>,
    pub records: usize,
    pub complete: bool,
}

pub(crate) fn read_modseq_log(dir: &Path) -> io::Result<ModseqLog> {
    let mut log = ModseqLog {
        complete: true,
        ..ModseqLog::default()
    };
    let Some(text) = read_optional(&dir.join(MODSEQ_LOG))? else {
        return Ok(log);
    };
    log.complete = text.is_empty() || text.ends_with('\n');
    let lines: Vec<&str> = text.split('\n').collect();
    let usable = if log.complete {
        lines.len()
    } else {
        lines.len() - 1
    };
    for line in &lines[..usable] {
        let Some((key, value)) = line.split_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<u64>() else {
            continue;
        };
        log.records += 1;
        if key == "H" {
            log.highest = log.highest.max(value);
        } else if let Ok(uid) = key.parse::<u32>() {
            log.by_uid.insert(uid, value);
            log.highest = log.highest.max(value);
        }
    }
    Ok(log)
}

pub(crate) fn append_modseq_records(dir: &Path, records: &[(Option<u32>, u64)]) -> io::Result<()> {
    let text: String = records
        .iter()
        .map(|(uid, modseq)| match uid {
            Some(uid) => format!("{uid} {modseq}\n"),
            None => format!("H {modseq}\n"),
        })
        .collect();
    fsio::append_durably(&dir.join(MODSEQ_LOG), text.as_bytes())
}

pub(crate) fn rewrite_modseq_log(
    dir: &Path,
    highest: u64,
    by_uid: &[(u32, u64)],
) -> io::Result<()> {
    let mut text = format!("H {highest}\n");
    for (uid, modseq) in by_uid {
        text.push_str(&format!("{uid} {modseq}\n"));
    }
    fsio::replace_file(&dir.join(MODSEQ_LOG), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dovecot_uidlist_is_read() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(UIDLIST),
            "3 V1700000000 N4 G0123456789abcdef0123456789abcdef\n\
             1 :1700000000.M1P1.host,S=10,W=11\n\
             3 G0123 W100 :1700000001.M2P1.host\n",
        )
        .unwrap();
        let list = read_uidlist(dir.path()).unwrap().unwrap();
        assert_eq!(list.uid_validity, 1_700_000_000);
        assert_eq!(list.uid_next, 4);
        assert_eq!(list.records.len(), 2);
        assert_eq!(list.records[1].uid, 3);
        assert_eq!(list.records[1].base, "1700000001.M2P1.host");
    }

    #[test]
    fn a_header_with_non_ascii_fields_is_read_without_panicking() {
        // Found by the maildir_metadata fuzz target.
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(UIDLIST), "3 é V7 Ñ5\n1 :a\n").unwrap();
        let list = read_uidlist(dir.path()).unwrap().unwrap();
        assert_eq!(list.uid_validity, 7);
        assert_eq!(list.records.len(), 1);
    }

    #[test]
    fn a_record_cut_short_by_a_crash_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(UIDLIST), "3 V1 N3 G\n1 M2 :a\n2 M3 :b").unwrap();
        let list = read_uidlist(dir.path()).unwrap().unwrap();
        assert!(!list.complete);
        assert_eq!(list.records.len(), 1);
        assert_eq!(list.records[0].modseq, Some(2));
    }

    #[test]
    fn modseq_log_keeps_the_last_record() {
        let dir = tempfile::tempdir().unwrap();
        append_modseq_records(dir.path(), &[(Some(1), 5), (Some(1), 7), (None, 9)]).unwrap();
        let log = read_modseq_log(dir.path()).unwrap();
        assert_eq!(log.by_uid[&1], 7);
        assert_eq!(log.highest, 9);
    }
}
