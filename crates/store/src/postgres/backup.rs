//! Backup and restore of a PostgreSQL store (see [`crate::backup`] for the format).
//!
//! The dump reads every table in one `REPEATABLE READ READ ONLY` transaction: one
//! snapshot, no locks that block loads or queries. The restore runs in one
//! transaction under the writers' advisory lock: `TRUNCATE` every table, `COPY`
//! each file in, move the id sequences past the restored ids, check the content
//! checksums against the manifest, and only then commit. Column names in SQL come
//! from the database catalog (checked equal to the backup's), table names from the
//! static [`TABLES`] list.

use std::io::Write;

use ntsb_model::records::Record;
use ntsb_model::value::Value;
use postgres::IsolationLevel;
use postgres::fallible_iterator::FallibleIterator;

use super::sql::{Db, push_copy, value_at};
use super::{PostgresStore, TAKE_WRITE_LOCK, WRITE_LOCK, bump_data_version, checksum_table, pool};
use crate::backup::{DumpInfo, RowSink, RowSource, TABLES, check_columns, compare_checksums};
use crate::{Error, Result};

/// Columns of `table` in the current schema, in table order.
fn columns(db: &mut Db<'_, '_>, table: &str) -> Result<Vec<String>> {
    let rows = db.query(
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = ?1 ORDER BY ordinal_position",
        &[&table],
    )?;
    let cols: Vec<String> = rows.iter().map(|r| r.try_get(0)).collect::<std::result::Result<_, _>>()?;
    if cols.is_empty() {
        return Err(Error::Corrupt(format!("table {table} does not exist in the database")));
    }
    Ok(cols)
}

/// A column name as an SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Streams every backup table from one snapshot.
pub(super) fn dump(store: &PostgresStore, sink: &mut dyn RowSink) -> Result<DumpInfo> {
    let mut conn = store.pool.get()?;
    store.check_ready(&mut conn)?;
    let pool::PgConn { client, stmts } = &mut *conn;
    let tx = client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start()?;
    let mut db = Db::new(tx, stmts);
    db.tx.batch_execute("SET LOCAL statement_timeout = 0")?;
    let schema_version: i64 =
        db.query_one("SELECT max(version) FROM schema_migrations", &[])?.try_get::<_, Option<i64>>(0)?.unwrap_or(0);
    for table in TABLES {
        let cols = columns(&mut db, table.name)?;
        sink.begin_table(table.name, &cols)?;
        let list: Vec<String> = cols.iter().map(|c| ident(c)).collect();
        let sql = format!("SELECT {} FROM {} ORDER BY {}", list.join(", "), table.name, table.order_by);
        let stmt = db.tx.prepare(&sql)?;
        let mut rows = db.tx.query_raw(&stmt, std::iter::empty::<&(dyn postgres::types::ToSql + Sync)>())?;
        let mut values = Vec::with_capacity(cols.len());
        while let Some(row) = rows.next()? {
            values.clear();
            for i in 0..cols.len() {
                values.push(value_at(&row, i)?);
            }
            sink.row(&values)?;
        }
        sink.end_table()?;
    }
    let content_checksums =
        Record::ALL_SPECS.iter().map(|spec| checksum_table(&mut db, spec)).collect::<Result<_>>()?;
    db.commit()?;
    Ok(DumpInfo { schema_version, backend: "postgres".into(), content_checksums })
}

/// Replaces every backup table with the source's rows, in one transaction.
pub(super) fn restore(store: &PostgresStore, source: &mut dyn RowSource) -> Result<()> {
    let mut conn = store.pool.get()?;
    store.check_ready(&mut conn)?;
    let pool::PgConn { client, stmts } = &mut *conn;
    let tx = client.transaction()?;
    let mut db = Db::new(tx, stmts);
    // No timeout for the whole restore; cached plans for the foreign-key check of
    // every copied row (see `write_batch`).
    db.tx.batch_execute("SET LOCAL statement_timeout = 0; SET LOCAL plan_cache_mode = auto")?;
    db.execute(TAKE_WRITE_LOCK, &[&WRITE_LOCK])?;
    // The data version must never go back: keep counting from the current one.
    let before: Option<String> = match db.query_opt("SELECT value FROM store_meta WHERE key = 'data_version'", &[])? {
        Some(row) => row.try_get(0)?,
        None => None,
    };
    // Tables an older backup format lacks are left as they are.
    let restored: Vec<_> = TABLES.iter().filter(|t| source.has_table(t.name)).collect();
    let mut names: Vec<&str> = restored.iter().map(|t| t.name).chain(["event_facts", "event_documents"]).collect();
    // Dashboard sessions are never backed up: restoring the accounts ends every
    // session (they refer to users; a schema before migration 0013 has none).
    if restored.iter().any(|t| t.name == "users")
        && db.query_opt("SELECT 1 WHERE to_regclass('web_sessions') IS NOT NULL", &[])?.is_some()
    {
        names.push("web_sessions");
    }
    db.tx.batch_execute(&format!("TRUNCATE {}", names.join(", ")))?;
    let mut line = String::new();
    for table in restored {
        let target = columns(&mut db, table.name)?;
        let backup = source.columns(table.name)?;
        check_columns(table.name, &target, &backup)?;
        // Names as the catalog spells them, in the backup's order.
        let ordered: Vec<String> =
            backup.iter().filter_map(|b| target.iter().find(|t| *t == b)).map(|c| ident(c)).collect();
        let copy = format!("COPY {} ({}) FROM STDIN", table.name, ordered.join(", "));
        let mut writer = db.tx.copy_in(&copy)?;
        source.rows(table.name, &mut |values: Vec<Value>| {
            line.clear();
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    line.push('\t');
                }
                push_copy(&mut line, v);
            }
            line.push('\n');
            writer.write_all(line.as_bytes()).map_err(|e| Error::Backup {
                path: format!("{}.jsonl", table.name),
                reason: format!("copy failed: {e}"),
            })
        })?;
        writer.finish()?;
        // Serial and identity columns continue after the restored rows.
        for serial in ["id", "seq"] {
            if !target.iter().any(|c| c == serial) {
                continue;
            }
            let sequence: Option<String> =
                db.query_one("SELECT pg_get_serial_sequence(?1, ?2)", &[&table.name, &serial])?.try_get(0)?;
            if sequence.is_some() {
                db.tx.batch_execute(&format!(
                    "SELECT setval(pg_get_serial_sequence('{t}', '{serial}'), coalesce(max({serial}), 0) + 1, false) FROM {t}",
                    t = table.name
                ))?;
            }
        }
    }
    if let Some(before) = before {
        db.execute(
            "INSERT INTO store_meta (key, value) VALUES ('data_version', ?1) \
             ON CONFLICT (key) DO UPDATE SET value = ?1",
            &[&before],
        )?;
    }
    // A restore starts a new data lineage (see `Store::store_id`).
    db.execute(
        "INSERT INTO store_meta (key, value) VALUES ('store_id', md5(random()::text || clock_timestamp()::text)) \
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        &[],
    )?;
    bump_data_version(&mut db)?;
    let found: Vec<_> = Record::ALL_SPECS.iter().map(|spec| checksum_table(&mut db, spec)).collect::<Result<_>>()?;
    compare_checksums(&found, source.expected_checksums())?;
    db.commit()?;
    // Statements prepared before the TRUNCATE stay valid; nothing else to reset.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_separators_and_marks_null() {
        let mut line = String::new();
        for (i, v) in
            [Value::Null, Value::Int(3), Value::Real(0.1), Value::Text("a\tb\\c\nd".into())].iter().enumerate()
        {
            if i > 0 {
                line.push('\t');
            }
            push_copy(&mut line, v);
        }
        assert_eq!(line, "\\N\t3\t0.1\ta\\tb\\\\c\\nd");
    }
}
