//! Delivery: lettre's async SMTP transport (STARTTLS or implicit TLS, optional AUTH, pooled
//! connections, timeouts), or, when no SMTP server is configured, `.eml` files in an outbox
//! directory so that a newcomer sees real e-mails with no mail server.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::{Mailbox, Message, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, TlsParameters};
use lettre::{AsyncFileTransport, AsyncTransport, Tokio1Executor};

use super::relay::{Relay, Security};
use super::templates::RenderedMessage;
use crate::planning::outbox::Attempt;

/// Whether plain `smtp://` upgrades with STARTTLS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum StartTls {
    /// Refuse to send unless the server upgrades: e-mails carry PINs, and an attacker on the
    /// path can strip the server's STARTTLS offer.
    #[default]
    Required,
    /// Upgrade when the server offers it, else send in clear (a downgrade sends PINs in clear).
    Opportunistic,
    /// Never upgrade (a relay on the same host or a trusted link only).
    Never,
}

/// How to reach the mail server. Credentials are not `Debug`: they never reach a log.
#[derive(Clone)]
pub struct SmtpConfig {
    /// `smtp://host[:port]` or `smtps://host[:port]`.
    pub url: String,
    /// STARTTLS policy for `smtp://`.
    pub starttls: StartTls,
    /// AUTH user and password.
    pub credentials: Option<(String, String)>,
    /// Extra CA certificate (PEM) to trust, for a server with a private CA.
    pub ca_file: Option<PathBuf>,
    /// Connect and command timeout.
    pub timeout: Duration,
    /// Pooled connections kept open.
    pub pool_size: u32,
}

/// Why the mail transport could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// A flag's value is unusable.
    #[error("{flag}: {message}")]
    Flag {
        /// `--smtp-url` or `--smtp-ca-file`.
        flag: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
    /// A file or directory could not be read or made.
    #[error("{action}: {source}")]
    Io {
        /// What was being done, naming the path.
        action: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Where messages go.
#[derive(Clone)]
pub enum Transport {
    /// A real mail server.
    Smtp(std::sync::Arc<Relay>),
    /// `.eml` files in a directory.
    Outbox(AsyncFileTransport<Tokio1Executor>, PathBuf),
}

impl Transport {
    /// Builds the SMTP transport from its configuration.
    pub fn smtp(config: &SmtpConfig) -> Result<Transport, TransportError> {
        let flag = |message: String| TransportError::Flag { flag: "--smtp-url", message };
        let url =
            url::Url::parse(&config.url).map_err(|e| flag(format!("{:?} is not a URL: {e}", redact(&config.url))))?;
        let host = url.host_str().ok_or_else(|| flag(format!("{:?} has no host", redact(&config.url))))?.to_string();
        let tls_params = || -> Result<TlsParameters, TransportError> {
            let mut b = TlsParameters::builder(host.clone());
            if let Some(path) = &config.ca_file {
                let pem = std::fs::read(path).map_err(|source| TransportError::Io {
                    action: format!("reading --smtp-ca-file {}", path.display()),
                    source,
                })?;
                let cert = Certificate::from_pem(&pem).map_err(|e| TransportError::Flag {
                    flag: "--smtp-ca-file",
                    message: format!("{} is not a PEM certificate: {e}", path.display()),
                })?;
                b = b.add_root_certificate(cert);
            }
            b.build_rustls().map_err(|e| flag(format!("TLS for {host}: {e}")))
        };
        let (port, security) = match (url.scheme(), config.starttls) {
            ("smtps", _) => (url.port().unwrap_or(465), Security::Implicit(tls_params()?)),
            ("smtp", StartTls::Opportunistic) => {
                (url.port().unwrap_or(587), Security::StartTls { params: tls_params()?, required: false })
            }
            ("smtp", StartTls::Required) => {
                (url.port().unwrap_or(587), Security::StartTls { params: tls_params()?, required: true })
            }
            ("smtp", StartTls::Never) => (url.port().unwrap_or(25), Security::Plain),
            (scheme, _) => {
                return Err(flag(format!("scheme {scheme:?} is not smtp or smtps")));
            }
        };
        let credentials = config.credentials.as_ref().map(|(u, p)| Credentials::new(u.clone(), p.clone()));
        Ok(Transport::Smtp(std::sync::Arc::new(Relay::new(
            host,
            port,
            security,
            credentials,
            config.timeout,
            usize::try_from(config.pool_size.max(1)).unwrap_or(1),
        ))))
    }

    /// Builds the file transport, creating the directory.
    pub fn outbox(dir: PathBuf) -> Result<Transport, TransportError> {
        std::fs::create_dir_all(&dir).map_err(|source| TransportError::Io {
            action: format!("creating outbox directory {}", dir.display()),
            source,
        })?;
        Ok(Transport::Outbox(AsyncFileTransport::new(&dir), dir))
    }

    /// A one-line description for the start-up log (no credentials).
    pub fn describe(&self) -> String {
        match self {
            Transport::Smtp(_) => "SMTP".to_string(),
            Transport::Outbox(_, dir) => {
                format!("no SMTP server configured: writing e-mails as .eml files into {}", dir.display())
            }
        }
    }

    /// Sends one message and classifies the result.
    pub async fn send(&self, message: Message) -> Attempt {
        match self {
            Transport::Smtp(relay) => relay.send(&message).await,
            Transport::Outbox(t, _) => match t.send(message).await {
                Ok(_) => Attempt::Delivered,
                Err(e) => Attempt::Transient(e.to_string()),
            },
        }
    }
}

/// Builds the MIME message: multipart/alternative (text, then HTML), UTF-8, the subject
/// RFC 2047-encoded where needed (lettre does it), and the deterministic Message-ID.
pub fn compose(
    rendered: &RenderedMessage,
    from: Mailbox,
    to: Mailbox,
    message_id: &str,
) -> std::result::Result<Message, lettre::error::Error> {
    Message::builder()
        .from(from)
        .to(to)
        .subject(rendered.subject.clone())
        .message_id(Some(message_id.to_string()))
        .multipart(MultiPart::alternative_plain_html(rendered.text.clone(), rendered.html.clone()))
}

/// The URL without a password, for messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composes_multipart_alternative_with_the_message_id_and_encoded_subject() {
        let rendered = RenderedMessage {
            subject: "Votre code confidentiel a été réinitialisé".into(),
            text: "Bonjour".into(),
            html: "<p>Bonjour</p>".into(),
        };
        let from: Mailbox = "Acme IT <it@acme.example>".parse().expect("from");
        let to: Mailbox = "dana@acme.example".parse().expect("to");
        let m = compose(&rendered, from, to, "<pin-reset.r1.u@conferencing-operator.invalid>").expect("message");
        let raw = String::from_utf8(m.formatted()).expect("utf8");
        assert!(raw.contains("Message-ID: <pin-reset.r1.u@conferencing-operator.invalid>"), "{raw}");
        assert!(raw.contains("multipart/alternative"));
        assert!(
            raw.contains("Subject: Votre code confidentiel a =?utf-8?"),
            "non-ASCII words are RFC 2047 encoded: {raw}"
        );
        assert!(raw.contains("From: \"Acme IT\" <it@acme.example>") || raw.contains("From: Acme IT <it@acme.example>"));
    }

    #[test]
    fn credentials_are_redacted_from_urls() {
        assert_eq!(redact("smtp://u:secret@mail.example:587"), "smtp://u:***@mail.example:587");
    }
}
