//! `DotStuffer` then `DotUnstuffer` gives back the body with bare LF made CR LF and a final
//! line break added if it had none; the end marker is found exactly at the end.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mail_session::dot::{DotStuffer, DotUnstuffer, EndMarker};

/// The body as the receiver sees it (the `normalised` helper of `dot.rs`'s tests).
fn normalised(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &byte) in body.iter().enumerate() {
        if byte == b'\n' && (i == 0 || body[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(byte);
    }
    if !out.is_empty() && !out.ends_with(b"\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [chunk, body @ ..] = data else { return };
    let mut stuffer = DotStuffer::new();
    let mut stuffed = Vec::new();
    for part in body.chunks(1 + usize::from(*chunk % 16)) {
        stuffer.encode(part, &mut stuffed);
    }
    stuffer.finish(&mut stuffed);
    for end in [EndMarker::CrLfOnly, EndMarker::AnyLineEnd] {
        let mut unstuffed = Vec::new();
        let done =
            DotUnstuffer::new(end).decode(&stuffed, |part| unstuffed.extend_from_slice(part));
        assert!(done.finished, "{end:?}: end marker not found");
        assert_eq!(done.consumed, stuffed.len(), "{end:?}");
        assert_eq!(unstuffed, normalised(body), "{end:?}");
    }
});
