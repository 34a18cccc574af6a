//! POP3 interoperability: the real `mail-server` binary against POP3 clients nobody here
//! wrote — Python's standard `poplib`, `curl` and `fetchmail`.
//!
//! Each test starts its own server on free loopback ports with its own data folder, puts
//! messages into the account's Maildir with the `mailstore` crate (as a local delivery agent
//! would), lets the client work, and checks what the client got against what was stored, and
//! what is left in the store afterwards. A missing client skips its test locally with a note;
//! when `CI=true` a missing client fails the test.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::Instant;

mod support;

use support::{helper, require, Server, ACCOUNT, PASSWORD};

const POP3_SECTION: &str = "[pop3]\n\
                            enabled = true\n\
                            listen = [\"127.0.0.1:0\"]\n\
                            listen_tls = [\"127.0.0.1:0\"]\n";
/// The server reads messages from the store in chunks of this size; the big test message
/// puts dot lines and line ends exactly on the chunk boundaries.
const CHUNK: usize = 64 * 1024;

// ----- the messages -----

/// CRLF line ends, lines starting with ".", a line that is just ".", 8-bit bytes in the body.
fn dotted_message() -> Vec<u8> {
    let mut message = b"Return-Path: <sender@example.org>\r\n\
        From: Sender <sender@example.org>\r\n\
        To: alice@localhost\r\n\
        Subject: dots and 8-bit bytes\r\n\
        Message-ID: <dots@example.org>\r\n\
        Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n\
        MIME-Version: 1.0\r\n\
        Content-Type: text/plain; charset=iso-8859-1\r\n\
        Content-Transfer-Encoding: 8bit\r\n\
        \r\n"
        .to_vec();
    message.extend_from_slice(
        b"first body line\r\n\
        .a line starting with a dot\r\n\
        ..two dots\r\n\
        .\r\n\
        after a line that is just a dot\r\n\
        \r\n\
        8-bit: caf\xe9 \xc3\xa4 \xff\xfe\x80 \x7f\r\n\
        ...\r\n\
        . dot space\r\n\
        last line\r\n",
    );
    message
}

/// A message whose last line is a lone dot: on the wire, `..` right before the terminator.
fn lone_dot_at_end_message() -> Vec<u8> {
    b"From: Sender <sender@example.org>\r\n\
      To: alice@localhost\r\n\
      Subject: ends with a lone dot\r\n\
      Message-ID: <lone-dot@example.org>\r\n\
      \r\n\
      The next line, the last one, is a single dot:\r\n\
      .\r\n"
        .to_vec()
}

/// About 3 MB of short lines (poplib refuses lines over 2048 octets), every ninth starting
/// with a dot, some with 8-bit bytes; and lines pinned to the server's 64 KiB read chunks: a
/// dot line starting a chunk, a CRLF split across two chunks, a lone dot whose CRLF is in the
/// next chunk, and a `..` line starting at a chunk's last octet.
fn big_message() -> Vec<u8> {
    let mut message = b"From: Bulk <bulk@example.org>\r\n\
        To: alice@localhost\r\n\
        Subject: about 3 MB\r\n\
        Message-ID: <big@example.org>\r\n\
        Content-Type: text/plain; charset=iso-8859-1\r\n\
        \r\n"
        .to_vec();
    let pinned: [(usize, &[u8]); 4] = [
        (CHUNK, b".a dot line starting a 64 KiB chunk\r\n"),
        (
            2 * CHUNK + 1,
            b"the CRLF before this line straddles two chunks\r\n",
        ),
        (3 * CHUNK - 1, b".\r\n"),
        (4 * CHUNK - 1, b"..two dots across a chunk end\r\n"),
    ];
    let mut pinned = pinned.iter().peekable();
    let mut number = 0usize;
    while message.len() < 3_000_000 {
        number += 1;
        let mut line = Vec::new();
        if number.is_multiple_of(9) {
            line.push(b'.');
        }
        line.extend_from_slice(format!("line {number:07} ").as_bytes());
        line.extend(std::iter::repeat_n(b"xyz"[number % 3], number % 61));
        if number.is_multiple_of(5) {
            line.extend_from_slice(b" \xe4\xf6\xfc\xdf");
        }
        line.extend_from_slice(b"\r\n");
        if let Some(&&(offset, pinned_line)) = pinned.peek() {
            // Every earlier line left at least two octets before `offset`: fill them with a
            // line of its own, so the pinned line starts exactly there.
            if message.len() + line.len() + 2 > offset {
                let fill = offset - message.len();
                message.extend(std::iter::repeat_n(b'-', fill - 2));
                message.extend_from_slice(b"\r\n");
                message.extend_from_slice(pinned_line);
                pinned.next();
                continue;
            }
        }
        message.extend_from_slice(&line);
    }
    assert_eq!(&message[CHUNK..CHUNK + 2], b".a");
    assert_eq!(&message[2 * CHUNK - 1..2 * CHUNK + 1], b"\r\n");
    assert_eq!(&message[3 * CHUNK - 1..3 * CHUNK + 2], b".\r\n");
    assert_eq!(&message[4 * CHUNK - 1..4 * CHUNK + 1], b"..");
    message
}

fn late_message() -> Vec<u8> {
    b"From: Later <later@example.org>\r\n\
      To: alice@localhost\r\n\
      Subject: delivered while the server runs\r\n\
      Message-ID: <late@example.org>\r\n\
      \r\n\
      .hello from later\r\n"
        .to_vec()
}

/// What TOP `lines` must send (RFC 1939): the header, the blank line, then that many lines
/// of the body (or all of it).
fn top_of(message: &[u8], lines: usize) -> Vec<u8> {
    let header_end = message
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap()
        + 4;
    let mut end = header_end;
    for _ in 0..lines {
        match message[end..].iter().position(|&byte| byte == b'\n') {
            Some(newline) => end += newline + 1,
            None => {
                end = message.len();
                break;
            }
        }
    }
    message[..end].to_vec()
}

/// `assert_eq!` for messages: reports the first difference instead of megabytes of bytes.
#[track_caller]
fn assert_bytes_eq(actual: &[u8], expected: &[u8], what: &str) {
    if actual == expected {
        return;
    }
    let first = actual
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(actual.len().min(expected.len()));
    let around = |bytes: &[u8]| {
        let start = first.saturating_sub(40);
        let end = (first + 40).min(bytes.len());
        String::from_utf8_lossy(&bytes[start.min(end)..end]).into_owned()
    };
    panic!(
        "{what}: {} octets, expected {}; first difference at offset {first}:\n got:      {:?}\n expected: {:?}",
        actual.len(),
        expected.len(),
        around(actual),
        around(expected),
    );
}

#[track_caller]
fn assert_messages_eq(actual: &[Vec<u8>], expected: &[Vec<u8>], what: &str) {
    assert_eq!(
        actual.len(),
        expected.len(),
        "{what}: {} messages, expected {}",
        actual.len(),
        expected.len()
    );
    for (index, (actual, expected)) in actual.iter().zip(expected).enumerate() {
        assert_bytes_eq(actual, expected, &format!("{what}, message {}", index + 1));
    }
}

/// A unique id as RFC 1939 section 7 allows: 1 to 70 characters from 0x21 to 0x7E.
fn valid_unique_id(id: &str) -> bool {
    (1..=70).contains(&id.len()) && id.bytes().all(|byte| (0x21..=0x7e).contains(&byte))
}

// ----- Python's poplib -----

#[derive(Debug)]
struct Reply {
    action: String,
    ok: bool,
    response: String,
    extra: String,
    /// What RETR or TOP brought, lines joined with CRLF.
    data: Option<Vec<u8>>,
}

impl Reply {
    #[track_caller]
    fn ok(&self) -> &Self {
        assert!(self.ok, "{} was refused: {}", self.action, self.response);
        self
    }

    #[track_caller]
    fn refused_with(&self, prefix: &str) {
        assert!(
            !self.ok && self.response.starts_with(prefix),
            "{} must be answered {prefix}..., got {:?} ({})",
            self.action,
            self.response,
            if self.ok { "accepted" } else { "refused" }
        );
    }

    #[track_caller]
    fn data(&self) -> &[u8] {
        self.ok().data.as_deref().unwrap()
    }

    /// A LIST or UIDL listing as (number, value) pairs.
    #[track_caller]
    fn listing(&self) -> Vec<(u32, String)> {
        self.ok()
            .extra
            .split(',')
            .filter(|line| !line.is_empty())
            .map(|line| {
                let (number, value) = line.split_once(' ').unwrap();
                (number.parse().unwrap(), value.to_string())
            })
            .collect()
    }

    /// A UIDL listing's ids, in message-number order.
    #[track_caller]
    fn unique_ids(&self) -> Vec<String> {
        let listing = self.listing();
        for (index, (number, id)) in listing.iter().enumerate() {
            assert_eq!(*number as usize, index + 1, "UIDL numbers: {listing:?}");
            assert!(valid_unique_id(id), "not a valid unique id: {id:?}");
        }
        listing.into_iter().map(|(_, id)| id).collect()
    }
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    /// The plain port; the actions start TLS with `stls`.
    Plain,
    /// The pop3s port.
    Pop3s,
}

/// Runs `poplib_client.py` with `actions` on one connection and returns one reply per action.
fn poplib(server: &Server, mode: Mode, actions: &[&str]) -> Vec<Reply> {
    let out = server.scratch("poplib");
    let (mode, port) = match mode {
        Mode::Plain => ("plain", server.port("POP3", false)),
        Mode::Pop3s => ("ssl", server.port("POP3", true)),
    };
    let output = Command::new("python3")
        .arg(helper("pop3", "poplib_client.py"))
        .args(["--port", &port.to_string(), "--mode", mode])
        .arg("--cafile")
        .arg(server.certificate())
        .args(["--user", ACCOUNT, "--password", PASSWORD])
        .arg("--out")
        .arg(&out)
        .args(actions)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "poplib {actions:?} failed ({}):\n{stdout}\n{stderr}\nserver log:\n{}",
        output.status,
        server.log()
    );
    let mut replies: Vec<Reply> = stdout
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 5, "bad line from poplib_client.py: {line:?}");
            Reply {
                action: fields[0].to_string(),
                ok: fields[1] == "ok",
                response: fields[2].to_string(),
                extra: fields[3].to_string(),
                data: (!fields[4].is_empty()).then(|| std::fs::read(fields[4]).unwrap()),
            }
        })
        .collect();
    assert_eq!(
        replies.len(),
        actions.len() + 1,
        "one reply per action: {stdout}\n{stderr}"
    );
    let greeting = replies.remove(0);
    assert!(greeting.response.starts_with("+OK"), "{greeting:?}");
    for (reply, action) in replies.iter().zip(actions) {
        assert_eq!(reply.action, *action);
    }
    replies
}

fn sizes_listing(messages: &[Vec<u8>]) -> String {
    messages
        .iter()
        .enumerate()
        .map(|(index, message)| format!("{} {}", index + 1, message.len()))
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn python_poplib_over_stls_and_pop3s() {
    if !require("python3") {
        return;
    }
    let started = Instant::now();
    let mut server = Server::new(POP3_SECTION);
    let messages = vec![dotted_message(), lone_dot_at_end_message(), big_message()];
    for message in &messages {
        server.deliver(message);
    }
    assert_messages_eq(&server.stored(), &messages, "the store keeps the bytes");
    server.start();
    let total: usize = messages.iter().map(Vec::len).sum();

    // STLS on the plain port: passwords are refused before it, everything works after it.
    let replies = poplib(
        &server,
        Mode::Plain,
        &[
            "user",
            "capa",
            "stls",
            "capa",
            "login",
            "stat",
            "list",
            "uidl",
            "retr:1",
            "retr:2",
            "retr:3",
            "top:1:0",
            "top:1:4",
            "top:2:100",
            "top:3:25",
            "list:2",
            "uidl:3",
            "dele:1",
            "stat",
            "list",
            "retr:1",
            "dele:1",
            "rset",
            "stat",
            "noop",
            "quit",
        ],
    );
    let [user, capa_plain, stls, capa_tls, login, stat, list, uidl, retr1, retr2, retr3, top_header, top_four, top_all, top_big, list2, uidl3, dele1, stat_marked, list_marked, retr_marked, dele_again, rset, stat_reset, noop, quit] =
        &replies[..]
    else {
        unreachable!()
    };
    user.refused_with("-ERR [AUTH]");
    let capabilities = |reply: &Reply| -> Vec<String> {
        reply.ok().extra.split(' ').map(str::to_string).collect()
    };
    let before = capabilities(capa_plain);
    assert!(
        before.contains(&"STLS".into()) && !before.contains(&"USER".into()),
        "before TLS: STLS, no USER: {before:?}"
    );
    stls.ok();
    let after = capabilities(capa_tls);
    assert!(
        after.contains(&"USER".into()) && !after.contains(&"STLS".into()),
        "after STLS: USER, no STLS: {after:?}"
    );
    login.ok();
    assert_eq!(stat.ok().extra, format!("3 {total}"));
    assert_eq!(list.ok().extra, sizes_listing(&messages));
    let ids = uidl.unique_ids();
    assert_eq!(ids.len(), 3);
    assert!(
        ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
        "{ids:?}"
    );
    for (number, (reply, message)) in [retr1, retr2, retr3].iter().zip(&messages).enumerate() {
        assert_bytes_eq(
            reply.data(),
            message,
            &format!("RETR {} over STLS", number + 1),
        );
        assert_eq!(
            reply.extra,
            message.len().to_string(),
            "poplib's octet count"
        );
        assert!(reply.response.starts_with("+OK"), "{}", reply.response);
    }
    assert_bytes_eq(top_header.data(), &top_of(&messages[0], 0), "TOP 1 0");
    assert_bytes_eq(top_four.data(), &top_of(&messages[0], 4), "TOP 1 4");
    assert_bytes_eq(
        top_all.data(),
        &messages[1],
        "TOP 2 100 (more lines than exist)",
    );
    assert_bytes_eq(top_big.data(), &top_of(&messages[2], 25), "TOP 3 25");
    assert_eq!(list2.ok().response, format!("+OK 2 {}", messages[1].len()));
    assert_eq!(uidl3.ok().response, format!("+OK 3 {}", ids[2]));
    dele1.ok();
    assert_eq!(
        stat_marked.ok().extra,
        format!("2 {}", total - messages[0].len())
    );
    assert_eq!(
        list_marked.ok().extra,
        format!("2 {},3 {}", messages[1].len(), messages[2].len()),
        "a deleted message is not listed"
    );
    retr_marked.refused_with("-ERR");
    dele_again.refused_with("-ERR");
    rset.ok();
    assert_eq!(stat_reset.ok().extra, format!("3 {total}"));
    noop.ok();
    quit.ok();
    assert_messages_eq(
        &server.stored(),
        &messages,
        "RSET unmarked: nothing removed",
    );

    // Implicit TLS: the same maildrop, the same ids, the same bytes.
    let replies = poplib(
        &server,
        Mode::Pop3s,
        &[
            "capa", "login", "stat", "uidl", "retr:1", "retr:2", "retr:3", "top:1:4", "quit",
        ],
    );
    let [capa, login, stat, uidl, retr1, retr2, retr3, top_four, quit] = &replies[..] else {
        unreachable!()
    };
    let capabilities = capabilities(capa);
    assert!(
        capabilities.contains(&"USER".into()) && !capabilities.contains(&"STLS".into()),
        "pop3s: USER, no STLS: {capabilities:?}"
    );
    login.ok();
    assert_eq!(stat.ok().extra, format!("3 {total}"));
    assert_eq!(uidl.unique_ids(), ids, "UIDL is stable across connections");
    for (number, (reply, message)) in [retr1, retr2, retr3].iter().zip(&messages).enumerate() {
        assert_bytes_eq(
            reply.data(),
            message,
            &format!("RETR {} over pop3s", number + 1),
        );
    }
    assert_bytes_eq(top_four.data(), &top_of(&messages[0], 4), "TOP 1 4");
    quit.ok();

    // DELE, then the connection drops without QUIT: nothing is removed (RFC 1939 section 6).
    let replies = poplib(
        &server,
        Mode::Pop3s,
        &[
            "login",
            "dele:2",
            "drop",
            "reconnect",
            "login-retry",
            "stat",
            "uidl",
            "quit",
        ],
    );
    let [login, dele, _drop, _reconnect, login_again, stat, uidl, quit] = &replies[..] else {
        unreachable!()
    };
    login.ok();
    dele.ok();
    login_again.ok();
    assert_eq!(stat.ok().extra, format!("3 {total}"));
    assert_eq!(uidl.unique_ids(), ids);
    quit.ok();
    assert_messages_eq(
        &server.stored(),
        &messages,
        "a dropped connection deletes nothing",
    );

    // A second login to the same maildrop while the first holds it (RFC 2449 [IN-USE]); here
    // both over STLS.
    let replies = poplib(
        &server,
        Mode::Plain,
        &["stls", "login", "second-login", "stat", "quit"],
    );
    let [stls, login, second, stat, quit] = &replies[..] else {
        unreachable!()
    };
    stls.ok();
    login.ok();
    second.refused_with("-ERR [IN-USE]");
    assert_eq!(
        stat.ok().extra,
        format!("3 {total}"),
        "the first session goes on"
    );
    quit.ok();

    // DELE then QUIT removes the message: for a new connection and in the store. The lock is
    // free again after QUIT.
    let replies = poplib(
        &server,
        Mode::Pop3s,
        &[
            "login",
            "dele:2",
            "quit",
            "reconnect",
            "login",
            "stat",
            "uidl",
            "retr:2",
            "quit",
        ],
    );
    let [login, dele, quit, _reconnect, login_again, stat, uidl, retr2, quit_again] = &replies[..]
    else {
        unreachable!()
    };
    login.ok();
    dele.ok();
    quit.ok();
    login_again.ok();
    let remaining = vec![messages[0].clone(), messages[2].clone()];
    assert_eq!(
        stat.ok().extra,
        format!("2 {}", messages[0].len() + messages[2].len())
    );
    assert_eq!(
        uidl.unique_ids(),
        vec![ids[0].clone(), ids[2].clone()],
        "the others keep their ids"
    );
    assert_bytes_eq(
        retr2.data(),
        &messages[2],
        "RETR 2 (renumbered) after the removal",
    );
    quit_again.ok();
    assert_messages_eq(
        &server.stored(),
        &remaining,
        "DELE + QUIT removed message 2",
    );

    // A message delivered while the server runs shows up with a new id at the next login.
    let late = late_message();
    server.deliver(&late);
    let replies = poplib(&server, Mode::Pop3s, &["login", "uidl", "retr:3", "quit"]);
    let [login, uidl, retr3, quit] = &replies[..] else {
        unreachable!()
    };
    login.ok();
    let ids_now = uidl.unique_ids();
    assert_eq!(ids_now.len(), 3);
    assert_eq!(&ids_now[..2], &[ids[0].clone(), ids[2].clone()]);
    assert!(
        !ids.contains(&ids_now[2]),
        "a new id: {ids_now:?} vs {ids:?}"
    );
    assert_bytes_eq(retr3.data(), &late, "RETR of the late message");
    quit.ok();

    // The ids survive a hard restart of the server.
    server.stop();
    server.start();
    let replies = poplib(&server, Mode::Pop3s, &["login", "uidl", "quit"]);
    let [login, uidl, quit] = &replies[..] else {
        unreachable!()
    };
    login.ok();
    assert_eq!(
        uidl.unique_ids(),
        ids_now,
        "UIDL is stable across a restart"
    );
    quit.ok();

    // An account whose POP3 access is switched off is refused, on both ports; the running
    // server picks up the change of the users file.
    let set = server.admin(&["user", "set", ACCOUNT, "--pop3", "off"], None);
    assert!(set.contains("pop3=off"), "{set}");
    let replies = poplib(&server, Mode::Pop3s, &["login"]);
    replies[0].refused_with("-ERR [AUTH]");
    let replies = poplib(&server, Mode::Plain, &["stls", "login"]);
    replies[0].ok();
    replies[1].refused_with("-ERR [AUTH]");
    assert_messages_eq(
        &server.stored(),
        &[messages[0].clone(), messages[2].clone(), late],
        "refused logins change nothing",
    );
    eprintln!("poplib test took {:?}", started.elapsed());
}

/// Maildir files written by other programs (procmail, an MTA's local delivery): LF line ends,
/// or no line end after the last line. The server turns LF into CRLF and ends the last line
/// for the wire; RFC 1939 (section 5, LIST: "the exact size of the message in octets", and
/// section 11) wants STAT and LIST to announce exactly what RETR then sends, and poplib counts
/// what it received.
#[test]
fn python_poplib_octet_counts_match_list_for_maildir_files_of_other_programs() {
    if !require("python3") {
        return;
    }
    let mut server = Server::new(POP3_SECTION);
    let maildir = server.data().join("maildir").join(ACCOUNT);
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let files: [(&str, &[u8]); 2] = [
        (
            "1700000001.M1P1.elsewhere",
            b"From: Procmail <procmail@example.org>\n\
              Subject: LF line ends\n\
              \n\
              .a dot line\n\
              .\n\
              caf\xe9\n",
        ),
        (
            "1700000002.M2P2.elsewhere",
            b"From: Sender <sender@example.org>\r\n\
              Subject: no line end after the last line\r\n\
              \r\n\
              the last line has no CRLF",
        ),
    ];
    for (name, bytes) in files {
        std::fs::write(maildir.join("new").join(name), bytes).unwrap();
    }
    // What goes over the wire (before dot-stuffing): CRLF line ends, the last line ended.
    let wire: Vec<Vec<u8>> = files
        .iter()
        .map(|(_, bytes)| {
            let mut wire = Vec::new();
            for &byte in *bytes {
                if byte == b'\n' && wire.last() != Some(&b'\r') {
                    wire.push(b'\r');
                }
                wire.push(byte);
            }
            if !wire.ends_with(b"\r\n") {
                wire.extend_from_slice(b"\r\n");
            }
            wire
        })
        .collect();
    server.start();

    let replies = poplib(
        &server,
        Mode::Pop3s,
        &["login", "list", "retr:1", "retr:2", "quit"],
    );
    let [login, list, retr1, retr2, quit] = &replies[..] else {
        unreachable!()
    };
    login.ok();
    quit.ok();
    let announced = list.listing();
    assert_eq!(announced.len(), 2, "{announced:?}");
    let mut wrong = Vec::new();
    for ((number, size), (reply, wire)) in announced.iter().zip([retr1, retr2].iter().zip(&wire)) {
        assert_bytes_eq(reply.data(), wire, &format!("RETR {number}"));
        // poplib's count: every line with its CRLF, less one octet per un-stuffed dot.
        if reply.extra != *size || wire.len().to_string() != *size {
            wrong.push(format!(
                "message {number}: LIST says {size} octets, RETR answered {:?} and sent {} \
                 (poplib counted {})",
                reply.response,
                wire.len(),
                reply.extra
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "STAT/LIST sizes must be what RETR sends (RFC 1939 section 5 and 11):\n{}",
        wrong.join("\n")
    );
}

// ----- curl -----

fn curl(server: &Server, args: &[&str]) -> Output {
    Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "30"])
        .arg("--cacert")
        .arg(server.certificate())
        .args(["--user", &format!("{ACCOUNT}:{PASSWORD}")])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[track_caller]
fn curl_ok(server: &Server, args: &[&str]) -> Vec<u8> {
    let output = curl(server, args);
    assert!(
        output.status.success(),
        "curl {args:?} failed ({}): {}\nserver log:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
    output.stdout
}

#[test]
fn curl_retrieves_over_stls_and_lists_over_pop3s() {
    if !require("curl") {
        return;
    }
    let started = Instant::now();
    let mut server = Server::new(POP3_SECTION);
    let messages = vec![dotted_message(), lone_dot_at_end_message(), big_message()];
    for message in &messages {
        server.deliver(message);
    }
    server.start();

    // STLS required; curl un-stuffs the dots and writes the message as it came.
    for (index, message) in messages.iter().enumerate() {
        let number = index + 1;
        let url = format!("pop3://127.0.0.1:{}/{number}", server.port("POP3", false));
        let body = curl_ok(&server, &["--ssl-reqd", &url]);
        assert_bytes_eq(&body, message, &format!("curl {url}"));
    }

    // Implicit TLS: the URL without a message number LISTs.
    let url = format!("pop3s://127.0.0.1:{}/", server.port("POP3", true));
    let listing = curl_ok(&server, &[&url]);
    let expected: String = messages
        .iter()
        .enumerate()
        .map(|(index, message)| format!("{} {}\r\n", index + 1, message.len()))
        .collect();
    assert_eq!(String::from_utf8_lossy(&listing), expected, "curl {url}");

    // A custom command: UIDL.
    let uidl = curl_ok(&server, &["--request", "UIDL", &url]);
    let uidl = String::from_utf8_lossy(&uidl);
    let ids: Vec<&str> = uidl
        .lines()
        .enumerate()
        .map(|(index, line)| {
            let (number, id) = line.split_once(' ').unwrap();
            assert_eq!(number, (index + 1).to_string(), "{uidl}");
            assert!(valid_unique_id(id), "{uidl}");
            id
        })
        .collect();
    assert_eq!(ids.len(), 3, "{uidl}");

    // Without --ssl-reqd curl stays in plaintext; with allow_plaintext_auth = false the
    // server offers no way to send a password (no USER, no SASL in CAPA) and refuses USER,
    // so curl cannot log in: CURLE_LOGIN_DENIED (67).
    let url = format!("pop3://127.0.0.1:{}/1", server.port("POP3", false));
    let refused = curl(&server, &["--verbose", &url]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(
        refused.status.code(),
        Some(67),
        "curl {url} without TLS must fail to log in: {stderr}"
    );
    assert!(refused.stdout.is_empty(), "no message without a login");
    assert!(
        !stderr.contains(PASSWORD),
        "the password never crossed in the clear: {stderr}"
    );

    assert_messages_eq(&server.stored(), &messages, "curl removed nothing");
    eprintln!("curl test took {:?}", started.elapsed());
}

// ----- fetchmail -----

/// Runs fetchmail once against the STLS port with its own HOME (where `.fetchids`, its UIDL
/// memory, lives), delivering each message to its own file in `out`.
#[test]
fn mail_programs_log_in_with_the_full_address() {
    if !require("curl") {
        return;
    }
    let mut server = Server::new(POP3_SECTION);
    server.deliver(&dotted_message());
    server.start();
    let url = format!("pop3s://127.0.0.1:{}/", server.port("POP3", true));
    let login = |user: &str| {
        Command::new("curl")
            .args(["--silent", "--max-time", "30", "--cacert"])
            .arg(server.certificate())
            .args(["--user", &format!("{user}:{PASSWORD}"), &url])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // The default local domain is the host name, "localhost".
    let listed = login(&format!("{ACCOUNT}@localhost"));
    assert!(listed.status.success(), "{listed:?}\n{}", server.log());
    assert!(String::from_utf8_lossy(&listed.stdout).starts_with("1 "));
    let elsewhere = login(&format!("{ACCOUNT}@elsewhere.example"));
    assert_eq!(
        elsewhere.status.code(),
        Some(67),
        "not a local domain: {elsewhere:?}"
    );
}

fn fetchmail(server: &Server, home: &Path, out: &Path, keep: bool) -> (ExitStatus, String) {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let rcfile = home.join("fetchmailrc");
    let mut file = File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&rcfile)
        .unwrap();
    // `sslcertck` verifies the chain against our certificate; fetchmail matches only DNS
    // names, not IP address SANs, so `sslcommonname` names the certificate's "localhost".
    // Passwords are refused before STLS, so a fetch that works went over TLS.
    write!(
        file,
        "set no bouncemail\n\
         set no showdots\n\
         poll 127.0.0.1 protocol POP3 port {port} uidl timeout 20\n\
         \x20   user \"{ACCOUNT}\" there with password \"{PASSWORD}\" is \"{ACCOUNT}\" here\n\
         \x20   sslcertck sslcertfile \"{cert}\" sslcommonname \"localhost\"\n\
         \x20   {keep} no rewrite\n\
         \x20   mda \"/bin/sh {mda} {out}\"\n",
        port = server.port("POP3", false),
        cert = server.certificate().display(),
        keep = if keep { "keep" } else { "no keep" },
        mda = helper("pop3", "save_message.sh").display(),
        out = out.display(),
    )
    .unwrap();
    drop(file);
    let output = Command::new("fetchmail")
        .arg("-f")
        .arg(&rcfile)
        .args(["--nosyslog", "--verbose"])
        // Its lock file: run as root, fetchmail would use /var/run/fetchmail.pid and refuse
        // to run next to another test's fetchmail.
        .arg("--pidfile")
        .arg(home.join("fetchmail.pid"))
        .env("HOME", home)
        .env("FETCHMAILHOME", home)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let transcript = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status, transcript)
}

/// The messages the MDA saved, in no particular order.
fn saved(out: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| std::fs::read(path).unwrap())
        .collect()
}

/// A message as fetchmail hands it to its MDA, made comparable with the stored one:
/// fetchmail prepends a `Received:` field of its own (with continuation lines) and, by
/// default for an MDA, turns CRLF into LF. So: drop that first field, and make every line end
/// LF. The rest must be the stored message, byte for byte.
fn without_fetchmail_additions(delivered: &[u8]) -> Vec<u8> {
    assert!(
        delivered.starts_with(b"Received: from 127.0.0.1"),
        "fetchmail's Received: first: {:?}",
        String::from_utf8_lossy(&delivered[..delivered.len().min(200)])
    );
    let mut rest = delivered;
    loop {
        let newline = rest.iter().position(|&byte| byte == b'\n').unwrap();
        rest = &rest[newline + 1..];
        if !rest.starts_with(b" ") && !rest.starts_with(b"\t") {
            break;
        }
    }
    lf_line_ends(rest)
}

fn lf_line_ends(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len());
    for (index, &byte) in message.iter().enumerate() {
        if byte == b'\r' && message.get(index + 1) == Some(&b'\n') {
            continue;
        }
        out.push(byte);
    }
    out
}

/// Compares what fetchmail delivered with `expected`, as sets (the order of the files is
/// not the order of the messages).
#[track_caller]
fn assert_fetched(out: &Path, expected: &[Vec<u8>], what: &str) {
    let mut fetched: Vec<Vec<u8>> = saved(out)
        .iter()
        .map(|message| without_fetchmail_additions(message))
        .collect();
    let mut expected: Vec<Vec<u8>> = expected
        .iter()
        .map(|message| lf_line_ends(message))
        .collect();
    fetched.sort();
    expected.sort();
    assert_messages_eq(&fetched, &expected, what);
}

#[test]
fn fetchmail_keeps_with_uidl_memory_then_deletes() {
    if !require("fetchmail") {
        return;
    }
    let started = Instant::now();
    let mut server = Server::new(POP3_SECTION);
    let mut messages = vec![dotted_message(), lone_dot_at_end_message(), big_message()];
    for message in &messages {
        server.deliver(message);
    }
    server.start();

    // keep: everything fetched, everything still on the server.
    let home = server.scratch("fetchmail-home");
    let out = server.scratch("fetched-keep");
    let (status, transcript) = fetchmail(&server, &home, &out, true);
    assert_eq!(
        status.code(),
        Some(0),
        "fetchmail (keep) must fetch:\n{transcript}\nserver log:\n{}",
        server.log()
    );
    assert!(
        transcript.contains("STLS") && transcript.contains("upgrade to TLS succeeded"),
        "{transcript}"
    );
    assert_fetched(&out, &messages, "fetchmail keep");
    assert_messages_eq(&server.stored(), &messages, "keep leaves the messages");

    // Its UIDL memory: a second run finds nothing new (exit code 1: no mail).
    let (status, transcript) = fetchmail(&server, &home, &out, true);
    assert_eq!(status.code(), Some(1), "nothing new:\n{transcript}");
    assert_eq!(saved(&out).len(), messages.len(), "nothing fetched twice");

    // A new message: only it is fetched.
    let late = late_message();
    server.deliver(&late);
    let only_new = server.scratch("fetched-new");
    let (status, transcript) = fetchmail(&server, &home, &only_new, true);
    assert_eq!(status.code(), Some(0), "{transcript}");
    assert_fetched(
        &only_new,
        std::slice::from_ref(&late),
        "only the new message",
    );
    messages.push(late);
    assert_messages_eq(&server.stored(), &messages, "keep leaves the messages");

    // no keep, with a fresh UIDL memory: everything fetched and removed from the store.
    let home = server.scratch("fetchmail-home");
    let out = server.scratch("fetched-delete");
    let (status, transcript) = fetchmail(&server, &home, &out, false);
    assert_eq!(status.code(), Some(0), "fetchmail (no keep):\n{transcript}");
    assert_fetched(&out, &messages, "fetchmail no keep");
    assert_messages_eq(&server.stored(), &[], "no keep removed every message");
    eprintln!("fetchmail test took {:?}", started.elapsed());
}
