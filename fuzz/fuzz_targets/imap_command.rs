//! IMAP commands from arbitrary bytes, through the server-side framer and the command parser:
//! no panic, no unbounded buffering.
#![no_main]

use imap4_proto::framing::{Frame, Framer, FramerOptions, Role};
use imap4_proto::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse::command(data);
    let options = FramerOptions::default()
        .with_max_line_length(256)
        .with_max_literal_size(4096)
        .with_max_inline_literal(64)
        .with_max_message_length(1024);
    let mut framer = Framer::new(Role::Server, options);
    let mut input = data;
    loop {
        let (used, frame) = framer.next(input);
        input = &input[used..];
        match frame {
            Frame::Incomplete => break,
            Frame::Message => {
                assert!(framer.message().len() <= options.max_message_length + 32);
                let _ = parse::command(framer.message());
            }
            _ => {}
        }
    }
});
