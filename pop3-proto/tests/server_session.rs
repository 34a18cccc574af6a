//! Transcript tests of the Sans-IO server session, with an in-memory maildrop answering its
//! events; no sockets, no clock.

use std::time::{Duration, Instant};

use mail_session::{Progress, Session};
mod common;

use common::Maildrop;
use pop3_proto::server::{Event, MessageShape, Options, ServerSession, TlsMode};

/// Feeds `input` in pieces of `step` bytes, answering events, until the session waits or closes.
fn run(
    session: &mut ServerSession,
    maildrop: &mut Maildrop,
    input: &[u8],
    step: usize,
) -> (String, bool) {
    let now = Instant::now();
    let mut output = Vec::new();
    let mut chunks = input.chunks(step.max(1));
    loop {
        match session.next(now) {
            Progress::Output(bytes) => output.extend(bytes),
            Progress::Event(event) => maildrop.answer(session, event).expect("answered in turn"),
            Progress::AwaitingAnswer => panic!("an event was left unanswered"),
            Progress::NeedMoreInput => match chunks.next() {
                Some(chunk) => session.enqueue_input(chunk),
                None => return (String::from_utf8_lossy(&output).into_owned(), false),
            },
            Progress::StartTls => {
                output.extend_from_slice(b"<TLS>");
                session.tls_established();
            }
            Progress::Close => return (String::from_utf8_lossy(&output).into_owned(), true),
        }
    }
}

fn plain_options() -> Options {
    {
        let mut options = Options::default();
        options.tls = TlsMode::StartTls;
        options.allow_plaintext_auth = true;
        options.greeting = "POP3 server ready".into();
        options
    }
}

const MESSAGE_1: &[u8] = b"Subject: one\r\n\r\nhello\r\n.dot line\r\n";
const MESSAGE_2: &[u8] = b"Subject: two\nX: y\n\nline 1\nline 2\n.\nline 4\n";

#[test]
fn rfc1939_session_with_pipelined_commands() {
    let mut session = ServerSession::new(plain_options());
    let mut maildrop = Maildrop::new(&[MESSAGE_1, MESSAGE_2]);
    let input = b"USER mrose\r\nPASS tanstaaf\r\nSTAT\r\nLIST\r\nLIST 2\r\nUIDL\r\nRETR 1\r\nDELE 1\r\nRETR 1\r\nLIST 1\r\nTOP 2 2\r\nQUIT\r\n";
    let (output, closed) = run(&mut session, &mut maildrop, input, input.len());
    assert!(closed);
    let expected = "+OK POP3 server ready\r\n\
        +OK send PASS\r\n\
        +OK maildrop locked and ready (2 messages, 83 octets)\r\n\
        +OK 2 83\r\n\
        +OK 2 messages (83 octets)\r\n1 34\r\n2 49\r\n.\r\n\
        +OK 2 49\r\n\
        +OK unique-id listing follows\r\n1 uid-1\r\n2 uid-2\r\n.\r\n\
        +OK 34 octets\r\nSubject: one\r\n\r\nhello\r\n..dot line\r\n.\r\n\
        +OK message 1 deleted\r\n\
        -ERR message 1 already deleted\r\n\
        -ERR message 1 already deleted\r\n\
        +OK top of message follows\r\nSubject: two\r\nX: y\r\n\r\nline 1\r\nline 2\r\n.\r\n\
        +OK POP3 server signing off\r\n";
    assert_eq!(output, expected);
    assert_eq!(maildrop.removed, [1]);
}

#[test]
fn one_byte_at_a_time_gives_the_same_conversation() {
    let input = b"CAPA\r\nUSER mrose\r\nPASS tanstaaf\r\nRETR 2\r\nTOP 1 0\r\nDELE 2\r\nRSET\r\nSTAT\r\nNOOP\r\nQUIT\r\n";
    let whole = run(
        &mut ServerSession::new(plain_options()),
        &mut Maildrop::new(&[MESSAGE_1, MESSAGE_2]),
        input,
        input.len(),
    );
    for step in [1, 2, 3, 5, 13] {
        let mut maildrop = Maildrop::new(&[MESSAGE_1, MESSAGE_2]);
        maildrop.chunk = step;
        let split = run(
            &mut ServerSession::new(plain_options()),
            &mut maildrop,
            input,
            step,
        );
        assert_eq!(split, whole, "split every {step} bytes");
    }
}

#[test]
fn rset_unmarks_and_a_dropped_connection_deletes_nothing() {
    let mut session = ServerSession::new(plain_options());
    let mut maildrop = Maildrop::new(&[MESSAGE_1, MESSAGE_2]);
    let (output, closed) = run(
        &mut session,
        &mut maildrop,
        b"USER mrose\r\nPASS tanstaaf\r\nDELE 1\r\nDELE 2\r\nSTAT\r\nRSET\r\nSTAT\r\nDELE 2\r\n",
        1000,
    );
    assert!(!closed);
    assert!(output.contains("+OK 0 0\r\n"));
    assert!(output.contains("+OK maildrop has 2 messages (83 octets)\r\n"));
    session.input_closed();
    assert!(matches!(session.next(Instant::now()), Progress::Close));
    assert!(maildrop.removed.is_empty(), "no UPDATE without QUIT");
}

#[test]
fn passwords_are_refused_before_tls_and_accepted_after_stls() {
    let mut options = plain_options();
    options.allow_plaintext_auth = false;
    let mut session = ServerSession::new(options);
    let mut maildrop = Maildrop::new(&[MESSAGE_1]);
    let (output, _) = run(
        &mut session,
        &mut maildrop,
        b"CAPA\r\nUSER mrose\r\nAUTH PLAIN AG1yb3NlAHRhbnN0YWFm\r\nSTLS\r\nINJECTED\r\n",
        1000,
    );
    assert!(output.contains("STLS\r\n"), "{output}");
    assert!(
        !output.contains("\r\nUSER\r\n"),
        "USER not offered before TLS: {output}"
    );
    assert!(
        !output.contains("SASL"),
        "no SASL offered before TLS: {output}"
    );
    assert_eq!(
        output
            .matches("-ERR [AUTH] Plaintext authentication disallowed")
            .count(),
        2
    );
    assert!(
        output.ends_with("+OK Begin TLS negotiation now\r\n<TLS>"),
        "{output}"
    );
    assert!(session.is_tls());
    let (output, _) = run(
        &mut session,
        &mut maildrop,
        b"CAPA\r\nSTLS\r\nAUTH PLAIN AG1yb3NlAHRhbnN0YWFm\r\nSTAT\r\n",
        1000,
    );
    assert!(
        !output.contains("INJECTED") && !output.contains("unknown command"),
        "plaintext after STLS was dropped: {output}"
    );
    assert!(output.contains("\r\nUSER\r\n") && output.contains("SASL PLAIN LOGIN\r\n"));
    assert!(!output.contains("\r\nSTLS\r\n"), "no STLS once TLS is on");
    assert!(output.contains("-ERR TLS is already active"));
    assert!(output.contains("+OK maildrop locked and ready"), "{output}");
    assert!(output.contains("+OK 1 34"), "{output}");
}

#[test]
fn sasl_login_with_cancel_and_wrong_password() {
    let mut session = ServerSession::new(plain_options());
    let mut maildrop = Maildrop::new(&[MESSAGE_1]);
    // LOGIN: username "mrose", then "*" cancels; then PLAIN with a wrong password; then LOGIN.
    let input = b"AUTH LOGIN\r\nbXJvc2U=\r\n*\r\nAUTH PLAIN AG1yb3NlAHdyb25n\r\nAUTH LOGIN bXJvc2U=\r\ndGFuc3RhYWY=\r\nSTAT\r\n";
    let (output, _) = run(&mut session, &mut maildrop, input, 1000);
    let expected = "+OK POP3 server ready\r\n\
        + VXNlcm5hbWU6\r\n\
        + UGFzc3dvcmQ6\r\n\
        -ERR [AUTH] authentication cancelled by the client\r\n\
        -ERR [AUTH] authentication failed\r\n\
        + UGFzc3dvcmQ6\r\n\
        +OK maildrop locked and ready (1 messages, 34 octets)\r\n\
        +OK 1 34\r\n";
    assert_eq!(output, expected);
}

#[test]
fn a_locked_maildrop_is_reported_in_use() {
    let mut session = ServerSession::new(plain_options());
    let mut maildrop = Maildrop::new(&[MESSAGE_1]);
    maildrop.in_use = true;
    let (output, _) = run(
        &mut session,
        &mut maildrop,
        b"USER mrose\r\nPASS tanstaaf\r\nSTAT\r\n",
        1000,
    );
    assert!(
        output.contains("-ERR [IN-USE] maildrop is locked"),
        "{output}"
    );
    assert!(
        output.ends_with("-ERR STAT is not valid before login\r\n"),
        "{output}"
    );
}

#[test]
fn bad_input_gets_errors_and_the_session_goes_on() {
    let mut session = ServerSession::new(plain_options());
    let mut maildrop = Maildrop::new(&[MESSAGE_1]);
    let mut input = Vec::new();
    input.extend_from_slice(b"XYZZY\r\n\r\nRETR 1\r\nUSER\r\n\0\0\0\r\n");
    input.extend(std::iter::repeat_n(b'A', 100_000));
    input.extend_from_slice(b" RETR 1\r\nUSER mrose\r\nPASS tanstaaf\r\nRETR 0\r\nRETR 9\r\nTOP 1\r\nLIST x\r\nQUIT\r\n");
    let (output, closed) = run(&mut session, &mut maildrop, &input, 4096);
    assert!(closed);
    let lines: Vec<&str> = output.split("\r\n").collect();
    assert_eq!(
        lines,
        [
            "+OK POP3 server ready",
            "-ERR unknown command",
            "-ERR empty command",
            "-ERR RETR is not valid before login",
            "-ERR invalid arguments to USER: USER name",
            "-ERR unknown command",
            "-ERR line too long",
            "+OK send PASS",
            "+OK maildrop locked and ready (1 messages, 34 octets)",
            "-ERR invalid arguments to RETR: a message number",
            "-ERR no such message: 9",
            "-ERR invalid arguments to TOP: TOP message lines",
            "-ERR invalid arguments to LIST: an optional message number",
            "+OK POP3 server signing off",
            ""
        ]
    );
}

#[test]
fn inactivity_closes_without_update_or_answer() {
    let mut options = plain_options();
    options.inactivity_timeout = Duration::from_secs(600);
    let mut session = ServerSession::new(options);
    let mut maildrop = Maildrop::new(&[MESSAGE_1]);
    run(
        &mut session,
        &mut maildrop,
        b"USER mrose\r\nPASS tanstaaf\r\nDELE 1\r\n",
        1000,
    );
    let deadline = session.poll_timeout().expect("a timer runs");
    let start = Instant::now();
    assert!(deadline >= start + Duration::from_secs(599));
    session.handle_timeout(deadline);
    assert!(matches!(session.next(deadline), Progress::Close));
    assert!(maildrop.removed.is_empty());
}

#[test]
fn utf8_headers_need_utf8_mode() {
    let mut session = ServerSession::new(plain_options());
    let mut maildrop = Maildrop::new(&[MESSAGE_1]);
    run(
        &mut session,
        &mut maildrop,
        b"USER mrose\r\nPASS tanstaaf\r\n",
        1000,
    );
    session.enqueue_input(b"RETR 1\r\n");
    let now = Instant::now();
    let Progress::Event(Event::Retrieve { .. }) = session.next(now) else {
        panic!()
    };
    session
        .start_message(MessageShape {
            needs_utf8: true,
            crlf_line_ends: false,
        })
        .expect("a retrieval is awaited");
    let Progress::Output(bytes) = session.next(now) else {
        panic!()
    };
    assert_eq!(
        bytes,
        b"-ERR [UTF8] message has UTF-8 header fields: send UTF8 first\r\n"
    );
    // In UTF-8 mode (entered before login) the same message is sent.
    let mut session = ServerSession::new(plain_options());
    let (output, _) = run(
        &mut session,
        &mut maildrop,
        b"UTF8\r\nUSER mrose\r\nPASS tanstaaf\r\n",
        1000,
    );
    assert!(output.contains("+OK UTF8 enabled"));
    session.enqueue_input(b"RETR 1\r\n");
    let Progress::Event(Event::Retrieve { .. }) = session.next(now) else {
        panic!()
    };
    session
        .start_message(MessageShape {
            needs_utf8: true,
            crlf_line_ends: false,
        })
        .expect("a retrieval is awaited");
    let Progress::Output(bytes) = session.next(now) else {
        panic!()
    };
    assert_eq!(bytes, b"+OK 34 octets\r\n");
}

#[test]
fn shutdown_says_so_and_deletes_nothing() {
    let mut session = ServerSession::new(plain_options());
    let mut maildrop = Maildrop::new(&[MESSAGE_1]);
    run(
        &mut session,
        &mut maildrop,
        b"USER mrose\r\nPASS tanstaaf\r\nDELE 1\r\n",
        1000,
    );
    session.shutdown_requested();
    let (output, closed) = run(&mut session, &mut maildrop, b"", 1);
    assert!(closed);
    assert_eq!(output, "-ERR [SYS/TEMP] server shutting down\r\n");
    assert!(maildrop.removed.is_empty());
}

#[test]
fn the_pre_authentication_timeout_applies_until_login() {
    let mut options = plain_options();
    options.pre_auth_timeout = Duration::from_secs(30);
    let mut session = ServerSession::new(options);
    let mut maildrop = Maildrop::new(&[MESSAGE_1]);
    let before = Instant::now();
    let (_, closed) = run(&mut session, &mut maildrop, b"CAPA\r\n", 100);
    assert!(!closed);
    let deadline = session.poll_timeout().expect("a timer runs");
    assert!(deadline >= before + Duration::from_secs(30));
    assert!(
        deadline <= Instant::now() + Duration::from_secs(30),
        "before login the short timeout applies"
    );
    let (output, _) = run(
        &mut session,
        &mut maildrop,
        b"USER mrose\r\nPASS tanstaaf\r\n",
        100,
    );
    assert!(output.contains("maildrop locked"), "{output}");
    let deadline = session.poll_timeout().expect("a timer runs");
    assert!(
        deadline >= before + Duration::from_secs(600),
        "after login the inactivity timeout applies"
    );
    assert_eq!(
        Options::default().pre_auth_timeout,
        Duration::from_secs(600),
        "the default is RFC 1939's minimum"
    );
}
