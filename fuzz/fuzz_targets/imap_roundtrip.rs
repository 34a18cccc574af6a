//! Values from arbitrary bytes: whatever parses as a command or response encodes (under
//! every literal policy) to bytes that parse back to the same value, and encoding is stable.
#![no_main]

use imap4_proto::encode::{self, LiteralPolicy};
use imap4_proto::parse::{self, ResponseOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(command) = parse::command(data) {
        for policy in [
            LiteralPolicy::Sync,
            LiteralPolicy::NonSync,
            LiteralPolicy::NonSyncUpTo4096,
        ] {
            let bytes = encode::command(&command, policy)
                .to_bytes()
                .expect("no streamed literal");
            let line = bytes.strip_suffix(b"\r\n").expect("CRLF");
            let again = parse::command(line);
            assert_eq!(
                again.as_ref(),
                Ok(&command),
                "{:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
    for options in [ResponseOptions::strict(), ResponseOptions::tolerant()] {
        if let Ok(response) = parse::response(data, &options) {
            let bytes = encode::response(&response)
                .to_bytes()
                .expect("no streamed literal");
            let line = bytes.strip_suffix(b"\r\n").expect("CRLF");
            let again = parse::response(line, &ResponseOptions::strict());
            assert_eq!(
                again.as_ref(),
                Ok(&response),
                "{:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
});
