//! POP3 command lines from arbitrary bytes: no panic; an accepted command encodes to a line
//! that parses back to the same command.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pop3_proto::{encode, parse};

fuzz_target!(|line: &[u8]| {
    if let Ok(command) = parse::command(line) {
        let mut out = Vec::new();
        encode::command(&command, &mut out);
        assert!(out.ends_with(b"\r\n"));
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
        let reparsed = parse::command(&out[..out.len() - 2]);
        // PASS keeps trailing spaces; every other command ignores them.
        assert_eq!(reparsed.as_ref().ok(), Some(&command), "{command:?}");
    }
});
