//! The SQL backends: SQLite (feature `sqlite`) and PostgreSQL (feature `postgres`), one implementation over
//! sqlx's `Any` driver with queries written in the SQL both understand. Queries are checked at run time, so
//! building needs no database.
//!
//! ```no_run
//! # async fn demo() -> Result<(), identity_store::Error> {
//! use identity_store::sql::{SqlOptions, SqlStore};
//!
//! let store = SqlStore::connect(&SqlOptions::new("sqlite://identity.db")).await?;
//! store.migrate().await?;
//! # Ok(()) }
//! ```

mod code;
mod identity;
mod integrity;
mod migrate;
mod oauth2;
mod rbac;
mod session;

use std::time::Duration;

use identity_core::time::OffsetDateTime;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::error::Error;

pub use migrate::LATEST_VERSION;

/// Raw SQL for tests that must put a database in a state the store itself never writes (a newer schema
/// version, a damaged row).
#[cfg(feature = "testing")]
pub mod testing_support {
    use super::{SqlStore, map_error};
    use crate::error::Error;

    /// Runs one statement and returns how many rows it touched.
    pub async fn execute(store: &SqlStore, sql: &str) -> Result<u64, Error> {
        let done = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).execute(store.pool()).await.map_err(map_error)?;
        Ok(done.rows_affected())
    }
}

/// How to reach the database.
#[derive(Clone)]
pub struct SqlOptions {
    /// `sqlite://path/to/file.db` (created when missing), `sqlite::memory:`, or `postgres://user@host/db`.
    pub url: String,
    /// The most connections the pool opens (SQLite in memory always uses one).
    pub max_connections: u32,
    /// How long a caller waits for a free connection before getting [`Error::Unavailable`].
    pub acquire_timeout: Duration,
    /// How long SQLite waits for a lock held by another connection before giving up.
    pub busy_timeout: Duration,
    /// PostgreSQL only: the schema to keep the tables in (created by [`SqlStore::migrate`]); `None` for the
    /// server's default search path.
    pub schema: Option<String>,
}

impl SqlOptions {
    /// Options for `url` with the defaults: 10 connections, 5 s to get one, 5 s SQLite busy timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(5),
            schema: None,
        }
    }
}

impl std::fmt::Debug for SqlOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlOptions")
            .field("url", &redact_password(&self.url))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("busy_timeout", &self.busy_timeout)
            .field("schema", &self.schema)
            .finish()
    }
}

/// `url` with the password of its `user:password@` part replaced, so configurations can be logged.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((credentials, host)) = rest.rsplit_once('@') else { return url.to_owned() };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// Which SQL engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A store in SQLite or PostgreSQL. Cheap to clone; clones share the pool.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    schema: Option<String>,
}

impl SqlStore {
    /// Opens a pool. Does not create or change tables: call [`migrate`](Self::migrate) for that.
    pub async fn connect(options: &SqlOptions) -> Result<Self, Error> {
        install_drivers();
        let (backend, url) = backend_url(&options.url)?;
        let connect: AnyConnectOptions = url.parse().map_err(|e: sqlx::Error| Error::Invalid {
            field: "url",
            reason: format!("not a database URL this build understands: {e}"),
        })?;
        let in_memory = backend == Backend::Sqlite && url.contains(":memory:");
        let max_connections = if in_memory { 1 } else { options.max_connections.max(1) };
        let mut pool = AnyPoolOptions::new().max_connections(max_connections).acquire_timeout(options.acquire_timeout);
        if in_memory {
            // The database lives as long as its one connection: never let the pool close it.
            pool = pool.min_connections(1).idle_timeout(None).max_lifetime(None);
        }
        let busy_ms = options.busy_timeout.as_millis();
        let schema = options.schema.clone();
        if let Some(schema) = &schema
            && !schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(Error::Invalid { field: "schema", reason: "use letters, digits and '_' only".into() });
        }
        let pool = pool
            .after_connect(move |connection, _| {
                let schema = schema.clone();
                Box::pin(async move {
                    match backend {
                        Backend::Sqlite => {
                            // Foreign keys make deletes cascade; WAL lets readers run beside the writer.
                            connection.execute("PRAGMA foreign_keys = ON").await?;
                            connection.execute(sqlx::AssertSqlSafe(format!("PRAGMA busy_timeout = {busy_ms}"))).await?;
                            connection.execute("PRAGMA journal_mode = WAL").await?;
                            connection.execute("PRAGMA synchronous = NORMAL").await?;
                        }
                        Backend::Postgres => {
                            if let Some(schema) = schema {
                                connection.execute(sqlx::AssertSqlSafe(format!("SET search_path TO {schema}"))).await?;
                            }
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(connect)
            .await
            .map_err(map_error)?;
        Ok(Self { pool, backend, schema: options.schema.clone() })
    }

    /// Which engine this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool: later calls fail with [`Error::Unavailable`].
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Runs a `DELETE ... WHERE <instant> <= $1` for lapsed rows and says how many went.
    pub(crate) async fn delete_lapsed(&self, sql: &'static str, now: OffsetDateTime) -> Result<u64, Error> {
        let done = sqlx::query(sql).bind(micros(now)).execute(&self.pool).await.map_err(map_error)?;
        Ok(done.rows_affected())
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`), so
    /// two writers queue on the busy timeout instead of failing when both try to upgrade a read lock.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(map_error),
            Backend::Postgres => self.pool.begin().await.map_err(map_error),
        }
    }
}

fn install_drivers() {
    // Installing twice (or after an embedder installed its own set) is refused by sqlx with an error we can
    // ignore: if our drivers are missing, connecting says so.
    let _ = sqlx::any::install_drivers(&[
        #[cfg(feature = "postgres")]
        sqlx::postgres::any::DRIVER,
        #[cfg(feature = "sqlite")]
        sqlx::sqlite::any::DRIVER,
    ]);
}

fn backend_url(url: &str) -> Result<(Backend, String), Error> {
    let unsupported = |what: &str| Error::Invalid {
        field: "url",
        reason: format!("{what}; this build supports {}", supported_schemes()),
    };
    if url.starts_with("sqlite:") {
        if !cfg!(feature = "sqlite") {
            return Err(unsupported("SQLite support is not compiled in (feature `sqlite`)"));
        }
        // Create the file when it is missing, as an embedded default should.
        let url = if url.contains(":memory:") || url.contains("mode=") {
            url.to_owned()
        } else if url.contains('?') {
            format!("{url}&mode=rwc")
        } else {
            format!("{url}?mode=rwc")
        };
        return Ok((Backend::Sqlite, url));
    }
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        if !cfg!(feature = "postgres") {
            return Err(unsupported("PostgreSQL support is not compiled in (feature `postgres`)"));
        }
        return Ok((Backend::Postgres, url.to_owned()));
    }
    Err(unsupported("unknown database URL scheme"))
}

fn supported_schemes() -> &'static str {
    match (cfg!(feature = "sqlite"), cfg!(feature = "postgres")) {
        (true, true) => "sqlite: and postgres: URLs",
        (true, false) => "sqlite: URLs",
        _ => "postgres: URLs",
    }
}

/// Maps a driver error: unreachable or exhausted backends are retryable, everything else is a backend failure.
/// Unique and foreign-key violations are mapped by the caller, which knows what they mean.
pub(crate) fn map_error(error: sqlx::Error) -> Error {
    if is_unavailable(&error) {
        Error::Unavailable { source: Box::new(error) }
    } else {
        Error::Backend { source: Box::new(error) }
    }
}

fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(database) => {
            let code = database.code();
            let code = code.as_deref().unwrap_or_default();
            #[cfg(feature = "sqlite")]
            if database.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLite's BUSY and LOCKED (another connection holds the lock), READONLY, IOERR, FULL and
                // CANTOPEN (the file or its disk refuses writes: full, read-only, gone), plain or extended. Each
                // is the machine's condition, not the request's, and passes once the operator mends it, as
                // PostgreSQL's "insufficient resources" (53: a full disk too) does.
                return matches!(code.parse::<i32>().map(|c| c & 0xff), Ok(5 | 6 | 8 | 10 | 13 | 14));
            }
            // PostgreSQL: connection exceptions (08), insufficient resources (53), operator intervention (57P),
            // serialization failures and deadlocks (40001, 40P01).
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P")
                || code == "40001"
                || code == "40P01"
        }
        _ => false,
    }
}

/// Whether `error` is a unique-constraint violation.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(database) if database.is_unique_violation())
}

/// Whether `error` is a foreign-key violation.
pub(crate) fn is_foreign_key_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(database) if database.is_foreign_key_violation())
}

/// Maps a write's error: a unique violation becomes `conflict`, a foreign-key violation `missing`.
pub(crate) fn map_write_error(
    error: sqlx::Error,
    conflict: impl FnOnce() -> Error,
    missing: impl FnOnce() -> Error,
) -> Error {
    if is_unique_violation(&error) {
        conflict()
    } else if is_foreign_key_violation(&error) {
        missing()
    } else {
        map_error(error)
    }
}

/// The column `name` of `row`. A value that does not decode as `T` (a row written by something else) is
/// [`Error::Corrupt`], not a backend failure.
pub(crate) fn col<T>(row: &sqlx::any::AnyRow, name: &str) -> Result<T, Error>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    use sqlx::Row as _;
    row.try_get(name).map_err(|error| match error {
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => Error::corrupt("row", name, error),
        other => map_error(other),
    })
}

/// An instant as stored: microseconds since the Unix epoch, clamped to the range of `i64`.
pub(crate) fn micros(instant: OffsetDateTime) -> i64 {
    i64::try_from(instant.unix_timestamp_nanos() / 1_000).unwrap_or(if instant.unix_timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// A domain object as stored.
pub(crate) fn to_document<T: Serialize>(what: &'static str, value: &T) -> Result<String, Error> {
    serde_json::to_string(value)
        .map_err(|e| Error::Backend { source: format!("cannot serialise a {what}: {e}").into() })
}

/// A stored document decoded; [`Error::Corrupt`] if it does not decode.
pub(crate) fn from_document<T: DeserializeOwned>(what: &'static str, id: &str, document: &str) -> Result<T, Error> {
    serde_json::from_str(document).map_err(|e| Error::corrupt(what, id, e))
}

/// A stored 32-byte hash decoded.
pub(crate) fn hash_from_bytes(what: &'static str, bytes: Vec<u8>) -> Result<identity_core::TokenHash, Error> {
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| Error::corrupt(what, "?", "the hash is not 32 bytes"))?;
    Ok(identity_core::TokenHash::from_bytes(bytes))
}

/// A stored instant decoded.
pub(crate) fn instant(what: &'static str, micros: i64) -> Result<OffsetDateTime, Error> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).map_err(|e| Error::corrupt(what, micros, e))
}
