//! Receiving a message body: DATA (dot-stuffed, ended by `CR LF . CR LF`) and BDAT chunks
//! (RFC 3030), streamed onward as slices of the input, never held whole.
//!
//! Only `CR LF . CR LF` ends DATA ([`EndMarker::CrLfOnly`], RFC 5321 section 4.1.1.4): a bare
//! `LF . LF` or `LF . CR LF` is body text, so a second message cannot be smuggled past a filter
//! that reads the end differently. The content is checked as it passes, at no extra copy:
//! octets over the size limit are counted but no longer handed on, and bare `CR` or `LF`
//! (RFC 5321 section 2.3.8), NUL, and 8-bit octets without `BODY=8BITMIME` are noted so the
//! session can refuse the message with the right code once its end is found.
//!
//! # What bounds its speed
//! Measured on realistic mail (`mail_benches::realistic_message`: base64 attachments in
//! 76-octet lines, quoted-printable text, 990-octet HTML lines, a listing where one line in
//! three starts with a dot; group `smtp_data_realistic_10MiB` of `benches/benches/smtp.rs`,
//! next to `memchr::memmem` finding `CR LF . CR LF` in the same bytes):
//!
//! - **Not the dots or the line ends.** The scan stops only at a line-leading dot (one line
//!   in 34 there, a few thousand stops in 10 MiB) and at a problem; line ends themselves cost
//!   nothing extra. Handing the body on is a slice per run between removed dots, no copy.
//! - **The vector work per block.** Each 32-octet block is loaded twice (the octets, and the
//!   same one position earlier, so that every pair `previous, octet` is judged without shifting
//!   across blocks; half of those loads cross a cache line), and judged with four to six
//!   compares and as many logic operations: `LF .`, `CR` not followed by `LF` and `LF` not
//!   preceded by `CR`, NUL. memmem loads each block once and compares two octets (a rare-byte
//!   prefilter). Counted with valgrind on that mail, the checked receiver (the default for
//!   `BODY=8BITMIME`: bare line ends and NUL) runs 0.54 instructions per octet, memmem 0.47,
//!   the receiver with no line-end check 0.38: about the same work, but ours is a chain of
//!   dependent vector operations on two loads where memmem's is short, so it retires fewer per
//!   cycle. In CPU time on the development machine (AMD EPYC, AVX2, shared with other
//!   builds): checked 6.5 GiB/s, no line-end check 8.1 GiB/s, memmem 13.8 GiB/s,
//!   [`DataReceiver::portable`] 4.7 GiB/s; criterion in a quieter moment: 13.5, 21.5 and
//!   25.5 GiB/s. So about half of memmem with the default checks and 0.6 to 0.85 without the
//!   line-end check; the 0.72 that outside testers found lies between.
//! - **What would close it:** deriving the previous-octet vector from the block already loaded
//!   (a lane permute and `alignr`) instead of a second, line-crossing load, and judging the
//!   line-end pairs only in blocks that hold a `CR` or an `LF` at all (one compare and
//!   `movemask` decide that, and base64 and long lines leave most blocks without one). A
//!   receiver that must check the content cannot reach memmem, which reads only for the end:
//!   every octet has to be looked at.

use mail_session::dot::{DotUnstuffer, EndMarker};

use crate::types::{BodyType, Reply};

mod scan;

use scan::{Checks, Kernel};

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
#[non_exhaustive]
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

    /// The content checks still to make: none once a problem is known.
    fn checks(&self) -> Checks {
        let binary = self.rules.body == BodyType::BinaryMime;
        let open = self.problem.is_none() && !binary;
        Checks {
            bare: open && self.rules.reject_bare_line_ends,
            nul: open,
            high: open
                && self.rules.body == BodyType::SevenBit
                && !self.rules.accept_undeclared_eight_bit,
        }
    }

    /// Checks the body octet `byte` that follows a `CR` or not; notes its problem if it is the
    /// first found. The order is that of the positions: a bare `CR` is reported at the octet
    /// after it, which cannot be a line end itself.
    fn check_octet(&mut self, after_cr: bool, byte: u8) {
        let checks = self.checks();
        if checks.bare && (after_cr != (byte == b'\n')) {
            self.problem = Some(ContentProblem::BareLineEnd);
        } else if checks.nul && byte == 0 {
            self.problem = Some(ContentProblem::Nul);
        } else if checks.high && byte >= 0x80 {
            self.problem = Some(ContentProblem::UndeclaredEightBit);
        }
    }

    /// Counts the octets of `slice`; notes `TooLarge` once the limit is passed.
    fn count(&mut self, slice: &[u8]) {
        self.received = self.received.saturating_add(slice.len() as u64);
        if self.received > self.rules.max_size {
            self.problem = Some(ContentProblem::TooLarge {
                received: self.received,
                limit: self.rules.max_size,
            });
        }
    }

    /// Counts one slice of body whose content was already checked (by the fused scan); hands
    /// it on unless a problem is known or the size limit is passed.
    fn deliver<'a>(&mut self, slice: &'a [u8], sink: &mut impl FnMut(&'a [u8])) {
        self.count(slice);
        if let Some(&last) = slice.last() {
            self.pending_cr = last == b'\r';
        }
        if self.problem.is_none() {
            sink(slice);
        }
    }

    /// As [`ContentCheck::pass`], with the content checked by the vector scan: one pass that
    /// stops only where an octet needs a closer look (a problem, or a harmless `LF .`).
    fn pass_scanned(&mut self, slice: &[u8], kernel: Kernel) -> bool {
        let checks = self.checks();
        if let (true, Some(&first)) = (checks.bare || checks.nul || checks.high, slice.first()) {
            self.check_octet(self.pending_cr, first);
            let mut from = 1;
            while self.problem.is_none() && from < slice.len() {
                let at = scan::find_event(slice, from, checks, kernel);
                if at >= slice.len() {
                    break;
                }
                // An `LF .` pair is no problem here: check_octet finds none in it.
                self.check_octet(slice[at - 1] == b'\r', slice[at]);
                from = at + 1;
            }
        }
        let mut acceptable = false;
        self.deliver(slice, &mut |_| acceptable = true);
        acceptable
    }

    /// Counts and checks one slice of body; returns whether it may be handed on.
    fn pass(&mut self, slice: &[u8]) -> bool {
        self.count(slice);
        if self.problem.is_some() {
            return false;
        }
        let binary = self.rules.body == BodyType::BinaryMime;
        let eight_bit_allowed =
            self.rules.body != BodyType::SevenBit || self.rules.accept_undeclared_eight_bit;
        if !binary && (self.rules.reject_bare_line_ends || !eight_bit_allowed) {
            let scan = scan(slice, self.pending_cr);
            let bare = self.rules.reject_bare_line_ends && scan.bare_line_end;
            let eight_bit = scan.eight_bit && !eight_bit_allowed;
            let kinds = u8::from(bare) + u8::from(scan.nul) + u8::from(eight_bit);
            if kinds > 1 {
                // More than one kind: the first in the body counts, as in the fused scan.
                let mut after_cr = self.pending_cr;
                for &byte in slice {
                    self.check_octet(after_cr, byte);
                    if self.problem.is_some() {
                        break;
                    }
                    after_cr = byte == b'\r';
                }
            } else if bare {
                self.problem = Some(ContentProblem::BareLineEnd);
            } else if scan.nul {
                self.problem = Some(ContentProblem::Nul);
            } else if eight_bit {
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
    engine: Engine,
    check: ContentCheck,
}

/// How the receiver finds the end and checks the content.
#[derive(Debug, Clone)]
enum Engine {
    /// One scan per block finds line-leading dots and content problems together
    /// ([`scan::find_event`]); the dot handling is that of [`DotUnstuffer`].
    Fused { stage: Stage, kernel: Kernel },
    /// [`DotUnstuffer`], then the content checks on each slice it hands on. Kept for targets
    /// without a vector kernel, and as the reference the fused engine is tested against.
    Portable(Box<DotUnstuffer>),
}

/// Where the fused engine is in the stuffed body; as in [`DotUnstuffer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// At the start of a line (after `CR LF`).
    LineStart,
    /// After a line-leading `.`.
    Dot,
    /// After a line-leading `.` `CR`.
    DotCr,
    /// Inside a line; the last body octet was a `CR` or not.
    Mid { last_was_cr: bool },
    /// `CR LF . CR LF` was seen.
    Finished,
}

impl DataReceiver {
    /// A receiver at the start of a body (just after the `354`).
    pub fn new(rules: ContentRules) -> Self {
        let kernel = Kernel::detect();
        let engine = if kernel == Kernel::Scalar {
            Engine::Portable(Box::new(DotUnstuffer::new(EndMarker::CrLfOnly)))
        } else {
            Engine::Fused {
                stage: Stage::LineStart,
                kernel,
            }
        };
        DataReceiver {
            engine,
            check: ContentCheck::new(rules),
        }
    }

    /// A receiver that does not use the vector scan: [`DotUnstuffer`], then the content
    /// checks on each slice. Same results as [`DataReceiver::new`], slower; it is the reference
    /// the fast path is fuzzed against, and a choice for those who want no `unsafe` code on
    /// their path.
    pub fn portable(rules: ContentRules) -> Self {
        DataReceiver {
            engine: Engine::Portable(Box::new(DotUnstuffer::new(EndMarker::CrLfOnly))),
            check: ContentCheck::new(rules),
        }
    }

    #[cfg(test)]
    fn with_engine(rules: ContentRules, fused: Option<Kernel>) -> Self {
        let engine = match fused {
            Some(kernel) => Engine::Fused {
                stage: Stage::LineStart,
                kernel,
            },
            None => Engine::Portable(Box::new(DotUnstuffer::new(EndMarker::CrLfOnly))),
        };
        DataReceiver {
            engine,
            check: ContentCheck::new(rules),
        }
    }

    /// Feeds received octets; `sink` gets the body, un-stuffed, while it is acceptable. Once a
    /// problem is found nothing more is handed on, but the input is still read to the end.
    pub fn receive<'a>(&mut self, input: &'a [u8], mut sink: impl FnMut(&'a [u8])) -> Received {
        match &mut self.engine {
            Engine::Fused { stage, kernel } => {
                receive_fused(stage, *kernel, &mut self.check, input, &mut sink)
            }
            Engine::Portable(unstuffer) => {
                let check = &mut self.check;
                let unstuffed = unstuffer.decode(input, |slice| {
                    if check.pass(slice) {
                        sink(slice);
                    }
                });
                Received {
                    consumed: unstuffed.consumed,
                    finished: unstuffed.finished,
                }
            }
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

/// The fused engine: the same states and results as [`DotUnstuffer`] (with
/// [`EndMarker::CrLfOnly`]) followed by [`ContentCheck::pass`], in one scan of the input.
///
/// The input is read in runs of body octets between removed dots. The first octet of a run
/// is checked here against the octet before it (which may lie in an earlier input); every
/// later octet is judged by [`scan::find_event`] with the input octet before it, which is then
/// also the body octet before it.
fn receive_fused<'a>(
    stage: &mut Stage,
    kernel: Kernel,
    check: &mut ContentCheck,
    input: &'a [u8],
    sink: &mut impl FnMut(&'a [u8]),
) -> Received {
    let unfinished = Received {
        consumed: input.len(),
        finished: false,
    };
    let mut at = 0;
    // Settle a stage left open at the end of the previous input.
    let mut run_after_cr = loop {
        if at == input.len() {
            return Received {
                consumed: at,
                finished: *stage == Stage::Finished,
            };
        }
        match *stage {
            Stage::Finished => {
                return Received {
                    consumed: at,
                    finished: true,
                }
            }
            Stage::LineStart => {
                if input[at] == b'.' {
                    *stage = Stage::Dot;
                    at += 1;
                } else {
                    *stage = Stage::Mid { last_was_cr: false };
                }
            }
            Stage::Dot => {
                if input[at] == b'\r' {
                    *stage = Stage::DotCr;
                    at += 1;
                } else {
                    *stage = Stage::Mid { last_was_cr: false };
                }
            }
            Stage::DotCr => {
                if input[at] == b'\n' {
                    *stage = Stage::Finished;
                    return Received {
                        consumed: at + 1,
                        finished: true,
                    };
                }
                check.deliver(b"\r", sink);
                *stage = Stage::Mid { last_was_cr: true };
            }
            Stage::Mid { last_was_cr } => break last_was_cr,
        }
    };
    let mut run_start = at;
    'runs: loop {
        // The run's first octet: never a line-leading dot (the stage was settled, or a dot was
        // just removed before it).
        check.check_octet(run_after_cr, input[run_start]);
        let mut from = run_start + 1;
        loop {
            let event = scan::find_event(input, from, check.checks(), kernel);
            if event == input.len() {
                break 'runs;
            }
            let (previous, byte) = (input[event - 1], input[event]);
            let line_starts = previous == b'\n'
                && byte == b'.'
                && if event - 1 > run_start {
                    input[event - 2] == b'\r'
                } else {
                    run_after_cr
                };
            if !line_starts {
                check.check_octet(previous == b'\r', byte);
                from = event + 1;
                continue;
            }
            // A line starts with '.': hand on the run through the line feed, drop the dot.
            check.deliver(&input[run_start..event], sink);
            match (input.get(event + 1), input.get(event + 2)) {
                (Some(b'\r'), Some(b'\n')) => {
                    *stage = Stage::Finished;
                    return Received {
                        consumed: event + 3,
                        finished: true,
                    };
                }
                (Some(b'\r'), None) => {
                    *stage = Stage::DotCr;
                    return unfinished;
                }
                (None, _) => {
                    *stage = Stage::Dot;
                    return unfinished;
                }
                _ => {
                    run_start = event + 1;
                    run_after_cr = false;
                    continue 'runs;
                }
            }
        }
    }
    check.deliver(&input[run_start..], sink);
    let last = input[input.len() - 1];
    let last_after_cr = if input.len() - 1 > run_start {
        input[input.len() - 2] == b'\r'
    } else {
        run_after_cr
    };
    *stage = if last == b'\n' && last_after_cr {
        Stage::LineStart
    } else {
        Stage::Mid {
            last_was_cr: last == b'\r',
        }
    };
    unfinished
}

/// Receives the BDAT chunks of one message (RFC 3030): each chunk is exactly its announced
/// size, with no stuffing and no end marker.
#[derive(Debug, Clone)]
pub struct BdatReceiver {
    check: ContentCheck,
    remaining: u64,
    /// The vector scan for the content checks, or `None` for the per-slice checks.
    kernel: Option<Kernel>,
}

impl BdatReceiver {
    /// A receiver for a message's chunks.
    pub fn new(rules: ContentRules) -> Self {
        let kernel = Some(Kernel::detect()).filter(|kernel| *kernel != Kernel::Scalar);
        BdatReceiver {
            check: ContentCheck::new(rules),
            remaining: 0,
            kernel,
        }
    }

    #[cfg(test)]
    fn with_kernel(rules: ContentRules, kernel: Option<Kernel>) -> Self {
        BdatReceiver {
            check: ContentCheck::new(rules),
            remaining: 0,
            kernel,
        }
    }

    /// A receiver that does not use the vector scan (see [`DataReceiver::portable`]).
    pub fn portable(rules: ContentRules) -> Self {
        BdatReceiver {
            check: ContentCheck::new(rules),
            remaining: 0,
            kernel: None,
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
        let acceptable = match self.kernel {
            _ if part.is_empty() => false,
            Some(kernel) => self.check.pass_scanned(part, kernel),
            None => self.check.pass(part),
        };
        if acceptable {
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

    /// What a receiver made of a whole input: the body handed on, where the body ended, and
    /// the verdict.
    type Outcome = (Vec<u8>, Option<usize>, Result<u64, ContentProblem>);

    /// The DATA rules one byte at a time: a `.` starts a line at the start of the body or after
    /// `CR LF`; `. CR LF` there ends the body, any other such `.` is dropped. Then the size,
    /// and otherwise the first octet (in body order) that breaks a rule.
    fn reference(input: &[u8], rules: ContentRules) -> Outcome {
        let mut body = Vec::new();
        let mut end = None;
        let mut at = 0;
        while at < input.len() {
            let line_start = at == 0 || (at >= 2 && &input[at - 2..at] == b"\r\n");
            if line_start && input[at] == b'.' {
                if input[at + 1..].starts_with(b"\r\n") {
                    end = Some(at + 3);
                    break;
                }
                at += 1;
                if at == input.len() {
                    break;
                }
                // A '.' CR at the very end is held back until its LF is known to be absent.
                if input[at] == b'\r' && at + 1 == input.len() {
                    break;
                }
                continue;
            }
            body.push(input[at]);
            at += 1;
        }
        let binary = rules.body == BodyType::BinaryMime;
        let eight_bit_allowed =
            rules.body != BodyType::SevenBit || rules.accept_undeclared_eight_bit;
        let verdict = if body.len() as u64 > rules.max_size {
            Err(ContentProblem::TooLarge {
                received: body.len() as u64,
                limit: rules.max_size,
            })
        } else {
            let problem = body.iter().enumerate().find_map(|(i, &byte)| {
                let bare_cr = byte == b'\r' && body.get(i + 1) != Some(&b'\n');
                let bare_lf = byte == b'\n' && (i == 0 || body[i - 1] != b'\r');
                if binary {
                    None
                } else if rules.reject_bare_line_ends && (bare_cr || bare_lf) {
                    Some(ContentProblem::BareLineEnd)
                } else if byte == 0 {
                    Some(ContentProblem::Nul)
                } else if byte >= 0x80 && !eight_bit_allowed {
                    Some(ContentProblem::UndeclaredEightBit)
                } else {
                    None
                }
            });
            problem.map_or(Ok(body.len() as u64), Err)
        };
        (body, end, verdict)
    }

    fn engines() -> Vec<Option<Kernel>> {
        let mut engines = vec![None, Some(Kernel::Scalar)];
        #[cfg(target_arch = "x86_64")]
        {
            engines.push(Some(Kernel::Sse2));
            if std::is_x86_feature_detected!("avx2") {
                engines.push(Some(Kernel::Avx2));
            }
        }
        engines
    }

    fn receive_split(
        input: &[u8],
        cuts: &[usize],
        rules: ContentRules,
        engine: Option<Kernel>,
    ) -> Outcome {
        let mut cuts: Vec<usize> = cuts.iter().map(|&cut| cut.min(input.len())).collect();
        cuts.sort();
        cuts.push(input.len());
        let mut receiver = DataReceiver::with_engine(rules, engine);
        let mut body = Vec::new();
        let mut at = 0;
        let mut end = None;
        for cut in cuts {
            let received =
                receiver.receive(&input[at..cut.max(at)], |part| body.extend_from_slice(part));
            at += received.consumed;
            if received.finished {
                end = Some(at);
                break;
            }
            assert_eq!(at, cut.max(at), "all input is used until the end");
        }
        (body, end, receiver.finish())
    }

    fn all_rules(max_size: u64) -> Vec<ContentRules> {
        let mut all = Vec::new();
        for body in [
            BodyType::SevenBit,
            BodyType::EightBitMime,
            BodyType::BinaryMime,
        ] {
            for reject_bare_line_ends in [false, true] {
                for accept_undeclared_eight_bit in [false, true] {
                    all.push(ContentRules {
                        max_size,
                        body,
                        reject_bare_line_ends,
                        accept_undeclared_eight_bit,
                    });
                }
            }
        }
        all
    }

    proptest::proptest! {
        #[test]
        fn every_engine_matches_the_byte_at_a_time_reference_at_any_split(
            mut input in proptest::collection::vec(proptest::prop_oneof![
                8 => proptest::strategy::Just(b'a'), 4 => proptest::strategy::Just(b'\r'),
                4 => proptest::strategy::Just(b'\n'), 3 => proptest::strategy::Just(b'.'),
                1 => proptest::strategy::Just(0u8), 1 => proptest::strategy::Just(0xC3u8),
                1 => proptest::prelude::any::<u8>()
            ], 0..400),
            // Clean CR LF lines spliced in, so the vector blocks have long event-free stretches.
            clean_at in proptest::option::of(0usize..400),
            cuts in proptest::collection::vec(0usize..500, 0..8),
            max_size in proptest::prop_oneof![0u64..400, proptest::strategy::Just(u64::MAX)],
            terminate: bool,
        ) {
            if let Some(clean_at) = clean_at {
                let clean = b"Some text of a line.\r\n..dotted\r\n".repeat(5);
                let clean_at = clean_at.min(input.len());
                input.splice(clean_at..clean_at, clean);
            }
            if terminate {
                input.extend_from_slice(b"\r\n.\r\n");
            }
            for rules in all_rules(max_size) {
                let expected = reference(&input, rules);
                for engine in engines() {
                    for cuts in [&cuts[..], &[]] {
                        let got = receive_split(&input, cuts, rules, engine);
                        proptest::prop_assert_eq!(got.1, expected.1, "end, {:?} {:?}", rules, engine);
                        if got.1.is_some() {
                            proptest::prop_assert_eq!(got.2, expected.2, "verdict, {:?} {:?}", rules, engine);
                        }
                        if got.1.is_some() && expected.2.is_ok() {
                            proptest::prop_assert_eq!(&got.0, &expected.0, "body, {:?} {:?}", rules, engine);
                        } else {
                            proptest::prop_assert!(expected.0.starts_with(&got.0), "a prefix is handed on");
                            proptest::prop_assert!(got.0.len() as u64 <= rules.max_size);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_first_problem_in_the_body_is_the_verdict_whatever_the_split() {
        // A NUL, then a bare CR in the same slice: the NUL comes first.
        let input = b"a\x00b\rc\r\n.\r\n";
        for engine in engines() {
            for split in 0..input.len() {
                let got = receive_split(input, &[split], rules(), engine);
                assert_eq!(got.2, Err(ContentProblem::Nul), "{engine:?} split {split}");
            }
        }
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

    fn bdat_receive(
        input: &[u8],
        chunks: &[usize],
        mut receiver: BdatReceiver,
    ) -> (Vec<u8>, Result<u64, ContentProblem>) {
        let mut body = Vec::new();
        let mut rest = input;
        let mut chunk_sizes = chunks.iter().copied().chain(std::iter::once(usize::MAX));
        while !rest.is_empty() {
            let size = chunk_sizes.next().unwrap_or(usize::MAX).min(rest.len());
            receiver.start_chunk(size as u64);
            // Each chunk arrives in two reads, so problems straddle reads as well as chunks.
            let (first, second) = rest[..size].split_at(size / 2);
            for piece in [first, second] {
                let received = receiver.receive(piece, |part| body.extend_from_slice(part));
                assert_eq!(received.consumed, piece.len());
            }
            rest = &rest[size..];
        }
        (body, receiver.finish())
    }

    proptest::proptest! {
        #[test]
        fn bdat_with_the_vector_scan_matches_the_portable_checks(
            input in proptest::collection::vec(proptest::prop_oneof![
                8 => proptest::strategy::Just(b'a'), 4 => proptest::strategy::Just(b'\r'),
                4 => proptest::strategy::Just(b'\n'), 3 => proptest::strategy::Just(b'.'),
                1 => proptest::strategy::Just(0u8), 1 => proptest::strategy::Just(0xC3u8),
                1 => proptest::prelude::any::<u8>()
            ], 0..400),
            chunks in proptest::collection::vec(1usize..120, 0..6),
            max_size in proptest::prop_oneof![0u64..400, proptest::strategy::Just(u64::MAX)],
        ) {
            for rules in all_rules(max_size) {
                let expected = bdat_receive(&input, &chunks, BdatReceiver::portable(rules));
                for kernel in engines().into_iter().flatten() {
                    let got = bdat_receive(
                        &input, &chunks, BdatReceiver::with_kernel(rules, Some(kernel)),
                    );
                    proptest::prop_assert_eq!(&got.1, &expected.1, "verdict, {:?} {:?}", rules, kernel);
                    if expected.1.is_ok() {
                        proptest::prop_assert_eq!(&got.0, &expected.0, "body, {:?} {:?}", rules, kernel);
                    }
                }
            }
        }
    }
}
