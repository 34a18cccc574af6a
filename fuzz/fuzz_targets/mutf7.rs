//! Modified UTF-7: whatever `decode` accepts re-encodes to exactly the input (one spelling per
//! name), and every string survives `encode` then `decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mail_session::mutf7;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(decoded) = mutf7::decode(&text) {
        assert_eq!(mutf7::encode(&decoded), text);
    }
    assert_eq!(mutf7::decode(&mutf7::encode(&text)).as_deref(), Ok(&*text));
});
