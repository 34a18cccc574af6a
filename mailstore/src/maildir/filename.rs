//! Maildir file names: `<unique>,S=<size>,W=<vsize>:2,<flags>` (the Maildir and Maildir++
//! conventions, with Dovecot's size fields).

use crate::message::{Flag, Flags};

/// The parts of a Maildir file name that matter here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedName<'a> {
    /// Everything before the `:2,` info: the name's stable identity.
    pub base: &'a str,
    /// The size from `,S=`, if present.
    pub size: Option<u64>,
    /// The CRLF ("virtual") size from `,W=`, if present.
    pub wire_size: Option<u64>,
    /// System flag letters and keyword letters of the info part.
    pub flag_letters: &'a str,
}

pub(crate) fn parse(name: &str) -> ParsedName<'_> {
    let (base, info) = match name.split_once(':') {
        Some((base, info)) => (base, info),
        None => (name, ""),
    };
    let flag_letters = info.strip_prefix("2,").unwrap_or("");
    let field = |key: &str| {
        base.split(',')
            .skip(1)
            .find_map(|field| field.strip_prefix(key))
            .and_then(|value| value.parse().ok())
    };
    ParsedName {
        base,
        size: field("S="),
        wire_size: field("W="),
        flag_letters,
    }
}

/// Flags from the info letters; lower-case letters index `keywords` (Dovecot's
/// `dovecot-keywords` file). Unknown letters are ignored.
pub(crate) fn flags_from_letters(letters: &str, keywords: &[String]) -> Flags {
    let mut flags = Flags::new();
    for letter in letters.chars() {
        match letter {
            'S' => {
                flags.insert(Flag::Seen);
            }
            'R' => {
                flags.insert(Flag::Answered);
            }
            'F' => {
                flags.insert(Flag::Flagged);
            }
            'T' => {
                flags.insert(Flag::Deleted);
            }
            'D' => {
                flags.insert(Flag::Draft);
            }
            'a'..='z' => {
                if let Some(keyword) = keywords.get(letter as usize - 'a' as usize) {
                    flags.insert(Flag::Keyword(keyword.clone()));
                }
            }
            _ => {}
        }
    }
    flags
}

/// The info letters for `flags`, in ASCII order as Maildir requires; `None` if a keyword has
/// no letter in `keywords`.
pub(crate) fn letters_for(flags: &Flags, keywords: &[String]) -> Option<String> {
    let mut letters: Vec<char> = Vec::new();
    for flag in flags {
        letters.push(match flag {
            Flag::Seen => 'S',
            Flag::Answered => 'R',
            Flag::Flagged => 'F',
            Flag::Deleted => 'T',
            Flag::Draft => 'D',
            Flag::Keyword(keyword) => {
                let index = keywords.iter().position(|known| known == keyword)?;
                (b'a' + index as u8) as char
            }
        });
    }
    letters.sort_unstable();
    Some(letters.into_iter().collect())
}

/// The file name for a message in `cur/`.
pub(crate) fn cur_name(base: &str, letters: &str) -> String {
    format!("{base}:2,{letters}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_parsed_like_dovecot_writes_them() {
        let parsed = parse("1700000000.M1P2.host,S=1234,W=1260:2,FRS");
        assert_eq!(parsed.base, "1700000000.M1P2.host,S=1234,W=1260");
        assert_eq!(parsed.size, Some(1234));
        assert_eq!(parsed.wire_size, Some(1260));
        assert_eq!(parsed.flag_letters, "FRS");
        let new = parse("1700000000.M1P2.host");
        assert_eq!(new.size, None);
        assert_eq!(new.flag_letters, "");
    }

    #[test]
    fn letters_round_trip_with_keywords() {
        let keywords = vec!["$Forwarded".to_string(), "work".to_string()];
        let flags = flags_from_letters("DFRSTab", &keywords);
        assert_eq!(flags.len(), 7);
        assert_eq!(letters_for(&flags, &keywords).unwrap(), "DFRSTab");
        let unknown: Flags = [Flag::Keyword("other".into())].into();
        assert_eq!(letters_for(&unknown, &keywords), None);
    }
}
