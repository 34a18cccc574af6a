//! `MailboxName` from arbitrary bytes: an accepted name holds no `..`, no NUL, no leading `/`,
//! and parsing its text again gives the same name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailstore::MailboxName;

fuzz_target!(|data: &[u8]| {
    if let Ok(name) = MailboxName::try_from(data) {
        let text = name.as_str();
        assert!(!text.contains(".."), "{text:?}");
        assert!(!text.contains('\0'), "{text:?}");
        assert!(!text.starts_with('/'), "{text:?}");
        assert_eq!(MailboxName::try_from(text), Ok(name.clone()));
    }
});
