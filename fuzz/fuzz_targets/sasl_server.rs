//! `ServerExchange` for every mechanism: an initial response (or none) and further client
//! lines, all arbitrary. It must never panic, and never step on once finished.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mail_session::sasl::{Mechanism, SaslError, ServerExchange, ServerStep};

fuzz_target!(|data: &[u8]| {
    let [selector, rest @ ..] = data else { return };
    let mut lines = rest.split(|&byte| byte == b'\n');
    for mechanism in Mechanism::ALL {
        let initial = if selector & 1 == 1 {
            lines.next()
        } else {
            None
        };
        let Some((mut server, mut step)) = ServerExchange::start(mechanism, initial) else {
            continue;
        };
        for line in lines.clone() {
            let finished = !matches!(step, ServerStep::Challenge(_));
            step = server.step(line);
            if finished {
                assert_eq!(step, ServerStep::Failed(SaslError::Finished));
            }
        }
    }
});
