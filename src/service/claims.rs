//! An organization the operator imported with the topology, that nobody can log in for yet
//! (its ports wait for their first admin), claimed from an invitation made for it.
//!
//! The invitation's link proves nothing about who holds it: it is shown to whoever made the
//! invitation as well as mailed. So the person registering must be one of the contacts the
//! operator listed for the organization (the topology's `organizations:`, an address or a
//! whole `@domain`), and must confirm the address by a link mailed only to it, where they
//! choose their password (the welcome link of [`super::people`]). Until then they cannot
//! log in and the organization stays unclaimed.

use serde::Serialize;

use crate::store::{new_token, offers, organizations, people};

use super::{Actor, Result, Service, ServiceError, UserRole, audit};

/// How long the link that confirms a claim works.
pub const CLAIM_HOURS: i64 = 24;

/// Who the audit log says asked for a claim: someone holding the invitation's link, not yet
/// known to be the person whose address they gave.
const ANONYMOUS: &str = "anonymous (an invitation's link)";

/// How many links confirming one person's claim may be open at once.
const MAX_OPEN_LINKS: i64 = 3;

/// What registering from an invitation did.
#[derive(Clone, Debug)]
pub enum Registered {
    /// Registered and logged in.
    In(Actor),
    /// To become an imported organization's first admin once the address is confirmed from
    /// the link mailed to it.
    Confirm(ClaimPending),
}

/// A claim waiting for its address to be confirmed.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ClaimPending {
    /// Where the link went.
    pub email: String,
    /// The organization claimed.
    pub organization: String,
    /// Until when the link works (ms since the epoch).
    pub expires_at: i64,
    /// What to do now, in words.
    pub message: String,
}

impl Service {
    /// Registers `email` (`name`) from invitation `row` as the first admin of organization
    /// `org_id`, whose `contacts` the operator listed, once they confirm the address: mails
    /// them the link and records the claim. Registering again before confirming mails
    /// another link; the earlier ones stay open, at most [`MAX_OPEN_LINKS`] at once.
    pub(super) async fn claim_organization(
        &self,
        row: &offers::ByToken,
        org_id: &str,
        contacts: &[String],
        email: &str,
        name: &str,
        source: &str,
    ) -> Result<ClaimPending> {
        let organization = organizations::name_of(&self.db, org_id).await?;
        if !crate::topology::is_contact(contacts, email) {
            let listed = if contacts.is_empty() { "lists nobody" } else { "does not list this address" };
            return Err(ServiceError::Forbidden(format!(
                "email: `{organization}`'s first admin must be someone the operator listed for it, and it {listed}: \
                 ask the operator to add you as its first admin, or to add your address (or your domain) to \
                 `{organization}`'s contacts in the topology; or ask whoever invited you to invite you under your \
                 own organization"
            )));
        }
        if self.mailer.is_none() {
            return Err(ServiceError::Conflict(format!(
                "this Switchboard sends no mail, so it cannot confirm that {email} is yours before making you \
                 `{organization}`'s first admin: ask the operator"
            )));
        }
        let now = self.now();
        let token = new_token();
        let expires_at = now + CLAIM_HOURS * 3_600_000;
        let pending = people::of_org(&self.db, org_id).await?.into_iter().find(|p| p.email == email && !p.active);
        let mut tx = self.db.write().await?;
        let user_id = match pending {
            Some(p) => p.id,
            None => match people::restore(&mut tx, org_id, email, name, UserRole::Admin).await? {
                Some(id) => id,
                None => organizations::insert_user(&mut tx, org_id, email, name, UserRole::Admin, None, now)
                    .await
                    .map_err(|e| match e {
                        crate::store::StoreError::Conflict(_) => ServiceError::Conflict(format!(
                            "email: {email} is a person's address on Switchboard already (in another organization, \
                             or waiting to choose a password there): use another address of yours, or ask the operator"
                        )),
                        other => other.into(),
                    })?,
            },
        };
        // Earlier links stay open (whoever holds the invitation could otherwise spoil each
        // one by registering again); a few are enough.
        if people::open_claim_links(&mut tx, &user_id, now).await? >= MAX_OPEN_LINKS {
            return Err(ServiceError::Conflict(format!(
                "{MAX_OPEN_LINKS} links to confirm {email} were mailed in the last {CLAIM_HOURS} hours: use one of \
                 them (look in the spam folder too)"
            )));
        }
        people::add_claim_link(&mut tx, &token, &user_id, &row.invitee.id, now, expires_at).await?;
        // Nobody is known yet: whoever holds the invitation's link asked, naming an address.
        let anonymous = Actor {
            user_id: ANONYMOUS.into(),
            email: String::new(),
            org_id: org_id.to_string(),
            role: UserRole::Member,
            source: source.into(),
        };
        let detail = serde_json::json!({"email": email, "organization": organization, "user": user_id});
        audit(&mut tx, now, &anonymous, "organization.claim", &row.invitee.id, detail).await?;
        tx.commit().await?;
        let url = format!("{}/welcome/{token}", self.config.base_url.trim_end_matches('/'));
        self.mail_claim(&anonymous, email, &user_id, &organization, &url, expires_at);
        let message = format!(
            "We mailed {email} a link: open it to confirm the address, choose your password and become \
             {organization}'s first admin. It works once, for {CLAIM_HOURS} hours; this offer then waits for you \
             under Offers for you."
        );
        Ok(ClaimPending { email: email.to_string(), organization, expires_at, message })
    }

    /// Confirms the claim that welcome link `w` was mailed for (`invitee`: the invitation it
    /// came from), in `tx`, before the link is used: the organization must still have nobody
    /// who can log in, and the address must still be one of its contacts. Refused, the
    /// person is removed (their other links stop working) and the refusal is the error; the
    /// caller commits either way.
    pub(super) async fn confirm_claim(
        &self,
        tx: &mut crate::store::WriteTx,
        w: &people::Welcome,
        invitee: &str,
        now: i64,
    ) -> Result<std::result::Result<(), ServiceError>> {
        let actor = Actor {
            user_id: w.user_id.clone(),
            email: w.email.clone(),
            org_id: w.org_id.clone(),
            role: UserRole::Admin,
            source: String::new(),
        };
        // Two contacts confirming at once: one after the other.
        organizations::lock_row(tx, self.db.dialect, &w.org_id).await?;
        let refused = match organizations::unclaimed_id(&mut *tx, &w.org_id).await? {
            None => Some(ServiceError::Conflict(format!(
                "{} has its first admin already: ask them to add you to its people",
                w.organization
            ))),
            Some((_, contacts)) if !crate::topology::is_contact(&contacts, &w.email) => {
                Some(ServiceError::Forbidden(format!(
                    "the operator no longer lists {} among {}'s contacts: ask the operator to list it again, or to \
                     add you as {}'s first admin",
                    w.email, w.organization, w.organization
                )))
            }
            Some(_) => None,
        };
        if let Some(refused) = refused {
            people::remove(tx, &w.org_id, &w.user_id, now).await?;
            let detail = serde_json::json!({"email": w.email, "why": refused.to_string()});
            audit(tx, now, &actor, "organization.claim_refused", invitee, detail).await?;
            return Ok(Err(refused));
        }
        offers::set_registered(tx, invitee, &w.user_id, now).await?;
        if offers::set_accessed(tx, invitee, now).await? {
            audit(tx, now, &actor, "invitation.open", invitee, serde_json::json!({})).await?;
        }
        people::drop_claimants(tx, &w.org_id, &w.user_id, now).await?;
        let detail = serde_json::json!({"email": w.email, "organization": w.organization});
        audit(tx, now, &actor, "organization.claimed", invitee, detail).await?;
        Ok(Ok(()))
    }
}
