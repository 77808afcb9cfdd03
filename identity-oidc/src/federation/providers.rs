//! Upstream providers kept in the store, one document of kind [`KIND`] each, named by the provider's id.
//! Replacements name the version they read, so two operators editing one provider cannot overwrite each other.

use std::sync::Arc;

use identity_core::ProviderId;
use identity_store::Store;

use super::upstream::UpstreamProvider;
use crate::error::Error;

/// The document kind upstream providers are stored under.
pub const KIND: &str = "upstream_provider";

/// A stored provider with the version a replacement must name.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredProvider {
    /// The provider.
    pub provider: UpstreamProvider,
    /// Its document's version.
    pub version: u64,
}

/// CRUD of upstream providers over the store's documents.
pub struct UpstreamProviders {
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for UpstreamProviders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamProviders").finish_non_exhaustive()
    }
}

fn decode(document: &serde_json::Value) -> Result<UpstreamProvider, Error> {
    UpstreamProvider::deserialize_document(document)
}

impl UpstreamProvider {
    fn deserialize_document(document: &serde_json::Value) -> Result<Self, Error> {
        serde::Deserialize::deserialize(document)
            .map_err(|e: serde_json::Error| Error::internal(format!("a stored upstream provider does not decode: {e}")))
    }
}

impl UpstreamProviders {
    /// Providers kept in `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Stores a new provider; a store conflict if its id is taken. Returns the version (1).
    pub async fn create(&self, provider: &UpstreamProvider) -> Result<u64, Error> {
        let document = serde_json::to_value(provider).map_err(Error::internal)?;
        Ok(self.store.put_document(KIND, &provider.id.to_string(), &document, None).await?)
    }

    /// The provider `id`, if stored.
    pub async fn get(&self, id: ProviderId) -> Result<Option<StoredProvider>, Error> {
        let Some(stored) = self.store.document(KIND, &id.to_string()).await? else { return Ok(None) };
        Ok(Some(StoredProvider { provider: decode(&stored.document)?, version: stored.version }))
    }

    /// Every provider, ordered by id.
    pub async fn list(&self) -> Result<Vec<UpstreamProvider>, Error> {
        let stored = self.store.list_documents(KIND).await?;
        stored.iter().map(|s| decode(&s.document)).collect()
    }

    /// Replaces the provider if its stored version is still `expected_version`; returns the new version.
    pub async fn replace(&self, provider: &UpstreamProvider, expected_version: u64) -> Result<u64, Error> {
        let document = serde_json::to_value(provider).map_err(Error::internal)?;
        Ok(self.store.put_document(KIND, &provider.id.to_string(), &document, Some(expected_version)).await?)
    }

    /// Deletes the provider; the store's not-found error if there is none.
    pub async fn delete(&self, id: ProviderId) -> Result<(), Error> {
        Ok(self.store.delete_document(KIND, &id.to_string()).await?)
    }
}
