//! Modified UTF-7 mailbox names (RFC 3501 section 5.1.3).
//!
//! IMAP4rev1 clients send mailbox names in modified UTF-7, and Dovecot's Maildir++ layout
//! stores folder names on disk the same way, so both `imap4-proto` and `mailstore` use this
//! module. Decoding is strict: only the one canonical encoding of a name is accepted, so that a
//! name round-trips exactly and two spellings can never name the same mailbox.
//!
//! ```
//! use mail_session::mutf7;
//! assert_eq!(mutf7::encode("Entwürfe & Co"), "Entw&APw-rfe &- Co");
//! assert_eq!(mutf7::decode("Entw&APw-rfe &- Co").unwrap(), "Entwürfe & Co");
//! assert!(mutf7::decode("&AGE-").is_err(), "printable ASCII must not be encoded");
//! ```

use base64::alphabet::Alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use thiserror::Error;

const MODIFIED_BASE64: GeneralPurpose = GeneralPurpose::new(
    &match Alphabet::new("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,") {
        Ok(alphabet) => alphabet,
        Err(_) => panic!("the modified base64 alphabet is valid"),
    },
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// Why a name is not valid modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid modified UTF-7 at octet {position}")]
pub struct Mutf7Error {
    /// Where the invalid part starts.
    pub position: usize,
}

/// Encodes a Unicode mailbox name.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|unit| unit.to_be_bytes()).collect();
        out.push('&');
        out.push_str(&MODIFIED_BASE64.encode(bytes));
        out.push('-');
        pending.clear();
    };
    for ch in name.chars() {
        if (' '..='~').contains(&ch) {
            flush(&mut pending, &mut out);
            if ch == '&' {
                out.push_str("&-");
            } else {
                out.push(ch);
            }
        } else {
            let mut units = [0u16; 2];
            pending.extend_from_slice(ch.encode_utf16(&mut units));
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// Decodes a modified UTF-7 mailbox name, accepting only its canonical form.
pub fn decode(encoded: &str) -> Result<String, Mutf7Error> {
    let bytes = encoded.as_bytes();
    let mut out = String::with_capacity(encoded.len());
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if !(0x20..=0x7e).contains(&byte) {
            return Err(Mutf7Error { position: at });
        }
        if byte != b'&' {
            out.push(byte as char);
            at += 1;
            continue;
        }
        let end = bytes[at + 1..]
            .iter()
            .position(|&b| b == b'-')
            .map(|offset| at + 1 + offset)
            .ok_or(Mutf7Error { position: at })?;
        if end == at + 1 {
            out.push('&');
            at = end + 1;
            continue;
        }
        let decoded = MODIFIED_BASE64
            .decode(&bytes[at + 1..end])
            .map_err(|_| Mutf7Error { position: at })?;
        if decoded.len() % 2 != 0 {
            return Err(Mutf7Error { position: at });
        }
        let units: Vec<u16> = decoded
            .chunks_exact(2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
            .collect();
        let text = String::from_utf16(&units).map_err(|_| Mutf7Error { position: at })?;
        if text.chars().any(|ch| (' '..='~').contains(&ch)) {
            return Err(Mutf7Error { position: at });
        }
        out.push_str(&text);
        at = end + 1;
    }
    if encode(&out) != encoded {
        return Err(Mutf7Error { position: 0 });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc3501_example_round_trips() {
        let name = "~peter/mail/台北/日本語";
        let encoded = "~peter/mail/&U,BTFw-/&ZeVnLIqe-";
        assert_eq!(encode(name), encoded);
        assert_eq!(decode(encoded).unwrap(), name);
    }

    #[test]
    fn non_canonical_forms_are_refused() {
        for bad in [
            "&",
            "&Jjo",
            "&U,BTFw-&ZeVnLIqe-",
            "a\u{7f}",
            "&AGEAYg-",
            "&2D0-",
        ] {
            assert!(decode(bad).is_err(), "{bad:?} was accepted");
        }
    }

    proptest! {
        #[test]
        fn any_name_round_trips(name in "\\PC{0,20}") {
            prop_assert_eq!(decode(&encode(&name)).unwrap(), name);
        }
    }
}
