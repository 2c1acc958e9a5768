//! An organization's people (issue 24): its admins add colleagues, who choose their own
//! password from a link mailed to them (never one the admin picks), send a new link when
//! one is lost, and remove people who leave. Every step is in the audit log.

use serde::Serialize;

use crate::model::actor::UserRole;
use crate::store::{new_token, organizations, people};

use super::setup::{check_email, check_text, hash_blocking};
use super::{Actor, OPERATOR_ORG, Result, Service, ServiceError, audit};

/// How long a welcome link works.
pub const WELCOME_DAYS: i64 = 7;

/// A person of an organization.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PersonView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: UserRole,
    pub added_at: i64,
    /// Chose a password and can log in (otherwise their welcome link waits).
    pub active: bool,
    /// Their organization's ID.
    #[serde(skip)]
    pub org_id: String,
}

/// A person just added, or sent a new link.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Welcomed {
    pub user_id: String,
    /// The link that lets them choose a password, for an admin to pass on when no email is
    /// sent (it is mailed when Switchboard has a mail server).
    pub url: String,
    pub expires_at: i64,
    pub mailed: bool,
}

/// Who a welcome link is for, as its page shows them.
#[derive(Clone, Debug)]
pub struct WelcomeView {
    pub email: String,
    pub name: String,
    pub organization: String,
}

impl Service {
    /// The people of the actor's organization (of `org_id` for the operator's staff).
    pub async fn people(&self, actor: &Actor, org_id: Option<&str>) -> Result<Vec<PersonView>> {
        let org = org_id.filter(|_| actor.is_operator()).unwrap_or(&actor.org_id);
        let list = people::of_org(&self.db, org).await?;
        Ok(list
            .into_iter()
            .map(|p| PersonView {
                id: p.id,
                email: p.email,
                name: p.name,
                role: p.role,
                added_at: p.created_at,
                active: p.active,
                org_id: org.to_string(),
            })
            .collect())
    }

    /// An admin adds a person to their organization: they get a link to choose a password.
    /// The operator's staff add operator staff, or, naming `organization`, anyone to any
    /// organization (such as the first admin of one imported with the topology). A person
    /// removed before comes back.
    pub async fn add_person(
        &self,
        actor: &Actor,
        organization: Option<&str>,
        email: &str,
        name: &str,
        role: UserRole,
    ) -> Result<Welcomed> {
        may_manage(actor)?;
        let org_id = match organization.map(str::trim).filter(|o| !o.is_empty()) {
            None => actor.org_id.clone(),
            Some(o) => self.organization_of_people(actor, o).await?,
        };
        if role == UserRole::Operator && !actor.is_operator() {
            return Err(ServiceError::Forbidden("role: only the operator's staff can add operator staff".into()));
        }
        if (role == UserRole::Operator) != (org_id == OPERATOR_ORG) {
            return Err(ServiceError::Invalid(
                "role: the operator's people are operator staff, and only they: add a customer's people as admin \
                 or member, naming its organization"
                    .into(),
            ));
        }
        let email = check_email(email).map_err(|e| ServiceError::Invalid(format!("email: {}", bare(&e))))?;
        let name = check_text("a name", name, 100).map_err(|e| ServiceError::Invalid(format!("name: {}", bare(&e))))?;
        if people::of_org(&self.db, &org_id).await?.iter().any(|p| p.email == email) {
            let whose = match organization {
                Some(o) if org_id != actor.org_id => format!("{}'s", o.trim()),
                _ => "your".into(),
            };
            return Err(ServiceError::Conflict(format!("email: this address is one of {whose} people already")));
        }
        let now = self.now();
        let token = new_token();
        let expires_at = now + WELCOME_DAYS * 86_400_000;
        let mut tx = self.db.write().await?;
        let user_id = match people::restore(&mut tx, &org_id, &email, &name, role).await? {
            Some(id) => id,
            None => organizations::insert_user(&mut tx, &org_id, &email, &name, role, None, now).await.map_err(
                |e| match e {
                    crate::store::StoreError::Conflict(_) => ServiceError::Conflict(
                        "email: this address has a Switchboard login already: add another one".into(),
                    ),
                    other => other.into(),
                },
            )?,
        };
        people::add_welcome(&mut tx, &token, &user_id, now, expires_at).await?;
        let detail = serde_json::json!({"email": email, "role": role.as_str(), "organization": org_id});
        audit(&mut tx, now, actor, "user.create", &user_id, detail).await?;
        tx.commit().await?;
        Ok(self.welcome_out(actor, &org_id, user_id, email, &token, expires_at))
    }

    /// The ID of organization `name` (in any case) whose people `actor` may see and manage:
    /// its own, or any for the operator's staff. Another organization is refused before it
    /// is looked up, so that the answer says nothing of which exist.
    pub async fn organization_of_people(&self, actor: &Actor, name: &str) -> Result<String> {
        let own = organizations::name_of(&self.db, &actor.org_id).await?;
        if own.to_lowercase() == name.trim().to_lowercase() {
            return Ok(actor.org_id.clone());
        }
        if !actor.is_operator() {
            return Err(ServiceError::Forbidden(
                "organization: only the operator's staff reach another organization's people".into(),
            ));
        }
        match organizations::id_in_any_case(&self.db, name.trim()).await? {
            Some(id) => Ok(id),
            None => Err(ServiceError::Invalid(format!("organization: there is no organization `{}`", name.trim()))),
        }
    }

    /// The organizations nobody can log in for yet (the operator's staff only): each waits
    /// for its first admin, from a claim or from the operator.
    pub async fn waiting_organizations(&self, actor: &Actor) -> Result<Vec<organizations::Waiting>> {
        if !actor.is_operator() {
            return Err(ServiceError::Forbidden("only the operator's staff see every organization".into()));
        }
        Ok(organizations::waiting(&self.db).await?)
    }

    /// Sends a person who has not chosen a password yet a new link (the old one stops
    /// working).
    pub async fn resend_welcome(&self, actor: &Actor, user_id: &str) -> Result<Welcomed> {
        may_manage(actor)?;
        let person = self.person(actor, user_id).await?;
        if person.active {
            return Err(ServiceError::Conflict(format!(
                "{} chose a password already: they log in with it (a forgotten password is reset by the operator)",
                person.email
            )));
        }
        let now = self.now();
        let token = new_token();
        let expires_at = now + WELCOME_DAYS * 86_400_000;
        let mut tx = self.db.write().await?;
        people::add_welcome(&mut tx, &token, user_id, now, expires_at).await?;
        audit(&mut tx, now, actor, "user.welcome", user_id, serde_json::json!({"email": person.email})).await?;
        tx.commit().await?;
        Ok(self.welcome_out(actor, &person.org_id, user_id.to_string(), person.email, &token, expires_at))
    }

    /// Removes a person from the actor's organization: they can no longer log in, and their
    /// sessions end. Not oneself (another admin does that).
    pub async fn remove_person(&self, actor: &Actor, user_id: &str) -> Result<()> {
        may_manage(actor)?;
        if user_id == actor.user_id {
            return Err(ServiceError::Conflict(
                "you cannot remove yourself: another admin of your organization can".into(),
            ));
        }
        let person = self.person(actor, user_id).await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        if !people::remove(&mut tx, &person.org_id, user_id, now).await? {
            return Err(ServiceError::NotFound(format!("person `{user_id}`")));
        }
        audit(&mut tx, now, actor, "user.remove", user_id, serde_json::json!({"email": person.email})).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Who welcome link `token` is for, while it works.
    pub async fn welcome(&self, token: &str) -> Result<WelcomeView> {
        match people::welcome(&self.db, token, self.now()).await? {
            Some(w) => Ok(WelcomeView { email: w.email, name: w.name, organization: w.organization }),
            None => Err(link_gone()),
        }
    }

    /// The person of welcome link `token` chooses `password`, and their `name` as they write
    /// it ("" keeps the one they were added under: whoever added them, or registered for a
    /// claim, typed it); the link is used up. Who they are now (for a session).
    pub async fn choose_password(&self, token: &str, password: &str, name: &str, source: &str) -> Result<Actor> {
        let name = match name.trim() {
            "" => None,
            n => Some(check_text("a name", n, 100).map_err(|e| ServiceError::Invalid(format!("name: {}", bare(&e))))?),
        };
        let hash = hash_blocking(password.to_string())
            .await
            .map_err(|e| ServiceError::Invalid(format!("password: {}", bare(&e))))?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let Some(w) = people::welcome(&mut tx, token, now).await? else { return Err(link_gone()) };
        if let Some(invitee) = &w.claim_invitee
            && let Err(refused) = self.confirm_claim(&mut tx, &w, invitee, now).await?
        {
            tx.commit().await?;
            return Err(refused);
        }
        if !people::use_welcome(&mut tx, token, &w.user_id, &hash, now).await? {
            return Err(link_gone());
        }
        if let Some(name) = name.filter(|n| *n != w.name) {
            people::rename(&mut tx, &w.user_id, &name).await?;
        }
        tx.commit().await?;
        let actor = organizations::actor(&self.db, &w.user_id, source).await?;
        let mut tx = self.db.write().await?;
        audit(&mut tx, now, &actor, "user.password", &w.user_id, serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(actor)
    }

    /// A person of the actor's organization (of any, for the operator's staff).
    async fn person(&self, actor: &Actor, user_id: &str) -> Result<PersonView> {
        let not_found = || ServiceError::NotFound(format!("person `{user_id}` of your organization"));
        let org = match actor.is_operator() {
            true => organizations::actor(&self.db, user_id, "").await.map_err(|_| not_found())?.org_id,
            false => actor.org_id.clone(),
        };
        let all = self.people(actor, Some(&org)).await?;
        all.into_iter().find(|p| p.id == user_id).ok_or_else(not_found)
    }

    /// The link for `token` to the person `user_id` of organization `org_id`, mailed to
    /// `email` in the background when there is a mailer.
    fn welcome_out(
        &self,
        actor: &Actor,
        org_id: &str,
        user_id: String,
        email: String,
        token: &str,
        expires_at: i64,
    ) -> Welcomed {
        let url = format!("{}/welcome/{token}", self.config.base_url.trim_end_matches('/'));
        let mailed = self.mail_welcome(actor, org_id, &user_id, &email, &url, expires_at);
        Welcomed { user_id, url, expires_at, mailed }
    }
}

/// Only admins (and the operator's staff) manage people.
fn may_manage(actor: &Actor) -> Result<()> {
    if actor.role == UserRole::Admin || actor.is_operator() {
        Ok(())
    } else {
        Err(ServiceError::Forbidden("only your organization's admins can add or remove its people".into()))
    }
}

/// A welcome link that does not work (any more): used, replaced by a newer one, run out,
/// or never made. Its page says what to do.
fn link_gone() -> ServiceError {
    ServiceError::NotFound("welcome link".into())
}

/// An error's message without its kind's prefix.
fn bare(e: &ServiceError) -> String {
    match e {
        ServiceError::Invalid(m) => m.clone(),
        other => other.to_string(),
    }
}
