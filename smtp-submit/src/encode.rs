//! Encoders for both directions. Replies can hold no CR or LF (their constructors replace
//! them), and every command argument is a checked type, so no value can forge a second line.

use crate::types::{Command, DsnReturn, MailParameters, RcptParameters, Reply};

/// Appends a command line, CRLF included.
pub fn command(command: &Command, out: &mut Vec<u8>) {
    let line = match command {
        Command::Ehlo(domain) => format!("EHLO {domain}"),
        Command::Helo(domain) => format!("HELO {domain}"),
        Command::Mail { from, parameters } => {
            format!("MAIL FROM:{from}{}", mail_parameters(parameters))
        }
        Command::Rcpt { to, parameters } => {
            format!("RCPT TO:{to}{}", rcpt_parameters(parameters))
        }
        Command::Data => "DATA".into(),
        Command::Bdat { size, last: true } => format!("BDAT {size} LAST"),
        Command::Bdat { size, last: false } => format!("BDAT {size}"),
        Command::Rset => "RSET".into(),
        Command::Noop => "NOOP".into(),
        Command::Quit => "QUIT".into(),
        Command::Vrfy(text) => format!("VRFY {}", one_line(text)),
        Command::Help(Some(text)) => format!("HELP {}", one_line(text)),
        Command::Help(None) => "HELP".into(),
        Command::StartTls => "STARTTLS".into(),
        Command::Auth {
            mechanism,
            initial_response: Some(response),
        } => format!(
            "AUTH {} {}",
            one_line(mechanism),
            one_line(response.expose())
        ),
        Command::Auth {
            mechanism,
            initial_response: None,
        } => format!("AUTH {}", one_line(mechanism)),
    };
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn one_line(text: &str) -> String {
    text.replace(['\r', '\n', '\0'], " ")
}

fn mail_parameters(parameters: &MailParameters) -> String {
    let mut text = String::new();
    if let Some(size) = parameters.size {
        text.push_str(&format!(" SIZE={size}"));
    }
    if let Some(body) = parameters.body {
        text.push_str(&format!(" BODY={}", body.as_str()));
    }
    if parameters.smtputf8 {
        text.push_str(" SMTPUTF8");
    }
    if let Some(ret) = parameters.ret {
        text.push_str(match ret {
            DsnReturn::Full => " RET=FULL",
            DsnReturn::Headers => " RET=HDRS",
        });
    }
    if let Some(envid) = &parameters.envid {
        text.push_str(&format!(" ENVID={envid}"));
    }
    match &parameters.auth {
        Some(Some(submitter)) => text.push_str(&format!(" AUTH={submitter}")),
        Some(None) => text.push_str(" AUTH=<>"),
        None => {}
    }
    text
}

fn rcpt_parameters(parameters: &RcptParameters) -> String {
    let mut text = String::new();
    if let Some(notify) = parameters.notify {
        let mut parts = Vec::new();
        for (on, name) in [
            (notify.success, "SUCCESS"),
            (notify.failure, "FAILURE"),
            (notify.delay, "DELAY"),
        ] {
            if on {
                parts.push(name);
            }
        }
        if parts.is_empty() {
            parts.push("NEVER");
        }
        text.push_str(&format!(" NOTIFY={}", parts.join(",")));
    }
    if let Some(orcpt) = &parameters.orcpt {
        text.push_str(&format!(" ORCPT={};{}", orcpt.address_type, orcpt.address));
    }
    text
}

/// Appends a reply, every line but the last marked with `-`, the enhanced code (if any) on
/// every line (RFC 2034 section 4).
pub fn reply(reply: &Reply, out: &mut Vec<u8>) {
    let code = reply.code.get().to_string();
    let last = reply.lines.len().saturating_sub(1);
    let lines: &[String] = if reply.lines.is_empty() {
        &[]
    } else {
        &reply.lines
    };
    if lines.is_empty() {
        out.extend_from_slice(code.as_bytes());
        if let Some(enhanced) = reply.enhanced {
            out.extend_from_slice(format!(" {enhanced}").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        return;
    }
    for (index, text) in lines.iter().enumerate() {
        out.extend_from_slice(code.as_bytes());
        out.push(if index == last { b' ' } else { b'-' });
        if let Some(enhanced) = reply.enhanced {
            out.extend_from_slice(enhanced.to_string().as_bytes());
            if !text.is_empty() {
                out.push(b' ');
            }
        }
        out.extend(text.bytes().map(|byte| {
            if matches!(byte, b'\r' | b'\n' | 0) {
                b' '
            } else {
                byte
            }
        }));
        out.extend_from_slice(b"\r\n");
    }
}
