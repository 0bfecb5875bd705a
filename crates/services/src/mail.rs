//! Outgoing e-mail (scheduled reports, R-DATA-03/04): a small [`Mailer`] trait, the SMTP
//! adapter (lettre) and its `[smtp]` settings.
//!
//! The adapter speaks plain SMTP to a relay — the utility's mail server on the LAN, or a
//! Postfix on the host that relays onwards with TLS. There is no TLS stack in waterdesk's
//! dependency tree (as for the billing interface); credentials, if set, travel in clear,
//! so use them only towards a relay on a trusted network (docs/REPORTS.md).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One message: plain-text body and at most one attachment.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    /// (file name, bytes, MIME type).
    pub attachment: Option<(String, Vec<u8>, &'static str)>,
}

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// `[smtp] host` is empty: e-mail is off.
    #[error("e-mail is not configured ([smtp] host is empty)")]
    NotConfigured,
    /// The message could not be built (a bad address).
    #[error("bad message: {0}")]
    Message(String),
    /// The server could not be reached or refused the message (worth retrying).
    #[error("smtp: {0}")]
    Transport(String),
}

pub type MailFuture<'a> = Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + 'a>>;

/// Sends e-mail.
pub trait Mailer: Send + Sync {
    fn send<'a>(&'a self, mail: &'a Mail) -> MailFuture<'a>;
}

/// `[smtp]`: the relay scheduled reports are sent through. An empty `host` turns e-mail off
/// (scheduled runs are recorded as skipped).
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    /// Host name or address of the SMTP relay; empty: no e-mail.
    pub host: String,
    pub port: u16,
    /// AUTH user name; empty: no authentication.
    pub username: String,
    pub password: String,
    /// The sender, `报表 <reports@example.com>` or `reports@example.com`.
    pub from: String,
    /// Seconds before a connection or command times out.
    pub timeout_secs: u64,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: String::new(),
            port: 25,
            username: String::new(),
            password: String::new(),
            from: "waterdesk@localhost".into(),
            timeout_secs: 30,
        }
    }
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &if self.password.is_empty() { "" } else { "***" })
            .field("from", &self.from)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

impl SmtpConfig {
    /// Checks the settings at start-up.
    pub fn validate(&self) -> Result<(), String> {
        if self.host.trim().is_empty() {
            return Ok(());
        }
        if self.port == 0 {
            return Err("smtp.port must be 1–65535".into());
        }
        self.from.parse::<lettre::message::Mailbox>().map_err(|e| format!("smtp.from `{}`: {e}", self.from))?;
        Ok(())
    }

    /// The mailer these settings describe.
    pub fn mailer(&self) -> Arc<dyn Mailer> {
        if self.host.trim().is_empty() { Arc::new(NoMailer) } else { Arc::new(SmtpMailer { cfg: self.clone() }) }
    }
}

/// E-mail switched off.
#[derive(Debug, Clone, Copy)]
pub struct NoMailer;

impl Mailer for NoMailer {
    fn send<'a>(&'a self, _mail: &'a Mail) -> MailFuture<'a> {
        Box::pin(async { Err(MailError::NotConfigured) })
    }
}

/// Plain SMTP through lettre.
pub struct SmtpMailer {
    cfg: SmtpConfig,
}

impl SmtpMailer {
    fn message(&self, mail: &Mail) -> Result<lettre::Message, MailError> {
        use lettre::message::header::ContentType;
        use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
        let bad = |e: &dyn std::fmt::Display| MailError::Message(e.to_string());
        let from: Mailbox = self.cfg.from.parse().map_err(|e| bad(&e))?;
        let mut b = lettre::Message::builder().from(from).subject(mail.subject.clone());
        for to in &mail.to {
            b = b.to(to.parse::<Mailbox>().map_err(|e| bad(&e))?);
        }
        let text = SinglePart::plain(mail.body.clone());
        match &mail.attachment {
            None => b.singlepart(text),
            Some((name, bytes, mime)) => {
                let ct = ContentType::parse(mime).map_err(|e| bad(&e))?;
                b.multipart(
                    MultiPart::mixed()
                        .singlepart(text)
                        .singlepart(Attachment::new(name.clone()).body(bytes.clone(), ct)),
                )
            }
        }
        .map_err(|e| bad(&e))
    }
}

impl Mailer for SmtpMailer {
    fn send<'a>(&'a self, mail: &'a Mail) -> MailFuture<'a> {
        Box::pin(async move {
            use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
            let message = self.message(mail)?;
            let mut t = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.cfg.host.trim())
                .port(self.cfg.port)
                .timeout(Some(Duration::from_secs(self.cfg.timeout_secs.clamp(1, 600))));
            if !self.cfg.username.is_empty() {
                t = t.credentials(lettre::transport::smtp::authentication::Credentials::new(
                    self.cfg.username.clone(),
                    self.cfg.password.clone(),
                ));
            }
            t.build().send(message).await.map(|_| ()).map_err(|e| MailError::Transport(e.to_string()))
        })
    }
}

/// Whether `s` is a plain e-mail address `local@domain` as recipients are entered.
pub fn is_address(s: &str) -> bool {
    s.len() <= 254 && !s.contains(['<', '>', ',', ';', ' ']) && s.parse::<lettre::Address>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        for ok in ["a@example.com", "zhang.san@water.gov.cn"] {
            assert!(is_address(ok), "{ok}");
        }
        for bad in ["", "a", "a@", "@b.cn", "a b@c.cn", "张三 <a@b.cn>", "a@b.cn,c@d.cn"] {
            assert!(!is_address(bad), "{bad}");
        }
    }

    #[test]
    fn config_is_checked_and_redacted() {
        assert!(SmtpConfig::default().validate().is_ok(), "off by default");
        let c = SmtpConfig { host: "mail".into(), from: "not an address".into(), ..Default::default() };
        assert!(c.validate().is_err());
        let c = SmtpConfig { host: "mail".into(), password: "hunter2".into(), ..Default::default() };
        assert!(c.validate().is_ok());
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
