//! Email. Invitations: after an offer (or new invitees) is committed, each invitee's URL
//! goes to its email address, or to the admins of the organization it was made for; every
//! outcome is written to the audit log (`invitation.mailed` / `invitation.mail_failed`).
//! News (SPEC §7 notification preferences): an invitee's answer goes to the offer's
//! organization, a channel turning active, failing, pausing or ending to every member
//! organization; each organization chooses which of these it gets and who gets them.
//! All of it is sent in the background, after the commit, so a slow mail server never
//! holds up a request or an order.

use std::sync::Arc;

use crate::mail::{Mail, Mailer, News, Offered, answered, auto_accept_refused, channel_news, invitation, welcome};
use crate::store::policy;

use super::orders::OrderOutcome;
use super::requests::MailedOffer;
use super::{Actor, Invitation, Service, audit};

/// Which preference a message falls under.
#[derive(Clone, Copy, Debug)]
enum Topic {
    Answers,
    Active,
    Down,
    /// The organization's own auto-accept rule failed: always sent.
    Rules,
}

impl Service {
    /// Sends invitations through `mailer` from now on.
    pub fn with_mailer(mut self, mailer: Mailer) -> Service {
        self.mailer = Some(Arc::new(mailer));
        self
    }

    /// Whether invitations are mailed (otherwise only shown to their creator).
    pub fn mails_invitations(&self) -> bool {
        self.mailer.is_some()
    }

    /// Mails `invitations` to the offer `offer` (in the background; its `from_org` and
    /// `expires` are filled in here; [`Service::mail_settled`] waits for it).
    pub(crate) fn mail_invitations(&self, actor: &Actor, offer: MailedOffer, invitations: &[Invitation]) {
        let Some(mailer) = self.mailer.clone() else { return };
        let (svc, actor) = (self.clone(), actor.clone());
        let invitations = invitations.to_vec();
        self.track(tokio::spawn(async move {
            let from_org = svc.organization_name(&actor.org_id).await.unwrap_or_else(|_| actor.org_id.clone());
            let offered = Offered {
                from_org,
                sender: actor.email.clone(),
                channel: offer.channel.name.clone(),
                kind: offer.channel.kind,
                bandwidth_mbps: offer.channel.bandwidth_mbps,
                price: offer.price,
                description: offer.description,
                expires: crate::model::utc_minute(offer.expires_at),
            };
            for inv in &invitations {
                let recipients = match (&inv.email, &inv.organization) {
                    (Some(e), _) => vec![e.clone()],
                    (None, Some(org)) => match svc.organization_id(org).await {
                        Ok(id) => policy::admin_emails(&svc.db, &id).await.unwrap_or_default(),
                        Err(_) => Vec::new(),
                    },
                    (None, None) => Vec::new(),
                };
                for to in recipients {
                    let mail = invitation(&to, &offered, inv.role, &inv.url);
                    let (action, detail) = match mailer.send(&mail).await {
                        Ok(via) => ("invitation.mailed", serde_json::json!({"to": to, "via": via})),
                        Err(e) => {
                            tracing::warn!(invitee = %inv.invitee_id, to, error = %e, "invitation not mailed");
                            ("invitation.mail_failed", serde_json::json!({"to": to, "error": e.to_string()}))
                        }
                    };
                    let record = async {
                        let mut tx = svc.db.write().await?;
                        audit(&mut tx, svc.now(), &actor, action, &inv.invitee_id, detail).await?;
                        tx.commit().await?;
                        Ok::<_, super::ServiceError>(())
                    };
                    if let Err(e) = record.await {
                        tracing::warn!(error = %e, "cannot record the mail outcome");
                    }
                }
            }
        }));
    }

    /// Mails a welcome link to a person `actor` added to organization `org_id` (in the
    /// background); whether there is a mailer to send it. The outcome goes to the audit log.
    pub(crate) fn mail_welcome(
        &self,
        actor: &Actor,
        org_id: &str,
        user_id: &str,
        to: &str,
        url: &str,
        expires_at: i64,
    ) -> bool {
        let Some(mailer) = self.mailer.clone() else { return false };
        let (svc, actor, user_id) = (self.clone(), actor.clone(), user_id.to_string());
        let (org_id, to, url) = (org_id.to_string(), to.to_string(), url.to_string());
        self.track(tokio::spawn(async move {
            let organization = svc.organization_name(&org_id).await.unwrap_or_else(|_| org_id.clone());
            let mail = welcome(&to, &organization, &actor.email, &url, &crate::model::utc_minute(expires_at));
            svc.send_to_user(&mailer, &mail, &actor, &user_id).await;
        }));
        true
    }

    /// Mails `to` (user `user_id`) the link that confirms them as `organization`'s first
    /// admin ([`crate::mail::claim`]) in the background, recorded as `actor` asked for it;
    /// whether there is a mailer to send it.
    pub(crate) fn mail_claim(
        &self,
        actor: &Actor,
        to: &str,
        user_id: &str,
        organization: &str,
        url: &str,
        expires_at: i64,
    ) -> bool {
        let Some(mailer) = self.mailer.clone() else { return false };
        let mail = crate::mail::claim(to, organization, url, &crate::model::utc_minute(expires_at));
        let (svc, actor, user_id) = (self.clone(), actor.clone(), user_id.to_string());
        self.track(tokio::spawn(async move { svc.send_to_user(&mailer, &mail, &actor, &user_id).await }));
        true
    }

    /// Sends `mail` about user `user_id` and records the outcome as `actor` did it.
    async fn send_to_user(&self, mailer: &crate::mail::Mailer, mail: &crate::mail::Mail, actor: &Actor, user_id: &str) {
        let to = &mail.to;
        let (action, detail) = match mailer.send(mail).await {
            Ok(via) => ("user.mailed", serde_json::json!({"to": to, "via": via})),
            Err(e) => {
                tracing::warn!(to, error = %e, "mail to a person not sent");
                ("user.mail_failed", serde_json::json!({"to": to, "error": e.to_string()}))
            }
        };
        let record = async {
            let mut tx = self.db.write().await?;
            audit(&mut tx, self.now(), actor, action, user_id, detail).await?;
            tx.commit().await?;
            Ok::<_, super::ServiceError>(())
        };
        if let Err(e) = record.await {
            tracing::warn!(error = %e, "cannot record the mail outcome");
        }
    }

    /// Keeps `task` so [`Service::mail_settled`] can wait for it.
    fn track(&self, task: tokio::task::JoinHandle<()>) {
        if let Ok(mut tasks) = self.mail_tasks.lock() {
            tasks.retain(|t| !t.is_finished());
            tasks.push(task);
        }
    }

    /// Waits until every message handed over so far is sent (or failed).
    pub async fn mail_settled(&self) {
        loop {
            let tasks: Vec<_> = match self.mail_tasks.lock() {
                Ok(mut t) => t.drain(..).collect(),
                Err(_) => return,
            };
            if tasks.is_empty() {
                return;
            }
            for t in tasks {
                let _ = t.await;
            }
        }
    }

    /// Tells the organization that made the offer of `channel_id` that `by_org_id`
    /// accepted (plugging in `interface`) or declined (`None`).
    pub(crate) fn announce_answer(&self, channel_id: &str, by_org_id: &str, interface: Option<&str>) {
        let Some(mailer) = self.mailer.clone() else { return };
        let (svc, channel_id, by_org_id, interface) =
            (self.clone(), channel_id.to_string(), by_org_id.to_string(), interface.map(str::to_string));
        self.track(tokio::spawn(async move {
            let mails = async {
                let policy::Offered { name, org_id: owner } = policy::offered(&svc.db, &channel_id).await?;
                let by = svc.organization_name(&by_org_id).await?;
                let url = svc.channel_url(&channel_id);
                let to = svc.recipients(&owner, Topic::Answers).await?;
                Ok::<_, super::ServiceError>(
                    to.iter().map(|t| answered(t, &name, &by, interface.as_deref(), &url)).collect::<Vec<_>>(),
                )
            };
            match mails.await {
                Ok(m) => send_all(&mailer, &m, "answer").await,
                Err(e) => tracing::warn!(channel = %channel_id, error = %e, "cannot write the answer's news"),
            }
        }));
    }

    /// Tells `org_id` (its chosen recipients, else its admins; whatever topics it chose,
    /// since the rule is its own and a person must now answer) that its auto-accept rule
    /// for `offering_org_id`'s offers could not accept the invitation at `url`.
    pub(crate) fn announce_rule_refused(
        &self,
        org_id: &str,
        offering_org_id: &str,
        interface: &str,
        reason: &str,
        url: &str,
    ) {
        let Some(mailer) = self.mailer.clone() else { return };
        let svc = self.clone();
        let (org_id, offering, interface, reason, url) = (
            org_id.to_string(),
            offering_org_id.to_string(),
            interface.to_string(),
            reason.to_string(),
            url.to_string(),
        );
        self.track(tokio::spawn(async move {
            let mails = async {
                let from = svc.organization_name(&offering).await?;
                let to = svc.recipients(&org_id, Topic::Rules).await?;
                Ok::<_, super::ServiceError>(
                    to.iter().map(|t| auto_accept_refused(t, &from, &interface, &reason, &url)).collect::<Vec<_>>(),
                )
            };
            match mails.await {
                Ok(m) => send_all(&mailer, &m, "rule").await,
                Err(e) => tracing::warn!(org = %org_id, error = %e, "cannot write the refused rule's news"),
            }
        }));
    }

    /// Tells the members of channel `channel_id` (and the organization whose port it was)
    /// that `actor` unplugged `org_id`'s port `interface`; `goes_on`: the channel was not
    /// taken down for it.
    pub(crate) fn announce_unplugged(
        &self,
        channel_id: &str,
        org_id: &str,
        interface: &str,
        actor: &Actor,
        goes_on: bool,
    ) {
        let Some(mailer) = self.mailer.clone() else { return };
        let (svc, actor) = (self.clone(), actor.clone());
        let (channel_id, org_id, interface) = (channel_id.to_string(), org_id.to_string(), interface.to_string());
        self.track(tokio::spawn(async move {
            let mails = async {
                let name = policy::channel_news(&svc.db, &channel_id).await?.name;
                let member = svc.organization_name(&org_id).await?;
                let by_org = svc.organization_name(&actor.org_id).await?;
                let by = format!("{} ({by_org})", actor.email);
                let news = News::Unplugged { member, interface, by, goes_on };
                let mut orgs = policy::members(&svc.db, &channel_id).await?;
                if !orgs.contains(&org_id) {
                    orgs.push(org_id.clone());
                }
                // The member that left sees the channel no more: its link is to its channels.
                let (url, left_url) = (svc.channel_url(&channel_id), svc.channels_url());
                let mut mails: Vec<Mail> = Vec::new();
                for o in orgs {
                    let link = if o == org_id { &left_url } else { &url };
                    for r in svc.recipients(&o, Topic::Down).await? {
                        if !mails.iter().any(|m| m.to == r) {
                            mails.push(channel_news(&r, &name, &news, link));
                        }
                    }
                }
                Ok::<_, super::ServiceError>(mails)
            };
            match mails.await {
                Ok(m) => send_all(&mailer, &m, "channel").await,
                Err(e) => tracing::warn!(channel = %channel_id, error = %e, "cannot write the unplug's news"),
            }
        }));
    }

    /// Tells every member organization of the channels of `outcomes` what the orders
    /// did to them: active (activation, resume), failed, paused or ended.
    pub(crate) fn announce_orders(&self, outcomes: &[OrderOutcome]) {
        let Some(mailer) = self.mailer.clone() else { return };
        let wanted: Vec<OrderOutcome> = outcomes
            .iter()
            .filter(|o| {
                o.status == "failed"
                    || (o.status == "done"
                        && matches!(o.action.as_str(), "activate" | "resume" | "pause" | "deactivate"))
            })
            .cloned()
            .collect();
        if wanted.is_empty() {
            return;
        }
        let svc = self.clone();
        self.track(tokio::spawn(async move {
            for o in &wanted {
                match svc.order_news(o).await {
                    Ok(m) => send_all(&mailer, &m, "channel").await,
                    Err(e) => tracing::warn!(order = %o.order_id, error = %e, "cannot write the order's news"),
                }
            }
        }));
    }

    /// The messages an order's outcome calls for (none when the channel has moved on).
    async fn order_news(&self, o: &OrderOutcome) -> super::Result<Vec<Mail>> {
        let policy::ChannelNews { name, state, vlan, reason } = policy::channel_news(&self.db, &o.channel_id).await?;
        let (news, topic) = match (o.status.as_str(), o.action.as_str(), state.as_str()) {
            ("failed", _, _) => (News::Failed { reason: o.reason.clone() }, Topic::Down),
            (_, "activate" | "resume", "active") => (News::Active { vlan }, Topic::Active),
            (_, "pause", "paused") => (News::Paused { reason }, Topic::Down),
            (_, "deactivate", "terminated") => {
                let record = crate::store::audit::ending(&self.db, &o.channel_id).await?;
                let by = record.map(super::views::ended_by).unwrap_or_default();
                (News::Ended { reason, by }, Topic::Down)
            }
            _ => return Ok(Vec::new()),
        };
        let members = policy::members(&self.db, &o.channel_id).await?;
        let url = self.channel_url(&o.channel_id);
        let mut to: Vec<String> = Vec::new();
        for m in members {
            for r in self.recipients(&m, topic).await? {
                if !to.contains(&r) {
                    to.push(r);
                }
            }
        }
        Ok(to.iter().map(|t| channel_news(t, &name, &news, &url)).collect())
    }

    fn channels_url(&self) -> String {
        format!("{}/channels", self.config.base_url.trim_end_matches('/'))
    }

    fn channel_url(&self, channel_id: &str) -> String {
        format!("{}/channels/{channel_id}", self.config.base_url.trim_end_matches('/'))
    }

    /// Who in `org_id` gets news on `topic`: its chosen recipients, or its admins; nobody
    /// when it turned the topic off.
    async fn recipients(&self, org_id: &str, topic: Topic) -> super::Result<Vec<String>> {
        let Some(prefs) = policy::notifications(&self.db, org_id).await? else {
            return Ok(Vec::new());
        };
        let wanted = match topic {
            Topic::Answers => prefs.offer_answers,
            Topic::Active => prefs.channel_active,
            Topic::Down => prefs.channel_down,
            Topic::Rules => true,
        };
        if !wanted || org_id == super::OPERATOR_ORG {
            return Ok(Vec::new());
        }
        if !prefs.recipients.is_empty() {
            return Ok(prefs.recipients.iter().map(|r| r.to_string()).collect());
        }
        Ok(policy::admin_emails(&self.db, org_id).await?)
    }
}

/// Sends `mails`, logging each failure (news is not worth retrying; the portal shows all of it).
async fn send_all(mailer: &Mailer, mails: &[Mail], what: &str) {
    for m in mails {
        match mailer.send(m).await {
            Ok(via) => tracing::info!(to = %m.to, subject = %m.subject, via, what, "news mailed"),
            Err(e) => tracing::warn!(to = %m.to, subject = %m.subject, error = %e, what, "news not mailed"),
        }
    }
}
