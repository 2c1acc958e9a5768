//! An organization's policy and preferences (SPEC §7): its default offer expiry, whether
//! its members may accept offers, and the organizations whose offers it accepts at once
//! (auto-accept), with the interface each such channel plugs into; and its notification
//! preferences: which news it gets by email, and who gets it.

use serde::Serialize;

use crate::store::policy::{self as store, Rule};
use crate::store::{StoreError, organizations, topology};

use super::flow::Acceptance;
use super::{Actor, Invitation, Result, Service, ServiceError, UserRole, audit};

pub use crate::model::policy::{AutoAccept, Notifications, Policy};
use crate::model::text::Email;

/// Checks `notifications`' recipients; returns them trimmed, each address once.
fn checked_recipients(notifications: &Notifications) -> std::result::Result<Vec<Email>, String> {
    if notifications.recipients.len() > 20 {
        return Err("notifications.recipients: at most 20 addresses".into());
    }
    let mut out: Vec<Email> = Vec::new();
    let mut bad: Vec<String> = Vec::new();
    for (n, r) in notifications.recipients.iter().enumerate() {
        // The API's own rule for an address (it reads it lower-case), as the portal's form
        // hands over what was typed.
        match r.as_str().parse::<Email>() {
            Err(_) => {
                bad.push(format!("notifications.recipients[{n}]: `{r}` is not an email address (name@example.org)"))
            }
            Ok(address) if !out.contains(&address) => out.push(address),
            Ok(_) => {}
        }
    }
    if !bad.is_empty() {
        return Err(bad.join("\n"));
    }
    Ok(out)
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
        store::get(&self.db, &actor.org_id).await?.ok_or_else(|| ServiceError::NotFound("your organization".into()))
    }

    /// Replaces `actor`'s organization's policy (its admins only). Every rule names another
    /// organization once and one of this organization's interfaces that can take a channel
    /// now (a port-mode port already carrying one, or a port with no capacity left, would
    /// refuse every offer the rule answers); nothing is stored unless all of it is right.
    pub async fn update_policy(&self, actor: &Actor, policy: &Policy) -> Result<Policy> {
        if actor.role != UserRole::Admin {
            return Err(ServiceError::Forbidden("only the organization's admins can change its policy".into()));
        }
        // Every problem is found and reported at once, one per line.
        let mut problems: Vec<String> = Vec::new();
        if !(1..=3650).contains(&policy.default_offer_days) {
            problems.push("default_offer_days: the default offer expiry must be 1-3650 days".into());
        }
        let recipients = checked_recipients(&policy.notifications).unwrap_or_else(|e| {
            problems.extend(e.lines().map(String::from));
            Vec::new()
        });
        let ports = if policy.auto_accept.is_empty() { Vec::new() } else { self.interfaces(actor).await? };
        let now = self.now();
        let mut tx = self.db.write().await?;
        let mut rules: Vec<Rule> = Vec::new();
        for (n, rule) in policy.auto_accept.iter().enumerate() {
            let at = format!("auto_accept[{n}]");
            let from = match organizations::id_by_name(&mut tx, &rule.organization).await {
                Ok(id) => Some(id),
                Err(StoreError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            };
            let Some(from) = from.filter(|id| *id != super::OPERATOR_ORG) else {
                problems.push(format!(
                    "{at}: there is no organization `{}`: use the name its invitations show",
                    rule.organization
                ));
                continue;
            };
            if from == actor.org_id {
                problems.push(format!("{at}: an organization does not offer channels to itself"));
                continue;
            }
            if rules.iter().any(|r| r.from_org_id == from) {
                problems
                    .push(format!("{at}: `{}` has a rule already: one interface per organization", rule.organization));
                continue;
            }
            let owner = topology::interface_owner(&mut tx, &rule.interface).await?;
            if owner.flatten().as_deref() != Some(actor.org_id.as_str()) {
                problems.push(format!("{at}: `{}` is not one of your organization's interfaces", rule.interface));
                continue;
            }
            let Some(in_use) =
                organizations::account_in_use(&mut tx, self.db.dialect, &actor.org_id, &rule.interface).await?
            else {
                problems.push(format!(
                    "{at}: your organization has no account with the operator yet, so no offer can be accepted: \
                     ask the operator for one, then add the rule"
                ));
                continue;
            };
            if let Some(port) = ports.iter().find(|p| *rule.interface == *p.name) {
                if port.mode == "port" && in_use.interface_channels > 0 {
                    problems.push(format!(
                        "{at}: port {} already carries a channel and a port-mode port carries one: \
                         choose a free port or a tagged one",
                        rule.interface
                    ));
                    continue;
                }
                if in_use.interface_mbps >= port.capacity_mbps {
                    problems.push(format!(
                        "{at}: port {} has no capacity left ({} of {} Mbps in use): choose another port",
                        rule.interface, in_use.interface_mbps, port.capacity_mbps
                    ));
                    continue;
                }
            }
            rules.push(Rule { from_org_id: from, interface: rule.interface.to_string() });
        }
        if !problems.is_empty() {
            return Err(ServiceError::Invalid(problems.join("\n")));
        }
        let notifications = Notifications { recipients, ..policy.notifications.clone() };
        store::set_settings(
            &mut tx,
            &actor.org_id,
            policy.default_offer_days,
            policy.members_can_accept,
            &notifications,
        )
        .await?;
        store::set_rules(&mut tx, &actor.org_id, &rules, now).await?;
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
    pub(crate) async fn auto_accept(
        &self,
        offering_org: &str,
        channel_id: &str,
        invitations: &[Invitation],
    ) -> Vec<AutoAccepted> {
        let mut out = Vec::new();
        for inv in invitations {
            let Some(org_name) = &inv.organization else { continue };
            let (org_id, interface) = match store::accepting(&self.db, org_name, offering_org).await {
                Ok(Some(rule)) => (rule.org_id, rule.interface),
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read auto-accept rules");
                    continue;
                }
            };
            let actor = Actor::policy_of(&org_id);
            let Ok(name) = interface.parse() else {
                tracing::warn!(interface, org_id, "an auto-accept rule names an interface that cannot exist");
                continue;
            };
            let acceptance =
                Acceptance { interface: name, usage_model_id: None, customer_vlan: None, bandwidth_mbps: None };
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
                            serde_json::json!({"channel": channel_id, "interface": interface, "code": e.code(), "reason": e.to_string()}),
                        )
                        .await?;
                        crate::store::offers::note_auto_accept_refused(&mut tx, &inv.invitee_id, &e.to_string())
                            .await?;
                        tx.commit().await?;
                        Ok::<_, ServiceError>(())
                    };
                    if let Err(e) = record.await {
                        tracing::warn!(error = %e, "cannot record a refused auto-accept");
                    }
                    self.announce_rule_refused(&org_id, offering_org, &interface, &e.to_string(), &inv.url);
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
