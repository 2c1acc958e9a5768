//! PostgreSQL's side of the store's queries: a [`Query`] run through sqlx's Postgres driver
//! (its public API: a pool, a connection, its arguments and rows), the arguments bound with
//! their types and each row's columns read by their PostgreSQL type into [`Cell`]s.

use std::sync::Arc;

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{Arguments as _, Column as _, Row as _, TypeInfo as _};

use super::pg_pool::Conn;
use super::query::{Cell, Columns, Output, Query, Row, SqlError, Type, Value, Violation, Want};

/// Runs `query` on `conn` (one of the pool's, for this statement, or a transaction's).
pub(in crate::store) async fn run(conn: &mut Conn, query: Query<'_>, want: Want) -> Result<Output, SqlError> {
    let mut args = PgArguments::default();
    for value in query.args {
        bind(&mut args, value).map_err(|e| SqlError::new(format!("cannot bind a parameter: {e}")))?;
    }
    let q = sqlx::query_with(sqlx::AssertSqlSafe(query.sql), args).persistent(query.persistent);
    let on = conn.start()?;
    let ran = match want {
        Want::All => q.fetch_all(on).await.map(|all| (all, 0)),
        Want::First => q.fetch_optional(on).await.map(|first| (Vec::from_iter(first), 0)),
        Want::Execute => q.execute(on).await.map(|done| (Vec::new(), done.rows_affected())),
    };
    conn.settle(&ran);
    let (pg, rows_affected) = ran?;
    Ok(Output { rows: rows(&pg)?, rows_affected })
}

fn bind(args: &mut PgArguments, value: Value<'_>) -> Result<(), sqlx::error::BoxDynError> {
    match value {
        Value::Null(Type::Integer) => args.add(None::<i64>),
        Value::Null(Type::Real) => args.add(None::<f64>),
        Value::Null(Type::Text) => args.add(None::<String>),
        Value::Null(Type::Blob) => args.add(None::<Vec<u8>>),
        Value::Integer(i) => args.add(i),
        Value::Real(f) => args.add(f),
        Value::Text(t) => args.add(t.as_ref()),
        Value::Blob(b) => args.add(b.as_ref()),
    }
}

/// How a column's values are read.
#[derive(Clone, Copy)]
enum Kind {
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Text,
    Bool,
    Bytea,
}

/// PostgreSQL's rows as ours: the column names once for all of them, each value by its
/// column's type.
fn rows(pg: &[PgRow]) -> Result<Vec<Row>, SqlError> {
    let Some(first) = pg.first() else { return Ok(Vec::new()) };
    let mut names = Vec::with_capacity(first.columns().len());
    let mut kinds = Vec::with_capacity(first.columns().len());
    for c in first.columns() {
        let ty = c.type_info().name();
        kinds.push(match ty {
            "INT2" => Kind::Int2,
            "INT4" => Kind::Int4,
            "INT8" => Kind::Int8,
            "FLOAT4" => Kind::Float4,
            "FLOAT8" => Kind::Float8,
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "UNKNOWN" => Kind::Text,
            "BOOL" => Kind::Bool,
            "BYTEA" => Kind::Bytea,
            other => {
                return Err(SqlError::new(format!(
                    "column `{}` is of PostgreSQL type {other}, which the store does not read: cast it to BIGINT \
                     or TEXT in the statement",
                    c.name()
                )));
            }
        });
        names.push(c.name().to_string());
    }
    let columns = Arc::new(Columns::new(names));
    let mut out = Vec::with_capacity(pg.len());
    for r in pg {
        let mut cells = Vec::with_capacity(kinds.len());
        for (k, kind) in kinds.iter().enumerate() {
            cells.push(cell(r, k, *kind)?);
        }
        out.push(Row::new(columns.clone(), cells));
    }
    Ok(out)
}

fn cell(row: &PgRow, k: usize, kind: Kind) -> Result<Cell, sqlx::Error> {
    fn or_null<T>(v: Option<T>, f: impl FnOnce(T) -> Cell) -> Cell {
        v.map_or(Cell::Null, f)
    }
    Ok(match kind {
        Kind::Int2 => or_null(row.try_get::<Option<i16>, _>(k)?, |i| Cell::Integer(i64::from(i))),
        Kind::Int4 => or_null(row.try_get::<Option<i32>, _>(k)?, |i| Cell::Integer(i64::from(i))),
        Kind::Int8 => or_null(row.try_get::<Option<i64>, _>(k)?, Cell::Integer),
        Kind::Float4 => or_null(row.try_get::<Option<f32>, _>(k)?, |f| Cell::Real(f64::from(f))),
        Kind::Float8 => or_null(row.try_get::<Option<f64>, _>(k)?, Cell::Real),
        Kind::Text => or_null(row.try_get::<Option<String>, _>(k)?, Cell::Text),
        Kind::Bool => or_null(row.try_get::<Option<bool>, _>(k)?, |b| Cell::Integer(i64::from(b))),
        Kind::Bytea => or_null(row.try_get::<Option<Vec<u8>>, _>(k)?, Cell::Blob),
    })
}

impl From<sqlx::Error> for SqlError {
    fn from(e: sqlx::Error) -> SqlError {
        let violation = match &e {
            sqlx::Error::Database(d) => match d.kind() {
                sqlx::error::ErrorKind::UniqueViolation => Some(Violation::Unique),
                sqlx::error::ErrorKind::ForeignKeyViolation => Some(Violation::ForeignKey),
                sqlx::error::ErrorKind::NotNullViolation => Some(Violation::NotNull),
                sqlx::error::ErrorKind::CheckViolation => Some(Violation::Check),
                _ => None,
            },
            _ => None,
        };
        SqlError::violated(e.to_string(), violation)
    }
}
