//! The Sans-IO contract of `mail_session::session`, held by the submission server session:
//! an unanswered event is its own step, answers out of turn are refused without a change,
//! output leaves in wire order under pipelining, and the output buffer is reused.

use std::time::Instant;

use mail_session::{LoginRejection, OutOfTurn, Progress, Session};
use smtp_submit::server::{Event, Options, ServerSession, TlsMode};

fn session() -> ServerSession {
    ServerSession::new({
        let mut options = Options::default();
        options.allow_plaintext_auth = true;
        options.require_auth = false;
        options.tls = TlsMode::Unavailable;
        options.hostname = "mx.example.org".into();
        options
    })
}

fn output(session: &mut ServerSession) -> String {
    match session.next(Instant::now()) {
        Progress::Output(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        other => panic!("expected output, got {other:?}"),
    }
}

#[test]
fn an_unanswered_event_is_awaited_not_mistaken_for_a_need_for_input() {
    let mut session = session();
    session.enqueue_input(b"EHLO c.example\r\nMAIL FROM:<a@example.org>\r\n");
    assert!(output(&mut session).starts_with("220 "));
    assert!(output(&mut session).starts_with("250-mx.example.org"));
    assert!(matches!(
        session.next(Instant::now()),
        Progress::Event(Event::Mail { .. })
    ));
    for _ in 0..3 {
        assert!(matches!(
            session.next(Instant::now()),
            Progress::AwaitingAnswer
        ));
    }
    session.accept_mail().expect("MAIL is awaited");
    assert!(output(&mut session).starts_with("250 2.1.0"));
    assert!(matches!(
        session.next(Instant::now()),
        Progress::NeedMoreInput
    ));
}

#[test]
fn answers_out_of_turn_are_refused_and_change_nothing() {
    let mut session = session();
    session.enqueue_input(b"EHLO c.example\r\nMAIL FROM:<a@example.org>\r\n");
    let _ = output(&mut session);
    let _ = output(&mut session);
    assert!(matches!(
        session.next(Instant::now()),
        Progress::Event(Event::Mail { .. })
    ));
    let refused: OutOfTurn = session.accept_rcpt().expect_err("RCPT is not awaited");
    assert_eq!(refused.answer(), "accept_rcpt");
    assert_eq!(refused.waiting_for(), "an answer to Event::Mail");
    assert!(session.accept_login("alice").is_err());
    assert!(session.reject_login(LoginRejection::Credentials).is_err());
    assert!(session.start_message().is_err());
    assert!(session.accept_message("queued").is_err());
    assert!(session.take_message_data(|_| {}).is_err());
    assert!(
        matches!(session.next(Instant::now()), Progress::AwaitingAnswer),
        "nothing was said"
    );
    session.accept_mail().expect("MAIL is still awaited");
    assert!(output(&mut session).starts_with("250 2.1.0"));
    assert!(session.accept_mail().is_err(), "a second answer is refused");
}

#[test]
fn replies_to_earlier_pipelined_commands_leave_before_a_later_event() {
    let mut session = session();
    session.enqueue_input(
        b"EHLO c.example\r\nNOOP\r\nRSET\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n",
    );
    let mut wire = String::new();
    loop {
        match session.next(Instant::now()) {
            Progress::Output(bytes) => wire.push_str(&String::from_utf8_lossy(bytes)),
            Progress::Event(Event::Mail { .. }) => {
                assert!(wire.starts_with("220 "), "{wire:?}");
                assert_eq!(
                    wire.matches("\r\n250 ").count(),
                    3,
                    "EHLO, NOOP and RSET were answered before MAIL came out: {wire:?}"
                );
                session.accept_mail().unwrap();
            }
            Progress::Event(Event::Rcpt { .. }) => {
                assert!(wire.ends_with("250 2.1.0 Sender OK\r\n"), "{wire:?}");
                session.accept_rcpt().unwrap();
            }
            Progress::NeedMoreInput => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(wire.ends_with("250 2.1.5 Recipient OK\r\n"));
}

#[test]
fn output_reuses_one_buffer_from_step_to_step() {
    let mut session = session();
    session.enqueue_input(b"NOOP\r\n");
    let greeting = match session.next(Instant::now()) {
        Progress::Output(bytes) => bytes.as_ptr(),
        other => panic!("{other:?}"),
    };
    let noop = match session.next(Instant::now()) {
        Progress::Output(bytes) => bytes.as_ptr(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        greeting, noop,
        "the second reply was written where the first was"
    );
}

#[test]
fn without_tls_and_without_plaintext_auth_the_refusal_does_not_point_to_starttls() {
    let mut session = ServerSession::new({
        let mut options = Options::default();
        options.tls = TlsMode::Unavailable;
        options
    });
    session.enqueue_input(b"EHLO c.example\r\nAUTH PLAIN AGEAYg==\r\n");
    let mut wire = String::new();
    while let Progress::Output(bytes) = session.next(Instant::now()) {
        wire.push_str(&String::from_utf8_lossy(bytes));
    }
    assert!(!wire.contains("STARTTLS"), "{wire}");
    assert!(wire.contains("538 5.7.11 "), "{wire}");
}
