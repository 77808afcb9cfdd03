//! A check of the database file itself, for operators after a crash and for the fault tests.

use sqlx::Row;

use super::{Backend, SqlStore, map_error};
use crate::error::Error;

impl SqlStore {
    /// Checks that the database is whole: on SQLite, `PRAGMA integrity_check` (pages, indexes, constraints)
    /// and `PRAGMA foreign_key_check`; on PostgreSQL, which keeps its own files consistent through its
    /// write-ahead log, only that a query answers. A damaged database is [`Error::Corrupt`] with SQLite's
    /// findings as the reason.
    pub async fn check_integrity(&self) -> Result<(), Error> {
        match self.backend {
            Backend::Sqlite => {
                let rows = sqlx::query("PRAGMA integrity_check").fetch_all(self.pool()).await.map_err(map_error)?;
                let findings: Vec<String> = rows.iter().filter_map(|row| row.try_get::<String, _>(0).ok()).collect();
                if findings != ["ok"] {
                    return Err(Error::corrupt("database", "integrity_check", findings.join("; ")));
                }
                // Foreign keys are enforced per connection; a row written without them would show here.
                let orphans =
                    sqlx::query("PRAGMA foreign_key_check").fetch_all(self.pool()).await.map_err(map_error)?;
                if !orphans.is_empty() {
                    let tables: Vec<String> =
                        orphans.iter().filter_map(|row| row.try_get::<String, _>(0).ok()).collect();
                    return Err(Error::corrupt("database", "foreign_key_check", tables.join(", ")));
                }
                Ok(())
            }
            Backend::Postgres => {
                sqlx::query("SELECT 1").execute(self.pool()).await.map_err(map_error)?;
                Ok(())
            }
        }
    }
}
