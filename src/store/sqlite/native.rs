//! SQLite's connections of this process (the writer and the readers), run where they are
//! awaited.
//!
//! sqlx drives every SQLite connection from a thread of its own: each statement is a
//! command sent to that thread and each result row a message back, so a statement costs
//! two thread wake-ups at least, and on the writer, which every write of the process queues
//! for, those hand-offs would be most of the time it is held. Here each connection is a
//! plain rusqlite connection over the same SQLite library, and a statement runs on the task
//! that awaits it.
//!
//! The service's queries stay sqlx queries: [`Native::run`] takes what a sqlx query carries
//! (its text, its `Any` arguments, whether to keep it prepared) and answers with the `Any`
//! rows and results sqlx's own SQLite driver would give (values typed by what SQLite
//! stored, as there), so one query text serves both databases and the pool's readers.

use std::sync::Arc;

use rusqlite::types::ValueRef;
use sqlx::Either;
use sqlx::any::{AnyArguments, AnyQueryResult, AnyRow, AnyTypeInfo, AnyTypeInfoKind, AnyValue};
use sqlx::error::{DatabaseError, ErrorKind};
use sqlx_core::any::{AnyColumn, AnyValueKind};
use sqlx_core::ext::ustr::UStr;

/// A connection (the writer or a reader) and the column names of the statements it has run.
pub(in crate::store) struct Native {
    conn: rusqlite::Connection,
    names: std::collections::HashMap<String, Arc<sqlx_core::HashMap<UStr, usize>>>,
}

/// Prepared statements kept: every fixed statement the service runs, with room to spare
/// (sqlx's 100 were nearly full).
const CACHED_STATEMENTS: usize = 512;

impl Native {
    /// The database file `url` names (a `sqlite:` URL); an in-memory database is refused.
    pub(in crate::store) fn file(url: &str) -> Result<std::path::PathBuf, sqlx::Error> {
        use std::str::FromStr;
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?;
        let path = options.get_filename();
        let name = path.to_string_lossy();
        if name.is_empty()
            || name.contains(":memory:")
            || name.contains("sqlx-in-memory")
            || url.contains("mode=memory")
        {
            return Err(sqlx::Error::Configuration(
                "an in-memory SQLite database is one per connection: give a file (sqlite://PATH) or a data directory"
                    .into(),
            ));
        }
        Ok(path.to_path_buf())
    }

    /// Opens the database file `url` names (a `sqlite:` URL) with the pool's settings.
    pub(in crate::store) fn open(url: &str) -> Result<Native, sqlx::Error> {
        let path = Native::file(url)?;
        let conn = rusqlite::Connection::open(path).map_err(error)?;
        conn.set_prepared_statement_cache_capacity(CACHED_STATEMENTS);
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(error)?;
        let native = Native { conn, names: std::collections::HashMap::new() };
        native.batch(crate::store::SQLITE_PRAGMAS)?;
        Ok(native)
    }

    /// Runs `sql`, one or more statements without parameters or rows.
    pub(in crate::store) fn batch(&self, sql: &str) -> Result<(), sqlx::Error> {
        self.conn.execute_batch(sql).map_err(error)
    }

    /// One integer (`PRAGMA data_version`, say).
    pub(in crate::store) fn integer(&self, sql: &str) -> Result<i64, sqlx::Error> {
        self.conn.query_row(sql, [], |r| r.get(0)).map_err(error)
    }

    /// `PRAGMA wal_checkpoint(mode)`: the WAL's length and how much of it is copied back,
    /// in pages.
    pub(in crate::store) fn checkpoint(&self, mode: &str) -> Result<(i64, i64), sqlx::Error> {
        let sql = format!("PRAGMA wal_checkpoint({mode})");
        self.conn.query_row(&sql, [], |r| Ok((r.get(1)?, r.get(2)?))).map_err(error)
    }

    /// Runs one statement with sqlx's arguments (`$N` is the N-th, as sqlx binds them) and
    /// returns its rows, then its result, as sqlx's `fetch_many` does. `persistent`: keep
    /// it prepared (statements whose text varies with their input are not).
    pub(in crate::store) fn run(
        &mut self,
        sql: &str,
        args: Option<AnyArguments>,
        persistent: bool,
    ) -> Result<Vec<Either<AnyQueryResult, AnyRow>>, sqlx::Error> {
        let args = args.map(|a| a.values.0).unwrap_or_default();
        let mut stmt = if persistent {
            Statement::Cached(self.conn.prepare_cached(sql))
        } else {
            Statement::Once(self.conn.prepare(sql))
        }
        .open()
        .map_err(error)?;
        let mut next = 0;
        for i in 1..=stmt.parameter_count() {
            let n = match stmt.parameter_name(i) {
                Some(name) => name
                    .strip_prefix(['$', '?'])
                    .and_then(|d| d.parse::<usize>().ok())
                    .ok_or_else(|| sqlx::Error::Protocol(format!("unsupported SQL parameter `{name}`")))?,
                None => {
                    next += 1;
                    next
                }
            };
            let value = args.get(n.wrapping_sub(1)).ok_or_else(|| {
                sqlx::Error::Protocol(format!("parameter {n} of `{sql}` has no value ({} given)", args.len()))
            })?;
            stmt.raw_bind_parameter(i, Bound(value)).map_err(error)?;
        }
        let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_string).collect();
        let readonly = stmt.readonly();
        let names = self
            .names
            .entry(sql.to_string())
            .or_insert_with(|| Arc::new(columns.iter().enumerate().map(|(k, c)| (UStr::new(c), k)).collect()))
            .clone();
        let mut out = Vec::new();
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next().map_err(error)? {
            let mut r = AnyRow {
                column_names: names.clone(),
                columns: Vec::with_capacity(columns.len()),
                values: Vec::with_capacity(columns.len()),
            };
            for (k, name) in columns.iter().enumerate() {
                let kind = match row.get_ref(k).map_err(error)? {
                    ValueRef::Null => AnyValueKind::Null(AnyTypeInfoKind::Null),
                    ValueRef::Integer(i) => AnyValueKind::BigInt(i),
                    ValueRef::Real(f) => AnyValueKind::Double(f),
                    ValueRef::Text(t) => AnyValueKind::Text(Arc::new(String::from_utf8_lossy(t).into_owned())),
                    ValueRef::Blob(b) => AnyValueKind::Blob(Arc::new(b.to_vec())),
                };
                let type_info = AnyTypeInfo { kind: kind_of(&kind) };
                r.columns.push(AnyColumn { ordinal: k, name: UStr::new(name), type_info });
                r.values.push(AnyValue { kind });
            }
            out.push(Either::Right(r));
        }
        drop(rows);
        let rows_affected = if readonly { 0 } else { self.conn.changes() };
        out.push(Either::Left(AnyQueryResult { rows_affected, last_insert_id: Some(self.conn.last_insert_rowid()) }));
        Ok(out)
    }
}

/// A statement kept prepared, or prepared for one run.
enum Statement<'c> {
    Cached(rusqlite::Result<rusqlite::CachedStatement<'c>>),
    Once(rusqlite::Result<rusqlite::Statement<'c>>),
}

enum Open<'c> {
    Cached(rusqlite::CachedStatement<'c>),
    Once(rusqlite::Statement<'c>),
}

impl<'c> Statement<'c> {
    fn open(self) -> rusqlite::Result<Open<'c>> {
        Ok(match self {
            Statement::Cached(s) => Open::Cached(s?),
            Statement::Once(s) => Open::Once(s?),
        })
    }
}

impl<'c> std::ops::Deref for Open<'c> {
    type Target = rusqlite::Statement<'c>;
    fn deref(&self) -> &rusqlite::Statement<'c> {
        match self {
            Open::Cached(s) => s,
            Open::Once(s) => s,
        }
    }
}

impl std::ops::DerefMut for Open<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match self {
            Open::Cached(s) => s,
            Open::Once(s) => s,
        }
    }
}

fn kind_of(v: &AnyValueKind) -> AnyTypeInfoKind {
    match v {
        AnyValueKind::BigInt(_) => AnyTypeInfoKind::BigInt,
        AnyValueKind::Double(_) => AnyTypeInfoKind::Double,
        AnyValueKind::Text(_) => AnyTypeInfoKind::Text,
        AnyValueKind::Blob(_) => AnyTypeInfoKind::Blob,
        _ => AnyTypeInfoKind::Null,
    }
}

/// An `Any` argument as SQLite stores it (sqlx's SQLite driver binds the same way: bools
/// and every integer width as INTEGER, both float widths as REAL).
struct Bound<'a>(&'a AnyValueKind);

impl rusqlite::ToSql for Bound<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value};
        Ok(match self.0 {
            AnyValueKind::Bool(b) => ToSqlOutput::Owned(Value::Integer(i64::from(*b))),
            AnyValueKind::SmallInt(i) => ToSqlOutput::Owned(Value::Integer(i64::from(*i))),
            AnyValueKind::Integer(i) => ToSqlOutput::Owned(Value::Integer(i64::from(*i))),
            AnyValueKind::BigInt(i) => ToSqlOutput::Owned(Value::Integer(*i)),
            AnyValueKind::Real(f) => ToSqlOutput::Owned(Value::Real(f64::from(*f))),
            AnyValueKind::Double(f) => ToSqlOutput::Owned(Value::Real(*f)),
            AnyValueKind::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            AnyValueKind::TextSlice(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            AnyValueKind::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            _ => ToSqlOutput::Owned(Value::Null),
        })
    }
}

/// A failure of SQLite, as the `sqlx::Error::Database` the rest of the code inspects
/// (`is_unique_violation`: another writer got there first).
#[derive(Debug)]
struct NativeError {
    message: String,
    extended: i32,
}

impl std::fmt::Display for NativeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for NativeError {}

impl DatabaseError for NativeError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(self.extended.to_string().into())
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        use rusqlite::ffi;
        match self.extended {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => ErrorKind::UniqueViolation,
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

fn error(e: rusqlite::Error) -> sqlx::Error {
    match &e {
        rusqlite::Error::SqliteFailure(f, message) => sqlx::Error::Database(Box::new(NativeError {
            message: message.clone().unwrap_or_else(|| f.to_string()),
            extended: f.extended_code,
        })),
        _ => sqlx::Error::Protocol(format!("sqlite: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Row;

    fn args(values: Vec<AnyValueKind>) -> Option<AnyArguments> {
        let mut a = AnyArguments::default();
        a.values.0 = values;
        Some(a)
    }

    fn open() -> (tempfile::TempDir, Native) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let n = Native::open(&url).unwrap_or_else(|e| panic!("{e}"));
        (dir, n)
    }

    #[test]
    fn numbered_parameters_bind_by_number_and_rows_read_like_sqlx() {
        let (_d, mut n) = open();
        n.batch("CREATE TABLE t (id TEXT PRIMARY KEY, n BIGINT, x REAL, note TEXT)").unwrap_or_else(|e| panic!("{e}"));
        let r = n
            .run(
                "INSERT INTO t (n, id, x, note) VALUES ($2, $1, $3, $4)",
                args(vec![
                    AnyValueKind::Text(Arc::new("a".into())),
                    AnyValueKind::BigInt(7),
                    AnyValueKind::Double(0.5),
                    AnyValueKind::Null(AnyTypeInfoKind::Text),
                ]),
                true,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(r.last(), Some(Either::Left(q)) if q.rows_affected == 1));
        let rows = n
            .run("SELECT * FROM t WHERE id = $1", args(vec![AnyValueKind::Text(Arc::new("a".into()))]), true)
            .unwrap_or_else(|e| panic!("{e}"));
        let Some(Either::Right(row)) = rows.first() else { panic!("no row: {}", rows.len()) };
        assert_eq!(row.try_get::<String, _>("id").ok().as_deref(), Some("a"));
        assert_eq!(row.try_get::<i64, _>("n").ok(), Some(7));
        assert_eq!(row.try_get::<f64, _>("x").ok(), Some(0.5));
        assert_eq!(row.try_get::<Option<String>, _>("note").ok(), Some(None));
        assert!(row.try_get::<String, _>("n").is_err(), "an integer is not text, as with sqlx's driver");
        // A read changes nothing, whatever the last write did.
        assert!(matches!(rows.last(), Some(Either::Left(q)) if q.rows_affected == 0));
    }

    #[test]
    fn an_in_memory_database_is_refused_with_what_to_do() {
        for url in ["sqlite::memory:", "sqlite://db?mode=memory"] {
            let e = Native::open(url).err().unwrap_or_else(|| panic!("{url} was opened"));
            assert!(e.to_string().contains("give a file"), "{url}: {e}");
        }
    }

    #[test]
    fn a_duplicate_key_is_a_unique_violation() {
        let (_d, mut n) = open();
        n.batch("CREATE TABLE t (id TEXT PRIMARY KEY)").unwrap_or_else(|e| panic!("{e}"));
        let ins = |n: &mut Native| {
            n.run("INSERT INTO t (id) VALUES ($1)", args(vec![AnyValueKind::Text(Arc::new("a".into()))]), true)
        };
        assert!(ins(&mut n).is_ok());
        let e = ins(&mut n).err().unwrap_or_else(|| panic!("a second insert of one key succeeded"));
        assert!(crate::store::is_unique_violation(&e), "{e}");
        let missing = n.run("SELECT $2", args(vec![AnyValueKind::BigInt(1)]), false);
        assert!(missing.is_err(), "a parameter without a value is refused, not bound as NULL");
    }
}
