//! The POP3 client session fed arbitrary server bytes after queueing every kind of command:
//! no panic, and it always reaches an end.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use mail_session::sasl::{Credentials, Mechanism, Secret};
use mail_session::{Progress, Session};
use pop3_proto::client::{ClientOptions, ClientSession};
use pop3_proto::types::Command;

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let mut client = ClientSession::new(ClientOptions::default());
    client.set_pipelining(control & 1 != 0);
    client.send(Command::Capa);
    if control & 2 != 0 {
        client.authenticate(Mechanism::Login, Credentials::new("u", "p"));
    } else {
        client.send(Command::User("u".into()));
        client.send(Command::Pass(Secret::new("p")));
    }
    for command in [
        Command::Stat,
        Command::List(None),
        Command::Uidl(None),
        Command::Retr(1),
        Command::Top {
            message: 1,
            lines: 2,
        },
        Command::Auth {
            mechanism: None,
            initial_response: None,
        },
        Command::Stls,
        Command::Quit,
    ] {
        client.send(command);
    }
    let now = Instant::now();
    let step = usize::from(control >> 2) + 1;
    let mut chunks = input.chunks(step);
    for _ in 0..100_000 {
        match client.next(now) {
            Progress::NeedMoreInput => match chunks.next() {
                Some(chunk) => client.enqueue_input(chunk),
                None => client.input_closed(),
            },
            Progress::StartTls => client.tls_established(),
            Progress::Close => return,
            Progress::Output(_) | Progress::Event(_) => {}
            Progress::AwaitingAnswer => panic!("a client session has no events to answer"),
        }
    }
    panic!("the client session never ended");
});
