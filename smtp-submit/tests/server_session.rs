//! The server session driven by hand: command order, limits, pipelining, DATA and BDAT,
//! STARTTLS, timeouts. An application stub accepts `alice`/`secret`, senders and recipients at
//! `example.org`, and keeps message bodies.

use std::time::{Duration, Instant};

use mail_session::{LoginRejection, OutOfTurn, Progress, Session};
use smtp_submit::server::{Event, Options, ServerSession, TlsMode};
use smtp_submit::types::{ForwardPath, Reply, ReversePath};

#[derive(Default)]
struct App {
    delivered: Vec<Vec<u8>>,
    current: Vec<u8>,
    aborted: usize,
    starts: usize,
}

impl App {
    fn answer(&mut self, session: &mut ServerSession, event: Event) -> Result<(), OutOfTurn> {
        match event {
            Event::Login { credentials } => {
                if credentials.username == "alice" && credentials.password.matches("secret") {
                    session.accept_login("alice")
                } else {
                    session.reject_login(LoginRejection::Credentials)
                }
            }
            Event::Mail { from, .. } => match from {
                ReversePath::Mailbox(mailbox) if mailbox.local_part.as_str() != "alice" => {
                    session.reject_mail(Reply::new(553, Some((5, 7, 1)), "not your address"))
                }
                _ => session.accept_mail(),
            },
            Event::Rcpt { to, .. } => match to {
                ForwardPath::Mailbox(mailbox) if mailbox.local_part.as_str() == "nobody" => {
                    session.reject_rcpt(Reply::new(550, Some((5, 1, 1)), "no such user"))
                }
                _ => session.accept_rcpt(),
            },
            Event::MessageStart { .. } => {
                self.starts += 1;
                self.current.clear();
                session.start_message()
            }
            Event::MessageData => session
                .take_message_data(|part| self.current.extend_from_slice(part))
                .map(drop),
            Event::MessageEnd { size, .. } => {
                assert_eq!(size as usize, self.current.len());
                self.delivered.push(std::mem::take(&mut self.current));
                session.accept_message("queued")
            }
            Event::MessageAborted { .. } => {
                self.aborted += 1;
                self.current.clear();
                Ok(())
            }
            _ => unreachable!(),
        }
    }
}

/// Feeds `input` in pieces of `step` octets, answering events, and returns what the server
/// wrote and whether it closed.
fn run(session: &mut ServerSession, app: &mut App, input: &[u8], step: usize) -> (String, bool) {
    let now = Instant::now();
    let mut output = Vec::new();
    let mut pieces = input.chunks(step.max(1));
    loop {
        match session.next(now) {
            Progress::Output(bytes) => output.extend_from_slice(bytes),
            Progress::Event(event) => app
                .answer(session, event)
                .expect("the answer is the one the session waits for"),
            Progress::AwaitingAnswer => panic!("an event was left unanswered"),
            Progress::NeedMoreInput => match pieces.next() {
                Some(piece) => session.enqueue_input(piece),
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

fn plaintext_options() -> Options {
    {
        let mut options = Options::default();
        options.allow_plaintext_auth = true;
        options.tls = TlsMode::Unavailable;
        options.hostname = "mx.example.org".into();
        options
    }
}

fn codes(output: &str) -> Vec<&str> {
    output
        .split("\r\n")
        .filter(|line| line.len() >= 4 && &line[3..4] == " ")
        .map(|line| &line[..3])
        .collect()
}

const AUTH: &str = "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n";

#[test]
fn a_pipelined_submission_is_answered_in_order() {
    let input = format!(
        "EHLO client.example\r\n{AUTH}MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\n\
         RCPT TO:<nobody@example.org>\r\nRCPT TO:<carol@example.org>\r\nDATA\r\n\
         Subject: hi\r\n\r\n..leading dot\r\nlast\r\n.\r\nQUIT\r\n"
    );
    let mut app = App::default();
    let mut session = ServerSession::new(plaintext_options());
    let (output, closed) = run(&mut session, &mut app, input.as_bytes(), input.len());
    assert!(closed);
    assert_eq!(
        codes(&output),
        ["220", "250", "235", "250", "250", "550", "250", "354", "250", "221"]
    );
    assert!(output.contains("250-PIPELINING\r\n"));
    assert!(output.contains("250-SIZE 52428800\r\n"));
    assert!(output.contains("250 AUTH PLAIN LOGIN\r\n"));
    assert!(output.contains("235 2.7.0 "));
    assert!(output.contains("550 5.1.1 no such user\r\n"));
    assert_eq!(
        app.delivered,
        [b"Subject: hi\r\n\r\n.leading dot\r\nlast\r\n".to_vec()]
    );
}

#[test]
fn any_split_of_the_input_gives_the_same_conversation() {
    let input = format!(
        "EHLO c.example\r\n{AUTH}MAIL FROM:<alice@example.org> BODY=8BITMIME\r\n\
         RCPT TO:<bob@example.org>\r\nDATA\r\nA: caf\u{e9}\r\n\r\n..\r\n.x\r\n\r\n.\r\n\
         MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\nBDAT 5\r\nab\r\nRBDAT 3 LAST\r\nc\r\nQUIT\r\n"
    );
    let mut reference = None;
    for step in [input.len(), 1, 2, 3, 7, 64] {
        let mut app = App::default();
        let mut session = ServerSession::new(plaintext_options());
        let (output, closed) = run(&mut session, &mut app, input.as_bytes(), step);
        assert!(closed);
        let outcome = (output, app.delivered);
        match &reference {
            None => reference = Some(outcome),
            Some(expected) => assert_eq!(&outcome, expected, "split every {step} octets"),
        }
    }
    let (output, delivered) = reference.unwrap();
    assert_eq!(
        delivered,
        [
            "A: caf\u{e9}\r\n\r\n.\r\nx\r\n\r\n".as_bytes().to_vec(),
            b"ab\r\nRc\r\n".to_vec()
        ]
    );
    assert_eq!(
        codes(&output),
        ["220", "250", "235", "250", "250", "354", "250", "250", "250", "250", "250", "221"]
    );
}

#[test]
fn order_and_authentication_are_enforced() {
    let mut app = App::default();
    let mut session = ServerSession::new(plaintext_options());
    let (output, _) = run(
        &mut session,
        &mut app,
        b"MAIL FROM:<alice@example.org>\r\nEHLO c.example\r\nRCPT TO:<bob@example.org>\r\n\
          MAIL FROM:<alice@example.org>\r\nDATA\r\n",
        1000,
    );
    assert_eq!(codes(&output), ["220", "503", "250", "503", "530", "503"]);
    assert!(output.contains("530 5.7.0 Authentication required"));
    let (output, _) = run(
        &mut session,
        &mut app,
        format!(
            "{AUTH}{AUTH}MAIL FROM:<mallory@example.org>\r\nMAIL FROM:<alice@example.org>\r\n\
             MAIL FROM:<alice@example.org>\r\nDATA\r\nBDAT 6 LAST\r\nRSET\r\n"
        )
        .as_bytes(),
        1000,
    );
    // The second AUTH is out of order; mallory is refused; nested MAIL; DATA without
    // recipients; BDAT without recipients reads its 6 octets ("RSET\r\n") and does not run them.
    assert_eq!(
        codes(&output),
        ["235", "503", "553", "250", "503", "554", "554"]
    );
    assert_eq!(app.starts, 0);
}

#[test]
fn passwords_wait_for_tls() {
    let mut options = Options::default();
    options.tls = TlsMode::StartTls;
    options.hostname = "mx.example.org".into();
    let mut app = App::default();
    let mut session = ServerSession::new(options);
    let (output, _) = run(
        &mut session,
        &mut app,
        format!("EHLO c.example\r\n{AUTH}STARTTLS\r\n{AUTH}").as_bytes(),
        1000,
    );
    let (before, after) = output.split_once("<TLS>").unwrap();
    assert!(before.contains("250 STARTTLS\r\n"));
    assert!(
        !before.contains("AUTH PLAIN"),
        "AUTH is not offered in the clear"
    );
    assert!(before.contains("530 5.7.0 Must issue a STARTTLS command first"));
    assert!(before.ends_with("220 2.0.0 Ready to start TLS\r\n"));
    assert!(
        after.is_empty(),
        "the AUTH pipelined behind STARTTLS was dropped"
    );
    assert_eq!(session.authenticated_as(), None);
    let (after, _) = run(
        &mut session,
        &mut app,
        format!("MAIL FROM:<alice@example.org>\r\nEHLO c.example\r\n{AUTH}").as_bytes(),
        1000,
    );
    assert!(
        after.starts_with("503 5.5.1"),
        "EHLO is needed again: {after}"
    );
    assert!(after.contains("250 AUTH PLAIN LOGIN\r\n"));
    assert!(!after.contains("STARTTLS"));
    assert!(after.ends_with("235 2.7.0 Authentication successful\r\n"));
}

#[test]
fn sizes_are_enforced_as_declared_and_as_received() {
    let options = {
        let mut options = plaintext_options();
        options.limits = {
            let mut limits = mail_session::Limits::smtp();
            limits.max_message_size = 100;
            limits
        };
        options
    };
    let big_body = "x".repeat(150);
    let input = format!(
        "EHLO c.example\r\n{AUTH}MAIL FROM:<alice@example.org> SIZE=101\r\n\
         MAIL FROM:<alice@example.org> SIZE=50\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n\
         {big_body}\r\n.\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\n\
         BDAT 80\r\n{}BDAT 80 LAST\r\n{}NOOP\r\n",
        "y".repeat(80),
        "z".repeat(80)
    );
    let mut app = App::default();
    let mut session = ServerSession::new(options);
    let (output, _) = run(&mut session, &mut app, input.as_bytes(), 17);
    assert_eq!(
        codes(&output),
        [
            "220", "250", "235", "552", "250", "250", "354", "552", "250", "250", "250", "552",
            "250"
        ]
    );
    assert!(output.contains("552 5.3.4 "));
    assert!(app.delivered.is_empty());
    assert_eq!(app.aborted, 2);
}

#[test]
fn bad_content_is_refused_after_its_end() {
    for (body, expected) in [
        (
            "bare\nline feed\r\n",
            "554 5.6.0 message contains bare CR or LF",
        ),
        ("a NUL \0 here\r\n", "554 5.6.0 message contains NUL"),
        (
            "caf\u{e9} without BODY=8BITMIME\r\n",
            "554 5.6.0 message contains 8-bit",
        ),
    ] {
        let input = format!(
            "EHLO c.example\r\n{AUTH}MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\n\
             DATA\r\n{body}.\r\nNOOP\r\n"
        );
        let mut app = App::default();
        let mut session = ServerSession::new({
            let mut options = plaintext_options();
            options.accept_undeclared_eight_bit = false;
            options
        });
        let (output, _) = run(&mut session, &mut app, input.as_bytes(), 5);
        assert!(output.contains(expected), "{output}");
        assert!(
            output.ends_with("250 2.0.0 OK\r\n"),
            "session goes on: {output}"
        );
        assert!(app.delivered.is_empty());
    }
    // LF.LF is text, not the end of the message (no SMTP smuggling).
    let input = format!(
        "EHLO c.example\r\n{AUTH}MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\n\
         DATA\r\nA\r\n\n.\nMAIL FROM:<alice@example.org>\r\n.\r\n"
    );
    let mut app = App::default();
    let mut session = ServerSession::new(plaintext_options());
    let (output, _) = run(&mut session, &mut app, input.as_bytes(), 1000);
    assert!(output.ends_with("554 5.6.0 message contains bare CR or LF: line ends must be CR LF (RFC 5321 2.3.8)\r\n"), "{output}");
    assert_eq!(app.starts, 1);
}

#[test]
fn garbage_and_long_lines_end_in_421() {
    let mut app = App::default();
    let mut session = ServerSession::new(plaintext_options());
    let mut input = Vec::new();
    input.extend_from_slice(&vec![b'A'; 5000]);
    input.extend_from_slice(b"\r\n\0\0\0\r\n");
    for _ in 0..30 {
        input.extend_from_slice(b"GARBAGE\r\n");
    }
    let (output, closed) = run(&mut session, &mut app, &input, 333);
    assert!(closed);
    assert!(output.contains("500 5.5.2 line too long\r\n"));
    assert!(output.contains("500 5.5.1 command not recognized\r\n"));
    assert!(output.ends_with("421 4.7.0 mx.example.org too many errors, closing connection\r\n"));
}

#[test]
fn an_idle_client_is_dropped_and_its_message_discarded() {
    let mut app = App::default();
    let mut session = ServerSession::new(plaintext_options());
    let (_, _) = run(
        &mut session,
        &mut app,
        format!("EHLO c.example\r\n{AUTH}MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\npart").as_bytes(),
        1000,
    );
    let deadline = session.poll_timeout().unwrap();
    assert!(deadline >= Instant::now() + Duration::from_secs(299));
    session.handle_timeout(deadline);
    let mut output = Vec::new();
    loop {
        match session.next(deadline) {
            Progress::Event(event) => app.answer(&mut session, event).expect("answered in turn"),
            Progress::Output(bytes) => output.extend_from_slice(bytes),
            Progress::Close => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(String::from_utf8_lossy(&output).starts_with("421 4.4.2 "));
    assert_eq!(app.aborted, 1);
    assert!(app.delivered.is_empty());
}

#[test]
fn a_dropped_connection_mid_data_delivers_nothing() {
    let mut app = App::default();
    let mut session = ServerSession::new(plaintext_options());
    run(
        &mut session,
        &mut app,
        format!("EHLO c.example\r\n{AUTH}MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nhalf a message").as_bytes(),
        1000,
    );
    session.input_closed();
    loop {
        match session.next(Instant::now()) {
            Progress::Event(event) => app.answer(&mut session, event).expect("answered in turn"),
            Progress::Close => break,
            Progress::Output(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(app.aborted, 1);
    assert!(app.delivered.is_empty());
}

#[test]
fn parameters_of_unannounced_extensions_are_refused() {
    let input = format!(
        "HELO c.example\r\n{AUTH}MAIL FROM:<alice@example.org> BODY=8BITMIME\r\n\
         EHLO c.example\r\nMAIL FROM:<alice@example.org> RET=FULL\r\n\
         MAIL FROM:<alice@example.org> SIZE=10\r\nRCPT TO:<bob@example.org> NOTIFY=NEVER\r\n\
         RCPT TO:<bob@example.org>\r\n"
    );
    let mut app = App::default();
    let mut session = ServerSession::new({
        let mut options = plaintext_options();
        options.require_auth = false;
        options
    });
    let (output, _) = run(&mut session, &mut app, input.as_bytes(), 1000);
    // AUTH after HELO is out of order; BODY after HELO, RET and NOTIFY without DSN: 555.
    assert_eq!(
        codes(&output),
        ["220", "250", "503", "555", "250", "555", "250", "555", "250"]
    );
    let mut app = App::default();
    let mut session = ServerSession::new({
        let mut options = plaintext_options();
        options.announce_dsn = true;
        options
    });
    let input = format!(
        "EHLO c.example\r\n{AUTH}MAIL FROM:<alice@example.org> RET=FULL ENVID=x\r\n\
         RCPT TO:<bob@example.org> NOTIFY=SUCCESS ORCPT=rfc822;bob@example.org\r\n"
    );
    let (output, _) = run(&mut session, &mut app, input.as_bytes(), 1000);
    assert!(output.contains("250-DSN\r\n"));
    assert_eq!(codes(&output), ["220", "250", "235", "250", "250"]);
}

/// Feeds `pieces` one at a time, `every` apart from `start`, answering events; returns what
/// the server wrote, whether it closed, and when.
fn trickle(
    session: &mut ServerSession,
    app: &mut App,
    pieces: &[&[u8]],
    start: Instant,
    every: Duration,
) -> (String, Option<Instant>) {
    let mut output = Vec::new();
    let mut now = start;
    let mut pieces = pieces.iter();
    loop {
        if session
            .poll_timeout()
            .is_some_and(|deadline| deadline <= now)
        {
            session.handle_timeout(now);
        }
        match session.next(now) {
            Progress::Output(bytes) => output.extend_from_slice(bytes),
            Progress::Event(event) => app.answer(session, event).expect("answered in turn"),
            Progress::NeedMoreInput => match pieces.next() {
                Some(piece) => {
                    now += every;
                    session.enqueue_input(piece);
                }
                None => return (String::from_utf8_lossy(&output).into_owned(), None),
            },
            Progress::Close => return (String::from_utf8_lossy(&output).into_owned(), Some(now)),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_data_body_trickled_in_is_cut_off_after_the_message_deadline() {
    let mut app = App::default();
    let mut session = ServerSession::new(plaintext_options());
    let start = Instant::now();
    let head =
        format!("EHLO c.example\r\n{AUTH}MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n");
    let mut pieces: Vec<&[u8]> = vec![head.as_bytes()];
    // One line a minute, within the 5-minute idle timeout, for an hour.
    pieces.extend(std::iter::repeat_n(&b"more text\r\n"[..], 60));
    let (output, closed) = trickle(
        &mut session,
        &mut app,
        &pieces,
        start,
        Duration::from_secs(60),
    );
    let closed = closed.expect("the session closed");
    assert!(
        output.ends_with("message took too long to arrive, closing connection\r\n"),
        "{output}"
    );
    assert!(output.contains("\r\n421 4.4.2 "));
    assert!(
        closed <= start + Duration::from_secs(12 * 60),
        "closed after {:?}",
        closed - start
    );
    assert_eq!(app.aborted, 1);
    assert!(app.delivered.is_empty());
}

#[test]
fn bdat_chunks_trickled_in_are_cut_off_after_the_message_deadline() {
    let mut app = App::default();
    let mut options = plaintext_options();
    options.max_message_duration = Duration::from_secs(120);
    let mut session = ServerSession::new(options);
    let start = Instant::now();
    let head = format!(
        "EHLO c.example\r\n{AUTH}MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\n"
    );
    let mut pieces: Vec<&[u8]> = vec![head.as_bytes()];
    pieces.extend(std::iter::repeat_n(&b"BDAT 3\r\nabc"[..], 20));
    let (output, closed) = trickle(
        &mut session,
        &mut app,
        &pieces,
        start,
        Duration::from_secs(30),
    );
    let closed = closed.expect("the session closed");
    assert!(output.contains("421 4.4.2 "), "{output}");
    assert!(closed <= start + Duration::from_secs(4 * 60));
    assert_eq!(app.aborted, 1);
    assert!(app.delivered.is_empty());
}

#[test]
fn a_refused_endless_bdat_chunk_is_cut_off_after_the_message_deadline() {
    let mut app = App::default();
    let mut session = ServerSession::new(plaintext_options());
    let start = Instant::now();
    let mut pieces: Vec<&[u8]> = vec![b"EHLO c.example\r\nBDAT 18446744073709551615\r\n"];
    let block = [b'x'; 4096];
    pieces.extend(std::iter::repeat_n(&block[..], 60));
    let (output, closed) = trickle(
        &mut session,
        &mut app,
        &pieces,
        start,
        Duration::from_secs(60),
    );
    let closed = closed.expect("the session closed");
    assert!(output.contains("421 4.4.2 "), "{output}");
    assert!(closed <= start + Duration::from_secs(12 * 60));
}

#[test]
fn the_message_deadline_is_a_timer_of_its_own() {
    let mut options = plaintext_options();
    options.max_message_duration = Duration::from_secs(60);
    let mut session = ServerSession::new(options);
    let mut app = App::default();
    let start = Instant::now();
    let head = format!("EHLO c.example\r\n{AUTH}MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nx");
    let (_, closed) = trickle(
        &mut session,
        &mut app,
        &[head.as_bytes()],
        start,
        Duration::ZERO,
    );
    assert!(closed.is_none());
    assert_eq!(
        session.poll_timeout(),
        Some(start + Duration::from_secs(60)),
        "the message deadline comes before the idle timeout"
    );
}

#[test]
fn the_pre_authentication_timeout_applies_until_login() {
    let mut options = plaintext_options();
    options.pre_auth_timeout = Duration::from_secs(30);
    let mut session = ServerSession::new(options);
    let mut app = App::default();
    let start = Instant::now();
    let (_, closed) = trickle(
        &mut session,
        &mut app,
        &[b"EHLO c.example\r\n"],
        start,
        Duration::ZERO,
    );
    assert!(closed.is_none());
    assert_eq!(
        session.poll_timeout(),
        Some(start + Duration::from_secs(30)),
        "before login the short timeout applies"
    );
    let later = start + Duration::from_secs(10);
    let (output, _) = trickle(
        &mut session,
        &mut app,
        &[AUTH.as_bytes()],
        later,
        Duration::ZERO,
    );
    assert!(output.contains("235 "), "{output}");
    assert_eq!(
        session.poll_timeout(),
        Some(later + Duration::from_secs(300)),
        "after login the idle timeout applies"
    );
    assert_eq!(
        Options::default().pre_auth_timeout,
        Duration::from_secs(300),
        "the default is RFC 5321's minimum"
    );
}
