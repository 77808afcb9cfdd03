//! The short-lived things in SQL: flows, enrollments, one-time codes and throttling counters. Consuming a
//! token or code is one `DELETE ... RETURNING` guarded by its expiry, so of racing consumers exactly one wins.

use async_trait::async_trait;
use identity_core::time::{Duration, OffsetDateTime, PrimitiveDateTime};
use identity_core::{Enrollment, EnrollmentId, FlowId, IdentityId, TokenHash};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{SqlStore, col, from_document, hash_from_bytes, instant, map_error, map_write_error, micros, to_document};
use crate::code::{CodePurpose, CodeStore, OneTimeCode};
use crate::enrollment::EnrollmentStore;
use crate::error::Error;
use crate::flow::{FlowRecord, FlowStore};
use crate::throttle::{Failures, ThrottleStore};

fn decode_flow(row: &AnyRow) -> Result<FlowRecord, Error> {
    let id: String = col(row, "id")?;
    let corrupt = |reason: &str| Error::corrupt("flow", &id, reason);
    let identity_id: Option<String> = col(row, "identity_id")?;
    let document: String = col(row, "document")?;
    Ok(FlowRecord {
        id: id.parse().map_err(|_| corrupt("bad id"))?,
        kind: col(row, "kind")?,
        identity_id: identity_id.map(|i| i.parse()).transpose().map_err(|_| corrupt("bad identity id"))?,
        expires_at: instant("flow", col(row, "expires_at")?)?,
        document: from_document("flow", &id, &document)?,
    })
}

fn decode_enrollment(row: &AnyRow) -> Result<Enrollment, Error> {
    let id: String = col(row, "id")?;
    let document: String = col(row, "document")?;
    from_document("enrollment", &id, &document)
}

fn decode_code(row: &AnyRow) -> Result<OneTimeCode, Error> {
    let purpose: String = col(row, "purpose")?;
    let corrupt = |reason: &str| Error::corrupt("one-time code", &purpose, reason);
    let identity_id: Option<String> = col(row, "identity_id")?;
    let flow_id: Option<String> = col(row, "flow_id")?;
    Ok(OneTimeCode {
        hash: hash_from_bytes("one-time code", col(row, "hash")?)?,
        purpose: CodePurpose::parse(&purpose).ok_or_else(|| corrupt("unknown purpose"))?,
        identity_id: identity_id.map(|i| i.parse()).transpose().map_err(|_| corrupt("bad identity id"))?,
        address: col(row, "address")?,
        flow_id: flow_id.map(|f| f.parse()).transpose().map_err(|_| corrupt("bad flow id"))?,
        created_at: instant("one-time code", col(row, "created_at")?)?,
        expires_at: instant("one-time code", col(row, "expires_at")?)?,
    })
}

impl SqlStore {
    async fn write_flow(&self, flow: &FlowRecord, insert: bool) -> Result<(), Error> {
        let sql = if insert {
            "INSERT INTO flows (id, kind, identity_id, expires_at, document) VALUES ($1, $2, $3, $4, $5)"
        } else {
            "UPDATE flows SET kind = $2, identity_id = $3, expires_at = $4, document = $5 WHERE id = $1"
        };
        let done = sqlx::query(sql)
            .bind(flow.id.to_string())
            .bind(flow.kind.clone())
            .bind(flow.identity_id.map(|i| i.to_string()))
            .bind(micros(flow.expires_at))
            .bind(to_document("flow", &flow.document)?)
            .execute(self.pool())
            .await
            .map_err(|e| {
                map_write_error(
                    e,
                    || Error::conflict("flow id", flow.id.to_string()),
                    || Error::not_found("identity", flow.identity_id.map(|i| i.to_string()).unwrap_or_default()),
                )
            })?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("flow", flow.id));
        }
        Ok(())
    }

    async fn write_enrollment(&self, enrollment: &Enrollment, insert: bool) -> Result<(), Error> {
        let sql = if insert {
            "INSERT INTO enrollments (id, identity_id, token_hash, created_at, expires_at, document) \
             VALUES ($1, $2, $3, $4, $5, $6)"
        } else {
            "UPDATE enrollments SET identity_id = $2, token_hash = $3, created_at = $4, expires_at = $5, \
             document = $6 WHERE id = $1"
        };
        let done = sqlx::query(sql)
            .bind(enrollment.id.to_string())
            .bind(enrollment.identity_id.to_string())
            .bind(enrollment.token_hash.as_bytes().to_vec())
            .bind(micros(enrollment.created_at))
            .bind(micros(enrollment.expires_at))
            .bind(to_document("enrollment", enrollment)?)
            .execute(self.pool())
            .await
            .map_err(|e| {
                map_write_error(
                    e,
                    || Error::conflict("enrollment", enrollment.id.to_string()),
                    || Error::not_found("identity", enrollment.identity_id),
                )
            })?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("enrollment", enrollment.id));
        }
        Ok(())
    }
}

#[async_trait]
impl FlowStore for SqlStore {
    async fn insert_flow(&self, flow: &FlowRecord) -> Result<(), Error> {
        self.write_flow(flow, true).await
    }

    async fn flow(&self, id: FlowId) -> Result<FlowRecord, Error> {
        let row = sqlx::query("SELECT id, kind, identity_id, expires_at, document FROM flows WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await
            .map_err(map_error)?;
        row.as_ref().map(decode_flow).transpose()?.ok_or_else(|| Error::not_found("flow", id))
    }

    async fn update_flow(&self, flow: &FlowRecord) -> Result<(), Error> {
        self.write_flow(flow, false).await
    }

    async fn delete_flow(&self, id: FlowId) -> Result<(), Error> {
        let done = sqlx::query("DELETE FROM flows WHERE id = $1")
            .bind(id.to_string())
            .execute(self.pool())
            .await
            .map_err(map_error)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("flow", id));
        }
        Ok(())
    }

    async fn delete_expired_flows(&self, now: OffsetDateTime) -> Result<u64, Error> {
        self.delete_lapsed("DELETE FROM flows WHERE expires_at <= $1", now).await
    }
}

#[async_trait]
impl EnrollmentStore for SqlStore {
    async fn insert_enrollment(&self, enrollment: &Enrollment) -> Result<(), Error> {
        self.write_enrollment(enrollment, true).await
    }

    async fn enrollment(&self, id: EnrollmentId) -> Result<Enrollment, Error> {
        let row = sqlx::query("SELECT id, document FROM enrollments WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await
            .map_err(map_error)?;
        row.as_ref().map(decode_enrollment).transpose()?.ok_or_else(|| Error::not_found("enrollment", id))
    }

    async fn find_enrollment_by_token_hash(&self, hash: &TokenHash) -> Result<Option<Enrollment>, Error> {
        let row = sqlx::query("SELECT id, document FROM enrollments WHERE token_hash = $1")
            .bind(hash.as_bytes().to_vec())
            .fetch_optional(self.pool())
            .await
            .map_err(map_error)?;
        row.as_ref().map(decode_enrollment).transpose()
    }

    async fn enrollments_of(&self, identity: IdentityId) -> Result<Vec<Enrollment>, Error> {
        let rows = sqlx::query("SELECT id, document FROM enrollments WHERE identity_id = $1 ORDER BY created_at, id")
            .bind(identity.to_string())
            .fetch_all(self.pool())
            .await
            .map_err(map_error)?;
        rows.iter().map(decode_enrollment).collect()
    }

    async fn update_enrollment(&self, enrollment: &Enrollment) -> Result<(), Error> {
        self.write_enrollment(enrollment, false).await
    }

    async fn consume_enrollment(&self, hash: &TokenHash, now: OffsetDateTime) -> Result<Option<Enrollment>, Error> {
        let row =
            sqlx::query("DELETE FROM enrollments WHERE token_hash = $1 AND expires_at > $2 RETURNING id, document")
                .bind(hash.as_bytes().to_vec())
                .bind(micros(now))
                .fetch_optional(self.pool())
                .await
                .map_err(map_error)?;
        row.as_ref().map(decode_enrollment).transpose()
    }

    async fn complete_enrollment(
        &self,
        hash: &TokenHash,
        now: OffsetDateTime,
        identity: &identity_core::Identity,
        expected_updated_at: OffsetDateTime,
    ) -> Result<Option<Enrollment>, Error> {
        crate::identity::check_identity(identity)?;
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "DELETE FROM enrollments WHERE token_hash = $1 AND expires_at > $2 AND identity_id = $3 \
             RETURNING id, document",
        )
        .bind(hash.as_bytes().to_vec())
        .bind(micros(now))
        .bind(identity.id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_error)?;
        let Some(row) = row else { return Ok(None) };
        let enrollment = decode_enrollment(&row)?;
        // Dropping the transaction on error rolls the deletion back: the enrollment stays open.
        SqlStore::write_identity(&mut tx, identity, super::identity::WriteMode::ReplaceIf(expected_updated_at)).await?;
        tx.commit().await.map_err(map_error)?;
        Ok(Some(enrollment))
    }

    async fn delete_enrollment(&self, id: EnrollmentId) -> Result<(), Error> {
        let done = sqlx::query("DELETE FROM enrollments WHERE id = $1")
            .bind(id.to_string())
            .execute(self.pool())
            .await
            .map_err(map_error)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("enrollment", id));
        }
        Ok(())
    }

    async fn delete_expired_enrollments(&self, now: OffsetDateTime) -> Result<u64, Error> {
        self.delete_lapsed("DELETE FROM enrollments WHERE expires_at <= $1", now).await
    }
}

#[async_trait]
impl CodeStore for SqlStore {
    async fn insert_code(&self, code: &OneTimeCode) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO one_time_codes (purpose, hash, identity_id, address, flow_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(code.purpose.as_str())
        .bind(code.hash.as_bytes().to_vec())
        .bind(code.identity_id.map(|i| i.to_string()))
        .bind(code.address.clone())
        .bind(code.flow_id.map(|f| f.to_string()))
        .bind(micros(code.created_at))
        .bind(micros(code.expires_at))
        .execute(self.pool())
        .await
        .map_err(|e| {
            map_write_error(
                e,
                || Error::conflict("one-time code", code.purpose.as_str()),
                || Error::not_found("identity", code.identity_id.map(|i| i.to_string()).unwrap_or_default()),
            )
        })?;
        Ok(())
    }

    async fn consume_code(
        &self,
        purpose: CodePurpose,
        hash: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<Option<OneTimeCode>, Error> {
        let row = sqlx::query(
            "DELETE FROM one_time_codes WHERE purpose = $1 AND hash = $2 AND expires_at > $3 \
             RETURNING purpose, hash, identity_id, address, flow_id, created_at, expires_at",
        )
        .bind(purpose.as_str())
        .bind(hash.as_bytes().to_vec())
        .bind(micros(now))
        .fetch_optional(self.pool())
        .await
        .map_err(map_error)?;
        row.as_ref().map(decode_code).transpose()
    }

    async fn delete_codes_of(&self, identity: IdentityId, purpose: CodePurpose) -> Result<u64, Error> {
        let done = sqlx::query("DELETE FROM one_time_codes WHERE identity_id = $1 AND purpose = $2")
            .bind(identity.to_string())
            .bind(purpose.as_str())
            .execute(self.pool())
            .await
            .map_err(map_error)?;
        Ok(done.rows_affected())
    }

    async fn delete_expired_codes(&self, now: OffsetDateTime) -> Result<u64, Error> {
        self.delete_lapsed("DELETE FROM one_time_codes WHERE expires_at <= $1", now).await
    }
}

#[async_trait]
impl ThrottleStore for SqlStore {
    async fn record_failure(&self, key: &str, window: Duration, now: OffsetDateTime) -> Result<Failures, Error> {
        let window_end = now.checked_add(window).unwrap_or(PrimitiveDateTime::MAX.assume_utc());
        // One atomic upsert: a closed window restarts at one, an open one counts up.
        let row = sqlx::query(
            "INSERT INTO throttle_counters (key, count, window_end) VALUES ($1, 1, $2) \
             ON CONFLICT (key) DO UPDATE SET \
             count = CASE WHEN throttle_counters.window_end <= $3 THEN 1 ELSE throttle_counters.count + 1 END, \
             window_end = CASE WHEN throttle_counters.window_end <= $3 THEN $2 ELSE throttle_counters.window_end END \
             RETURNING count, window_end",
        )
        .bind(key)
        .bind(micros(window_end))
        .bind(micros(now))
        .fetch_one(self.pool())
        .await
        .map_err(map_error)?;
        failures_of(&row)
    }

    async fn failures(&self, key: &str, now: OffsetDateTime) -> Result<Failures, Error> {
        let row = sqlx::query("SELECT count, window_end FROM throttle_counters WHERE key = $1 AND window_end > $2")
            .bind(key)
            .bind(micros(now))
            .fetch_optional(self.pool())
            .await
            .map_err(map_error)?;
        row.map_or(Ok(Failures { count: 0, window_end: now }), |row| failures_of(&row))
    }

    async fn reset_failures(&self, key: &str) -> Result<(), Error> {
        sqlx::query("DELETE FROM throttle_counters WHERE key = $1")
            .bind(key)
            .execute(self.pool())
            .await
            .map_err(map_error)?;
        Ok(())
    }

    async fn delete_expired_counters(&self, now: OffsetDateTime) -> Result<u64, Error> {
        self.delete_lapsed("DELETE FROM throttle_counters WHERE window_end <= $1", now).await
    }
}

fn failures_of(row: &AnyRow) -> Result<Failures, Error> {
    let count: i64 = row.try_get("count").map_err(map_error)?;
    let window_end: i64 = row.try_get("window_end").map_err(map_error)?;
    Ok(Failures {
        count: u64::try_from(count).unwrap_or_default(),
        window_end: instant("throttle counter", window_end)?,
    })
}
