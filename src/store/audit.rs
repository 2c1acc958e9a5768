//! The audit log: one record per accepted change, written in the change's own transaction
//! (a refused call writes nothing), and read back by organization or object.

use crate::model::actor::Actor;

use super::{Db, Dialect, SqlError, WriteTx, dollar_quoted, json_param, json_rows_of, new_id, query};

/// One audit record as read back.
#[derive(Clone, Debug)]
pub struct Entry {
    pub at: i64,
    /// The user who acted (or `system`, `auto-accept:ORG`).
    pub actor: String,
    pub org_id: Option<String>,
    /// Where the request came from: an IP address, `cli`, `worker`.
    pub source: String,
    pub action: String,
    pub object: String,
    /// The details, as JSON text.
    pub detail: String,
}

/// Writes one audit record inside `tx`: who (`actor`) did `action` to `object` at `at`, with
/// the details a reader needs. The record is queued on the transaction and written with the
/// others at its commit, in one statement ([`write_queued`]): a round trip to PostgreSQL
/// each was a tenth of an acceptance's statements. A transaction that does not commit
/// writes none.
pub async fn record(
    tx: &mut WriteTx,
    at: i64,
    actor: &Actor,
    action: &str,
    object: &str,
    detail: serde_json::Value,
) -> Result<(), SqlError> {
    queue(tx, at, actor, action, object, &detail);
    Ok(())
}

fn queue(tx: &mut WriteTx, at: i64, actor: &Actor, action: &str, object: &str, detail: &serde_json::Value) {
    tx.audit.push(Queued {
        id: new_id("aud"),
        at,
        actor: actor.user_id.as_str().to_string(),
        org_id: actor.org_id.as_str().to_string(),
        source: actor.source.as_str().to_string(),
        action: action.to_string(),
        object: object.to_string(),
        detail: detail.to_string(),
    });
}

/// An audit record waiting for its transaction's commit.
#[derive(Debug)]
pub(super) struct Queued {
    id: String,
    at: i64,
    actor: String,
    org_id: String,
    source: String,
    action: String,
    object: String,
    detail: String,
}

/// Writes the records `queued` inside `tx`, in one statement.
pub(super) async fn write_queued(tx: &mut WriteTx, queued: &[Queued]) -> Result<(), SqlError> {
    if queued.is_empty() {
        return Ok(());
    }
    query(insert(tx.dialect(), "$1")).bind(rows(queued)).execute(&mut *tx).await?;
    Ok(())
}

/// PostgreSQL: the statement that writes `queued` with its rows in the text (a
/// dollar-quoted literal), to go to the server in one message with the transaction's
/// `COMMIT`: a round trip each transaction fewer (`pg_pool::Tx::commit_after`). The rows
/// are then in the statement's text, which the server's log shows when the statement fails
/// (`log_min_error_statement`): the audit details are what the audit log shows anyway.
pub(super) fn inline_insert(queued: &[Queued]) -> Option<String> {
    (!queued.is_empty()).then(|| insert(Dialect::Postgres, &dollar_quoted(&rows(queued))))
}

fn insert(dialect: Dialect, source: &str) -> String {
    format!(
        "INSERT INTO audit_log (id, at, actor, org_id, source, action, object, detail) {}",
        json_rows_of(
            dialect,
            source,
            &[
                ("id", "TEXT"),
                ("at", "BIGINT"),
                ("actor", "TEXT"),
                ("org_id", "TEXT"),
                ("source", "TEXT"),
                ("action", "TEXT"),
                ("object", "TEXT"),
                ("detail", "TEXT"),
            ]
        )
    )
}

/// The records as the JSON text [`json_rows_of`] reads.
fn rows(queued: &[Queued]) -> String {
    let rows: Vec<serde_json::Value> = queued
        .iter()
        .map(|q| serde_json::json!([q.id, q.at, q.actor, q.org_id, q.source, q.action, q.object, q.detail]))
        .collect();
    json_param(&rows)
}

/// Audit rows for several objects by one actor, queued as [`record`]'s are (all of a
/// transaction's are written at its commit in one statement).
pub async fn record_many(
    tx: &mut WriteTx,
    at: i64,
    actor: &Actor,
    action: &str,
    rows: &[(String, serde_json::Value)],
) -> Result<(), SqlError> {
    for (object, detail) in rows {
        queue(tx, at, actor, action, object, detail);
    }
    Ok(())
}

/// An audit record from a row of `audit_log` (`SELECT *`).
fn entry_from_row(r: &super::Row) -> Result<Entry, SqlError> {
    Ok(Entry {
        at: r.try_get("at")?,
        actor: r.try_get("actor")?,
        org_id: r.try_get("org_id")?,
        source: r.try_get("source")?,
        action: r.try_get("action")?,
        object: r.try_get("object")?,
        detail: r.try_get("detail")?,
    })
}

/// The audit records, oldest first: those of the organization `org_id` (every
/// organization's when `None`), and only those about `object` when it is given; with
/// `page` (limit, offset), that many after skipping so many.
pub async fn list(
    db: &Db,
    org_id: Option<&str>,
    object: Option<&str>,
    page: Option<(i64, i64)>,
) -> Result<Vec<Entry>, SqlError> {
    let (limit, offset) = page.unwrap_or((i64::MAX, 0));
    let rows = query(
        "SELECT * FROM audit_log WHERE ($1 = 1 OR org_id = $2) AND ($3 = '' OR object = $3) ORDER BY at, id \
         LIMIT $4 OFFSET $5",
    )
    .bind(i64::from(org_id.is_none()))
    .bind(org_id.unwrap_or(""))
    .bind(object.unwrap_or(""))
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await?;
    rows.iter().map(entry_from_row).collect()
}

/// What the audit page asks for: every filter is optional (empty); text filters match
/// anywhere, ignoring case.
#[derive(Clone, Debug, Default)]
pub struct Search<'a> {
    /// Only this organization's records (the operator: `None`, every record).
    pub org_id: Option<&'a str>,
    /// Actions starting with this (`channel.`, `invitation.accept`).
    pub action: &'a str,
    /// Who acted: the user, `auto-accept:ORG`, `worker`, ...
    pub actor: &'a str,
    /// The object's ID, or text in the details.
    pub text: &'a str,
    /// The newest first, `offset` skipped, at most `limit`.
    pub offset: i64,
    pub limit: i64,
}

/// `text` lower-cased for a LIKE pattern, its own `%`, `_` and `\` taken literally.
fn literal(text: &str) -> String {
    let mut out = String::new();
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The audit records `s` asks for, newest first: one page of them.
pub async fn search(db: &Db, s: &Search<'_>) -> Result<Vec<Entry>, SqlError> {
    // Who acted is found by its ID, its email or its organization's name; the text, in the
    // object, the details or the name of the channel the record is about, or names (its
    // orders, invitations and attachments name their channel by ID in the details).
    let rows = query(
        "SELECT a.at, COALESCE(u.email, a.actor) AS actor, a.org_id, a.source, a.action, a.object, a.detail \
         FROM audit_log a LEFT JOIN users u ON u.id = a.actor LEFT JOIN organizations o ON o.id = a.org_id \
         LEFT JOIN channels c ON c.id = a.object \
         WHERE ($1 = 1 OR a.org_id = $2) AND ($3 = '' OR a.action LIKE $4 ESCAPE '\\') \
         AND ($5 = '' OR LOWER(a.actor) LIKE $6 ESCAPE '\\' OR LOWER(u.email) LIKE $6 ESCAPE '\\' \
           OR LOWER(o.name) LIKE $6 ESCAPE '\\') \
         AND ($7 = '' OR LOWER(a.object) LIKE $8 ESCAPE '\\' OR LOWER(a.detail) LIKE $8 ESCAPE '\\' \
           OR LOWER(c.name) LIKE $8 ESCAPE '\\' \
           OR EXISTS (SELECT 1 FROM channels n WHERE LOWER(n.name) LIKE $8 ESCAPE '\\' \
             AND a.detail LIKE '%\"' || n.id || '\"%')) \
         ORDER BY a.at DESC, a.id DESC LIMIT $9 OFFSET $10",
    )
    .bind(i64::from(s.org_id.is_none()))
    .bind(s.org_id.unwrap_or(""))
    .bind(s.action)
    .bind(format!("{}%", literal(s.action)))
    .bind(s.actor)
    .bind(format!("%{}%", literal(s.actor)))
    .bind(s.text)
    .bind(format!("%{}%", literal(s.text)))
    .bind(s.limit)
    .bind(s.offset)
    .fetch_all(db)
    .await?;
    rows.iter().map(entry_from_row).collect()
}

/// Who ended a channel: the last audit record that took channel `channel_id` down (its
/// creator or the operator terminating it, a member's unplugging that left too few, the
/// sweep at its term's end, the meter at an allowance's end), with the acting user's email
/// and organization's name when a person acted.
#[derive(Clone, Debug)]
pub struct Ending {
    pub at: i64,
    /// `channel.terminate`, `channel.take_down`, `channel.term_ended` or `channel.quota_used`.
    pub action: String,
    /// The acting user's email; `None` for the system (sweep, meter).
    pub email: Option<String>,
    pub organization: Option<String>,
}

/// The last record that took channel `channel_id` down, if any ([`Ending`]).
pub async fn ending(db: &Db, channel_id: &str) -> Result<Option<Ending>, SqlError> {
    let row = query(
        "SELECT a.at, a.action, u.email, o.name AS org_name FROM audit_log a \
         LEFT JOIN users u ON u.id = a.actor LEFT JOIN organizations o ON o.id = a.org_id \
         WHERE a.object = $1 AND a.action IN \
           ('channel.terminate', 'channel.take_down', 'channel.term_ended', 'channel.quota_used') \
         ORDER BY a.at DESC, a.id DESC LIMIT 1",
    )
    .bind(channel_id)
    .fetch_optional(db)
    .await?;
    row.map(|r| {
        Ok(Ending {
            at: r.try_get("at")?,
            action: r.try_get("action")?,
            email: r.try_get("email")?,
            organization: r.try_get("org_name")?,
        })
    })
    .transpose()
}
