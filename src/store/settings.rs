//! Operator settings: values the operator sets for the whole service, one row each in
//! `operator_settings`, kept as JSON so a new setting needs no migration. Read inside the
//! transaction that uses them, so every instance sharing the database sees the same value.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Db, Row, SqlError, StoreError, WriteTx, query};

/// The account a newly registered or imported organization starts with.
pub const NEW_ORGANIZATION: &str = "new_organization";

/// The setting `name`, or `None` when the operator never set it. A stored value that does
/// not read as `T` is an error, never the default: the operator chose something else.
pub async fn get<T: DeserializeOwned>(db: &Db, name: &str) -> Result<Option<T>, StoreError> {
    let row = query("SELECT value FROM operator_settings WHERE name = $1").bind(name).fetch_optional(db).await?;
    read(name, row)
}

/// [`get`] inside a write transaction, so the setting is the one the change sees.
pub async fn get_tx<T: DeserializeOwned>(tx: &mut WriteTx, name: &str) -> Result<Option<T>, StoreError> {
    let row = query("SELECT value FROM operator_settings WHERE name = $1").bind(name).fetch_optional(tx).await?;
    read(name, row)
}

fn read<T: DeserializeOwned>(name: &str, row: Option<Row>) -> Result<Option<T>, StoreError> {
    let Some(row) = row else { return Ok(None) };
    let text: String = row.try_get("value")?;
    serde_json::from_str(&text).map(Some).map_err(|e| StoreError::Unreadable(format!("operator setting `{name}`: {e}")))
}

/// Sets `name` to `value`.
pub async fn set<T: Serialize>(tx: &mut WriteTx, name: &str, value: &T, now_ms: i64) -> Result<(), SqlError> {
    let text =
        serde_json::to_string(value).map_err(|e| SqlError::new(format!("cannot write the setting as JSON: {e}")))?;
    query(
        "INSERT INTO operator_settings (name, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(text)
    .bind(now_ms)
    .execute(tx)
    .await?;
    Ok(())
}
