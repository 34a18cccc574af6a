//! Size limits, one value per session.

use thiserror::Error;

/// Every size limit a session enforces. A session checks these **before** it allocates for a
/// line, a literal or a message, so no peer can make it hold more than they allow.
///
/// Use [`Limits::pop3`], [`Limits::imap`] or [`Limits::smtp`] for a protocol's defaults, then
/// change single fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Longest command or response line, terminator included.
    pub max_line_length: usize,
    /// Largest message, literal, DATA or BDAT body, in octets.
    pub max_message_size: u64,
    /// Deepest nesting of parenthesised lists (IMAP BODYSTRUCTURE, lists); keeps parsers off
    /// the end of the stack.
    pub max_nesting_depth: usize,
    /// Most commands a client may send ahead of their answers (pipelining) before the session
    /// stops reading.
    pub max_pipelined_commands: usize,
    /// Most received octets a session buffers before it asks the caller to stop reading.
    pub max_buffered_input: usize,
}

impl Limits {
    /// POP3: a 255-octet command line (RFC 2449 section 4 raises RFC 1939's 40 octets to 255),
    /// 50 MiB messages.
    pub const fn pop3() -> Self {
        Limits {
            max_line_length: 255,
            max_message_size: 50 * 1024 * 1024,
            max_nesting_depth: 8,
            max_pipelined_commands: 64,
            max_buffered_input: 64 * 1024,
        }
    }

    /// IMAP4: a 64 KiB command line (Dovecot's `imap_max_line_length`), 50 MiB literals
    /// (above Dovecot's 40 MiB submission limit and imap-next's 25 MiB), nesting depth 64.
    pub const fn imap() -> Self {
        Limits {
            max_line_length: 64 * 1024,
            max_message_size: 50 * 1024 * 1024,
            max_nesting_depth: 64,
            max_pipelined_commands: 64,
            max_buffered_input: 256 * 1024,
        }
    }

    /// SMTP: the 1000-octet text line of RFC 5321 section 4.5.3.1.6 (the 512-octet command line
    /// of 4.5.3.1.4 is raised by the parameters of SMTP extensions, RFC 1869), 50 MiB messages.
    pub const fn smtp() -> Self {
        Limits {
            max_line_length: 1000,
            max_message_size: 50 * 1024 * 1024,
            max_nesting_depth: 8,
            max_pipelined_commands: 100,
            max_buffered_input: 256 * 1024,
        }
    }

    /// Checks a size announced by a peer (an IMAP literal `{n}`, an SMTP `SIZE=n` or `BDAT n`)
    /// against [`Limits::max_message_size`] before anything is allocated for it.
    pub fn check_message_size(&self, announced: u64) -> Result<(), LimitExceeded> {
        if announced > self.max_message_size {
            Err(LimitExceeded::MessageSize {
                announced,
                limit: self.max_message_size,
            })
        } else {
            Ok(())
        }
    }
}

impl Default for Limits {
    /// The IMAP4 limits, the largest of the three defaults.
    fn default() -> Self {
        Limits::imap()
    }
}

/// A limit in [`Limits`] that a peer went past.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LimitExceeded {
    /// A line longer than [`Limits::max_line_length`]; it was discarded to its end.
    #[error("line longer than {limit} octets")]
    LineLength {
        /// The limit in force.
        limit: usize,
    },
    /// A message, literal or body larger than [`Limits::max_message_size`].
    #[error("message of {announced} octets is over the limit of {limit}")]
    MessageSize {
        /// What the peer announced or sent.
        announced: u64,
        /// The limit in force.
        limit: u64,
    },
    /// Lists nested deeper than [`Limits::max_nesting_depth`].
    #[error("nesting deeper than {limit}")]
    NestingDepth {
        /// The limit in force.
        limit: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announced_size_is_checked_against_the_limit() {
        let limits = Limits::smtp();
        assert!(limits.check_message_size(limits.max_message_size).is_ok());
        assert_eq!(
            limits.check_message_size(u64::MAX),
            Err(LimitExceeded::MessageSize {
                announced: u64::MAX,
                limit: limits.max_message_size
            })
        );
    }

    #[test]
    fn protocol_defaults_follow_their_rfcs() {
        assert_eq!(Limits::pop3().max_line_length, 255);
        assert_eq!(Limits::smtp().max_line_length, 1000);
        assert_eq!(Limits::imap().max_line_length, 65536);
        assert_eq!(Limits::imap().max_nesting_depth, 64);
    }
}
