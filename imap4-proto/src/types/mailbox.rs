//! Mailbox names.

use std::fmt;

use mail_session::mutf7;

use super::core::InvalidValue;

/// A mailbox name as it travels on the wire.
///
/// `mailbox = "INBOX" / astring` (RFC 3501 section 9): `INBOX` in any case names the inbox.
/// Other names are kept octet for octet, so a modified UTF-7 name (RFC 3501 section 5.1.3)
/// round-trips exactly; [`Mailbox::to_unicode`] decodes it and [`Mailbox::from_unicode`]
/// encodes one. Under `UTF8=ACCEPT` (RFC 6855) names are UTF-8 and used as they are.
/// NUL, CR and LF are refused: they cannot be part of a name.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Mailbox {
    /// `INBOX`, matched without regard to case.
    Inbox,
    /// Any other name, in its wire form.
    Other(MailboxName),
}

/// A mailbox name other than `INBOX`: octets without NUL, CR or LF.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MailboxName(Vec<u8>);

impl MailboxName {
    /// The wire form.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Mailbox {
    /// The wire form.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Mailbox::Inbox => b"INBOX",
            Mailbox::Other(name) => &name.0,
        }
    }

    /// Encodes a Unicode name in modified UTF-7, the form IMAP4rev1 requires.
    pub fn from_unicode(name: &str) -> Result<Self, InvalidValue> {
        Mailbox::try_from(mutf7::encode(name).as_bytes())
    }

    /// Decodes the name from modified UTF-7; a name that is not valid modified UTF-7 is an
    /// error (use [`Mailbox::as_bytes`] to keep it as it is).
    pub fn to_unicode(&self) -> Result<String, mutf7::Mutf7Error> {
        let text = std::str::from_utf8(self.as_bytes()).map_err(|error| mutf7::Mutf7Error {
            position: error.valid_up_to(),
        })?;
        mutf7::decode(text)
    }
}

impl TryFrom<&[u8]> for Mailbox {
    type Error = InvalidValue;
    fn try_from(value: &[u8]) -> Result<Self, Self::Error> {
        if value.eq_ignore_ascii_case(b"INBOX") {
            return Ok(Mailbox::Inbox);
        }
        if value.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n')) {
            return Err(InvalidValue::new("mailbox", "NUL, CR or LF in the name"));
        }
        Ok(Mailbox::Other(MailboxName(value.to_vec())))
    }
}

impl TryFrom<&str> for Mailbox {
    type Error = InvalidValue;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Mailbox::try_from(value.as_bytes())
    }
}

impl fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mailbox::Inbox => f.write_str("INBOX"),
            Mailbox::Other(name) => write!(f, "{:?}", String::from_utf8_lossy(&name.0)),
        }
    }
}

impl fmt::Debug for MailboxName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}
