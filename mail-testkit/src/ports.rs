//! Free loopback ports and waiting for a listener.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// A port on `ip` that was free a moment ago (the kernel's choice for port 0). Someone else
/// may take it before the caller binds it; starters retry with another.
pub fn free_port_on(ip: Ipv4Addr) -> io::Result<u16> {
    Ok(TcpListener::bind((ip, 0))?.local_addr()?.port())
}

/// A free port on 127.0.0.1 (see [`free_port_on`]).
///
/// # Panics
///
/// When no port can be bound on loopback.
pub fn free_port() -> u16 {
    free_port_on(Ipv4Addr::LOCALHOST).expect("bind a free loopback port")
}

/// Waits until a TCP connection to `address` succeeds, for at most `timeout`; whether it did.
pub fn wait_for_listener(address: SocketAddr, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if TcpStream::connect(address).is_ok() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_port_can_be_bound_and_waited_for() {
        let port = free_port();
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("bind");
        let address = listener.local_addr().expect("address");
        assert!(wait_for_listener(address, Duration::from_secs(1)));
    }
}
