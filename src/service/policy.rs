//! An organization's policy and preferences (SPEC §7): its default offer expiry, whether
//! its members may accept offers, and the organizations whose offers it accepts at once
//! (auto-accept), with the interface each such channel plugs into.

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
        let org = sqlx::query("SELECT default_offer_days, members_can_accept FROM organizations WHERE id = $1")
            .bind(actor.org_id.as_str())
            .fetch_optional(&self.db.pool)
            .await?
            .ok_or_else(|| ServiceError::NotFound("your organization".into()))?;
        let rules = sqlx::query(
            "SELECT g.name, r.interface FROM auto_accept r JOIN organizations g ON g.id = r.from_org_id \
             WHERE r.org_id = $1 ORDER BY g.name",
        )
        .bind(actor.org_id.as_str())
        .fetch_all(&self.db.pool)
        .await?;
        Ok(Policy {
            default_offer_days: u32::try_from(org.try_get::<i64, _>("default_offer_days")?).unwrap_or(60),
            members_can_accept: org.try_get::<i64, _>("members_can_accept")? == 1,
            auto_accept: rules
                .iter()
                .map(|r| Ok(AutoAccept { organization: r.try_get("name")?, interface: r.try_get("interface")? }))
                .collect::<Result<_>>()?,
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
        let now = self.now();
        let mut tx = self.db.write().await?;
        let mut rules = Vec::new();
        for (n, rule) in policy.auto_accept.iter().enumerate() {
            let at = format!("auto_accept[{n}]");
            let from: Option<String> = sqlx::query_scalar("SELECT id FROM organizations WHERE name = $1")
                .bind(rule.organization.trim())
                .fetch_optional(&mut *tx)
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
                    .fetch_optional(&mut *tx)
                    .await?;
            if owner.flatten().as_deref() != Some(actor.org_id.as_str()) {
                return Err(ServiceError::Invalid(format!(
                    "{at}: `{}` is not one of your organization's interfaces",
                    rule.interface
                )));
            }
            rules.push((from, rule.interface.clone()));
        }
        sqlx::query("UPDATE organizations SET default_offer_days = $2, members_can_accept = $3 WHERE id = $1")
            .bind(actor.org_id.as_str())
            .bind(i64::from(policy.default_offer_days))
            .bind(i64::from(policy.members_can_accept))
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM auto_accept WHERE org_id = $1").bind(actor.org_id.as_str()).execute(&mut *tx).await?;
        for (from, interface) in &rules {
            sqlx::query("INSERT INTO auto_accept (org_id, from_org_id, interface, created_at) VALUES ($1, $2, $3, $4)")
                .bind(actor.org_id.as_str())
                .bind(from.as_str())
                .bind(interface.as_str())
                .bind(now)
                .execute(&mut *tx)
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
            .fetch_optional(&self.db.pool)
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
