//! The database: SQLite (embedded, the default) or PostgreSQL (`DATABASE_URL=postgres://...`,
//! shared by several instances), the migrations, write and read transactions, the store's
//! own queries (`query.rs`), and the repositories (one module per aggregate) that hold
//! every SQL statement and speak domain values. SQLite's own machinery is in `sqlite/`,
//! PostgreSQL's side of the queries in `postgres.rs`.
//!
//! Every query is written once, in SQL both databases accept (`$1` placeholders, BIGINT,
//! TEXT, partial unique indexes, `RETURNING`). The two places where they differ sit behind
//! [`Dialect`]: how a write transaction starts, and how rows are locked.

/// SQL that holds for a user who can log in: one who has a password and was not removed
/// (`$u` is the users table's alias with its dot, or ""). Every question of who can log in
/// asks it, so that the rule is written once.
macro_rules! can_log_in {
    ($u:literal) => {
        concat!($u, "password_hash IS NOT NULL AND ", $u, "removed_at IS NULL")
    };
}

/// SQL that holds for an organization (of alias `$g`) nobody can log in for: one the
/// operator imported whose first admin is still to come.
macro_rules! nobody_logs_in_for {
    ($g:literal) => {
        concat!("NOT EXISTS (SELECT 1 FROM users u WHERE u.org_id = ", $g, ".id AND ", can_log_in!("u."), ")")
    };
}

pub mod allocations;
pub mod audit;
pub(crate) mod cache;
pub mod catalog;
pub mod channel_list;
pub mod channels;
pub mod charges;
pub mod dry_switches;
pub mod meter;
pub mod offers;
pub mod orders;
pub mod organizations;
pub mod people;
mod pg_pool;
pub mod policy;
mod postgres;
mod query;
pub mod sessions;
pub mod settings;
mod sqlite;
mod statistics;
pub mod switch_items;
pub mod topology;

pub use query::{
    Cell, ColumnIndex, Decode, Encode, Executor, Query, Row, Scalar, SqlError, Target, Type, Typed, Value, Violation,
    query, query_scalar, varying,
};

use sqlite::{native, writer};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use query::On;
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Executor as _};

/// The migrations in `migrations/`, compiled in. They run through sqlx's own pool of the
/// database (its `_sqlx_migrations` table records which ran), before the store opens its
/// connections.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Which database the store talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }
}

/// A database failure, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL `{0}` is not supported: use sqlite://PATH or postgres://USER:PASSWORD@HOST/DB")]
    Url(String),
    #[error("cannot open the database at {url}: {source}")]
    Connect { url: String, source: SqlError },
    #[error("cannot migrate the database: {0}")]
    Migrate(SqlError),
    #[error("database error: {0}")]
    Sql(#[from] SqlError),
    /// Its reason is in its message and not its `source`, so a chain of errors printed
    /// whole (`{:#}`) says it once.
    #[error("cannot create data directory {path}: {reason}")]
    DataDir { path: String, reason: std::io::Error },
    /// What was looked for and is not there (`"organization `x`"`).
    #[error("{0} not found")]
    NotFound(String),
    /// A row that must be unique exists already; says which and what to do.
    #[error("{0}")]
    Conflict(String),
    /// Another transaction (of this instance or another) got there first: a VLAN taken, a
    /// state changed meanwhile. Trying again sees what it did.
    #[error("{0}")]
    Raced(String),
    /// A stored value this version cannot read (written by hand, or by a newer version).
    #[error("cannot read the stored {0}")]
    Unreadable(String),
}

/// An open, migrated database.
#[derive(Clone, Debug)]
pub struct Db {
    pub dialect: Dialect,
    engine: Engine,
    /// The process's copies of rows only it writes (SQLite) and of the catalogue (see
    /// `cache.rs`).
    caches: Arc<cache::Caches>,
    /// When the tables' growth was last looked at (`statistics.rs`).
    looked: Arc<statistics::Looked>,
}

#[derive(Clone, Debug)]
enum Engine {
    /// Reads take a connection for a statement, transactions for their length
    /// (`pg_pool.rs`).
    Postgres(pg_pool::Pool),
    Sqlite {
        /// Where write transactions run, SQLite having one writer at a time: this process's
        /// writers queue for one connection, in order, instead of spinning in SQLite's busy
        /// handler (which collapses throughput), and share transactions (group commit, see
        /// `writer.rs`).
        writer: Arc<writer::Writer>,
        /// Where reads run, beside the writer (WAL).
        readers: Arc<Readers>,
    },
}

/// A write transaction (and, on SQLite, this process's turn to write). `&mut tx` is an
/// executor.
pub struct WriteTx {
    inner: Inner,
    caches: Arc<cache::Caches>,
    /// What this transaction changed of the rows the copies hold (see `cache.rs`).
    pending: Vec<cache::Pending>,
    /// Its audit records, written at its commit ([`audit::record`]).
    audit: Vec<audit::Queued>,
}

enum Inner {
    Postgres(pg_pool::Tx),
    Sqlite(writer::Member),
}

impl WriteTx {
    /// Commits; on SQLite, returns once the shared transaction holding this one committed.
    pub async fn commit(mut self) -> Result<(), SqlError> {
        let queued = std::mem::take(&mut self.audit);
        // PostgreSQL: the audit records go with the COMMIT, one round trip for both.
        let first = match self.inner {
            Inner::Postgres(_) => audit::inline_insert(&queued),
            Inner::Sqlite(_) => {
                audit::write_queued(&mut self, &queued).await?;
                None
            }
        };
        self.caches.take_in(self.pending);
        match self.inner {
            Inner::Postgres(tx) => tx.commit_after(first).await,
            Inner::Sqlite(m) => m.commit().await,
        }
    }

    pub async fn rollback(self) -> Result<(), SqlError> {
        match self.inner {
            Inner::Postgres(tx) => Ok(tx.rollback().await?),
            Inner::Sqlite(m) => m.rollback().await,
        }
    }

    /// Which database this transaction runs on.
    pub fn dialect(&self) -> Dialect {
        match self.inner {
            Inner::Postgres(_) => Dialect::Postgres,
            Inner::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// What lets this process keep a copy of rows that only it writes (SQLite): the stamp
    /// stays the same while every change to the database since it was taken came through
    /// this process's writer and was kept. A copy made under one stamp is good while the
    /// stamp is unchanged, if the process updates it with its own writes (right before
    /// their commit: a failed commit changes the stamp). `None` on PostgreSQL, where other
    /// instances write at any time.
    pub async fn stamp(&mut self) -> Result<Option<Stamp>, SqlError> {
        match &mut self.inner {
            Inner::Postgres(_) => Ok(None),
            Inner::Sqlite(m) => m.stamp().await.map(|(version, aborts)| Some(Stamp { version, aborts })),
        }
    }
}

impl std::fmt::Debug for WriteTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.inner {
            Inner::Postgres(_) => "WriteTx(postgres)",
            Inner::Sqlite(_) => "WriteTx(sqlite)",
        })
    }
}

/// Reads: `query.fetch_all(&db)`. On PostgreSQL a connection of the pool; on SQLite the
/// statement runs right here on an idle reader (WAL readers run beside the writer), which
/// goes back to the idle ones when it is done.
impl<'e> Executor<'e> for &'e Db {
    fn target(self) -> Target<'e> {
        Target(match &self.engine {
            Engine::Postgres(pool) => On::Pool(pool),
            Engine::Sqlite { readers, .. } => On::Readers(readers),
        })
    }
}

impl query::sealed::Sealed for &Db {}

/// A write transaction is where its statements run: `query.execute(&mut *tx)`. On
/// PostgreSQL that is the transaction's connection; on SQLite the statement runs right here
/// on the process's writer connection (`native.rs`).
impl<'e> Executor<'e> for &'e mut WriteTx {
    fn target(self) -> Target<'e> {
        Target(match &mut self.inner {
            Inner::Postgres(tx) => tx.conn().map_or(On::Closed, On::Connection),
            Inner::Sqlite(m) => On::Native(m.conn_mut()),
        })
    }
}

impl query::sealed::Sealed for &mut WriteTx {}

/// A read transaction's statements run on its connection.
impl<'e, 'a: 'e> Executor<'e> for &'e mut ReadTx<'a> {
    fn target(self) -> Target<'e> {
        Target(match &mut self.inner {
            ReadInner::Postgres(Some(tx)) => tx.conn().map_or(On::Closed, On::Connection),
            ReadInner::Sqlite(_, Some(conn)) => On::Native(conn),
            ReadInner::Postgres(None) | ReadInner::Sqlite(_, None) => On::Closed,
        })
    }
}

impl query::sealed::Sealed for &mut ReadTx<'_> {}

/// SQLite's readers: idle ones are kept for the next read, and one more is opened when
/// every one is busy (a read holds one while its statement runs, a read transaction until
/// it ends).
pub(in crate::store) struct Readers {
    file: PathBuf,
    idle: std::sync::Mutex<Vec<native::Native>>,
}

/// Idle readers kept open.
const IDLE_READERS: usize = 16;

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readers").finish_non_exhaustive()
    }
}

impl Readers {
    fn take(&self) -> Result<native::Native, SqlError> {
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        match idle {
            Some(conn) => Ok(conn),
            None => native::Native::open(&self.file),
        }
    }

    /// Runs `f` on an idle reader (or a new one), which is then kept for the next read.
    pub(in crate::store) fn with<T>(&self, f: impl FnOnce(&mut native::Native) -> T) -> Result<T, SqlError> {
        let mut conn = self.take()?;
        let out = f(&mut conn);
        self.give(conn);
        Ok(out)
    }

    fn give(&self, conn: native::Native) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE_READERS
        {
            idle.push(conn);
        }
    }
}

/// A read transaction: several reads that see one state of the database.
pub struct ReadTx<'a> {
    inner: ReadInner<'a>,
}

enum ReadInner<'a> {
    Postgres(Option<pg_pool::Tx>),
    /// The reader, inside `BEGIN` (taken back on commit or drop).
    Sqlite(&'a Readers, Option<native::Native>),
}

impl std::fmt::Debug for ReadTx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReadTx")
    }
}

impl ReadTx<'_> {
    /// Ends the transaction (it wrote nothing; this only lets the snapshot go).
    pub async fn commit(mut self) -> Result<(), SqlError> {
        match &mut self.inner {
            ReadInner::Postgres(tx) => match tx.take() {
                Some(tx) => Ok(tx.commit().await?),
                None => Ok(()),
            },
            ReadInner::Sqlite(readers, conn) => match conn.take() {
                Some(c) => {
                    let r = c.batch("COMMIT");
                    if r.is_ok() {
                        readers.give(c);
                    }
                    r
                }
                None => Ok(()),
            },
        }
    }
}

impl Drop for ReadTx<'_> {
    fn drop(&mut self) {
        if let ReadInner::Sqlite(readers, conn) = &mut self.inner
            && let Some(c) = conn.take()
            && c.batch("ROLLBACK").is_ok()
        {
            readers.give(c);
        }
    }
}

/// See [`WriteTx::stamp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    version: i64,
    aborts: u64,
}

/// Every SQLite connection's settings (the migrations', the writer's, the readers' and the
/// checkpointer's).
pub(in crate::store) const SQLITE_PRAGMAS: &str = "\
    PRAGMA journal_mode = WAL; \
    PRAGMA synchronous = NORMAL; \
    PRAGMA busy_timeout = 30000; \
    PRAGMA foreign_keys = ON; \
    PRAGMA cache_size = -65536; \
    PRAGMA wal_autocheckpoint = 100000; \
    PRAGMA mmap_size = 268435456; \
    PRAGMA temp_store = MEMORY;";
// cache_size: 64 MiB of page cache per connection, the working set of a busy network.
// wal_autocheckpoint: checkpoints run beside the writer (see `checkpointer`); a commit
// checkpoints only if the WAL grew past ~400 MB all the same. mmap_size: reads through a
// memory map instead of a pread per page. temp_store: the journals of savepoints (every
// writer of a shared transaction but its first runs in one) stay in memory, not in files.

/// The SQLite URL for a data directory (created if missing).
pub fn sqlite_url(data_dir: &Path) -> Result<String, StoreError> {
    std::fs::create_dir_all(data_dir)
        .map_err(|reason| StoreError::DataDir { path: data_dir.display().to_string(), reason })?;
    Ok(format!("sqlite://{}?mode=rwc", data_dir.join("switchboard.db").display()))
}

/// How [`Db::open`] opens a database.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// PostgreSQL: at most this many connections in the pool.
    pub max_connections: u32,
    /// Bring the schema up to date. Off only to administer a PostgreSQL server through its
    /// maintenance database (`CREATE DATABASE`), whose schema is not ours.
    pub migrate: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { max_connections: 8, migrate: true }
    }
}

impl Db {
    /// Opens `url` (sqlite:// or postgres://) and brings its schema up to date.
    pub async fn connect(url: &str) -> Result<Db, StoreError> {
        Db::open(url, Options::default()).await
    }

    /// As [`Db::connect`], with at most `max_connections` connections.
    pub async fn connect_with(url: &str, max_connections: u32) -> Result<Db, StoreError> {
        Db::open(url, Options { max_connections, ..Options::default() }).await
    }

    /// Opens `url` (sqlite:// or postgres://) as `options` say.
    pub async fn open(url: &str, options: Options) -> Result<Db, StoreError> {
        let connect = |source: SqlError| StoreError::Connect { url: redact(url), source };
        if url.starts_with("sqlite:") {
            let file = sqlite_file(url).map_err(connect)?;
            if options.migrate {
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            for pragma in SQLITE_PRAGMAS.split(';').map(str::trim).filter(|p| !p.is_empty()) {
                                conn.execute(AssertSqlSafe(pragma)).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await
                    .map_err(|e| connect(e.into()))?;
                let migrated = MIGRATOR.run(&pool).await;
                pool.close().await;
                migrated.map_err(migrate_error)?;
            }
            let writer = Arc::new(writer::Writer::new(native::Native::open(&file).map_err(connect)?));
            let checkpoints = native::Native::open(&file).map_err(connect)?;
            tokio::spawn(sqlite::checkpointer::run(checkpoints, file.clone(), Arc::downgrade(&writer)));
            let readers = Arc::new(Readers { file, idle: std::sync::Mutex::new(Vec::new()) });
            Ok(Db {
                dialect: Dialect::Sqlite,
                engine: Engine::Sqlite { writer, readers },
                caches: Arc::default(),
                looked: Arc::default(),
            })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool =
                pg_pool::Pool::connect(url, options.max_connections, Duration::from_secs(30)).await.map_err(connect)?;
            if options.migrate {
                let mut conn = pool.take().await.map_err(connect)?;
                MIGRATOR.run(conn.raw().map_err(connect)?).await.map_err(migrate_error)?;
            }
            Ok(Db {
                dialect: Dialect::Postgres,
                engine: Engine::Postgres(pool),
                caches: Arc::default(),
                looked: Arc::default(),
            })
        } else {
            Err(StoreError::Url(url.to_string()))
        }
    }

    /// Starts a read transaction: the reads made in it see one state of the database.
    pub async fn read(&self) -> Result<ReadTx<'_>, SqlError> {
        match &self.engine {
            Engine::Sqlite { readers, .. } => {
                let conn = readers.take()?;
                conn.batch("BEGIN")?;
                Ok(ReadTx { inner: ReadInner::Sqlite(readers, Some(conn)) })
            }
            Engine::Postgres(pool) => Ok(ReadTx { inner: ReadInner::Postgres(Some(pool.begin().await?)) }),
        }
    }

    /// Starts a transaction that will write. On SQLite it runs in this process's shared
    /// write transaction, which holds the write lock from its start (`BEGIN IMMEDIATE`), so
    /// it waits for other writers instead of failing halfway.
    pub async fn write(&self) -> Result<WriteTx, SqlError> {
        self.begin_write(false).await
    }

    /// As [`Db::write`], for the order worker's transactions, which take milliseconds: on
    /// SQLite a request's commit does not wait for them to run first (see `writer.rs`).
    pub async fn write_background(&self) -> Result<WriteTx, SqlError> {
        self.begin_write(true).await
    }

    /// Whether the database answers a statement (a health check; on SQLite a reader
    /// answers, so a busy writer does not make the process look dead).
    pub async fn ping(&self) -> Result<(), StoreError> {
        query("SELECT 1").execute(self).await?;
        Ok(())
    }

    /// SQLite: how many writers of this process wait for the writer connection now
    /// (`None` on PostgreSQL, where writers do not queue in the process).
    pub fn writers_queued(&self) -> Option<usize> {
        match &self.engine {
            Engine::Sqlite { writer, .. } => Some(writer.queued()),
            Engine::Postgres(_) => None,
        }
    }

    async fn begin_write(&self, background: bool) -> Result<WriteTx, SqlError> {
        let inner = match &self.engine {
            Engine::Sqlite { writer, .. } => Inner::Sqlite(writer.begin(background).await?),
            Engine::Postgres(pool) => Inner::Postgres(pool.begin().await?),
        };
        Ok(WriteTx { inner, caches: self.caches.clone(), pending: Vec::new(), audit: Vec::new() })
    }
}

/// The database file a `sqlite:` URL names; an in-memory database is refused.
fn sqlite_file(url: &str) -> Result<PathBuf, SqlError> {
    use std::str::FromStr;
    let options = SqliteConnectOptions::from_str(url)?;
    let path = options.get_filename();
    let name = path.to_string_lossy();
    if name.is_empty() || name.contains(":memory:") || name.contains("sqlx-in-memory") || url.contains("mode=memory") {
        return Err(SqlError::new(
            "an in-memory SQLite database is one per connection: give a file (sqlite://PATH) or a data directory",
        ));
    }
    Ok(path.to_path_buf())
}

fn migrate_error(e: sqlx::migrate::MigrateError) -> StoreError {
    StoreError::Migrate(SqlError::new(e.to_string()))
}

/// Statement parameters per chunk of a long list (SQLite allows 32,766, PostgreSQL 65,535).
pub const MAX_PARAMS: usize = 30_000;

/// `$first, $first+1, ...` placeholders for an IN list of `n` values.
pub fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// What a `SELECT` appends to lock the rows it reads until the transaction ends: `FOR
/// UPDATE` on PostgreSQL; nothing on SQLite, whose writer holds the whole database from
/// `BEGIN IMMEDIATE`.
pub fn lock(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => " FOR UPDATE",
        Dialect::Sqlite => "",
    }
}

/// A comma-separated column as its items (empty ones dropped).
pub fn split_list(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty()).map(str::to_string).collect()
}

/// A count or limit as the BIGINT it is stored as (saturating).
pub fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A stored BIGINT as the count or limit it holds (negative ones read as 0).
pub fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// `column` is one of the strings of the list bound as `$n` ([`list_param`]). A list of
/// any length is one parameter of one statement text, compiled once and kept (a
/// placeholder per element made a statement per length): a JSON array on SQLite; a text
/// array on PostgreSQL, whose planner then looks the values up in `column`'s index (over a
/// JSON function it guessed 100 rows and scanned whole tables).
pub fn in_list(dialect: Dialect, column: &str, n: usize) -> String {
    match dialect {
        Dialect::Sqlite => format!("{column} IN (SELECT value FROM json_each(${n}))"),
        Dialect::Postgres => format!("{column} = ANY(CAST(${n} AS TEXT[]))"),
    }
}

/// The list parameter [`in_list`] reads.
pub fn list_param<S: AsRef<str>>(dialect: Dialect, items: &[S]) -> String {
    match dialect {
        Dialect::Sqlite => json_param(&items.iter().map(AsRef::as_ref).collect::<Vec<&str>>()),
        Dialect::Postgres => {
            let quoted: Vec<String> = items
                .iter()
                .map(|s| format!("\"{}\"", s.as_ref().replace('\\', "\\\\").replace('"', "\\\"")))
                .collect();
            format!("{{{}}}", quoted.join(","))
        }
    }
}

/// `value` as the JSON text [`json_rows`] reads.
pub fn json_param<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}

/// The rows of the JSON array of arrays bound as `$n` as a query with `columns` (name,
/// SQL type), element `k` of each inner array in column `k` (JSON null: NULL).
pub fn json_rows(dialect: Dialect, n: usize, columns: &[(&str, &str)]) -> String {
    json_rows_of(dialect, &format!("${n}"), columns)
}

/// As [`json_rows`], the JSON text given by `source`: a parameter (`$n`) or a literal.
pub(crate) fn json_rows_of(dialect: Dialect, source: &str, columns: &[(&str, &str)]) -> String {
    let (item, from) = match dialect {
        Dialect::Sqlite => ("value", format!("json_each({source})")),
        Dialect::Postgres => ("x", format!("json_array_elements({source}::json) AS x")),
    };
    let cols: Vec<String> =
        columns.iter().enumerate().map(|(k, (name, ty))| format!("CAST({item}->>{k} AS {ty}) AS {name}")).collect();
    format!("SELECT {} FROM {from}", cols.join(", "))
}

/// `text` as a PostgreSQL dollar-quoted string constant: taken as it is, with no escapes,
/// between two tags (`$sb$`, or `$sb1$`, `$sb2$`, ...) that do not occur in it.
pub fn dollar_quoted(text: &str) -> String {
    let mut tag = "$sb$".to_string();
    let mut n = 0u64;
    while text.contains(&tag) || text.ends_with(&tag[..tag.len() - 1]) {
        n += 1;
        tag = format!("$sb{n}$");
    }
    format!("{tag}{text}{tag}")
}

/// `url` without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Whether an error is a unique-constraint violation (someone else got there first).
pub fn is_unique_violation(e: &SqlError) -> bool {
    e.violation() == Some(Violation::Unique)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A new identifier: `prefix-` then a version 7 UUID in hex (time first, then a counter
/// and random bits), so IDs sort by creation within one process and never collide across
/// processes.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

/// A new invitation token: 256 random bits as 64 hex digits.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// The stored form of a token: its SHA-256, hex. Tokens carry 256 random bits, so a fast
/// hash is enough; the token itself is never stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_go_as_one_parameter() {
        assert_eq!(list_param(Dialect::Sqlite, &["a", "b\"c"]), r#"["a","b\"c"]"#);
        assert_eq!(list_param(Dialect::Postgres, &["a", "b\"c", "d\\e"]), r#"{"a","b\"c","d\\e"}"#);
        assert_eq!(list_param::<&str>(Dialect::Postgres, &[]), "{}");
        assert_eq!(in_list(Dialect::Postgres, "id", 3), "id = ANY(CAST($3 AS TEXT[]))");
    }

    #[test]
    fn ids_are_unique_and_sortable_within_a_process() {
        let ids: Vec<String> = (0..1000).map(|_| new_id("x")).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 1000);
    }

    #[test]
    fn tokens_hash_to_something_else() {
        let t = new_token();
        assert_eq!(t.len(), 64);
        assert_ne!(token_hash(&t), t);
        assert_eq!(token_hash(&t), token_hash(&t));
    }

    #[test]
    fn an_in_memory_database_is_refused_with_what_to_do() {
        for url in ["sqlite::memory:", "sqlite://db?mode=memory"] {
            let e = sqlite_file(url).err().unwrap_or_else(|| panic!("{url} was opened"));
            assert!(e.to_string().contains("give a file"), "{url}: {e}");
        }
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://sb:secret@127.0.0.1/sb"), "postgres://sb:***@127.0.0.1/sb");
        assert_eq!(redact("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }
}
