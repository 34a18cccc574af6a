//! Reading lines under a length limit.
//!
//! [`LineReader`] finds the next line in a caller-owned buffer. A line longer than the limit is
//! discarded up to and including its line feed, however many reads that takes, and reported once
//! as [`LineStatus::TooLong`]: its tail is never handed back as if it were a new command. Bytes
//! already scanned are not scanned again when more input arrives, so the cost stays linear in the
//! input however it is split.

use memchr::memchr;

/// How a line ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terminator {
    /// `CR LF`, as every mail protocol requires.
    CrLf,
    /// A bare `LF`. Protocols decide whether to accept it (RFC 5321 section 2.3.8 forbids it).
    Lf,
}

/// One complete line, borrowed from the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// The line without its terminator.
    pub content: &'a [u8],
    /// How it ended.
    pub terminator: Terminator,
}

/// What [`LineReader::next_line`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineStatus<'a> {
    /// A complete line within the limit.
    Line(Line<'a>),
    /// A line over the limit ended here; all of it has been consumed and dropped.
    TooLong,
    /// No complete line yet: give the reader more input (the unconsumed bytes first).
    Incomplete,
}

/// The first `LF` in `input`. Command lines are short, shorter than what `memchr` needs to
/// pay for its set-up: the first 64 octets are looked at eight at a time in a register, then
/// `memchr` takes over.
#[inline]
fn find_line_feed(input: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut at = 0;
    while let Some(word) = input.get(at..at + 8) {
        if at == 64 {
            return memchr(b'\n', &input[at..]).map(|found| at + found);
        }
        let word = u64::from_le_bytes(word.try_into().expect("eight octets")) ^ (ONES * 0x0a);
        // The lowest octet that is zero (an LF before the XOR) sets the lowest flag; a borrow
        // can flag only octets above it.
        let zeros = word.wrapping_sub(ONES) & !word & HIGHS;
        if zeros != 0 {
            return Some(at + (zeros.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    input[at..]
        .iter()
        .position(|&byte| byte == b'\n')
        .map(|found| at + found)
}

/// Finds lines in a buffer, enforcing a maximum length (terminator included).
#[derive(Debug, Clone)]
pub struct LineReader {
    max_line_length: usize,
    scanned: usize,
    discarding: bool,
}

impl LineReader {
    /// A reader that accepts lines of at most `max_line_length` octets, terminator included.
    pub fn new(max_line_length: usize) -> Self {
        LineReader {
            max_line_length: max_line_length.max(2),
            scanned: 0,
            discarding: false,
        }
    }

    /// The limit in force.
    pub fn max_line_length(&self) -> usize {
        self.max_line_length
    }

    /// Changes the limit from the next line on (for example while a SASL exchange allows longer
    /// lines than commands).
    pub fn set_max_line_length(&mut self, max_line_length: usize) {
        self.max_line_length = max_line_length.max(2);
    }

    /// Whether the reader is inside an over-long line, dropping bytes until its end.
    pub fn is_discarding(&self) -> bool {
        self.discarding
    }

    /// Looks for the next line at the start of `input`, the caller's unconsumed bytes.
    #[inline]
    ///
    /// Returns how many bytes of `input` are consumed (the caller drops them before the next
    /// call) and what was found. After [`LineStatus::Incomplete`] call again with the same
    /// unconsumed bytes followed by new ones.
    pub fn next_line<'a>(&mut self, input: &'a [u8]) -> (usize, LineStatus<'a>) {
        if self.discarding {
            return match memchr(b'\n', input) {
                Some(end) => {
                    self.discarding = false;
                    self.scanned = 0;
                    (end + 1, LineStatus::TooLong)
                }
                None => (input.len(), LineStatus::Incomplete),
            };
        }
        let start = self.scanned.min(input.len());
        match find_line_feed(&input[start..]) {
            Some(found) => {
                let end = start + found;
                self.scanned = 0;
                if end + 1 > self.max_line_length {
                    return (end + 1, LineStatus::TooLong);
                }
                let (content, terminator) = match input[..end].strip_suffix(b"\r") {
                    Some(content) => (content, Terminator::CrLf),
                    None => (&input[..end], Terminator::Lf),
                };
                (
                    end + 1,
                    LineStatus::Line(Line {
                        content,
                        terminator,
                    }),
                )
            }
            None if input.len() >= self.max_line_length => {
                self.discarding = true;
                self.scanned = 0;
                (input.len(), LineStatus::Incomplete)
            }
            None => {
                self.scanned = input.len();
                (0, LineStatus::Incomplete)
            }
        }
    }

    /// Forgets any partial line, for example when the transport changes at STARTTLS.
    pub fn reset(&mut self) {
        self.scanned = 0;
        self.discarding = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn line_feed_found_where_memchr_finds_it() {
        for length in 0..150 {
            for position in 0..=length {
                let mut input = vec![b'\r'; length];
                for (index, byte) in input.iter_mut().enumerate() {
                    *byte = [b'a', b'\r', 0x8a, 0x0b, 0x09][index % 5];
                }
                if position < length {
                    input[position] = b'\n';
                    if position + 3 < length {
                        input[position + 3] = b'\n';
                    }
                }
                assert_eq!(
                    find_line_feed(&input),
                    memchr(b'\n', &input),
                    "{length} {position}"
                );
            }
        }
    }

    /// What a stream of chunks yields, line by line.
    fn lines_of(chunks: &[&[u8]], max: usize) -> Vec<Result<(Vec<u8>, Terminator), ()>> {
        let mut reader = LineReader::new(max);
        let mut buffer = Vec::new();
        let mut found = Vec::new();
        for chunk in chunks {
            buffer.extend_from_slice(chunk);
            loop {
                let (used, status) = reader.next_line(&buffer);
                let item = match status {
                    LineStatus::Line(line) => Some(Ok((line.content.to_vec(), line.terminator))),
                    LineStatus::TooLong => Some(Err(())),
                    LineStatus::Incomplete => None,
                };
                buffer.drain(..used);
                match item {
                    Some(item) => found.push(item),
                    None => break,
                }
            }
            assert!(
                buffer.len() <= max,
                "reader let the buffer grow past the limit"
            );
        }
        found
    }

    #[test]
    fn lines_are_split_on_line_feed_and_report_their_terminator() {
        assert_eq!(
            lines_of(&[b"USER a\r\nPASS b\nQU"], 20),
            vec![
                Ok((b"USER a".to_vec(), Terminator::CrLf)),
                Ok((b"PASS b".to_vec(), Terminator::Lf)),
            ]
        );
    }

    #[test]
    fn an_over_long_line_is_discarded_to_its_end_and_reported_once() {
        let long = vec![b'x'; 100];
        let found = lines_of(&[b"NOOP\r\n", &long, &long, b"STAT DELE 1\r\nQUIT\r\n"], 16);
        assert_eq!(
            found,
            vec![
                Ok((b"NOOP".to_vec(), Terminator::CrLf)),
                Err(()),
                Ok((b"QUIT".to_vec(), Terminator::CrLf)),
            ],
            "the tail of the long line must not come back as a command"
        );
    }

    #[test]
    fn the_limit_counts_the_terminator() {
        assert_eq!(lines_of(&[b"abcd\r\n"], 6).len(), 1);
        assert_eq!(lines_of(&[b"abcde\r\n"], 6), vec![Err(())]);
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_lines(
            data in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'a'), any::<u8>()], 0..400),
            cuts in proptest::collection::vec(0usize..400, 0..8),
            max in 2usize..40,
        ) {
            let whole = lines_of(&[&data], max);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort();
            let mut chunks = Vec::new();
            let mut at = 0;
            for cut in cuts { chunks.push(&data[at..cut]); at = cut; }
            chunks.push(&data[at..]);
            prop_assert_eq!(lines_of(&chunks, max), whole.clone());
            let bytes: Vec<&[u8]> = data.chunks(1).collect();
            prop_assert_eq!(lines_of(&bytes, max), whole);
        }
    }
}
