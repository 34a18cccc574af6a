//! SMTP: command parsing (commands/s) and DATA receive (MB/s) of a 10 MiB body, side by side in
//! the same run with Stalwart's `smtp-proto` on the same bytes, and with `memchr::memmem`
//! finding `CR LF . CR LF` (the ceiling of any receiver that must find the end).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mail_session::line::{LineReader, LineStatus};
use smtp_submit::data::{ContentRules, DataReceiver};
use smtp_submit::parse;
use smtp_submit::types::BodyType;

/// Network reads of this size feed every receiver.
const CHUNK: usize = 64 * 1024;

/// A submission client's commands: EHLO, a pipelined envelope for three recipients, RSET, NOOP.
fn command_stream() -> Vec<u8> {
    let mut stream = Vec::new();
    for n in 0..2000 {
        stream.extend_from_slice(
            format!(
                "EHLO client{n}.example.org\r\n\
                 MAIL FROM:<sender{n}@example.org> SIZE=123456 BODY=8BITMIME\r\n\
                 RCPT TO:<alice@example.net>\r\n\
                 RCPT TO:<bob.smith@example.com> NOTIFY=SUCCESS,FAILURE\r\n\
                 RCPT TO:<carol@example.org>\r\n\
                 DATA\r\nRSET\r\nNOOP\r\nQUIT\r\n"
            )
            .as_bytes(),
        );
    }
    stream
}

fn commands(c: &mut Criterion) {
    let stream = command_stream();
    let count = stream.iter().filter(|&&byte| byte == b'\n').count() as u64;
    let mut group = c.benchmark_group("smtp_commands");
    group.throughput(Throughput::Elements(count));
    group.bench_function("ours_line_reader_and_parse", |b| {
        b.iter(|| {
            let mut reader = LineReader::new(1000);
            let mut input = black_box(&stream[..]);
            let mut parsed = 0usize;
            loop {
                let (used, status) = reader.next_line(input);
                match status {
                    LineStatus::Line(line) => {
                        parsed += usize::from(parse::command(line.content).is_ok());
                    }
                    LineStatus::TooLong => {}
                    LineStatus::Incomplete => break,
                }
                input = &input[used..];
            }
            assert_eq!(parsed as u64, count);
            parsed
        })
    });
    group.bench_function("smtp_proto_request_parse", |b| {
        b.iter(|| {
            let mut bytes = black_box(&stream[..]).iter();
            let mut parsed = 0usize;
            while bytes.len() > 0 {
                match smtp_proto::Request::parse(&mut bytes) {
                    Ok(_) => parsed += 1,
                    Err(_) => break,
                }
            }
            assert_eq!(parsed as u64, count);
            parsed
        })
    });
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("memchr_count_lf_same_bytes", |b| {
        b.iter(|| memchr::memchr_iter(b'\n', black_box(&stream)).count())
    });
    group.finish();
}

/// The body as it arrives after DATA: stuffed, ended by CR LF . CR LF.
fn data_stream() -> Vec<u8> {
    let mut stuffed = Vec::new();
    let mut stuffer = mail_session::dot::DotStuffer::for_crlf_input();
    stuffer.encode(&mail_benches::ten_mib_message(), &mut stuffed);
    stuffer.finish(&mut stuffed);
    stuffed
}

fn ours(stream: &[u8], rules: ContentRules) -> usize {
    let mut receiver = DataReceiver::new(rules);
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

fn data(c: &mut Criterion) {
    let stream = data_stream();
    let mut group = c.benchmark_group("smtp_data_10MiB");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    let checked = ContentRules::new(u64::MAX, BodyType::SevenBit);
    let mut unchecked = ContentRules::new(u64::MAX, BodyType::EightBitMime);
    unchecked.reject_bare_line_ends = false;
    group.bench_function("ours_zero_copy_no_line_end_check", |b| {
        b.iter(|| ours(black_box(&stream), unchecked))
    });
    group.bench_function("ours_zero_copy_checked_7bit_bare_line_ends", |b| {
        b.iter(|| ours(black_box(&stream), checked))
    });
    let mut buffer = Vec::with_capacity(CHUNK * 2);
    group.bench_function("smtp_proto_data_receiver", |b| {
        b.iter(|| {
            let mut receiver = smtp_proto::request::receiver::DataReceiver::new();
            let mut total = 0usize;
            for chunk in black_box(&stream).chunks(CHUNK) {
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
            black_box(&stream)
                .chunks(CHUNK)
                .position(|chunk| finder.find(chunk).is_some())
        })
    });
    group.finish();
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
