//! Benchmarks live in `benches/`; this library holds the inputs they share, so every bench
//! measures the same bytes.

/// A 10 MiB message of ~76-octet CRLF lines, one in 40 starting with a dot (unstuffed form).
pub fn ten_mib_message() -> Vec<u8> {
    let mut message = b"Subject: benchmark\r\nFrom: a@example.org\r\n\r\n".to_vec();
    let mut line = 0u32;
    while message.len() < 10 * 1024 * 1024 {
        if line % 40 == 0 {
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
