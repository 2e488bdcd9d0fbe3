//! The connection abstraction the shared SQL runs on: [`Conn`] runs a statement
//! with [`Arg`]uments and hands each result [`Row`] to a closure; a row's columns
//! are read by type with [`Row::get`] (`i64`, `f64`, `bool`, `String`, bytes and
//! their `Option`s). Implemented here for SQLite ([`Lite`], over a
//! `rusqlite::Connection`) and for PostgreSQL (the `postgres` transaction with
//! its statement cache, `postgres::sql::Db`).
//!
//! SQL is written with SQLite's placeholders (`?` and `?N`); the PostgreSQL
//! implementation numbers them `$N` before preparing (see `postgres/sql.rs`
//! `numbered`). Both implementations cache prepared statements by their text.

use std::error::Error as StdError;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use rusqlite::types::{ToSqlOutput, Value as LiteValue};

use super::Dialect;
use crate::{Error, Result};

/// One bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    /// SQL NULL.
    Null,
    /// An integer (also binds to a PostgreSQL `integer` or `boolean` column).
    Int(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(String),
    /// A list of integers, for [`Dialect::in_list`] (a JSON array on SQLite, an array on PostgreSQL).
    Ints(Vec<i64>),
    /// A list of texts, for [`Dialect::in_list`].
    Texts(Vec<String>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(v)
    }
}

impl From<bool> for Arg {
    fn from(v: bool) -> Arg {
        Arg::Int(v.into())
    }
}

impl From<f64> for Arg {
    fn from(v: f64) -> Arg {
        Arg::Real(v)
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(v.to_string())
    }
}

impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(v)
    }
}

impl From<&String> for Arg {
    fn from(v: &String) -> Arg {
        Arg::Text(v.clone())
    }
}

impl From<&Option<String>> for Arg {
    fn from(v: &Option<String>) -> Arg {
        v.as_deref().into()
    }
}

impl<T: Into<Arg>> From<Option<T>> for Arg {
    fn from(v: Option<T>) -> Arg {
        v.map_or(Arg::Null, Into::into)
    }
}

/// The arguments of a statement, each converted with `Arg::from`.
macro_rules! args {
    ($($v:expr),* $(,)?) => { [$($crate::sql::Arg::from($v)),*] };
}
pub(crate) use args;

/// A result row: its columns by position, in the types the shared code reads.
pub(crate) trait Row {
    /// An integer column (a PostgreSQL `boolean` reads as 0 or 1).
    fn int(&self, idx: usize) -> Result<Option<i64>>;
    /// A floating-point column (an integer one is converted).
    fn real(&self, idx: usize) -> Result<Option<f64>>;
    /// A text column.
    fn text(&self, idx: usize) -> Result<Option<String>>;
    /// A flag: a `boolean`, or an integer that is not 0.
    fn flag(&self, idx: usize) -> Result<Option<bool>>;
    /// A blob (`bytea`) column.
    fn bytes(&self, idx: usize) -> Result<Option<Vec<u8>>>;
}

/// A Rust type one column reads as.
pub(crate) trait FromColumn: Sized {
    /// Reads column `idx` of `row`.
    fn from_column(row: &dyn Row, idx: usize) -> Result<Self>;
}

fn present<T>(v: Option<T>, idx: usize) -> Result<T> {
    v.ok_or_else(|| Error::Corrupt(format!("column {idx} is NULL where a value is required")))
}

macro_rules! from_column {
    ($t:ty, $get:ident) => {
        impl FromColumn for Option<$t> {
            fn from_column(row: &dyn Row, idx: usize) -> Result<Self> {
                row.$get(idx)
            }
        }
        impl FromColumn for $t {
            fn from_column(row: &dyn Row, idx: usize) -> Result<Self> {
                present(row.$get(idx)?, idx)
            }
        }
    };
}
from_column!(i64, int);
from_column!(f64, real);
from_column!(String, text);
from_column!(bool, flag);
from_column!(Vec<u8>, bytes);

impl dyn Row + '_ {
    /// Column `idx` as a `T`.
    pub(crate) fn get<T: FromColumn>(&self, idx: usize) -> Result<T> {
        T::from_column(self, idx)
    }
}

/// A connection (or an open transaction) that runs SQL written once for both
/// backends.
pub(crate) trait Conn {
    /// How this backend spells what differs.
    fn dialect(&self) -> Dialect;

    /// Runs a query and calls `each` with its rows in order, until it returns
    /// `false` or the rows run out.
    fn each_row(&mut self, sql: &str, args: &[Arg], each: &mut dyn FnMut(&dyn Row) -> Result<bool>) -> Result<()>;

    /// Runs a statement; returns how many rows it changed.
    fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64>;
}

impl dyn Conn + '_ {
    /// Every row of a query, each mapped by `f`.
    pub(crate) fn query<T>(
        &mut self,
        sql: &str,
        args: &[Arg],
        mut f: impl FnMut(&dyn Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        self.each_row(sql, args, &mut |r| {
            out.push(f(r)?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// The first row of a query mapped by `f`, if there is one.
    pub(crate) fn query_opt<T>(
        &mut self,
        sql: &str,
        args: &[Arg],
        f: impl FnOnce(&dyn Row) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut f = Some(f);
        let mut out = None;
        self.each_row(sql, args, &mut |r| {
            if let Some(f) = f.take() {
                out = Some(f(r)?);
            }
            Ok(false)
        })?;
        Ok(out)
    }

    /// The first row of a query mapped by `f`; an error when there is none.
    pub(crate) fn query_one<T>(&mut self, sql: &str, args: &[Arg], f: impl FnOnce(&dyn Row) -> Result<T>) -> Result<T> {
        self.query_opt(sql, args, f)?.ok_or_else(|| Error::Corrupt(format!("no row from {sql}")))
    }

    /// The first column of the one row of a query.
    pub(crate) fn scalar<T: FromColumn>(&mut self, sql: &str, args: &[Arg]) -> Result<T> {
        self.query_one(sql, args, |r| r.get(0))
    }
}

// ---- SQLite ----

/// A SQLite connection (or transaction, which derefs to one) as a [`Conn`].
pub(crate) struct Lite<'a>(pub &'a rusqlite::Connection);

impl rusqlite::ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Arg::Null => ToSqlOutput::Owned(LiteValue::Null),
            Arg::Int(i) => ToSqlOutput::Owned(LiteValue::Integer(*i)),
            Arg::Real(r) => ToSqlOutput::Owned(LiteValue::Real(*r)),
            Arg::Text(t) => ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Text(t.as_bytes())),
            // `json_each(?)` expands it (see `Dialect::in_list`).
            Arg::Ints(v) => ToSqlOutput::Owned(LiteValue::Text(serde_json::Value::from(v.clone()).to_string())),
            Arg::Texts(v) => ToSqlOutput::Owned(LiteValue::Text(serde_json::Value::from(v.clone()).to_string())),
        })
    }
}

impl Row for rusqlite::Row<'_> {
    fn int(&self, idx: usize) -> Result<Option<i64>> {
        Ok(self.get(idx)?)
    }
    fn real(&self, idx: usize) -> Result<Option<f64>> {
        Ok(self.get(idx)?)
    }
    fn text(&self, idx: usize) -> Result<Option<String>> {
        Ok(self.get(idx)?)
    }
    fn flag(&self, idx: usize) -> Result<Option<bool>> {
        Ok(self.get(idx)?)
    }
    fn bytes(&self, idx: usize) -> Result<Option<Vec<u8>>> {
        Ok(self.get(idx)?)
    }
}

impl Conn for Lite<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn each_row(&mut self, sql: &str, args: &[Arg], each: &mut dyn FnMut(&dyn Row) -> Result<bool>) -> Result<()> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        while let Some(r) = rows.next()? {
            if !each(r)? {
                break;
            }
        }
        Ok(())
    }

    fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64> {
        Ok(self.0.prepare_cached(sql)?.execute(rusqlite::params_from_iter(args))? as u64)
    }
}

// ---- PostgreSQL ----

type BoxError = Box<dyn StdError + Sync + Send>;

fn mismatch(v: &Arg, ty: &Type) -> BoxError {
    format!("value {v:?} cannot be bound to a parameter of type {ty}").into()
}

/// Binds to whatever type the server inferred for the parameter, converting
/// like SQLite's column affinity does (see `postgres/sql.rs` `Pg`).
impl ToSql for Arg {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
        match (self, ty) {
            (Arg::Null, _) => Ok(IsNull::Yes),
            (Arg::Int(i), &Type::INT8) => i.to_sql(ty, out),
            (Arg::Int(i), &Type::INT4) => i32::try_from(*i).map_err(|_| mismatch(self, ty))?.to_sql(ty, out),
            (Arg::Int(i), &Type::FLOAT8) => (*i as f64).to_sql(ty, out),
            (Arg::Int(i), &Type::BOOL) => (*i != 0).to_sql(ty, out),
            (Arg::Int(i), &Type::TEXT | &Type::VARCHAR) => i.to_string().to_sql(ty, out),
            (Arg::Real(r), &Type::FLOAT8) => r.to_sql(ty, out),
            (Arg::Real(r), &Type::INT8) if r.fract() == 0.0 && r.abs() < 9.0e18 => (*r as i64).to_sql(ty, out),
            (Arg::Text(s), &Type::TEXT | &Type::VARCHAR | &Type::NAME | &Type::BPCHAR) => s.as_str().to_sql(ty, out),
            (Arg::Ints(v), &Type::INT8_ARRAY) => v.to_sql(ty, out),
            (Arg::Texts(v), &Type::TEXT_ARRAY | &Type::VARCHAR_ARRAY) => v.to_sql(ty, out),
            _ => Err(mismatch(self, ty)),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn pg_type(row: &postgres::Row, idx: usize) -> Type {
    row.columns().get(idx).map_or(Type::TEXT, |c| c.type_().clone())
}

impl Row for postgres::Row {
    fn int(&self, idx: usize) -> Result<Option<i64>> {
        Ok(match pg_type(self, idx) {
            Type::INT4 => self.try_get::<_, Option<i32>>(idx)?.map(i64::from),
            Type::INT2 => self.try_get::<_, Option<i16>>(idx)?.map(i64::from),
            Type::BOOL => self.try_get::<_, Option<bool>>(idx)?.map(i64::from),
            _ => self.try_get(idx)?,
        })
    }
    fn real(&self, idx: usize) -> Result<Option<f64>> {
        Ok(match pg_type(self, idx) {
            Type::FLOAT4 => self.try_get::<_, Option<f32>>(idx)?.map(f64::from),
            Type::INT8 | Type::INT4 | Type::INT2 => self.int(idx)?.map(|i| i as f64),
            _ => self.try_get(idx)?,
        })
    }
    fn text(&self, idx: usize) -> Result<Option<String>> {
        Ok(self.try_get(idx)?)
    }
    fn flag(&self, idx: usize) -> Result<Option<bool>> {
        Ok(match pg_type(self, idx) {
            Type::BOOL => self.try_get(idx)?,
            _ => self.int(idx)?.map(|i| i != 0),
        })
    }
    fn bytes(&self, idx: usize) -> Result<Option<Vec<u8>>> {
        Ok(self.try_get(idx)?)
    }
}

impl Conn for crate::postgres::sql::Db<'_, '_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn each_row(&mut self, sql: &str, args: &[Arg], each: &mut dyn FnMut(&dyn Row) -> Result<bool>) -> Result<()> {
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
        for r in self.query(sql, &params)? {
            if !each(&r)? {
                break;
            }
        }
        Ok(())
    }

    fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64> {
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
        crate::postgres::sql::Db::execute(self, sql, &params)
    }
}
