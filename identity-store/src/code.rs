//! One-time codes (recovery, verification, login), stored only as hashes.

use async_trait::async_trait;
use identity_core::{FlowId, IdentityId, TokenHash, time::OffsetDateTime};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// What a one-time code is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodePurpose {
    /// Account recovery.
    Recovery,
    /// Address verification.
    Verification,
    /// Passwordless login.
    Login,
}

impl CodePurpose {
    /// The name used in storage.
    pub const fn as_str(self) -> &'static str {
        match self {
            CodePurpose::Recovery => "recovery",
            CodePurpose::Verification => "verification",
            CodePurpose::Login => "login",
        }
    }

    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pub(crate) fn parse(name: &str) -> Option<Self> {
        [CodePurpose::Recovery, CodePurpose::Verification, CodePurpose::Login].into_iter().find(|p| p.as_str() == name)
    }
}

/// A one-time code as stored: its hash, never the code.
#[derive(Debug, Clone, PartialEq)]
pub struct OneTimeCode {
    /// The code's (keyed) hash; unique per purpose.
    pub hash: TokenHash,
    /// What it is for.
    pub purpose: CodePurpose,
    /// The identity it acts for, if known; the code is deleted with it.
    pub identity_id: Option<IdentityId>,
    /// The address it was sent to.
    pub address: Option<String>,
    /// The flow it belongs to.
    pub flow_id: Option<FlowId>,
    /// When it was issued.
    pub created_at: OffsetDateTime,
    /// When it lapses.
    pub expires_at: OffsetDateTime,
}

/// Where one-time codes live. A code is consumed at most once, even when requests race.
#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Stores a new code. [`Error::Conflict`] if a code with this purpose and hash exists; [`Error::NotFound`]
    /// if its identity is missing.
    async fn insert_code(&self, code: &OneTimeCode) -> Result<(), Error>;

    /// Deletes and returns the code for `purpose` hashing to `hash` if it has not lapsed at `now`. Of racing
    /// calls, exactly one gets it.
    async fn consume_code(
        &self,
        purpose: CodePurpose,
        hash: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<Option<OneTimeCode>, Error>;

    /// Deletes every code of `identity` for `purpose` (when a new one is sent); returns how many.
    async fn delete_codes_of(&self, identity: IdentityId, purpose: CodePurpose) -> Result<u64, Error>;

    /// Deletes codes that lapsed before `now`; returns how many.
    async fn delete_expired_codes(&self, now: OffsetDateTime) -> Result<u64, Error>;
}
