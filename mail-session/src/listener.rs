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

/// The failed-login delay shared by every connection of a server.
#[derive(Debug, Clone)]
pub struct LoginThrottle {
    delays: Arc<Mutex<FailedLoginDelay>>,
}

impl Default for LoginThrottle {
    /// A throttle with the default [`LoginDelayPolicy`].
    fn default() -> Self {
        LoginThrottle::new(LoginDelayPolicy::default())
    }
}

impl LoginThrottle {
    /// A throttle with `policy`.
    pub fn new(policy: LoginDelayPolicy) -> Self {
        LoginThrottle {
            delays: Arc::new(Mutex::new(FailedLoginDelay::new(policy))),
        }
    }

    /// Records a failed login from `address` and waits as long as the policy says before the
    /// caller answers it.
    pub async fn after_failure(&self, address: IpAddr) {
        let delay = self
            .delays
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .record_failure(address, Instant::now());
        tokio::time::sleep(delay).await;
    }

    /// Forgets the failures of `address` after a successful login.
    pub fn after_success(&self, address: IpAddr) {
        self.delays
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .record_success(address);
    }
}

/// How a listener treats its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListenerOptions {
    /// Most connections served at once.
    pub max_connections: usize,
    /// How long open connections may take to finish after shutdown is asked for.
    pub shutdown_grace: Duration,
    /// Idle time before TCP keepalive probes start (keeps NAT state alive for IDLE sessions).
    pub tcp_keepalive: Option<Duration>,
}

impl Default for ListenerOptions {
    /// 1000 connections, 10 s to finish, keepalive after 60 s idle.
    fn default() -> Self {
        ListenerOptions {
            max_connections: 1000,
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

/// Accepts connections on `listener` until `shutdown` turns `true`, running
/// `on_connection(stream, peer, shutdown)` for each, at most `options.max_connections` at once.
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
        throttle.after_failure(attacker).await;
        assert!(started.elapsed() >= Duration::from_millis(40));
        let second = Instant::now();
        throttle.after_failure(attacker).await;
        assert!(
            second.elapsed() >= Duration::from_millis(80),
            "the delay grows"
        );
        throttle.after_success(attacker);
        let fresh = Instant::now();
        throttle.after_failure(attacker).await;
        assert!(
            fresh.elapsed() < Duration::from_millis(80),
            "a successful login resets the delay"
        );
    }
}
