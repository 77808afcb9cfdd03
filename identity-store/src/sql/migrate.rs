//! Versioned migrations, embedded in the binary and run only when asked ([`SqlStore::migrate`]).

use sqlx::{AssertSqlSafe, Executor, Row};

use super::{Backend, SqlStore, map_error};
use crate::error::Error;

/// The migrations, oldest first: (version, SQL template).
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_initial.sql")),
    (2, include_str!("migrations/0002_address_keys.sql")),
    (3, include_str!("migrations/0003_oauth2_documents.sql")),
];

/// The newest schema version this build knows.
pub const LATEST_VERSION: i64 = 3;

/// The version from which addresses are indexed (see [`backfill_address_keys`]).
const ADDRESS_KEYS: i64 = 2;

impl SqlStore {
    /// Brings the database to [`LATEST_VERSION`]. Idempotent; safe to run from several replicas at once (they
    /// queue on a lock). Refuses a database that a newer build has migrated past this one
    /// ([`Error::SchemaTooNew`]).
    pub async fn migrate(&self) -> Result<(), Error> {
        let mut tx = self.begin_write().await?;
        if let Backend::Postgres = self.backend {
            // One migrator at a time across replicas; the lock ends with the transaction.
            tx.execute("SELECT pg_advisory_xact_lock(7264914011)").await.map_err(map_error)?;
            if let Some(schema) = &self.schema {
                // `connect` checked the name's characters, so it can be spliced in.
                tx.execute(AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS {schema}"))).await.map_err(map_error)?;
            }
        }
        tx.execute(
            "CREATE TABLE IF NOT EXISTS identity_store_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .await
        .map_err(map_error)?;
        let current: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) AS version FROM identity_store_migrations")
            .fetch_one(&mut *tx)
            .await
            .and_then(|row| row.try_get("version"))
            .map_err(map_error)?;
        if current > LATEST_VERSION {
            return Err(Error::SchemaTooNew { found: current, supported: LATEST_VERSION });
        }
        for (version, template) in MIGRATIONS.iter().filter(|(version, _)| *version > current) {
            for statement in statements(template, self.backend) {
                tx.execute(AssertSqlSafe(statement)).await.map_err(map_error)?;
            }
            if *version == ADDRESS_KEYS {
                backfill_address_keys(&mut tx).await?;
            }
            sqlx::query("INSERT INTO identity_store_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(*version)
                .bind(super::micros(identity_core::time::OffsetDateTime::now_utc()))
                .execute(&mut *tx)
                .await
                .map_err(map_error)?;
        }
        tx.commit().await.map_err(map_error)
    }

    /// Checks that the database is at exactly the schema version this build knows, for servers that do not
    /// migrate on start: [`Error::SchemaTooNew`] if a newer build migrated it, [`Error::SchemaTooOld`] if it
    /// needs [`migrate`](Self::migrate).
    pub async fn check_schema(&self) -> Result<(), Error> {
        let found = self.schema_version().await?;
        if found > LATEST_VERSION {
            return Err(Error::SchemaTooNew { found, supported: LATEST_VERSION });
        }
        if found < LATEST_VERSION {
            return Err(Error::SchemaTooOld { found, required: LATEST_VERSION });
        }
        Ok(())
    }

    /// The schema version the database is at (0 before the first migration).
    pub async fn schema_version(&self) -> Result<i64, Error> {
        let exists = match self.backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'identity_store_migrations'"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) AS n FROM pg_tables WHERE tablename = 'identity_store_migrations' \
                 AND schemaname = current_schema()"
            }
        };
        let found: i64 =
            sqlx::query(exists).fetch_one(self.pool()).await.and_then(|row| row.try_get("n")).map_err(map_error)?;
        if found == 0 {
            return Ok(0);
        }
        sqlx::query("SELECT COALESCE(MAX(version), 0) AS version FROM identity_store_migrations")
            .fetch_one(self.pool())
            .await
            .and_then(|row| row.try_get("version"))
            .map_err(map_error)
    }
}

/// Indexes the recovery and verifiable addresses of the identities stored before version 2. Where two of them
/// share an address, the first keeps it; the other's next update reports the conflict.
async fn backfill_address_keys(tx: &mut sqlx::Transaction<'static, sqlx::Any>) -> Result<(), Error> {
    let rows = sqlx::query("SELECT id, document FROM identities").fetch_all(&mut **tx).await.map_err(map_error)?;
    for row in rows {
        let id: String = super::col(&row, "id")?;
        let document: String = super::col(&row, "document")?;
        let identity = super::identity::decode_identity(&id, &document)?;
        let addresses =
            crate::identity::unique_keys(&identity).into_iter().filter(|(kind, _)| kind.ends_with("_address"));
        for (kind, value) in addresses {
            sqlx::query(
                "INSERT INTO identity_identifiers (credential_type, identifier, identity_id) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(kind)
            .bind(value)
            .bind(&id)
            .execute(&mut **tx)
            .await
            .map_err(map_error)?;
        }
    }
    Ok(())
}

/// The template's statements for `backend`, comments dropped.
fn statements(template: &str, backend: Backend) -> Vec<String> {
    let (bytes, id) = match backend {
        Backend::Sqlite => ("BLOB", "TEXT"),
        Backend::Postgres => ("BYTEA", "TEXT COLLATE \"C\""),
    };
    let without_comments: String =
        template.lines().filter(|line| !line.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n");
    without_comments
        .split(';')
        .map(str::trim)
        .filter(|statement| !statement.is_empty())
        .map(|statement| statement.replace("BYTES", bytes).replace(" ID ", &format!(" {id} ")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_become_backend_statements() {
        let sqlite = statements(MIGRATIONS[0].1, Backend::Sqlite);
        let postgres = statements(MIGRATIONS[0].1, Backend::Postgres);
        assert_eq!(sqlite.len(), postgres.len());
        assert!(sqlite.iter().all(|s| !s.contains("BYTES") && !s.contains(" ID ") && !s.contains("--")));
        assert!(postgres.iter().any(|s| s.contains("token_hash BYTEA")));
        assert!(postgres.iter().any(|s| s.contains("id TEXT COLLATE \"C\" PRIMARY KEY")));
        assert_eq!(LATEST_VERSION, MIGRATIONS.last().map(|m| m.0).unwrap_or_default());
    }
}
