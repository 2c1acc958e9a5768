//! Invitation email (SPEC §6): over SMTP when configured, otherwise written to an outbox
//! folder, one `.eml` file per message, that the operator can read or hand to any mail
//! program. The text of a message is a pure function of the invitation ([`invitation`]);
//! only [`Mailer::send`] talks to the world.

use std::path::PathBuf;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::model::people::for_people;
use crate::model::{ChannelKind, Role};

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

/// What an invitation email says of its offer.
#[derive(Clone, Debug)]
pub struct Offered {
    /// The organization that sends it, and the person who did (an email address).
    pub from_org: String,
    pub sender: String,
    pub channel: String,
    pub kind: ChannelKind,
    pub bandwidth_mbps: u64,
    /// The price of the offer's usage model, in words ("free", "12.00 per month").
    pub price: String,
    pub description: String,
    /// Until when the link works, as people read it.
    pub expires: String,
}

/// The email that carries an invitation: who sends it, what kind of channel at what
/// bandwidth and price, the role it joins as, and the link.
pub fn invitation(to: &str, offered: &Offered, role: Option<Role>, url: &str) -> Mail {
    let Offered { from_org, sender, channel, kind, bandwidth_mbps, price, description, expires } = offered;
    let subject = format!("{from_org} invites you to join \"{channel}\" on Switchboard");
    let mut body = format!("{sender} of {from_org} invites you to join the channel \"{channel}\".\n\n");
    if !description.trim().is_empty() {
        body.push_str(&format!("{}\n\n", description.trim()));
    }
    let role = match (kind, role) {
        (ChannelKind::P2p, _) => "one of its two ends".to_string(),
        (ChannelKind::P2mp, Some(Role::Root)) => "a root (you reach every member)".to_string(),
        (ChannelKind::P2mp, _) => "a leaf (you reach its roots, not the other leaves)".to_string(),
        (ChannelKind::Mp2mp, _) => "a member (you reach every other member)".to_string(),
    };
    body.push_str(&format!(
        "  Service:   {} at {bandwidth_mbps} Mbps\n  You join:  as {role}\n  Price:     {price} (the offer's terms; \
         other usage models may be open to you)\n\n",
        kind.label()
    ));
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
    /// It ended, taken down `by` (a person's email and organization, or what of
    /// Switchboard's own did).
    Ended { reason: String, by: String },
    /// A member's port was unplugged `by` someone (email and organization); `goes_on`:
    /// the channel still carries traffic between the others.
    Unplugged { member: String, interface: String, by: String, goes_on: bool },
}

/// The email telling an offer's creator that an invitee answered.
pub fn answered(to: &str, channel: &str, by_org: &str, interface: Option<&str>, url: &str) -> Mail {
    let (subject, what) = match interface {
        Some(i) => (
            format!("{by_org} accepted your offer of \"{channel}\""),
            format!("{by_org} accepted your offer and plugged its port {i} into the channel \"{channel}\"."),
        ),
        None => (
            format!("{by_org} declined your offer of \"{channel}\""),
            format!("{by_org} declined your offer of the channel \"{channel}\"."),
        ),
    };
    Mail { to: to.to_string(), subject, body: format!("{what}\n\nThe channel: {url}\n\n{FOOTER}") }
}

/// The email telling a channel's members what happened to it, its reason in the words the
/// pages use.
pub fn channel_news(to: &str, channel: &str, news: &News, url: &str) -> Mail {
    let news = match news {
        News::Active { vlan } => News::Active { vlan: *vlan },
        News::Failed { reason } => News::Failed { reason: for_people(reason) },
        News::Paused { reason } => News::Paused { reason: for_people(reason) },
        News::Ended { reason, by } => News::Ended { reason: for_people(reason), by: by.clone() },
        News::Unplugged { .. } => news.clone(),
    };
    let (subject, what) = match &news {
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
        News::Ended { reason, by } => {
            let ended = if by.trim().is_empty() { "ended".to_string() } else { format!("was ended by {by}") };
            let why = if reason.trim().is_empty() { String::new() } else { format!(" ({reason})") };
            (
                format!("\"{channel}\" ended"),
                format!("The channel \"{channel}\" {ended}{why}; its configuration is removed from every switch."),
            )
        }
        News::Unplugged { member, interface, by, goes_on } => (
            format!("{member} left \"{channel}\""),
            format!(
                "{by} unplugged {member}'s port {interface} from the channel \"{channel}\". {}",
                if *goes_on {
                    "The channel goes on without it: the port is taken off the switches, and nothing more \
                     is charged for it."
                } else {
                    "Too few members are left for it to carry traffic, so it is taken down: you will get \
                     word when its configuration is off the switches."
                }
            ),
        ),
    };
    Mail { to: to.to_string(), subject, body: format!("{what}\n\nThe channel: {url}\n\n{FOOTER}") }
}

/// The email telling an organization that its auto-accept rule could not accept an offer,
/// so the invitation waits for a person.
pub fn auto_accept_refused(to: &str, from_org: &str, interface: &str, reason: &str, url: &str) -> Mail {
    let reason = for_people(reason);
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

/// The email that welcomes a person an admin added: who added them, to which organization,
/// and the link to choose a password.
pub fn welcome(to: &str, organization: &str, added_by: &str, url: &str, expires: &str) -> Mail {
    Mail {
        to: to.to_string(),
        subject: format!("You can now use Switchboard for {organization}"),
        body: format!(
            "{added_by} added you to {organization}'s people on Switchboard, where {organization} builds \
             and joins Ethernet channels between its ports.\n\n\
             Choose your password to log in:\n\n  {url}\n\n\
             The link works once, until {expires}. If it runs out, ask {added_by} to send a new one. \
             If you did not expect this, ignore this message.\n"
        ),
    }
}

/// The link that confirms the first admin of an organization the operator set up: mailed
/// to the address only, since the invitation's link was shown to whoever made it too.
pub fn claim(to: &str, organization: &str, url: &str, expires: &str) -> Mail {
    Mail {
        to: to.to_string(),
        subject: format!("Confirm your address to use Switchboard for {organization}"),
        body: format!(
            "Someone registered with this address on Switchboard, from an invitation, to become \
             {organization}'s first admin there: {organization}'s ports wait for one.\n\n\
             If that was you, choose your password to confirm it and log in:\n\n  {url}\n\n\
             The link works once, until {expires}; if it runs out, register from the invitation \
             again. If it was not you, ignore this message: nothing happens without it.\n"
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
        let m = channel_news("b@x", "backhaul", &News::Ended { reason: String::new(), by: String::new() }, url);
        assert!(m.body.starts_with("The channel \"backhaul\" ended;"), "{}", m.body);
        let ended = News::Ended { reason: "moving to `fibre`".into(), by: "admin@acme.example (acme)".into() };
        let m = channel_news("b@x", "backhaul", &ended, url);
        assert!(
            m.body.starts_with("The channel \"backhaul\" was ended by admin@acme.example (acme) (moving to “fibre”);"),
            "{}",
            m.body
        );
    }

    fn offered(kind: ChannelKind) -> Offered {
        Offered {
            from_org: "acme".into(),
            sender: "admin@acme.example".into(),
            channel: "Branch tree".into(),
            kind,
            bandwidth_mbps: 100,
            price: "12.00 per month".into(),
            description: "Tree to our branches".into(),
            expires: "2027-01-22".into(),
        }
    }

    #[test]
    fn an_invitation_says_who_what_where_and_until_when() {
        let m =
            invitation("ops@hooli.example", &offered(ChannelKind::P2mp), Some(Role::Leaf), "http://x/invitations/t");
        assert_eq!(m.subject, "acme invites you to join \"Branch tree\" on Switchboard");
        assert!(m.body.starts_with("admin@acme.example of acme invites you"), "{}", m.body);
        assert!(m.body.contains("Tree to our branches"));
        assert!(m.body.contains("E-Tree at 100 Mbps"), "{}", m.body);
        assert!(m.body.contains("as a leaf"), "{}", m.body);
        assert!(m.body.contains("12.00 per month"), "{}", m.body);
        assert!(m.body.contains("  http://x/invitations/t\n"));
        assert!(m.body.contains("until 2027-01-22"));
        let m = invitation("ops@hooli.example", &offered(ChannelKind::P2p), None, "http://x/invitations/t");
        assert!(m.body.contains("E-Line at 100 Mbps") && m.body.contains("one of its two ends"), "{}", m.body);
        let m = invitation("ops@hooli.example", &offered(ChannelKind::Mp2mp), None, "http://x/invitations/t");
        assert!(m.body.contains("E-LAN at 100 Mbps") && m.body.contains("as a member"), "{}", m.body);
    }

    #[tokio::test]
    async fn the_outbox_holds_one_readable_eml_per_message() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::outbox(dir.path().join("outbox"), "Switchboard <noreply@switchboard.example>").unwrap();
        let url = format!("http://127.0.0.1:8080/invitations/{}", "ab".repeat(32));
        let o = Offered { from_org: "Ünïcode AG".into(), description: String::new(), ..offered(ChannelKind::P2p) };
        let m = invitation("ops@hooli.example", &o, None, &url);
        let path = mailer.send(&m).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("To: ops@hooli.example"), "{text}");
        assert!(unfold(&text).lines().any(|l| l.trim() == url), "the URL reads whole: {text}");
        assert!(matches!(mailer.send(&Mail { to: "not an address".into(), ..m }).await, Err(MailError::Address(..))));
    }
}
