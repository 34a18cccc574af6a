//! SMTP: command parsing (commands/s, one group per command shape and a pipelined session)
//! and DATA receive (MB/s) of 10 MiB bodies, side by side in the same run with Stalwart's
//! `smtp-proto` on the same bytes, and with `memchr` ceilings: counting line ends for commands,
//! `memchr::memmem` finding `CR LF . CR LF` for DATA (the ceiling of any receiver that must
//! find the end).
//!
//! `cargo bench -p mail-benches --bench smtp -- smtp_command` for the parsers alone,
//! `-- smtp_data` for the receivers.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use smtp_submit::data::{ContentRules, DataReceiver};
use smtp_submit::types::BodyType;

/// Network reads of this size feed every receiver.
const CHUNK: usize = 64 * 1024;

use mail_benches::smtp_command_shapes as command_shapes;

#[path = "../shared/smtp_parsers.rs"]
mod smtp_parsers;
use smtp_parsers::{ours, smtp_proto};

/// One group per command shape (`smtp_command/<shape>`), both parsers on the same bytes in
/// the same run; throughput in commands.
fn commands(c: &mut Criterion) {
    for (shape, stream) in command_shapes() {
        let count = stream.iter().filter(|&&byte| byte == b'\n').count() as u64;
        assert_eq!(ours(&stream, count), smtp_proto(&stream, count));
        let mut group = c.benchmark_group(format!("smtp_command/{shape}"));
        group.throughput(Throughput::Elements(count));
        group.bench_function("ours", |b| b.iter(|| ours(black_box(&stream), count)));
        group.bench_function("smtp_proto", |b| {
            b.iter(|| smtp_proto(black_box(&stream), count))
        });
        // The ceiling of any parser that must find the line ends: counting them.
        group.bench_function("memchr_line_ends_ceiling", |b| {
            b.iter(|| memchr::memchr_iter(b'\n', black_box(&stream)).count())
        });
        group.finish();
    }
}

use mail_benches::stuffed;

fn receive(stream: &[u8], mut receiver: DataReceiver) -> usize {
    let mut handed = 0usize;
    for chunk in stream.chunks(CHUNK) {
        let received = receiver.receive(chunk, |part| handed += part.len());
        if received.finished {
            break;
        }
    }
    assert!(receiver.finish().is_ok());
    handed
}

fn data_group(c: &mut Criterion, name: &str, stream: &[u8]) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(stream.len() as u64));
    // What a submission server checks by default for BODY=8BITMIME: bare CR and LF, and NUL.
    let checked = ContentRules::new(u64::MAX, BodyType::EightBitMime);
    let checked_7bit = ContentRules::new(u64::MAX, BodyType::SevenBit);
    let mut unchecked = ContentRules::new(u64::MAX, BodyType::EightBitMime);
    unchecked.reject_bare_line_ends = false;
    group.bench_function("ours_zero_copy_no_line_end_check", |b| {
        b.iter(|| receive(black_box(stream), DataReceiver::new(unchecked)))
    });
    group.bench_function("ours_zero_copy_checked_8bitmime", |b| {
        b.iter(|| receive(black_box(stream), DataReceiver::new(checked)))
    });
    group.bench_function("ours_zero_copy_checked_7bit_bare_line_ends", |b| {
        b.iter(|| receive(black_box(stream), DataReceiver::new(checked_7bit)))
    });
    group.bench_function("ours_portable_checked_8bitmime", |b| {
        b.iter(|| receive(black_box(stream), DataReceiver::portable(checked)))
    });
    let mut buffer = Vec::with_capacity(CHUNK * 2);
    group.bench_function("smtp_proto_data_receiver", |b| {
        b.iter(|| {
            let mut receiver = smtp_proto::request::receiver::DataReceiver::new();
            let mut total = 0usize;
            for chunk in black_box(stream).chunks(CHUNK) {
                buffer.clear();
                let mut bytes = chunk.iter();
                let done = receiver.ingest(&mut bytes, &mut buffer);
                total += buffer.len();
                if done {
                    break;
                }
            }
            total
        })
    });
    let finder = memchr::memmem::Finder::new(b"\r\n.\r\n");
    group.bench_function("memmem_find_end_ceiling", |b| {
        b.iter(|| {
            black_box(stream)
                .chunks(CHUNK)
                .position(|chunk| finder.find(chunk).is_some())
        })
    });
    // The cost of stopping at every line-leading dot alone: memchr for LF, then a look at the
    // octet after it (what any receiver that un-stuffs must do at least).
    group.bench_function("memchr_line_starts_ceiling", |b| {
        b.iter(|| {
            let stream = black_box(stream);
            memchr::memchr_iter(b'\n', stream)
                .filter(|&at| stream.get(at + 1) == Some(&b'.'))
                .count()
        })
    });
    group.finish();
}

/// DATA: the synthetic 10 MiB body of ~76-octet lines, one in 40 dot-led, and a realistic
/// 10 MiB mail (base64 attachments, quoted-printable, long HTML lines, a listing where one line
/// in three starts with a dot), each next to memmem finding the end on the same bytes.
fn data(c: &mut Criterion) {
    data_group(
        c,
        "smtp_data_10MiB",
        &stuffed(&mail_benches::ten_mib_message()),
    );
    data_group(
        c,
        "smtp_data_realistic_10MiB",
        &stuffed(&mail_benches::realistic_message()),
    );
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = commands, data
}
criterion_main!(benches);
