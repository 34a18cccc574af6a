//! POP3 commands, responses, response codes and capabilities.

use std::fmt;

use mail_session::sasl::{Mechanism, Secret};

/// A message number in the maildrop, counted from 1 (RFC 1939 section 6).
pub type MessageNumber = u32;

/// A client command (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH, RFC 6856 UTF8).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// `USER name`
    User(String),
    /// `PASS string` (the rest of the line, spaces included).
    Pass(Secret),
    /// `APOP name digest`
    Apop {
        /// The mailbox name.
        name: String,
        /// The MD5 digest, 32 lower-case hex digits.
        digest: String,
    },
    /// `AUTH [mechanism [initial-response]]`; without a mechanism, a request for the list.
    Auth {
        /// The mechanism's name as sent, if any.
        mechanism: Option<String>,
        /// The initial response (base64, or `=` for empty), if any.
        initial_response: Option<Secret>,
    },
    /// `STLS`
    Stls,
    /// `CAPA`
    Capa,
    /// `UTF8`
    Utf8,
    /// `STAT`
    Stat,
    /// `LIST [msg]`
    List(Option<MessageNumber>),
    /// `UIDL [msg]`
    Uidl(Option<MessageNumber>),
    /// `RETR msg`
    Retr(MessageNumber),
    /// `TOP msg n`
    Top {
        /// The message.
        message: MessageNumber,
        /// How many body lines.
        lines: u32,
    },
    /// `DELE msg`
    Dele(MessageNumber),
    /// `NOOP`
    Noop,
    /// `RSET`
    Rset,
    /// `QUIT`
    Quit,
}

impl Command {
    /// The command's keyword.
    pub fn keyword(&self) -> &'static str {
        match self {
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Apop { .. } => "APOP",
            Command::Auth { .. } => "AUTH",
            Command::Stls => "STLS",
            Command::Capa => "CAPA",
            Command::Utf8 => "UTF8",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Uidl(_) => "UIDL",
            Command::Retr(_) => "RETR",
            Command::Top { .. } => "TOP",
            Command::Dele(_) => "DELE",
            Command::Noop => "NOOP",
            Command::Rset => "RSET",
            Command::Quit => "QUIT",
        }
    }

    /// Whether the answer is multi-line when the command succeeds.
    pub fn has_multiline_answer(&self) -> bool {
        matches!(
            self,
            Command::Capa
                | Command::List(None)
                | Command::Uidl(None)
                | Command::Retr(_)
                | Command::Top { .. }
                | Command::Auth {
                    mechanism: None,
                    ..
                }
        )
    }
}

/// An extended response code (RFC 2449 section 8, RFC 3206, RFC 6856 section 5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseCode {
    /// `[IN-USE]`: the maildrop is locked by another session.
    InUse,
    /// `[LOGIN-DELAY]`: the user logs in too often.
    LoginDelay,
    /// `[SYS/TEMP]`: a temporary system failure.
    SysTemp,
    /// `[SYS/PERM]`: a permanent system failure.
    SysPerm,
    /// `[AUTH]`: the credentials or their use were refused.
    Auth,
    /// `[UTF8]`: the message needs UTF-8 mode.
    Utf8,
    /// Any other code, as sent (without brackets).
    Other(String),
}

impl ResponseCode {
    /// The code as it appears between the brackets.
    pub fn as_str(&self) -> &str {
        match self {
            ResponseCode::InUse => "IN-USE",
            ResponseCode::LoginDelay => "LOGIN-DELAY",
            ResponseCode::SysTemp => "SYS/TEMP",
            ResponseCode::SysPerm => "SYS/PERM",
            ResponseCode::Auth => "AUTH",
            ResponseCode::Utf8 => "UTF8",
            ResponseCode::Other(other) => other,
        }
    }

    /// Reads a code from its text between the brackets.
    pub fn from_text(text: &str) -> ResponseCode {
        match text.to_ascii_uppercase().as_str() {
            "IN-USE" => ResponseCode::InUse,
            "LOGIN-DELAY" => ResponseCode::LoginDelay,
            "SYS/TEMP" => ResponseCode::SysTemp,
            "SYS/PERM" => ResponseCode::SysPerm,
            "AUTH" => ResponseCode::Auth,
            "UTF8" => ResponseCode::Utf8,
            _ => ResponseCode::Other(text.to_string()),
        }
    }
}

impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first line of every response: `+OK` or `-ERR`, an optional code and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    /// `+OK` (true) or `-ERR` (false).
    pub ok: bool,
    /// The extended response code, if any.
    pub code: Option<ResponseCode>,
    /// The rest of the line.
    pub text: String,
}

impl StatusLine {
    /// `+OK text`
    pub fn ok(text: impl Into<String>) -> Self {
        StatusLine {
            ok: true,
            code: None,
            text: text.into(),
        }
    }

    /// `-ERR text`
    pub fn err(text: impl Into<String>) -> Self {
        StatusLine {
            ok: false,
            code: None,
            text: text.into(),
        }
    }

    /// `-ERR [code] text`
    pub fn err_with(code: ResponseCode, text: impl Into<String>) -> Self {
        StatusLine {
            ok: false,
            code: Some(code),
            text: text.into(),
        }
    }

    /// The APOP timestamp of a greeting (`<...>`), if present.
    pub fn timestamp(&self) -> Option<&str> {
        let start = self.text.find('<')?;
        let end = start + self.text[start..].find('>')?;
        Some(&self.text[start..=end])
    }
}

impl fmt::Display for StatusLine {
    /// The line as it is sent, without its CR LF: `+OK text`, `-ERR [CODE] text`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.ok { "+OK" } else { "-ERR" })?;
        if let Some(code) = &self.code {
            write!(f, " [{code}]")?;
        }
        if !self.text.is_empty() {
            write!(f, " {}", self.text)?;
        }
        Ok(())
    }
}

/// A capability from a CAPA response (RFC 2449 section 6, RFC 2595, RFC 6856).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Capability {
    /// `TOP`
    Top,
    /// `USER`
    User,
    /// `SASL mech...`
    Sasl(Vec<String>),
    /// `RESP-CODES`
    RespCodes,
    /// `AUTH-RESP-CODE` (RFC 3206)
    AuthRespCode,
    /// `LOGIN-DELAY n`
    LoginDelay(u32),
    /// `PIPELINING`
    Pipelining,
    /// `EXPIRE NEVER` / `EXPIRE n`
    Expire(String),
    /// `UIDL`
    Uidl,
    /// `IMPLEMENTATION text`
    Implementation(String),
    /// `STLS`
    Stls,
    /// `UTF8` (with `USER` when UTF-8 user names and passwords are accepted)
    Utf8 {
        /// Whether `USER` follows.
        user: bool,
    },
    /// Any other capability line, as sent.
    Other(String),
}

impl Capability {
    /// The SASL capability for these mechanisms.
    pub fn sasl(mechanisms: &[Mechanism]) -> Capability {
        Capability::Sasl(mechanisms.iter().map(|m| m.name().to_string()).collect())
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Capability::Top => f.write_str("TOP"),
            Capability::User => f.write_str("USER"),
            Capability::Sasl(mechanisms) => {
                f.write_str("SASL")?;
                for mechanism in mechanisms {
                    write!(f, " {mechanism}")?;
                }
                Ok(())
            }
            Capability::RespCodes => f.write_str("RESP-CODES"),
            Capability::AuthRespCode => f.write_str("AUTH-RESP-CODE"),
            Capability::LoginDelay(seconds) => write!(f, "LOGIN-DELAY {seconds}"),
            Capability::Pipelining => f.write_str("PIPELINING"),
            Capability::Expire(policy) => write!(f, "EXPIRE {policy}"),
            Capability::Uidl => f.write_str("UIDL"),
            Capability::Implementation(text) => write!(f, "IMPLEMENTATION {text}"),
            Capability::Stls => f.write_str("STLS"),
            Capability::Utf8 { user: true } => f.write_str("UTF8 USER"),
            Capability::Utf8 { user: false } => f.write_str("UTF8"),
            Capability::Other(line) => f.write_str(line),
        }
    }
}
