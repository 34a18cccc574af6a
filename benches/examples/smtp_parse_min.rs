//! SMTP command parsing, ours against smtp-proto on the same bytes, for a machine shared with
//! other work, where criterion's means take in every preemption:
//!
//! - no arguments: each command shape timed as the fastest of many short alternating rounds;
//! - `<shape> ours|peer <rounds>`: one parser only, a fixed number of rounds, to be measured
//!   from outside (`perf stat -e task-clock` for CPU time, `valgrind --tool=cachegrind` for
//!   instructions; subtract a run with 0 rounds);
//! - `data checked|unchecked|portable|memmem <rounds> [chunk]`: one DATA receiver over the
//!   realistic 10 MiB mail, the same way.
//!
//! `cargo run --release -p mail-benches --example smtp_parse_min -- rcpt_plain ours 200`

use std::hint::black_box;
use std::time::{Duration, Instant};

use mail_benches::smtp_command_shapes as command_shapes;

#[path = "../shared/smtp_parsers.rs"]
mod smtp_parsers;
use smtp_parsers::{ours, smtp_proto};

fn fastest(rounds: usize, mut run: impl FnMut()) -> Duration {
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed()
        })
        .min()
        .unwrap()
}

/// `data <receiver> <rounds> [chunk]`: one DATA receiver over the realistic 10 MiB mail, for
/// instruction counts (valgrind) or CPU time (`perf stat`).
fn data(receiver: &str, rounds: usize, chunk: usize) {
    use smtp_submit::data::{ContentRules, DataReceiver};
    use smtp_submit::types::BodyType;
    let stream = mail_benches::stuffed(&mail_benches::realistic_message());
    let checked = ContentRules::new(u64::MAX, BodyType::EightBitMime);
    let mut unchecked = checked;
    unchecked.reject_bare_line_ends = false;
    let finder = memchr::memmem::Finder::new(b"\r\n.\r\n");
    let mut total = 0usize;
    for _ in 0..rounds {
        let mut receiver = match receiver {
            "checked" => DataReceiver::new(checked),
            "unchecked" => DataReceiver::new(unchecked),
            "portable" => DataReceiver::portable(checked),
            _ => {
                total += black_box(&stream)
                    .chunks(chunk)
                    .position(|part| finder.find(part).is_some())
                    .unwrap_or(0);
                continue;
            }
        };
        for part in black_box(&stream).chunks(chunk) {
            if receiver
                .receive(part, |slice| total += slice.len())
                .finished
            {
                break;
            }
        }
    }
    println!("{} octets, {total}", stream.len() * rounds);
}

fn main() {
    let filter = std::env::args().nth(1).unwrap_or_default();
    if filter == "data" {
        let arg = |n: usize| std::env::args().nth(n).unwrap_or_default();
        return data(
            &arg(2),
            arg(3).parse().unwrap_or(1),
            arg(4).parse().unwrap_or(65536),
        );
    }
    // `<shape> ours|peer <rounds>`: only one parser, a fixed number of rounds, for
    // `perf stat -e cycles:u` (cycles per command, whatever else the machine runs).
    if let Some(side) = std::env::args().nth(2) {
        let rounds: usize = std::env::args()
            .nth(3)
            .and_then(|n| n.parse().ok())
            .unwrap_or(200);
        for (shape, stream) in command_shapes() {
            if shape != filter {
                continue;
            }
            let count = stream.iter().filter(|&&byte| byte == b'\n').count() as u64;
            for _ in 0..rounds {
                if side == "ours" {
                    ours(black_box(&stream), count);
                } else {
                    smtp_proto(black_box(&stream), count);
                }
            }
            println!("{} commands", count as usize * rounds);
        }
        return;
    }
    println!(
        "{:<22} {:>12} {:>12} {:>7}",
        "shape", "ours M/s", "peer M/s", "ratio"
    );
    for (shape, stream) in command_shapes() {
        if !shape.contains(&filter) {
            continue;
        }
        let count = stream.iter().filter(|&&byte| byte == b'\n').count() as u64;
        let (mut best_ours, mut best_peer) = (Duration::MAX, Duration::MAX);
        for _ in 0..40 {
            best_ours = best_ours.min(fastest(10, || {
                ours(black_box(&stream), count);
            }));
            best_peer = best_peer.min(fastest(10, || {
                smtp_proto(black_box(&stream), count);
            }));
        }
        let rate = |time: Duration| count as f64 / time.as_secs_f64() / 1e6;
        println!(
            "{:<22} {:>12.2} {:>12.2} {:>7.2}",
            shape,
            rate(best_ours),
            rate(best_peer),
            best_peer.as_secs_f64() / best_ours.as_secs_f64()
        );
    }
}
