//! POP3 response lines from arbitrary bytes: status lines, capabilities and listings never
//! panic, and an accepted status line encodes to one that parses the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pop3_proto::{encode, parse};

fuzz_target!(|line: &[u8]| {
    let _ = parse::capability(line);
    let _ = parse::scan_listing(line);
    let _ = parse::unique_id_listing(line);
    let _ = parse::drop_listing(line);
    if let Ok(status) = parse::status_line(line) {
        let mut out = Vec::new();
        encode::status_line(&status, &mut out);
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
        let again = parse::status_line(&out[..out.len() - 2]).expect("our own line parses");
        assert_eq!(again.ok, status.ok);
        assert_eq!(again.code, status.code);
    }
});
