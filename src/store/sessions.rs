//! Login sessions: each kept as the SHA-256 of its token (the token itself is never
//! stored), with its CSRF token, where it was opened and when it expires.

use crate::model::actor::{Actor, UserRole};

use super::{Db, SqlError, WriteTx, query, token_hash};

/// An open session as a request finds it: who holds it, its CSRF token and the holder's
/// organization name.
#[derive(Clone, Debug)]
pub struct Found {
    pub actor: Actor,
    pub csrf: String,
    pub organization: String,
    pub expires_at: i64,
}

/// Stores a new session for `actor` (its `source` says where it was opened), and forgets
/// every session that expired before `now`, so the table holds only the people logged in.
pub async fn open(
    tx: &mut WriteTx,
    token: &str,
    csrf: &str,
    actor: &Actor,
    now: i64,
    expires_at: i64,
) -> Result<(), SqlError> {
    query("DELETE FROM sessions WHERE expires_at < $1").bind(now).execute(&mut *tx).await?;
    query(
        "INSERT INTO sessions (token_hash, user_id, csrf, source, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token_hash(token))
    .bind(actor.user_id.as_str())
    .bind(csrf)
    .bind(actor.source.as_str())
    .bind(now)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The session `token` if it is open at `now`, with the actor acting from `source`. One
/// statement: it runs for every request.
pub async fn find(db: &Db, token: &str, now: i64, source: &str) -> Result<Option<Found>, SqlError> {
    let row = query(concat!(
        "SELECT u.id, u.email, u.org_id, u.role, s.csrf, s.expires_at, g.name AS org_name FROM sessions s \
         JOIN users u ON u.id = s.user_id JOIN organizations g ON g.id = u.org_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND ",
        can_log_in!("u.")
    ))
    .bind(token_hash(token))
    .bind(now)
    .fetch_optional(db)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let role: String = row.try_get("role")?;
    let actor = Actor {
        user_id: row.try_get("id")?,
        email: row.try_get("email")?,
        org_id: row.try_get("org_id")?,
        role: UserRole::parse(&role).unwrap_or(UserRole::Member),
        source: source.to_string(),
    };
    Ok(Some(Found {
        actor,
        csrf: row.try_get("csrf")?,
        organization: row.try_get("org_name")?,
        expires_at: row.try_get("expires_at")?,
    }))
}

/// Ends the session `token`; an unknown one is already ended.
pub async fn close(tx: &mut WriteTx, token: &str) -> Result<(), SqlError> {
    query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash(token)).execute(&mut *tx).await?;
    Ok(())
}
