//! A conversation with Dovecot's imapd, captured live and parsed: Dovecot runs as a child on a
//! loopback port with a configuration this test writes; a client built from this crate's
//! encoder sends every command in scope (literals wait for `+` where synchronizing, IDLE ends
//! with DONE); every octet the server sends goes through the client-side framer and the
//! strict response parser, and all of it must parse. Bodies fetched back must equal what was
//! appended.
//!
//! Without `dovecot` or root the test prints a note and passes, unless `CI=true`, where that
//! is a failure. Dovecot is the private instance of `mail_testkit::dovecot`.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::time::Duration;

use mail_testkit::{dovecot, programs};

use imap4_proto::encode::{self, Fragment, LiteralPolicy};
use imap4_proto::framing::{Frame, Framer, FramerOptions, Role};
use imap4_proto::parse::{self, ResponseOptions};
use imap4_proto::types::{
    Command, CommandBody, Data, MessageDataItem, Payload, Response, StatusKind, Tag,
};

const USER: &str = "alice";
const PASSWORD: &str = "capture-secret";

/// Dovecot's imapd with a configuration of this test (nothing from /etc/dovecot is read), its
/// Maildirs in `<dir>/mail`; stopped when dropped.
fn start_dovecot(binary: &Path, dir: &Path) -> dovecot::Dovecot {
    let config = dovecot::Config::new(
        "imap4-proto/tests/dovecot_capture.rs",
        dovecot::Protocol::Imap,
        dir.join("mail"),
        dovecot::Passdb::Static(PASSWORD.into()),
    )
    .instance_prefix("imap4-proto-capture")
    .mechanisms("plain login")
    .setting("mail_save_crlf", "yes")
    .namespace_line("separator = /")
    .namespace_line("prefix =")
    .namespace_line("mailbox Sent {\n    special_use = \\Sent\n    auto = create\n  }")
    .namespace_line("mailbox Trash {\n    special_use = \\Trash\n    auto = subscribe\n  }");
    dovecot::Dovecot::start(binary, dir, &config).unwrap_or_else(|e| panic!("{e}"))
}

/// A client that records and parses every octet the server sends.
struct Client {
    stream: TcpStream,
    framer: Framer,
    buffer: Vec<u8>,
    /// Every server message, parsed, with the streamed literal octets it carried.
    responses: Vec<(Response, Vec<u8>)>,
    captured: Vec<u8>,
    streamed: Vec<u8>,
    next_tag: u32,
}

impl Client {
    fn connect(port: u16) -> Client {
        let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut client = Client {
            stream,
            framer: Framer::new(Role::Client, FramerOptions::default()),
            buffer: Vec::new(),
            responses: Vec::new(),
            captured: Vec::new(),
            streamed: Vec::new(),
            next_tag: 1,
        };
        client.read_until(|r| matches!(r, Response::Status(s) if s.tag.is_none()));
        client
    }

    /// Reads and parses until a response satisfies `done`; returns it.
    fn read_until(&mut self, done: impl Fn(&Response) -> bool) -> Response {
        loop {
            loop {
                let (used, frame) = self.framer.next(&self.buffer);
                let mut found = None;
                match frame {
                    Frame::Incomplete => {
                        self.buffer.drain(..used);
                        break;
                    }
                    Frame::LiteralAnnounced(_) => {}
                    Frame::LiteralData(chunk) => self.streamed.extend_from_slice(chunk),
                    Frame::Message => {
                        let message = self.framer.message();
                        let response = parse::response(message, &ResponseOptions::strict())
                            .unwrap_or_else(|e| {
                                panic!(
                                    "Dovecot's response does not parse: {e}\n{:?}",
                                    String::from_utf8_lossy(message)
                                )
                            });
                        self.responses
                            .push((response.clone(), std::mem::take(&mut self.streamed)));
                        if done(&response) {
                            found = Some(response);
                        }
                    }
                    Frame::Error(error) => panic!("framing error {error}"),
                }
                self.buffer.drain(..used);
                if let Some(response) = found {
                    return response;
                }
            }
            let mut chunk = [0u8; 4096];
            let read = self.stream.read(&mut chunk).expect("read from dovecot");
            assert!(read > 0, "dovecot closed the connection");
            self.captured.extend_from_slice(&chunk[..read]);
            self.buffer.extend_from_slice(&chunk[..read]);
        }
    }

    /// Sends `body` under a fresh tag, waiting for `+` where a literal is synchronizing;
    /// returns the tagged completion.
    fn run(&mut self, body: CommandBody, policy: LiteralPolicy) -> Response {
        let tag = Tag::try_from(format!("C{:03}", self.next_tag).as_str()).unwrap();
        self.next_tag += 1;
        let command = Command {
            tag: tag.clone(),
            body,
        };
        let is_tagged = |r: &Response, tag: &Tag| matches!(r, Response::Status(s) if s.tag.as_ref() == Some(tag));
        for fragment in encode::command(&command, policy).fragments() {
            match fragment {
                Fragment::Data(data) => self.stream.write_all(data).unwrap(),
                Fragment::AwaitContinuation => {
                    let answer = self.read_until(|r| {
                        matches!(r, Response::Continuation(_)) || is_tagged(r, &tag)
                    });
                    if !matches!(answer, Response::Continuation(_)) {
                        return answer;
                    }
                }
                Fragment::StreamedLiteral { .. } => unreachable!("inline payloads only"),
                other => unreachable!("fragment this test does not send: {other:?}"),
            }
        }
        if matches!(command.body, CommandBody::Idle) {
            self.read_until(|r| matches!(r, Response::Continuation(_)));
            self.stream.write_all(b"DONE\r\n").unwrap();
        }
        self.read_until(|r| is_tagged(r, &tag))
    }

    fn ok(&mut self, line: &str) -> Response {
        self.ok_with(line, LiteralPolicy::Sync)
    }

    /// Parses `line` with this crate's command parser (so the test also checks it) and
    /// runs it; the server must answer OK.
    fn ok_with(&mut self, line: &str, policy: LiteralPolicy) -> Response {
        let parsed = parse::command(format!("X {line}").as_bytes())
            .unwrap_or_else(|e| panic!("{e} in {line:?}"));
        let response = self.run(parsed.body, policy);
        assert!(
            matches!(&response, Response::Status(s) if s.kind == StatusKind::Ok),
            "{line}: {response:?}"
        );
        response
    }
}

const PLAIN: &[u8] = b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: plain\r\nDate: Wed, 17 Jul 1996 02:23:25 -0700\r\nMessage-ID: <1@example.org>\r\n\r\nHello, Bob.\r\n";

const MULTIPART: &[u8] = b"From: =?UTF-8?Q?J=C3=B6rg?= <joerg@example.org>\r\nTo: alice@example.org, \"Carol\" <carol@example.org>\r\nCc: dave@example.org\r\nSubject: multipart\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe\r\n--b1\r\nContent-Type: application/octet-stream; name=\"x.bin\"\r\nContent-Disposition: attachment; filename=\"x.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwQFBgcICQ==\r\n--b1\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nFrom: x@example.org\r\n\r\ninner body\r\n--b1--\r\n";

fn append(mailbox: &str, message: &[u8]) -> CommandBody {
    let mut line = format!(
        "APPEND {mailbox} (\\Seen $Forwarded) \" 7-Feb-1994 21:52:25 -0800\" {{{}}}\r\n",
        message.len()
    )
    .into_bytes();
    line.extend_from_slice(message);
    parse::command(&[b"X ".as_slice(), &line].concat())
        .unwrap()
        .body
}

#[test]
fn every_command_in_scope_against_dovecot_parses() {
    let Some(binary) = programs::require_as_root("Dovecot capture test", "dovecot") else {
        return;
    };
    let dir = dovecot::traversable_tempdir();
    let dovecot = start_dovecot(&binary, dir.path());
    let mut client = Client::connect(dovecot.port());

    client.ok("CAPABILITY");
    client.ok("NOOP");
    client.ok("ID (\"name\" \"imap4-proto\" \"version\" \"0.1\")");
    // ssl = no: Dovecot refuses STARTTLS; the refusal must parse too.
    client.run(CommandBody::StartTls, LiteralPolicy::Sync);
    let plain = base64_plain(USER, PASSWORD);
    client.ok(&format!("AUTHENTICATE PLAIN {plain}"));
    client.ok("CAPABILITY");
    client.ok("ENABLE CONDSTORE QRESYNC");
    client.ok("NAMESPACE");
    client.ok("CREATE Archive");
    client.ok("CREATE Entw&APw-rfe");
    client.ok("CREATE a/b");
    client.ok("CREATE Drafts (USE (\\Drafts))");
    client.ok("SUBSCRIBE Archive");
    client.ok("LIST \"\" \"*\"");
    client.ok("LIST (SPECIAL-USE) \"\" \"*\"");
    client.ok("LIST (SUBSCRIBED) \"\" \"*\" RETURN (CHILDREN)");
    client.ok("LIST \"\" \"%\" RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN UIDNEXT))");
    client.ok("LSUB \"\" \"*\"");
    client.ok("UNSUBSCRIBE Archive");
    client.ok("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)");
    let appended = client.run(append("INBOX", PLAIN), LiteralPolicy::Sync);
    assert!(
        matches!(&appended, Response::Status(s) if s.kind == StatusKind::Ok),
        "{appended:?}"
    );
    client.run(append("INBOX", MULTIPART), LiteralPolicy::NonSync);
    client.run(append("INBOX", PLAIN), LiteralPolicy::NonSyncUpTo4096);
    client.ok("SELECT INBOX (CONDSTORE)");
    client.ok("FETCH 1:* (FLAGS UID INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE MODSEQ)");
    client.ok("FETCH 1:* (BODY)");
    client.ok("FETCH 2 BODY[]");
    client.ok("FETCH 2 (BODY.PEEK[HEADER.FIELDS (Subject From)] BODY.PEEK[1.MIME] BODY.PEEK[3.TEXT] BODY.PEEK[1]<0.4>)");
    client.ok("FETCH 2 (BINARY.PEEK[2] BINARY.SIZE[2] RFC822.HEADER RFC822.TEXT)");
    client.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1)");
    client.ok("SEARCH ALL");
    client.ok("SEARCH CHARSET UTF-8 OR FROM alice SUBJECT {9}\r\nmultipart");
    client.ok("UID SEARCH RETURN (MIN MAX COUNT ALL) ALL");
    client.ok("SEARCH MODSEQ 1");
    client.ok("SEARCH SINCE 1-Feb-1994 NOT DELETED");
    client.ok("STORE 1 +FLAGS (\\Flagged)");
    client.ok("UID STORE 1:* (UNCHANGEDSINCE 99999) +FLAGS.SILENT (\\Answered)");
    client.ok("STORE 3 FLAGS.SILENT (\\Deleted)");
    client.ok("COPY 1 Archive");
    client.ok("UID COPY 1:2 Archive");
    client.ok("UID MOVE 2 Archive");
    client.ok("IDLE");
    client.ok("CHECK");
    client.ok("EXPUNGE");
    client.ok("UID EXPUNGE 1:*");
    client.ok("UNSELECT");
    client.ok("EXAMINE Archive (QRESYNC (1 1))");
    client.ok("CLOSE");
    client.ok("SELECT Archive");
    client.ok("CLOSE");
    client.ok("RENAME a/b a/c");
    client.ok("DELETE a/c");
    client.ok("DELETE Entw&APw-rfe");
    // Dovecot without the zlib plugin refuses COMPRESS; the refusal must parse.
    client.run(
        CommandBody::Compress(imap4_proto::types::Atom::try_from("DEFLATE").unwrap()),
        LiteralPolicy::Sync,
    );
    client.ok("LOGOUT");

    // The FETCH of BODY[] streamed the message, octet for octet.
    let body = client
        .responses
        .iter()
        .find_map(|(response, streamed)| match response {
            Response::Data(Data::Fetch { items, .. })
                if items.iter().any(|item| {
                    matches!(item, MessageDataItem::BodySection { section, data: Some(Payload::Streamed(_)), .. } if section.part.is_empty() && section.text.is_none())
                }) =>
            {
                Some(streamed.clone())
            }
            _ => None,
        })
        .expect("a streamed BODY[]");
    assert_eq!(body, MULTIPART);
    let fetches = client
        .responses
        .iter()
        .filter(|(r, _)| matches!(r, Response::Data(Data::Fetch { .. })))
        .count();
    assert!(fetches >= 8, "{fetches} FETCH responses");
    assert!(
        client.responses.len() > 100,
        "{} responses",
        client.responses.len()
    );
    eprintln!(
        "parsed {} responses ({} octets) from Dovecot",
        client.responses.len(),
        client.captured.len()
    );
    // Replaying the capture through a fresh framer one octet at a time gives the same.
    let mut framer = Framer::new(Role::Client, FramerOptions::default());
    let mut buffer = Vec::new();
    let mut messages = 0;
    for &byte in &client.captured {
        buffer.push(byte);
        loop {
            let (used, frame) = framer.next(&buffer);
            let stop = matches!(frame, Frame::Incomplete);
            if matches!(frame, Frame::Message) {
                parse::response(framer.message(), &ResponseOptions::strict()).unwrap();
                messages += 1;
            }
            buffer.drain(..used);
            if stop {
                break;
            }
        }
    }
    assert_eq!(messages, client.responses.len());
}

fn base64_plain(user: &str, password: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"))
}
