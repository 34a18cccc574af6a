//! The lexical building blocks: tags, atoms, strings, texts and numbers.

use std::fmt;

use thiserror::Error;

/// Why a value cannot become an IMAP type: it would not survive the wire.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid {what}: {reason}")]
pub struct InvalidValue {
    /// Which type was being built.
    pub what: &'static str,
    /// What is wrong with the value.
    pub reason: &'static str,
}

impl InvalidValue {
    pub(crate) const fn new(what: &'static str, reason: &'static str) -> Self {
        InvalidValue { what, reason }
    }
}

/// `ATOM-CHAR = <any CHAR except atom-specials>` (RFC 3501 section 9).
pub const fn is_atom_char(byte: u8) -> bool {
    matches!(byte, 0x21..=0x7e)
        && !matches!(byte, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// `ASTRING-CHAR = ATOM-CHAR / resp-specials` (RFC 3501 section 9).
pub const fn is_astring_char(byte: u8) -> bool {
    is_atom_char(byte) || byte == b']'
}

/// `TEXT-CHAR = <any CHAR except CR and LF>`; RFC 9051 also allows UTF-8, so every octet
/// but NUL, CR and LF is accepted.
pub const fn is_text_char(byte: u8) -> bool {
    !matches!(byte, 0 | b'\r' | b'\n')
}

/// A command tag.
///
/// `tag = 1*<any ASTRING-CHAR except "+">` (RFC 3501 section 9).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Tag(String);

impl Tag {
    /// The tag as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&[u8]> for Tag {
    type Error = InvalidValue;
    fn try_from(value: &[u8]) -> Result<Self, Self::Error> {
        if value.is_empty() {
            return Err(InvalidValue::new("tag", "empty"));
        }
        if !value.iter().all(|&b| is_astring_char(b) && b != b'+') {
            return Err(InvalidValue::new(
                "tag",
                "only ASTRING-CHAR other than '+' allowed",
            ));
        }
        Ok(Tag(String::from_utf8_lossy(value).into_owned()))
    }
}

impl TryFrom<&str> for Tag {
    type Error = InvalidValue;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Tag::try_from(value.as_bytes())
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({})", self.0)
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An atom: keywords, capability names, flag keywords, SASL mechanism names.
///
/// `atom = 1*ATOM-CHAR` (RFC 3501 section 9).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Atom(String);

impl Atom {
    /// The atom as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the atom equals `other` ignoring ASCII case, as IMAP compares keywords.
    pub fn eq_ignore_case(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

impl TryFrom<&[u8]> for Atom {
    type Error = InvalidValue;
    fn try_from(value: &[u8]) -> Result<Self, Self::Error> {
        if value.is_empty() {
            return Err(InvalidValue::new("atom", "empty"));
        }
        if !value.iter().all(|&b| is_atom_char(b)) {
            return Err(InvalidValue::new("atom", "only ATOM-CHAR allowed"));
        }
        Ok(Atom(String::from_utf8_lossy(value).into_owned()))
    }
}

impl TryFrom<&str> for Atom {
    type Error = InvalidValue;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Atom::try_from(value.as_bytes())
    }
}

impl fmt::Debug for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Atom({})", self.0)
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A string argument or value: any octets but NUL. The encoder writes it as an atom, a quoted
/// string or a literal, whichever the position allows and the content needs.
///
/// `string = quoted / literal`, `astring = 1*ASTRING-CHAR / string`,
/// `literal = "{" number "}" CRLF *CHAR8` with `CHAR8 = %x01-ff` (RFC 3501 section 9).
/// Invalid UTF-8 is data: nothing here assumes text.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct IString(Vec<u8>);

impl IString {
    /// The octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The octets, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The content as UTF-8 text, if it is.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    pub(crate) fn from_trusted(bytes: Vec<u8>) -> Self {
        IString(bytes)
    }
}

impl TryFrom<Vec<u8>> for IString {
    type Error = InvalidValue;
    fn try_from(value: Vec<u8>) -> Result<Self, Self::Error> {
        if memchr::memchr(0, &value).is_some() {
            return Err(InvalidValue::new("string", "NUL is not a CHAR8"));
        }
        Ok(IString(value))
    }
}

impl TryFrom<&[u8]> for IString {
    type Error = InvalidValue;
    fn try_from(value: &[u8]) -> Result<Self, Self::Error> {
        IString::try_from(value.to_vec())
    }
}

impl TryFrom<&str> for IString {
    type Error = InvalidValue;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        IString::try_from(value.as_bytes())
    }
}

impl fmt::Debug for IString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

/// `nstring = string / nil` (RFC 3501 section 9): `None` is `NIL`.
pub type NString = Option<IString>;

/// Human-readable text after a status or in a continuation request.
///
/// `text = 1*TEXT-CHAR` (RFC 3501 section 9; RFC 9051 allows UTF-8). It may be empty here
/// because RFC 9051's `resp-text` makes the text optional after a response code.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Text(Vec<u8>);

impl Text {
    /// The octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The text, with invalid UTF-8 replaced.
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

impl TryFrom<&[u8]> for Text {
    type Error = InvalidValue;
    fn try_from(value: &[u8]) -> Result<Self, Self::Error> {
        if !value.iter().all(|&b| is_text_char(b)) {
            return Err(InvalidValue::new(
                "text",
                "NUL, CR and LF are not TEXT-CHAR",
            ));
        }
        Ok(Text(value.to_vec()))
    }
}

impl TryFrom<&str> for Text {
    type Error = InvalidValue;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Text::try_from(value.as_bytes())
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

/// A message sequence number or UID: `nz-number = digit-nz *DIGIT` (RFC 3501 section 9).
pub type NonZero = std::num::NonZeroU32;

/// A password: an `astring` whose `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub IString);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}
