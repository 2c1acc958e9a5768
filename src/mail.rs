//! Invitation email (SPEC §6): over SMTP when configured, otherwise written to an outbox
//! folder, one `.eml` file per message, that the operator can read or hand to any mail
//! program. The text of a message is a pure function of the invitation ([`invitation`]);
//! only [`Mailer::send`] talks to the world.

use std::path::PathBuf;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

/// Why a message could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("bad address `{0}`: {1}")]
    Address(String, String),
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("SMTP: {0}")]
    Smtp(String),
    #[error("cannot write {path}: {source}")]
    Outbox { path: String, source: std::io::Error },
    #[error(
        "SMTP URL `{0}` is not valid: use smtps://USER:PASSWORD@HOST:PORT (TLS), smtp://USER:PASSWORD@HOST:PORT?tls=required (STARTTLS) or smtp://HOST:PORT (unencrypted, a relay on this host only)"
    )]
    Url(String),
}

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    Smtp { transport: AsyncSmtpTransport<Tokio1Executor>, from: Mailbox },
    Outbox { dir: PathBuf, from: Mailbox },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::Smtp { from, .. } => write!(f, "Mailer::Smtp(from {from})"),
            Mailer::Outbox { dir, .. } => write!(f, "Mailer::Outbox({})", dir.display()),
        }
    }
}

/// One email, before it has an envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// The email that carries an invitation.
pub fn invitation(to: &str, from_org: &str, channel: &str, description: &str, url: &str, expires: &str) -> Mail {
    let subject = format!("{from_org} invites you to join \"{channel}\" on Switchboard");
    let mut body = format!("{from_org} invites you to join the channel \"{channel}\".\n\n");
    if !description.trim().is_empty() {
        body.push_str(&format!("{}\n\n", description.trim()));
    }
    body.push_str(&format!(
        "Open your invitation to read the terms, then plug in one of your ports or decline:\n\n  {url}\n\n\
         The link is yours alone and works until {expires}. If you do not know {from_org}, ignore this message.\n"
    ));
    Mail { to: to.to_string(), subject, body }
}

/// What happened to a channel, for the email that tells its members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum News {
    /// It carries traffic (first activation, or resumed).
    Active { vlan: Option<u16> },
    /// It failed; nothing of it is on the switches.
    Failed { reason: String },
    /// Paused outside a usage window.
    Paused { reason: String },
    /// It ended.
    Ended { reason: String },
}

/// The email telling an offer's creator that an invitee answered.
pub fn answered(to: &str, channel: &str, by_org: &str, interface: Option<&str>, url: &str) -> Mail {
    let (subject, what) = match interface {
        Some(i) => (
            format!("{by_org} accepted your offer of \"{channel}\""),
            format!("{by_org} accepted your offer and plugged its interface {i} into the channel \"{channel}\"."),
        ),
        None => (
            format!("{by_org} declined your offer of \"{channel}\""),
            format!("{by_org} declined your offer of the channel \"{channel}\"."),
        ),
    };
    Mail { to: to.to_string(), subject, body: format!("{what}\n\nThe channel: {url}\n\n{FOOTER}") }
}

/// The email telling a channel's members what happened to it.
pub fn channel_news(to: &str, channel: &str, news: &News, url: &str) -> Mail {
    let (subject, what) = match news {
        News::Active { vlan } => (
            format!("\"{channel}\" is active"),
            match vlan {
                Some(v) => format!("The channel \"{channel}\" is active and carries traffic on VLAN {v}."),
                None => format!("The channel \"{channel}\" is active and carries traffic."),
            },
        ),
        News::Failed { reason } => (
            format!("\"{channel}\" failed"),
            format!(
                "The channel \"{channel}\" could not be configured and carries no traffic: {reason}\n\n\
                 Every switch was put back as it was. Its creator can try again or ask the operator."
            ),
        ),
        News::Paused { reason } => (
            format!("\"{channel}\" is paused"),
            format!("The channel \"{channel}\" is paused and carries no traffic: {reason}"),
        ),
        News::Ended { reason } => (
            format!("\"{channel}\" ended"),
            if reason.trim().is_empty() {
                format!("The channel \"{channel}\" ended; its configuration is removed from every switch.")
            } else {
                format!("The channel \"{channel}\" ended ({reason}); its configuration is removed from every switch.")
            },
        ),
    };
    Mail { to: to.to_string(), subject, body: format!("{what}\n\nThe channel: {url}\n\n{FOOTER}") }
}

/// The email telling an organization that its auto-accept rule could not accept an offer,
/// so the invitation waits for a person.
pub fn auto_accept_refused(to: &str, from_org: &str, interface: &str, reason: &str, url: &str) -> Mail {
    Mail {
        to: to.to_string(),
        subject: format!("Your rule could not accept {from_org}'s offer"),
        body: format!(
            "{from_org} offered your organization a channel. Your policy accepts its offers at once with \
             port {interface}, but this one could not be accepted: {reason}\n\n\
             The invitation waits for you: open it to choose another port, or decline it:\n\n  {url}\n\n\
             To change the rule, open the Policy page of Switchboard.\n"
        ),
    }
}

const FOOTER: &str = "Your organization's admins choose which of these messages it gets, and who gets them, \
on the Policy page of Switchboard.\n";

impl Mailer {
    /// SMTP from a URL (`smtp://`, `smtps://`; lettre's syntax).
    pub fn smtp(url: &str, from: &str) -> Result<Mailer, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|_| MailError::Url(crate::store::redact(url)))?
            .build();
        Ok(Mailer::Smtp { transport, from: mailbox(from)? })
    }

    /// An outbox folder (created when the first message is written).
    pub fn outbox(dir: PathBuf, from: &str) -> Result<Mailer, MailError> {
        Ok(Mailer::Outbox { dir, from: mailbox(from)? })
    }

    /// Sends `mail`; returns where it went (the SMTP server's answer, or the file).
    pub async fn send(&self, mail: &Mail) -> Result<String, MailError> {
        let from = match self {
            Mailer::Smtp { from, .. } | Mailer::Outbox { from, .. } => from.clone(),
        };
        let message = Message::builder()
            .from(from)
            .to(mailbox(&mail.to)?)
            .subject(&mail.subject)
            .header(ContentType::TEXT_PLAIN)
            // lettre picks the transfer encoding: lines as long as an invitation URL are
            // quoted-printable, which every mail reader decodes (see `unfold`).
            .body(mail.body.clone())
            .map_err(|e| MailError::Build(e.to_string()))?;
        match self {
            Mailer::Smtp { transport, .. } => {
                let answer = transport.send(message).await.map_err(|e| MailError::Smtp(e.to_string()))?;
                Ok(format!("smtp: {}", answer.code()))
            }
            Mailer::Outbox { dir, .. } => {
                let path = dir.join(format!("{}.eml", crate::store::new_id("mail")));
                let write = async {
                    tokio::fs::create_dir_all(dir).await?;
                    tokio::fs::write(&path, message.formatted()).await
                };
                write.await.map_err(|source| MailError::Outbox { path: path.display().to_string(), source })?;
                Ok(path.display().to_string())
            }
        }
    }
}

/// The text of a quoted-printable message as a reader shows it: soft line breaks joined,
/// `=XX` escapes decoded (for tests and tools that read the outbox). Anything that is not
/// quoted-printable is left as it is.
pub fn unfold(raw: &str) -> String {
    match quoted_printable::decode(raw, quoted_printable::ParseMode::Robust) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => raw.to_string(),
    }
}

fn mailbox(address: &str) -> Result<Mailbox, MailError> {
    address.parse::<Mailbox>().map_err(|e| MailError::Address(address.to_string(), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn news_says_what_happened_to_which_channel_and_where_to_look() {
        let url = "https://sb.example/channels/chn-1";
        let m = answered("a@acme.example", "backhaul", "Globex", Some("globex-8a"), url);
        assert_eq!(m.subject, "Globex accepted your offer of \"backhaul\"");
        assert!(m.body.contains("globex-8a") && m.body.contains(url), "{}", m.body);
        let m = answered("a@acme.example", "backhaul", "Globex", None, url);
        assert_eq!(m.subject, "Globex declined your offer of \"backhaul\"");
        let m = channel_news("b@globex.example", "backhaul", &News::Active { vlan: Some(42) }, url);
        assert_eq!(m.subject, "\"backhaul\" is active");
        assert!(m.body.contains("VLAN 42") && m.body.contains(url) && m.body.contains("Policy page"));
        let m = channel_news("b@globex.example", "backhaul", &News::Failed { reason: "agg1: RTNETLINK".into() }, url);
        assert!(m.subject.ends_with("failed") && m.body.contains("agg1: RTNETLINK"));
        let m = channel_news("b@x", "backhaul", &News::Ended { reason: String::new() }, url);
        assert!(m.body.starts_with("The channel \"backhaul\" ended;"), "{}", m.body);
    }

    #[test]
    fn an_invitation_says_who_what_where_and_until_when() {
        let m = invitation(
            "ops@hooli.example",
            "acme",
            "Branch tree",
            "Tree to our branches",
            "http://x/invitations/t",
            "2027-01-22",
        );
        assert_eq!(m.subject, "acme invites you to join \"Branch tree\" on Switchboard");
        assert!(m.body.contains("Tree to our branches"));
        assert!(m.body.contains("  http://x/invitations/t\n"));
        assert!(m.body.contains("until 2027-01-22"));
    }

    #[tokio::test]
    async fn the_outbox_holds_one_readable_eml_per_message() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::outbox(dir.path().join("outbox"), "Switchboard <noreply@switchboard.example>").unwrap();
        let url = format!("http://127.0.0.1:8080/invitations/{}", "ab".repeat(32));
        let m = invitation("ops@hooli.example", "Ünïcode AG", "c", "", &url, "soon");
        let path = mailer.send(&m).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("To: ops@hooli.example"), "{text}");
        assert!(unfold(&text).lines().any(|l| l.trim() == url), "the URL reads whole: {text}");
        assert!(matches!(mailer.send(&Mail { to: "not an address".into(), ..m }).await, Err(MailError::Address(..))));
    }
}
