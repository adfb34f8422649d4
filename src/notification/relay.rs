//! SMTP sessions to the mail relay: a small pool of connections, each opened with
//! `TCP_NODELAY`.
//!
//! lettre's own pooled transport writes a message and its `\r\n.\r\n` terminator in two
//! writes on a socket with Nagle's algorithm on: the terminator waits for the relay's
//! (delayed) acknowledgement of the body, about 40 ms per message, which capped each
//! connection at some 22 messages a second (measured with `scripts/bench-scale`; a client
//! with `TCP_NODELAY` needs about 2 ms). lettre cannot be given a socket option for its pool,
//! so the operator opens the TCP connection itself and hands it to lettre's SMTP session
//! (`AsyncSmtpConnection::connect_with_transport`), which then does EHLO, STARTTLS and AUTH as
//! usual. For implicit TLS (`smtps://`) the session is lettre's own (it wraps the socket in TLS
//! before the session starts), so those connections keep Nagle's delay.

use std::time::{Duration, Instant};

use lettre::Message;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::sync::{Mutex, Semaphore};

use crate::planning::outbox::Attempt;

/// How the connection is protected.
#[derive(Clone)]
pub enum Security {
    /// TLS from the first byte (`smtps://`, port 465).
    Implicit(TlsParameters),
    /// STARTTLS after the greeting; `required` refuses to go on without it.
    StartTls {
        /// TLS settings for the upgrade.
        params: TlsParameters,
        /// Whether a relay that does not offer STARTTLS is an error.
        required: bool,
    },
    /// Plain text (a relay on a trusted link only).
    Plain,
}

/// A relay and the connections kept open to it.
pub struct Relay {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    timeout: Duration,
    hello: ClientId,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    permits: Semaphore,
}

/// A connection idle for longer is closed rather than reused (relays drop idle sessions).
const MAX_IDLE: Duration = Duration::from_secs(30);
/// A connection idle for longer is checked with NOOP before it is reused.
const CHECK_AFTER: Duration = Duration::from_secs(2);

/// Why a session or a send failed.
enum Failure {
    /// The SMTP exchange failed (a reply code, TLS, the protocol).
    Smtp(lettre::transport::smtp::Error),
    /// Before SMTP: connecting, or the relay not offering what is required.
    Local(String),
}

impl From<lettre::transport::smtp::Error> for Failure {
    fn from(e: lettre::transport::smtp::Error) -> Self {
        Failure::Smtp(e)
    }
}

type SmtpError = Failure;

impl Relay {
    /// A relay at `host:port`, with at most `connections` open at once.
    pub fn new(
        host: String,
        port: u16,
        security: Security,
        credentials: Option<Credentials>,
        timeout: Duration,
        connections: usize,
    ) -> Relay {
        Relay {
            host,
            port,
            security,
            credentials,
            timeout,
            hello: ClientId::default(),
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(connections.max(1)),
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SmtpError> {
        let mut conn = match &self.security {
            Security::Implicit(params) => {
                AsyncSmtpConnection::connect_tokio1(
                    (self.host.as_str(), self.port),
                    Some(self.timeout),
                    &self.hello,
                    Some(params.clone()),
                    None,
                )
                .await?
            }
            Security::StartTls { .. } | Security::Plain => {
                let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
                    .await
                    .map_err(|e| Failure::Local(format!("connecting to {}:{}: {e}", self.host, self.port)))?;
                tcp.set_nodelay(true).map_err(|e| Failure::Local(format!("setting TCP_NODELAY: {e}")))?;
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await?
            }
        };
        if let Security::StartTls { params, required } = &self.security {
            if conn.can_starttls() {
                conn.starttls(params.clone(), &self.hello).await?;
            } else if *required {
                conn.abort().await;
                return Err(Failure::Local(
                    "the mail server does not offer STARTTLS, which --smtp-starttls required demands (nothing was sent)"
                        .into(),
                ));
            }
        }
        if let Some(c) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], c).await?;
        }
        Ok(conn)
    }

    /// An idle connection still good to use, or a new one.
    async fn session(&self) -> Result<AsyncSmtpConnection, SmtpError> {
        loop {
            let Some((mut conn, since)) = self.idle.lock().await.pop() else { break };
            let idle = since.elapsed();
            if idle > MAX_IDLE || conn.has_broken() {
                conn.abort().await;
                continue;
            }
            if idle > CHECK_AFTER && !conn.test_connected().await {
                conn.abort().await;
                continue;
            }
            return Ok(conn);
        }
        self.connect().await
    }

    /// Sends `message` and classifies the result: a 5xx is permanent, anything else (4xx,
    /// connection errors, timeouts, a relay without the required STARTTLS) is retried.
    pub async fn send(&self, message: &Message) -> Attempt {
        let Ok(_permit) = self.permits.acquire().await else {
            return Attempt::Transient("the mail transport is shutting down".into());
        };
        let bytes = message.formatted();
        let attempt = async {
            let mut conn = self.session().await?;
            match conn.send(message.envelope(), &bytes).await {
                Ok(_) => Ok(conn),
                Err(e) => {
                    conn.abort().await;
                    Err(Failure::Smtp(e))
                }
            }
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(conn)) => {
                self.idle.lock().await.push((conn, Instant::now()));
                Attempt::Delivered
            }
            Ok(Err(Failure::Smtp(e))) if e.is_permanent() => Attempt::Permanent(e.to_string()),
            Ok(Err(Failure::Smtp(e))) => Attempt::Transient(e.to_string()),
            Ok(Err(Failure::Local(e))) => Attempt::Transient(e),
            Err(_) => Attempt::Transient(format!("the mail server did not answer within {:?}", self.timeout)),
        }
    }
}
