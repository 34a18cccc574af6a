//! Encoders for both directions. Text that could break the line framing (CR, LF, NUL) is
//! replaced by a space, so no value can forge a second line.

use crate::types::{Capability, Command, StatusLine};

fn push_text(out: &mut Vec<u8>, text: &str) {
    out.extend(text.bytes().map(|byte| {
        if matches!(byte, b'\r' | b'\n' | 0) {
            b' '
        } else {
            byte
        }
    }));
}

/// Appends a command line, CRLF included.
pub fn command(command: &Command, out: &mut Vec<u8>) {
    out.extend_from_slice(command.keyword().as_bytes());
    match command {
        Command::User(name) => {
            out.push(b' ');
            push_text(out, name);
        }
        Command::Pass(password) => {
            out.push(b' ');
            push_text(out, password.expose());
        }
        Command::Apop { name, digest } => {
            out.push(b' ');
            push_text(out, name);
            out.push(b' ');
            push_text(out, digest);
        }
        Command::Auth {
            mechanism,
            initial_response,
        } => {
            if let Some(mechanism) = mechanism {
                out.push(b' ');
                push_text(out, mechanism);
                if let Some(response) = initial_response {
                    out.push(b' ');
                    push_text(out, response.expose());
                }
            }
        }
        Command::List(Some(number)) | Command::Uidl(Some(number)) => {
            out.extend_from_slice(format!(" {number}").as_bytes());
        }
        Command::Retr(number) | Command::Dele(number) => {
            out.extend_from_slice(format!(" {number}").as_bytes());
        }
        Command::Top { message, lines } => {
            out.extend_from_slice(format!(" {message} {lines}").as_bytes());
        }
        Command::List(None)
        | Command::Uidl(None)
        | Command::Stls
        | Command::Capa
        | Command::Utf8
        | Command::Stat
        | Command::Noop
        | Command::Rset
        | Command::Quit => {}
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends a status line, CRLF included.
pub fn status_line(status: &StatusLine, out: &mut Vec<u8>) {
    out.extend_from_slice(if status.ok { b"+OK" } else { b"-ERR" });
    if let Some(code) = &status.code {
        out.extend_from_slice(b" [");
        push_text(out, code.as_str());
        out.push(b']');
    }
    if !status.text.is_empty() {
        out.push(b' ');
        push_text(out, &status.text);
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends a whole CAPA answer.
pub fn capabilities(capabilities: &[Capability], out: &mut Vec<u8>) {
    out.extend_from_slice(b"+OK Capability list follows\r\n");
    for capability in capabilities {
        push_text(out, &capability.to_string());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use crate::types::ResponseCode;
    use mail_session::sasl::Secret;
    use proptest::prelude::*;

    fn word() -> impl Strategy<Value = String> {
        "[!-~]{1,20}"
    }

    fn any_command() -> impl Strategy<Value = Command> {
        prop_oneof![
            word().prop_map(Command::User),
            "[ -~]{1,40}".prop_map(|p| Command::Pass(Secret::new(p))),
            (word(), "[0-9a-f]{32}").prop_map(|(name, digest)| Command::Apop { name, digest }),
            Just(Command::Auth {
                mechanism: None,
                initial_response: None
            }),
            (word(), proptest::option::of("[A-Za-z0-9+/=]{1,40}")).prop_map(|(m, r)| {
                Command::Auth {
                    mechanism: Some(m),
                    initial_response: r.map(Secret::new),
                }
            }),
            Just(Command::Stls),
            Just(Command::Capa),
            Just(Command::Utf8),
            Just(Command::Stat),
            proptest::option::of(1u32..).prop_map(Command::List),
            proptest::option::of(1u32..).prop_map(Command::Uidl),
            (1u32..).prop_map(Command::Retr),
            (1u32.., any::<u32>()).prop_map(|(message, lines)| Command::Top { message, lines }),
            (1u32..).prop_map(Command::Dele),
            Just(Command::Noop),
            Just(Command::Rset),
            Just(Command::Quit),
        ]
    }

    fn any_code() -> impl Strategy<Value = ResponseCode> {
        prop_oneof![
            Just(ResponseCode::InUse),
            Just(ResponseCode::LoginDelay),
            Just(ResponseCode::SysTemp),
            Just(ResponseCode::SysPerm),
            Just(ResponseCode::Auth),
            Just(ResponseCode::Utf8),
            "X-[A-Z]{1,8}(/[A-Z]{1,5})?".prop_map(ResponseCode::Other),
        ]
    }

    proptest! {
        #[test]
        fn commands_round_trip(command in any_command()) {
            let mut out = Vec::new();
            super::command(&command, &mut out);
            prop_assert!(out.ends_with(b"\r\n"));
            prop_assert!(out.len() <= 255, "fits the RFC 2449 limit");
            prop_assert_eq!(parse::command(&out[..out.len() - 2]), Ok(command));
        }

        #[test]
        fn status_lines_round_trip(ok: bool, code in proptest::option::of(any_code()), text in "([!-Z\\\\-~][ -~]{0,60})?") {
            let status = StatusLine { ok, code, text: text.trim_end().to_string() };
            let mut out = Vec::new();
            status_line(&status, &mut out);
            prop_assert_eq!(parse::status_line(&out[..out.len() - 2]).unwrap(), status);
        }

        #[test]
        fn no_text_can_forge_a_second_line(text in ".*") {
            let mut out = Vec::new();
            status_line(&StatusLine::err(text), &mut out);
            prop_assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        }

        #[test]
        fn capabilities_round_trip(index in 0usize..10) {
            let capability = [
                Capability::Top, Capability::User, Capability::Sasl(vec!["PLAIN".into(), "LOGIN".into()]),
                Capability::RespCodes, Capability::AuthRespCode, Capability::Pipelining,
                Capability::Uidl, Capability::Stls, Capability::Utf8 { user: true },
                Capability::Implementation("mail-server 0.1".into()),
            ][index].clone();
            prop_assert_eq!(parse::capability(capability.to_string().as_bytes()), capability);
        }
    }
}
