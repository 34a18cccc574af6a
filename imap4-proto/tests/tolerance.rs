//! Client-side tolerance: each malformed form that real servers send is refused by the strict
//! grammar and accepted by its named option in [`ResponseOptions`]. The lines are the
//! servers' output as quoted in the cited threads.

use imap4_proto::parse::{self, ResponseOptions};
use imap4_proto::types::*;

fn strict() -> ResponseOptions {
    ResponseOptions::strict()
}

/// Parses `line` strictly (must fail) and with `option` set (must succeed).
fn only_with(line: &[u8], option: impl Fn(&mut ResponseOptions)) -> Response {
    assert!(
        parse::response(line, &strict()).is_err(),
        "strict grammar accepted {:?}",
        String::from_utf8_lossy(line)
    );
    let mut options = strict();
    option(&mut options);
    parse::response(line, &options)
        .unwrap_or_else(|e| panic!("{e} in {:?}", String::from_utf8_lossy(line)))
}

#[test]
fn missing_text_icloud_bye() {
    // djc/imap-proto#131, ruby/net-imap#230: iCloud sends `* BYE` at logout.
    let response = only_with(b"* BYE", |o| o.missing_text = true);
    assert!(matches!(
        response,
        Response::Status(StatusResponse {
            kind: StatusKind::Bye,
            ..
        })
    ));
}

#[test]
fn missing_text_gmail_highestmodseq() {
    // modern-email/defects#28: Gmail sends no SP and no text after the code.
    let response = only_with(b"* OK [HIGHESTMODSEQ 13637]", |o| o.missing_text = true);
    assert!(matches!(
        response,
        Response::Status(StatusResponse {
            code: Some(ResponseCode::HighestModSeq(13637)),
            ..
        })
    ));
    only_with(b"+", |o| o.missing_text = true);
}

#[test]
fn trailing_space_yahoo_greenmail_qq() {
    // mxk/go-imap#9, djc/imap-proto#108: Yahoo.
    let response = only_with(b"* SEARCH 61 62 63 ", |o| o.trailing_space = true);
    assert!(matches!(response, Response::Data(Data::Search { numbers, .. }) if numbers.len() == 3));
    // greenmail#264: GreenMail's empty result.
    let response = only_with(b"* SEARCH ", |o| o.trailing_space = true);
    assert!(matches!(response, Response::Data(Data::Search { numbers, .. }) if numbers.is_empty()));
    // modern-email/defects#21: QQ after authentication.
    only_with(b"* CAPABILITY IMAP4rev1 ", |o| o.trailing_space = true);
    // modern-email/defects#9.
    only_with(b"* STATUS INBOX (MESSAGES 0) ", |o| o.trailing_space = true);
    // jakartaee/mail-api#209: imap.qq.com.
    let response = only_with(b"* 11487 FETCH (UID 19436 )", |o| o.trailing_space = true);
    assert!(matches!(response, Response::Data(Data::Fetch { items, .. }) if items.len() == 1));
    // A status text keeps its spaces, tolerant or not.
    let response = parse::response(b"* OK done  ", &ResponseOptions::tolerant()).unwrap();
    assert!(matches!(response, Response::Status(s) if s.text.as_bytes() == b"done  "));
}

#[test]
fn nil_as_empty_string_in_body_structure() {
    // Mail.ru-style NIL values where BODYSTRUCTURE needs strings (imap-codec#291, #650).
    let line = b"* 1 FETCH (BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 10 1)(\"text\" \"html\" (\"charset\" NIL) NIL NIL NIL 20 1) \"alternative\" (\"boundary\" NIL) NIL NIL))";
    let response = only_with(line, |o| o.nil_as_empty_string = true);
    let Response::Data(Data::Fetch { items, .. }) = response else {
        panic!()
    };
    let MessageDataItem::BodyStructure(structure) = &items[0] else {
        panic!()
    };
    let BodyStructure::Multipart { extension, .. } = structure.as_ref() else {
        panic!()
    };
    let params = &extension.as_ref().unwrap().params;
    assert_eq!(params[0].1.as_bytes(), b"");
}

#[test]
fn lenient_dates_unpadded_day_and_domino_zero_date() {
    // apple/swift-nio-imap#735: a one-digit day without its space.
    let response = only_with(
        b"* 1 FETCH (INTERNALDATE \"8-Mar-2023 12:16:47 +0800\")",
        |o| o.lenient_dates = true,
    );
    let Response::Data(Data::Fetch { items, .. }) = response else {
        panic!()
    };
    assert!(matches!(&items[0], MessageDataItem::InternalDate(d) if d.date().day() == 8));
    // jstedfast/MailKit#1236: Domino 10 sends a zero date.
    let response = only_with(
        b"* 2 FETCH (UID 5 INTERNALDATE \"00-Jan-0000 00:00:00 +0000\" RFC822.SIZE 10)",
        |o| o.lenient_dates = true,
    );
    let Response::Data(Data::Fetch { items, .. }) = response else {
        panic!()
    };
    assert!(
        matches!(&items[1], MessageDataItem::InternalDateUnparsed(raw) if raw.as_bytes() == b"00-Jan-0000 00:00:00 +0000")
    );
    assert_eq!(items.len(), 3, "the rest of the FETCH is kept");
}
