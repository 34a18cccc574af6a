//! The Sans-IO contract of `mail_session::session`, held by the POP3 server session: an
//! unanswered event is its own step, answers out of turn are refused without a change, the
//! same login answers as every protocol, and too many bad commands end the session.

use std::time::Instant;

use mail_session::{LoginRejection, Progress, Session};
use pop3_proto::server::{Event, MaildropEntry, Options, ServerSession, TlsMode};
use pop3_proto::types::{ResponseCode, StatusLine};

fn session(tls: TlsMode, allow_plaintext_auth: bool) -> ServerSession {
    ServerSession::new({
        let mut options = Options::default();
        options.tls = tls;
        options.allow_plaintext_auth = allow_plaintext_auth;
        options
    })
}

/// What the session writes until its next step that is not output, and that step's event.
fn until_event(session: &mut ServerSession) -> (String, Option<Event>) {
    let mut wire = String::new();
    loop {
        match session.next(Instant::now()) {
            Progress::Output(bytes) => wire.push_str(&String::from_utf8_lossy(bytes)),
            Progress::Event(event) => return (wire, Some(event)),
            _ => return (wire, None),
        }
    }
}

fn drain_output(session: &mut ServerSession) -> String {
    let (wire, event) = until_event(session);
    assert!(event.is_none(), "unexpected {event:?}");
    wire
}

#[test]
fn an_unanswered_login_is_awaited_and_wrong_answers_change_nothing() {
    let mut session = session(TlsMode::Unavailable, true);
    session.enqueue_input(b"USER alice\r\nPASS secret\r\nSTAT\r\n");
    let mut wire = String::new();
    loop {
        match session.next(Instant::now()) {
            Progress::Output(bytes) => wire.push_str(&String::from_utf8_lossy(bytes)),
            Progress::Event(Event::Login { .. }) => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(wire, "+OK POP3 server ready\r\n+OK send PASS\r\n");
    assert!(matches!(
        session.next(Instant::now()),
        Progress::AwaitingAnswer
    ));
    let refused = session
        .start_message(Default::default())
        .expect_err("no retrieval is awaited");
    assert_eq!(refused.answer(), "start_message");
    assert_eq!(refused.waiting_for(), "an answer to Event::Login");
    assert!(session.end_message().is_err());
    assert!(session.finish_update(Ok(())).is_err());
    assert!(session.refuse_message(StatusLine::err("x")).is_err());
    assert!(matches!(
        session.next(Instant::now()),
        Progress::AwaitingAnswer
    ));
    session
        .accept_login(vec![MaildropEntry {
            size: 10,
            unique_id: "a".into(),
        }])
        .expect("the login is awaited");
    assert!(session.accept_login(Vec::new()).is_err(), "only one answer");
    assert_eq!(
        drain_output(&mut session),
        "+OK maildrop locked and ready (1 messages, 10 octets)\r\n+OK 1 10\r\n"
    );
}

#[test]
fn every_login_rejection_is_said_in_pop3_words() {
    for (rejection, expected) in [
        (LoginRejection::Credentials, "-ERR [AUTH] "),
        (LoginRejection::NotPermitted, "-ERR [AUTH] "),
        (LoginRejection::InUse, "-ERR [IN-USE] "),
        (LoginRejection::Temporary, "-ERR [SYS/TEMP] "),
    ] {
        let mut session = session(TlsMode::Unavailable, true);
        session.enqueue_input(b"USER a\r\nPASS b\r\n");
        assert!(matches!(
            until_event(&mut session).1,
            Some(Event::Login { .. })
        ));
        session.reject_login(rejection).unwrap();
        let wire = drain_output(&mut session);
        assert!(wire.starts_with(expected), "{rejection:?}: {wire}");
    }
}

#[test]
fn a_refusal_is_sent_as_err_whatever_it_says() {
    let mut session = session(TlsMode::Unavailable, true);
    session.enqueue_input(b"USER a\r\nPASS b\r\nRETR 1\r\n");
    assert!(matches!(
        until_event(&mut session).1,
        Some(Event::Login { .. })
    ));
    session
        .accept_login(vec![MaildropEntry {
            size: 3,
            unique_id: "a".into(),
        }])
        .unwrap();
    assert!(matches!(
        until_event(&mut session).1,
        Some(Event::Retrieve { .. })
    ));
    let mut refusal = StatusLine::err_with(ResponseCode::SysTemp, "cannot read it now");
    refusal.ok = true;
    session.refuse_message(refusal).unwrap();
    assert_eq!(
        drain_output(&mut session),
        "-ERR [SYS/TEMP] cannot read it now\r\n"
    );
}

#[test]
fn without_tls_the_plaintext_refusal_does_not_point_to_stls() {
    let mut session = session(TlsMode::Unavailable, false);
    session.enqueue_input(b"USER alice\r\n");
    let wire = drain_output(&mut session);
    assert!(wire.contains("-ERR [AUTH] "), "{wire}");
    assert!(!wire.contains("STLS"), "{wire}");
    let mut offered = self::session(TlsMode::StartTls, false);
    offered.enqueue_input(b"USER alice\r\n");
    assert!(drain_output(&mut offered).contains("use STLS first"));
}

#[test]
fn a_client_sending_only_garbage_is_disconnected() {
    let mut session = session(TlsMode::Unavailable, true);
    for _ in 0..1000 {
        session.enqueue_input(b"XYZZY\r\n");
    }
    let wire = drain_output(&mut session);
    assert!(matches!(session.next(Instant::now()), Progress::Close));
    assert_eq!(wire.matches("-ERR").count(), 21, "20 errors, then goodbye");
    assert!(wire.ends_with("-ERR too many errors, closing connection\r\n"));
}
