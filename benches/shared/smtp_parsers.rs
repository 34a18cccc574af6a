//! The two SMTP command parsers on the same stream, shared by the criterion bench
//! (`benches/smtp.rs`) and the example timed from outside (`examples/smtp_parse_min.rs`).

use std::hint::black_box;

use mail_session::line::{LineReader, LineStatus};
use smtp_submit::parse;

/// Ours: the session's line framing ([`LineReader`]) and [`parse::command`], every value
/// typed and checked.
pub fn ours(stream: &[u8], count: u64) -> usize {
    let mut reader = LineReader::new(1000);
    let mut input = stream;
    let mut parsed = 0usize;
    loop {
        let (used, status) = reader.next_line(input);
        match status {
            LineStatus::Line(line) => {
                let command = parse::command(line.content);
                parsed += usize::from(black_box(&command).is_ok());
            }
            LineStatus::TooLong => {}
            LineStatus::Incomplete => break,
        }
        input = &input[used..];
    }
    assert_eq!(parsed as u64, count);
    parsed
}

/// The peer: `smtp-proto` finds each line end itself and borrows its values from the input.
pub fn smtp_proto(stream: &[u8], count: u64) -> usize {
    let mut bytes = stream.iter();
    let mut parsed = 0usize;
    while bytes.len() > 0 {
        let request = smtp_proto::Request::parse(&mut bytes);
        match black_box(&request) {
            Ok(_) => parsed += 1,
            Err(_) => break,
        }
    }
    assert_eq!(parsed as u64, count);
    parsed
}
