//! Backup and restore of a SQLite store (see [`crate::backup`] for the format).
//!
//! The dump reads every table inside one read transaction on a read-only pooled
//! connection: in WAL mode that is one snapshot, and the writer goes on meanwhile.
//! The restore runs in one `BEGIN IMMEDIATE` transaction on the writing
//! connection: delete every table's rows, insert the backup's, check the content
//! checksums against the manifest, and only then commit. Column names in SQL come
//! from the schema (checked equal to the backup's), table names from the static
//! [`TABLES`] list.

use ntsb_model::records::Record;
use ntsb_model::value::Value;
use rusqlite::{Connection, ToSql, TransactionBehavior};

use super::upsert::{Sql, value_at};
use super::{SqliteStore, checksum_table, migrations};
use crate::backup::{DumpInfo, RowSink, RowSource, TABLES, check_columns, compare_checksums};
use crate::{Error, Result};

/// Columns of `table`, in table order.
fn columns(conn: &Connection, table: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?;
    let cols: Vec<String> = stmt.query_map([table], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    if cols.is_empty() {
        return Err(Error::Corrupt(format!("table {table} does not exist in the database")));
    }
    Ok(cols)
}

/// A column name as an SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn dump_in(conn: &Connection, sink: &mut dyn RowSink) -> Result<DumpInfo> {
    let schema_version = migrations::current_version(conn)?;
    for table in TABLES {
        let cols = columns(conn, table.name)?;
        sink.begin_table(table.name, &cols)?;
        let list: Vec<String> = cols.iter().map(|c| ident(c)).collect();
        let sql = format!("SELECT {} FROM {} ORDER BY {}", list.join(", "), table.name, table.order_by);
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        let mut values = Vec::with_capacity(cols.len());
        while let Some(row) = rows.next()? {
            values.clear();
            for i in 0..cols.len() {
                values.push(value_at(row, i)?);
            }
            sink.row(&values)?;
        }
        sink.end_table()?;
    }
    let content_checksums =
        Record::ALL_SPECS.iter().map(|spec| checksum_table(conn, spec)).collect::<Result<Vec<_>>>()?;
    Ok(DumpInfo { schema_version, backend: "sqlite".into(), content_checksums })
}

/// Streams every backup table from one snapshot.
pub(super) fn dump(store: &SqliteStore, sink: &mut dyn RowSink) -> Result<DumpInfo> {
    let conn = store.reader()?;
    conn.execute_batch("BEGIN")?;
    let result = dump_in(&conn, sink);
    // A read transaction: ending it can only fail if it was never begun.
    let end = conn.execute_batch(if result.is_ok() { "COMMIT" } else { "ROLLBACK" });
    let info = result?;
    end?;
    Ok(info)
}

/// Replaces every backup table with the source's rows, in one transaction.
pub(super) fn restore(store: &SqliteStore, source: &mut dyn RowSource) -> Result<()> {
    let mut conn = store.ready()?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Derived tables first, so the triggers that keep them find nothing to update.
    tx.execute("DELETE FROM event_facts", [])?;
    tx.execute("DELETE FROM event_documents", [])?;
    // Tables an older backup format lacks are left as they are.
    let restored: Vec<_> = TABLES.iter().filter(|t| source.has_table(t.name)).collect();
    for table in restored.iter().rev() {
        tx.execute(&format!("DELETE FROM {}", table.name), [])?;
    }
    for table in restored {
        let target = columns(&tx, table.name)?;
        let backup = source.columns(table.name)?;
        check_columns(table.name, &target, &backup)?;
        let ordered: Vec<String> =
            backup.iter().filter_map(|b| target.iter().find(|t| *t == b)).map(|c| ident(c)).collect();
        let marks = vec!["?"; ordered.len()].join(", ");
        let sql = format!("INSERT INTO {} ({}) VALUES ({marks})", table.name, ordered.join(", "));
        let mut stmt = tx.prepare(&sql)?;
        source.rows(table.name, &mut |values: Vec<Value>| {
            let params: Vec<Sql> = values.iter().map(Sql).collect();
            let refs: Vec<&dyn ToSql> = params.iter().map(|p| p as &dyn ToSql).collect();
            stmt.execute(refs.as_slice())?;
            Ok(())
        })?;
    }
    let found = Record::ALL_SPECS.iter().map(|spec| checksum_table(&tx, spec)).collect::<Result<Vec<_>>>()?;
    compare_checksums(&found, source.expected_checksums())?;
    // A restore starts a new data lineage (see `Store::store_id`).
    tx.execute("INSERT OR REPLACE INTO store_meta (key, value) VALUES ('store_id', lower(hex(randomblob(16))))", [])?;
    tx.commit()?;
    drop(conn);
    store.committed();
    Ok(())
}
