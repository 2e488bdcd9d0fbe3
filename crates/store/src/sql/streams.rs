//! [`Streams`] written once for every [`SqlStore`] (both backends speak the same
//! `INSERT … ON CONFLICT … DO UPDATE … WHERE` upsert).

use super::{Conn, SqlStore, args};
use crate::Result;
use crate::streams::{Cursor, Streams};

const UPSERT_CURSOR: &str = "INSERT INTO stream_cursors (stream, part, position, updated_at) VALUES (?1, ?2, ?3, ?4) \
     ON CONFLICT (stream, part) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at";

/// Takes the lease when it is free, ours, or expired; changes no row otherwise.
const ACQUIRE: &str = "INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?3) \
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
     WHERE leases.holder = excluded.holder OR leases.expires_at < ?4";

const HOLDS: &str = "SELECT count(*) FROM leases WHERE name = ?1 AND holder = ?2 AND expires_at >= ?3";

/// Stores positions inside an open write transaction (the one that wrote what
/// they stand for).
pub(crate) fn save_cursors(db: &mut dyn Conn, cursors: &[Cursor]) -> Result<()> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    for c in cursors {
        db.execute(UPSERT_CURSOR, &args![c.stream.as_str(), c.part, c.position, now.as_str()])?;
    }
    Ok(())
}

impl<S: SqlStore> Streams for S {
    fn cursors(&self, stream: &str) -> Result<Vec<Cursor>> {
        self.read(|db| {
            db.query(
                "SELECT stream, part, position FROM stream_cursors WHERE stream = ?1 ORDER BY part",
                &args![stream],
                |r| Ok(Cursor { stream: r.get(0)?, part: r.get(1)?, position: r.get(2)? }),
            )
        })
    }

    fn save_cursor(&self, cursor: &Cursor, lease: Option<(&str, &str)>, now_ms: i64) -> Result<bool> {
        self.write(|db| {
            if let Some((name, holder)) = lease {
                let held: i64 = db.scalar(HOLDS, &args![name, holder, now_ms])?;
                if held == 0 {
                    return Ok(false);
                }
            }
            save_cursors(db, std::slice::from_ref(cursor))?;
            Ok(true)
        })
    }

    fn acquire_lease(&self, name: &str, holder: &str, ttl_ms: i64, now_ms: i64) -> Result<bool> {
        self.write(|db| {
            db.execute(ACQUIRE, &args![name, holder, now_ms.saturating_add(ttl_ms), now_ms])?;
            let held: i64 = db.scalar(HOLDS, &args![name, holder, now_ms])?;
            Ok(held > 0)
        })
    }

    fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        self.write(|db| db.execute("DELETE FROM leases WHERE name = ?1 AND holder = ?2", &args![name, holder]))?;
        Ok(())
    }
}
