//! The IMAP framer: however the input is split, the events are the same (literal chunks
//! merged), and the buffered message never outgrows its limit. Input: role byte, chunk-size
//! byte, limit byte, then the stream.
#![no_main]

use imap4_proto::framing::{Frame, Framer, FramerOptions, Role};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, PartialEq)]
enum Event {
    Announced(u64, bool),
    Data(Vec<u8>),
    Message(Vec<u8>),
    Error(String),
}

fn events<'a>(
    role: Role,
    options: FramerOptions,
    chunks: impl Iterator<Item = &'a [u8]>,
) -> Vec<Event> {
    let mut framer = Framer::new(role, options);
    let mut buffer = Vec::new();
    let mut out: Vec<Event> = Vec::new();
    for chunk in chunks {
        buffer.extend_from_slice(chunk);
        loop {
            let (used, frame) = framer.next(&buffer);
            let event = match frame {
                Frame::Incomplete => None,
                Frame::LiteralAnnounced(a) => Some(Event::Announced(a.size, a.streamed)),
                Frame::LiteralData(d) => Some(Event::Data(d.to_vec())),
                Frame::Message => Some(Event::Message(framer.message().to_vec())),
                Frame::Error(e) => Some(Event::Error(e.to_string())),
            };
            assert!(framer.message().len() <= options.max_message_length + 32);
            buffer.drain(..used);
            match event {
                None => break,
                Some(Event::Data(d)) => match out.last_mut() {
                    Some(Event::Data(previous)) => previous.extend_from_slice(&d),
                    _ => out.push(Event::Data(d)),
                },
                Some(e) => out.push(e),
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [role, chunk, limit, stream @ ..] = data else {
        return;
    };
    let role = if role % 2 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let options = FramerOptions::default()
        .with_max_line_length(8 + usize::from(*limit % 64))
        .with_max_literal_size(1 + u64::from(*limit) * 4)
        .with_max_inline_literal(u64::from(*limit % 32))
        .with_max_message_length(64 + usize::from(*limit));
    let whole = events(role, options, std::iter::once(stream));
    let split = events(role, options, stream.chunks(1 + usize::from(*chunk % 16)));
    assert_eq!(split, whole);
});
