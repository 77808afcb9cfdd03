//! OAuth2 clients and their codes and tokens in SQL; tokens cascade with their client and their identity.

use async_trait::async_trait;
use identity_core::{GrantId, IdentityId, TokenHash, time::OffsetDateTime};
use sqlx::any::AnyRow;

use super::{SqlStore, col, from_document, hash_from_bytes, instant, map_error, map_write_error, micros, to_document};
use crate::error::Error;
use crate::oauth2::{ClientRecord, OAuth2Store, StoredDocument, TokenKind, TokenRecord};
use serde_json::Value;

fn decode_client(row: &AnyRow) -> Result<ClientRecord, Error> {
    let client_id: String = col(row, "client_id")?;
    let document: String = col(row, "document")?;
    Ok(ClientRecord {
        document: from_document("client", &client_id, &document)?,
        created_at: instant("client", col(row, "created_at")?)?,
        updated_at: instant("client", col(row, "updated_at")?)?,
        client_id,
    })
}

fn decode_token(row: &AnyRow) -> Result<TokenRecord, Error> {
    let grant: String = col(row, "grant_id")?;
    let corrupt = |reason: &str| Error::corrupt("token", &grant, reason);
    let kind: String = col(row, "kind")?;
    let identity_id: Option<String> = col(row, "identity_id")?;
    let document: String = col(row, "document")?;
    Ok(TokenRecord {
        hash: hash_from_bytes("token", col(row, "hash")?)?,
        kind: TokenKind::parse(&kind).ok_or_else(|| corrupt("unknown kind"))?,
        client_id: col(row, "client_id")?,
        identity_id: identity_id.map(|i| i.parse()).transpose().map_err(|_| corrupt("bad identity id"))?,
        grant_id: grant.parse().map_err(|_| corrupt("bad grant id"))?,
        created_at: instant("token", col(row, "created_at")?)?,
        expires_at: instant("token", col(row, "expires_at")?)?,
        document: from_document("token", &grant, &document)?,
    })
}

#[async_trait]
impl OAuth2Store for SqlStore {
    async fn create_client(&self, client: &ClientRecord) -> Result<(), Error> {
        sqlx::query("INSERT INTO oauth2_clients (client_id, created_at, updated_at, document) VALUES ($1, $2, $3, $4)")
            .bind(client.client_id.clone())
            .bind(micros(client.created_at))
            .bind(micros(client.updated_at))
            .bind(to_document("client", &client.document)?)
            .execute(self.pool())
            .await
            .map_err(|e| {
                map_write_error(
                    e,
                    || Error::conflict("client id", &client.client_id),
                    || Error::not_found("client", &client.client_id),
                )
            })?;
        Ok(())
    }

    async fn client(&self, client_id: &str) -> Result<ClientRecord, Error> {
        let row =
            sqlx::query("SELECT client_id, created_at, updated_at, document FROM oauth2_clients WHERE client_id = $1")
                .bind(client_id)
                .fetch_optional(self.pool())
                .await
                .map_err(map_error)?;
        row.as_ref().map(decode_client).transpose()?.ok_or_else(|| Error::not_found("client", client_id))
    }

    async fn list_clients(&self) -> Result<Vec<ClientRecord>, Error> {
        let rows =
            sqlx::query("SELECT client_id, created_at, updated_at, document FROM oauth2_clients ORDER BY client_id")
                .fetch_all(self.pool())
                .await
                .map_err(map_error)?;
        rows.iter().map(decode_client).collect()
    }

    async fn update_client(&self, client: &ClientRecord) -> Result<(), Error> {
        let done = sqlx::query(
            "UPDATE oauth2_clients SET created_at = $2, updated_at = $3, document = $4 WHERE client_id = $1",
        )
        .bind(client.client_id.clone())
        .bind(micros(client.created_at))
        .bind(micros(client.updated_at))
        .bind(to_document("client", &client.document)?)
        .execute(self.pool())
        .await
        .map_err(map_error)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("client", &client.client_id));
        }
        Ok(())
    }

    async fn delete_client(&self, client_id: &str) -> Result<(), Error> {
        let done = sqlx::query("DELETE FROM oauth2_clients WHERE client_id = $1")
            .bind(client_id)
            .execute(self.pool())
            .await
            .map_err(map_error)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("client", client_id));
        }
        Ok(())
    }

    async fn insert_token(&self, token: &TokenRecord) -> Result<(), Error> {
        // Inserted only if the client exists, in one statement: no row means no client.
        let inserted = sqlx::query(
            "INSERT INTO oauth2_tokens (hash, kind, client_id, identity_id, grant_id, created_at, expires_at, document) \
             SELECT $1, $2, c.client_id, $4, $5, $6, $7, $8 FROM oauth2_clients c WHERE c.client_id = $3",
        )
        .bind(token.hash.as_bytes().to_vec())
        .bind(token.kind.as_str())
        .bind(token.client_id.clone())
        .bind(token.identity_id.map(|i| i.to_string()))
        .bind(token.grant_id.to_string())
        .bind(micros(token.created_at))
        .bind(micros(token.expires_at))
        .bind(to_document("token", &token.document)?)
        .execute(self.pool())
        .await
        .map_err(|e| {
            map_write_error(
                e,
                || Error::conflict("token", token.kind.as_str()),
                || Error::not_found("identity", token.identity_id.map(|i| i.to_string()).unwrap_or_default()),
            )
        })?;
        if inserted.rows_affected() == 0 {
            return Err(Error::not_found("client", &token.client_id));
        }
        Ok(())
    }

    async fn find_token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>, Error> {
        let row = sqlx::query(
            "SELECT hash, kind, client_id, identity_id, grant_id, created_at, expires_at, document \
             FROM oauth2_tokens WHERE hash = $1",
        )
        .bind(hash.as_bytes().to_vec())
        .fetch_optional(self.pool())
        .await
        .map_err(map_error)?;
        row.as_ref().map(decode_token).transpose()
    }

    async fn consume_token(&self, hash: &TokenHash, now: OffsetDateTime) -> Result<Option<TokenRecord>, Error> {
        let row = sqlx::query(
            "DELETE FROM oauth2_tokens WHERE hash = $1 AND expires_at > $2 \
             RETURNING hash, kind, client_id, identity_id, grant_id, created_at, expires_at, document",
        )
        .bind(hash.as_bytes().to_vec())
        .bind(micros(now))
        .fetch_optional(self.pool())
        .await
        .map_err(map_error)?;
        row.as_ref().map(decode_token).transpose()
    }

    async fn revoke_grant(&self, grant: GrantId) -> Result<u64, Error> {
        self.delete_tokens("DELETE FROM oauth2_tokens WHERE grant_id = $1", grant.to_string()).await
    }

    async fn revoke_tokens_of(&self, identity: IdentityId) -> Result<u64, Error> {
        self.delete_tokens("DELETE FROM oauth2_tokens WHERE identity_id = $1", identity.to_string()).await
    }

    async fn delete_expired_tokens(&self, now: OffsetDateTime) -> Result<u64, Error> {
        self.delete_lapsed("DELETE FROM oauth2_tokens WHERE expires_at <= $1", now).await
    }

    async fn put_document(
        &self,
        kind: &str,
        name: &str,
        document: &Value,
        expected_version: Option<u64>,
    ) -> Result<u64, Error> {
        let text = to_document("document", document)?;
        let Some(expected) = expected_version else {
            sqlx::query("INSERT INTO oauth2_documents (kind, name, version, document) VALUES ($1, $2, 1, $3)")
                .bind(kind)
                .bind(name)
                .bind(text)
                .execute(self.pool())
                .await
                .map_err(|e| {
                    map_write_error(e, || Error::conflict("document", name), || Error::not_found("document", name))
                })?;
            return Ok(1);
        };
        let version = i64::try_from(expected).map_err(|_| Error::conflict("document version", name))?;
        // Compare and swap in one statement: of two replicas replacing version v, one matches no row.
        let done = sqlx::query(
            "UPDATE oauth2_documents SET version = version + 1, document = $4 WHERE kind = $1 AND name = $2 AND version = $3",
        )
        .bind(kind)
        .bind(name)
        .bind(version)
        .bind(text)
        .execute(self.pool())
        .await
        .map_err(map_error)?;
        if done.rows_affected() == 1 {
            return Ok(expected + 1);
        }
        match self.document(kind, name).await? {
            Some(_) => Err(Error::conflict("document version", name)),
            None => Err(Error::not_found("document", name)),
        }
    }

    async fn document(&self, kind: &str, name: &str) -> Result<Option<StoredDocument>, Error> {
        let row =
            sqlx::query("SELECT kind, name, version, document FROM oauth2_documents WHERE kind = $1 AND name = $2")
                .bind(kind)
                .bind(name)
                .fetch_optional(self.pool())
                .await
                .map_err(map_error)?;
        row.as_ref().map(decode_document).transpose()
    }

    async fn list_documents(&self, kind: &str) -> Result<Vec<StoredDocument>, Error> {
        let rows =
            sqlx::query("SELECT kind, name, version, document FROM oauth2_documents WHERE kind = $1 ORDER BY name")
                .bind(kind)
                .fetch_all(self.pool())
                .await
                .map_err(map_error)?;
        rows.iter().map(decode_document).collect()
    }

    async fn delete_document(&self, kind: &str, name: &str) -> Result<(), Error> {
        let done = sqlx::query("DELETE FROM oauth2_documents WHERE kind = $1 AND name = $2")
            .bind(kind)
            .bind(name)
            .execute(self.pool())
            .await
            .map_err(map_error)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("document", name));
        }
        Ok(())
    }
}

fn decode_document(row: &AnyRow) -> Result<StoredDocument, Error> {
    let name: String = col(row, "name")?;
    let version: i64 = col(row, "version")?;
    let document: String = col(row, "document")?;
    Ok(StoredDocument {
        kind: col(row, "kind")?,
        version: u64::try_from(version).map_err(|_| Error::corrupt("document", &name, "negative version"))?,
        document: from_document("document", &name, &document)?,
        name,
    })
}

impl SqlStore {
    /// Runs a `DELETE` of tokens keyed by one id; returns how many went.
    async fn delete_tokens(&self, sql: &'static str, key: String) -> Result<u64, Error> {
        let done = sqlx::query(sql).bind(key).execute(self.pool()).await.map_err(map_error)?;
        Ok(done.rows_affected())
    }
}
