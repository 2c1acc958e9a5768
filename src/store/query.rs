//! The store's own queries: a statement's text with its arguments, run on an executor
//! (`&db` a read, `&mut write_tx`, `&mut read_tx`), answering with rows of plain values.
//!
//! Every statement is written once, in SQL both databases accept (`$n` placeholders), so a
//! query is only its text, its arguments and whether to keep it prepared. On SQLite it runs
//! right where it is awaited on one of the process's rusqlite connections
//! (`sqlite/native.rs`); on PostgreSQL through sqlx's Postgres driver (`postgres.rs`). Both
//! answer with [`Row`]s of [`Cell`]s, read by column name with [`Row::try_get`]. The values
//! are the few types the schema stores (BIGINT, TEXT; REAL and BLOB for completeness), so
//! neither side needs a type system of its own beyond these.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Arc;

/// A statement and its arguments. `query(sql).bind(a).bind(b).fetch_all(&mut *tx)`.
#[derive(Debug)]
pub struct Query<'q> {
    pub(in crate::store) sql: Cow<'static, str>,
    pub(in crate::store) args: Vec<Value<'q>>,
    /// Keep the statement prepared on the connection for its next run.
    pub(in crate::store) persistent: bool,
}

/// A statement whose text is fixed (it may be built from constants and the dialect): it is
/// kept prepared on each connection that runs it.
pub fn query<'q>(sql: impl Into<Cow<'static, str>>) -> Query<'q> {
    Query { sql: sql.into(), args: Vec::new(), persistent: true }
}

/// A statement prepared for this one run and not kept. For a statement whose text grows
/// with its input (an `IN (...)` list, a multi-row `VALUES`): every length of it would take
/// a slot of the connection's statement cache and push out the fixed statements that every
/// request runs, which then are prepared again each time. And for a few statements of the
/// order worker, run once a batch, that PostgreSQL should plan for their lists and the
/// tables as they are (a kept statement gets, after five runs, a generic plan that is kept
/// as the tables grow). On PostgreSQL it costs a round trip more than a kept statement
/// (sqlx prepares it first).
pub fn varying<'q>(sql: String) -> Query<'q> {
    Query { sql: sql.into(), args: Vec::new(), persistent: false }
}

/// A query whose rows are one column, read as `T`: `query_scalar("SELECT COUNT(*) ...")`.
#[derive(Debug)]
pub struct Scalar<'q, T> {
    query: Query<'q>,
    out: PhantomData<fn() -> T>,
}

/// See [`Scalar`].
pub fn query_scalar<'q, T: Decode>(sql: impl Into<Cow<'static, str>>) -> Scalar<'q, T> {
    Scalar { query: query(sql), out: PhantomData }
}

/// An argument. A NULL says which type it stands for: PostgreSQL types every parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'q> {
    Null(Type),
    Integer(i64),
    Real(f64),
    Text(Cow<'q, str>),
    Blob(Cow<'q, [u8]>),
}

/// The type of an argument: BIGINT, DOUBLE PRECISION, TEXT or BYTEA on PostgreSQL; on
/// SQLite the storage class of the same name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    Integer,
    Real,
    Text,
    Blob,
}

/// A value of a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A row of a statement's answer: its cells, by the statement's column names.
#[derive(Clone, Debug)]
pub struct Row {
    columns: Arc<Columns>,
    cells: Vec<Cell>,
}

/// The column names of a statement's rows, shared by all of them.
#[derive(Debug)]
pub(in crate::store) struct Columns {
    names: Vec<String>,
}

/// A database failure: what went wrong, and whether it is a constraint violation the
/// caller may turn into an answer (a duplicate name is a conflict, not a failure).
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct SqlError {
    message: String,
    violation: Option<Violation>,
}

/// Which constraint a statement violated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    Unique,
    ForeignKey,
    NotNull,
    Check,
}

/// Where a statement runs: `&db` (a read), `&mut write_tx` or `&mut read_tx`.
pub trait Executor<'e>: Send + sealed::Sealed {
    #[doc(hidden)]
    fn target(self) -> Target<'e>;
}

/// An executor's connection (see [`Executor`]).
#[doc(hidden)]
pub struct Target<'e>(pub(in crate::store) On<'e>);

/// Where a statement runs, as the executors give it.
pub(in crate::store) enum On<'e> {
    /// PostgreSQL: a connection of the pool, for this statement.
    Pool(&'e super::pg_pool::Pool),
    /// PostgreSQL: a transaction's connection.
    Connection(&'e mut super::pg_pool::Conn),
    /// SQLite: the writer, or a read transaction's reader.
    Native(&'e mut super::sqlite::native::Native),
    /// SQLite: an idle reader, for this statement.
    Readers(&'e super::Readers),
    /// The transaction is over.
    Closed,
}

pub(in crate::store) mod sealed {
    pub trait Sealed {}
}

/// What a run is for: every row, the first, or only the rows affected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::store) enum Want {
    All,
    First,
    Execute,
}

/// What a run answers.
#[derive(Debug, Default)]
pub(in crate::store) struct Output {
    pub(in crate::store) rows: Vec<Row>,
    pub(in crate::store) rows_affected: u64,
}

impl<'q> Query<'q> {
    /// Adds the value of the next parameter (`$1`, then `$2`, ...).
    pub fn bind(mut self, value: impl Encode<'q>) -> Self {
        self.args.push(value.encode());
        self
    }

    /// The statement's rows.
    pub async fn fetch_all<'e>(self, on: impl Executor<'e>) -> Result<Vec<Row>, SqlError> {
        Ok(run(on.target().0, self, Want::All).await?.rows)
    }

    /// The statement's first row, which must be there.
    pub async fn fetch_one<'e>(self, on: impl Executor<'e>) -> Result<Row, SqlError> {
        let sql = self.sql.clone();
        self.fetch_optional(on).await?.ok_or_else(|| SqlError::new(format!("no row returned by `{sql}`")))
    }

    /// The statement's first row, if any.
    pub async fn fetch_optional<'e>(self, on: impl Executor<'e>) -> Result<Option<Row>, SqlError> {
        Ok(run(on.target().0, self, Want::First).await?.rows.into_iter().next())
    }

    /// Runs the statement; the rows it inserted, changed or deleted.
    pub async fn execute<'e>(self, on: impl Executor<'e>) -> Result<u64, SqlError> {
        Ok(run(on.target().0, self, Want::Execute).await?.rows_affected)
    }
}

impl<'q, T: Decode> Scalar<'q, T> {
    /// See [`Query::bind`].
    pub fn bind(self, value: impl Encode<'q>) -> Self {
        Scalar { query: self.query.bind(value), out: PhantomData }
    }

    /// The first column of every row.
    pub async fn fetch_all<'e>(self, on: impl Executor<'e>) -> Result<Vec<T>, SqlError> {
        self.query.fetch_all(on).await?.iter().map(|r| r.try_get(0)).collect()
    }

    /// The first column of the first row, which must be there.
    pub async fn fetch_one<'e>(self, on: impl Executor<'e>) -> Result<T, SqlError> {
        self.query.fetch_one(on).await?.try_get(0)
    }

    /// The first column of the first row, if any.
    pub async fn fetch_optional<'e>(self, on: impl Executor<'e>) -> Result<Option<T>, SqlError> {
        self.query.fetch_optional(on).await?.map(|r| r.try_get(0)).transpose()
    }
}

/// Runs `query` where `on` says.
async fn run(on: On<'_>, query: Query<'_>, want: Want) -> Result<Output, SqlError> {
    match on {
        On::Native(conn) => conn.run(&query, want),
        On::Readers(readers) => readers.with(|conn| conn.run(&query, want))?,
        On::Pool(pool) => super::postgres::run(&mut pool.take().await?, query, want).await,
        On::Connection(conn) => super::postgres::run(conn, query, want).await,
        On::Closed => Err(SqlError::new("the transaction is over")),
    }
}

impl Row {
    pub(in crate::store) fn new(columns: Arc<Columns>, cells: Vec<Cell>) -> Row {
        Row { columns, cells }
    }

    /// The cell of column `column` (a name, or a position from 0) as a `T`; an error names
    /// the column when there is none such or its value is not a `T` (a NULL is an
    /// `Option`'s `None` and nothing else's).
    pub fn try_get<T: Decode>(&self, column: impl ColumnIndex) -> Result<T, SqlError> {
        let k = column.index(&self.columns.names).ok_or_else(|| {
            SqlError::new(format!(
                "no column {} in the row (it has {})",
                column.describe(),
                self.columns.names.join(", ")
            ))
        })?;
        let cell = self.cells.get(k).unwrap_or(&Cell::Null);
        T::decode(cell).ok_or_else(|| {
            let name = self.columns.names.get(k).map_or("?", String::as_str);
            SqlError::new(format!("column `{name}` holds {}, which does not read as {}", cell.describe(), T::EXPECTED))
        })
    }
}

impl Columns {
    pub(in crate::store) fn new(names: Vec<String>) -> Columns {
        Columns { names }
    }

    pub(in crate::store) fn len(&self) -> usize {
        self.names.len()
    }
}

impl Cell {
    fn describe(&self) -> &'static str {
        match self {
            Cell::Null => "NULL",
            Cell::Integer(_) => "an integer",
            Cell::Real(_) => "a real number",
            Cell::Text(_) => "text",
            Cell::Blob(_) => "a blob",
        }
    }
}

/// Which column of a row: its name or its position (from 0).
pub trait ColumnIndex {
    #[doc(hidden)]
    fn index(&self, names: &[String]) -> Option<usize>;
    #[doc(hidden)]
    fn describe(&self) -> String;
}

impl ColumnIndex for &str {
    fn index(&self, names: &[String]) -> Option<usize> {
        names.iter().position(|n| n == self)
    }

    fn describe(&self) -> String {
        format!("`{self}`")
    }
}

impl ColumnIndex for usize {
    fn index(&self, names: &[String]) -> Option<usize> {
        (*self < names.len()).then_some(*self)
    }

    fn describe(&self) -> String {
        format!("at position {self}")
    }
}

/// A Rust value as an argument.
pub trait Encode<'q> {
    fn encode(self) -> Value<'q>;
}

/// The type a Rust value binds as, which its NULL (`None`) carries too.
pub trait Typed {
    const TYPE: Type;
}

impl<'q> Encode<'q> for i64 {
    fn encode(self) -> Value<'q> {
        Value::Integer(self)
    }
}

impl Typed for i64 {
    const TYPE: Type = Type::Integer;
}

impl<'q> Encode<'q> for f64 {
    fn encode(self) -> Value<'q> {
        Value::Real(self)
    }
}

impl Typed for f64 {
    const TYPE: Type = Type::Real;
}

impl<'q> Encode<'q> for &'q str {
    fn encode(self) -> Value<'q> {
        Value::Text(Cow::Borrowed(self))
    }
}

impl Typed for &str {
    const TYPE: Type = Type::Text;
}

impl<'q> Encode<'q> for &'q String {
    fn encode(self) -> Value<'q> {
        Value::Text(Cow::Borrowed(self.as_str()))
    }
}

impl Typed for &String {
    const TYPE: Type = Type::Text;
}

impl<'q> Encode<'q> for String {
    fn encode(self) -> Value<'q> {
        Value::Text(Cow::Owned(self))
    }
}

impl Typed for String {
    const TYPE: Type = Type::Text;
}

impl<'q> Encode<'q> for &'q [u8] {
    fn encode(self) -> Value<'q> {
        Value::Blob(Cow::Borrowed(self))
    }
}

impl Typed for &[u8] {
    const TYPE: Type = Type::Blob;
}

impl<'q> Encode<'q> for Vec<u8> {
    fn encode(self) -> Value<'q> {
        Value::Blob(Cow::Owned(self))
    }
}

impl Typed for Vec<u8> {
    const TYPE: Type = Type::Blob;
}

impl<'q, T: Encode<'q> + Typed> Encode<'q> for Option<T> {
    fn encode(self) -> Value<'q> {
        match self {
            Some(v) => v.encode(),
            None => Value::Null(T::TYPE),
        }
    }
}

impl<'q> Encode<'q> for Value<'q> {
    fn encode(self) -> Value<'q> {
        self
    }
}

/// A cell as a Rust value: `None` when it does not hold one.
pub trait Decode: Sized {
    /// What the value is, for messages.
    const EXPECTED: &'static str;
    fn decode(cell: &Cell) -> Option<Self>;
}

impl Decode for i64 {
    const EXPECTED: &'static str = "an integer";
    fn decode(cell: &Cell) -> Option<i64> {
        match cell {
            Cell::Integer(i) => Some(*i),
            _ => None,
        }
    }
}

impl Decode for f64 {
    const EXPECTED: &'static str = "a real number";
    fn decode(cell: &Cell) -> Option<f64> {
        match cell {
            Cell::Real(f) => Some(*f),
            #[allow(clippy::cast_precision_loss)]
            Cell::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }
}

impl Decode for bool {
    const EXPECTED: &'static str = "a boolean (an integer, 0 for false)";
    fn decode(cell: &Cell) -> Option<bool> {
        match cell {
            Cell::Integer(i) => Some(*i != 0),
            _ => None,
        }
    }
}

impl Decode for String {
    const EXPECTED: &'static str = "text";
    fn decode(cell: &Cell) -> Option<String> {
        match cell {
            Cell::Text(t) => Some(t.clone()),
            _ => None,
        }
    }
}

impl Decode for Vec<u8> {
    const EXPECTED: &'static str = "a blob";
    fn decode(cell: &Cell) -> Option<Vec<u8>> {
        match cell {
            Cell::Blob(b) => Some(b.clone()),
            _ => None,
        }
    }
}

/// Text the store kept, read back as the type it was checked as when it was written.
macro_rules! decode_stored_text {
    ($($name:ident),*) => {$(
        impl Decode for crate::model::text::$name {
            const EXPECTED: &'static str = "text";
            fn decode(cell: &Cell) -> Option<Self> {
                match cell {
                    Cell::Text(t) => Some(Self::stored(t.clone())),
                    _ => None,
                }
            }
        }
    )*};
}

decode_stored_text!(OrgName, InterfaceName, Email);

impl<T: Decode> Decode for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    fn decode(cell: &Cell) -> Option<Option<T>> {
        match cell {
            Cell::Null => Some(None),
            c => T::decode(c).map(Some),
        }
    }
}

impl Decode for Cell {
    const EXPECTED: &'static str = "a cell";
    fn decode(cell: &Cell) -> Option<Cell> {
        Some(cell.clone())
    }
}

impl SqlError {
    pub(in crate::store) fn new(message: impl Into<String>) -> SqlError {
        SqlError { message: message.into(), violation: None }
    }

    pub(in crate::store) fn violated(message: impl Into<String>, violation: Option<Violation>) -> SqlError {
        SqlError { message: message.into(), violation }
    }

    /// The constraint the statement violated, if that is what failed.
    pub fn violation(&self) -> Option<Violation> {
        self.violation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(names: &[&str], cells: Vec<Cell>) -> Row {
        Row::new(Arc::new(Columns::new(names.iter().map(|n| n.to_string()).collect())), cells)
    }

    #[test]
    fn cells_read_as_their_type_and_a_mismatch_names_the_column() {
        let r = row(&["id", "n", "note"], vec![Cell::Text("a".into()), Cell::Integer(7), Cell::Null]);
        assert_eq!(r.try_get::<String>("id").ok().as_deref(), Some("a"));
        assert_eq!(r.try_get::<i64>("n").ok(), Some(7));
        assert_eq!(r.try_get::<i64>(1).ok(), Some(7));
        assert_eq!(r.try_get::<Option<String>>("note").ok(), Some(None));
        assert_eq!(r.try_get::<Option<i64>>("n").ok(), Some(Some(7)));
        let e = r.try_get::<String>("n").err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(e, "column `n` holds an integer, which does not read as text");
        let e = r.try_get::<i64>("note").err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(e, "column `note` holds NULL, which does not read as an integer");
        let e = r.try_get::<i64>("missing").err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(e, "no column `missing` in the row (it has id, n, note)");
        assert!(r.try_get::<i64>(3).is_err());
    }

    #[test]
    fn a_null_carries_the_type_it_stands_for() {
        assert_eq!(None::<&str>.encode(), Value::Null(Type::Text));
        assert_eq!(None::<i64>.encode(), Value::Null(Type::Integer));
        assert_eq!(Some(3i64).encode(), Value::Integer(3));
        let q = query("SELECT $1, $2").bind("x").bind(String::from("y"));
        assert_eq!(q.args, [Value::Text("x".into()), Value::Text("y".into())]);
        assert!(q.persistent && !varying("SELECT 1".into()).persistent);
    }
}
