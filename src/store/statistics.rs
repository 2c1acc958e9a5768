//! The planner's statistics kept up with tables that grow (PostgreSQL).
//!
//! A statement kept prepared on a connection gets, after five runs, a generic plan, which
//! the connection keeps until a table it reads is analyzed. On a young database the first
//! plans are made on near-empty tables, where reading the whole table is the cheapest way
//! to find a few rows by key; autovacuum analyzes a table a minute or more later, and in
//! that minute the tables grow a hundredfold. One benchmark run in four or five kept such
//! plans for the order worker's lookups of channels by ID, and ran at half the rate of the
//! others (docs/performance.md, 2026-12-07 session 26).
//!
//! So the order worker asks, at most once a second, which of the tables have doubled since
//! they were last analyzed, and analyzes those: a kept plan is then at most one doubling
//! old. A table that does not grow is left to autovacuum.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Db, Dialect, StoreError, query_scalar, varying};

/// How often the tables' sizes are looked at.
const EVERY: Duration = Duration::from_secs(1);

/// Tables smaller than this are not analyzed for growth: any plan reads them quickly.
const SMALL: i64 = 250;

/// When this process last looked (milliseconds since the epoch).
#[derive(Debug, Default)]
pub(super) struct Looked(AtomicU64);

impl Db {
    /// Analyzes the tables that have doubled since they were last analyzed, if a second
    /// has passed since this process last looked (PostgreSQL; nothing on SQLite, whose
    /// planner keeps no plans across statements' preparations). Returns the tables analyzed.
    pub async fn keep_statistics(&self) -> Result<Vec<String>, StoreError> {
        if self.dialect != Dialect::Postgres {
            return Ok(Vec::new());
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let last = self.looked.0.load(Ordering::Relaxed);
        let due = now.saturating_sub(last) >= EVERY.as_millis() as u64;
        if !due || self.looked.0.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err() {
            return Ok(Vec::new());
        }
        self.analyze_grown().await
    }

    /// Analyzes, now, the tables of the store's schema that have doubled since they were
    /// last analyzed (never analyzed: since they were empty) and hold at least twice
    /// [`SMALL`] rows.
    pub async fn analyze_grown(&self) -> Result<Vec<String>, StoreError> {
        if self.dialect != Dialect::Postgres {
            return Ok(Vec::new());
        }
        let grown: Option<String> = query_scalar(
            "SELECT string_agg(quote_ident(s.relname), ', ' ORDER BY s.relname) FROM pg_stat_user_tables s \
             JOIN pg_class c ON c.oid = s.relid \
             WHERE s.schemaname = current_schema() AND s.n_live_tup >= 2 * GREATEST(c.reltuples, $1)",
        )
        .bind(SMALL)
        .fetch_one(self)
        .await?;
        let Some(tables) = grown.filter(|t| !t.is_empty()) else { return Ok(Vec::new()) };
        tracing::debug!(tables = %tables, "analyzing tables that doubled");
        varying(format!("ANALYZE {tables}")).execute(self).await?;
        Ok(tables.split(", ").map(str::to_string).collect())
    }
}
