//! POP3: command parsing (commands/s), and a 10 MiB RETR through the server session
//! (dot-stuffing) and through the client session (un-stuffing), side by side with memchr
//! counting line feeds and memcpy on the same bytes.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mail_session::line::{LineReader, LineStatus};
use mail_session::{Progress, Session};
use pop3_proto::client::{ClientOptions, ClientSession, Event as ClientEvent};
use pop3_proto::parse;
use pop3_proto::server::{Event, MaildropEntry, MessageShape, Options, ServerSession};
use pop3_proto::types::Command;

const CHUNK: usize = 64 * 1024;

fn message() -> Vec<u8> {
    mail_benches::ten_mib_message()
}

/// A typical client's commands: a login and a mailbox check with downloads.
fn command_stream() -> Vec<u8> {
    let mut stream = Vec::new();
    for session in 0..1000 {
        stream.extend_from_slice(b"CAPA\r\nUSER someone@example.org\r\nPASS correct horse battery staple\r\nSTAT\r\nLIST\r\nUIDL\r\n");
        for n in 1..=5 {
            stream.extend_from_slice(
                format!("LIST {n}\r\nRETR {n}\r\nTOP {n} 10\r\nDELE {n}\r\n").as_bytes(),
            );
        }
        stream.extend_from_slice(
            format!("UIDL {}\r\nNOOP\r\nRSET\r\nQUIT\r\n", session % 9 + 1).as_bytes(),
        );
    }
    stream
}

fn parse_commands(c: &mut Criterion) {
    let stream = command_stream();
    let count = stream.iter().filter(|&&b| b == b'\n').count() as u64;
    let mut group = c.benchmark_group("pop3_commands");
    group.throughput(Throughput::Elements(count));
    group.bench_function("line_reader_and_parse", |b| {
        b.iter(|| {
            let mut reader = LineReader::new(255);
            let mut input = black_box(&stream[..]);
            let mut parsed = 0usize;
            loop {
                let (used, status) = reader.next_line(input);
                match status {
                    LineStatus::Line(line) => {
                        if parse::command(line.content).is_ok() {
                            parsed += 1;
                        }
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
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("memchr_count_lf_same_bytes", |b| {
        b.iter(|| memchr::memchr_iter(b'\n', black_box(&stream)).count())
    });
    group.finish();
}

/// Runs a logged-in server session through one RETR of `message`, returning the octets sent.
fn server_retr(message: &[u8], crlf: bool) -> usize {
    let now = Instant::now();
    let mut session = ServerSession::new({
        let mut options = Options::default();
        options.allow_plaintext_auth = true;
        options
    });
    session.enqueue_input(b"USER u\r\nPASS p\r\nRETR 1\r\n");
    let mut sent = 0;
    let mut offset = 0;
    loop {
        match session.next(now) {
            Progress::Output(bytes) => sent += bytes.len(),
            Progress::Event(Event::Login { .. }) => session
                .accept_login(vec![MaildropEntry {
                    size: message.len() as u64,
                    unique_id: "1".into(),
                }])
                .expect("a login is awaited"),
            Progress::Event(Event::Retrieve { .. }) => session
                .start_message(MessageShape {
                    needs_utf8: false,
                    crlf_line_ends: crlf,
                })
                .expect("a retrieval is awaited"),
            Progress::Event(Event::MessageData { .. }) => {
                if offset >= message.len() {
                    session.end_message().expect("message data is awaited");
                } else {
                    let end = (offset + CHUNK).min(message.len());
                    session
                        .push_message_data(&message[offset..end])
                        .expect("message data is awaited");
                    offset = end;
                }
            }
            Progress::NeedMoreInput => return sent,
            _ => unreachable!(),
        }
    }
}

fn retr(c: &mut Criterion) {
    let message = message();
    let mut stuffed = Vec::new();
    let mut stuffer = mail_session::dot::DotStuffer::new();
    stuffer.encode(&message, &mut stuffed);
    stuffer.finish(&mut stuffed);
    let mut out: Vec<u8> = Vec::with_capacity(stuffed.len() + 1024);

    let mut group = c.benchmark_group("pop3_retr_10MiB");
    group.throughput(Throughput::Bytes(message.len() as u64));
    group.bench_function("server_session_stuffing_crlf", |b| {
        b.iter(|| server_retr(black_box(&message), true))
    });
    group.bench_function("server_session_stuffing_general", |b| {
        b.iter(|| server_retr(black_box(&message), false))
    });
    // The same text stored with bare LF line ends (Dovecot's default `mail_save_crlf = no`):
    // every line end is rewritten on the way out.
    let message_lf: Vec<u8> = message
        .split_inclusive(|&byte| byte == b'\n')
        .flat_map(|line| {
            line.strip_suffix(b"\r\n")
                .map(|text| [text, b"\n"].concat())
                .unwrap_or_else(|| line.to_vec())
        })
        .collect();
    group.bench_function("server_session_stuffing_bare_lf_input", |b| {
        b.iter(|| server_retr(black_box(&message_lf), false))
    });
    group.bench_function("client_session_unstuffing", |b| {
        b.iter(|| {
            let now = Instant::now();
            let mut client = ClientSession::new(ClientOptions::default());
            client.enqueue_input(b"+OK ready\r\n");
            let _ = client.next(now);
            client.send(Command::Retr(1));
            let _ = client.next(now);
            client.enqueue_input(b"+OK message follows\r\n");
            let mut received = 0usize;
            for chunk in black_box(&stuffed).chunks(CHUNK) {
                client.enqueue_input(chunk);
                loop {
                    match client.next(now) {
                        Progress::Event(ClientEvent::MessageData(data)) => received += data.len(),
                        Progress::Event(ClientEvent::MessageEnd) => return received,
                        Progress::Event(_) => {}
                        _ => break,
                    }
                }
            }
            received
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
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = parse_commands, retr
}
criterion_main!(benches);
