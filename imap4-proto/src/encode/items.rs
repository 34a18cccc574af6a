//! Values both directions write.

use super::writer::Writer;
use crate::types::{
    Date, DateTime, Flag, FlagPerm, Mailbox, MailboxAttribute, NonZero, Section, SectionText,
    SeqNumber, Sequence, SequenceSet, StatusAttribute, MONTHS,
};

pub(crate) fn mailbox(w: &mut Writer, mailbox: &Mailbox) {
    w.astring(mailbox.as_bytes());
}

fn seq_number(w: &mut Writer, n: SeqNumber) {
    match n {
        SeqNumber::Value(n) => w.number(n.get()),
        SeqNumber::Largest => w.raw(b"*"),
    }
}

pub(crate) fn sequence_set(w: &mut Writer, set: &SequenceSet) {
    for (index, item) in set.items().iter().enumerate() {
        if index > 0 {
            w.raw(b",");
        }
        match *item {
            Sequence::Single(n) => seq_number(w, n),
            Sequence::Range(a, b) => {
                seq_number(w, a);
                w.raw(b":");
                seq_number(w, b);
            }
        }
    }
}

pub(crate) fn flag(w: &mut Writer, flag: &Flag) {
    match flag {
        Flag::Answered => w.raw(b"\\Answered"),
        Flag::Flagged => w.raw(b"\\Flagged"),
        Flag::Deleted => w.raw(b"\\Deleted"),
        Flag::Seen => w.raw(b"\\Seen"),
        Flag::Draft => w.raw(b"\\Draft"),
        Flag::Recent => w.raw(b"\\Recent"),
        Flag::Keyword(atom) => w.raw(atom.as_str().as_bytes()),
        Flag::Extension(atom) => {
            w.raw(b"\\");
            w.raw(atom.as_str().as_bytes());
        }
    }
}

pub(crate) fn flag_list(w: &mut Writer, flags: &[Flag]) {
    w.list(flags, flag);
}

pub(crate) fn flag_perm(w: &mut Writer, perm: &FlagPerm) {
    match perm {
        FlagPerm::Flag(f) => flag(w, f),
        FlagPerm::Any => w.raw(b"\\*"),
    }
}

pub(crate) fn mailbox_attribute(w: &mut Writer, attribute: &MailboxAttribute) {
    w.raw(b"\\");
    match attribute {
        MailboxAttribute::Extension(atom) => w.raw(atom.as_str().as_bytes()),
        known => {
            let name = MailboxAttribute::KNOWN
                .iter()
                .find(|(_, candidate)| candidate == known)
                .map_or("", |(name, _)| name);
            w.raw(name.as_bytes());
        }
    }
}

fn two_digits(w: &mut Writer, n: u8) {
    w.raw(&[b'0' + n / 10 % 10, b'0' + n % 10]);
}

fn month(w: &mut Writer, month: u8) {
    let name = MONTHS
        .get(usize::from(month.saturating_sub(1)))
        .unwrap_or(&"Jan");
    w.raw(name.as_bytes());
}

/// `date-text` (unquoted).
pub(crate) fn date(w: &mut Writer, date: &Date) {
    w.number(date.day());
    w.raw(b"-");
    month(w, date.month());
    w.raw(b"-");
    w.raw(format!("{:04}", date.year()).as_bytes());
}

/// `date-time`, quoted, with `date-day-fixed`.
pub(crate) fn date_time(w: &mut Writer, value: &DateTime) {
    let date = value.date();
    w.raw(b"\"");
    if date.day() < 10 {
        w.raw(b" ");
        w.number(date.day());
    } else {
        w.number(date.day());
    }
    w.raw(b"-");
    month(w, date.month());
    w.raw(b"-");
    w.raw(format!("{:04}", date.year()).as_bytes());
    let (hour, minute, second) = value.time();
    w.sp();
    two_digits(w, hour);
    w.raw(b":");
    two_digits(w, minute);
    w.raw(b":");
    two_digits(w, second);
    w.sp();
    let zone = value.zone_minutes();
    w.raw(if zone < 0 { b"-" } else { b"+" });
    let zone = zone.unsigned_abs();
    two_digits(w, (zone / 60) as u8);
    two_digits(w, (zone % 60) as u8);
    w.raw(b"\"");
}

pub(crate) fn part(w: &mut Writer, part: &[NonZero]) {
    for (index, n) in part.iter().enumerate() {
        if index > 0 {
            w.raw(b".");
        }
        w.number(n.get());
    }
}

pub(crate) fn section(w: &mut Writer, section: &Section) {
    w.raw(b"[");
    part(w, &section.part);
    if let Some(text) = &section.text {
        if !section.part.is_empty() {
            w.raw(b".");
        }
        match text {
            SectionText::Header => w.raw(b"HEADER"),
            SectionText::Text => w.raw(b"TEXT"),
            SectionText::Mime => w.raw(b"MIME"),
            SectionText::HeaderFields { not, fields } => {
                w.raw(if *not {
                    b"HEADER.FIELDS.NOT ".as_slice()
                } else {
                    b"HEADER.FIELDS ".as_slice()
                });
                w.list(fields, |w, f| w.astring(f.as_bytes()));
            }
        }
    }
    w.raw(b"]");
}

pub(crate) fn status_attribute(w: &mut Writer, attribute: StatusAttribute) {
    let name = StatusAttribute::ALL
        .iter()
        .find(|(_, candidate)| *candidate == attribute)
        .map_or("MESSAGES", |(name, _)| name);
    w.raw(name.as_bytes());
}
