//! IMAP4 codec throughput against `imap-codec` 1.0 and the memchr ceiling, on the same bytes
//! in the same run: a stream of typical client commands (commands/s), a stream of FETCH
//! responses with ENVELOPE and BODYSTRUCTURE (responses/s), and a stream of FETCH responses
//! each carrying a 50 KB `BODY[]` literal (bytes/s).
//!
//! `imap4_proto` runs as a connection would: the framer over the buffer, then the parser on
//! each complete message (body literals pass through as borrowed chunks). `imap_codec` runs
//! its `CommandCodec` / `ResponseCodec` over the same buffer, message after message.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use imap4_proto::framing::{Frame, Framer, FramerOptions, Role};
use imap4_proto::parse::{self, ResponseOptions};
use imap_codec::decode::Decoder;
use imap_codec::{CommandCodec, ResponseCodec};

/// A typical client's commands (as Thunderbird and mutt send them), 1000 sessions.
fn command_stream() -> Vec<u8> {
    let mut stream = Vec::new();
    for session in 0..1000 {
        let commands = [
            "CAPABILITY".to_string(),
            "LOGIN \"someone@example.org\" \"correct horse battery staple\"".to_string(),
            "LIST \"\" \"*\"".to_string(),
            "STATUS INBOX (MESSAGES UNSEEN UIDNEXT UIDVALIDITY)".to_string(),
            "SELECT INBOX".to_string(),
            "UID FETCH 1:* (FLAGS)".to_string(),
            format!("UID FETCH {}:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])", session + 100),
            format!("UID FETCH {} BODY.PEEK[]", session + 101),
            format!("UID STORE {} +FLAGS.SILENT (\\Seen)", session + 101),
            "UID SEARCH UNSEEN SINCE 1-Feb-2024".to_string(),
            format!("UID COPY {}:{} Archive", session + 1, session + 5),
            format!("UID STORE {}:{} +FLAGS.SILENT (\\Deleted)", session + 1, session + 5),
            "EXPUNGE".to_string(),
            "NOOP".to_string(),
            "LOGOUT".to_string(),
        ];
        for (n, command) in commands.iter().enumerate() {
            stream.extend_from_slice(format!("A{session:04}{n:02} {command}\r\n").as_bytes());
        }
    }
    stream
}

const ENVELOPE: &str = "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL NIL \"imap\" \"cac.washington.edu\")) ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL \"<B27397-0100000@cac.washington.edu>\")";
const BODYSTRUCTURE: &str = "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 1152 23 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 4554 73 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"b1_5f3e2c\") NIL NIL NIL)";

/// FETCH responses as a client's message list asks for them.
fn fetch_stream() -> Vec<u8> {
    let mut stream = Vec::new();
    for n in 1..=10_000 {
        stream.extend_from_slice(
            format!("* {n} FETCH (UID {} FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286 ENVELOPE {ENVELOPE} BODYSTRUCTURE {BODYSTRUCTURE})\r\n", n + 1000)
                .as_bytes(),
        );
    }
    stream
}

/// FETCH responses each with a 50 KB BODY[] literal of ~76-octet lines.
fn body_stream() -> Vec<u8> {
    let mut body = Vec::with_capacity(51_200);
    let mut line = 0u32;
    while body.len() + 78 <= 51_200 {
        body.extend_from_slice(
            format!("{line:08} The quick brown fox jumps over the lazy dog, again and again.\r\n")
                .as_bytes(),
        );
        line += 1;
    }
    body.resize(51_200, b'.');
    let mut stream = Vec::new();
    for n in 1..=200 {
        stream.extend_from_slice(format!("* {n} FETCH (UID {n} BODY[] {{51200}}\r\n").as_bytes());
        stream.extend_from_slice(&body);
        stream.extend_from_slice(b")\r\n");
    }
    stream
}

/// Our side: frame and parse every message; returns (messages, literal octets).
fn ours(role: Role, stream: &[u8]) -> (usize, usize) {
    let mut framer = Framer::new(role, FramerOptions::default());
    let options = ResponseOptions::strict();
    let mut input = stream;
    let (mut messages, mut octets) = (0, 0);
    loop {
        let (used, frame) = framer.next(input);
        input = &input[used..];
        match frame {
            Frame::Incomplete => break,
            Frame::LiteralAnnounced(_) => {}
            Frame::LiteralData(chunk) => octets += black_box(chunk).len(),
            Frame::Message => {
                let ok = match role {
                    Role::Server => parse::command(framer.message()).is_ok(),
                    Role::Client => parse::response(framer.message(), &options).is_ok(),
                };
                messages += usize::from(black_box(ok));
            }
            Frame::Error(error) => panic!("{error}"),
        }
    }
    (messages, octets)
}

fn imap_codec_commands(stream: &[u8]) -> usize {
    let codec = CommandCodec::default();
    let mut input = stream;
    let mut count = 0;
    while !input.is_empty() {
        match codec.decode(input) {
            Ok((rest, command)) => {
                black_box(&command);
                input = rest;
                count += 1;
            }
            Err(error) => panic!("imap-codec: {error:?}"),
        }
    }
    count
}

fn imap_codec_responses(stream: &[u8]) -> usize {
    let codec = ResponseCodec::default();
    let mut input = stream;
    let mut count = 0;
    while !input.is_empty() {
        match codec.decode(input) {
            Ok((rest, response)) => {
                black_box(&response);
                input = rest;
                count += 1;
            }
            Err(error) => panic!("imap-codec: {error:?}"),
        }
    }
    count
}

fn newlines(stream: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', stream).count()
}

fn commands(c: &mut Criterion) {
    let stream = command_stream();
    let count = newlines(&stream);
    assert_eq!(
        ours(Role::Server, &stream).0,
        count,
        "imap4-proto parses every command"
    );
    assert_eq!(
        imap_codec_commands(&stream),
        count,
        "imap-codec parses every command"
    );
    let mut group = c.benchmark_group("imap_commands");
    group.throughput(Throughput::Elements(count as u64));
    group.bench_function("imap4_proto", |b| {
        b.iter(|| ours(Role::Server, black_box(&stream)))
    });
    group.bench_function("imap_codec", |b| {
        b.iter(|| imap_codec_commands(black_box(&stream)))
    });
    group.bench_function("memchr_newlines", |b| {
        b.iter(|| newlines(black_box(&stream)))
    });
    group.finish();
}

fn fetch_responses(c: &mut Criterion) {
    let stream = fetch_stream();
    let count = newlines(&stream);
    assert_eq!(
        ours(Role::Client, &stream).0,
        count,
        "imap4-proto parses every response"
    );
    assert_eq!(
        imap_codec_responses(&stream),
        count,
        "imap-codec parses every response"
    );
    let mut group = c.benchmark_group("imap_fetch_envelope_bodystructure");
    group.throughput(Throughput::Elements(count as u64));
    group.bench_function("imap4_proto", |b| {
        b.iter(|| ours(Role::Client, black_box(&stream)))
    });
    group.bench_function("imap_codec", |b| {
        b.iter(|| imap_codec_responses(black_box(&stream)))
    });
    group.bench_function("memchr_newlines", |b| {
        b.iter(|| newlines(black_box(&stream)))
    });
    group.finish();
}

fn body_literals(c: &mut Criterion) {
    let stream = body_stream();
    assert_eq!(ours(Role::Client, &stream), (200, 200 * 51_200));
    assert_eq!(imap_codec_responses(&stream), 200);
    let mut group = c.benchmark_group("imap_body_literals_50k");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("imap4_proto", |b| {
        b.iter(|| ours(Role::Client, black_box(&stream)))
    });
    group.bench_function("imap_codec", |b| {
        b.iter(|| imap_codec_responses(black_box(&stream)))
    });
    group.bench_function("memchr_newlines", |b| {
        b.iter(|| newlines(black_box(&stream)))
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
    targets = commands, fetch_responses, body_literals
}
criterion_main!(benches);
