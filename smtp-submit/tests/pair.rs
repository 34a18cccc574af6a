//! Our client session against our server session, in memory: EHLO, AUTH LOGIN through its
//! challenges, a pipelined DATA transaction with tricky lines, and a BDAT transaction.

use std::time::Instant;

use mail_session::sasl::{Credentials, Mechanism};
use mail_session::{LoginRejection, OutOfTurn, Progress, Session};
use smtp_submit::client::{ClientOptions, ClientSession, Event as ClientEvent};
use smtp_submit::server::{Event, Options, ServerSession, TlsMode};
use smtp_submit::types::{
    Command, Domain, Extension, ForwardPath, MailParameters, Mailbox, RcptParameters, ReversePath,
};

struct Pair {
    client: ClientSession,
    server: ServerSession,
    delivered: Vec<Vec<u8>>,
    body: Vec<u8>,
}

impl Pair {
    fn new() -> Self {
        Pair {
            client: ClientSession::new(ClientOptions::default()),
            server: ServerSession::new({
                let mut options = Options::default();
                options.tls = TlsMode::Unavailable;
                options.allow_plaintext_auth = true;
                options
            }),
            delivered: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Moves bytes both ways until the client has an event (or nothing moves).
    fn client_event(&mut self) -> Option<ClientEvent> {
        let now = Instant::now();
        for _ in 0..10_000 {
            match self.client.next(now) {
                Progress::Event(event) => return Some(event),
                Progress::Output(bytes) => self.server.enqueue_input(bytes),
                Progress::NeedMoreInput => {}
                other => panic!("client: {other:?}"),
            }
            loop {
                match self.server.next(now) {
                    Progress::Output(bytes) => self.client.enqueue_input(bytes),
                    Progress::Event(event) => self.answer(event).expect("answered in turn"),
                    Progress::NeedMoreInput => break,
                    Progress::Close => break,
                    other => panic!("server: {other:?}"),
                }
            }
        }
        None
    }

    fn answer(&mut self, event: Event) -> Result<(), OutOfTurn> {
        match event {
            Event::Login { credentials } => {
                if credentials.password.matches("pw") {
                    self.server.accept_login(credentials.username)
                } else {
                    self.server.reject_login(LoginRejection::Credentials)
                }
            }
            Event::Mail { .. } => self.server.accept_mail(),
            Event::Rcpt { .. } => self.server.accept_rcpt(),
            Event::MessageStart { envelope } => {
                assert_eq!(envelope.authenticated_as.as_deref(), Some("alice"));
                self.server.start_message()
            }
            Event::MessageData => {
                let body = &mut self.body;
                self.server
                    .take_message_data(|part| body.extend_from_slice(part))
                    .map(drop)
            }
            Event::MessageEnd { .. } => {
                self.delivered.push(std::mem::take(&mut self.body));
                self.server.accept_message("delivered")
            }
            other => panic!("{other:?}"),
        }
    }

    fn reply_code(&mut self) -> u16 {
        match self.client_event() {
            Some(ClientEvent::Reply { reply, .. }) => reply.code.get(),
            other => panic!("{other:?}"),
        }
    }
}

fn mailbox(text: &str) -> Mailbox {
    Mailbox::try_from(text).unwrap()
}

#[test]
fn client_and_server_agree() {
    let mut pair = Pair::new();
    assert!(matches!(
        pair.client_event(),
        Some(ClientEvent::Greeting(reply)) if reply.code.get() == 220
    ));
    pair.client
        .send(Command::Ehlo(Domain::name("client.example").unwrap()));
    let Some(ClientEvent::Ehlo { extensions, .. }) = pair.client_event() else {
        panic!()
    };
    assert!(extensions.contains(&Extension::Pipelining));
    assert!(extensions.contains(&Extension::Chunking));
    assert!(extensions.contains(&Extension::Auth(vec!["PLAIN".into(), "LOGIN".into()])));

    pair.client
        .authenticate(Mechanism::Login, Credentials::new("alice", "wrong"));
    assert!(matches!(
        pair.client_event(),
        Some(ClientEvent::Authenticated { ok: false, reply }) if reply.code.get() == 535
    ));
    pair.client
        .authenticate(Mechanism::Login, Credentials::new("alice", "pw"));
    assert!(matches!(
        pair.client_event(),
        Some(ClientEvent::Authenticated { ok: true, .. })
    ));

    // One pipelined group: MAIL, RCPT, RCPT, DATA.
    pair.client.send(Command::Mail {
        from: ReversePath::Mailbox(mailbox("alice@example.org")),
        parameters: MailParameters::default(),
    });
    for to in ["bob@example.org", "carol@example.org"] {
        pair.client.send(Command::Rcpt {
            to: ForwardPath::Mailbox(mailbox(to)),
            parameters: RcptParameters::default(),
        });
    }
    pair.client.send(Command::Data);
    assert_eq!(
        [
            pair.reply_code(),
            pair.reply_code(),
            pair.reply_code(),
            pair.reply_code()
        ],
        [250, 250, 250, 354]
    );
    // Stored with bare LF, a dot-led line, and a lone dot: sent stuffed, received as CR LF.
    let stored = b"Subject: t\n\n.\n..two\nlast line without end";
    for piece in stored.chunks(3) {
        pair.client.message_data(piece);
    }
    pair.client.message_end();
    assert_eq!(pair.reply_code(), 250);
    assert_eq!(
        pair.delivered,
        [b"Subject: t\r\n\r\n.\r\n..two\r\nlast line without end\r\n".to_vec()]
    );

    pair.client.send(Command::Mail {
        from: ReversePath::Mailbox(mailbox("alice@example.org")),
        parameters: MailParameters::default(),
    });
    pair.client.send(Command::Rcpt {
        to: ForwardPath::Mailbox(mailbox("bob@example.org")),
        parameters: RcptParameters::default(),
    });
    // Stored with bare LF and no final line end: BDAT carries it as CR LF text.
    pair.client.bdat_chunk(b"Subject: b\n\n.\r", false);
    pair.client.bdat_chunk(b"\nend", true);
    assert_eq!(
        [
            pair.reply_code(),
            pair.reply_code(),
            pair.reply_code(),
            pair.reply_code()
        ],
        [250, 250, 250, 250]
    );
    assert_eq!(pair.delivered[1], b"Subject: b\r\n\r\n.\r\nend\r\n");
    pair.client.send(Command::Quit);
    assert_eq!(pair.reply_code(), 221);
}

#[test]
fn a_silent_server_times_out() {
    let mut client = ClientSession::new(ClientOptions::default());
    let now = Instant::now();
    assert!(matches!(client.next(now), Progress::NeedMoreInput));
    let deadline = client.poll_timeout().unwrap();
    assert_eq!(deadline - now, ClientOptions::default().greeting_timeout);
    client.handle_timeout(deadline);
    assert_eq!(
        client.next(deadline),
        Progress::Event(ClientEvent::TimedOut)
    );
    assert_eq!(client.next(deadline), Progress::Close);
}

#[test]
fn replies_injected_before_tls_are_dropped() {
    let mut client = ClientSession::new(ClientOptions::default());
    let now = Instant::now();
    client.enqueue_input(b"220 mx ESMTP\r\n");
    let _ = client.next(now);
    client.send(Command::StartTls);
    let _ = client.next(now);
    client.enqueue_input(b"220 go ahead\r\n250 injected\r\n");
    assert!(matches!(
        client.next(now),
        Progress::Event(ClientEvent::Reply {
            command: "STARTTLS",
            ..
        })
    ));
    assert_eq!(client.next(now), Progress::StartTls);
    client.tls_established();
    assert_eq!(client.next(now), Progress::NeedMoreInput);
    assert_eq!(client.awaiting(), 0);
}
