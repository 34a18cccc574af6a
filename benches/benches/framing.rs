//! Dot-stuffing and dot-unstuffing of a 10 MiB message beside what any pass over the same
//! bytes costs: a `memchr` count of line feeds (the least a line scanner does) and a plain
//! copy into a pre-allocated buffer (the least a transform that hands on a copy does).
//!
//! The message is what a server sends or receives: 76-octet text lines (the length RFC 2045
//! gives base64 and quoted-printable bodies) ending in CR LF, one line in 32 starting with `.`.
//! Every function is fed 64 KiB chunks, as a server reading from a file or a socket would.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mail_session::dot::{DotStuffer, DotUnstuffer, EndMarker};

const SIZE: usize = 10 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

/// About `SIZE` octets of header and CR LF body lines of 70 to 76 octets, some starting with `.`.
fn message() -> Vec<u8> {
    let mut out = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: framing\r\n\r\n".to_vec();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut line = 0u64;
    while out.len() + 78 <= SIZE {
        line += 1;
        let length = 70 + (next() % 7) as usize;
        let start = out.len();
        for _ in 0..length {
            out.push(b"abcdefghijklmnopqrstuvwxyz0123456789     "[(next() % 41) as usize]);
        }
        if line.is_multiple_of(32) {
            out[start] = b'.';
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn framing(c: &mut Criterion) {
    let message = message();
    let mut stuffed = Vec::new();
    let mut stuffer = DotStuffer::new();
    stuffer.encode(&message, &mut stuffed);
    stuffer.finish(&mut stuffed);
    let dots = message.windows(3).filter(|w| w == b"\r\n.").count();
    assert_eq!(stuffed.len(), message.len() + dots + 3);
    let mut out: Vec<u8> = Vec::with_capacity(stuffed.len() + 1024);

    let mut group = c.benchmark_group("framing_10MiB");
    group.throughput(Throughput::Bytes(message.len() as u64));
    group.bench_function("dot_stuff", |b| {
        b.iter(|| {
            out.clear();
            let mut stuffer = DotStuffer::new();
            for chunk in black_box(&message).chunks(CHUNK) {
                stuffer.encode(chunk, &mut out);
            }
            stuffer.finish(&mut out);
            black_box(out.len())
        })
    });
    // What a POP3 server uses for a stored message whose size equals its wire size.
    group.bench_function("dot_stuff_crlf_input", |b| {
        b.iter(|| {
            out.clear();
            let mut stuffer = DotStuffer::for_crlf_input();
            for chunk in black_box(&message).chunks(CHUNK) {
                stuffer.encode(chunk, &mut out);
            }
            stuffer.finish(&mut out);
            black_box(out.len())
        })
    });
    group.bench_function("dot_unstuff", |b| {
        b.iter(|| {
            out.clear();
            let mut unstuffer = DotUnstuffer::new(EndMarker::CrLfOnly);
            for chunk in black_box(&stuffed).chunks(CHUNK) {
                unstuffer.decode(chunk, |part| out.extend_from_slice(part));
            }
            assert!(unstuffer.is_finished());
            black_box(out.len())
        })
    });
    // The unstuffer's scan alone: the body's slices are counted, not copied.
    group.bench_function("dot_unstuff_scan", |b| {
        b.iter(|| {
            let mut total = 0;
            let mut unstuffer = DotUnstuffer::new(EndMarker::CrLfOnly);
            for chunk in black_box(&stuffed).chunks(CHUNK) {
                unstuffer.decode(chunk, |part| total += part.len());
            }
            assert!(unstuffer.is_finished());
            black_box(total)
        })
    });
    group.bench_function("memchr_count_lf", |b| {
        b.iter(|| {
            black_box(&message)
                .chunks(CHUNK)
                .map(|chunk| memchr::memchr_iter(b'\n', chunk).count())
                .sum::<usize>()
        })
    });
    // Not asked of a ceiling, but what a scanner that stops at every line feed (as the stuffer
    // must, to find bare LF) costs at least: `count` above is a vectorised tally instead.
    group.bench_function("memchr_iter_each_lf", |b| {
        b.iter(|| {
            black_box(&message)
                .chunks(CHUNK)
                .map(|chunk| memchr::memchr_iter(b'\n', chunk).fold(0, |sum, at| sum ^ at))
                .fold(0, |sum, each| sum ^ each)
        })
    });
    group.bench_function("memcpy", |b| {
        b.iter(|| {
            out.clear();
            for chunk in black_box(&message).chunks(CHUNK) {
                out.extend_from_slice(chunk);
            }
            black_box(out.len())
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = framing
}
criterion_main!(benches);
