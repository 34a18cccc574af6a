//! Receiving a message body: DATA (dot-stuffed, ended by `CR LF . CR LF`) and BDAT chunks
//! (RFC 3030), streamed onward as slices of the input, never held whole.
//!
//! Only `CR LF . CR LF` ends DATA ([`EndMarker::CrLfOnly`], RFC 5321 section 4.1.1.4): a bare
//! `LF . LF` or `LF . CR LF` is body text, so a second message cannot be smuggled past a filter
//! that reads the end differently. The content is checked as it passes, at no extra copy:
//! octets over the size limit are counted but no longer handed on, and bare `CR` or `LF`
//! (RFC 5321 section 2.3.8), NUL, and 8-bit octets without `BODY=8BITMIME` are noted so the
//! session can refuse the message with the right code once its end is found.

use mail_session::dot::{DotUnstuffer, EndMarker};

use crate::types::{BodyType, Reply};

/// What the content of a message must be, from the transaction's `BODY=` and the server's
/// policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRules {
    /// Most octets accepted: the server's limit (a declared `SIZE=` was already checked
    /// against it at MAIL).
    pub max_size: u64,
    /// The declared body type: 8-bit octets only with `8BITMIME` or `BINARYMIME`; line ends
    /// are not checked in `BINARYMIME`.
    pub body: BodyType,
    /// Refuse bare `CR` and `LF` (RFC 5321 section 2.3.8). On by default; Postfix's
    /// `smtpd_forbid_bare_newline` does the same.
    pub reject_bare_line_ends: bool,
    /// Accept 8-bit octets without `BODY=8BITMIME` (RFC 6152 leaves it to the server). Off by
    /// default.
    pub accept_undeclared_eight_bit: bool,
}

impl ContentRules {
    /// The default rules for a body of type `body` under `max_size`.
    pub fn new(max_size: u64, body: BodyType) -> Self {
        ContentRules {
            max_size,
            body,
            reject_bare_line_ends: true,
            accept_undeclared_eight_bit: false,
        }
    }
}

/// What was wrong with a received body. The body was read to its end and nothing of it may be
/// delivered; [`ContentProblem::reply`] is the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentProblem {
    /// More octets than the limit (RFC 1870: 552 5.3.4).
    TooLarge {
        /// Octets received in all.
        received: u64,
        /// The limit.
        limit: u64,
    },
    /// A `CR` or `LF` not part of a `CR LF` pair (554 5.6.0, as Postfix answers).
    BareLineEnd,
    /// A NUL octet outside `BINARYMIME` (554 5.6.0).
    Nul,
    /// An octet above 127 without `BODY=8BITMIME` (554 5.6.0).
    UndeclaredEightBit,
}

impl ContentProblem {
    /// The reply for the end of the body.
    pub fn reply(&self) -> Reply {
        match self {
            ContentProblem::TooLarge { limit, .. } => Reply::new(
                552,
                Some((5, 3, 4)),
                format!("message size exceeds fixed maximum message size of {limit} octets"),
            ),
            ContentProblem::BareLineEnd => Reply::new(
                554,
                Some((5, 6, 0)),
                "message contains bare CR or LF: line ends must be CR LF (RFC 5321 2.3.8)",
            ),
            ContentProblem::Nul => Reply::new(554, Some((5, 6, 0)), "message contains NUL octets"),
            ContentProblem::UndeclaredEightBit => Reply::new(
                554,
                Some((5, 6, 0)),
                "message contains 8-bit data: send MAIL FROM with BODY=8BITMIME",
            ),
        }
    }
}

/// The running content checks shared by DATA and BDAT.
#[derive(Debug, Clone)]
struct ContentCheck {
    rules: ContentRules,
    received: u64,
    /// The last octet handed on was a CR (its LF may come in the next slice).
    pending_cr: bool,
    problem: Option<ContentProblem>,
}

impl ContentCheck {
    fn new(rules: ContentRules) -> Self {
        ContentCheck {
            rules,
            received: 0,
            pending_cr: false,
            problem: None,
        }
    }

    /// Counts and checks one slice of body; returns whether it may be handed on.
    fn pass(&mut self, slice: &[u8]) -> bool {
        self.received = self.received.saturating_add(slice.len() as u64);
        if self.received > self.rules.max_size {
            self.problem = Some(ContentProblem::TooLarge {
                received: self.received,
                limit: self.rules.max_size,
            });
        }
        if self.problem.is_some() {
            return false;
        }
        let binary = self.rules.body == BodyType::BinaryMime;
        let eight_bit_allowed =
            self.rules.body != BodyType::SevenBit || self.rules.accept_undeclared_eight_bit;
        if !binary && (self.rules.reject_bare_line_ends || !eight_bit_allowed) {
            let scan = scan(slice, self.pending_cr);
            if self.rules.reject_bare_line_ends && scan.bare_line_end {
                self.problem = Some(ContentProblem::BareLineEnd);
            } else if scan.nul {
                self.problem = Some(ContentProblem::Nul);
            } else if scan.eight_bit && !eight_bit_allowed {
                self.problem = Some(ContentProblem::UndeclaredEightBit);
            }
        } else if !binary && memchr::memchr(0, slice).is_some() {
            self.problem = Some(ContentProblem::Nul);
        }
        if let Some(&last) = slice.last() {
            self.pending_cr = last == b'\r';
        }
        self.problem.is_none()
    }

    /// The problem found, counting a CR left at the very end.
    fn finish(&mut self) -> Option<ContentProblem> {
        if self.problem.is_none()
            && self.pending_cr
            && self.rules.reject_bare_line_ends
            && self.rules.body != BodyType::BinaryMime
        {
            self.problem = Some(ContentProblem::BareLineEnd);
        }
        self.problem
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Scan {
    bare_line_end: bool,
    nul: bool,
    eight_bit: bool,
}

/// Three simple passes the compiler vectorises (measured faster than one fused loop): each
/// octet compared with the one before it (a `CR` must be followed by `LF`, an `LF` preceded
/// by `CR`), memchr for NUL, and an OR of all octets for the high bit.
fn scan(slice: &[u8], pending_cr: bool) -> Scan {
    let Some(&first) = slice.first() else {
        return Scan::default();
    };
    let mismatch = slice.iter().zip(&slice[1..]).fold(
        u8::from(pending_cr != (first == b'\n')),
        |mismatch, (&previous, &byte)| {
            mismatch | (u8::from(previous == b'\r') ^ u8::from(byte == b'\n'))
        },
    );
    Scan {
        bare_line_end: mismatch != 0,
        nul: memchr::memchr(0, slice).is_some(),
        eight_bit: slice.iter().fold(0u8, |high, &byte| high | byte) >= 0x80,
    }
}

/// What a receiver did with its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Input octets used; what follows the body (pipelined commands) is left.
    pub consumed: usize,
    /// The body is complete.
    pub finished: bool,
}

/// Receives a DATA body: un-stuffs it, finds `CR LF . CR LF`, checks it, and hands it on as
/// slices of the input.
///
/// ```
/// use smtp_submit::data::{ContentRules, DataReceiver};
/// use smtp_submit::types::BodyType;
/// let mut receiver = DataReceiver::new(ContentRules::new(1000, BodyType::SevenBit));
/// let mut body = Vec::new();
/// let input = b"Subject: hi\r\n\r\n..dot\r\n.\r\nQUIT\r\n";
/// let received = receiver.receive(input, |part| body.extend_from_slice(part));
/// assert!(received.finished);
/// assert_eq!(&input[received.consumed..], b"QUIT\r\n");
/// assert_eq!(body, b"Subject: hi\r\n\r\n.dot\r\n");
/// assert_eq!(receiver.finish(), Ok(21));
/// ```
#[derive(Debug, Clone)]
pub struct DataReceiver {
    unstuffer: DotUnstuffer,
    check: ContentCheck,
}

impl DataReceiver {
    /// A receiver at the start of a body (just after the `354`).
    pub fn new(rules: ContentRules) -> Self {
        DataReceiver {
            unstuffer: DotUnstuffer::new(EndMarker::CrLfOnly),
            check: ContentCheck::new(rules),
        }
    }

    /// Feeds received octets; `sink` gets the body, un-stuffed, while it is acceptable. Once a
    /// problem is found nothing more is handed on, but the input is still read to the end.
    pub fn receive<'a>(&mut self, input: &'a [u8], mut sink: impl FnMut(&'a [u8])) -> Received {
        let check = &mut self.check;
        let unstuffed = self.unstuffer.decode(input, |slice| {
            if check.pass(slice) {
                sink(slice);
            }
        });
        Received {
            consumed: unstuffed.consumed,
            finished: unstuffed.finished,
        }
    }

    /// After [`Received::finished`]: the body's size, or what was wrong with it.
    pub fn finish(&mut self) -> Result<u64, ContentProblem> {
        match self.check.finish() {
            Some(problem) => Err(problem),
            None => Ok(self.check.received),
        }
    }

    /// Octets of body received so far (after un-stuffing).
    pub fn received(&self) -> u64 {
        self.check.received
    }
}

/// Receives the BDAT chunks of one message (RFC 3030): each chunk is exactly its announced
/// size, with no stuffing and no end marker.
#[derive(Debug, Clone)]
pub struct BdatReceiver {
    check: ContentCheck,
    remaining: u64,
}

impl BdatReceiver {
    /// A receiver for a message's chunks.
    pub fn new(rules: ContentRules) -> Self {
        BdatReceiver {
            check: ContentCheck::new(rules),
            remaining: 0,
        }
    }

    /// Starts a chunk of `size` octets. The caller has checked that `size` fits the limit (a
    /// chunk over it is still read, counted and refused).
    pub fn start_chunk(&mut self, size: u64) {
        self.remaining = size;
    }

    /// Octets of the current chunk still to come.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Feeds received octets; `sink` gets the chunk's octets while they are acceptable.
    pub fn receive<'a>(&mut self, input: &'a [u8], mut sink: impl FnMut(&'a [u8])) -> Received {
        let take = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(input.len());
        let part = &input[..take];
        self.remaining -= take as u64;
        if !part.is_empty() && self.check.pass(part) {
            sink(part);
        }
        Received {
            consumed: take,
            finished: self.remaining == 0,
        }
    }

    /// After the `LAST` chunk: the message's size, or what was wrong with it.
    pub fn finish(&mut self) -> Result<u64, ContentProblem> {
        match self.check.finish() {
            Some(problem) => Err(problem),
            None => Ok(self.check.received),
        }
    }

    /// Octets received so far.
    pub fn received(&self) -> u64 {
        self.check.received
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receive_whole(
        input: &[u8],
        rules: ContentRules,
    ) -> (Vec<u8>, Received, Result<u64, ContentProblem>) {
        let mut receiver = DataReceiver::new(rules);
        let mut body = Vec::new();
        let received = receiver.receive(input, |part| body.extend_from_slice(part));
        (body, received, receiver.finish())
    }

    fn rules() -> ContentRules {
        ContentRules::new(1 << 20, BodyType::SevenBit)
    }

    #[test]
    fn only_crlf_dot_crlf_ends_the_body() {
        let input = b"a\n.\nb\r\n.\nc\n.\r\nd\r\n.\r\n";
        let mut lenient = rules();
        lenient.reject_bare_line_ends = false;
        let (body, received, result) = receive_whole(input, lenient);
        assert!(received.finished);
        assert_eq!(received.consumed, input.len());
        // After CR LF a leading dot is stuffing and goes; after a bare LF it is text.
        assert_eq!(body, b"a\n.\nb\r\n\nc\n.\r\nd\r\n");
        assert!(result.is_ok());
        let (_, _, strict) = receive_whole(input, rules());
        assert_eq!(strict, Err(ContentProblem::BareLineEnd));
    }

    #[test]
    fn problems_are_found_across_slices() {
        for (input, problem) in [
            (&b"a\rb\r\n.\r\n"[..], ContentProblem::BareLineEnd),
            (b"ab\r\nc\x00\r\n.\r\n", ContentProblem::Nul),
            (b"caf\xc3\xa9\r\n.\r\n", ContentProblem::UndeclaredEightBit),
        ] {
            for split in 1..input.len() {
                let mut receiver = DataReceiver::new(rules());
                let first = receiver.receive(&input[..split], |_| {});
                let second = receiver.receive(&input[first.consumed..], |_| {});
                assert!(second.finished);
                assert_eq!(receiver.finish(), Err(problem), "split at {split}");
            }
        }
        let mut eight_bit = rules();
        eight_bit.body = BodyType::EightBitMime;
        assert_eq!(receive_whole(b"caf\xc3\xa9\r\n.\r\n", eight_bit).2, Ok(7));
    }

    #[test]
    fn oversize_bodies_are_read_to_their_end_and_refused() {
        let mut small = rules();
        small.max_size = 10;
        let input = b"0123456789\r\nmore\r\n.\r\nQUIT\r\n";
        let (body, received, result) = receive_whole(input, small);
        assert!(received.finished);
        assert_eq!(&input[received.consumed..], b"QUIT\r\n");
        assert!(body.len() <= 10);
        assert_eq!(
            result,
            Err(ContentProblem::TooLarge {
                received: 18,
                limit: 10
            })
        );
        assert_eq!(result.unwrap_err().reply().code.get(), 552);
    }

    #[test]
    fn bdat_takes_exactly_the_chunk() {
        let mut receiver = BdatReceiver::new(rules());
        receiver.start_chunk(5);
        let mut body = Vec::new();
        let received = receiver.receive(b"ab\r\ncRSET\r\n", |part| body.extend_from_slice(part));
        assert_eq!(received.consumed, 5);
        assert!(received.finished);
        assert_eq!(body, b"ab\r\nc");
    }
}
