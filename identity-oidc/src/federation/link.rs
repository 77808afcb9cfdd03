//! From an upstream account to a local identity. An account already linked signs in as its identity; a new
//! one gets a new identity (through identity-auth's [`Admin::import`], so traits are checked by the schema and
//! addresses derived as for any other identity). An account whose verified email belongs to an existing
//! identity is never linked silently (whoever controls the upstream account could take the local one over):
//! the user must first prove control of the local account, then [`Linker::link_after_proof`] adds the link.
//! Unverified upstream emails match nothing.

use std::sync::Arc;

use identity_auth::{Admin, IdentityImport, ImportedAddress, ImportedConfig, ImportedCredentials};
use identity_core::time::Duration;
use identity_core::{
    AddressVia, Clock, Credential, CredentialConfig, CredentialType, Identity, IdentityId, OidcConfig, OidcLink,
};
use identity_store::Store;

use super::flow::UpstreamIdentity;
use super::upstream::UpstreamProvider;
use crate::error::Error;

/// What a completed upstream login means locally.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LinkOutcome {
    /// The upstream account is linked to this identity: sign it in.
    Linked(Identity),
    /// No identity knew the account or its email: this one was created, linked, its traits mapped from the
    /// claims (and its email marked verified when the upstream verified it).
    Created(Identity),
    /// The account's verified email belongs to `identity_id`, which is not linked to it. Ask the user to sign in
    /// to that identity (or confirm a code sent to the address), then call [`Linker::link_after_proof`] with
    /// the same `upstream`, kept server-side meanwhile.
    ProofRequired {
        /// The identity holding the email.
        identity_id: IdentityId,
        /// The upstream account to link once proven.
        upstream: UpstreamIdentity,
    },
    /// The account's email is unverified upstream and already in use here as a login identifier: nothing was
    /// created. The user signs in to the local account and links from there.
    EmailInUse {
        /// The upstream account.
        upstream: UpstreamIdentity,
    },
}

/// Links upstream accounts to local identities.
pub struct Linker {
    store: Arc<dyn Store>,
    admin: Arc<Admin>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Linker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linker").finish_non_exhaustive()
    }
}

/// The OIDC credential identifier of an upstream account, as identity-auth writes it: `provider:subject`.
pub fn link_identifier(provider: &UpstreamProvider, subject: &str) -> String {
    format!("{}:{subject}", provider.link_name())
}

fn link_of(provider: &UpstreamProvider, upstream: &UpstreamIdentity) -> OidcLink {
    let mut link = OidcLink::new(provider.link_name(), upstream.subject.clone());
    link.organization = provider.organization_id.map(|id| id.to_string());
    link
}

fn is_unique_key_conflict(error: &Error) -> bool {
    let store_error = match error {
        Error::Store(e) | Error::Auth(identity_auth::Error::Store(e)) => e,
        _ => return false,
    };
    matches!(store_error, identity_store::Error::Conflict { field, .. } if field != "identity version")
}

impl Linker {
    /// A linker over `store`, creating identities through `admin`.
    pub fn new(store: Arc<dyn Store>, admin: Arc<Admin>, clock: Arc<dyn Clock>) -> Self {
        Self { store, admin, clock }
    }

    async fn linked(&self, provider: &UpstreamProvider, subject: &str) -> Result<Option<Identity>, Error> {
        let identifier = link_identifier(provider, subject);
        Ok(self.store.find_identity_by_identifier(CredentialType::Oidc, &identifier).await?)
    }

    /// What `upstream` (from [`Federation::complete`](super::Federation::complete) at `provider`) means here.
    pub async fn resolve(&self, provider: &UpstreamProvider, upstream: UpstreamIdentity) -> Result<LinkOutcome, Error> {
        if upstream.provider != provider.id || upstream.subject.is_empty() {
            return Err(Error::UpstreamProtocol { reason: "the upstream identity is not of this provider".into() });
        }
        if let Some(identity) = self.linked(provider, &upstream.subject).await? {
            return Ok(LinkOutcome::Linked(identity));
        }
        let verified_email = upstream.email.as_deref().filter(|_| upstream.email_verified);
        if let Some(email) = verified_email
            && let Some(holder) = self.admin.identity_by_email(email).await?
        {
            return Ok(LinkOutcome::ProofRequired { identity_id: holder.id, upstream });
        }
        let import = IdentityImport {
            schema_id: provider.schema_id.clone(),
            traits: provider.claims_mapping.traits(&upstream.claims),
            state: None,
            external_id: None,
            organization_id: provider.organization_id,
            metadata_public: None,
            metadata_admin: None,
            verifiable_addresses: verified_email
                .map(|email| ImportedAddress { value: email.to_owned(), via: AddressVia::Email, verified: true })
                .into_iter()
                .collect(),
            recovery_addresses: vec![],
            credentials: ImportedCredentials {
                password: None,
                oidc: Some(ImportedConfig { config: OidcConfig { providers: vec![link_of(provider, &upstream)] } }),
            },
        };
        match self.admin.import(import).await.map_err(Error::from) {
            Ok(identity) => Ok(LinkOutcome::Created(identity)),
            Err(error) if is_unique_key_conflict(&error) => {
                // A concurrent first sign-in of the same account won the race: sign in as what it created.
                if let Some(identity) = self.linked(provider, &upstream.subject).await? {
                    return Ok(LinkOutcome::Linked(identity));
                }
                Ok(LinkOutcome::EmailInUse { upstream })
            }
            Err(error) => Err(error),
        }
    }

    /// Links `upstream` to `identity_id` once the user proved control of that identity (the caller's check: a
    /// session of that identity, or a code sent to its address). Fails with a store conflict if the account is
    /// linked to another identity, or if the identity changed meanwhile (then read again and retry).
    pub async fn link_after_proof(
        &self,
        identity_id: IdentityId,
        provider: &UpstreamProvider,
        upstream: &UpstreamIdentity,
    ) -> Result<Identity, Error> {
        if upstream.provider != provider.id || upstream.subject.is_empty() {
            return Err(Error::UpstreamProtocol { reason: "the upstream identity is not of this provider".into() });
        }
        let mut identity = self.store.identity(identity_id).await?;
        let read_at = identity.updated_at;
        let now = self.clock.now();
        let identifier = link_identifier(provider, &upstream.subject);
        match identity.credentials.get_mut(CredentialType::Oidc) {
            Some(credential) => {
                if credential.identifiers.contains(&identifier) {
                    return Ok(identity);
                }
                if let CredentialConfig::Oidc(config) = &mut credential.config {
                    config.providers.push(link_of(provider, upstream));
                }
                credential.identifiers.push(identifier);
                credential.updated_at = now;
            }
            None => {
                let config = CredentialConfig::Oidc(OidcConfig { providers: vec![link_of(provider, upstream)] });
                identity.credentials.insert(Credential::new(config, vec![identifier], now).map_err(Error::internal)?);
            }
        }
        // Strictly later than what was read, or a concurrent writer holding the same copy would not be told apart.
        identity.updated_at = now.max(read_at + Duration::microseconds(1));
        self.store.update_identity_if_unchanged(&identity, read_at).await?;
        Ok(identity)
    }
}
