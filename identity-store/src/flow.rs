//! Self-service flows, stored as documents whose shape identity-auth owns.

use async_trait::async_trait;
use identity_core::{FlowId, IdentityId, time::OffsetDateTime};
use serde_json::Value;

use crate::error::Error;

/// A stored flow.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRecord {
    /// The flow's id.
    pub id: FlowId,
    /// What kind of flow (`login`, `registration`, ...), as its owner names it.
    pub kind: String,
    /// The identity the flow acts for, if any; the flow is deleted with it.
    pub identity_id: Option<IdentityId>,
    /// When the flow lapses.
    pub expires_at: OffsetDateTime,
    /// The flow itself, as its owner serialised it.
    pub document: Value,
}

/// Where flows live between the requests of one self-service interaction.
#[async_trait]
pub trait FlowStore: Send + Sync {
    /// Stores a new flow. [`Error::Conflict`] if its id is taken; [`Error::NotFound`] if its identity is missing.
    async fn insert_flow(&self, flow: &FlowRecord) -> Result<(), Error>;

    /// The flow with `id`.
    async fn flow(&self, id: FlowId) -> Result<FlowRecord, Error>;

    /// Replaces a stored flow.
    async fn update_flow(&self, flow: &FlowRecord) -> Result<(), Error>;

    /// Deletes a flow.
    async fn delete_flow(&self, id: FlowId) -> Result<(), Error>;

    /// Deletes flows that lapsed before `now`; returns how many.
    async fn delete_expired_flows(&self, now: OffsetDateTime) -> Result<u64, Error>;
}
