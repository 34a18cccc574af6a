//! The POP3 server session fed arbitrary client bytes in arbitrary pieces, its events answered
//! by a small maildrop: no panic, bounded buffers, and a QUIT-less end never deletes.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mail_session::{Progress, Session};
use pop3_proto::server::{
    Event, LoginRejection, MaildropEntry, MessageProgress, MessageShape, Options, ServerSession,
    TlsMode,
};

const IN_TURN: &str = "the answer to the event just handed out is in turn";
const MESSAGES: [&[u8]; 2] = [b"Subject: a\r\n\r\n.x\r\n", b"Subject: b\n\nline\n.\nend"];

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
        options
    });
    let step = usize::from(control >> 2) + 1;
    let mut now = Instant::now();
    let mut chunks = input.chunks(step);
    let mut reading: Option<(u32, usize)> = None;
    let mut output = 0usize;
    let mut deleted_at_quit = None;
    for _ in 0..100_000 {
        match session.next(now) {
            Progress::Output(bytes) => output += bytes.len(),
            Progress::Event(Event::Login { credentials }) => {
                if credentials.username == "u" {
                    session
                        .accept_login(
                            MESSAGES
                                .iter()
                                .enumerate()
                                .map(|(i, m)| MaildropEntry {
                                    size: m.len() as u64,
                                    unique_id: format!("id{i}"),
                                })
                                .collect(),
                        )
                        .expect(IN_TURN);
                } else {
                    session
                        .reject_login(LoginRejection::Credentials)
                        .expect(IN_TURN);
                }
            }
            Progress::Event(Event::Retrieve { message, .. }) => {
                reading = Some((message, 0));
                session
                    .start_message(MessageShape {
                        needs_utf8: control & 4 != 0,
                        crlf_line_ends: control & 8 != 0,
                    })
                    .expect(IN_TURN);
            }
            Progress::Event(Event::MessageData { message }) => {
                let (_, offset) = reading.unwrap_or((message, 0));
                let body = MESSAGES[(message as usize - 1) % 2];
                if offset >= body.len() {
                    session.end_message().expect(IN_TURN);
                } else if session
                    .push_message_data(&body[offset..(offset + 3).min(body.len())])
                    .expect(IN_TURN)
                    == MessageProgress::More
                {
                    reading = Some((message, offset + 3));
                }
            }
            Progress::Event(Event::Update { deleted }) => {
                deleted_at_quit = Some(deleted);
                session.finish_update(Ok(())).expect(IN_TURN);
            }
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
    if let Some(deleted) = deleted_at_quit {
        assert!(deleted.iter().all(|&n| n >= 1 && n <= 2));
    }
});
