//! The real differences between SQLite's and PostgreSQL's SQL, in one place.
//!
//! Everything else the shared SQL needs is spelled the same by both: `coalesce`
//! (but see [`Dialect::ifnull`]), `RETURNING` (SQLite 3.35+), `CAST(… AS BIGINT)`,
//! `substr`, `LIMIT`, row-value comparisons. Placeholders are written `?`/`?N`
//! and renumbered `$N` by the PostgreSQL connection itself.

use crate::Error;

/// Which SQL a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// The embedded SQLite.
    Sqlite,
    /// PostgreSQL (15+).
    Postgres,
}

impl Dialect {
    /// The two-argument null-coalescing function. SQLite's expression indexes
    /// (the sort indexes of migrations 0004 and 0005) are written with
    /// `ifnull`, and SQLite only uses an expression index for the same spelling;
    /// PostgreSQL has only `coalesce`.
    pub(crate) fn ifnull(self) -> &'static str {
        match self {
            Dialect::Sqlite => "ifnull",
            Dialect::Postgres => "coalesce",
        }
    }

    /// `column` equal to one parameter, ignoring ASCII case.
    pub(crate) fn eq_nocase(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{column} = ? COLLATE NOCASE"),
            Dialect::Postgres => format!("lower({column}) = lower(?)"),
        }
    }

    /// The `LIKE` that ignores ASCII case (SQLite's `LIKE` does; PostgreSQL's does not).
    pub(crate) fn like_nocase(self) -> &'static str {
        match self {
            Dialect::Sqlite => "LIKE",
            Dialect::Postgres => "ILIKE",
        }
    }

    /// `expr` is in the list bound to one parameter ([`super::Arg::Ints`] or
    /// [`super::Arg::Texts`]): one statement and one parameter whatever the
    /// list's length (SQLite expands a JSON array, PostgreSQL takes an array).
    pub(crate) fn in_list(self, expr: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{expr} IN (SELECT value FROM json_each(?))"),
            Dialect::Postgres => format!("{expr} = ANY(?)"),
        }
    }

    /// The day of the week (`'0'` Sunday … `'6'` Saturday, as text) of a
    /// `YYYY-MM-DD…` text date; NULL when it is not a date.
    pub(crate) fn weekday(self, date: &str) -> String {
        match self {
            Dialect::Sqlite => format!("strftime('%w', {date})"),
            Dialect::Postgres => format!(
                "CASE WHEN {date} ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}' \
                 THEN extract(dow FROM substr({date}, 1, 10)::date)::int::text END"
            ),
        }
    }

    /// The larger of two values (SQLite's two-argument `max`).
    pub(crate) fn greatest(self) -> &'static str {
        match self {
            Dialect::Sqlite => "max",
            Dialect::Postgres => "greatest",
        }
    }

    /// The collation suffix that makes a computed text compare bytewise (SQLite's
    /// default; PostgreSQL's columns are `COLLATE "C"`, its literals are not).
    pub(crate) fn bytewise(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " COLLATE \"C\"",
        }
    }

    /// A non-negative number truncated to an integer (PostgreSQL's `CAST`
    /// rounds, SQLite's truncates).
    pub(crate) fn truncate(self, expr: &str) -> String {
        match self {
            Dialect::Sqlite => format!("CAST({expr} AS INTEGER)"),
            Dialect::Postgres => format!("CAST(floor({expr}) AS BIGINT)"),
        }
    }

    /// The index hint for reading stored events by `ev_id` for scoring: SQLite
    /// otherwise picks the unique `ev_id` index (one row per id) and then seeks
    /// the table for the other columns; naming the covering index of migration
    /// 0010 also turns a dropped or renamed index into an error instead of a
    /// slower plan. PostgreSQL plans an index-only scan by itself.
    pub(crate) fn scoring_index(self) -> &'static str {
        match self {
            Dialect::Sqlite => " INDEXED BY events_scoring",
            Dialect::Postgres => "",
        }
    }

    /// The suffix that locks the rows a `SELECT` reads until the transaction
    /// ends. Empty on SQLite, whose write transactions (`BEGIN IMMEDIATE`)
    /// already exclude every other writer.
    pub(crate) fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }

    /// Whether `e` is a violated unique constraint (an insert of a duplicate key).
    pub(crate) fn is_unique_violation(self, e: &Error) -> bool {
        match (self, e) {
            (Dialect::Sqlite, Error::Database(rusqlite::Error::SqliteFailure(f, _))) => {
                f.code == rusqlite::ErrorCode::ConstraintViolation
                    && matches!(
                        f.extended_code,
                        rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    )
            }
            (Dialect::Postgres, Error::Postgres(pg)) => pg.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }
}
