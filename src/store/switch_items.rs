//! The dry-run switches' items: what each switch driven by the dry-run driver holds, one
//! row per (switch, item), the item as its JSON text (the service says how an item is
//! written). Read and written by the order worker under the switches' row locks
//! (`topology::lock_switches`); read by the operator's views through `topology.rs`.

use super::{Dialect, MAX_PARAMS, StoreError, WriteTx, json_param, list_param, placeholders, query, varying};

/// Every item of each of `switches`, as (switch, item) pairs.
pub async fn of_switches(tx: &mut WriteTx, switches: &[&str]) -> Result<Vec<(String, String)>, StoreError> {
    let mut out = Vec::new();
    for chunk in switches.chunks(MAX_PARAMS) {
        let sql = format!("SELECT switch, item FROM switch_items WHERE switch IN ({})", placeholders(1, chunk.len()));
        let mut q = varying(sql);
        for sw in chunk {
            q = q.bind(*sw);
        }
        for r in q.fetch_all(&mut *tx).await? {
            out.push((r.try_get("switch")?, r.try_get("item")?));
        }
    }
    Ok(out)
}

/// The PCP filters `switch` holds, as their texts (`"type":"pcp"` in the stored JSON).
pub async fn pcp_filters(tx: &mut WriteTx, switch: &str) -> Result<Vec<String>, StoreError> {
    let rows = query("SELECT item FROM switch_items WHERE switch = $1 AND item LIKE $2")
        .bind(switch)
        .bind(r#"%"type":"pcp"%"#)
        .fetch_all(&mut *tx)
        .await?;
    Ok(rows.iter().map(|r| r.try_get("item")).collect::<Result<_, _>>()?)
}

/// Which of the (switch, item) `pairs` are stored: exactly those pairs, one primary-key
/// seek each. On PostgreSQL the pairs go as two arrays, each pair looked up by a `LATERAL`
/// subquery with `LIMIT 1`, which the planner cannot turn into a join: a plain join of the
/// arrays to the table (and before it a row-value `IN (VALUES ...)` list) was hashed
/// against a scan of the whole table whenever the table's statistics were older than its
/// growth, as they are for the first minutes of a busy database, and that scan's cost grew
/// with every item ever stored (6.3 ms and 939 buffers a call at 3,000 channels, a third of
/// the server's statement time; docs/performance.md, 2026-12-07 session 25).
pub async fn held(
    tx: &mut WriteTx,
    dialect: Dialect,
    pairs: &[(&String, &String)],
) -> Result<Vec<(String, String)>, StoreError> {
    let mut out = Vec::new();
    for chunk in pairs.chunks(500) {
        let rows = match dialect {
            Dialect::Postgres => {
                let switches: Vec<&str> = chunk.iter().map(|p| p.0.as_str()).collect();
                let items: Vec<&str> = chunk.iter().map(|p| p.1.as_str()).collect();
                query(
                    "SELECT p.switch, p.item FROM unnest(CAST($1 AS TEXT[]), CAST($2 AS TEXT[])) AS p(switch, item) \
                     CROSS JOIN LATERAL \
                     (SELECT 1 FROM switch_items s WHERE s.switch = p.switch AND s.item = p.item LIMIT 1) AS h",
                )
                .bind(list_param(dialect, &switches))
                .bind(list_param(dialect, &items))
                .fetch_all(&mut *tx)
                .await?
            }
            Dialect::Sqlite => {
                let values: Vec<String> =
                    (0..chunk.len()).map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2)).collect();
                let sql = format!(
                    "SELECT switch, item FROM switch_items WHERE (switch, item) IN (VALUES {})",
                    values.join(", ")
                );
                let mut q = varying(sql);
                for (sw, item) in chunk {
                    q = q.bind(sw.as_str()).bind(item.as_str());
                }
                q.fetch_all(&mut *tx).await?
            }
        };
        for r in rows {
            out.push((r.try_get("switch")?, r.try_get("item")?));
        }
    }
    Ok(out)
}

/// Removes the (switch, item) pairs `gone` and stores the pairs `added`, in one DELETE and
/// one INSERT for every switch (per chunk), not two statements per switch.
pub async fn write(
    tx: &mut WriteTx,
    dialect: Dialect,
    gone: &[(String, String)],
    added: &[(String, String)],
) -> Result<(), StoreError> {
    // Each list goes as one JSON parameter of a statement that never changes: compiled
    // once, where a statement with a placeholder per row was compiled for every batch.
    let rows = match dialect {
        Dialect::Sqlite => "SELECT value->>0, value->>1 FROM json_each($1)",
        Dialect::Postgres => "SELECT x->>0, x->>1 FROM json_array_elements($1::json) AS x",
    };
    match dialect {
        Dialect::Sqlite if !gone.is_empty() => {
            let sql = format!("DELETE FROM switch_items WHERE (switch, item) IN ({rows})");
            query(sql).bind(json_param(&gone)).execute(&mut *tx).await?;
        }
        // PostgreSQL plans a join with a JSON function as a scan of the whole table: one
        // index lookup per pair instead.
        _ => {
            for chunk in gone.chunks(400) {
                let terms: Vec<String> =
                    (0..chunk.len()).map(|i| format!("(switch = ${} AND item = ${})", 2 * i + 1, 2 * i + 2)).collect();
                let mut q = varying(format!("DELETE FROM switch_items WHERE {}", terms.join(" OR ")));
                for (sw, item) in chunk {
                    q = q.bind(sw.as_str()).bind(item.as_str());
                }
                q.execute(&mut *tx).await?;
            }
        }
    }
    if !added.is_empty() {
        let sql = format!("INSERT INTO switch_items (switch, item) {rows}");
        query(sql).bind(json_param(&added)).execute(&mut *tx).await?;
    }
    Ok(())
}
