//! Our tokio client against our tokio submission server over loopback with TLS (STARTTLS and
//! implicit): local delivery into the store (durable before 250, published on the change
//! feed), relay through a smarthost (a second instance of our server), and the refusals.
#![cfg(feature = "tokio")]

use std::sync::Arc;
use std::time::Duration;

use mail_session::listener::{LoginThrottle, Shutdown};
use mail_session::login_delay::LoginDelayPolicy;
use mail_session::tls;
use mailstore::{
    AccessPolicy, AccountName, Change, MailStore, MailboxName, MemoryStore, UsersFile,
};
use smtp_submit::client::ClientOptions;
use smtp_submit::server::{Options, Recipient};
use smtp_submit::tokio::{
    Client, ClientConfig, ClientError, Envelope, Security, Smarthost, StoreRouter,
    SubmissionServer, SubmissionServerConfig,
};
use smtp_submit::types::{
    Domain, ForwardPath, MailParameters, Mailbox, RcptParameters, ReversePath,
};

struct Instance {
    store: Arc<MemoryStore>,
    plain: std::net::SocketAddr,
    implicit: std::net::SocketAddr,
}

struct Fixture {
    _dir: tempfile::TempDir,
    client_tls: Arc<rustls::ClientConfig>,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    _shutdown: Shutdown,
    users: Arc<UsersFile>,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        tls::ensure_self_signed(&cert, &key, &["localhost".into()]).unwrap();
        let users = Arc::new(UsersFile::open(dir.path().join("users")).unwrap());
        users
            .add_user("alice", "wonderland", AccessPolicy::default())
            .unwrap();
        users
            .add_user("bob", "builder", AccessPolicy::default())
            .unwrap();
        users
            .add_user("carol", "readonly", {
                let mut access_policy = AccessPolicy::default();
                access_policy.submission = false;
                access_policy
            })
            .unwrap();
        Fixture {
            client_tls: tls::client_config_trusting(&cert).unwrap(),
            cert,
            key,
            _dir: dir,
            _shutdown: Shutdown::new(),
            users,
        }
    }

    async fn start(
        &self,
        domains: &[&str],
        smarthost: Option<Smarthost>,
        require_own_sender: bool,
    ) -> Instance {
        let store = Arc::new(MemoryStore::new());
        let router = StoreRouter::new(
            store.clone(),
            self.users.clone(),
            domains.iter().map(|domain| domain.to_string()).collect(),
            smarthost,
            require_own_sender,
            "mx.example.org".into(),
        );
        let server = SubmissionServer::builder(router)
            .directory(self.users.clone())
            .throttle(LoginThrottle::new({
                let mut login_delay_policy = LoginDelayPolicy::default();
                login_delay_policy.initial = Duration::from_millis(10);
                login_delay_policy
            }))
            .tls(tls::server_config(&self.cert, &self.key).unwrap())
            .config({
                let mut submission_server_config = SubmissionServerConfig::default();
                submission_server_config.session = {
                    let mut options = Options::default();
                    options.hostname = "mx.example.org".into();
                    options
                };
                submission_server_config
            })
            .build();
        let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let implicit = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let instance = Instance {
            store,
            plain: plain.local_addr().unwrap(),
            implicit: implicit.local_addr().unwrap(),
        };
        tokio::spawn(
            server
                .clone()
                .serve_plain(plain, self._shutdown.subscribe()),
        );
        tokio::spawn(server.serve_tls(implicit, self._shutdown.subscribe()));
        instance
    }

    fn config(&self, instance: &Instance, security: Security) -> ClientConfig {
        ClientConfig {
            address: if security == Security::ImplicitTls {
                instance.implicit
            } else {
                instance.plain
            },
            server_name: "localhost".into(),
            security,
            tls: Some(self.client_tls.clone()),
            helo_name: Domain::name("client.example").unwrap(),
            options: ClientOptions::default(),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

fn envelope(from: &str, to: &[&str]) -> Envelope {
    Envelope {
        from: ReversePath::Mailbox(Mailbox::try_from(from).unwrap()),
        parameters: MailParameters::default(),
        recipients: to
            .iter()
            .map(|to| Recipient {
                to: ForwardPath::Mailbox(Mailbox::try_from(*to).unwrap()),
                parameters: RcptParameters::default(),
            })
            .collect(),
    }
}

fn inbox_messages(store: &MemoryStore, account: &str) -> Vec<Vec<u8>> {
    let account = AccountName::try_from(account).unwrap();
    let snapshot = store.snapshot(&account, &MailboxName::inbox()).unwrap();
    snapshot
        .messages
        .iter()
        .map(|message| {
            let mut content = Vec::new();
            std::io::Read::read_to_end(
                &mut store
                    .open_message(&account, &MailboxName::inbox(), message.uid)
                    .unwrap()
                    .reader,
                &mut content,
            )
            .unwrap();
            content
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_are_delivered_locally_over_both_tls_modes() {
    let fixture = Fixture::new();
    let instance = fixture.start(&["example.org"], None, true).await;
    let bob = AccountName::try_from("bob").unwrap();
    let mut feed = instance.store.subscribe(&bob);
    let body = format!(
        "Subject: hello\r\n\r\n.leading dot\r\n{}\r\nend\r\n",
        "x".repeat(300_000)
    );
    for security in [Security::StartTls, Security::ImplicitTls] {
        let mut client = Client::connect(&fixture.config(&instance, security))
            .await
            .unwrap();
        assert!(client.is_tls());
        client.login("alice", "wonderland").await.unwrap();
        let submitted = client
            .send_message(
                &envelope(
                    "alice@example.org",
                    &["bob@example.org", "nobody@example.org"],
                ),
                Some(body.len() as u64),
                &mut body.as_bytes(),
            )
            .await
            .unwrap();
        assert_eq!(submitted.reply.code.get(), 250);
        assert_eq!(submitted.refused.len(), 1, "nobody@ is refused at RCPT");
        assert_eq!(submitted.refused[0].1.code.get(), 550);
        client.quit().await.unwrap();
    }
    let delivered = inbox_messages(&instance.store, "bob");
    assert_eq!(delivered.len(), 2);
    for message in &delivered {
        let text = String::from_utf8_lossy(message);
        assert!(text.starts_with(
            "Received: from client.example ([127.0.0.1])\r\n\tby mx.example.org with ESMTPSA id "
        ));
        assert!(
            message.ends_with(body.as_bytes()),
            "byte-exact after the trace field"
        );
    }
    // Each delivery was published to the account's change feed.
    for _ in 0..2 {
        let change = tokio::time::timeout(Duration::from_secs(5), feed.next())
            .await
            .unwrap();
        assert!(
            matches!(change, Some(Change::Appended { .. })),
            "{change:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_carry_the_right_codes() {
    let fixture = Fixture::new();
    let instance = fixture.start(&["example.org"], None, true).await;
    let mut client = Client::connect(&fixture.config(&instance, Security::StartTls))
        .await
        .unwrap();
    let wrong = client.login("alice", "guess").await.unwrap_err();
    assert!(
        matches!(&wrong, ClientError::Refused { reply, .. } if reply.code.get() == 535 && reply.enhanced.unwrap().to_string() == "5.7.8"),
        "{wrong}"
    );
    let disabled = client.login("carol", "readonly").await.unwrap_err();
    // Right password, submission switched off: "User Account Disabled" (RFC 5248, 5.7.13).
    assert!(
        matches!(&disabled, ClientError::Refused { reply, .. } if reply.code.get() == 525 && reply.enhanced.unwrap().to_string() == "5.7.13"),
        "{disabled}"
    );
    client.login("alice", "wonderland").await.unwrap();
    // Someone else's sender address.
    let error = client
        .send_message(
            &envelope("bob@example.org", &["bob@example.org"]),
            None,
            &mut &b"x\r\n"[..],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ClientError::Refused { command: "MAIL", reply } if reply.code.get() == 553),
        "{error}"
    );
    // No smarthost: remote recipients are not relayed.
    let error = client
        .send_message(
            &envelope("alice@example.org", &["someone@elsewhere.example"]),
            None,
            &mut &b"x\r\n"[..],
        )
        .await
        .unwrap_err();
    let ClientError::NoRecipients(refused) = &error else {
        panic!("{error}")
    };
    assert_eq!(refused[0].1.code.get(), 550);
    assert_eq!(refused[0].1.enhanced.unwrap().to_string(), "5.7.1");
    client.quit().await.unwrap();
    assert!(inbox_messages(&instance.store, "bob").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_mail_goes_through_the_smarthost_before_250() {
    let fixture = Fixture::new();
    // The smarthost is a second instance, local for "remote.example", that takes any sender.
    let smarthost = fixture.start(&["remote.example"], None, false).await;
    let relay = Smarthost {
        client: fixture.config(&smarthost, Security::StartTls),
        credentials: Some(("bob".into(), "builder".into())),
    };
    let instance = fixture.start(&["example.org"], Some(relay), true).await;
    let mut client = Client::connect(&fixture.config(&instance, Security::StartTls))
        .await
        .unwrap();
    client.login("alice", "wonderland").await.unwrap();
    let body = b"Subject: relayed\r\n\r\nthrough the smarthost\r\n";
    let submitted = client
        .send_message(
            &envelope(
                "alice@example.org",
                &["bob@remote.example", "bob@example.org"],
            ),
            None,
            &mut &body[..],
        )
        .await
        .unwrap();
    assert_eq!(submitted.reply.code.get(), 250);
    let relayed = inbox_messages(&smarthost.store, "bob");
    assert_eq!(relayed.len(), 1, "the smarthost has it");
    let text = String::from_utf8_lossy(&relayed[0]);
    assert_eq!(text.matches("Received: from ").count(), 2, "{text}");
    assert!(relayed[0].ends_with(body));
    assert_eq!(
        inbox_messages(&instance.store, "bob").len(),
        1,
        "and the local recipient"
    );

    // The smarthost refuses a recipient it does not know: the client gets a failure, not 250.
    let error = client
        .send_message(
            &envelope("alice@example.org", &["nobody@remote.example"]),
            None,
            &mut &body[..],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ClientError::Refused { reply, .. } if reply.code.get() == 554),
        "{error}"
    );
    client.quit().await.unwrap();

    // A smarthost that cannot be reached means "try again later".
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nowhere = closed.local_addr().unwrap();
    drop(closed);
    let mut unreachable = fixture.config(&smarthost, Security::StartTls);
    unreachable.address = nowhere;
    let orphan = fixture
        .start(
            &["example.org"],
            Some(Smarthost {
                client: unreachable,
                credentials: None,
            }),
            true,
        )
        .await;
    let mut client = Client::connect(&fixture.config(&orphan, Security::StartTls))
        .await
        .unwrap();
    client.login("alice", "wonderland").await.unwrap();
    let error = client
        .send_message(
            &envelope("alice@example.org", &["bob@remote.example"]),
            None,
            &mut &body[..],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ClientError::Refused { reply, .. } if reply.code.get() == 451),
        "{error}"
    );
    assert!(error.is_transient());
    client.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dsn_parameters_are_left_out_where_dsn_is_not_announced() {
    let fixture = Fixture::new();
    let instance = fixture.start(&["example.org"], None, true).await;
    let mut client = Client::connect(&fixture.config(&instance, Security::ImplicitTls))
        .await
        .unwrap();
    assert!(!client
        .extensions()
        .contains(&smtp_submit::types::Extension::Dsn));
    client.login("alice", "wonderland").await.unwrap();
    let mut with_dsn = envelope("alice@example.org", &["bob@example.org"]);
    with_dsn.parameters.ret = Some(smtp_submit::types::DsnReturn::Headers);
    with_dsn.parameters.envid = Some(smtp_submit::types::XText::encode(b"id 1").unwrap());
    with_dsn.recipients[0].parameters.notify = Some(smtp_submit::types::DsnNotify {
        failure: true,
        ..Default::default()
    });
    let submitted = client
        .send_message(&with_dsn, None, &mut &b"Subject: dsn\r\n\r\nx\r\n"[..])
        .await
        .unwrap();
    assert_eq!(submitted.reply.code.get(), 250);
    client.quit().await.unwrap();
    assert_eq!(inbox_messages(&instance.store, "bob").len(), 1);
}
