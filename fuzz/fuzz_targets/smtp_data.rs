//! The DATA receiver fed arbitrary bytes in arbitrary pieces, under every combination of content
//! rules: no panic; the same end, verdict and accepted body whatever the split; the same as the
//! portable receiver (no vector scan) on the same input; never more than the limit handed on;
//! and the end found only at CR LF . CR LF.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_submit::data::{ContentRules, DataReceiver};
use smtp_submit::types::BodyType;

type Outcome = (Vec<u8>, Option<usize>, Result<u64, String>);

fn run(mut receiver: DataReceiver, input: &[u8], step: usize) -> Outcome {
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

/// The rules picked by the low bits of `control` (all 12 combinations) and a limit.
fn rules(control: u8, limit_byte: u8) -> ContentRules {
    let body = match control % 3 {
        0 => BodyType::SevenBit,
        1 => BodyType::EightBitMime,
        _ => BodyType::BinaryMime,
    };
    let mut rules = ContentRules::new(u64::from(limit_byte) * 4, body);
    rules.reject_bare_line_ends = (control / 3) % 2 == 0;
    rules.accept_undeclared_eight_bit = (control / 6) % 2 == 0;
    rules
}

fn same_result(left: &Outcome, right: &Outcome, what: &str) {
    // Where the body is refused, what was handed on before the problem showed up depends on
    // the split; the end and the verdict never do.
    assert_eq!(left.1, right.1, "{what}: the end");
    assert_eq!(left.2, right.2, "{what}: the verdict");
    if left.2.is_ok() {
        assert_eq!(left.0, right.0, "{what}: the accepted body");
    }
}

fuzz_target!(|data: &[u8]| {
    let [control, limit_byte, step_byte, input @ ..] = data else {
        return;
    };
    let rules = rules(*control, *limit_byte);
    let limit = rules.max_size;
    let step = usize::from(*step_byte % 67) + 1;
    let whole = run(DataReceiver::new(rules), input, input.len().max(1));
    let split = run(DataReceiver::new(rules), input, step);
    let portable = run(DataReceiver::portable(rules), input, input.len().max(1));
    let portable_split = run(DataReceiver::portable(rules), input, step);
    same_result(&whole, &split, "split");
    same_result(
        &whole,
        &portable,
        "vector scan against the portable receiver",
    );
    same_result(&whole, &portable_split, "split portable receiver");
    assert!(
        whole.0.len() as u64 <= limit && split.0.len() as u64 <= limit,
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
