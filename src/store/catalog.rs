//! The catalogue: service definitions (versioned by name) and their usage models, as the
//! operator sets them up and every order reads them; and, for the sweep, the channels whose
//! members' usage terms ended or whose time windows concern them.

use crate::orchestrator::policy::{Definition, PriceType, Quota, UsageModel};

use super::organizations::{kinds_text, parse_kinds};
use super::{Db, Executor, Row, SqlError, StoreError, WriteTx, new_id, query, split_list, to_i64, to_u64};

/// A usage model with its ID and the definition it belongs to.
#[derive(Clone, Debug)]
pub struct Model {
    pub id: String,
    pub definition_id: String,
    pub model: UsageModel,
}

/// A new version of a definition (the first when the name is new).
#[derive(Clone, Debug)]
pub struct NewDefinition<'a> {
    pub name: &'a str,
    pub definition: &'a Definition,
    /// Relationships to other definitions, as JSON.
    pub relations: String,
}

/// Stores the next version of definition `new.name`; its ID and version.
pub async fn insert_definition(
    tx: &mut WriteTx,
    new: &NewDefinition<'_>,
    now: i64,
) -> Result<(String, i64), StoreError> {
    let version: i64 = query("SELECT COALESCE(MAX(version), 0) AS v FROM service_definitions WHERE name = $1")
        .bind(new.name)
        .fetch_one(&mut *tx)
        .await?
        .try_get("v")?;
    let version = version + 1;
    let id = new_id("def");
    let d = new.definition;
    query(
        "INSERT INTO service_definitions (id, name, version, kinds, min_bandwidth_mbps, max_bandwidth_mbps, classes, \
         drivers, relations, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(id.as_str())
    .bind(new.name)
    .bind(version)
    .bind(kinds_text(&d.kinds))
    .bind(to_i64(d.min_bandwidth_mbps))
    .bind(to_i64(d.max_bandwidth_mbps))
    .bind(d.classes.join(","))
    .bind(d.drivers.join(","))
    .bind(new.relations.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok((id, version))
}

/// Definition `id`.
pub async fn definition(tx: &mut WriteTx, id: &str) -> Result<Definition, StoreError> {
    if let Some(d) = tx.caches.catalog.lock().ok().and_then(|c| c.definitions.get(id).cloned()) {
        return Ok(d);
    }
    let r = query("SELECT * FROM service_definitions WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("service definition `{id}`")))?;
    let d = definition_from_row(&r)?;
    if let Ok(mut c) = tx.caches.catalog.lock() {
        c.definitions.insert(id.to_string(), d.clone());
    }
    Ok(d)
}

/// Every definition version with its ID, by name and version: the catalogue.
pub async fn definitions(db: &Db) -> Result<Vec<(String, Definition)>, StoreError> {
    let rows = query("SELECT * FROM service_definitions ORDER BY name, version").fetch_all(db).await?;
    Ok(rows.iter().map(|r| Ok((r.try_get("id")?, definition_from_row(r)?))).collect::<Result<_, SqlError>>()?)
}

/// Adds usage model `model` to definition `definition_id`; its ID. Not found when there is
/// no such definition.
pub async fn insert_usage_model(
    tx: &mut WriteTx,
    definition_id: &str,
    name: &str,
    model: &UsageModel,
    now: i64,
) -> Result<String, StoreError> {
    let exists =
        query("SELECT id FROM service_definitions WHERE id = $1").bind(definition_id).fetch_optional(&mut *tx).await?;
    if exists.is_none() {
        return Err(StoreError::NotFound(format!("service definition `{definition_id}`")));
    }
    let id = new_id("um");
    query(
        "INSERT INTO usage_models (id, definition_id, name, price_type, price_cents, max_bandwidth_mbps, max_endpoints, \
         window_start_min, window_end_min, term_end, max_mb, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(id.as_str())
    .bind(definition_id)
    .bind(name)
    .bind(model.price_type.map_or("free", PriceType::as_str))
    .bind(model.price_cents)
    .bind(model.max_bandwidth_mbps.map(to_i64))
    .bind(model.max_endpoints.map(to_i64))
    .bind(model.window.map(|w| i64::from(w.0)))
    .bind(model.window.map(|w| i64::from(w.1)))
    .bind(model.term_end_ms)
    .bind(model.max_gb.map(|q| to_i64(q.megabytes)))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(id)
}

/// Usage model `id` and the definition it belongs to.
pub async fn usage_model(tx: &mut WriteTx, id: &str) -> Result<(String, UsageModel), StoreError> {
    if let Some(m) = tx.caches.catalog.lock().ok().and_then(|c| c.models.get(id).cloned()) {
        return Ok(m);
    }
    let r = query("SELECT * FROM usage_models WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("usage model `{id}`")))?;
    let m = (r.try_get("definition_id")?, usage_model_from_row(&r)?);
    if let Ok(mut c) = tx.caches.catalog.lock() {
        c.models.insert(id.to_string(), m.clone());
    }
    Ok(m)
}

/// The usage models of definition `definition_id`, in catalogue order, with their IDs.
pub async fn models_of_definition<'e>(
    ex: impl Executor<'e>,
    definition_id: &str,
) -> Result<Vec<(String, UsageModel)>, StoreError> {
    let rows = query("SELECT * FROM usage_models WHERE definition_id = $1 ORDER BY created_at, id")
        .bind(definition_id)
        .fetch_all(ex)
        .await?;
    Ok(rows.iter().map(|r| Ok((r.try_get("id")?, usage_model_from_row(r)?))).collect::<Result<_, SqlError>>()?)
}

/// Every usage model of every definition, in catalogue order.
pub async fn usage_models(db: &Db) -> Result<Vec<Model>, StoreError> {
    let rows = query("SELECT * FROM usage_models ORDER BY created_at, id").fetch_all(db).await?;
    let models = rows
        .iter()
        .map(|r| {
            Ok(Model {
                id: r.try_get("id")?,
                definition_id: r.try_get("definition_id")?,
                model: usage_model_from_row(r)?,
            })
        })
        .collect::<Result<_, SqlError>>()?;
    Ok(models)
}

/// A `service_definitions` row as the definition it holds.
fn definition_from_row(r: &Row) -> Result<Definition, SqlError> {
    Ok(Definition {
        name: r.try_get("name")?,
        version: u32::try_from(r.try_get::<i64>("version")?).unwrap_or(0),
        kinds: parse_kinds(&r.try_get::<String>("kinds")?),
        min_bandwidth_mbps: to_u64(r.try_get("min_bandwidth_mbps")?),
        max_bandwidth_mbps: to_u64(r.try_get("max_bandwidth_mbps")?),
        classes: split_list(&r.try_get::<String>("classes")?),
        drivers: split_list(&r.try_get::<String>("drivers")?),
    })
}

/// A `usage_models` row as the model it holds.
pub fn usage_model_from_row(r: &Row) -> Result<UsageModel, SqlError> {
    let price: String = r.try_get("price_type")?;
    let window = match (r.try_get::<Option<i64>>("window_start_min")?, r.try_get::<Option<i64>>("window_end_min")?) {
        (Some(a), Some(b)) => Some((u32::try_from(a).unwrap_or(0), u32::try_from(b).unwrap_or(0))),
        _ => None,
    };
    Ok(UsageModel {
        name: r.try_get("name")?,
        price_type: PriceType::parse(&price),
        price_cents: r.try_get("price_cents")?,
        max_bandwidth_mbps: r.try_get::<Option<i64>>("max_bandwidth_mbps")?.map(to_u64),
        max_endpoints: r.try_get::<Option<i64>>("max_endpoints")?.map(to_u64),
        window,
        term_end_ms: r.try_get("term_end")?,
        max_gb: r.try_get::<Option<i64>>("max_mb")?.map(|mb| Quota { megabytes: to_u64(mb) }),
    })
}

// ---- the sweep: usage models' terms and time windows as they concern channels ----

/// The channels on the switches (or on their way, or paused) with a live member whose
/// usage model's term ended by `now`.
pub async fn term_ended(tx: &mut WriteTx, now: i64) -> Result<Vec<String>, StoreError> {
    let rows = query(
        "SELECT DISTINCT c.id FROM channels c JOIN attachments a ON a.channel_id = c.id AND a.state = 'attached' \
         JOIN usage_models u ON u.id = a.usage_model_id \
         WHERE c.state IN ('provisioning', 'active', 'modifying', 'paused') AND u.term_end IS NOT NULL AND u.term_end <= $1",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.iter().map(|r| r.try_get("id")).collect::<Result<_, SqlError>>()?)
}

/// A channel a time window may concern, with one live member's usage model window.
#[derive(Clone, Debug)]
pub struct WindowRow {
    pub channel_id: String,
    pub state: String,
    /// The usage model's name, when the member has a window.
    pub usage_model: Option<String>,
    /// Minutes of the day.
    pub window_start_min: Option<i64>,
    pub window_end_min: Option<i64>,
}

/// Every paused channel, and every active one with a member whose usage model has a time
/// window: a row per such member (one with no window for a paused channel without any),
/// by channel.
pub async fn windows(tx: &mut WriteTx) -> Result<Vec<WindowRow>, StoreError> {
    let rows = query(
        "SELECT c.id, c.state, u.name, u.window_start_min, u.window_end_min FROM channels c \
         LEFT JOIN attachments a ON a.channel_id = c.id AND a.state = 'attached' \
         LEFT JOIN usage_models u ON u.id = a.usage_model_id AND u.window_start_min IS NOT NULL \
         WHERE c.state = 'paused' OR (c.state = 'active' AND u.window_start_min IS NOT NULL) \
         ORDER BY c.id",
    )
    .fetch_all(&mut *tx)
    .await?;
    let out = rows
        .iter()
        .map(|r| {
            Ok(WindowRow {
                channel_id: r.try_get("id")?,
                state: r.try_get("state")?,
                usage_model: r.try_get("name")?,
                window_start_min: r.try_get("window_start_min")?,
                window_end_min: r.try_get("window_end_min")?,
            })
        })
        .collect::<Result<_, SqlError>>()?;
    Ok(out)
}
