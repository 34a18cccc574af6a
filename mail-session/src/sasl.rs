//! SASL PLAIN (RFC 4616) and LOGIN, server and client side, for POP3 AUTH (RFC 5034), IMAP
//! AUTHENTICATE (RFC 3501, RFC 4959 SASL-IR) and SMTP AUTH (RFC 4954).
//!
//! Both sides are Sans-IO: the protocol session carries the base64 text in its own framing
//! (`+ ...` in POP3 and IMAP, `334 ...` in SMTP) and hands each line the client sends to
//! [`ServerExchange::step`]. A client line of `*` cancels the exchange (RFC 4422 section 3.5).
//! Credentials never show in `Debug` output, so a wire trace or a log line cannot leak them.
//!
//! Adding a mechanism (XOAUTH2, OAUTHBEARER) means one new [`Mechanism`] variant and one arm in
//! each exchange; nothing in the protocol crates changes.
//!
//! ```
//! use mail_session::sasl::{ClientExchange, Credentials, Mechanism, ServerExchange, ServerStep};
//!
//! let credentials = Credentials::new("alice", "wonderland");
//! let mut client = ClientExchange::new(Mechanism::Login, credentials);
//! let (mut server, mut step) = ServerExchange::start(Mechanism::Login, None).unwrap();
//! loop {
//!     match step {
//!         ServerStep::Challenge(challenge) => {
//!             let answer = client.respond(challenge.as_bytes()).unwrap();
//!             step = server.step(answer.as_bytes());
//!         }
//!         ServerStep::Done(got) => {
//!             assert_eq!(got.username, "alice");
//!             assert!(got.password.matches("wonderland"));
//!             break;
//!         }
//!         ServerStep::Failed(error) => panic!("{error}"),
//!     }
//! }
//! ```

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use thiserror::Error;

/// The SASL mechanisms this crate family speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mechanism {
    /// `PLAIN`, RFC 4616: authorization id, user name and password in one message.
    Plain,
    /// `LOGIN`: user name and password in two steps (draft-murchison-sasl-login).
    Login,
}

impl Mechanism {
    /// Every mechanism, in the order servers offer them.
    pub const ALL: [Mechanism; 2] = [Mechanism::Plain, Mechanism::Login];

    /// The registered name, as it appears on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
        }
    }

    /// Looks a mechanism up by its wire name, ignoring case.
    pub fn from_name(name: &[u8]) -> Option<Mechanism> {
        Mechanism::ALL
            .into_iter()
            .find(|mechanism| mechanism.name().as_bytes().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A secret (a password) whose `Debug` never shows it, and whose comparison takes the same
/// time wherever two secrets differ.
#[derive(Clone, Eq)]
pub struct Secret(String);

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.matches(&other.0)
    }
}

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    /// The secret itself; handle with care.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares with `candidate` in time independent of where they differ.
    pub fn matches(&self, candidate: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), candidate.as_bytes())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Compares two byte strings in time that depends only on their lengths (the `subtle`
/// crate's comparison, which keeps the optimiser from cutting it short).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// What a client proves itself with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The identity to act as, if other than `username` (PLAIN only; empty means none).
    pub authzid: Option<String>,
    /// The authentication identity.
    pub username: String,
    /// The password.
    pub password: Secret,
}

impl Credentials {
    /// A user name and password, with no separate authorization identity.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            authzid: None,
            username: username.into(),
            password: Secret::new(password),
        }
    }
}

/// Why an exchange failed. `Debug` shows no client data.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SaslError {
    /// The client sent `*` (RFC 4422 section 3.5).
    #[error("authentication cancelled by the client")]
    Cancelled,
    /// A line was not valid base64.
    #[error("invalid base64 in SASL exchange")]
    InvalidBase64,
    /// The decoded message does not have the mechanism's form.
    #[error("malformed {mechanism} message: {reason}")]
    Malformed {
        /// The mechanism in use.
        mechanism: Mechanism,
        /// What was wrong.
        reason: &'static str,
    },
    /// A step was taken after the exchange ended.
    #[error("SASL exchange already finished")]
    Finished,
}

/// What the server side sends next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerStep {
    /// Send this base64 challenge (possibly empty) in the protocol's continuation line and pass
    /// the client's answer to [`ServerExchange::step`].
    Challenge(String),
    /// The client has given its credentials; verify them.
    Done(Credentials),
    /// The exchange failed; answer with the protocol's error.
    Failed(SaslError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ServerState {
    PlainAwaitingMessage,
    LoginAwaitingUsername,
    LoginAwaitingPassword { username: String },
    Finished,
}

/// The server side of one SASL exchange.
#[derive(Debug, Clone)]
pub struct ServerExchange {
    mechanism: Mechanism,
    state: ServerState,
}

/// The largest decoded SASL message accepted; RFC 4616 allows 255 octets per field.
const MAX_MESSAGE: usize = 3 * 256 + 2;

const USERNAME_PROMPT: &str = "VXNlcm5hbWU6"; // "Username:"
const PASSWORD_PROMPT: &str = "UGFzc3dvcmQ6"; // "Password:"

impl ServerExchange {
    /// Starts an exchange for `mechanism`. `initial_response` is the base64 text a client sent
    /// with its command (RFC 4959, RFC 4954, RFC 5034), where `=` stands for an empty one.
    ///
    /// Returns `None` when the mechanism is not supported by the server side.
    pub fn start(
        mechanism: Mechanism,
        initial_response: Option<&[u8]>,
    ) -> Option<(ServerExchange, ServerStep)> {
        let mut exchange = ServerExchange {
            mechanism,
            state: match mechanism {
                Mechanism::Plain => ServerState::PlainAwaitingMessage,
                Mechanism::Login => ServerState::LoginAwaitingUsername,
            },
        };
        let step = match initial_response {
            Some(response) => exchange.step(response),
            None => ServerStep::Challenge(match mechanism {
                Mechanism::Plain => String::new(),
                Mechanism::Login => USERNAME_PROMPT.to_string(),
            }),
        };
        Some((exchange, step))
    }

    /// The mechanism in use.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Takes the client's next line (base64, `=` for empty, or `*` to cancel) without its line
    /// terminator.
    pub fn step(&mut self, line: &[u8]) -> ServerStep {
        if self.state == ServerState::Finished {
            return ServerStep::Failed(SaslError::Finished);
        }
        let line = line.trim_ascii_end();
        if line == b"*" {
            self.state = ServerState::Finished;
            return ServerStep::Failed(SaslError::Cancelled);
        }
        let decoded = match decode_response(line) {
            Ok(decoded) => decoded,
            Err(error) => {
                self.state = ServerState::Finished;
                return ServerStep::Failed(error);
            }
        };
        let mechanism = self.mechanism;
        let malformed = |reason| SaslError::Malformed { mechanism, reason };
        match std::mem::replace(&mut self.state, ServerState::Finished) {
            ServerState::PlainAwaitingMessage => match parse_plain(&decoded) {
                Ok(credentials) => ServerStep::Done(credentials),
                Err(reason) => ServerStep::Failed(malformed(reason)),
            },
            ServerState::LoginAwaitingUsername => match String::from_utf8(decoded) {
                Ok(username)
                    if !username.is_empty()
                        && username.len() <= 255
                        && !crate::escape::has_control(&username) =>
                {
                    self.state = ServerState::LoginAwaitingPassword { username };
                    ServerStep::Challenge(PASSWORD_PROMPT.to_string())
                }
                _ => ServerStep::Failed(malformed(
                    "user name is empty, too long, not UTF-8 or holds control characters",
                )),
            },
            ServerState::LoginAwaitingPassword { username } => match String::from_utf8(decoded) {
                Ok(password) if password.len() <= 255 => ServerStep::Done(Credentials {
                    authzid: None,
                    username,
                    password: Secret(password),
                }),
                _ => ServerStep::Failed(malformed("password too long or not UTF-8")),
            },
            ServerState::Finished => ServerStep::Failed(SaslError::Finished),
        }
    }
}

fn decode_response(line: &[u8]) -> Result<Vec<u8>, SaslError> {
    if line == b"=" || line.is_empty() {
        return Ok(Vec::new());
    }
    if line.len() > MAX_MESSAGE / 3 * 4 + 4 {
        return Err(SaslError::InvalidBase64);
    }
    STANDARD.decode(line).map_err(|_| SaslError::InvalidBase64)
}

/// `message = [authzid] UTF8NUL authcid UTF8NUL passwd` (RFC 4616 section 2).
fn parse_plain(message: &[u8]) -> Result<Credentials, &'static str> {
    let mut fields = message.split(|&byte| byte == 0);
    let (Some(authzid), Some(authcid), Some(passwd), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err("expected exactly three NUL-separated fields");
    };
    if authcid.is_empty() || authcid.len() > 255 || passwd.len() > 255 || authzid.len() > 255 {
        return Err("a field is empty or longer than 255 octets");
    }
    let text = |field: &[u8]| String::from_utf8(field.to_vec()).map_err(|_| "a field is not UTF-8");
    // Names are logged and compared; a line feed or an escape sequence in one is an attack.
    let name = |field: &[u8]| {
        text(field).and_then(|name| {
            if crate::escape::has_control(&name) {
                Err("a name holds control characters")
            } else {
                Ok(name)
            }
        })
    };
    Ok(Credentials {
        authzid: if authzid.is_empty() {
            None
        } else {
            Some(name(authzid)?)
        },
        username: name(authcid)?,
        password: Secret(text(passwd)?),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientState {
    Start,
    SentUsername,
    Finished,
}

/// The client side of one SASL exchange.
#[derive(Debug, Clone)]
pub struct ClientExchange {
    mechanism: Mechanism,
    credentials: Credentials,
    state: ClientState,
}

impl ClientExchange {
    /// Prepares to authenticate with `credentials` using `mechanism`.
    pub fn new(mechanism: Mechanism, credentials: Credentials) -> Self {
        ClientExchange {
            mechanism,
            credentials,
            state: ClientState::Start,
        }
    }

    /// The base64 initial response to send with the command when the server allows one
    /// (SASL-IR): the whole message for PLAIN. LOGIN has none. Taking it moves the exchange on.
    pub fn initial_response(&mut self) -> Option<String> {
        match (self.mechanism, self.state) {
            (Mechanism::Plain, ClientState::Start) => {
                self.state = ClientState::Finished;
                Some(STANDARD.encode(self.plain_message()))
            }
            _ => None,
        }
    }

    fn plain_message(&self) -> Vec<u8> {
        let credentials = &self.credentials;
        let mut message = Vec::new();
        message.extend_from_slice(credentials.authzid.as_deref().unwrap_or("").as_bytes());
        message.push(0);
        message.extend_from_slice(credentials.username.as_bytes());
        message.push(0);
        message.extend_from_slice(credentials.password.expose().as_bytes());
        message
    }

    /// Answers the server's base64 `challenge` with the next base64 line to send.
    pub fn respond(&mut self, challenge: &[u8]) -> Result<String, SaslError> {
        let challenge = challenge.trim_ascii();
        if challenge != b"=" && !challenge.is_empty() {
            STANDARD
                .decode(challenge)
                .map_err(|_| SaslError::InvalidBase64)?;
        }
        match (self.mechanism, self.state) {
            (Mechanism::Plain, ClientState::Start) => {
                self.state = ClientState::Finished;
                Ok(STANDARD.encode(self.plain_message()))
            }
            (Mechanism::Login, ClientState::Start) => {
                self.state = ClientState::SentUsername;
                Ok(STANDARD.encode(&self.credentials.username))
            }
            (Mechanism::Login, ClientState::SentUsername) => {
                self.state = ClientState::Finished;
                Ok(STANDARD.encode(self.credentials.password.expose()))
            }
            _ => Err(SaslError::Finished),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_tells_equal_from_different_at_every_position_and_length() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"secret", b"secret"));
        for position in 0..6 {
            let mut other = *b"secret";
            other[position] ^= 0x20;
            assert!(
                !constant_time_eq(b"secret", &other),
                "differs at {position}"
            );
        }
        assert!(!constant_time_eq(b"secret", b"secre"));
        assert!(!constant_time_eq(b"secret", b"secrets"));
        assert!(Secret::new("pw").matches("pw") && !Secret::new("pw").matches("pW"));
    }

    fn b64(bytes: &[u8]) -> Vec<u8> {
        STANDARD.encode(bytes).into_bytes()
    }

    #[test]
    fn plain_with_initial_response_yields_credentials() {
        let response = b64(b"\0tim\0tanstaaftanstaaf");
        let (_, step) = ServerExchange::start(Mechanism::Plain, Some(&response)).unwrap();
        let ServerStep::Done(credentials) = step else {
            panic!("expected credentials, got {step:?}")
        };
        assert_eq!(credentials.username, "tim");
        assert!(credentials.password.matches("tanstaaftanstaaf"));
        assert_eq!(credentials.authzid, None);
    }

    #[test]
    fn plain_carries_an_authorization_identity() {
        let response = b64(b"Ursel\0Kurt\0xipj3plmq");
        let (_, step) = ServerExchange::start(Mechanism::Plain, Some(&response)).unwrap();
        let ServerStep::Done(credentials) = step else {
            panic!("expected credentials")
        };
        assert_eq!(credentials.authzid.as_deref(), Some("Ursel"));
        assert_eq!(credentials.username, "Kurt");
    }

    #[test]
    fn names_with_control_characters_are_refused() {
        for message in [
            &b"\0bob\nforged log line\0pw"[..],
            b"\0\x1b[31mred\0pw",
            b"ad\rmin\0bob\0pw",
            "\0x\u{85}y\0pw".as_bytes(),
        ] {
            let (_, step) = ServerExchange::start(Mechanism::Plain, Some(&b64(message))).unwrap();
            assert!(
                matches!(step, ServerStep::Failed(SaslError::Malformed { .. })),
                "{message:?}: {step:?}"
            );
        }
        let (mut login, _) = ServerExchange::start(Mechanism::Login, None).unwrap();
        assert!(matches!(
            login.step(&b64(b"bob\nroot")),
            ServerStep::Failed(SaslError::Malformed { .. })
        ));
    }

    #[test]
    fn plain_without_initial_response_sends_an_empty_challenge() {
        let (mut server, step) = ServerExchange::start(Mechanism::Plain, None).unwrap();
        assert_eq!(step, ServerStep::Challenge(String::new()));
        assert!(matches!(server.step(&b64(b"\0a\0b")), ServerStep::Done(_)));
        assert_eq!(
            server.step(b"*"),
            ServerStep::Failed(SaslError::Finished),
            "a finished exchange takes no more steps"
        );
    }

    #[test]
    fn malformed_plain_messages_fail() {
        for message in [&b"a\0b"[..], b"\0\0pw", b"a\0b\0c\0d", b"\0\xff\0pw"] {
            let (_, step) = ServerExchange::start(Mechanism::Plain, Some(&b64(message))).unwrap();
            assert!(
                matches!(step, ServerStep::Failed(SaslError::Malformed { .. })),
                "{message:?} gave {step:?}"
            );
        }
        let (_, step) = ServerExchange::start(Mechanism::Plain, Some(b"!!notbase64")).unwrap();
        assert_eq!(step, ServerStep::Failed(SaslError::InvalidBase64));
    }

    #[test]
    fn a_star_cancels_at_any_step() {
        let (mut server, _) = ServerExchange::start(Mechanism::Login, None).unwrap();
        assert!(matches!(
            server.step(&b64(b"alice")),
            ServerStep::Challenge(_)
        ));
        assert_eq!(server.step(b"*"), ServerStep::Failed(SaslError::Cancelled));
    }

    #[test]
    fn login_prompts_for_username_then_password() {
        let (mut server, step) = ServerExchange::start(Mechanism::Login, None).unwrap();
        assert_eq!(step, ServerStep::Challenge("VXNlcm5hbWU6".into()));
        assert_eq!(
            server.step(&b64(b"alice")),
            ServerStep::Challenge("UGFzc3dvcmQ6".into())
        );
        let ServerStep::Done(credentials) = server.step(&b64(b"secret")) else {
            panic!("expected credentials")
        };
        assert_eq!(credentials.username, "alice");
        assert!(credentials.password.matches("secret"));
    }

    #[test]
    fn login_initial_response_is_the_username() {
        let (_, step) = ServerExchange::start(Mechanism::Login, Some(&b64(b"bob"))).unwrap();
        assert_eq!(step, ServerStep::Challenge("UGFzc3dvcmQ6".into()));
    }

    #[test]
    fn plain_client_and_server_agree() {
        let mut client = ClientExchange::new(Mechanism::Plain, Credentials::new("u", "p w"));
        let initial = client.initial_response().unwrap();
        let (_, step) = ServerExchange::start(Mechanism::Plain, Some(initial.as_bytes())).unwrap();
        let ServerStep::Done(credentials) = step else {
            panic!()
        };
        assert_eq!(credentials, Credentials::new("u", "p w"));
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let credentials = Credentials::new("alice", "hunter2");
        let client = ClientExchange::new(Mechanism::Plain, credentials.clone());
        assert!(!format!("{credentials:?}").contains("hunter2"));
        assert!(!format!("{client:?}").contains("hunter2"));
        let (server, _) = ServerExchange::start(Mechanism::Login, None).unwrap();
        let mut server = server;
        server.step(&b64(b"alice"));
        assert!(!format!("{:?}", server.step(&b64(b"hunter2"))).contains("hunter2"));
    }

    #[test]
    fn mechanism_names_are_case_insensitive() {
        assert_eq!(Mechanism::from_name(b"plain"), Some(Mechanism::Plain));
        assert_eq!(Mechanism::from_name(b"LoGiN"), Some(Mechanism::Login));
        assert_eq!(Mechanism::from_name(b"CRAM-MD5"), None);
    }
}
