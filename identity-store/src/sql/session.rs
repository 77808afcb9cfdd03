//! Sessions in SQL. The document is the session's JSON; `active`, `expires_at` and `token_hash` are columns too,
//! for the queries, and `active` is the column's value on read so bulk revocation is one `UPDATE`.

use async_trait::async_trait;
use identity_core::{Identity, IdentityId, Session, SessionId, TokenHash, time::OffsetDateTime};
use sqlx::any::AnyRow;

use super::identity::decode_identity;
use super::{SqlStore, col, from_document, instant, map_error, map_write_error, micros, to_document};
use crate::error::Error;
use crate::page::{Page, PageRequest, PageToken};
use crate::session::SessionStore;

fn decode_session(row: &AnyRow) -> Result<Session, Error> {
    let id: String = col(row, "id")?;
    let active: i64 = col(row, "active")?;
    let document: String = col(row, "document")?;
    let mut session: Session = from_document("session", &id, &document)?;
    // The columns win: bulk revocation and extension change only them.
    session.active = active != 0;
    session.expires_at = instant("session", col(row, "expires_at")?)?;
    Ok(session)
}

impl SqlStore {
    async fn write_session(&self, session: &Session, insert: bool) -> Result<(), Error> {
        let query = if insert {
            sqlx::query(
                "INSERT INTO sessions (id, identity_id, token_hash, active, issued_at, document, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
        } else {
            // A revoked session stays revoked, and the expiry stays as `extend_session` left it.
            sqlx::query(
                "UPDATE sessions SET identity_id = $2, token_hash = $3, \
                 active = CASE WHEN active = 0 THEN 0 ELSE $4 END, issued_at = $5, document = $6 WHERE id = $1",
            )
        };
        let mut query = query
            .bind(session.id.to_string())
            .bind(session.identity_id.to_string())
            .bind(session.token_hash.as_bytes().to_vec())
            .bind(i64::from(session.active))
            .bind(micros(session.issued_at))
            .bind(to_document("session", session)?);
        if insert {
            query = query.bind(micros(session.expires_at));
        }
        let done = query.execute(self.pool()).await.map_err(|e| {
            map_write_error(
                e,
                || Error::conflict("session", session.id.to_string()),
                || Error::not_found("identity", session.identity_id),
            )
        })?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("session", session.id));
        }
        Ok(())
    }
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn insert_session(&self, session: &Session) -> Result<(), Error> {
        self.write_session(session, true).await
    }

    async fn session(&self, id: SessionId) -> Result<Session, Error> {
        let row = sqlx::query("SELECT s.id, s.active, s.expires_at, s.document FROM sessions s WHERE s.id = $1")
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await
            .map_err(map_error)?;
        row.as_ref().map(decode_session).transpose()?.ok_or_else(|| Error::not_found("session", id))
    }

    async fn find_session_by_token_hash(&self, hash: &TokenHash) -> Result<Option<Session>, Error> {
        let row =
            sqlx::query("SELECT s.id, s.active, s.expires_at, s.document FROM sessions s WHERE s.token_hash = $1")
                .bind(hash.as_bytes().to_vec())
                .fetch_optional(self.pool())
                .await
                .map_err(map_error)?;
        row.as_ref().map(decode_session).transpose()
    }

    async fn find_session_with_identity(&self, hash: &TokenHash) -> Result<Option<(Session, Identity)>, Error> {
        let row = sqlx::query(
            "SELECT s.id, s.active, s.expires_at, s.document, i.id AS identity_id, i.document AS identity_document \
             FROM sessions s JOIN identities i ON i.id = s.identity_id WHERE s.token_hash = $1",
        )
        .bind(hash.as_bytes().to_vec())
        .fetch_optional(self.pool())
        .await
        .map_err(map_error)?;
        let Some(row) = row else { return Ok(None) };
        let session = decode_session(&row)?;
        let identity_id: String = col(&row, "identity_id")?;
        let identity_document: String = col(&row, "identity_document")?;
        Ok(Some((session, decode_identity(&identity_id, &identity_document)?)))
    }

    async fn list_sessions(
        &self,
        active_at: Option<OffsetDateTime>,
        page: &PageRequest,
    ) -> Result<Page<Session>, Error> {
        page.check()?;
        let after = page.page_token.as_ref().map(PageToken::last_id).transpose()?.map(|id| id.to_string());
        let mut sql = String::from("SELECT s.id, s.active, s.expires_at, s.document FROM sessions s WHERE 1 = 1");
        let mut binds: Vec<Bind> = Vec::new();
        if let Some(after) = after {
            binds.push(Bind::Text(after));
            sql.push_str(&format!(" AND s.id > ${}", binds.len()));
        }
        if let Some(now) = active_at {
            binds.push(Bind::Number(micros(now)));
            sql.push_str(&format!(" AND s.active = 1 AND s.expires_at > ${}", binds.len()));
        }
        let size = page.page_size as usize;
        sql.push_str(&format!(" ORDER BY s.id LIMIT {}", size + 1));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for bind in binds {
            query = match bind {
                Bind::Text(text) => query.bind(text),
                Bind::Number(number) => query.bind(number),
            };
        }
        let rows = query.fetch_all(self.pool()).await.map_err(map_error)?;
        let items = rows.iter().map(decode_session).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, size, |session| *session.id.as_uuid()))
    }

    async fn sessions_of(
        &self,
        identity: IdentityId,
        active_at: Option<OffsetDateTime>,
    ) -> Result<Vec<Session>, Error> {
        let rows = match active_at {
            None => sqlx::query(
                "SELECT s.id, s.active, s.expires_at, s.document FROM sessions s WHERE s.identity_id = $1 \
                 ORDER BY s.issued_at DESC, s.id DESC",
            )
            .bind(identity.to_string()),
            Some(now) => sqlx::query(
                "SELECT s.id, s.active, s.expires_at, s.document FROM sessions s WHERE s.identity_id = $1 AND s.active = 1 \
                 AND s.expires_at > $2 ORDER BY s.issued_at DESC, s.id DESC",
            )
            .bind(identity.to_string())
            .bind(micros(now)),
        }
        .fetch_all(self.pool())
        .await
        .map_err(map_error)?;
        rows.iter().map(decode_session).collect()
    }

    async fn update_session(&self, session: &Session) -> Result<(), Error> {
        self.write_session(session, false).await
    }

    async fn extend_session(&self, id: SessionId, expires_at: OffsetDateTime) -> Result<Session, Error> {
        // Only the column changes, in one statement, so a concurrent update of the document is not lost.
        let row =
            sqlx::query("UPDATE sessions SET expires_at = $2 WHERE id = $1 RETURNING id, active, expires_at, document")
                .bind(id.to_string())
                .bind(micros(expires_at))
                .fetch_optional(self.pool())
                .await
                .map_err(map_error)?;
        row.as_ref().map(decode_session).transpose()?.ok_or_else(|| Error::not_found("session", id))
    }

    async fn revoke_session(&self, id: SessionId) -> Result<(), Error> {
        let done = sqlx::query("UPDATE sessions SET active = 0 WHERE id = $1")
            .bind(id.to_string())
            .execute(self.pool())
            .await
            .map_err(map_error)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("session", id));
        }
        Ok(())
    }

    async fn revoke_sessions_of(&self, identity: IdentityId, keep: Option<SessionId>) -> Result<u64, Error> {
        let done = sqlx::query("UPDATE sessions SET active = 0 WHERE identity_id = $1 AND active = 1 AND id <> $2")
            .bind(identity.to_string())
            .bind(keep.map(|k| k.to_string()).unwrap_or_default())
            .execute(self.pool())
            .await
            .map_err(map_error)?;
        Ok(done.rows_affected())
    }

    async fn delete_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, Error> {
        self.delete_lapsed("DELETE FROM sessions WHERE expires_at <= $1", now).await
    }

    async fn count_active_sessions(&self, now: OffsetDateTime) -> Result<u64, Error> {
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM sessions WHERE active = 1 AND expires_at > $1")
            .bind(micros(now))
            .fetch_one(self.pool())
            .await
            .and_then(|row| sqlx::Row::try_get(&row, "n"))
            .map_err(map_error)?;
        Ok(u64::try_from(count).unwrap_or_default())
    }
}

/// A value bound to a query built at run time.
enum Bind {
    Text(String),
    Number(i64),
}
