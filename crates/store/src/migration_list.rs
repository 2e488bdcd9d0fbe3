//! The schema migrations, listed once for both backends: each has a pair of
//! scripts per backend (`crates/store/migrations/{sqlite,postgres}/NNNN_name.{up,down}.sql`)
//! with the same version and name, embedded in the binary. A new migration is one
//! line here and its four scripts; each backend's `migrations.rs` applies its own
//! list (SQLite's and PostgreSQL's DDL, transactions and locking differ).

/// One schema migration.
pub(crate) struct Migration {
    /// Version number, increasing from 1.
    pub version: i64,
    /// Short name.
    pub name: &'static str,
    /// Script that applies it.
    pub up: &'static str,
    /// Script that undoes it.
    pub down: &'static str,
}

/// Declares [`SQLITE`] and [`POSTGRES`] from one list of `version name file;`.
macro_rules! migrations {
    ($($version:literal $name:literal $file:literal;)*) => {
        /// Every SQLite migration, in version order.
        pub(crate) const SQLITE: &[Migration] = &[$(Migration {
            version: $version,
            name: $name,
            up: include_str!(concat!("../migrations/sqlite/", $file, ".up.sql")),
            down: include_str!(concat!("../migrations/sqlite/", $file, ".down.sql")),
        }),*];
        /// Every PostgreSQL migration, in version order.
        pub(crate) const POSTGRES: &[Migration] = &[$(Migration {
            version: $version,
            name: $name,
            up: include_str!(concat!("../migrations/postgres/", $file, ".up.sql")),
            down: include_str!(concat!("../migrations/postgres/", $file, ".down.sql")),
        }),*];
    };
}

migrations! {
    1 "core" "0001_core";
    2 "ledger" "0002_ledger";
    3 "index_queue_meta" "0003_index_queue_meta";
    4 "query_indexes" "0004_query_indexes";
    5 "event_facts_first_aircraft" "0005_event_facts_first_aircraft";
    6 "accounts" "0006_accounts";
    7 "index_log" "0007_index_log";
    8 "event_documents" "0008_event_documents";
    9 "event_documents_postgres" "0009_event_documents_postgres";
    10 "scoring_indexes" "0010_scoring_indexes";
    12 "change_log" "0012_change_log";
    13 "web_sessions" "0013_web_sessions";
    14 "documents_file_names" "0014_documents_file_names";
    15 "stream_state" "0015_stream_state";
}
