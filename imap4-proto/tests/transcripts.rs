//! Transcript tests: the C: and S: lines of the RFCs' examples, parsed as the framer delivers
//! them. Every client line must parse as a command and every server line as a response.

use imap4_proto::framing::{Frame, Framer, FramerOptions, Role};
use imap4_proto::parse::{self, ResponseOptions};
use imap4_proto::types::*;

/// Frames `input` for `role` and returns every complete message with the chunks of streamed
/// literals.
fn messages(role: Role, input: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut framer = Framer::new(role, FramerOptions::default());
    let mut rest = input;
    let mut out = Vec::new();
    let mut streamed = Vec::new();
    loop {
        let (used, frame) = framer.next(rest);
        rest = &rest[used..];
        match frame {
            Frame::Incomplete => break,
            Frame::LiteralAnnounced(_) => {}
            Frame::LiteralData(chunk) => streamed.extend_from_slice(chunk),
            Frame::Message => out.push((framer.message().to_vec(), std::mem::take(&mut streamed))),
            Frame::Error(error) => panic!("framing error {error}"),
        }
    }
    assert!(
        rest.is_empty(),
        "left over: {:?}",
        String::from_utf8_lossy(rest)
    );
    out
}

fn commands(input: &str) -> Vec<Command> {
    messages(Role::Server, input.as_bytes())
        .into_iter()
        .map(|(message, _)| {
            parse::command(&message)
                .unwrap_or_else(|e| panic!("{e} in {:?}", String::from_utf8_lossy(&message)))
        })
        .collect()
}

fn responses(input: &str) -> Vec<Response> {
    messages(Role::Client, input.as_bytes())
        .into_iter()
        .map(|(message, _)| {
            parse::response(&message, &ResponseOptions::strict())
                .unwrap_or_else(|e| panic!("{e} in {:?}", String::from_utf8_lossy(&message)))
        })
        .collect()
}

/// RFC 3501 section 8, the client's side.
#[test]
fn rfc3501_section8_commands() {
    let parsed = commands(
        "a001 login mrc secret\r\n\
         a002 select inbox\r\n\
         a003 fetch 12 full\r\n\
         a004 fetch 12 body[header]\r\n\
         a005 store 12 +flags \\deleted\r\n\
         a006 logout\r\n",
    );
    assert_eq!(parsed.len(), 6);
    assert!(matches!(
        &parsed[1].body,
        CommandBody::Select {
            mailbox: Mailbox::Inbox,
            ..
        }
    ));
    assert!(matches!(
        &parsed[2].body,
        CommandBody::Fetch {
            items: FetchItems::Full,
            ..
        }
    ));
    assert!(matches!(
        &parsed[4].body,
        CommandBody::Store { mode: StoreMode::Add, flags, .. } if flags == &vec![Flag::Deleted]
    ));
}

/// RFC 3501 section 8, the server's side.
#[test]
fn rfc3501_section8_responses() {
    let parsed = responses(
        "* OK IMAP4rev1 Service Ready\r\n\
         a001 OK LOGIN completed\r\n\
         * 18 EXISTS\r\n\
         * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n\
         * 2 RECENT\r\n\
         * OK [UNSEEN 17] Message 17 is the first unseen message\r\n\
         * OK [UIDVALIDITY 3857529045] UIDs valid\r\n\
         a002 OK [READ-WRITE] SELECT completed\r\n\
         * 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286 ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL NIL \"imap\" \"cac.washington.edu\")) ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL \"<B27397-0100000@cac.washington.edu>\") BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92))\r\n\
         a003 OK FETCH completed\r\n\
         * 12 FETCH (BODY[HEADER] {342}\r\n\
         Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n\
         From: Terry Gray <gray@cac.washington.edu>\r\n\
         Subject: IMAP4rev1 WG mtg summary and minutes\r\n\
         To: imap@cac.washington.edu\r\n\
         cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n\
         Message-Id: <B27397-0100000@cac.washington.edu>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\
         \r\n\
         )\r\n\
         a004 OK FETCH completed\r\n\
         * 12 FETCH (FLAGS (\\Seen \\Deleted))\r\n\
         a005 OK +FLAGS completed\r\n\
         * BYE IMAP4rev1 server terminating connection\r\n\
         a006 OK LOGOUT completed\r\n",
    );
    assert_eq!(parsed.len(), 16);
    match &parsed[8] {
        Response::Data(Data::Fetch { items, .. }) => {
            assert_eq!(items.len(), 5);
            assert!(matches!(&items[3], MessageDataItem::Envelope(e) if e.cc.len() == 2));
        }
        other => panic!("{other:?}"),
    }
    match &parsed[10] {
        Response::Data(Data::Fetch { items, .. }) => assert!(matches!(
            &items[0],
            MessageDataItem::BodySection {
                data: Some(Payload::Streamed(342)),
                ..
            }
        )),
        other => panic!("{other:?}"),
    }
}

/// Examples of RFC 3501 section 6 and the extensions, client side.
#[test]
fn command_examples_of_every_extension() {
    let parsed = commands(
        "abcd CAPABILITY\r\n\
         a002 NOOP\r\n\
         a1 STARTTLS\r\n\
         a001 AUTHENTICATE GSSAPI\r\n\
         a002 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n\
         a003 AUTHENTICATE PLAIN =\r\n\
         A142 SELECT INBOX\r\n\
         A142 SELECT INBOX (CONDSTORE)\r\n\
         A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n\
         B85 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))\r\n\
         A932 EXAMINE blurdybloop\r\n\
         A003 CREATE owatagusiam/\r\n\
         t2 CREATE MySpecial (USE (\\Drafts \\Sent))\r\n\
         A683 DELETE blurdybloop\r\n\
         A683 RENAME blurdybloop sarasota\r\n\
         A002 SUBSCRIBE #news.comp.mail.mime\r\n\
         A002 UNSUBSCRIBE #news.comp.mail.mime\r\n\
         A101 LIST \"\" \"\"\r\n\
         A682 LIST \"\" *\r\n\
         A202 LIST ~/Mail/ %\r\n\
         A02 LIST (SUBSCRIBED) \"\" \"*\"\r\n\
         A03 LIST () \"\" \"%\" RETURN (CHILDREN)\r\n\
         A04 LIST (REMOTE RECURSIVEMATCH) \"\" (\"%\" \"*/%\") RETURN (SUBSCRIBED CHILDREN)\r\n\
         A01 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))\r\n\
         t1 LIST (SPECIAL-USE) \"\" \"*\"\r\n\
         A002 LSUB \"#news.\" \"comp.mail.*\"\r\n\
         A042 STATUS blurdybloop (UIDNEXT MESSAGES)\r\n\
         A002 CHECK\r\n\
         A341 CLOSE\r\n\
         A342 UNSELECT\r\n\
         A202 EXPUNGE\r\n\
         A003 UID EXPUNGE 3000:3002\r\n\
         A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n\
         A283 SEARCH TEXT \"string not in mailbox\"\r\n\
         A284 SEARCH CHARSET UTF-8 TEXT {6}\r\nXXXXXX\r\n\
         A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n\
         a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n\
         a SEARCH OR (UID 1:5 SEEN) (NOT LARGER 200) HEADER Subject hello\r\n\
         A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n\
         a FETCH 1 (BODY.PEEK[1.2.MIME] BINARY.PEEK[1]<0.100> BINARY.SIZE[2] MODSEQ)\r\n\
         s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n\
         s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n\
         A003 STORE 2:4 +FLAGS (\\Deleted)\r\n\
         a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)\r\n\
         A003 COPY 2:4 MEETING\r\n\
         a UID MOVE 42:69 foo\r\n\
         a001 ENABLE CONDSTORE QRESYNC\r\n\
         a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" NIL)\r\n\
         a024 ID NIL\r\n\
         A001 NAMESPACE\r\n\
         a002 IDLE\r\n\
         a COMPRESS DEFLATE\r\n\
         A003 APPEND saved-messages (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {11}\r\nHello World\r\n\
         A004 APPEND foo ~{3+}\r\na\0b\r\n\
         A005 APPEND foo UTF8 (~{2}\r\nä)\r\n\
         a LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n\
         A005 LOGOUT\r\n",
    );
    assert_eq!(parsed.len(), 57);
    assert!(matches!(
        &parsed[4].body,
        CommandBody::Authenticate { initial_response: Some(r), .. } if r == b"test\0test\0test"
    ));
    assert!(matches!(
        &parsed[53].body,
        CommandBody::Append {
            binary: true,
            message: Payload::Streamed(3),
            ..
        }
    ));
    assert!(matches!(
        &parsed[54].body,
        CommandBody::Append {
            utf8: true,
            message: Payload::Streamed(2),
            ..
        }
    ));
}

/// Responses of the extensions, server side.
#[test]
fn response_examples_of_every_extension() {
    let parsed = responses(
        "* CAPABILITY IMAP4rev1 STARTTLS AUTH=GSSAPI LOGINDISABLED LITERAL+ IDLE\r\n\
         * PREAUTH IMAP4rev1 server logged in as Smith\r\n\
         + \r\n\
         + Ready for additional command text\r\n\
         + dGVzdA==\r\n\
         * LIST (\\Noselect) \"/\" ~/Mail/foo\r\n\
         * LIST () NIL inbox\r\n\
         * LIST (\\Subscribed \\NonExistent) \"/\" \"Fruit/Peach\"\r\n\
         * LIST (\\HasChildren) \"/\" \"Foo\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n\
         * LIST (\\Sent \\HasNoChildren) \"/\" \"Sent Mail\"\r\n\
         * LSUB () \".\" #news.comp.mail.misc\r\n\
         * STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n\
         * SEARCH 2 84 882\r\n\
         * SEARCH\r\n\
         * SEARCH 2 5 6 7 11 12 18 19 20 23 (MODSEQ 917162500)\r\n\
         * ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n\
         * ESEARCH (TAG \"A284\") UID ALL 4:18,21,28\r\n\
         * 22 EXPUNGE\r\n\
         * VANISHED (EARLIER) 41,43:116,118,120:211,214:540\r\n\
         * VANISHED 405,407,410,425\r\n\
         * OK [HIGHESTMODSEQ 715194045007] Highest\r\n\
         * OK [CLOSED] Previous mailbox is now closed\r\n\
         * OK [NOMODSEQ] Sorry, this mailbox format doesn't support modsequences\r\n\
         A01 OK [MODIFIED 7,9] Conditional STORE failed\r\n\
         * OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n\
         A003 OK [APPENDUID 38505 3955] APPEND completed\r\n\
         a OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n\
         a NO [UIDNOTSTICKY] Non-persistent UIDs\r\n\
         A3 NO [TRYCREATE] Mailbox doesn't exist: SAAR\r\n\
         A3 NO [ALREADYEXISTS] Mailbox \"that\" already exists\r\n\
         a BAD [BADCHARSET (UTF-8 \"X-A\")] bad\r\n\
         * OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] Dovecot ready.\r\n\
         * ENABLED CONDSTORE QRESYNC\r\n\
         * ID (\"name\" \"Cyrus\" \"version\" \"1.5\" \"os\" \"sunos\" \"support-url\" NIL)\r\n\
         * ID NIL\r\n\
         * NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) ((\"#shared/\" \"/\")(\"#public/\" \"/\")(\"#ftp/\" \"/\")(\"#news.\" \".\"))\r\n\
         * NAMESPACE ((\"\" \"/\" \"X-PARAM\" (\"FLAG1\" \"FLAG2\"))) NIL NIL\r\n\
         a OK [COMPRESSIONACTIVE] DEFLATE active\r\n\
         * 1 FETCH (MODSEQ (624140003) UID 4 BINARY.SIZE[1] 29 BINARY[1] ~{3}\r\na\0b)\r\n\
         * 2 FETCH (RFC822.TEXT NIL BODY[1]<0> \"abc\")\r\n\
         * BYE Autologout; idle for too long\r\n",
    );
    assert_eq!(parsed.len(), 41);
    for response in &parsed {
        if let Response::Status(status) = response {
            assert!(
                !status.text.as_bytes().starts_with(b"["),
                "response code not recognised: {status:?}"
            );
        }
    }
}

/// RFC 3501 section 7.4.2's BODYSTRUCTURE and a nested MESSAGE/RFC822 with extension data.
#[test]
fn body_structures() {
    let parsed = responses(
        "* 1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") \"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" 4554 73) \"MIXED\"))\r\n\
         * 2 FETCH (BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 12 1 NIL (\"inline\" NIL) NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 300 (NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" NIL NIL NIL \"7bit\" 10 1) 5 NIL (\"attachment\" (\"filename\" \"a.eml\")) (\"en\" \"de\") \"loc\" 1 (2 \"x\" (NIL))) \"mixed\" (\"boundary\" \"b1\") NIL \"en\" NIL))\r\n",
    );
    assert_eq!(parsed.len(), 2);
}
