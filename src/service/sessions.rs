//! Login sessions for the portal and the API: a 256-bit token in an HttpOnly cookie, stored
//! only as its SHA-256, with a CSRF token of its own and an expiry. Kept in the database so
//! that several instances behind one address share them.

use sqlx::Row;

use crate::store::{new_token, token_hash};

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
        // Expired sessions go whenever anyone logs in; the table stays as small as the
        // number of people logged in.
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1").bind(now).execute(&mut tx).await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf, source, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash(&token))
        .bind(actor.user_id.as_str())
        .bind(csrf.as_str())
        .bind(actor.source.as_str())
        .bind(now)
        .bind(expires_at)
        .execute(&mut tx)
        .await?;
        audit(&mut tx, now, &actor, "session.open", &actor.user_id, serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(NewSession { token, csrf, expires_at, actor })
    }

    /// Who holds the session `token`, its CSRF token and the holder's organization name;
    /// `AccessDenied` when the token is unknown or expired. One statement per request.
    pub async fn session(&self, token: &str, source: &str) -> Result<Session> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.org_id, u.role, s.csrf, g.name AS org_name FROM sessions s \
             JOIN users u ON u.id = s.user_id JOIN organizations g ON g.id = u.org_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash(token))
        .bind(self.now())
        .fetch_optional(&self.db)
        .await?
        .ok_or(ServiceError::AccessDenied)?;
        let role: String = row.try_get("role")?;
        let actor = Actor {
            user_id: row.try_get("id")?,
            email: row.try_get("email")?,
            org_id: row.try_get("org_id")?,
            role: super::UserRole::parse(&role).unwrap_or(super::UserRole::Member),
            source: source.to_string(),
        };
        Ok(Session { actor, csrf: row.try_get("csrf")?, organization: row.try_get("org_name")? })
    }

    /// Ends the session `token` (logging out). Unknown tokens are fine: the result is the same.
    pub async fn close_session(&self, token: &str, actor: &Actor) -> Result<()> {
        let mut tx = self.db.write().await?;
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash(token)).execute(&mut tx).await?;
        audit(&mut tx, self.now(), actor, "session.close", &actor.user_id, serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(())
    }
}
