//! Dot-stuffing and dot-unstuffing as streaming transforms (RFC 1939 section 3, RFC 5321
//! section 4.5.2).
//!
//! A multi-line body (POP3 RETR/TOP, SMTP DATA) is sent with a `.` doubled at the start of every
//! line that begins with one, and ends with a line holding a lone `.`. Both transforms here take
//! their input in chunks split at any byte and give the same output as if it came whole; neither
//! holds a whole message.
//!
//! - [`DotStuffer`] also turns bare `LF` line ends into `CR LF`, as stored messages (Maildir
//!   files written by other programs) often use `LF` alone.
//! - [`DotUnstuffer`] hands the body on as slices borrowed from the input (no copy) and stops at
//!   the end marker. With [`EndMarker::CrLfOnly`] only `CR LF . CR LF` ends the body, so a bare
//!   `LF . LF` can never smuggle a second message past a filter (SMTP smuggling).

use memchr::memchr_iter;
use memchr::memmem;

/// Dot-stuffs a body and normalises its line ends to `CR LF`.
///
/// ```
/// use mail_session::dot::DotStuffer;
/// let mut stuffer = DotStuffer::new();
/// let mut out = Vec::new();
/// stuffer.encode(b".hidden\nline", &mut out);
/// stuffer.finish(&mut out);
/// assert_eq!(out, b"..hidden\r\nline\r\n.\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct DotStuffer {
    at_line_start: bool,
    last_was_cr: bool,
    crlf_input: bool,
    stuff_dots: bool,
}

impl Default for DotStuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl DotStuffer {
    /// A stuffer at the start of a body.
    pub fn new() -> Self {
        DotStuffer {
            at_line_start: true,
            last_was_cr: false,
            crlf_input: false,
            stuff_dots: true,
        }
    }

    /// Only the line-end half: bare `LF` becomes `CR LF`, dots stay as they are, and
    /// [`DotStuffer::finish`] ends an unterminated last line without adding the `.` line. For
    /// bodies sent with a length instead of an end marker (SMTP BDAT, RFC 3030).
    ///
    /// ```
    /// use mail_session::dot::DotStuffer;
    /// let mut normalizer = DotStuffer::line_ends_only();
    /// let mut out = Vec::new();
    /// normalizer.encode(b".a\nb", &mut out);
    /// normalizer.finish(&mut out);
    /// assert_eq!(out, b".a\r\nb\r\n");
    /// ```
    pub fn line_ends_only() -> Self {
        DotStuffer {
            stuff_dots: false,
            ..DotStuffer::new()
        }
    }

    /// A stuffer for a body known to use CR LF line ends throughout (a stored message whose
    /// size equals its wire size). It only looks for line-leading dots, which makes it several
    /// times faster. Should the body hold a bare LF after all, dots are still stuffed after it
    /// (the transfer stays transparent); only that line end goes out as it is.
    pub fn for_crlf_input() -> Self {
        DotStuffer {
            crlf_input: true,
            ..DotStuffer::new()
        }
    }

    /// Appends the stuffed form of `input`, the next chunk of the body, to `out`.
    pub fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        if input.is_empty() {
            return;
        }
        if self.crlf_input {
            self.encode_crlf(input, out);
            return;
        }
        out.reserve(input.len() + 16);
        if self.stuff_dots && self.at_line_start && input[0] == b'.' {
            out.push(b'.');
        }
        // One pass over the line feeds (memchr_iter keeps its SIMD state between hits); bytes
        // are copied only where a fix is due, in runs between fixes.
        let mut copied_to = 0;
        for newline in memchr_iter(b'\n', input) {
            let after_cr = match newline.checked_sub(1) {
                None => self.last_was_cr,
                Some(before) => input[before] == b'\r',
            };
            let dot_follows = self.stuff_dots && input.get(newline + 1) == Some(&b'.');
            if after_cr && !dot_follows {
                continue;
            }
            out.extend_from_slice(&input[copied_to..newline]);
            out.extend_from_slice(if after_cr { b"\n" } else { b"\r\n" });
            copied_to = newline + 1;
            if dot_follows {
                out.push(b'.');
            }
        }
        out.extend_from_slice(&input[copied_to..]);
        let last = input[input.len() - 1];
        self.at_line_start = last == b'\n';
        self.last_was_cr = last == b'\r';
    }

    fn encode_crlf(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() + 16);
        if self.at_line_start && input[0] == b'.' {
            out.push(b'.');
        }
        let mut copied_to = 0;
        for newline in memmem::find_iter(input, b"\n.") {
            out.extend_from_slice(&input[copied_to..=newline]);
            out.push(b'.');
            copied_to = newline + 1;
        }
        out.extend_from_slice(&input[copied_to..]);
        let last = input[input.len() - 1];
        self.at_line_start = last == b'\n';
        self.last_was_cr = last == b'\r';
    }

    /// Ends the body: a line break if the body did not end with one, then the `.` line.
    /// The stuffer is then ready for a new body.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.at_line_start {
            out.extend_from_slice(b"\r\n");
        }
        if self.stuff_dots {
            out.extend_from_slice(b".\r\n");
        }
        *self = DotStuffer {
            crlf_input: self.crlf_input,
            stuff_dots: self.stuff_dots,
            ..DotStuffer::new()
        };
    }
}

/// Which line ends may come before and after the final `.` of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndMarker {
    /// Only `CR LF . CR LF` (RFC 5321 section 4.1.1.4; what an SMTP server must accept and
    /// nothing else). A line starts only after `CR LF`.
    CrLfOnly,
    /// A bare `LF` also ends a line, for peers that send bare `LF` (tolerant POP3 clients).
    AnyLineEnd,
}

/// What [`DotUnstuffer::decode`] did with its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unstuffed {
    /// How many input bytes were used. After the end marker, the rest belongs to what follows
    /// the body (the next pipelined command or response).
    pub consumed: usize,
    /// Whether the end marker was found; the body is complete.
    pub finished: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    LineStart,
    /// A `.` at the start of a line, not yet known to be stuffing or the end marker.
    Dot,
    /// `.` `CR` at the start of a line.
    DotCr,
    Mid {
        last_was_cr: bool,
    },
    Finished,
}

/// Removes dot-stuffing from a body and finds its end, streaming.
///
/// ```
/// use mail_session::dot::{DotUnstuffer, EndMarker};
/// let mut unstuffer = DotUnstuffer::new(EndMarker::CrLfOnly);
/// let mut body = Vec::new();
/// let done = unstuffer.decode(b"..a\r\nb\r\n.\r\nQUIT\r\n", |part| body.extend_from_slice(part));
/// assert!(done.finished);
/// assert_eq!(body, b".a\r\nb\r\n");
/// assert_eq!(done.consumed, 11);
/// ```
#[derive(Debug, Clone)]
pub struct DotUnstuffer {
    end: EndMarker,
    state: State,
    finder: memmem::Finder<'static>,
}

impl DotUnstuffer {
    /// An unstuffer at the start of a body.
    pub fn new(end: EndMarker) -> Self {
        DotUnstuffer {
            end,
            state: State::LineStart,
            finder: memmem::Finder::new(b"\n.").into_owned(),
        }
    }

    /// Whether the end marker has been seen.
    pub fn is_finished(&self) -> bool {
        self.state == State::Finished
    }

    /// Starts over for a new body.
    pub fn reset(&mut self) {
        self.state = State::LineStart;
    }

    /// Feeds the next chunk of a stuffed body. `emit` receives the unstuffed body in order, as
    /// slices of `input` (plus, rarely, a one-byte static slice for a held-back `CR`).
    pub fn decode<'a>(&mut self, input: &'a [u8], mut emit: impl FnMut(&'a [u8])) -> Unstuffed {
        let mut at = 0;
        // Settle a state left open at the end of the previous chunk.
        loop {
            if at == input.len() {
                return Unstuffed {
                    consumed: at,
                    finished: self.state == State::Finished,
                };
            }
            match self.state {
                State::Finished => {
                    return Unstuffed {
                        consumed: at,
                        finished: true,
                    }
                }
                State::LineStart => {
                    if input[at] == b'.' {
                        self.state = State::Dot;
                        at += 1;
                    } else {
                        self.state = State::Mid { last_was_cr: false };
                    }
                }
                State::Dot => match input[at] {
                    b'\r' => {
                        self.state = State::DotCr;
                        at += 1;
                    }
                    b'\n' if self.end == EndMarker::AnyLineEnd => {
                        self.state = State::Finished;
                        at += 1;
                    }
                    _ => self.state = State::Mid { last_was_cr: false },
                },
                State::DotCr => {
                    if input[at] == b'\n' {
                        self.state = State::Finished;
                        at += 1;
                    } else {
                        emit(b"\r");
                        self.state = State::Mid { last_was_cr: true };
                    }
                }
                State::Mid { .. } => break,
            }
        }
        let mut last_was_cr = matches!(self.state, State::Mid { last_was_cr: true });
        let mut span_start = at;
        let mut search_from = at;
        while let Some(found) = self.finder.find(&input[search_from..]) {
            let newline = search_from + found;
            search_from = newline + 1;
            if self.end == EndMarker::CrLfOnly {
                let after_cr = if newline > at {
                    input[newline - 1] == b'\r'
                } else {
                    last_was_cr
                };
                if !after_cr {
                    continue;
                }
            }
            // A line starts with '.': emit through the line feed, drop the dot.
            if newline + 1 > span_start {
                emit(&input[span_start..newline + 1]);
            }
            let after_dot = newline + 2;
            match (input.get(after_dot), input.get(after_dot + 1)) {
                (Some(b'\r'), Some(b'\n')) => {
                    self.state = State::Finished;
                    return Unstuffed {
                        consumed: after_dot + 2,
                        finished: true,
                    };
                }
                (Some(b'\n'), _) if self.end == EndMarker::AnyLineEnd => {
                    self.state = State::Finished;
                    return Unstuffed {
                        consumed: after_dot + 1,
                        finished: true,
                    };
                }
                (Some(b'\r'), None) => {
                    self.state = State::DotCr;
                    return Unstuffed {
                        consumed: input.len(),
                        finished: false,
                    };
                }
                (None, _) => {
                    self.state = State::Dot;
                    return Unstuffed {
                        consumed: input.len(),
                        finished: false,
                    };
                }
                _ => {
                    span_start = after_dot;
                    search_from = after_dot;
                    last_was_cr = false;
                    at = after_dot;
                }
            }
        }
        if span_start < input.len() {
            emit(&input[span_start..]);
        }
        // Whether the final byte of the input (if a line feed) follows a carriage return.
        let tail_cr = if input.len() - 1 > at {
            input[input.len() - 2] == b'\r'
        } else {
            last_was_cr
        };
        let last = input[input.len() - 1];
        self.state = if last == b'\n' && (self.end == EndMarker::AnyLineEnd || tail_cr) {
            State::LineStart
        } else {
            State::Mid {
                last_was_cr: last == b'\r',
            }
        };
        Unstuffed {
            consumed: input.len(),
            finished: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stuff(chunks: &[&[u8]]) -> Vec<u8> {
        let mut stuffer = DotStuffer::new();
        let mut out = Vec::new();
        for chunk in chunks {
            stuffer.encode(chunk, &mut out);
        }
        stuffer.finish(&mut out);
        out
    }

    fn unstuff(chunks: &[&[u8]], end: EndMarker) -> (Vec<u8>, bool, usize) {
        let mut unstuffer = DotUnstuffer::new(end);
        let mut body = Vec::new();
        let mut used = 0;
        for chunk in chunks {
            let done = unstuffer.decode(chunk, |part| body.extend_from_slice(part));
            used += done.consumed;
            if done.finished {
                return (body, true, used);
            }
            assert_eq!(done.consumed, chunk.len());
        }
        (body, false, used)
    }

    /// The body with bare LF made CR LF and a final line break added, as the receiver sees it.
    fn normalised(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, &byte) in body.iter().enumerate() {
            if byte == b'\n' && (i == 0 || body[i - 1] != b'\r') {
                out.push(b'\r');
            }
            out.push(byte);
        }
        if !out.is_empty() && !out.ends_with(b"\n") {
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    fn split_at_cuts<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
        let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(data.len())).collect();
        cuts.sort();
        let mut chunks = Vec::new();
        let mut at = 0;
        for cut in cuts {
            chunks.push(&data[at..cut]);
            at = cut;
        }
        chunks.push(&data[at..]);
        chunks
    }

    #[test]
    fn dots_at_line_starts_are_doubled_and_bare_lf_becomes_crlf() {
        assert_eq!(
            stuff(&[b".a\n.b\r\n..c\nd"]),
            b"..a\r\n..b\r\n...c\r\nd\r\n.\r\n"
        );
        assert_eq!(stuff(&[b""]), b".\r\n");
        assert_eq!(stuff(&[b"a\r", b"\n", b".b\n"]), b"a\r\n..b\r\n.\r\n");
    }

    #[test]
    fn a_body_that_is_only_a_dot_line_is_stuffed() {
        assert_eq!(stuff(&[b".\r\n"]), b"..\r\n.\r\n");
        assert_eq!(unstuff(&[b"..\r\n.\r\n"], EndMarker::CrLfOnly).0, b".\r\n");
    }

    #[test]
    fn only_crlf_dot_crlf_ends_the_body_in_strict_mode() {
        let smuggled = b"a\n.\nMAIL FROM:<x>\r\n.\r\n";
        let (body, finished, used) = unstuff(&[smuggled], EndMarker::CrLfOnly);
        assert!(finished);
        assert_eq!(used, smuggled.len());
        assert_eq!(body, b"a\n.\nMAIL FROM:<x>\r\n");
        let (body, finished, _) = unstuff(&[smuggled], EndMarker::AnyLineEnd);
        assert!(finished);
        assert_eq!(body, b"a\n");
    }

    #[test]
    fn bytes_after_the_end_marker_are_left_for_the_next_command() {
        let input = b"x\r\n.\r\nQUIT\r\n";
        let (body, finished, used) = unstuff(&[input], EndMarker::CrLfOnly);
        assert!(finished);
        assert_eq!(body, b"x\r\n");
        assert_eq!(&input[used..], b"QUIT\r\n");
    }

    #[test]
    fn a_dot_cr_without_lf_is_body_data() {
        let (body, finished, _) = unstuff(&[b".\rx\r\n.\r\n"], EndMarker::CrLfOnly);
        assert!(finished);
        assert_eq!(body, b"\rx\r\n");
    }

    proptest! {
        #[test]
        fn unstuffing_undoes_stuffing_at_any_split(
            body in proptest::collection::vec(prop_oneof![Just(b'.'), Just(b'\r'), Just(b'\n'), Just(b'a'), any::<u8>()], 0..300),
            cuts in proptest::collection::vec(0usize..400, 0..6),
        ) {
            let stuffed = stuff(&[&body]);
            prop_assert_eq!(stuff(&split_at_cuts(&body, &cuts)), stuffed.clone());
            let expected = normalised(&body);
            for end in [EndMarker::CrLfOnly, EndMarker::AnyLineEnd] {
                let (whole, finished, used) = unstuff(&[&stuffed], end);
                prop_assert!(finished);
                prop_assert_eq!(used, stuffed.len());
                prop_assert_eq!(&whole, &expected);
                let (split, finished, _) = unstuff(&split_at_cuts(&stuffed, &cuts), end);
                prop_assert!(finished);
                prop_assert_eq!(&split, &expected);
                let bytes: Vec<&[u8]> = stuffed.chunks(1).collect();
                prop_assert_eq!(&unstuff(&bytes, end).0, &expected);
            }
        }

        #[test]
        fn the_crlf_stuffer_matches_the_general_one_on_crlf_input(
            lines in proptest::collection::vec("[.a-z]{0,5}", 0..60),
            cuts in proptest::collection::vec(0usize..400, 0..6),
        ) {
            let body: Vec<u8> = lines.iter().flat_map(|line| format!("{line}\r\n").into_bytes()).collect();
            let general = stuff(&[&body]);
            let mut fast = DotStuffer::for_crlf_input();
            let mut out = Vec::new();
            for chunk in split_at_cuts(&body, &cuts) {
                fast.encode(chunk, &mut out);
            }
            fast.finish(&mut out);
            prop_assert_eq!(out, general);
        }

        #[test]
        fn the_crlf_stuffer_keeps_dot_transparency_even_after_bare_lf(
            data in proptest::collection::vec(prop_oneof![Just(b'.'), Just(b'\r'), Just(b'\n'), Just(b'a')], 0..300),
        ) {
            let mut fast = DotStuffer::for_crlf_input();
            let mut out = Vec::new();
            fast.encode(&data, &mut out);
            fast.finish(&mut out);
            let (body, finished, used) = unstuff(&[&out], EndMarker::AnyLineEnd);
            prop_assert!(finished);
            prop_assert_eq!(used, out.len(), "nothing in the body ends it early");
            let mut expected = data.clone();
            if !expected.is_empty() && !expected.ends_with(b"\n") {
                expected.extend_from_slice(b"\r\n");
            }
            prop_assert_eq!(body, expected);
        }

        #[test]
        fn unstuffing_arbitrary_input_is_split_independent(
            data in proptest::collection::vec(prop_oneof![Just(b'.'), Just(b'\r'), Just(b'\n'), Just(b'a')], 0..300),
            cuts in proptest::collection::vec(0usize..400, 0..6),
        ) {
            for end in [EndMarker::CrLfOnly, EndMarker::AnyLineEnd] {
                let whole = unstuff(&[&data], end);
                prop_assert_eq!(&unstuff(&split_at_cuts(&data, &cuts), end), &whole);
                let bytes: Vec<&[u8]> = data.chunks(1).collect();
                prop_assert_eq!(&unstuff(&bytes, end), &whole);
            }
        }
    }
}
