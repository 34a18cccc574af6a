//! The output buffer and the choice between atom, quoted string and literal.

use super::{Encoded, Fragment, LiteralPolicy};
use crate::types::{is_astring_char, is_atom_char, NString};

/// Longest string written quoted rather than as a literal.
const MAX_QUOTED: usize = 1024;

/// Collects fragments.
pub(crate) struct Writer {
    fragments: Vec<Fragment>,
    current: Vec<u8>,
    /// `None` on the server side: literals never wait.
    policy: Option<LiteralPolicy>,
}

impl Writer {
    pub(crate) fn client(policy: LiteralPolicy) -> Self {
        Writer {
            fragments: Vec::new(),
            current: Vec::with_capacity(64),
            policy: Some(policy),
        }
    }

    pub(crate) fn server() -> Self {
        Writer {
            fragments: Vec::new(),
            current: Vec::with_capacity(64),
            policy: None,
        }
    }

    pub(crate) fn finish(mut self) -> Encoded {
        self.current.extend_from_slice(b"\r\n");
        self.flush();
        Encoded {
            fragments: self.fragments,
        }
    }

    fn flush(&mut self) {
        if !self.current.is_empty() {
            self.fragments
                .push(Fragment::Data(std::mem::take(&mut self.current)));
        }
    }

    pub(crate) fn raw(&mut self, bytes: &[u8]) {
        self.current.extend_from_slice(bytes);
    }

    pub(crate) fn sp(&mut self) {
        self.current.push(b' ');
    }

    pub(crate) fn number(&mut self, n: impl Into<u64>) {
        let mut buffer = [0u8; 20];
        let mut n: u64 = n.into();
        let mut at = buffer.len();
        loop {
            at -= 1;
            buffer[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.current.extend_from_slice(&buffer[at..]);
    }

    /// The announcement of a literal of `size` octets, and the wait after it if any.
    pub(crate) fn literal_announcement(&mut self, size: u64, binary: bool) {
        if binary {
            self.current.push(b'~');
        }
        self.current.push(b'{');
        self.number(size);
        let sync = match self.policy {
            None => {
                self.current.extend_from_slice(b"}\r\n");
                return;
            }
            Some(LiteralPolicy::Sync) => true,
            Some(LiteralPolicy::NonSync) => false,
            Some(LiteralPolicy::NonSyncUpTo4096) => size > 4096,
        };
        if sync {
            self.current.extend_from_slice(b"}\r\n");
            self.flush();
            self.fragments.push(Fragment::AwaitContinuation);
        } else {
            self.current.extend_from_slice(b"+}\r\n");
        }
    }

    pub(crate) fn literal(&mut self, data: &[u8], binary: bool) {
        self.literal_announcement(data.len() as u64, binary);
        self.current.extend_from_slice(data);
    }

    /// A literal whose octets the caller sends.
    pub(crate) fn streamed_literal(&mut self, size: u64, binary: bool) {
        self.literal_announcement(size, binary);
        self.flush();
        self.fragments.push(Fragment::StreamedLiteral { size });
    }

    /// `string = quoted / literal`.
    pub(crate) fn string(&mut self, data: &[u8]) {
        let quotable = data.len() <= MAX_QUOTED
            && data
                .iter()
                .all(|&b| b != 0 && b != b'\r' && b != b'\n' && b < 0x80);
        if quotable {
            self.current.push(b'"');
            for &b in data {
                if b == b'"' || b == b'\\' {
                    self.current.push(b'\\');
                }
                self.current.push(b);
            }
            self.current.push(b'"');
        } else {
            self.literal(data, false);
        }
    }

    /// `astring = 1*ASTRING-CHAR / string`.
    pub(crate) fn astring(&mut self, data: &[u8]) {
        if !data.is_empty() && data.iter().all(|&b| is_astring_char(b)) {
            self.raw(data);
        } else {
            self.string(data);
        }
    }

    /// `list-mailbox = 1*list-char / string`.
    pub(crate) fn list_mailbox(&mut self, data: &[u8]) {
        if !data.is_empty()
            && data
                .iter()
                .all(|&b| is_astring_char(b) || b == b'%' || b == b'*')
        {
            self.raw(data);
        } else {
            self.string(data);
        }
    }

    /// `charset = atom / quoted`: quoted unless it is an atom.
    pub(crate) fn charset(&mut self, data: &[u8]) {
        if !data.is_empty() && data.iter().all(|&b| is_atom_char(b)) {
            self.raw(data);
        } else {
            self.string(data);
        }
    }

    /// `nstring = string / nil`.
    pub(crate) fn nstring(&mut self, value: &NString) {
        match value {
            Some(value) => self.string(value.as_bytes()),
            None => self.raw(b"NIL"),
        }
    }

    /// `"(" x *(SP x) ")"`.
    pub(crate) fn list<T>(&mut self, items: &[T], mut item: impl FnMut(&mut Self, &T)) {
        self.current.push(b'(');
        for (index, one) in items.iter().enumerate() {
            if index > 0 {
                self.sp();
            }
            item(self, one);
        }
        self.current.push(b')');
    }
}
