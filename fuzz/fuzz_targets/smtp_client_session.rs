//! The SMTP client session fed arbitrary server bytes after queueing a whole submission
//! (EHLO, AUTH, MAIL, RCPT, DATA and body, BDAT, RSET, QUIT): no panic, bounded events and
//! output, and it always reaches an end.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mail_session::sasl::{Credentials, Mechanism};
use mail_session::{Progress, Session};
use smtp_submit::client::{ClientOptions, ClientSession};
use smtp_submit::types::{
    Command, Domain, ForwardPath, MailParameters, RcptParameters, ReversePath,
};

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let mut client = ClientSession::new(ClientOptions::default());
    let Ok(domain) = Domain::name("client.example") else {
        return;
    };
    client.send(Command::Ehlo(domain));
    if control & 1 != 0 {
        client.authenticate(Mechanism::Plain, Credentials::new("u", "p"));
    } else {
        client.authenticate(Mechanism::Login, Credentials::new("u", "p"));
    }
    let (Ok(from), Ok(to)) = (
        "a@example.org".parse::<ReversePath>(),
        "b@example.net".parse::<ForwardPath>(),
    ) else {
        return;
    };
    client.send(Command::Mail {
        from,
        parameters: MailParameters::default(),
    });
    client.send(Command::Rcpt {
        to,
        parameters: RcptParameters::default(),
    });
    if control & 2 != 0 {
        client.bdat_chunk(b"Subject: x\n\n.body\n", false);
        client.bdat_chunk(b"end", true);
    } else {
        client.send(Command::Data);
        client.message_data(b"Subject: x\r\n\r\n.body\r\n");
        client.message_end();
    }
    client.send(Command::Rset);
    client.send(Command::Quit);
    let mut now = Instant::now();
    let step = usize::from(control >> 2) + 1;
    let mut chunks = input.chunks(step);
    let mut output = 0usize;
    for _ in 0..100_000 {
        match client.next(now) {
            Progress::NeedMoreInput => match chunks.next() {
                Some(chunk) => client.enqueue_input(chunk),
                None => {
                    client.input_closed();
                    now += Duration::from_secs(1);
                }
            },
            Progress::StartTls => client.tls_established(),
            Progress::Close => return,
            Progress::Output(bytes) => output += bytes.len(),
            Progress::Event(_) => {}
            Progress::AwaitingAnswer => panic!("a client session has no events to answer"),
        }
        assert!(output < 1 << 20, "output stays bounded");
    }
    panic!("the client session never ended");
});
