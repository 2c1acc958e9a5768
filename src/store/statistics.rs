//! The planner's statistics kept up with tables that grow (PostgreSQL).
//!
//! A statement kept prepared on a connection gets, after five runs, a generic plan, which
//! the connection keeps until a table it reads is analyzed. On a young database the first
//! plans are made on near-empty tables, where reading the whole table is the cheapest way
//! to find a few rows by key; autovacuum analyzes a table a minute or more later, and in
//! that minute the tables grow a hundredfold. One benchmark run in four to eight kept such
//! plans for the order worker's lookups of channels by ID, and ran at half the rate of the
//! others or worse (docs/performance.md, 2026-12-07 session 26).
//!
//! So the order worker asks, at most once a second, which of the tables have doubled since
//! they were last analyzed, and analyzes those: a kept plan is then at most one doubling
//! old. A table that does not grow is left to autovacuum.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{Db, Dialect, StoreError, query, varying};

/// How often the tables' sizes are looked at.
const EVERY: Duration = Duration::from_secs(1);

/// How long to wait before looking again after a look failed.
const AFTER_FAILURE: Duration = Duration::from_secs(60);

/// A table is analyzed for its growth once it holds at least twice this many rows: any
/// plan reads a smaller one quickly.
const SMALL: i64 = 250;

/// When this database's tables were last looked at, or may next be: milliseconds since
/// [`start`].
#[derive(Debug, Default)]
pub(super) struct Looked(AtomicU64);

impl Looked {
    /// Whether a look may start at `now`: for the first caller a second or more after the
    /// last look began (or a minute after a failed one), and then for no other caller
    /// until a second later. Callers at the same moment race for one exchange.
    fn take(&self, now: u64) -> bool {
        let next = self.0.load(Ordering::Relaxed);
        now >= next
            && self
                .0
                .compare_exchange(next, now + EVERY.as_millis() as u64, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// A look that began at `now` failed: the next waits a minute.
    fn back_off(&self, now: u64) {
        self.0.store(now + AFTER_FAILURE.as_millis() as u64, Ordering::Relaxed);
    }
}

/// A moment before any look, on the monotonic clock (a step of the wall clock neither
/// stops the looks nor hurries them).
fn start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

impl Db {
    /// Analyzes the tables that have doubled since they were last analyzed, if a second
    /// has passed since this database's tables were last looked at (PostgreSQL; nothing
    /// on SQLite, which keeps no plans across the preparation of statements). Of several
    /// callers at once, one looks. A look that failed is tried again a minute later.
    /// Returns the tables analyzed.
    pub async fn keep_statistics(&self) -> Result<Vec<String>, StoreError> {
        let now = start().elapsed().as_millis() as u64;
        if !self.looked.take(now) {
            return Ok(Vec::new());
        }
        let analyzed = self.analyze_grown().await;
        if analyzed.is_err() {
            self.looked.back_off(now);
        }
        analyzed
    }

    /// Analyzes, now, the tables of the store's schema that this database role may analyze
    /// (it owns them) and that have doubled since they were last analyzed (never
    /// analyzed: since they were empty) to at least twice [`SMALL`] rows. A table another
    /// session is vacuuming or analyzing is left for the next look, so autovacuum's work
    /// is not cancelled. Returns the tables it analyzed or left for that reason.
    pub async fn analyze_grown(&self) -> Result<Vec<String>, StoreError> {
        if self.dialect != Dialect::Postgres {
            return Ok(Vec::new());
        }
        let rows = query(
            "SELECT format('%I.%I', s.schemaname, s.relname) AS qualified, s.relname AS name \
             FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
             WHERE s.schemaname = current_schema() AND pg_has_role(c.relowner, 'USAGE') \
             AND s.n_live_tup >= 2 * GREATEST(c.reltuples, $1) ORDER BY s.relname",
        )
        .bind(SMALL)
        .fetch_all(self)
        .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut qualified = Vec::with_capacity(rows.len());
        let mut names = Vec::with_capacity(rows.len());
        for r in &rows {
            qualified.push(r.try_get::<String>("qualified")?);
            names.push(r.try_get::<String>("name")?);
        }
        tracing::debug!(tables = ?names, "analyzing tables that doubled");
        // A table skipped for its lock is a WARNING the server sends; it is not one here.
        let mut tx = self.write().await?;
        query("SET LOCAL client_min_messages = error").execute(&mut tx).await?;
        varying(format!("ANALYZE (SKIP_LOCKED) {}", qualified.join(", "))).execute(&mut tx).await?;
        tx.commit().await?;
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::Looked;

    #[test]
    fn one_look_a_second_and_a_minute_after_a_failure() {
        let looked = Looked::default();
        assert!(looked.take(0));
        assert!(!looked.take(0), "a second caller at the same moment waits");
        assert!(!looked.take(999));
        assert!(looked.take(1000));
        assert!(!looked.take(1500));
        looked.back_off(1500);
        assert!(!looked.take(2600), "a failed look is not tried again a second later");
        assert!(!looked.take(61_499));
        assert!(looked.take(61_500));
    }

    #[test]
    fn of_threads_asking_at_once_one_looks() {
        let looked = Looked::default();
        let looks = std::thread::scope(|s| {
            let asks: Vec<_> = (0..8).map(|_| s.spawn(|| looked.take(5000))).collect();
            asks.into_iter().map(|a| a.join()).filter(|a| matches!(a, Ok(true))).count()
        });
        assert_eq!(looks, 1);
    }
}
