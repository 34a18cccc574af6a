//! The submission server session fed arbitrary client bytes in arbitrary pieces, its events
//! answered by a small application: no panic, bounded output, and every delivered message
//! passed through MessageStart and stayed within the size limit.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mail_session::{Limits, LoginRejection, Progress, Session};
use smtp_submit::server::{Event, Options, ServerSession, TlsMode};
use smtp_submit::types::Reply;

const LIMIT: u64 = 4096;
const IN_TURN: &str = "the answer to the event just handed out is in turn";

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let mut session = ServerSession::new({
        let mut options = Options::default();
        options.tls = if control & 1 == 0 {
            TlsMode::StartTls
        } else {
            TlsMode::Implicit
        };
        options.allow_plaintext_auth = control & 2 != 0;
        options.require_auth = control & 4 != 0;
        options.reject_bare_line_ends = control & 8 != 0;
        options.limits = {
            let mut limits = Limits::smtp();
            limits.max_message_size = LIMIT;
            limits
        };
        options
    });
    let step = usize::from(control >> 4) + 1;
    let mut now = Instant::now();
    let mut chunks = input.chunks(step);
    let mut output = 0usize;
    let mut body = None::<Vec<u8>>;
    for _ in 0..200_000 {
        match session.next(now) {
            Progress::Output(bytes) => output += bytes.len(),
            Progress::Event(Event::Login { credentials }) => {
                if credentials.username == "u" {
                    session.accept_login("u").expect(IN_TURN);
                } else {
                    session
                        .reject_login(LoginRejection::Credentials)
                        .expect(IN_TURN);
                }
            }
            Progress::Event(Event::Mail { .. }) => session.accept_mail().expect(IN_TURN),
            Progress::Event(Event::Rcpt { to, .. }) => {
                if to.to_string().contains('x') {
                    session
                        .reject_rcpt(Reply::new(550, Some((5, 1, 1)), "no"))
                        .expect(IN_TURN);
                } else {
                    session.accept_rcpt().expect(IN_TURN);
                }
            }
            Progress::Event(Event::MessageStart { envelope }) => {
                assert!(!envelope.recipients.is_empty());
                body = Some(Vec::new());
                session.start_message().expect(IN_TURN);
            }
            Progress::Event(Event::MessageData) => {
                let kept = body.as_mut().expect("data only after MessageStart");
                session
                    .take_message_data(|part| kept.extend_from_slice(part))
                    .expect(IN_TURN);
                assert!(kept.len() as u64 <= LIMIT);
            }
            Progress::Event(Event::MessageEnd { size, .. }) => {
                let kept = body.take().expect("end only after MessageStart");
                assert_eq!(kept.len() as u64, size);
                session.accept_message("ok").expect(IN_TURN);
            }
            Progress::Event(Event::MessageAborted { .. }) => body = None,
            Progress::Event(_) => {}
            Progress::AwaitingAnswer => panic!("every event was answered, yet the session waits"),
            Progress::StartTls => session.tls_established(),
            Progress::Close => break,
            Progress::NeedMoreInput => match chunks.next() {
                Some(chunk) => session.enqueue_input(chunk),
                None => {
                    session.input_closed();
                    now += Duration::from_secs(1);
                }
            },
        }
    }
    assert!(output < 64 * 1024 * 1024, "output stays bounded");
});
