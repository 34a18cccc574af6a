//! `DotUnstuffer` over arbitrary input, in both end-marker modes: fed whole or split at a
//! fuzzer-chosen chunk size, the body, `finished` and `consumed` are the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mail_session::dot::{DotUnstuffer, EndMarker};

/// The body, whether the end was found, and how many input bytes were used in all.
fn unstuff<'a>(chunks: impl Iterator<Item = &'a [u8]>, end: EndMarker) -> (Vec<u8>, bool, usize) {
    let mut unstuffer = DotUnstuffer::new(end);
    let (mut body, mut used) = (Vec::new(), 0);
    for chunk in chunks {
        let done = unstuffer.decode(chunk, |part| body.extend_from_slice(part));
        assert!(done.consumed <= chunk.len());
        used += done.consumed;
        if done.finished {
            return (body, true, used);
        }
        assert_eq!(
            done.consumed,
            chunk.len(),
            "unfinished decode left input unused"
        );
    }
    (body, false, used)
}

fuzz_target!(|data: &[u8]| {
    let [chunk, stuffed @ ..] = data else { return };
    for end in [EndMarker::CrLfOnly, EndMarker::AnyLineEnd] {
        let whole = unstuff(std::iter::once(stuffed), end);
        let split = unstuff(stuffed.chunks(1 + usize::from(*chunk % 16)), end);
        assert_eq!(split, whole, "{end:?}");
    }
});
