//! The encoder's choices: atom, quoted or literal; where a client must wait for `+`.

use imap4_proto::encode::{self, Fragment, LiteralPolicy};
use imap4_proto::parse::{self, ResponseOptions};
use imap4_proto::types::*;

fn command(line: &[u8], policy: LiteralPolicy) -> Vec<Fragment> {
    let command = parse::command(line).unwrap();
    encode::command(&command, policy).fragments().to_vec()
}

fn data(bytes: &[u8]) -> Fragment {
    Fragment::Data(bytes.to_vec())
}

#[test]
fn strings_become_atoms_quoted_strings_or_literals_as_needed() {
    let encoded = command(b"a LOGIN {5}\r\nalice \"pass word\"", LiteralPolicy::Sync);
    assert_eq!(encoded, vec![data(b"a LOGIN alice \"pass word\"\r\n")]);
    let encoded = command(b"a SELECT \"\"", LiteralPolicy::Sync);
    assert_eq!(encoded, vec![data(b"a SELECT \"\"\r\n")]);
    let encoded = command(b"a SELECT \"a\\\\b\\\"c\"", LiteralPolicy::Sync);
    assert_eq!(encoded, vec![data(b"a SELECT \"a\\\\b\\\"c\"\r\n")]);
}

#[test]
fn a_client_waits_after_each_synchronizing_literal() {
    let line = b"a LOGIN {2}\r\n\xc3\xa4 {2}\r\n\r\n";
    assert_eq!(
        command(line, LiteralPolicy::Sync),
        vec![
            data(b"a LOGIN {2}\r\n"),
            Fragment::AwaitContinuation,
            data(b"\xc3\xa4 {2}\r\n"),
            Fragment::AwaitContinuation,
            data(b"\r\n\r\n"),
        ]
    );
    assert_eq!(
        command(line, LiteralPolicy::NonSync),
        vec![data(b"a LOGIN {2+}\r\n\xc3\xa4 {2+}\r\n\r\n\r\n")]
    );
}

#[test]
fn literal_minus_allows_non_synchronizing_literals_up_to_4096_octets() {
    let mut small = b"a APPEND INBOX {4096}\r\n".to_vec();
    small.extend(std::iter::repeat_n(b'x', 4096));
    let encoded = command(&small, LiteralPolicy::NonSyncUpTo4096);
    assert_eq!(encoded.len(), 1);
    assert!(
        matches!(&encoded[0], Fragment::Data(d) if d.starts_with(b"a APPEND INBOX {4096+}\r\n"))
    );
    let mut large = b"a APPEND INBOX {4097}\r\n".to_vec();
    large.extend(std::iter::repeat_n(b'x', 4097));
    let encoded = command(&large, LiteralPolicy::NonSyncUpTo4096);
    assert_eq!(encoded[0], data(b"a APPEND INBOX {4097}\r\n"));
    assert_eq!(encoded[1], Fragment::AwaitContinuation);
}

#[test]
fn a_streamed_append_leaves_room_for_the_callers_octets() {
    let command = Command {
        tag: Tag::try_from("a").unwrap(),
        body: CommandBody::Append {
            mailbox: Mailbox::Inbox,
            flags: None,
            date: None,
            message: Payload::Streamed(50_000_000),
            binary: false,
            utf8: false,
        },
    };
    let encoded = encode::command(&command, LiteralPolicy::Sync);
    assert_eq!(
        encoded.fragments(),
        &[
            data(b"a APPEND INBOX {50000000}\r\n"),
            Fragment::AwaitContinuation,
            Fragment::StreamedLiteral { size: 50_000_000 },
            data(b"\r\n"),
        ]
    );
    assert_eq!(encoded.to_bytes(), None);
}

#[test]
fn server_literals_never_wait() {
    let response = parse::response(
        b"* 1 FETCH (BODY[] {3}\r\na\r\n)",
        &ResponseOptions::strict(),
    )
    .unwrap();
    assert_eq!(
        encode::response(&response).fragments(),
        &[data(b"* 1 FETCH (BODY[] {3}\r\na\r\n)\r\n")]
    );
}

#[test]
fn the_start_of_an_append_is_known_before_its_message() {
    let start =
        parse::append_start(b"A1 APPEND saved (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" ~{11+}\0")
            .unwrap();
    assert_eq!(start.tag.as_str(), "A1");
    assert_eq!(start.flags, Some(vec![Flag::Seen]));
    assert!(start.date.is_some() && start.binary);
    assert_eq!(start.size, 11);
    assert!(parse::append_start(b"A1 APPEND {5}\r\n").is_err());
    let start = parse::append_start(b"A2 APPEND INBOX UTF8 (~{4}\0").unwrap();
    assert!(start.utf8 && start.binary && start.size == 4);
}
