//! Encoders for both directions.
//!
//! Each value is written in the form its position allows: an atom where the grammar takes
//! `astring` and the content is plain, a quoted string when it has no CR, LF or 8-bit octets
//! and is short, a literal otherwise. The result is a list of [`Fragment`]s: on the client
//! side a synchronizing literal's announcement is followed by
//! [`Fragment::AwaitContinuation`], where the client must wait for the server's `+`.
//!
//! ```
//! use imap4_proto::encode::{self, Fragment, LiteralPolicy};
//! use imap4_proto::parse;
//!
//! // A password with 8-bit octets cannot be quoted: it becomes a literal.
//! let command = parse::command(b"a1 LOGIN alice {5}\r\np\xc3\xa4ss").unwrap();
//! let encoded = encode::command(&command, LiteralPolicy::Sync);
//! assert_eq!(
//!     encoded.fragments(),
//!     &[
//!         Fragment::Data(b"a1 LOGIN alice {5}\r\n".to_vec()),
//!         Fragment::AwaitContinuation,
//!         Fragment::Data(b"p\xc3\xa4ss\r\n".to_vec()),
//!     ]
//! );
//! ```

mod command;
mod items;
mod response;
mod writer;

pub use command::command;
pub use response::response;

/// A piece of an encoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fragment {
    /// Octets to send.
    Data(Vec<u8>),
    /// Client side: wait for the server's `+` continuation before sending what follows (a
    /// synchronizing literal's octets). If the server answers with a tagged response
    /// instead, the command is over and the rest must not be sent.
    AwaitContinuation,
    /// The caller sends this many octets of a streamed literal ([`crate::types::Payload::Streamed`])
    /// itself, here.
    StreamedLiteral {
        /// How many octets.
        size: u64,
    },
}

/// Which literals a client may send without waiting (RFC 7888).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LiteralPolicy {
    /// `{n}` and wait for `+`: what every server accepts.
    Sync,
    /// `{n+}` for every literal: the server announced `LITERAL+`.
    NonSync,
    /// `{n+}` up to 4096 octets, `{n}` above: the server announced `LITERAL-`.
    NonSyncUpTo4096,
}

/// An encoded command or response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Encoded {
    fragments: Vec<Fragment>,
}

impl Encoded {
    /// The fragments in order.
    pub fn fragments(&self) -> &[Fragment] {
        &self.fragments
    }

    /// All octets in one buffer, ignoring where a client would wait; `None` if a
    /// streamed literal must be inserted by the caller.
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for fragment in &self.fragments {
            match fragment {
                Fragment::Data(data) => out.extend_from_slice(data),
                Fragment::AwaitContinuation => {}
                Fragment::StreamedLiteral { .. } => return None,
            }
        }
        Some(out)
    }
}
