//! The DATA receiver fed arbitrary bytes in arbitrary pieces: no panic, the same end, verdict
//! and accepted body whatever the split, never more than the limit handed on, and the end found only at
//! CR LF . CR LF.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_submit::data::{ContentRules, DataReceiver};
use smtp_submit::types::BodyType;

fn run(input: &[u8], step: usize, limit: u64) -> (Vec<u8>, Option<usize>, Result<u64, String>) {
    let mut rules = ContentRules::new(limit, BodyType::EightBitMime);
    rules.reject_bare_line_ends = false;
    let mut receiver = DataReceiver::new(rules);
    let mut body = Vec::new();
    let mut offset = 0;
    let mut end = None;
    while offset < input.len() {
        let piece = &input[offset..(offset + step).min(input.len())];
        let received = receiver.receive(piece, |part| body.extend_from_slice(part));
        offset += received.consumed;
        if received.finished {
            end = Some(offset);
            break;
        }
        if received.consumed == 0 {
            break;
        }
    }
    let outcome = if end.is_some() {
        receiver.finish().map_err(|problem| format!("{problem:?}"))
    } else {
        Err("unfinished".into())
    };
    (body, end, outcome)
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let limit = u64::from(control) * 4;
    let whole = run(input, input.len().max(1), limit);
    let split = run(input, usize::from(control % 13) + 1, limit);
    // Where the body is refused (NUL, over the limit), what was handed on before the problem
    // showed up depends on the split; the end and the verdict never do.
    assert_eq!(whole.1, split.1, "the end does not depend on the split");
    assert_eq!(whole.2, split.2, "the verdict does not depend on the split");
    if whole.2.is_ok() {
        assert_eq!(
            whole.0, split.0,
            "an accepted body does not depend on the split"
        );
    }
    assert!(
        whole.0.len() as u64 <= limit,
        "nothing over the limit is handed on"
    );
    if let Some(end) = whole.1 {
        assert!(
            end >= 3 && &input[end - 3..end] == b".\r\n",
            "the end is a dot line"
        );
        assert!(end == 3 || input[..end].ends_with(b"\r\n.\r\n"));
    }
});
