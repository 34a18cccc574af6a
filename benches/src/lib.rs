//! Benchmarks live in `benches/`; this library holds the inputs they share, so every bench
//! measures the same bytes.

/// A 10 MiB message of ~76-octet CRLF lines, one in 40 starting with a dot (unstuffed form).
pub fn ten_mib_message() -> Vec<u8> {
    let mut message = b"Subject: benchmark\r\nFrom: a@example.org\r\n\r\n".to_vec();
    let mut line = 0u32;
    while message.len() < 10 * 1024 * 1024 {
        if line.is_multiple_of(40) {
            message.push(b'.');
        }
        message.extend_from_slice(
            format!("{line:08} The quick brown fox jumps over the lazy dog, again and again.\r\n")
                .as_bytes(),
        );
        line += 1;
    }
    message
}

/// A 10 MiB message as mail programs send it (unstuffed form): a MIME multipart with a
/// quoted-printable text part (soft line breaks, `=XX` escapes), an HTML part of long lines
/// (990 octets, near the limit of RFC 5321 section 4.5.3.1.6), a plain-text part where many
/// lines start with a dot (a quoted listing: one line in three), and base64 attachments in
/// 76-character lines, which make up most of the size as they do in real mail.
pub fn realistic_message() -> Vec<u8> {
    const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut random = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut message = b"From: Alice <alice@example.org>\r\n\
        To: Bob <bob@example.net>\r\n\
        Subject: =?UTF-8?Q?Quarterly_r=C3=A9port?=\r\n\
        MIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
        .to_vec();
    while message.len() < 10 * 1024 * 1024 {
        message.extend_from_slice(
            b"--b1\r\nContent-Type: text/plain; charset=UTF-8\r\n\
              Content-Transfer-Encoding: quoted-printable\r\n\r\n",
        );
        for line in 0..60 {
            message.extend_from_slice(
                format!(
                    "Line {line} of the report: caf=C3=A9 na=C3=AFve, r=C3=A9sum=C3=A9 =E2=80=94 \
                     totals follow in the attachment as agreed=\r\n\
                     at the meeting.\r\n"
                )
                .as_bytes(),
            );
        }
        message.extend_from_slice(b"--b1\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n");
        for _ in 0..20 {
            let mut line = b"<p>".to_vec();
            while line.len() < 980 {
                line.extend_from_slice(b"<span class=\"x\">quarterly figures</span> ");
            }
            line.truncate(986);
            line.extend_from_slice(b"</p>\r\n");
            message.extend_from_slice(&line);
        }
        message.extend_from_slice(b"--b1\r\nContent-Type: text/plain\r\n\r\n");
        for line in 0..90 {
            if line % 3 == 0 {
                message.extend_from_slice(format!(".hidden-file-{line} 4096 bytes\r\n").as_bytes());
            } else {
                message.extend_from_slice(format!("drwxr-xr-x  entry {line}\r\n").as_bytes());
            }
        }
        message.extend_from_slice(
            b"--b1\r\nContent-Type: application/pdf\r\n\
              Content-Transfer-Encoding: base64\r\n\r\n",
        );
        for _ in 0..800 {
            let mut line = [0u8; 78];
            for slot in &mut line[..76] {
                *slot = BASE64[(random() % 64) as usize];
            }
            line[76..].copy_from_slice(b"\r\n");
            message.extend_from_slice(&line);
        }
    }
    message.extend_from_slice(b"--b1--\r\n");
    message
}

/// A submission client's commands: EHLO, a pipelined envelope for three recipients, DATA, RSET,
/// NOOP, QUIT (2000 sessions).
pub fn smtp_command_stream() -> Vec<u8> {
    let mut stream = Vec::new();
    for n in 0..2000 {
        stream.extend_from_slice(
            format!(
                "EHLO client{n}.example.org\r\n\
                 MAIL FROM:<sender{n}@example.org> SIZE=123456 BODY=8BITMIME\r\n\
                 RCPT TO:<alice@example.net>\r\n\
                 RCPT TO:<bob.smith@example.com> NOTIFY=SUCCESS,FAILURE\r\n\
                 RCPT TO:<carol@example.org>\r\n\
                 DATA\r\nRSET\r\nNOOP\r\nQUIT\r\n"
            )
            .as_bytes(),
        );
    }
    stream
}

/// One command shape, 4000 lines of it (the numbers vary, so no two lines are alike).
fn shape_stream(shape: impl Fn(usize) -> String) -> Vec<u8> {
    let mut stream = Vec::new();
    for n in 0..4000 {
        stream.extend_from_slice(shape(n).as_bytes());
        stream.extend_from_slice(b"\r\n");
    }
    stream
}

/// The SMTP command shapes measured one by one, and the pipelined session mixing them.
pub fn smtp_command_shapes() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "ehlo",
            shape_stream(|n| format!("EHLO client{n}.example.org")),
        ),
        (
            "mail_size_body",
            shape_stream(|n| {
                format!("MAIL FROM:<sender{n}@example.org> SIZE=123456 BODY=8BITMIME")
            }),
        ),
        (
            "rcpt_plain",
            shape_stream(|n| format!("RCPT TO:<x{n}@example.net>")),
        ),
        (
            "rcpt_notify_orcpt",
            shape_stream(|n| {
                format!(
                    "RCPT TO:<bob{n}@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob{n}@example.com"
                )
            }),
        ),
        (
            "data_rset_quit_noop",
            shape_stream(|n| ["DATA", "RSET", "QUIT", "NOOP"][n % 4].to_string()),
        ),
        ("pipelined_session", smtp_command_stream()),
    ]
}

/// A body as it arrives after DATA: stuffed, ended by CR LF . CR LF.
pub fn stuffed(message: &[u8]) -> Vec<u8> {
    let mut stuffed = Vec::new();
    let mut stuffer = mail_session::dot::DotStuffer::for_crlf_input();
    stuffer.encode(message, &mut stuffed);
    stuffer.finish(&mut stuffed);
    stuffed
}
