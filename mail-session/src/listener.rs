//! The accept loop: a connection limit, TCP keepalive, and graceful shutdown.
//!
//! [`serve`] accepts connections and runs a per-connection future for each. While the limit is
//! reached it stops accepting (new clients wait in the kernel's backlog). When the [`Shutdown`]
//! is triggered it stops accepting, every connection sees its [`watch::Receiver`] turn `true`
//! (the driver passes that to the session, which says goodbye in its protocol's words), and
//! after the grace period the connections still open are dropped.
//!
//! [`LoginThrottle`] is the listener-wide, per-address failed-login delay that the protocol
//! services share: each failure from an address waits longer before it is answered.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use tokio_rustls::TlsAcceptor;

use crate::driver::{accept_connection, drive, Handler, StartTls, TlsUpgrade, Transport};
use crate::login_delay::{FailedLoginDelay, LoginDelayPolicy};
use crate::{Session, TlsMode};

/// The failed-login delay shared by every connection of a server, with the attempts from one
/// address taken one at a time.
///
/// A service calls [`LoginThrottle::begin`] before it checks a password, and then
/// [`LoginAttempt::failed`] or [`LoginAttempt::succeeded`]. Parallel connections from one
/// address wait for each other's attempts (a per-address async lock, dropped from the table when
/// nobody holds or waits for it), so they cannot guess in parallel; an attempt that waits longer
/// than the policy's maximum delay is refused with a temporary failure, so that every answer
/// comes within a few seconds.
#[derive(Debug, Clone)]
pub struct LoginThrottle {
    delays: Arc<Mutex<FailedLoginDelay>>,
    in_progress: Arc<Mutex<HashMap<IpAddr, Arc<tokio::sync::Mutex<()>>>>>,
}

impl Default for LoginThrottle {
    /// A throttle with the default [`LoginDelayPolicy`].
    fn default() -> Self {
        LoginThrottle::new(LoginDelayPolicy::default())
    }
}

/// One login attempt from an address, holding that address's turn until it is dropped.
#[derive(Debug)]
#[must_use = "an attempt is finished with `failed` or `succeeded`"]
pub struct LoginAttempt {
    throttle: LoginThrottle,
    address: IpAddr,
    turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl LoginThrottle {
    /// A throttle with `policy`.
    pub fn new(policy: LoginDelayPolicy) -> Self {
        LoginThrottle {
            delays: Arc::new(Mutex::new(FailedLoginDelay::new(policy))),
            in_progress: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn policy(&self) -> LoginDelayPolicy {
        self.delays
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .policy()
    }

    /// Waits for `address`'s turn to try a login (the attempts before it from that address
    /// finished, their delays included). `None` when that takes longer than the policy's
    /// maximum delay: the caller answers with a temporary failure without checking anything.
    pub async fn begin(&self, address: IpAddr) -> Option<LoginAttempt> {
        let lock = self
            .in_progress
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(address)
            .or_default()
            .clone();
        let wait = self.policy().maximum.max(Duration::from_millis(1));
        match tokio::time::timeout(wait, lock.clone().lock_owned()).await {
            Ok(turn) => {
                drop(lock);
                Some(LoginAttempt {
                    throttle: self.clone(),
                    address,
                    turn: Some(turn),
                })
            }
            Err(_) => {
                self.release(address, lock);
                None
            }
        }
    }

    /// Drops `held` (a clone of `address`'s lock) and the table entry if nobody else holds it.
    fn release<T>(&self, address: IpAddr, held: T) {
        let mut in_progress = self
            .in_progress
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        drop(held);
        if in_progress
            .get(&address)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            in_progress.remove(&address);
        }
    }

    /// How many addresses have an attempt in progress or waiting.
    pub fn addresses_in_progress(&self) -> usize {
        self.in_progress
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }
}

impl LoginAttempt {
    /// Records the failed login for the account name `account` and waits as long as the
    /// policy says (still holding the address's turn) before the caller answers it.
    pub async fn failed(self, account: &str) {
        let delay = self
            .throttle
            .delays
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .record_failure(self.address, account, Instant::now());
        tokio::time::sleep(delay).await;
    }

    /// Forgets the failures for `account` from this address after it logged in; failures for
    /// other accounts stay.
    pub fn succeeded(self, account: &str) {
        self.throttle
            .delays
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .record_success(self.address, account);
    }
}

impl Drop for LoginAttempt {
    fn drop(&mut self) {
        let turn = self.turn.take();
        self.throttle.release(self.address, turn);
    }
}

/// How a listener treats its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListenerOptions {
    /// Most connections served at once.
    pub max_connections: usize,
    /// Most connections served at once from one client address. A connection over it is closed
    /// as soon as it is accepted and takes no slot of `max_connections`, so one address cannot
    /// fill the listener.
    pub max_connections_per_address: usize,
    /// How long open connections may take to finish after shutdown is asked for.
    pub shutdown_grace: Duration,
    /// Idle time before TCP keepalive probes start (keeps NAT state alive for IDLE sessions).
    pub tcp_keepalive: Option<Duration>,
}

impl Default for ListenerOptions {
    /// 1000 connections, 20 from one address, 10 s to finish, keepalive after 60 s idle.
    fn default() -> Self {
        ListenerOptions {
            max_connections: 1000,
            max_connections_per_address: 20,
            shutdown_grace: Duration::from_secs(10),
            tcp_keepalive: Some(Duration::from_secs(60)),
        }
    }
}

/// Triggers graceful shutdown of every listener and connection holding one of its receivers.
#[derive(Debug, Clone)]
pub struct Shutdown {
    sender: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A shutdown switch, not yet triggered.
    pub fn new() -> Self {
        Shutdown {
            sender: Arc::new(watch::channel(false).0),
        }
    }

    /// A receiver that turns `true` when shutdown is triggered.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.sender.subscribe()
    }

    /// Asks everything to shut down.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }
}

/// How many connections each client address has open; an entry goes when its count is zero.
#[derive(Debug, Default)]
struct AddressCounts {
    counts: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection counted against its address; uncounted when dropped.
struct AddressSlot {
    counts: Arc<AddressCounts>,
    address: IpAddr,
}

impl AddressCounts {
    /// Counts a connection from `address`, or `None` when it already has `limit` open.
    fn try_take(self: &Arc<Self>, address: IpAddr, limit: usize) -> Option<AddressSlot> {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = counts.entry(address).or_insert(0);
        if *count >= limit.max(1) {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            counts: self.clone(),
            address,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self
            .counts
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = counts.get_mut(&self.address) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.address);
            }
        }
    }
}

/// Accepts connections on `listener` until `shutdown` turns `true`, running
/// `on_connection(stream, peer, shutdown)` for each, at most `options.max_connections` at once
/// and at most `options.max_connections_per_address` from one address (a connection over that
/// is closed at once, before it is greeted).
/// Returns once every connection has finished or the grace period has passed.
pub async fn serve<F, Fut>(
    listener: TcpListener,
    options: ListenerOptions,
    mut shutdown: watch::Receiver<bool>,
    on_connection: F,
) where
    F: Fn(TcpStream, SocketAddr, watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let per_address = Arc::new(AddressCounts::default());
    let mut connections = JoinSet::new();
    loop {
        if *shutdown.borrow() {
            break;
        }
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = shutdown.changed() => continue,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => continue,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(slot) = per_address.try_take(peer.ip(), options.max_connections_per_address)
        else {
            tracing::debug!(%peer, "too many connections from this address, closing");
            // Dropping the stream closes it; the permit goes back with it.
            drop(stream);
            continue;
        };
        if let Some(idle) = options.tcp_keepalive {
            let keepalive = socket2::TcpKeepalive::new().with_time(idle);
            if let Err(error) = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive) {
                tracing::debug!(%error, "could not set TCP keepalive");
            }
        }
        let _ = stream.set_nodelay(true);
        let connection = on_connection(stream, peer, shutdown.clone());
        connections.spawn(async move {
            connection.await;
            drop(slot);
            drop(permit);
        });
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let drained = tokio::time::timeout(options.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::info!(
            remaining = connections.len(),
            "grace period over, closing remaining connections"
        );
        connections.shutdown().await;
    }
}

/// A protocol server whose connections the accept loop runs. A protocol supplies only its
/// session and its handler; [`serve_service`] does the rest, the same way for every protocol:
/// accept, the TLS handshake of an implicit-TLS listener, the session started in the right
/// [`TlsMode`], and the [`drive`] loop with STARTTLS upgrades.
pub trait ConnectionService: Send + Sync + 'static {
    /// The protocol's name, for logs.
    const PROTOCOL: &'static str;
    /// The protocol's server session.
    type Session: Session<Event: Send> + Send;
    /// What answers the session's events for one connection.
    type Handler: Handler<Self::Session> + Send;

    /// The listener's connection limit, grace period and keepalive.
    fn listener_options(&self) -> ListenerOptions;

    /// The TLS configuration, if any: without one, no upgrade command is offered and
    /// implicit-TLS listeners cannot be served.
    fn tls(&self) -> Option<&TlsAcceptor>;

    /// The longest a TLS handshake (implicit, or after the upgrade command) may take.
    fn tls_handshake_timeout(&self) -> Duration;

    /// A new session for a connection that starts in `tls` mode.
    fn session(&self, tls: TlsMode) -> Self::Session;

    /// A new handler for a connection from `peer`.
    fn handler(self: &Arc<Self>, peer: SocketAddr) -> Self::Handler;
}

/// Runs one connection of `service` to its end (TLS first when `implicit_tls`).
pub async fn serve_connection<S: ConnectionService>(
    service: Arc<S>,
    tcp: TcpStream,
    peer: SocketAddr,
    implicit_tls: bool,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let (transport, upgrade, tls_mode) = accept_connection(
        service.tls(),
        tcp,
        implicit_tls,
        service.tls_handshake_timeout(),
    )
    .await?;
    let mut upgrade = TimedUpgrade {
        upgrade,
        timeout: service.tls_handshake_timeout(),
    };
    let mut session = service.session(tls_mode);
    let mut handler = service.handler(peer);
    drive(
        &mut session,
        &mut handler,
        transport,
        &mut upgrade,
        shutdown,
    )
    .await?;
    Ok(())
}

/// An upgrade whose handshake must finish within `timeout`: a client that sends STARTTLS and
/// then nothing does not hold its connection slot for ever.
struct TimedUpgrade {
    upgrade: TlsUpgrade,
    timeout: Duration,
}

impl StartTls<Transport> for TimedUpgrade {
    async fn start_tls(&mut self, io: Transport) -> std::io::Result<Transport> {
        tokio::time::timeout(self.timeout, self.upgrade.start_tls(io))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out")
            })?
    }
}

/// Serves `listener` with `service` until `shutdown`: every connection plain (with the
/// protocol's upgrade command offered when TLS is configured) or, with `implicit_tls`, TLS from
/// the first byte.
pub async fn serve_service<S: ConnectionService>(
    service: Arc<S>,
    listener: TcpListener,
    implicit_tls: bool,
    shutdown: watch::Receiver<bool>,
) {
    let options = service.listener_options();
    serve(listener, options, shutdown, move |tcp, peer, stop| {
        let service = service.clone();
        async move {
            if let Err(error) = serve_connection(service, tcp, peer, implicit_tls, stop).await {
                tracing::debug!(%peer, %error, protocol = S::PROTOCOL, "connection ended with an error");
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn connections_over_the_limit_wait_until_one_finishes() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let options = ListenerOptions {
            max_connections: 1,
            ..ListenerOptions::default()
        };
        let server = tokio::spawn(serve(
            listener,
            options,
            shutdown.subscribe(),
            |mut stream, _, _| async move {
                let _ = stream.write_all(b"hi\n").await;
                let mut rest = Vec::new();
                let _ = stream.read_to_end(&mut rest).await;
            },
        ));
        let mut first = TcpStream::connect(address).await.unwrap();
        let mut greeting = [0u8; 3];
        first.read_exact(&mut greeting).await.unwrap();
        let mut second = TcpStream::connect(address).await.unwrap();
        let waited =
            tokio::time::timeout(Duration::from_millis(200), second.read_exact(&mut greeting))
                .await;
        assert!(
            waited.is_err(),
            "the second connection was served over the limit"
        );
        drop(first);
        second.read_exact(&mut greeting).await.unwrap();
        assert_eq!(&greeting, b"hi\n");
        drop(second);
        shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("serve returns after shutdown")
            .unwrap();
    }

    #[tokio::test]
    async fn one_address_holding_connections_does_not_lock_out_another() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let options = ListenerOptions {
            max_connections: 30,
            max_connections_per_address: 10,
            ..ListenerOptions::default()
        };
        let server = tokio::spawn(serve(
            listener,
            options,
            shutdown.subscribe(),
            |mut stream, _, _| async move {
                let _ = stream.write_all(b"hi\n").await;
                let mut rest = Vec::new();
                let _ = stream.read_to_end(&mut rest).await;
            },
        ));
        // The attacker, from 127.0.0.2, opens as many connections as it can and keeps them.
        let mut held = Vec::new();
        for _ in 0..100 {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
            match tokio::time::timeout(Duration::from_millis(500), socket.connect(address)).await {
                Ok(Ok(stream)) => held.push(stream),
                _ => break,
            }
        }
        assert!(
            held.len() > 30,
            "the attacker opened {} connections",
            held.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut served = 0;
        for stream in &mut held {
            let mut greeting = [0u8; 3];
            if let Ok(Ok(_)) =
                tokio::time::timeout(Duration::from_millis(20), stream.read_exact(&mut greeting))
                    .await
            {
                served += 1;
            }
        }
        assert!(served <= 10, "the attacker was served {served} connections");
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let asked = Instant::now();
        let mut legitimate = socket.connect(address).await.unwrap();
        let mut greeting = [0u8; 3];
        tokio::time::timeout(Duration::from_secs(1), legitimate.read_exact(&mut greeting))
            .await
            .expect("the legitimate client is greeted within a second")
            .unwrap();
        println!(
            "the attacker opened {} connections, {served} served; the legitimate client was \
             greeted in {:?}",
            held.len(),
            asked.elapsed()
        );
        assert_eq!(&greeting, b"hi\n");
        drop(held);
        drop(legitimate);
        shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("serve returns after shutdown")
            .unwrap();
    }

    #[tokio::test]
    async fn shutdown_reaches_open_connections_and_ends_after_the_grace_period() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let options = ListenerOptions {
            shutdown_grace: Duration::from_millis(300),
            ..ListenerOptions::default()
        };
        let server = tokio::spawn(serve(
            listener,
            options,
            shutdown.subscribe(),
            |mut stream, _, mut stop| async move {
                let _ = stop.wait_for(|stop| *stop).await;
                let _ = stream.write_all(b"bye\n").await;
                // Keeps the connection open past the grace period.
                tokio::time::sleep(Duration::from_secs(60)).await;
            },
        ));
        let mut client = TcpStream::connect(address).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        shutdown.trigger();
        let mut said = Vec::new();
        client.read_to_end(&mut said).await.unwrap();
        assert_eq!(said, b"bye\n");
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("serve gives up on connections after the grace period")
            .unwrap();
        assert!(
            TcpStream::connect(address).await.is_err(),
            "no longer listening"
        );
    }

    #[tokio::test]
    async fn failed_logins_wait_longer_each_time_per_address() {
        let throttle = LoginThrottle::new(LoginDelayPolicy {
            initial: Duration::from_millis(40),
            ..LoginDelayPolicy::default()
        });
        let attacker = IpAddr::from([127, 0, 0, 9]);
        let started = Instant::now();
        throttle.begin(attacker).await.unwrap().failed("bob").await;
        assert!(started.elapsed() >= Duration::from_millis(40));
        let second = Instant::now();
        throttle.begin(attacker).await.unwrap().failed("bob").await;
        assert!(
            second.elapsed() >= Duration::from_millis(80),
            "the delay grows"
        );
        throttle.begin(attacker).await.unwrap().succeeded("bob");
        let fresh = Instant::now();
        throttle.begin(attacker).await.unwrap().failed("bob").await;
        assert!(
            fresh.elapsed() < Duration::from_millis(80),
            "a successful login resets that account's delay"
        );
        assert_eq!(throttle.addresses_in_progress(), 0);
    }

    #[tokio::test]
    async fn a_success_on_one_account_does_not_reset_the_delay_for_another() {
        let throttle = LoginThrottle::new(LoginDelayPolicy {
            initial: Duration::from_millis(20),
            ..LoginDelayPolicy::default()
        });
        let attacker = IpAddr::from([127, 0, 0, 9]);
        for victim in ["bob", "carol", "dave"] {
            throttle.begin(attacker).await.unwrap().failed(victim).await;
        }
        // The attacker logs in to its own account, then guesses again.
        throttle.begin(attacker).await.unwrap().succeeded("mallory");
        let guess = Instant::now();
        throttle.begin(attacker).await.unwrap().failed("erin").await;
        assert!(
            guess.elapsed() >= Duration::from_millis(160),
            "the fourth guess waited {:?}",
            guess.elapsed()
        );
    }

    #[tokio::test]
    async fn parallel_attempts_from_one_address_take_turns() {
        let throttle = LoginThrottle::new(LoginDelayPolicy {
            initial: Duration::from_millis(50),
            maximum: Duration::from_millis(50),
            ..LoginDelayPolicy::default()
        });
        let attacker = IpAddr::from([127, 0, 0, 9]);
        let started = Instant::now();
        let mut guesses = JoinSet::new();
        for _ in 0..4 {
            let throttle = throttle.clone();
            guesses.spawn(async move {
                match throttle.begin(attacker).await {
                    Some(attempt) => {
                        attempt.failed("bob").await;
                        true
                    }
                    None => false,
                }
            });
        }
        let mut answered = 0;
        let mut refused = 0;
        while let Some(result) = guesses.join_next().await {
            if result.unwrap() {
                answered += 1;
            } else {
                refused += 1;
            }
        }
        // One at a time: the second waits for the first's 50 ms, the rest wait too long and
        // are refused after the 50 ms maximum.
        assert!(
            answered >= 1 && refused >= 1,
            "{answered} answered, {refused} refused"
        );
        assert!(started.elapsed() >= Duration::from_millis(50 * answered));
        assert_eq!(
            throttle.addresses_in_progress(),
            0,
            "the lock table is emptied"
        );
    }
}
