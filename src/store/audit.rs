//! The audit log: one record per accepted change, written in the change's own transaction
//! (a refused call writes nothing), and read back by organization or object.

use crate::model::actor::Actor;

use super::{WriteTx, new_id};

/// Writes one audit record inside `tx`: who (`actor`) did `action` to `object` at `at`, with
/// the details a reader needs.
pub async fn record(
    tx: &mut WriteTx,
    at: i64,
    actor: &Actor,
    action: &str,
    object: &str,
    detail: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (id, at, actor, org_id, source, action, object, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id("aud"))
    .bind(at)
    .bind(actor.user_id.as_str())
    .bind(actor.org_id.as_str())
    .bind(actor.source.as_str())
    .bind(action)
    .bind(object)
    .bind(detail.to_string())
    .execute(&mut *tx)
    .await?;
    Ok(())
}
