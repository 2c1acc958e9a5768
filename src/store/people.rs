//! The people of an organization, and the one-time links that let a person an admin added
//! choose a password (`welcomes`, each kept as the SHA-256 of its token).

use crate::model::actor::UserRole;

use super::{Db, SqlError, WriteTx, query, token_hash};

/// A user of an organization, as its people list shows them.
#[derive(Clone, Debug)]
pub struct Person {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: UserRole,
    pub created_at: i64,
    /// Has chosen a password (can log in).
    pub active: bool,
}

/// The users of organization `org_id`, admins first, then by email.
pub async fn of_org(db: &Db, org_id: &str) -> Result<Vec<Person>, SqlError> {
    let rows = query(
        "SELECT id, email, name, role, created_at, password_hash IS NOT NULL AS active FROM users \
         WHERE org_id = $1 AND removed_at IS NULL ORDER BY CASE role WHEN 'admin' THEN 0 ELSE 1 END, email",
    )
    .bind(org_id)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            let role: String = r.try_get("role")?;
            Ok(Person {
                id: r.try_get("id")?,
                email: r.try_get("email")?,
                name: r.try_get("name")?,
                role: UserRole::parse(&role).unwrap_or(UserRole::Member),
                created_at: r.try_get("created_at")?,
                active: r.try_get("active")?,
            })
        })
        .collect()
}

/// Stores a welcome link `token` for user `user_id`, open until `expires_at`; the user's
/// earlier links stop working.
pub async fn add_welcome(
    tx: &mut WriteTx,
    token: &str,
    user_id: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), SqlError> {
    query("UPDATE welcomes SET expires_at = $1 WHERE user_id = $2 AND used_at IS NULL AND expires_at > $1")
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    query("INSERT INTO welcomes (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(token_hash(token))
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Stores a link `token` that confirms user `user_id`'s claim of their organization from
/// invitee `invitee_id`, open until `expires_at`. Earlier links stay open: whoever holds the
/// invitation could otherwise keep the person's mailed links from working.
pub async fn add_claim_link(
    tx: &mut WriteTx,
    token: &str,
    user_id: &str,
    invitee_id: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), SqlError> {
    query(
        "INSERT INTO welcomes (token_hash, user_id, created_at, expires_at, claim_invitee) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash(token))
    .bind(user_id)
    .bind(now)
    .bind(expires_at)
    .bind(invitee_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// How many links confirming a claim are open for user `user_id` at `now`.
pub async fn open_claim_links(tx: &mut WriteTx, user_id: &str, now: i64) -> Result<i64, SqlError> {
    let row = query(
        "SELECT COUNT(*) AS n FROM welcomes WHERE user_id = $1 AND claim_invitee IS NOT NULL AND used_at IS NULL \
         AND expires_at > $2",
    )
    .bind(user_id)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    row.try_get("n")
}

/// Removes at `now` the people of organization `org_id` other than `keep` who wait to
/// confirm a claim of it (its first admin confirmed first): their links stop working.
pub async fn drop_claimants(tx: &mut WriteTx, org_id: &str, keep: &str, now: i64) -> Result<(), SqlError> {
    query(
        "UPDATE users SET removed_at = $1 WHERE org_id = $2 AND id <> $3 AND password_hash IS NULL \
         AND removed_at IS NULL AND id IN (SELECT user_id FROM welcomes WHERE claim_invitee IS NOT NULL)",
    )
    .bind(now)
    .bind(org_id)
    .bind(keep)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Who a welcome link is for: the user, their email and organization.
#[derive(Clone, Debug)]
pub struct Welcome {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub org_id: String,
    pub organization: String,
    /// The invitation the link confirms a claim from, for a claim's link.
    pub claim_invitee: Option<String>,
}

/// The person welcome link `token` is for, while it is open at `now` (unused, unexpired,
/// and its user has no password yet).
pub async fn welcome<'e>(ex: impl super::Executor<'e>, token: &str, now: i64) -> Result<Option<Welcome>, SqlError> {
    let row = query(
        "SELECT u.id, u.email, u.name, u.org_id, g.name AS org_name, w.claim_invitee FROM welcomes w \
         JOIN users u ON u.id = w.user_id \
         JOIN organizations g ON g.id = u.org_id \
         WHERE w.token_hash = $1 AND w.used_at IS NULL AND w.expires_at > $2 AND u.password_hash IS NULL \
         AND u.removed_at IS NULL",
    )
    .bind(token_hash(token))
    .bind(now)
    .fetch_optional(ex)
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(Welcome {
        user_id: r.try_get("id")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        org_id: r.try_get("org_id")?,
        organization: r.try_get("org_name")?,
        claim_invitee: r.try_get("claim_invitee")?,
    }))
}

/// Uses welcome link `token`: its user's password hash becomes `password_hash`. `false`
/// when the link is no longer open (used meanwhile).
pub async fn use_welcome(
    tx: &mut WriteTx,
    token: &str,
    user_id: &str,
    password_hash: &str,
    now: i64,
) -> Result<bool, SqlError> {
    let used = query("UPDATE welcomes SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1")
        .bind(now)
        .bind(token_hash(token))
        .execute(&mut *tx)
        .await?;
    if used != 1 {
        return Ok(false);
    }
    let set =
        query("UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash IS NULL AND removed_at IS NULL")
            .bind(password_hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
    Ok(set == 1)
}

/// Renames user `user_id`.
pub async fn rename(tx: &mut WriteTx, user_id: &str, name: &str) -> Result<(), SqlError> {
    query("UPDATE users SET name = $1 WHERE id = $2").bind(name).bind(user_id).execute(&mut *tx).await?;
    Ok(())
}

/// Removes user `user_id` of organization `org_id` at `now`: no password, no session, no
/// open welcome link; the row stays for the audit log. `false` when there is no such user
/// (or they were removed already).
pub async fn remove(tx: &mut WriteTx, org_id: &str, user_id: &str, now: i64) -> Result<bool, SqlError> {
    let n = query(
        "UPDATE users SET removed_at = $1, password_hash = NULL WHERE id = $2 AND org_id = $3 AND removed_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .bind(org_id)
    .execute(&mut *tx)
    .await?;
    if n != 1 {
        return Ok(false);
    }
    query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
    query("UPDATE welcomes SET expires_at = $1 WHERE user_id = $2 AND used_at IS NULL AND expires_at > $1")
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    Ok(true)
}

/// Brings back a removed user of organization `org_id` with `email`, as `name` in `role`
/// and without a password: their ID, or `None` when there is no such removed user.
pub async fn restore(
    tx: &mut WriteTx,
    org_id: &str,
    email: &str,
    name: &str,
    role: UserRole,
) -> Result<Option<String>, SqlError> {
    let row = query(
        "UPDATE users SET removed_at = NULL, name = $1, role = $2 \
         WHERE org_id = $3 AND email = $4 AND removed_at IS NOT NULL RETURNING id",
    )
    .bind(name)
    .bind(role.as_str())
    .bind(org_id)
    .bind(email)
    .fetch_optional(&mut *tx)
    .await?;
    row.map(|r| r.try_get("id")).transpose()
}
