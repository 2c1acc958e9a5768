//! Login sessions for the portal and the API: a 256-bit token in an HttpOnly cookie, stored
//! only as its SHA-256, with a CSRF token of its own and an expiry. Kept in the database so
//! that several instances behind one address share them.

use crate::store::{new_token, sessions};

use super::{Actor, Result, Service, ServiceError, audit};

/// A session as the browser holds it.
#[derive(Clone, Debug)]
pub struct NewSession {
    /// The cookie value (never stored).
    pub token: String,
    /// What forms and API writes must send back (`csrf` field or `X-CSRF-Token` header).
    pub csrf: String,
    pub expires_at: i64,
    pub actor: Actor,
}

/// An open session, as a request finds it.
#[derive(Clone, Debug)]
pub struct Session {
    pub actor: Actor,
    pub csrf: String,
    /// The name of the actor's organization.
    pub organization: String,
    /// When it ends (ms since the epoch).
    pub expires_at: i64,
}

impl Service {
    /// Checks the credentials and opens a session of `ttl_ms`.
    pub async fn open_session(&self, email: &str, password: &str, source: &str, ttl_ms: i64) -> Result<NewSession> {
        let actor = self.login(email, password, source).await?;
        self.session_for(actor, ttl_ms).await
    }

    /// Opens a session for someone already authenticated (just registered, say).
    pub async fn session_for(&self, actor: Actor, ttl_ms: i64) -> Result<NewSession> {
        let (token, csrf) = (new_token(), new_token());
        let now = self.now();
        let expires_at = now.saturating_add(ttl_ms);
        let mut tx = self.db.write().await?;
        sessions::open(&mut tx, &token, &csrf, &actor, now, expires_at).await?;
        audit(&mut tx, now, &actor, "session.open", &actor.user_id, serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(NewSession { token, csrf, expires_at, actor })
    }

    /// Who holds the session `token`, its CSRF token and the holder's organization name;
    /// `AccessDenied` when the token is unknown or expired.
    pub async fn session(&self, token: &str, source: &str) -> Result<Session> {
        let found = sessions::find(&self.db, token, self.now(), source).await?.ok_or(ServiceError::AccessDenied)?;
        Ok(Session {
            actor: found.actor,
            csrf: found.csrf,
            organization: found.organization,
            expires_at: found.expires_at,
        })
    }

    /// Ends the session `token` (logging out). Unknown tokens are fine: the result is the same.
    pub async fn close_session(&self, token: &str, actor: &Actor) -> Result<()> {
        let mut tx = self.db.write().await?;
        sessions::close(&mut tx, token).await?;
        audit(&mut tx, self.now(), actor, "session.close", &actor.user_id, serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(())
    }
}
