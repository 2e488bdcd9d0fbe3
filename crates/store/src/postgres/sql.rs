//! Plumbing shared by the PostgreSQL modules: binding and reading [`Value`]s,
//! turning SQLite-style placeholders into PostgreSQL ones, and a transaction with
//! a per-connection prepared-statement cache.
//!
//! The SQL text of the PostgreSQL backend is written with `?` / `?N` placeholders,
//! like the SQLite one, so both read the same; [`numbered`] rewrites them to
//! `$N` once, before the statement is prepared and cached.

use std::collections::HashMap;
use std::error::Error as StdError;

use bytes::BytesMut;
use ntsb_model::value::Value;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{GenericClient, Row, Statement, Transaction};

use crate::{Error, Result};

/// A parameter as passed to the `postgres` client.
pub(crate) type Param<'a> = &'a (dyn ToSql + Sync);

/// Binds a [`Value`] to whatever type the server inferred for the parameter,
/// converting like SQLite's column affinity does (an integral real into an
/// integer column, a number into a text column), so both backends store the same.
#[derive(Debug)]
pub(crate) struct Pg<'a>(pub &'a Value);

type BoxError = Box<dyn StdError + Sync + Send>;

fn mismatch(v: &Value, ty: &Type) -> BoxError {
    format!("value {v:?} cannot be stored in a column of type {ty}").into()
}

impl ToSql for Pg<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
        let v = self.0;
        match (v, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int(i), &Type::INT8) => i.to_sql(ty, out),
            (Value::Int(i), &Type::INT4) => i32::try_from(*i).map_err(|_| mismatch(v, ty))?.to_sql(ty, out),
            (Value::Int(i), &Type::FLOAT8) => (*i as f64).to_sql(ty, out),
            (Value::Int(i), &Type::BOOL) => (*i != 0).to_sql(ty, out),
            (Value::Int(i), &Type::TEXT | &Type::VARCHAR) => i.to_string().to_sql(ty, out),
            (Value::Real(r), &Type::FLOAT8) => r.to_sql(ty, out),
            (Value::Real(r), &Type::INT8) if r.fract() == 0.0 && r.abs() < 9.0e18 => (*r as i64).to_sql(ty, out),
            (Value::Real(r), &Type::TEXT | &Type::VARCHAR) => r.to_string().to_sql(ty, out),
            (Value::Text(s), &Type::TEXT | &Type::VARCHAR) => s.as_str().to_sql(ty, out),
            (Value::Text(s), &Type::INT8) => s.trim().parse::<i64>().map_err(|_| mismatch(v, ty))?.to_sql(ty, out),
            (Value::Text(s), &Type::FLOAT8) => s.trim().parse::<f64>().map_err(|_| mismatch(v, ty))?.to_sql(ty, out),
            _ => Err(mismatch(v, ty)),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Reads column `idx` of a row as a [`Value`] (BIGINT, INTEGER, DOUBLE PRECISION,
/// TEXT, BOOLEAN or NULL).
pub(crate) fn value_at(row: &Row, idx: usize) -> Result<Value> {
    let ty = row.columns().get(idx).map(|c| c.type_().clone()).unwrap_or(Type::TEXT);
    Ok(match ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(idx)?.map_or(Value::Null, Value::Int),
        Type::INT4 => row.try_get::<_, Option<i32>>(idx)?.map_or(Value::Null, |i| Value::Int(i.into())),
        Type::INT2 => row.try_get::<_, Option<i16>>(idx)?.map_or(Value::Null, |i| Value::Int(i.into())),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(idx)?.map_or(Value::Null, Value::Real),
        Type::BOOL => row.try_get::<_, Option<bool>>(idx)?.map_or(Value::Null, |b| Value::Int(b.into())),
        Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => {
            row.try_get::<_, Option<String>>(idx)?.map_or(Value::Null, Value::Text)
        }
        other => return Err(Error::Corrupt(format!("column {idx} has unsupported type {other}"))),
    })
}

/// Rewrites `?` and `?N` placeholders to PostgreSQL's `$N`. A bare `?` takes the
/// next number; `?N` keeps its number. Quoted literals and identifiers are copied
/// unchanged.
pub(crate) fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut next = 0usize;
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                out.push(c);
            }
            '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    digits.push(d);
                    chars.next();
                }
                if digits.is_empty() {
                    next += 1;
                    out.push_str(&format!("${next}"));
                } else {
                    out.push('$');
                    out.push_str(&digits);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Prepared statements of one connection, by their `?`-style SQL text.
pub(crate) type StatementCache = HashMap<String, Statement>;

/// Statements kept per connection before the cache is cleared.
const STATEMENT_CACHE: usize = 512;

/// The prepared form of `sql` (with `?` placeholders) on a connection or in a
/// transaction, from the connection's cache.
pub(crate) fn prepare_cached(
    client: &mut impl GenericClient,
    stmts: &mut StatementCache,
    sql: &str,
) -> Result<Statement> {
    if let Some(s) = stmts.get(sql) {
        return Ok(s.clone());
    }
    if stmts.len() >= STATEMENT_CACHE {
        stmts.clear();
    }
    let stmt = client.prepare(&numbered(sql))?;
    stmts.insert(sql.to_string(), stmt.clone());
    Ok(stmt)
}

/// One open transaction and its connection's statement cache.
pub(crate) struct Db<'c, 's> {
    /// The transaction; committed by [`Db::commit`], rolled back on drop.
    pub tx: Transaction<'c>,
    stmts: &'s mut StatementCache,
}

impl<'c, 's> Db<'c, 's> {
    /// Wraps a transaction.
    pub(crate) fn new(tx: Transaction<'c>, stmts: &'s mut StatementCache) -> Db<'c, 's> {
        Db { tx, stmts }
    }

    /// The prepared form of `sql` (with `?` placeholders), from the cache.
    pub(crate) fn prepare(&mut self, sql: &str) -> Result<Statement> {
        prepare_cached(&mut self.tx, self.stmts, sql)
    }

    /// Every row of a query.
    pub(crate) fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        let stmt = self.prepare(sql)?;
        Ok(self.tx.query(&stmt, params)?)
    }

    /// The first row of a query, if any.
    pub(crate) fn query_opt(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>> {
        let stmt = self.prepare(sql)?;
        Ok(self.tx.query_opt(&stmt, params)?)
    }

    /// The one row of a query (an error when there is none).
    pub(crate) fn query_one(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Row> {
        let stmt = self.prepare(sql)?;
        Ok(self.tx.query_one(&stmt, params)?)
    }

    /// Runs a statement; returns the rows it changed.
    pub(crate) fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        let stmt = self.prepare(sql)?;
        Ok(self.tx.execute(&stmt, params)?)
    }

    /// Commits the transaction.
    pub(crate) fn commit(self) -> Result<()> {
        Ok(self.tx.commit()?)
    }
}

/// Appends one value in `COPY … FROM STDIN` text format.
pub(crate) fn push_copy(line: &mut String, v: &Value) {
    match v {
        Value::Null => line.push_str("\\N"),
        Value::Int(i) => line.push_str(&i.to_string()),
        Value::Real(r) if r.is_finite() => line.push_str(&format!("{r:?}")),
        Value::Real(_) => line.push_str("\\N"),
        Value::Text(t) => {
            for c in t.chars() {
                match c {
                    '\\' => line.push_str("\\\\"),
                    '\n' => line.push_str("\\n"),
                    '\r' => line.push_str("\\r"),
                    '\t' => line.push_str("\\t"),
                    c => line.push(c),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::numbered;

    #[test]
    fn placeholders_are_numbered_outside_quotes() {
        assert_eq!(numbered("a = ? AND b = ? OR c = '?'"), "a = $1 AND b = $2 OR c = '?'");
        assert_eq!(numbered("x = ?1 AND y = ?2 AND z = ?1"), "x = $1 AND y = $2 AND z = $1");
        assert_eq!(numbered("\"we?ird\" = ?"), "\"we?ird\" = $1");
    }
}
