//! Enrollments: one-time, expiring invitations to add a credential.

use async_trait::async_trait;
use identity_core::{Enrollment, EnrollmentId, IdentityId, TokenHash, time::OffsetDateTime};

use crate::error::Error;

/// Where open enrollments live. A token is consumed at most once, even when two requests race.
#[async_trait]
pub trait EnrollmentStore: Send + Sync {
    /// Stores a new enrollment. [`Error::Conflict`] if its id or token hash is taken; [`Error::NotFound`] if its
    /// identity is missing.
    async fn insert_enrollment(&self, enrollment: &Enrollment) -> Result<(), Error>;

    /// The enrollment with `id`.
    async fn enrollment(&self, id: EnrollmentId) -> Result<Enrollment, Error>;

    /// The enrollment whose token hashes to `hash`, lapsed or not.
    async fn find_enrollment_by_token_hash(&self, hash: &TokenHash) -> Result<Option<Enrollment>, Error>;

    /// The enrollments of `identity`.
    async fn enrollments_of(&self, identity: IdentityId) -> Result<Vec<Enrollment>, Error>;

    /// Replaces a stored enrollment (a refresh: new token, new expiry).
    async fn update_enrollment(&self, enrollment: &Enrollment) -> Result<(), Error>;

    /// Deletes and returns the enrollment whose token hashes to `hash` if it has not lapsed at `now`. Of two
    /// racing calls, exactly one gets it.
    async fn consume_enrollment(&self, hash: &TokenHash, now: OffsetDateTime) -> Result<Option<Enrollment>, Error>;

    /// Completes an enrollment in one transaction: consumes the enrollment whose token hashes to `hash` (if it has
    /// not lapsed at `now` and belongs to `identity.id`) and stores `identity`, which carries the new credential,
    /// as [`IdentityStore::update_identity_if_unchanged`](crate::IdentityStore::update_identity_if_unchanged)
    /// would. Both happen or neither: `Ok(None)` (nothing written) if no such enrollment is open, an error (the
    /// enrollment still open) if the identity cannot be written.
    async fn complete_enrollment(
        &self,
        hash: &TokenHash,
        now: OffsetDateTime,
        identity: &identity_core::Identity,
        expected_updated_at: OffsetDateTime,
    ) -> Result<Option<Enrollment>, Error>;

    /// Deletes an enrollment.
    async fn delete_enrollment(&self, id: EnrollmentId) -> Result<(), Error>;

    /// Deletes enrollments that lapsed before `now`; returns how many.
    async fn delete_expired_enrollments(&self, now: OffsetDateTime) -> Result<u64, Error>;
}
