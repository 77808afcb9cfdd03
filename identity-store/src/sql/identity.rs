//! Identities in SQL: the document in `identities`, the unique keys in `identity_identifiers`, role attributes
//! in `identity_role_attributes` for filtering.

use async_trait::async_trait;
use identity_core::time::OffsetDateTime;
use identity_core::{CredentialType, Identity, IdentityId};
use sqlx::{Any, AssertSqlSafe, Row, Transaction};

use super::{SqlStore, col, map_error, map_write_error, micros};
use crate::error::Error;
use crate::identity::{
    AddressKind, IdentityFilter, IdentityStore, check_identity, is_login_credential, key_conflict, normalize_address,
    normalize_identifier, unique_keys, version_conflict,
};
use crate::page::{Page, PageRequest};

pub(super) fn decode_identity(id: &str, document: &str) -> Result<Identity, Error> {
    identity_core::from_json(document).map_err(|e| Error::corrupt("identity", id, e))
}

/// A filtered `WHERE` clause and its bind values, shared by list and count.
struct Where {
    sql: String,
    binds: Vec<String>,
}

impl Where {
    fn new(filter: &IdentityFilter) -> Self {
        let mut clause = Where { sql: String::from("WHERE 1 = 1"), binds: Vec::new() };
        if let Some(identifier) = &filter.credential_identifier {
            // One (type, normalised identifier) pair per login credential type, as the keys were written.
            let mut pairs = Vec::new();
            for kind in CredentialType::ALL.into_iter().filter(|kind| is_login_credential(*kind)) {
                let (a, b) =
                    (clause.bind(kind.as_str().to_owned()), clause.bind(normalize_identifier(kind, identifier)));
                pairs.push(format!("(credential_type = {a} AND identifier = {b})"));
            }
            clause.sql.push_str(&format!(
                " AND i.id IN (SELECT identity_id FROM identity_identifiers WHERE {})",
                pairs.join(" OR ")
            ));
        }
        if let Some(attribute) = &filter.role_attribute {
            let a = clause.bind(attribute.as_str().to_owned());
            clause.sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM identity_role_attributes r WHERE r.identity_id = i.id AND r.attribute = {a})"
            ));
        }
        if let Some(organization) = filter.organization_id {
            let a = clause.bind(organization.to_string());
            clause.sql.push_str(&format!(" AND i.organization_id = {a}"));
        }
        clause
    }

    fn bind(&mut self, value: String) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }
}

/// How [`SqlStore::write_identity`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WriteMode {
    /// A new row; the id must be free.
    Insert,
    /// Replace the row.
    Replace,
    /// Replace the row if its `updated_at` is still this.
    ReplaceIf(OffsetDateTime),
}

impl SqlStore {
    /// Writes the identity's document, identifiers and role attributes inside `tx`, naming the conflict if a
    /// unique key is taken.
    pub(super) async fn write_identity(
        tx: &mut Transaction<'static, Any>,
        identity: &Identity,
        mode: WriteMode,
    ) -> Result<(), Error> {
        let id = identity.id.to_string();
        let document = super::to_document("identity", identity)?;
        let organization = identity.organization_id.map(|o| o.to_string());
        // The id is checked apart (ON CONFLICT below), so a unique violation here is the external id.
        let external_conflict = || Error::conflict("external_id", identity.external_id.clone().unwrap_or_default());
        let sql = match mode {
            WriteMode::Insert => {
                "INSERT INTO identities (id, external_id, organization_id, updated_at, document) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING"
            }
            WriteMode::Replace => {
                "UPDATE identities SET external_id = $2, organization_id = $3, updated_at = $4, document = $5 \
                 WHERE id = $1"
            }
            WriteMode::ReplaceIf(_) => {
                "UPDATE identities SET external_id = $2, organization_id = $3, updated_at = $4, document = $5 \
                 WHERE id = $1 AND updated_at = $6"
            }
        };
        let mut query = sqlx::query(sql)
            .bind(&id)
            .bind(identity.external_id.clone())
            .bind(organization)
            .bind(micros(identity.updated_at))
            .bind(document);
        if let WriteMode::ReplaceIf(expected) = mode {
            query = query.bind(micros(expected));
        }
        let written = query
            .execute(&mut **tx)
            .await
            .map_err(|e| map_write_error(e, external_conflict, || Error::not_found("identity", &id)))?;
        if written.rows_affected() == 0 {
            return Err(match mode {
                WriteMode::Insert => Error::conflict("identity id", &id),
                WriteMode::Replace => Error::not_found("identity", &id),
                WriteMode::ReplaceIf(_) => {
                    let exists = sqlx::query("SELECT id FROM identities WHERE id = $1")
                        .bind(&id)
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err(map_error)?;
                    if exists.is_some() { version_conflict(identity.id) } else { Error::not_found("identity", &id) }
                }
            });
        }
        if mode != WriteMode::Insert {
            for table in ["identity_identifiers", "identity_role_attributes"] {
                sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE identity_id = $1")))
                    .bind(&id)
                    .execute(&mut **tx)
                    .await
                    .map_err(map_error)?;
            }
        }
        // Addresses share the table under kinds no credential type uses (see `unique_keys`).
        for (kind, identifier) in unique_keys(identity) {
            sqlx::query(
                "INSERT INTO identity_identifiers (credential_type, identifier, identity_id) VALUES ($1, $2, $3)",
            )
            .bind(kind)
            .bind(&identifier)
            .bind(&id)
            .execute(&mut **tx)
            .await
            .map_err(|e| {
                map_write_error(e, || key_conflict(kind, &identifier), || Error::not_found("identity", &id))
            })?;
        }
        for attribute in &identity.role_attributes {
            sqlx::query("INSERT INTO identity_role_attributes (identity_id, attribute) VALUES ($1, $2)")
                .bind(&id)
                .bind(attribute.as_str())
                .execute(&mut **tx)
                .await
                .map_err(map_error)?;
        }
        Ok(())
    }

    async fn find_one(&self, sql: &'static str, key: &[&str]) -> Result<Option<Identity>, Error> {
        // No stored key holds NUL (see `check_identity`), and PostgreSQL would refuse the parameter.
        if key.iter().any(|value| value.contains('\0')) {
            return Ok(None);
        }
        let mut query = sqlx::query(sql);
        for value in key {
            query = query.bind(*value);
        }
        let row = query.fetch_optional(self.pool()).await.map_err(map_error)?;
        row.map(|row| {
            let id: String = col(&row, "id")?;
            let document: String = col(&row, "document")?;
            decode_identity(&id, &document)
        })
        .transpose()
    }
}

#[async_trait]
impl IdentityStore for SqlStore {
    async fn create_identity(&self, identity: &Identity) -> Result<(), Error> {
        check_identity(identity)?;
        let mut tx = self.begin_write().await?;
        Self::write_identity(&mut tx, identity, WriteMode::Insert).await?;
        tx.commit().await.map_err(map_error)
    }

    async fn identity(&self, id: IdentityId) -> Result<Identity, Error> {
        let key = id.to_string();
        self.find_one("SELECT id, document FROM identities WHERE id = $1", &[&key])
            .await?
            .ok_or_else(|| Error::not_found("identity", id))
    }

    async fn find_identity_by_identifier(
        &self,
        kind: CredentialType,
        identifier: &str,
    ) -> Result<Option<Identity>, Error> {
        let identifier = normalize_identifier(kind, identifier);
        self.find_one(
            "SELECT i.id, i.document FROM identity_identifiers k JOIN identities i ON i.id = k.identity_id \
             WHERE k.credential_type = $1 AND k.identifier = $2",
            &[kind.as_str(), &identifier],
        )
        .await
    }

    async fn find_identity_by_address(&self, kind: AddressKind, address: &str) -> Result<Option<Identity>, Error> {
        self.find_one(
            "SELECT i.id, i.document FROM identity_identifiers k JOIN identities i ON i.id = k.identity_id \
             WHERE k.credential_type = $1 AND k.identifier = $2",
            &[kind.as_str(), &normalize_address(address)],
        )
        .await
    }

    async fn find_identity_by_external_id(&self, external_id: &str) -> Result<Option<Identity>, Error> {
        self.find_one("SELECT id, document FROM identities WHERE external_id = $1", &[external_id]).await
    }

    async fn list_identities(&self, filter: &IdentityFilter, page: &PageRequest) -> Result<Page<Identity>, Error> {
        page.check()?;
        let mut clause = Where::new(filter);
        if let Some(token) = &page.page_token {
            let after = clause.bind(token.last_id()?.to_string());
            clause.sql.push_str(&format!(" AND i.id > {after}"));
        }
        let size = page.page_size as usize;
        let sql = format!("SELECT i.id, i.document FROM identities i {} ORDER BY i.id LIMIT {}", clause.sql, size + 1);
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for value in clause.binds {
            query = query.bind(value);
        }
        let rows = query.fetch_all(self.pool()).await.map_err(map_error)?;
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = col(&row, "id")?;
            let document: String = col(&row, "document")?;
            items.push(decode_identity(&id, &document)?);
        }
        Ok(Page::from_overfetch(items, size, |identity| *identity.id.as_uuid()))
    }

    async fn count_identities(&self, filter: &IdentityFilter) -> Result<u64, Error> {
        let clause = Where::new(filter);
        let sql = format!("SELECT COUNT(*) AS n FROM identities i {}", clause.sql);
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for value in clause.binds {
            query = query.bind(value);
        }
        let count: i64 = query.fetch_one(self.pool()).await.and_then(|row| row.try_get("n")).map_err(map_error)?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn update_identity(&self, identity: &Identity) -> Result<(), Error> {
        check_identity(identity)?;
        let mut tx = self.begin_write().await?;
        Self::write_identity(&mut tx, identity, WriteMode::Replace).await?;
        tx.commit().await.map_err(map_error)
    }

    async fn update_identity_if_unchanged(
        &self,
        identity: &Identity,
        expected_updated_at: OffsetDateTime,
    ) -> Result<(), Error> {
        check_identity(identity)?;
        let mut tx = self.begin_write().await?;
        Self::write_identity(&mut tx, identity, WriteMode::ReplaceIf(expected_updated_at)).await?;
        tx.commit().await.map_err(map_error)
    }

    async fn delete_identity(&self, id: IdentityId) -> Result<(), Error> {
        // Every table that references an identity cascades, so one statement removes it all atomically.
        let deleted = sqlx::query("DELETE FROM identities WHERE id = $1")
            .bind(id.to_string())
            .execute(self.pool())
            .await
            .map_err(map_error)?;
        if deleted.rows_affected() == 0 {
            return Err(Error::not_found("identity", id));
        }
        Ok(())
    }
}

#[cfg(feature = "testing")]
#[async_trait]
impl crate::testing::Inspect for SqlStore {
    async fn rows_referencing(&self, identity: IdentityId) -> Result<u64, Error> {
        let tables = [
            ("identities", "id"),
            ("identity_identifiers", "identity_id"),
            ("identity_role_attributes", "identity_id"),
            ("sessions", "identity_id"),
            ("flows", "identity_id"),
            ("enrollments", "identity_id"),
            ("one_time_codes", "identity_id"),
            ("oauth2_tokens", "identity_id"),
            ("group_members", "identity_id"),
        ];
        let mut total = 0;
        for (table, column) in tables {
            let count: i64 =
                sqlx::query(AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} = $1")))
                    .bind(identity.to_string())
                    .fetch_one(self.pool())
                    .await
                    .and_then(|row| row.try_get("n"))
                    .map_err(map_error)?;
            total += u64::try_from(count).unwrap_or_default();
        }
        Ok(total)
    }
}
