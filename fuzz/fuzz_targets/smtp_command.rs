//! SMTP command lines from arbitrary bytes: no panic, and a command that parses encodes to a
//! single line that parses to the same command.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_submit::{encode, parse};

fuzz_target!(|line: &[u8]| {
    if let Ok(command) = parse::command(line) {
        let mut out = Vec::new();
        encode::command(&command, &mut out);
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
        let again = parse::command(&out[..out.len() - 2]).expect("our own line parses");
        assert_eq!(again, command);
    } else if let Err(error) = parse::command(line) {
        let reply = error.reply();
        assert!(reply.code.is_permanent());
    }
});
