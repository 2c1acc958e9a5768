//! PostgreSQL's connections, kept open between uses: a statement outside a transaction takes
//! one for its length, a transaction for its own.
//!
//! sqlx's pool did this, but it sends the server an empty round trip (a `Sync`, its "ping")
//! each time a connection is given back, and by default another each time one is taken: a
//! third of the round trips a channel cost (docs/performance.md, 2026-12-07 session 25).
//! Here a connection is given back as it is, if it is sound:
//! - a statement that was cut off (its future dropped while it ran) or that failed other
//!   than by the server's refusal (an I/O or protocol error) leaves its connection unsound,
//!   and an unsound connection is closed instead of kept;
//! - a transaction dropped open is rolled back at once by a task of its own, which gives the
//!   connection back after (its locks go with the rollback, not with the next use);
//! - a connection idle for [`CHECK_AFTER`] or longer is pinged before it is used again, so
//!   one the server closed meanwhile (a restart, `idle_session_timeout`) is replaced, not
//!   handed to a request;
//! - a connection that breaks (an I/O error, or the server ending its session) takes the
//!   idle ones with it, as the server most likely closed them all, and a transaction whose
//!   `BEGIN` broke on a kept connection begins again on a new one. What a restart can
//!   still cost is the one statement outside a transaction that ran on a connection kept
//!   from before it.

use std::borrow::Cow;
use std::str::FromStr as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::Connection as _;
use sqlx::Executor as _;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgDatabaseError, PgSeverity};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::query::SqlError;

/// How long a connection may stay idle and still be used without a ping first.
const CHECK_AFTER: Duration = Duration::from_secs(30);

/// Connections to one PostgreSQL database, at most a given number at once.
#[derive(Clone)]
pub(in crate::store) struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    options: PgConnectOptions,
    /// The connections given back, the last given back on top.
    idle: Mutex<Vec<(PgConnection, Instant)>>,
    /// One permit a connection in use or being opened.
    permits: Arc<Semaphore>,
    max: u32,
    acquire_timeout: Duration,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let idle = self.shared.idle.lock().map_or(0, |v| v.len());
        write!(f, "Pool {{ max: {}, idle: {idle} }}", self.shared.max)
    }
}

/// A connection taken from the pool, given back when dropped (if sound).
pub(in crate::store) struct Conn {
    raw: Option<PgConnection>,
    /// False from the start of a statement until it ends in a way that leaves the
    /// connection usable.
    sound: bool,
    /// Kept from an earlier use (not opened for this one).
    kept: bool,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
}

impl Pool {
    /// A pool of at most `max` connections to `url`; one is opened now, to check the URL and
    /// the server.
    pub(in crate::store) async fn connect(url: &str, max: u32, acquire_timeout: Duration) -> Result<Pool, SqlError> {
        let options = PgConnectOptions::from_str(url)?;
        let max = max.max(1);
        let shared = Arc::new(Shared {
            options,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(max as usize)),
            max,
            acquire_timeout,
        });
        let pool = Pool { shared };
        drop(pool.take().await?);
        Ok(pool)
    }

    /// A connection: an idle one (the most recently given back), else a new one. Waits for
    /// one to be given back when `max` are in use. All of it (the wait, a ping, opening a
    /// connection) within the acquire timeout: a server gone without closing its sockets
    /// does not hold a request longer.
    pub(in crate::store) async fn take(&self) -> Result<Conn, SqlError> {
        let shared = &self.shared;
        tokio::time::timeout(shared.acquire_timeout, self.take_untimed()).await.map_err(|_| {
            SqlError::new(format!(
                "no PostgreSQL connection could be had within {} s (all {} in use, or the server did not answer)",
                shared.acquire_timeout.as_secs(),
                shared.max
            ))
        })?
    }

    async fn take_untimed(&self) -> Result<Conn, SqlError> {
        let shared = &self.shared;
        let permit = shared
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| SqlError::new("the PostgreSQL connections are closed"))?;
        loop {
            let idle = shared.idle.lock().ok().and_then(|mut v| v.pop());
            let (raw, kept) = match idle {
                Some((mut raw, since)) if since.elapsed() >= CHECK_AFTER => {
                    if raw.ping().await.is_err() {
                        continue; // closed meanwhile: the next one, or a new one
                    }
                    (raw, true)
                }
                Some((raw, _)) => (raw, true),
                None => (PgConnection::connect_with(&shared.options).await?, false),
            };
            return Ok(Conn { raw: Some(raw), sound: true, kept, shared: shared.clone(), _permit: permit });
        }
    }

    /// Starts a transaction on a connection of its own (a new one if `BEGIN` broke on a
    /// kept one: nothing had run on it).
    pub(in crate::store) async fn begin(&self) -> Result<Tx, SqlError> {
        let mut conn = self.take().await?;
        if let Err(e) = conn.simple("BEGIN".into()).await {
            if conn.sound || !conn.kept {
                return Err(e);
            }
            drop(conn);
            conn = self.take().await?;
            conn.simple("BEGIN".into()).await?;
        }
        Ok(Tx { conn: Some(conn) })
    }
}

impl Conn {
    /// The connection, for one statement: it counts as unsound until [`Conn::settle`] says
    /// how the statement ended.
    pub(in crate::store) fn start(&mut self) -> Result<&mut PgConnection, SqlError> {
        self.sound = false;
        self.raw()
    }

    /// How the statement begun by [`Conn::start`] ended.
    pub(in crate::store) fn settle<T>(&mut self, result: &Result<T, sqlx::Error>) {
        self.sound = match result {
            Ok(_) => true,
            Err(e) => sound_after(e),
        };
        if !self.sound
            && matches!(result, Err(sqlx::Error::Io(_) | sqlx::Error::Database(_)))
            && let Ok(mut idle) = self.shared.idle.lock()
        {
            idle.clear();
        }
    }

    /// Runs a statement of the simple protocol (`BEGIN`, `COMMIT`, `ROLLBACK`).
    async fn simple(&mut self, sql: Cow<'static, str>) -> Result<(), SqlError> {
        let raw = self.start()?;
        let result = raw.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql))).await;
        self.settle(&result);
        result.map(drop).map_err(SqlError::from)
    }

    /// The underlying connection, for what runs on a whole connection (the migrations).
    pub(in crate::store) fn raw(&mut self) -> Result<&mut PgConnection, SqlError> {
        self.raw.as_mut().ok_or_else(|| SqlError::new("the connection is closed"))
    }
}

/// Whether a connection is usable after a statement failed with `e`: yes when the server
/// answered and stays (it refused the statement, or its rows could not be read here), no
/// when the exchange broke or the server ends the session (a `FATAL` error such as
/// `pg_terminate_backend`'s or a shutdown's, or a connection error, SQLSTATE class 08).
fn sound_after(e: &sqlx::Error) -> bool {
    use sqlx::Error as E;
    match e {
        E::Database(d) => {
            let fatal = d
                .try_downcast_ref::<PgDatabaseError>()
                .is_some_and(|pg| matches!(pg.severity(), PgSeverity::Fatal | PgSeverity::Panic));
            !fatal && !d.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P"))
        }
        E::RowNotFound
        | E::ColumnNotFound(_)
        | E::ColumnIndexOutOfBounds { .. }
        | E::ColumnDecode { .. }
        | E::Decode(_)
        | E::Encode(_)
        | E::TypeNotFound { .. } => true,
        _ => false,
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(raw) = self.raw.take()
            && self.sound
            && let Ok(mut idle) = self.shared.idle.lock()
        {
            idle.push((raw, Instant::now()));
        }
        // Otherwise the connection is closed here (the server sees the socket close and
        // rolls back whatever was open); the permit goes with `self`.
    }
}

/// A transaction: its connection, `BEGIN` sent.
pub(in crate::store) struct Tx {
    /// `None` once committed or rolled back.
    conn: Option<Conn>,
}

impl Tx {
    /// The transaction's connection (`None` once it ended).
    pub(in crate::store) fn conn(&mut self) -> Option<&mut Conn> {
        self.conn.as_mut()
    }

    pub(in crate::store) async fn commit(self) -> Result<(), SqlError> {
        self.commit_after(None).await
    }

    /// Runs statement `first` (its values in its text) and commits, in one message: one
    /// round trip. If `first` fails, the transaction is not committed, and is rolled back
    /// as one dropped open.
    pub(in crate::store) async fn commit_after(mut self, first: Option<String>) -> Result<(), SqlError> {
        let Some(conn) = self.conn.as_mut() else { return Ok(()) };
        match first {
            None => conn.simple("COMMIT".into()).await?,
            Some(sql) => conn.simple(format!("{sql};\nCOMMIT").into()).await?,
        }
        self.conn = None;
        Ok(())
    }

    pub(in crate::store) async fn rollback(mut self) -> Result<(), SqlError> {
        match self.conn.take() {
            Some(mut conn) => conn.simple("ROLLBACK".into()).await,
            None => Ok(()),
        }
    }
}

impl Drop for Tx {
    /// Dropped open (an error returned early, or its future dropped): rolled back now, so
    /// its row locks do not wait for the connection's next use. Without a runtime the
    /// connection is closed, which the server takes as a rollback.
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else { return };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) if conn.sound => {
                // Unsound until the ROLLBACK is through: a task dropped before it runs (its
                // runtime shutting down) must close the connection, not give it back open.
                conn.sound = false;
                runtime.spawn(async move {
                    if let Err(e) = conn.simple("ROLLBACK".into()).await {
                        tracing::warn!(error = %e, "rolling back a dropped transaction failed; its connection is closed");
                    }
                });
            }
            _ => conn.sound = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sound_after;

    #[test]
    fn a_broken_exchange_is_unsound_a_refusal_is_not() {
        assert!(!sound_after(&sqlx::Error::Io(std::io::Error::other("reset"))));
        assert!(!sound_after(&sqlx::Error::Protocol("unexpected message".into())));
        assert!(sound_after(&sqlx::Error::RowNotFound));
    }
}
