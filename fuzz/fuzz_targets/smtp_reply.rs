//! SMTP reply lines from arbitrary bytes, assembled into replies: no panic, bounded line
//! count, and an assembled reply encodes to lines that assemble to the same reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_submit::encode;
use smtp_submit::parse::ReplyAssembler;

fuzz_target!(|data: &[u8]| {
    let mut assembler = ReplyAssembler::new(16);
    for line in data.split(|&byte| byte == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Ok(Some(reply)) = assembler.push(line) {
            assert!(reply.lines.len() <= 16);
            let mut out = Vec::new();
            encode::reply(&reply, &mut out);
            let mut again = ReplyAssembler::new(16);
            let mut parsed = None;
            for encoded in out.split(|&byte| byte == b'\n').filter(|l| !l.is_empty()) {
                parsed = again
                    .push(&encoded[..encoded.len() - 1])
                    .expect("our own reply parses");
            }
            let parsed = parsed.expect("complete");
            assert_eq!(parsed.code, reply.code);
            assert_eq!(parsed.lines.len(), reply.lines.len());
        }
    }
});
