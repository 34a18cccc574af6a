//! Text from a peer, made safe for a log line.
//!
//! A user name, an address or a command from the network may hold a line feed (which would
//! forge a whole log line, with another peer's address, for fail2ban-style tools to act on),
//! escape sequences that recolour or rewrite an operator's terminal, or invisible characters.
//! [`Escaped`] writes such text with every control character, every non-ASCII character
//! and the backslash escaped, so one peer value is always one visible, unambiguous run of
//! printable ASCII.
//!
//! ```
//! use mail_session::escape::Escaped;
//!
//! let forged = "bob\n2026-12-02 INFO login ok peer=10.0.0.1 user=root";
//! assert_eq!(
//!     Escaped(forged).to_string(),
//!     "bob\\n2026-12-02 INFO login ok peer=10.0.0.1 user=root"
//! );
//! assert_eq!(Escaped("\u{1b}[31mred\u{1b}[0m é").to_string(), "\\u{1b}[31mred\\u{1b}[0m \\u{e9}");
//! ```

use std::fmt;

/// Displays peer text with control characters, non-ASCII characters and `\` escaped (see the
/// module docs). Bytes that are not UTF-8 are shown as `\x..`.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a, T: ?Sized = str>(pub &'a T);

fn write_char(f: &mut fmt::Formatter<'_>, ch: char) -> fmt::Result {
    match ch {
        '\\' => f.write_str("\\\\"),
        '\n' => f.write_str("\\n"),
        '\r' => f.write_str("\\r"),
        '\t' => f.write_str("\\t"),
        ' '..='~' => fmt::Write::write_char(f, ch),
        other => write!(f, "\\u{{{:x}}}", other as u32),
    }
}

impl fmt::Display for Escaped<'_, str> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.chars().try_for_each(|ch| write_char(f, ch))
    }
}

impl fmt::Display for Escaped<'_, [u8]> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            chunk.valid().chars().try_for_each(|ch| write_char(f, ch))?;
            for byte in chunk.invalid() {
                write!(f, "\\x{byte:02x}")?;
            }
        }
        Ok(())
    }
}

/// Whether `text` holds a control character (C0, DEL or C1): such names are refused at login.
pub fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_peer_value_is_one_printable_ascii_run() {
        for input in [
            "a\nb",
            "\u{1b}]0;title\u{7}",
            "x\u{85}y",
            "\u{2028}",
            "a\\nb",
            "\r\n",
        ] {
            let shown = Escaped(input).to_string();
            assert!(shown.bytes().all(|b| (b' '..=b'~').contains(&b)), "{shown}");
        }
        assert_ne!(Escaped("a\\nb").to_string(), Escaped("a\nb").to_string());
        assert_eq!(Escaped(&b"ok\xff"[..]).to_string(), "ok\\xff");
    }
}
