//! The client session against the server session, bytes moved by hand: no sockets, no clock.

mod common;

use std::time::{Duration, Instant};

use common::Maildrop;
use mail_session::sasl::{Credentials, Mechanism};
use mail_session::{Progress, Session};
use pop3_proto::client::{ClientOptions, ClientSession, Event};
use pop3_proto::server::{Options, ServerSession, TlsMode};
use pop3_proto::types::{Capability, Command};

struct Pair {
    client: ClientSession,
    server: ServerSession,
    maildrop: Maildrop,
    now: Instant,
}

impl Pair {
    fn new(messages: &[&[u8]]) -> Pair {
        Pair {
            client: ClientSession::new(ClientOptions::default()),
            server: ServerSession::new({
                let mut options = Options::default();
                options.tls = TlsMode::Unavailable;
                options.allow_plaintext_auth = true;
                options
            }),
            maildrop: Maildrop::new(messages),
            now: Instant::now(),
        }
    }

    /// Moves bytes both ways until neither side has anything to do; returns the client's events.
    fn run(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        loop {
            let mut moved = false;
            loop {
                match self.server.next(self.now) {
                    Progress::Output(bytes) => {
                        self.client.enqueue_input(bytes);
                        moved = true;
                    }
                    Progress::Event(event) => {
                        self.maildrop
                            .answer(&mut self.server, event)
                            .expect("answered in turn");
                        moved = true;
                    }
                    Progress::Close => {
                        self.client.input_closed();
                        break;
                    }
                    _ => break,
                }
            }
            loop {
                match self.client.next(self.now) {
                    Progress::Output(bytes) => {
                        self.server.enqueue_input(bytes);
                        moved = true;
                    }
                    Progress::Event(event) => {
                        events.push(event);
                        moved = true;
                    }
                    _ => break,
                }
            }
            if !moved {
                return events;
            }
        }
    }
}

const FIRST: &[u8] = b"Subject: a\r\n\r\n.starts with a dot\r\n.\r\nend\r\n";
const SECOND: &[u8] = b"Subject: b\n\nbare LF body\n";

#[test]
fn a_whole_session_through_both_state_machines() {
    let mut pair = Pair::new(&[FIRST, SECOND]);
    let events = pair.run();
    assert!(matches!(&events[..], [Event::Greeting(status)] if status.ok));

    pair.client.send(Command::Capa);
    let events = pair.run();
    let [Event::Capabilities(capabilities)] = &events[..] else {
        panic!("{events:?}")
    };
    assert!(capabilities.contains(&Capability::Pipelining));
    pair.client.set_pipelining(true);

    pair.client
        .authenticate(Mechanism::Plain, Credentials::new("mrose", "tanstaaf"));
    pair.client.send(Command::Stat);
    pair.client.send(Command::List(None));
    pair.client.send(Command::Uidl(None));
    pair.client.send(Command::Retr(1));
    pair.client.send(Command::Top {
        message: 2,
        lines: 0,
    });
    pair.client.send(Command::Dele(2));
    pair.client.send(Command::Quit);
    let events = pair.run();
    assert!(
        matches!(&events[0], Event::Authenticated { ok: true, .. }),
        "{events:?}"
    );
    assert!(
        matches!(&events[1], Event::Status { command: "STAT", ok: true, status } if status.text == "2 70"),
        "{events:?}"
    );
    assert_eq!(events[2], Event::ScanListing(vec![(1, 42), (2, 28)]));
    assert_eq!(
        events[3],
        Event::UniqueIds(vec![(1, "uid-1".into()), (2, "uid-2".into())])
    );
    let mut body = Vec::new();
    let mut index = 4;
    assert!(matches!(
        &events[index],
        Event::MessageStart { message: 1, .. }
    ));
    index += 1;
    while let Event::MessageData(data) = &events[index] {
        body.extend_from_slice(data);
        index += 1;
    }
    assert_eq!(events[index], Event::MessageEnd);
    assert_eq!(body, FIRST, "RETR is byte-exact after un-stuffing");
    index += 1;
    assert!(matches!(
        &events[index],
        Event::MessageStart { message: 2, .. }
    ));
    let mut top = Vec::new();
    index += 1;
    while let Event::MessageData(data) = &events[index] {
        top.extend_from_slice(data);
        index += 1;
    }
    assert_eq!(top, b"Subject: b\r\n\r\n");
    assert!(matches!(
        &events[index + 1],
        Event::Status {
            command: "DELE",
            ok: true,
            ..
        }
    ));
    assert!(matches!(
        &events[index + 2],
        Event::Status {
            command: "QUIT",
            ok: true,
            ..
        }
    ));
    assert_eq!(pair.maildrop.removed, [2]);
}

#[test]
fn a_wrong_password_and_a_missing_message_are_reported() {
    let mut pair = Pair::new(&[FIRST]);
    pair.run();
    pair.client.send(Command::User("mrose".into()));
    pair.client
        .send(Command::Pass(mail_session::sasl::Secret::new("wrong")));
    let events = pair.run();
    assert!(
        matches!(&events[1], Event::Status { command: "PASS", ok: false, status } if status.code == Some(pop3_proto::types::ResponseCode::Auth))
    );
    pair.client
        .authenticate(Mechanism::Login, Credentials::new("mrose", "tanstaaf"));
    pair.client.send(Command::Retr(7));
    let events = pair.run();
    assert!(
        matches!(&events[0], Event::Authenticated { ok: true, .. }),
        "{events:?}"
    );
    assert!(
        matches!(
            &events[1],
            Event::Status {
                command: "RETR",
                ok: false,
                ..
            }
        ),
        "{events:?}"
    );
}

#[test]
fn a_silent_server_times_the_client_out() {
    let mut client = ClientSession::new(ClientOptions {
        greeting_timeout: Duration::from_secs(5),
        ..ClientOptions::default()
    });
    let start = Instant::now();
    assert!(matches!(client.next(start), Progress::NeedMoreInput));
    let deadline = client.poll_timeout().unwrap();
    assert_eq!(deadline, start + Duration::from_secs(5));
    client.handle_timeout(deadline);
    assert!(matches!(
        client.next(deadline),
        Progress::Event(Event::TimedOut)
    ));
    assert!(matches!(client.next(deadline), Progress::Close));
}

#[test]
fn garbage_from_the_server_is_a_protocol_error_not_a_panic() {
    let mut client = ClientSession::new(ClientOptions::default());
    client.enqueue_input(b"* OK IMAP4rev1 server\r\n");
    assert!(matches!(
        client.next(Instant::now()),
        Progress::Event(Event::ProtocolError(_))
    ));
    assert!(matches!(client.next(Instant::now()), Progress::Close));
}

/// Events with consecutive message data merged, so that different splits compare equal.
fn merged(events: Vec<Event>) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::new();
    for event in events {
        match (out.last_mut(), event) {
            (Some(Event::MessageData(previous)), Event::MessageData(more)) => previous.extend(more),
            (_, event) => out.push(event),
        }
    }
    out
}

fn client_events(server_bytes: &[u8], step: usize) -> Vec<Event> {
    let now = Instant::now();
    let mut client = ClientSession::new(ClientOptions::default());
    client.set_pipelining(true);
    client.send(Command::User("mrose".into()));
    client.send(Command::Pass(mail_session::sasl::Secret::new("tanstaaf")));
    client.send(Command::List(None));
    client.send(Command::Retr(1));
    client.send(Command::Top {
        message: 2,
        lines: 1,
    });
    client.send(Command::Uidl(None));
    client.send(Command::Quit);
    let mut events = Vec::new();
    let mut chunks = server_bytes.chunks(step);
    loop {
        match client.next(now) {
            Progress::Event(event) => events.push(event),
            Progress::Output(_) => {}
            Progress::NeedMoreInput => match chunks.next() {
                Some(chunk) => client.enqueue_input(chunk),
                None => client.input_closed(),
            },
            _ => return merged(events),
        }
    }
}

#[test]
fn the_client_gives_the_same_events_however_the_server_bytes_are_split() {
    let server_bytes = b"+OK hi\r\n+OK\r\n+OK in\r\n+OK 2 messages\r\n1 42\r\n2 28\r\n.\r\n+OK 42 octets\r\nSubject: a\r\n\r\n..starts\r\n..\r\nend\r\n.\r\n+OK top\r\nSubject: b\r\n\r\nbare\r\n.\r\n+OK\r\n1 a\r\n2 b\r\n.\r\n+OK bye\r\n";
    let whole = client_events(server_bytes, server_bytes.len());
    assert_eq!(whole.len(), 13, "{whole:?}");
    assert!(whole.contains(&Event::MessageData(
        b"Subject: a\r\n\r\n.starts\r\n.\r\nend\r\n".to_vec()
    )));
    for step in 1..=17 {
        assert_eq!(
            client_events(server_bytes, step),
            whole,
            "split every {step} bytes"
        );
    }
}
