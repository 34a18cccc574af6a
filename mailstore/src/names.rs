//! Account and mailbox names: data from the network, validated before they go anywhere near a
//! file system.

use std::fmt;

use thiserror::Error;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty (or has an empty hierarchy level).
    #[error("empty name or hierarchy level")]
    Empty,
    /// The name is longer than allowed.
    #[error("name longer than {limit} octets")]
    TooLong {
        /// The limit.
        limit: usize,
    },
    /// The name holds a character it may not hold.
    #[error("character {0:?} is not allowed in this name")]
    ForbiddenCharacter(char),
    /// A hierarchy level is `.` or `..` or starts with a dot.
    #[error("a hierarchy level may not start with '.'")]
    DotLevel,
    /// The name is not valid UTF-8.
    #[error("name is not valid UTF-8")]
    NotUtf8,
}

/// An account (user) name.
///
/// ```text
/// account-name = 1*64( ALPHA / DIGIT / "." / "_" / "-" / "+" / "@" )   ; not starting with "."
/// ```
/// Stored lower-cased, so `Alice` and `alice` are one account. The rule keeps every valid name
/// safe as a single directory name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountName(String);

impl AccountName {
    /// The longest account name.
    pub const MAX_LEN: usize = 64;

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for AccountName {
    type Error = NameError;

    fn try_from(name: &str) -> Result<Self, NameError> {
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.len() > Self::MAX_LEN {
            return Err(NameError::TooLong {
                limit: Self::MAX_LEN,
            });
        }
        if let Some(bad) = name
            .chars()
            .find(|ch| !(ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-' | '+' | '@')))
        {
            return Err(NameError::ForbiddenCharacter(bad));
        }
        if name.starts_with('.') {
            return Err(NameError::DotLevel);
        }
        Ok(AccountName(name.to_ascii_lowercase()))
    }
}

impl TryFrom<&[u8]> for AccountName {
    type Error = NameError;

    fn try_from(name: &[u8]) -> Result<Self, NameError> {
        std::str::from_utf8(name)
            .map_err(|_| NameError::NotUtf8)?
            .try_into()
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A mailbox name: Unicode hierarchy levels separated by `/`.
///
/// ```text
/// mailbox-name = level *( "/" level )        ; at most 255 octets in all
/// level        = 1*( any Unicode scalar except CTL, "/", "\", "*", "%", "." )
/// ```
/// `INBOX` is matched without regard to case and always spelled `INBOX` (RFC 3501 5.1). A
/// level may not contain `.` at all, because the Maildir++ layout uses `.` as its own
/// separator on disk; nor `*` and `%`, the IMAP LIST wildcards. Names are never used as paths:
/// the Maildir backend encodes each level (modified UTF-7, as Dovecot does) into one directory
/// name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MailboxName(String);

impl MailboxName {
    /// The longest mailbox name, in octets.
    pub const MAX_LEN: usize = 255;
    /// The hierarchy separator.
    pub const SEPARATOR: char = '/';

    /// The INBOX.
    pub fn inbox() -> Self {
        MailboxName("INBOX".into())
    }

    /// Whether this is the INBOX.
    pub fn is_inbox(&self) -> bool {
        self.0 == "INBOX"
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hierarchy levels.
    pub fn levels(&self) -> impl Iterator<Item = &str> {
        self.0.split(Self::SEPARATOR)
    }

    /// The parent mailbox, if this name has more than one level.
    pub fn parent(&self) -> Option<MailboxName> {
        self.0
            .rsplit_once(Self::SEPARATOR)
            .map(|(parent, _)| MailboxName(parent.to_string()))
    }

    /// Whether `self` lies below `ancestor` in the hierarchy.
    pub fn is_below(&self, ancestor: &MailboxName) -> bool {
        self.0.len() > ancestor.0.len()
            && self.0.starts_with(&ancestor.0)
            && self.0[ancestor.0.len()..].starts_with(Self::SEPARATOR)
    }

    /// This name with the prefix `from` replaced by `to` (for renaming a subtree).
    pub fn with_prefix_replaced(
        &self,
        from: &MailboxName,
        to: &MailboxName,
    ) -> Option<MailboxName> {
        if self == from {
            return Some(to.clone());
        }
        self.is_below(from)
            .then(|| MailboxName(format!("{}{}", to.0, &self.0[from.0.len()..])))
    }
}

impl TryFrom<&str> for MailboxName {
    type Error = NameError;

    fn try_from(name: &str) -> Result<Self, NameError> {
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.len() > Self::MAX_LEN {
            return Err(NameError::TooLong {
                limit: Self::MAX_LEN,
            });
        }
        for level in name.split(Self::SEPARATOR) {
            if level.is_empty() {
                return Err(NameError::Empty);
            }
            if level.contains('.') {
                return Err(NameError::DotLevel);
            }
            if let Some(bad) = level
                .chars()
                .find(|&ch| ch.is_control() || matches!(ch, '\\' | '*' | '%'))
            {
                return Err(NameError::ForbiddenCharacter(bad));
            }
        }
        let mut normalised = name.to_string();
        let first_level = name.split(Self::SEPARATOR).next().unwrap_or(name);
        if first_level.eq_ignore_ascii_case("INBOX") {
            normalised.replace_range(..first_level.len(), "INBOX");
        }
        Ok(MailboxName(normalised))
    }
}

impl TryFrom<&[u8]> for MailboxName {
    type Error = NameError;

    fn try_from(name: &[u8]) -> Result<Self, NameError> {
        std::str::from_utf8(name)
            .map_err(|_| NameError::NotUtf8)?
            .try_into()
    }
}

impl fmt::Display for MailboxName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dangerous_mailbox_names_are_refused() {
        let long = "a".repeat(256);
        let cases: [&[u8]; 13] = [
            b"",
            b"..",
            b"../bob",
            b"a/../../etc",
            b"/etc/passwd",
            b"a//b",
            b"a/",
            b"a\0b",
            b"\xff\xfe",
            b"a.b",
            b"back\\slash",
            b"wild*",
            long.as_bytes(),
        ];
        for name in cases {
            assert!(
                MailboxName::try_from(name).is_err(),
                "{name:?} was accepted"
            );
        }
    }

    #[test]
    fn inbox_is_case_insensitive_and_other_names_keep_their_case() {
        assert!(MailboxName::try_from("inBox").unwrap().is_inbox());
        assert_eq!(
            MailboxName::try_from("iNbox/Sub").unwrap().as_str(),
            "INBOX/Sub"
        );
        assert_eq!(
            MailboxName::try_from("Entwürfe").unwrap().as_str(),
            "Entwürfe"
        );
        assert_eq!(
            MailboxName::try_from("inboxes").unwrap().as_str(),
            "inboxes"
        );
    }

    #[test]
    fn hierarchy_helpers() {
        let name = MailboxName::try_from("a/b/c").unwrap();
        let a = MailboxName::try_from("a").unwrap();
        assert_eq!(name.parent().unwrap().as_str(), "a/b");
        assert!(name.is_below(&a));
        assert!(!MailboxName::try_from("ab").unwrap().is_below(&a));
        let z = MailboxName::try_from("z").unwrap();
        assert_eq!(name.with_prefix_replaced(&a, &z).unwrap().as_str(), "z/b/c");
    }

    #[test]
    fn account_names_are_safe_directory_names() {
        for bad in ["", ".", "..", "../x", "a/b", "a b", "a\0", ".hidden"] {
            assert!(AccountName::try_from(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(
            AccountName::try_from("Alice@Example.org").unwrap().as_str(),
            "alice@example.org"
        );
    }
}
