//! The framer: any split gives the same events, limits are enforced before allocation, and
//! bad input ends in a typed error, never in a panic, a hang or a re-read.

use imap4_proto::framing::{
    Frame, FrameErrorKind, Framer, FramerOptions, LiteralAnnouncement, LiteralMode, Role,
};
use imap4_proto::parse::{self, ParseErrorKind, ResponseOptions};
use imap4_proto::types::{CommandBody, Mailbox, Payload};
use proptest::prelude::*;

/// An owned event; consecutive literal chunks are merged so that splits compare equal.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Announced(LiteralAnnouncement),
    Data(Vec<u8>),
    Message(Vec<u8>),
    Error(FrameErrorKind, usize),
}

/// Feeds `chunks` one after the other into a framer, as a caller with its own buffer would.
fn events(role: Role, options: FramerOptions, chunks: &[&[u8]]) -> (Vec<Event>, usize) {
    let mut framer = Framer::new(role, options);
    let mut buffer: Vec<u8> = Vec::new();
    let mut out: Vec<Event> = Vec::new();
    let mut most_buffered = 0;
    for chunk in chunks {
        buffer.extend_from_slice(chunk);
        loop {
            let (used, frame) = framer.next(&buffer);
            let event = match frame {
                Frame::Incomplete => None,
                Frame::LiteralAnnounced(a) => Some(Event::Announced(a)),
                Frame::LiteralData(data) => Some(Event::Data(data.to_vec())),
                Frame::Message => Some(Event::Message(framer.message().to_vec())),
                Frame::Error(e) => Some(Event::Error(e.kind, e.offset)),
            };
            most_buffered = most_buffered.max(framer.message().len());
            buffer.drain(..used);
            match event {
                None => break,
                Some(Event::Data(data)) => match out.last_mut() {
                    Some(Event::Data(previous)) => previous.extend_from_slice(&data),
                    _ => out.push(Event::Data(data)),
                },
                Some(event) => out.push(event),
            }
        }
    }
    (out, most_buffered)
}

fn small() -> FramerOptions {
    FramerOptions::default()
        .with_max_line_length(64)
        .with_max_literal_size(1000)
        .with_max_inline_literal(16)
        .with_max_message_length(256)
}

#[test]
fn a_streamed_append_literal_passes_through_without_being_buffered() {
    let message = vec![b'x'; 100_000];
    let mut input = b"A1 APPEND INBOX {100000+}\r\n".to_vec();
    input.extend_from_slice(&message);
    input.extend_from_slice(b"\r\nA2 NOOP\r\n");
    let options = FramerOptions::default();
    let (found, most_buffered) = events(Role::Server, options, &[&input]);
    assert_eq!(found.len(), 4, "{found:?}");
    assert_eq!(found[1], Event::Data(message));
    assert!(most_buffered < 100, "the literal was held: {most_buffered}");
    let Event::Message(append) = &found[2] else {
        panic!()
    };
    assert!(matches!(
        parse::command(append).unwrap().body,
        CommandBody::Append {
            message: Payload::Streamed(100_000),
            ..
        }
    ));
}

#[test]
fn an_over_long_line_is_dropped_to_its_end_and_reported_once_with_its_tag() {
    let mut input = b"A1 LOGIN ".to_vec();
    input.extend(std::iter::repeat_n(b'a', 500));
    input.extend_from_slice(b" NOOP\r\nA2 NOOP\r\n");
    let (found, _) = events(Role::Server, small(), &[&input]);
    assert_eq!(
        found,
        vec![
            Event::Error(FrameErrorKind::LineTooLong { limit: 64 }, 64),
            Event::Message(b"A2 NOOP".to_vec()),
        ]
    );
}

#[test]
fn an_over_long_line_ending_in_a_non_sync_literal_skips_the_literal_too() {
    let mut input = b"A1 APPEND ".to_vec();
    input.extend(std::iter::repeat_n(b'a', 500));
    input.extend_from_slice(b" {20+}\r\nA0 LOGOUT\r\nA0 LOGOUT\r\nA2 NOOP\r\n");
    let (found, _) = events(Role::Server, small(), &[&input]);
    assert_eq!(
        found,
        vec![
            Event::Error(FrameErrorKind::LineTooLong { limit: 64 }, 64),
            Event::Message(b"A2 NOOP".to_vec()),
        ],
        "the literal's bytes must not be read as commands"
    );
}

#[test]
fn a_too_large_sync_literal_is_refused_before_its_bytes() {
    let (found, _) = events(
        Role::Server,
        small(),
        &[b"A1 APPEND INBOX {5000}\r\nA2 NOOP\r\n"],
    );
    assert_eq!(
        found,
        vec![
            Event::Error(
                FrameErrorKind::LiteralTooLarge {
                    size: 5000,
                    limit: 1000
                },
                22
            ),
            Event::Message(b"A2 NOOP".to_vec()),
        ]
    );
}

#[test]
fn a_too_large_non_sync_literal_is_skipped_and_never_read_as_commands() {
    let mut input = b"A1 APPEND INBOX {2000+}\r\n".to_vec();
    input.extend(b"A9 DELETE INBOX\r\n".iter().cycle().take(2000));
    input.extend_from_slice(b" rest of A1\r\nA2 NOOP\r\n");
    let (found, _) = events(Role::Server, small(), &[&input]);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[1], Event::Message(b"A2 NOOP".to_vec()));
}

#[test]
fn literal_sizes_near_u64_max_are_a_typed_error() {
    for size in [
        "18446744073709551615",
        "18446744073709551616",
        "9223372036854775808",
    ] {
        let input = format!("A1 LOGIN {{{size}}}\r\nA2 NOOP\r\n");
        let (found, _) = events(Role::Server, small(), &[input.as_bytes()]);
        assert!(
            matches!(found[0], Event::Error(FrameErrorKind::LiteralSize, _)),
            "{found:?}"
        );
        assert_eq!(found[1], Event::Message(b"A2 NOOP".to_vec()));
    }
    let (found, _) = events(
        Role::Server,
        small(),
        &[b"A1 LOGIN {9223372036854775807}\r\n"],
    );
    assert!(matches!(
        found[0],
        Event::Error(FrameErrorKind::LiteralTooLarge { .. }, _)
    ));
}

#[test]
fn a_message_that_outgrows_its_limit_is_dropped() {
    let mut input = Vec::new();
    for _ in 0..20 {
        input.extend_from_slice(b"A1 LOGIN {16}\r\n0123456789abcdef ");
    }
    input.extend_from_slice(b"x\r\nA2 NOOP\r\n");
    let (found, most) = events(Role::Server, small(), &[&input]);
    assert!(most <= 256);
    assert!(matches!(
        found.iter().find(|e| matches!(e, Event::Error(..))),
        Some(Event::Error(
            FrameErrorKind::MessageTooLong { limit: 256 },
            _
        ))
    ));
    assert_eq!(found.last(), Some(&Event::Message(b"A2 NOOP".to_vec())));
}

#[test]
fn rejecting_a_sync_literal_ends_the_command() {
    let mut framer = Framer::new(Role::Server, FramerOptions::default());
    let input = b"A1 LOGIN {5}\r\nA2 NOOP\r\n";
    let (used, frame) = framer.next(input);
    assert!(matches!(
        frame,
        Frame::LiteralAnnounced(LiteralAnnouncement {
            size: 5,
            mode: LiteralMode::Sync,
            ..
        })
    ));
    framer.reject_literal();
    let (_, frame) = framer.next(&input[used..]);
    assert_eq!(frame, Frame::Message);
    assert_eq!(framer.message(), b"A2 NOOP");
}

#[test]
fn a_literal_split_across_reads_does_not_hang() {
    let input = b"* 1 FETCH (BODY[] {10}\r\n0123456789 UID 7)\r\n";
    let chunks: Vec<&[u8]> = input.chunks(3).collect();
    let (found, _) = events(Role::Client, FramerOptions::default(), &chunks);
    assert_eq!(found[1], Event::Data(b"0123456789".to_vec()));
    assert!(matches!(found[2], Event::Message(_)));
}

#[test]
fn invalid_utf8_inside_a_literal_is_data() {
    let input = b"* 1 FETCH (BODY[HEADER] {4}\r\n\xff\xfe\x80a)\r\n";
    let (found, _) = events(Role::Client, FramerOptions::default(), &[input]);
    assert_eq!(found[1], Event::Data(b"\xff\xfe\x80a".to_vec()));
    let Event::Message(message) = &found[2] else {
        panic!()
    };
    parse::response(message, &ResponseOptions::strict()).unwrap();
    // Small inline literals with invalid UTF-8 too.
    let command = parse::command(b"a SEARCH CHARSET X TEXT {2}\r\n\xff\xfe").unwrap();
    assert!(matches!(command.body, CommandBody::Search { .. }));
}

#[test]
fn status_texts_ending_in_braces_are_not_literals() {
    let (found, _) = events(
        Role::Client,
        FramerOptions::default(),
        &[b"* OK see {5}\r\na OK done\r\n"],
    );
    assert_eq!(found.len(), 2, "{found:?}");
}

#[test]
fn deep_nesting_is_a_typed_error_not_a_stack_overflow() {
    let mut command = b"a SEARCH ".to_vec();
    command.extend(std::iter::repeat_n(b'(', 100_000));
    command.extend_from_slice(b"ALL");
    command.extend(std::iter::repeat_n(b')', 100_000));
    let error = parse::command(&command).unwrap_err();
    assert_eq!(error.kind, ParseErrorKind::NestingTooDeep { limit: 64 });
    let mut nots = b"a SEARCH ".to_vec();
    for _ in 0..100_000 {
        nots.extend_from_slice(b"NOT ");
    }
    nots.extend_from_slice(b"ALL");
    assert_eq!(
        parse::command(&nots).unwrap_err().kind,
        ParseErrorKind::NestingTooDeep { limit: 64 }
    );
    let mut body = b"* 1 FETCH (BODYSTRUCTURE ".to_vec();
    body.extend(std::iter::repeat_n(b'(', 100_000));
    let error = parse::response(&body, &ResponseOptions::strict()).unwrap_err();
    assert_eq!(error.kind, ParseErrorKind::NestingTooDeep { limit: 64 });
    let mut list = b"* LIST () \"/\" x (\"a\" ".to_vec();
    list.extend(std::iter::repeat_n(b'(', 100_000));
    let error = parse::response(&list, &ResponseOptions::strict()).unwrap_err();
    assert_eq!(error.kind, ParseErrorKind::NestingTooDeep { limit: 64 });
}

#[test]
fn bad_input_says_what_and_where() {
    let error = parse::command(b"a1 FETCH 1 (FLAGS UID").unwrap_err();
    assert_eq!(error.offset, 21, "{error}");
    let error = parse::command(b"a1 SELECT \"in\0box\"").unwrap_err();
    assert_eq!(error.offset, 13, "{error}");
    let error = parse::command(b"a1 LOGIN \"a\rb\" c").unwrap_err();
    assert_eq!(error.offset, 11, "{error}");
    let error = parse::command(b"a1 FROB x").unwrap_err();
    assert!(error.to_string().contains("known command"), "{error}");
    let error =
        parse::response(b"* 1 FETCH (FLAGS (\\Seen)", &ResponseOptions::strict()).unwrap_err();
    assert_eq!(error.offset, 24, "{error}");
    assert!(parse::command(b"a1 NOOP)").is_err());
    assert!(parse::command(b"a1 LOGIN {3}\r\nab").is_err());
    assert!(
        parse::command(b"a1 LOGIN {3}\r\na\0b c").is_err(),
        "NUL in a literal"
    );
}

#[test]
fn modified_utf7_mailbox_names_round_trip_exactly() {
    let command = parse::command(b"a CREATE Entw&APw-rfe").unwrap();
    let CommandBody::Create { mailbox, .. } = command.body else {
        panic!()
    };
    assert_eq!(mailbox.as_bytes(), b"Entw&APw-rfe");
    assert_eq!(mailbox.to_unicode().unwrap(), "Entwürfe");
    assert_eq!(Mailbox::from_unicode("Entwürfe").unwrap(), mailbox);
    // Not canonical: kept as sent, decoding reports it.
    let command = parse::command(b"a CREATE &AGE-").unwrap();
    let CommandBody::Create { mailbox, .. } = command.body else {
        panic!()
    };
    assert_eq!(mailbox.as_bytes(), b"&AGE-");
    assert!(mailbox.to_unicode().is_err());
}

/// Commands with literals of every kind, for the split property.
fn command_stream() -> impl Strategy<Value = Vec<u8>> {
    let one = prop_oneof![
        Just(b"a1 NOOP\r\n".to_vec()),
        Just(b"a2 LOGIN {5}\r\nalice {6+}\r\nsecret\r\n".to_vec()),
        Just(
            b"a3 APPEND INBOX (\\Seen) {40}\r\n0123456789012345678901234567890123456789\r\n"
                .to_vec()
        ),
        Just(b"a4 APPEND INBOX ~{3}\r\na\0b\r\n".to_vec()),
        Just(b"a5 SELECT {3000}\r\n".to_vec()),
        Just(b"a6 SEARCH TEXT {20+}\r\n01234567890123456789\r\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..80),
        proptest::collection::vec(
            prop_oneof![
                Just(b'{'),
                Just(b'}'),
                Just(b'\n'),
                Just(b'5'),
                Just(b'+'),
                Just(b'a')
            ],
            0..40
        ),
    ];
    proptest::collection::vec(one, 0..8).prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn any_split_gives_the_same_events(
        input in command_stream(),
        cuts in proptest::collection::vec(0usize..2000, 0..6),
        client in any::<bool>(),
    ) {
        let role = if client { Role::Client } else { Role::Server };
        let (whole, _) = events(role, small(), &[&input]);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
        cuts.sort();
        let mut chunks = Vec::new();
        let mut at = 0;
        for cut in cuts { chunks.push(&input[at..cut]); at = cut; }
        chunks.push(&input[at..]);
        prop_assert_eq!(&events(role, small(), &chunks).0, &whole);
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        let (one_by_one, most) = events(role, small(), &bytes);
        prop_assert_eq!(&one_by_one, &whole);
        prop_assert!(most <= small().max_message_length + 32);
        for event in &whole {
            if let Event::Message(message) = event {
                let _ = parse::command(message);
                let _ = parse::response(message, &ResponseOptions::tolerant());
            }
        }
    }
}

/// The deepest structures the limit allows parse on a test thread's default stack (2 MiB),
/// unoptimised.
#[test]
fn structures_at_the_depth_limit_fit_on_the_stack() {
    let envelope = "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)";
    let mut body = String::from("(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1)");
    for _ in 0..63 {
        body = format!("(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 1 {envelope} {body} 1)");
    }
    let response = format!("* 1 FETCH (BODYSTRUCTURE {body})");
    parse::response(response.as_bytes(), &ResponseOptions::strict()).unwrap();
    let mut multipart = String::from("(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1)");
    for _ in 0..63 {
        multipart = format!("({multipart} \"MIXED\")");
    }
    let response = format!("* 1 FETCH (BODY {multipart})");
    parse::response(response.as_bytes(), &ResponseOptions::strict()).unwrap();
    let extension = format!(
        "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1 NIL NIL NIL NIL {}1{})",
        "(".repeat(62),
        ")".repeat(62)
    );
    let response = format!("* 1 FETCH (BODYSTRUCTURE {extension})");
    parse::response(response.as_bytes(), &ResponseOptions::strict()).unwrap();
    let search = format!("a SEARCH {}ALL{}", "(".repeat(63), ")".repeat(63));
    parse::command(search.as_bytes()).unwrap();
    let search = format!("a SEARCH {}ALL", "NOT ".repeat(63));
    parse::command(search.as_bytes()).unwrap();
}

/// Resuming on more input never re-scans what was seen: a message with many literals, and a
/// long line, fed one octet at a time, are searched for line ends once, octet for octet
/// (imap-next#129 re-scanned and was quadratic here). Counted, not timed.
#[test]
fn cost_is_linear_in_the_input_however_it_is_split() {
    let mut input = b"a SEARCH".to_vec();
    for _ in 0..2_000 {
        input.extend_from_slice(b" TEXT {1}\r\nx");
    }
    input.extend_from_slice(b"\r\nb SEARCH TEXT \"");
    input.extend(std::iter::repeat_n(b'y', 12_000));
    input.extend_from_slice(b"\"\r\n");
    for step in [1, 7, input.len()] {
        let mut framer = Framer::new(Role::Server, FramerOptions::default());
        let mut pending: Vec<u8> = Vec::new();
        let mut messages = 0;
        for piece in input.chunks(step) {
            pending.extend_from_slice(piece);
            loop {
                let (used, frame) = framer.next(&pending);
                let message = matches!(frame, Frame::Message);
                let incomplete = matches!(frame, Frame::Incomplete);
                pending.drain(..used);
                if message {
                    messages += 1;
                }
                if incomplete {
                    break;
                }
            }
        }
        assert_eq!(messages, 2, "split every {step}");
        assert!(
            framer.octets_examined() <= input.len() as u64,
            "split every {step}: {} octets searched for {} of input",
            framer.octets_examined(),
            input.len()
        );
    }
}
