//! A small, blocking connection pool for the synchronous `postgres` client.
//!
//! At most `max_size` connections exist at once. A caller that finds every
//! connection lent out waits on a condition variable up to the acquire timeout,
//! then gets [`Error::Unavailable`] instead of hanging. A connection goes back to
//! the pool when its [`PooledConn`] is dropped (even while a panic unwinds, with
//! any open transaction rolled back by the client); a connection the server
//! closed is discarded rather than lent again. Connections are opened lazily.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};

use super::sql::StatementCache;
use crate::{Error, Result};

/// One connection and its prepared statements.
pub(crate) struct PgConn {
    /// The client.
    pub client: Client,
    /// Statements prepared on this connection.
    pub stmts: StatementCache,
}

struct State {
    idle: Vec<PgConn>,
    /// Connections that exist: idle plus lent.
    open: usize,
}

/// Pool statistics, for tests and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Largest number of connections.
    pub max_size: usize,
    /// Connections open now (idle plus in use).
    pub open: usize,
    /// Connections idle in the pool.
    pub idle: usize,
}

/// The pool.
pub(crate) struct Pool {
    config: postgres::Config,
    max_size: usize,
    acquire_timeout: Duration,
    state: Mutex<State>,
    returned: Condvar,
}

impl Pool {
    /// A pool of at most `max_size` connections made with `config`.
    pub(crate) fn new(config: postgres::Config, max_size: usize, acquire_timeout: Duration) -> Pool {
        Pool {
            config,
            max_size: max_size.max(1),
            acquire_timeout,
            state: Mutex::new(State { idle: Vec::new(), open: 0 }),
            returned: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lends a connection, opening one if the pool is below its size, else
    /// waiting for one to come back.
    pub(crate) fn get(&self) -> Result<PooledConn<'_>> {
        let deadline = Instant::now() + self.acquire_timeout;
        let mut state = self.lock();
        loop {
            while let Some(conn) = state.idle.pop() {
                if conn.client.is_closed() {
                    state.open -= 1;
                    continue;
                }
                return Ok(PooledConn { conn: Some(conn), pool: self });
            }
            if state.open < self.max_size {
                state.open += 1;
                drop(state);
                return match self.config.connect(NoTls) {
                    Ok(client) => {
                        Ok(PooledConn { conn: Some(PgConn { client, stmts: StatementCache::new() }), pool: self })
                    }
                    Err(e) => {
                        self.lock().open -= 1;
                        self.returned.notify_one();
                        Err(Error::Unavailable(format!("cannot connect to PostgreSQL: {e}")))
                    }
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Unavailable(format!(
                    "all {} pooled PostgreSQL connections stayed busy for {:.1} s",
                    self.max_size,
                    self.acquire_timeout.as_secs_f64()
                )));
            }
            state = self.returned.wait_timeout(state, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// Current counts.
    pub(crate) fn status(&self) -> PoolStatus {
        let state = self.lock();
        PoolStatus { max_size: self.max_size, open: state.open, idle: state.idle.len() }
    }

    /// Closes every idle connection (after a schema change, so none keeps
    /// statements prepared against dropped tables).
    pub(crate) fn clear_idle(&self) {
        let mut state = self.lock();
        let n = state.idle.len();
        state.idle.clear();
        state.open -= n;
        drop(state);
        self.returned.notify_all();
    }

    fn give_back(&self, conn: PgConn) {
        let mut state = self.lock();
        if conn.client.is_closed() {
            state.open -= 1;
        } else {
            state.idle.push(conn);
        }
        drop(state);
        self.returned.notify_one();
    }
}

/// A connection lent by the pool; returned on drop.
pub(crate) struct PooledConn<'a> {
    conn: Option<PgConn>,
    pool: &'a Pool,
}

impl PooledConn<'_> {
    /// Drops the connection instead of returning it (after a connection error).
    pub(crate) fn discard(mut self) {
        if self.conn.take().is_some() {
            self.pool.lock().open -= 1;
            self.pool.returned.notify_one();
        }
    }
}

impl std::ops::Deref for PooledConn<'_> {
    type Target = PgConn;

    fn deref(&self) -> &PgConn {
        // `conn` is only taken in `drop` and `discard`, which consume the guard.
        self.conn.as_ref().expect("a lent connection is present until returned")
    }
}

impl std::ops::DerefMut for PooledConn<'_> {
    fn deref_mut(&mut self) -> &mut PgConn {
        self.conn.as_mut().expect("a lent connection is present until returned")
    }
}

impl Drop for PooledConn<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.give_back(conn);
        }
    }
}
