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
//! Statements are the store's own [`Query`]s: [`Native::run`] binds their arguments
//! (`$N` is the N-th) and answers with [`Row`]s whose cells are typed by what SQLite
//! stored. The column names of a statement kept prepared are read once and shared by all
//! its rows, then and on its later runs.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use rusqlite::types::ValueRef;

use crate::store::query::{Cell, Columns, Output, Query, Row, SqlError, Value, Violation, Want};

/// A connection (the writer or a reader) and the column names of the statements it keeps
/// prepared.
pub(in crate::store) struct Native {
    conn: rusqlite::Connection,
    columns: HashMap<String, Arc<Columns>>,
}

/// Prepared statements kept: every fixed statement the service runs, with room to spare
/// (sqlx's 100 were nearly full).
const CACHED_STATEMENTS: usize = 512;

impl Native {
    /// Opens the database file `path` with the settings of every connection of the process.
    pub(in crate::store) fn open(path: &Path) -> Result<Native, SqlError> {
        let conn = rusqlite::Connection::open(path).map_err(error)?;
        conn.set_prepared_statement_cache_capacity(CACHED_STATEMENTS);
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(error)?;
        let native = Native { conn, columns: HashMap::new() };
        native.batch(crate::store::SQLITE_PRAGMAS)?;
        Ok(native)
    }

    /// Runs `sql`, one or more statements without parameters or rows.
    pub(in crate::store) fn batch(&self, sql: &str) -> Result<(), SqlError> {
        self.conn.execute_batch(sql).map_err(error)
    }

    /// One integer (`PRAGMA data_version`, say).
    pub(in crate::store) fn integer(&self, sql: &str) -> Result<i64, SqlError> {
        self.conn.query_row(sql, [], |r| r.get(0)).map_err(error)
    }

    /// `PRAGMA wal_checkpoint(mode)`: the WAL's length and how much of it is copied back,
    /// in pages.
    pub(in crate::store) fn checkpoint(&self, mode: &str) -> Result<(i64, i64), SqlError> {
        let sql = format!("PRAGMA wal_checkpoint({mode})");
        self.conn.query_row(&sql, [], |r| Ok((r.get(1)?, r.get(2)?))).map_err(error)
    }

    /// Runs `query` now: its rows (all of them, the first, or none, as `want` says) and the
    /// rows it changed. A statement that writes runs to its end whatever is wanted of its
    /// rows (`RETURNING`).
    pub(in crate::store) fn run(&mut self, query: &Query<'_>, want: Want) -> Result<Output, SqlError> {
        let sql = query.sql.as_ref();
        let mut stmt = if query.persistent {
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
                    .ok_or_else(|| SqlError::new(format!("unsupported SQL parameter `{name}`")))?,
                None => {
                    next += 1;
                    next
                }
            };
            let value = query.args.get(n.wrapping_sub(1)).ok_or_else(|| {
                SqlError::new(format!("parameter {n} of `{sql}` has no value ({} given)", query.args.len()))
            })?;
            stmt.raw_bind_parameter(i, Bound(value)).map_err(error)?;
        }
        let readonly = stmt.readonly();
        let mut out = Output::default();
        if want != Want::Execute && stmt.column_count() > 0 {
            let columns = match self.columns.get(sql) {
                Some(c) if query.persistent && c.len() == stmt.column_count() => c.clone(),
                _ => {
                    let c = Arc::new(Columns::new(stmt.column_names().into_iter().map(str::to_string).collect()));
                    if query.persistent {
                        self.columns.insert(sql.to_string(), c.clone());
                    }
                    c
                }
            };
            let n = columns.len();
            let mut rows = stmt.raw_query();
            while let Some(row) = rows.next().map_err(error)? {
                let mut cells = Vec::with_capacity(n);
                for k in 0..n {
                    cells.push(match row.get_ref(k).map_err(error)? {
                        ValueRef::Null => Cell::Null,
                        ValueRef::Integer(i) => Cell::Integer(i),
                        ValueRef::Real(f) => Cell::Real(f),
                        ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
                    });
                }
                out.rows.push(Row::new(columns.clone(), cells));
                if want == Want::First {
                    break;
                }
            }
            if !readonly {
                while rows.next().map_err(error)?.is_some() {}
            }
        } else {
            let mut rows = stmt.raw_query();
            while rows.next().map_err(error)?.is_some() {
                if readonly {
                    break;
                }
            }
        }
        out.rows_affected = if readonly { 0 } else { self.conn.changes() };
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

/// An argument as SQLite stores it (a NULL's type does not matter to it).
struct Bound<'a>(&'a Value<'a>);

impl rusqlite::ToSql for Bound<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::ToSqlOutput;
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Null(_) => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(t) => ValueRef::Text(t.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// A failure of SQLite as the store's error, with the constraint it violated
/// (`is_unique_violation`: another writer got there first).
fn error(e: rusqlite::Error) -> SqlError {
    use rusqlite::ffi;
    match &e {
        rusqlite::Error::SqliteFailure(f, message) => {
            let violation = match f.extended_code {
                ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => Some(Violation::Unique),
                ffi::SQLITE_CONSTRAINT_FOREIGNKEY => Some(Violation::ForeignKey),
                ffi::SQLITE_CONSTRAINT_NOTNULL => Some(Violation::NotNull),
                ffi::SQLITE_CONSTRAINT_CHECK => Some(Violation::Check),
                _ => None,
            };
            SqlError::violated(message.clone().unwrap_or_else(|| f.to_string()), violation)
        }
        _ => SqlError::new(format!("sqlite: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::query::{query, varying};

    fn open() -> (tempfile::TempDir, Native) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let n = Native::open(&dir.path().join("t.db")).unwrap_or_else(|e| panic!("{e}"));
        (dir, n)
    }

    #[test]
    fn numbered_parameters_bind_by_number_and_rows_read_by_what_sqlite_stored() {
        let (_d, mut n) = open();
        n.batch("CREATE TABLE t (id TEXT PRIMARY KEY, n BIGINT, x REAL, note TEXT)").unwrap_or_else(|e| panic!("{e}"));
        let insert = query("INSERT INTO t (n, id, x, note) VALUES ($2, $1, $3, $4)")
            .bind("a")
            .bind(7i64)
            .bind(0.5)
            .bind(None::<&str>);
        let r = n.run(&insert, Want::Execute).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.rows_affected, 1);
        let select = query("SELECT * FROM t WHERE id = $1").bind("a");
        let r = n.run(&select, Want::All).unwrap_or_else(|e| panic!("{e}"));
        let Some(row) = r.rows.first() else { panic!("no row") };
        assert_eq!(row.try_get::<String>("id").ok().as_deref(), Some("a"));
        assert_eq!(row.try_get::<i64>("n").ok(), Some(7));
        assert_eq!(row.try_get::<f64>("x").ok(), Some(0.5));
        assert_eq!(row.try_get::<Option<String>>("note").ok(), Some(None));
        assert!(row.try_get::<String>("n").is_err(), "an integer is not text");
        // A read changes nothing, whatever the last write did.
        assert_eq!(r.rows_affected, 0);
        // A statement kept prepared shares its column names with its later runs.
        let again = n.run(&query("SELECT * FROM t WHERE id = $1").bind("a"), Want::First);
        let again = again.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.rows.first().and_then(|r| r.try_get::<i64>("n").ok()), Some(7));
    }

    #[test]
    fn a_write_runs_to_its_end_whatever_is_wanted_of_its_rows() {
        let (_d, mut n) = open();
        n.batch("CREATE TABLE t (id BIGINT PRIMARY KEY)").unwrap_or_else(|e| panic!("{e}"));
        let q = varying("INSERT INTO t (id) VALUES (1), (2), (3) RETURNING id".into());
        let r = n.run(&q, Want::First).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((r.rows.len(), r.rows_affected), (1, 3));
        assert_eq!(n.integer("SELECT COUNT(*) FROM t").ok(), Some(3));
    }

    #[test]
    fn a_duplicate_key_is_a_unique_violation() {
        let (_d, mut n) = open();
        n.batch("CREATE TABLE t (id TEXT PRIMARY KEY)").unwrap_or_else(|e| panic!("{e}"));
        let ins = |n: &mut Native| n.run(&query("INSERT INTO t (id) VALUES ($1)").bind("a"), Want::Execute);
        assert!(ins(&mut n).is_ok());
        let e = ins(&mut n).err().unwrap_or_else(|| panic!("a second insert of one key succeeded"));
        assert!(crate::store::is_unique_violation(&e), "{e}");
        let missing = n.run(&varying("SELECT $2".into()).bind(1i64), Want::All);
        assert!(missing.is_err(), "a parameter without a value is refused, not bound as NULL");
    }
}
