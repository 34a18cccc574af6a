//! `LineReader`: the buffer never grows past the limit, and how the input is split does not
//! change the lines found. Input: limit byte, chunk-size byte, then the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mail_session::line::{LineReader, LineStatus, Terminator};

type Found = Vec<Result<(Vec<u8>, Terminator), ()>>;

fn lines_of<'a>(chunks: impl Iterator<Item = &'a [u8]>, max: usize) -> Found {
    let mut reader = LineReader::new(max);
    let (mut buffer, mut found) = (Vec::new(), Vec::new());
    for chunk in chunks {
        buffer.extend_from_slice(chunk);
        loop {
            let (used, status) = reader.next_line(&buffer);
            let item = match status {
                LineStatus::Line(line) => Ok((line.content.to_vec(), line.terminator)),
                LineStatus::TooLong => Err(()),
                LineStatus::Incomplete => {
                    buffer.drain(..used);
                    break;
                }
            };
            buffer.drain(..used);
            found.push(item);
        }
        assert!(
            buffer.len() <= max,
            "buffer {} over limit {max}",
            buffer.len()
        );
    }
    found
}

fuzz_target!(|data: &[u8]| {
    let [limit, chunk, stream @ ..] = data else {
        return;
    };
    let max = 2 + usize::from(*limit % 64);
    let whole = lines_of(std::iter::once(stream), max);
    let split = lines_of(stream.chunks(1 + usize::from(*chunk % 32)), max);
    assert_eq!(split, whole);
});
