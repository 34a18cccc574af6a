//! Round trips: every command and reply the encoders write parses back to the same value.

use proptest::prelude::*;
use smtp_submit::encode;
use smtp_submit::parse::{self, ReplyAssembler};
use smtp_submit::types::{
    BodyType, Command, Domain, DsnNotify, DsnReturn, EnhancedCode, ForwardPath, LocalPart,
    MailParameters, Mailbox, OriginalRecipient, RcptParameters, Reply, ReplyCode, ReversePath,
    XText,
};

fn domain() -> impl Strategy<Value = Domain> {
    prop_oneof![
        "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?){0,3}"
            .prop_map(|name| Domain::name(&name).unwrap()),
        any::<[u8; 4]>().prop_map(|octets| {
            Domain::literal(&std::net::Ipv4Addr::from(octets).to_string()).unwrap()
        }),
        any::<[u16; 8]>().prop_map(|segments| {
            Domain::literal(&format!("IPv6:{}", std::net::Ipv6Addr::from(segments))).unwrap()
        }),
        "[a-z0-9\u{e9}\u{4e2d}]{1,8}\\.example".prop_map(|name| Domain::name(&name).unwrap()),
    ]
}

fn local_part() -> impl Strategy<Value = LocalPart> {
    prop_oneof![
        "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,10}(\\.[a-zA-Z0-9_-]{1,10}){0,2}",
        "[ -~]{0,20}",
        "[a-z\u{e9}\u{df}]{1,10}",
    ]
    .prop_map(|text| LocalPart::try_from(text.as_str()).unwrap())
}

fn mailbox() -> impl Strategy<Value = Mailbox> {
    (local_part(), domain()).prop_map(|(local_part, domain)| Mailbox { local_part, domain })
}

fn xtext() -> impl Strategy<Value = XText> {
    proptest::collection::vec(any::<u8>(), 1..20).prop_map(|bytes| XText::encode(&bytes).unwrap())
}

fn mail_parameters() -> impl Strategy<Value = MailParameters> {
    (
        proptest::option::of(any::<u64>()),
        proptest::option::of(prop_oneof![
            Just(BodyType::SevenBit),
            Just(BodyType::EightBitMime),
            Just(BodyType::BinaryMime)
        ]),
        any::<bool>(),
        proptest::option::of(prop_oneof![Just(DsnReturn::Full), Just(DsnReturn::Headers)]),
        proptest::option::of(xtext()),
        proptest::option::of(proptest::option::of(xtext())),
    )
        .prop_map(|(size, body, smtputf8, ret, envid, auth)| MailParameters {
            size,
            body,
            smtputf8,
            ret,
            envid,
            auth,
        })
}

fn rcpt_parameters() -> impl Strategy<Value = RcptParameters> {
    (
        proptest::option::of((any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
            |(success, failure, delay)| DsnNotify {
                success,
                failure,
                delay,
            },
        )),
        proptest::option::of(
            ("rfc822|utf-8", xtext()).prop_map(|(address_type, address)| OriginalRecipient {
                address_type,
                address,
            }),
        ),
    )
        .prop_map(|(notify, orcpt)| RcptParameters { notify, orcpt })
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        domain().prop_map(Command::Ehlo),
        domain().prop_map(Command::Helo),
        (
            prop_oneof![
                Just(ReversePath::Null),
                mailbox().prop_map(ReversePath::Mailbox)
            ],
            mail_parameters()
        )
            .prop_map(|(from, parameters)| Command::Mail { from, parameters }),
        (
            prop_oneof![
                Just(ForwardPath::Postmaster),
                mailbox().prop_map(ForwardPath::Mailbox)
            ],
            rcpt_parameters()
        )
            .prop_map(|(to, parameters)| Command::Rcpt { to, parameters }),
        Just(Command::Data),
        (any::<u64>(), any::<bool>()).prop_map(|(size, last)| Command::Bdat { size, last }),
        Just(Command::Rset),
        Just(Command::Noop),
        Just(Command::Quit),
        Just(Command::StartTls),
        "[a-z][ -~]{0,20}[a-z]".prop_map(Command::Vrfy),
        proptest::option::of("[a-z][a-z ]{0,20}[a-z]").prop_map(Command::Help),
        (
            "PLAIN|LOGIN|XOAUTH2",
            proptest::option::of("[A-Za-z0-9+/]{1,40}={0,2}|=")
        )
            .prop_map(|(mechanism, response)| Command::Auth {
                mechanism,
                initial_response: response.map(mail_session::sasl::Secret::new),
            }),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    (
        (2u16..=5, 0u16..=5, 0u16..=9),
        any::<bool>(),
        0u16..=999,
        0u16..=999,
        proptest::collection::vec("[ -~]{0,40}", 1..5),
    )
        .prop_map(|((a, b, c), with_enhanced, subject, detail, lines)| {
            let code = ReplyCode::try_from(a * 100 + b * 10 + c).unwrap();
            Reply {
                code,
                enhanced: with_enhanced
                    .then(|| EnhancedCode::new(a as u8, subject, detail))
                    .flatten(),
                lines,
            }
        })
        // A text that itself starts like an enhanced code would be read as one.
        .prop_filter("text must not start like an enhanced code", |reply| {
            reply
                .lines
                .iter()
                .all(|line| parse::enhanced_code(line).is_none())
        })
}

proptest! {
    #[test]
    fn commands_round_trip(command in command()) {
        let mut wire = Vec::new();
        encode::command(&command, &mut wire);
        prop_assert!(wire.ends_with(b"\r\n"));
        let line = &wire[..wire.len() - 2];
        prop_assert!(!line.contains(&b'\n'));
        let parsed = parse::command(line);
        prop_assert_eq!(parsed, Ok(command), "{}", String::from_utf8_lossy(&wire));
    }

    #[test]
    fn replies_round_trip(reply in reply()) {
        let mut wire = Vec::new();
        encode::reply(&reply, &mut wire);
        let mut assembler = ReplyAssembler::new(10);
        let mut parsed = None;
        for line in wire.split(|&byte| byte == b'\n').filter(|line| !line.is_empty()) {
            let line = line.strip_suffix(b"\r").unwrap();
            parsed = assembler.push(line).unwrap();
        }
        prop_assert_eq!(parsed, Some(reply));
    }

    #[test]
    fn the_command_parser_never_panics(line in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse::command(&line);
        let _ = parse::reply_line(&line);
    }
}
