//! An organization's policy and preferences (SPEC §7): its default offer expiry, whether
//! its members may accept offers, and the organizations whose offers it accepts at once
//! (auto-accept), with the interface each such channel plugs into; and its notification
//! preferences: which news it gets by email, and who gets it.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::flow::Acceptance;
use super::{Actor, Invitation, Result, Service, ServiceError, UserRole, audit};

/// An organization's policy, as read and as written (`PUT /api/v1/policy`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Policy {
    /// Days an offer stays open when its creator does not say (1-3650).
    pub default_offer_days: u32,
    /// Whether members, not only admins, may accept offers.
    pub members_can_accept: bool,
    /// Offers made to this organization by these organizations are accepted at once.
    #[serde(default)]
    pub auto_accept: Vec<AutoAccept>,
    /// Which news the organization gets by email (all of it when left out).
    #[serde(default)]
    pub notifications: Notifications,
}

/// What an organization wants to hear about by email, and who hears it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Notifications {
    /// An invitee of one of our offers accepted or declined.
    pub offer_answers: bool,
    /// A channel we take part in became active (activated, or resumed after a pause).
    pub channel_active: bool,
    /// A channel we take part in failed, was paused or ended.
    pub channel_down: bool,
    /// Who gets the messages (at most 20 addresses); empty: the organization's admins.
    pub recipients: Vec<String>,
}

impl Default for Notifications {
    fn default() -> Self {
        Notifications { offer_answers: true, channel_active: true, channel_down: true, recipients: Vec::new() }
    }
}

impl Notifications {
    /// Checks the recipients; returns them trimmed.
    fn checked_recipients(&self) -> Result<Vec<String>> {
        if self.recipients.len() > 20 {
            return Err(ServiceError::Invalid("notifications.recipients: at most 20 addresses".into()));
        }
        let mut out: Vec<String> = Vec::new();
        for (n, r) in self.recipients.iter().enumerate() {
            let r = r.trim();
            if r.parse::<lettre::Address>().is_err() || r.contains(',') {
                return Err(ServiceError::Invalid(format!(
                    "notifications.recipients[{n}]: `{r}` is not an email address (name@example.org)"
                )));
            }
            if !out.iter().any(|o| o.eq_ignore_ascii_case(r)) {
                out.push(r.to_string());
            }
        }
        Ok(out)
    }
}

/// Accept every offer from `organization` with `interface` (one of ours).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AutoAccept {
    pub organization: String,
    pub interface: String,
}

/// What auto-accept did with one invitation of a new offer.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AutoAccepted {
    pub invitee_id: String,
    pub organization: String,
    pub interface: String,
    pub accepted: bool,
    /// Why it was not (the invitation then stays open for a person to answer).
    pub reason: Option<String>,
}

impl Service {
    /// `actor`'s organization's policy.
    pub async fn policy(&self, actor: &Actor) -> Result<Policy> {
        let org = sqlx::query(
            "SELECT default_offer_days, members_can_accept, notify_answers, notify_active, notify_down, notify_to \
             FROM organizations WHERE id = $1",
        )
        .bind(actor.org_id.as_str())
        .fetch_optional(&self.db)
        .await?
        .ok_or_else(|| ServiceError::NotFound("your organization".into()))?;
        let rules = sqlx::query(
            "SELECT g.name, r.interface FROM auto_accept r JOIN organizations g ON g.id = r.from_org_id \
             WHERE r.org_id = $1 ORDER BY g.name",
        )
        .bind(actor.org_id.as_str())
        .fetch_all(&self.db)
        .await?;
        Ok(Policy {
            default_offer_days: u32::try_from(org.try_get::<i64, _>("default_offer_days")?).unwrap_or(60),
            members_can_accept: org.try_get::<i64, _>("members_can_accept")? == 1,
            auto_accept: rules
                .iter()
                .map(|r| Ok(AutoAccept { organization: r.try_get("name")?, interface: r.try_get("interface")? }))
                .collect::<Result<_>>()?,
            notifications: notifications_of(&org)?,
        })
    }

    /// Replaces `actor`'s organization's policy (its admins only). Every rule names another
    /// organization once and one of this organization's interfaces; nothing is stored
    /// unless all of it is right.
    pub async fn update_policy(&self, actor: &Actor, policy: &Policy) -> Result<Policy> {
        if actor.role != UserRole::Admin {
            return Err(ServiceError::Forbidden("only the organization's admins can change its policy".into()));
        }
        if !(1..=3650).contains(&policy.default_offer_days) {
            return Err(ServiceError::Invalid("the default offer expiry must be 1-3650 days".into()));
        }
        let recipients = policy.notifications.checked_recipients()?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let mut rules = Vec::new();
        for (n, rule) in policy.auto_accept.iter().enumerate() {
            let at = format!("auto_accept[{n}]");
            let from: Option<String> = sqlx::query_scalar("SELECT id FROM organizations WHERE name = $1")
                .bind(rule.organization.trim())
                .fetch_optional(&mut tx)
                .await?;
            let Some(from) = from.filter(|id| *id != super::OPERATOR_ORG) else {
                return Err(ServiceError::Invalid(format!(
                    "{at}: there is no organization `{}`: use the name its invitations show",
                    rule.organization
                )));
            };
            if from == actor.org_id {
                return Err(ServiceError::Invalid(format!("{at}: an organization does not offer channels to itself")));
            }
            if rules.iter().any(|(f, _)| *f == from) {
                return Err(ServiceError::Invalid(format!(
                    "{at}: `{}` has a rule already: one interface per organization",
                    rule.organization
                )));
            }
            let owner: Option<Option<String>> =
                sqlx::query_scalar("SELECT org_id FROM service_interfaces WHERE name = $1")
                    .bind(rule.interface.as_str())
                    .fetch_optional(&mut tx)
                    .await?;
            if owner.flatten().as_deref() != Some(actor.org_id.as_str()) {
                return Err(ServiceError::Invalid(format!(
                    "{at}: `{}` is not one of your organization's interfaces",
                    rule.interface
                )));
            }
            rules.push((from, rule.interface.clone()));
        }
        let n = &policy.notifications;
        sqlx::query(
            "UPDATE organizations SET default_offer_days = $2, members_can_accept = $3, notify_answers = $4, \
             notify_active = $5, notify_down = $6, notify_to = $7 WHERE id = $1",
        )
        .bind(actor.org_id.as_str())
        .bind(i64::from(policy.default_offer_days))
        .bind(i64::from(policy.members_can_accept))
        .bind(i64::from(n.offer_answers))
        .bind(i64::from(n.channel_active))
        .bind(i64::from(n.channel_down))
        .bind(recipients.join(","))
        .execute(&mut tx)
        .await?;
        sqlx::query("DELETE FROM auto_accept WHERE org_id = $1").bind(actor.org_id.as_str()).execute(&mut tx).await?;
        for (from, interface) in &rules {
            sqlx::query("INSERT INTO auto_accept (org_id, from_org_id, interface, created_at) VALUES ($1, $2, $3, $4)")
                .bind(actor.org_id.as_str())
                .bind(from.as_str())
                .bind(interface.as_str())
                .bind(now)
                .execute(&mut tx)
                .await?;
        }
        audit(
            &mut tx,
            now,
            actor,
            "organization.policy",
            &actor.org_id,
            serde_json::to_value(policy).unwrap_or_default(),
        )
        .await?;
        tx.commit().await?;
        self.policy(actor).await
    }

    /// Accepts, on their organizations' behalf, the `invitations` (just made by
    /// `offering_org`) whose organization auto-accepts its offers. Each acceptance is an
    /// ordinary one (account, usage model, interface checked; audit records it as
    /// `auto-accept:ORG`); a refusal leaves the invitation open and is recorded.
    pub(crate) async fn auto_accept(&self, offering_org: &str, invitations: &[Invitation]) -> Vec<AutoAccepted> {
        let mut out = Vec::new();
        for inv in invitations {
            let Some(org_name) = &inv.organization else { continue };
            let rule = sqlx::query(
                "SELECT r.org_id, r.interface FROM auto_accept r JOIN organizations g ON g.id = r.org_id \
                 WHERE g.name = $1 AND r.from_org_id = $2",
            )
            .bind(org_name.as_str())
            .bind(offering_org)
            .fetch_optional(&self.db)
            .await;
            let (org_id, interface): (String, String) = match rule {
                Ok(Some(r)) => match (r.try_get("org_id"), r.try_get("interface")) {
                    (Ok(o), Ok(i)) => (o, i),
                    _ => continue,
                },
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read auto-accept rules");
                    continue;
                }
            };
            let actor = Actor::policy_of(&org_id);
            let acceptance = Acceptance { interface: interface.clone(), usage_model_id: None, customer_vlan: None };
            let reason = match self.accept(&actor, &inv.token, &acceptance).await {
                Ok(_) => None,
                Err(e) => {
                    let record = async {
                        let mut tx = self.db.write().await?;
                        audit(
                            &mut tx,
                            self.now(),
                            &actor,
                            "invitation.auto_accept_refused",
                            &inv.invitee_id,
                            serde_json::json!({"interface": interface, "code": e.code(), "reason": e.to_string()}),
                        )
                        .await?;
                        tx.commit().await?;
                        Ok::<_, ServiceError>(())
                    };
                    if let Err(e) = record.await {
                        tracing::warn!(error = %e, "cannot record a refused auto-accept");
                    }
                    Some(e.to_string())
                }
            };
            out.push(AutoAccepted {
                invitee_id: inv.invitee_id.clone(),
                organization: org_name.clone(),
                interface,
                accepted: reason.is_none(),
                reason,
            });
        }
        out
    }
}

/// The notification preferences in an `organizations` row.
pub(super) fn notifications_of(row: &sqlx::any::AnyRow) -> Result<Notifications> {
    let to: String = row.try_get("notify_to")?;
    Ok(Notifications {
        offer_answers: row.try_get::<i64, _>("notify_answers")? == 1,
        channel_active: row.try_get::<i64, _>("notify_active")? == 1,
        channel_down: row.try_get::<i64, _>("notify_down")? == 1,
        recipients: to.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
    })
}
