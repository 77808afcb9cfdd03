//! The operator's everyday jobs, as one library API for the server's admin API and CLI: create an administrator,
//! find identities, reset a password or hand out a recovery code, reset second factors, disable, sign out, delete,
//! import from Kratos (hashed passwords included), and create an identity that enrolls itself later.
//!
//! Every change that takes a credential away, or the identity itself, ends the identity's sessions.

use std::sync::Arc;

use identity_core::time::Duration;
use identity_core::{
    AddressVia, Clock, Credential, CredentialConfig, CredentialType, EnrollmentMethod, HashedPassword, Identity,
    IdentityId, IdentityState, IdentityType, OidcConfig, OidcLink, OrganizationId, PasswordConfig, RecoveryAddress,
    SecretString, VerifiableAddress, VerificationStatus,
};
use identity_schema::{DerivedTraits, SchemaRegistry};
use identity_store::{AddressKind, Store};
use serde::Deserialize;
use serde_json::Value;

use crate::authenticator::update_identity;
use crate::enrollment::{Enrollments, IssuedEnrollment};
use crate::error::Error;
use crate::flow::FlowType;
use crate::password::{PasswordHasher, PasswordPolicy};
use crate::self_service::{RecoveryCode, SelfService};
use crate::session::Sessions;
use crate::throttle::{identifier_key, identity_key};

/// An identity to import, in Kratos' `POST /admin/identities` shape (`schema_id`, `traits`, `credentials`
/// with a plaintext or hashed password and OIDC links, addresses, metadata, `state`, `external_id`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityImport {
    /// The schema the traits follow.
    pub schema_id: String,
    /// The traits.
    pub traits: Value,
    /// `active` (default) or `inactive`.
    #[serde(default)]
    pub state: Option<IdentityState>,
    /// The id in the system the identity comes from.
    #[serde(default)]
    pub external_id: Option<String>,
    /// The organization it belongs to.
    #[serde(default)]
    pub organization_id: Option<OrganizationId>,
    /// Metadata the identity may see.
    #[serde(default)]
    pub metadata_public: Option<Value>,
    /// Metadata only operators see.
    #[serde(default)]
    pub metadata_admin: Option<Value>,
    /// Verification state of addresses the traits imply (others are ignored).
    #[serde(default)]
    pub verifiable_addresses: Vec<ImportedAddress>,
    /// Ignored beyond what the traits imply; accepted because Kratos exports carry it.
    #[serde(default)]
    pub recovery_addresses: Vec<ImportedAddress>,
    /// Credentials.
    #[serde(default)]
    pub credentials: ImportedCredentials,
}

/// An address in an import.
#[derive(Debug, Clone, Deserialize)]
pub struct ImportedAddress {
    /// The address.
    pub value: String,
    /// Email or SMS.
    pub via: AddressVia,
    /// Whether it was verified.
    #[serde(default)]
    pub verified: bool,
}

/// The credentials of an import.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportedCredentials {
    /// A password, plaintext or hashed.
    #[serde(default)]
    pub password: Option<ImportedConfig<ImportedPassword>>,
    /// Links to upstream OIDC accounts.
    #[serde(default)]
    pub oidc: Option<ImportedConfig<OidcConfig>>,
}

/// Kratos wraps each imported credential's settings in `config`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportedConfig<T> {
    /// The settings.
    pub config: T,
}

/// An imported password: exactly one of the plaintext and a PHC or crypt hash.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportedPassword {
    /// The plaintext, hashed on import.
    #[serde(default)]
    pub password: Option<SecretString>,
    /// A hash from the old system (argon2, bcrypt, pbkdf2, scrypt, ...), verified at login and upgraded then.
    #[serde(default)]
    pub hashed_password: Option<HashedPassword>,
}

/// What [`Admin::new`] is assembled from.
pub struct AdminParts {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Sessions, to end them.
    pub sessions: Arc<Sessions>,
    /// Hashes passwords set by operators or imported in plaintext.
    pub hasher: Arc<PasswordHasher>,
    /// The identity schemas.
    pub schemas: Arc<SchemaRegistry>,
    /// The self-service flows, for recovery codes.
    pub self_service: Arc<SelfService>,
    /// Enrollments, for identities that enroll themselves (none: such identities cannot be created).
    pub enrollments: Option<Arc<Enrollments>>,
    /// What passwords chosen by operators must satisfy.
    pub password_policy: PasswordPolicy,
}

/// The operator's jobs.
pub struct Admin {
    parts: AdminParts,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin").finish_non_exhaustive()
    }
}

impl Admin {
    /// The admin operations over `parts`.
    pub fn new(parts: AdminParts) -> Self {
        Self { parts }
    }

    /// Creates an administrator (`is_admin`) with the default schema's traits `{"email": email}`, signing in with
    /// that email, or with `username` too, and `password` (which must satisfy the policy).
    pub async fn create_admin(
        &self,
        email: &str,
        username: Option<&str>,
        password: SecretString,
    ) -> Result<Identity, Error> {
        let schema = self.parts.schemas.default_schema();
        let traits = serde_json::json!({ "email": email });
        let derived = schema.check(&traits)?;
        let mut identifiers: Vec<String> =
            derived.identifiers_for(CredentialType::Password).map(str::to_owned).collect();
        identifiers.extend(username.map(|name| name.trim().to_lowercase()).filter(|name| !name.is_empty()));
        if identifiers.is_empty() {
            return Err(Error::InvalidConfig {
                field: "schema",
                reason: format!("the default schema `{}` marks no trait as a password identifier", schema.id()),
            });
        }
        let names: Vec<&str> = identifiers.iter().map(String::as_str).collect();
        self.parts.password_policy.check(&password, &names, self.parts.hasher.max_password_bytes())?;
        let now = self.parts.clock.now();
        let mut identity = Identity::new(schema.id(), traits, now)?;
        identity.is_admin = true;
        apply_derived(&mut identity, &derived, VerificationStatus::Pending, now)?;
        let hash = self.parts.hasher.hash_async(password).await?;
        let config = CredentialConfig::Password(PasswordConfig { hashed_password: Some(hash) });
        identity.credentials.insert(Credential::new(config, identifiers, now)?);
        self.parts.store.create_identity(&identity).await?;
        Ok(identity)
    }

    /// The identity `id`.
    pub async fn identity(&self, id: IdentityId) -> Result<Identity, Error> {
        Ok(self.parts.store.identity(id).await?)
    }

    /// The identity that signs in with `email`, or has it as a verifiable or recovery address.
    pub async fn identity_by_email(&self, email: &str) -> Result<Option<Identity>, Error> {
        let store = &self.parts.store;
        if let Some(found) = store.find_identity_by_identifier(CredentialType::Password, email).await? {
            return Ok(Some(found));
        }
        if let Some(found) = store.find_identity_by_address(AddressKind::Verifiable, email).await? {
            return Ok(Some(found));
        }
        Ok(store.find_identity_by_address(AddressKind::Recovery, email).await?)
    }

    /// Sets `identity`'s password to `password` (checked by the policy) and ends all its sessions.
    pub async fn reset_password(&self, identity: IdentityId, password: SecretString) -> Result<Identity, Error> {
        let current = self.parts.store.identity(identity).await?;
        let identifiers = password_identifiers(&current, &self.parts.schemas)?;
        let names: Vec<&str> = identifiers.iter().map(String::as_str).collect();
        self.parts.password_policy.check(&password, &names, self.parts.hasher.max_password_bytes())?;
        let hash = self.parts.hasher.hash_async(password).await?;
        let now = self.parts.clock.now();
        // Failed guesses at the old password must not keep the user out of the new one.
        for key in identifiers.iter().map(|identifier| identifier_key(identifier)).chain([identity_key(identity)]) {
            self.parts.store.reset_failures(&key).await?;
        }
        let updated = replace_password(self.parts.store.as_ref(), identity, hash, identifiers, now).await?;
        self.parts.sessions.revoke_all(identity).await?;
        Ok(updated)
    }

    /// Issues a recovery code and link for `identity` instead of setting a password: the user opens the link,
    /// types the code, and sets a password with the session they get.
    pub async fn recovery_code(
        &self,
        identity: IdentityId,
        expires_in: Option<Duration>,
        flow_type: FlowType,
    ) -> Result<RecoveryCode, Error> {
        self.parts.self_service.issue_recovery_code(identity, expires_in, flow_type).await
    }

    /// Removes `identity`'s second factor `kind` (`totp` or `lookup_secret`) and ends all its sessions. Returns
    /// whether it had one.
    pub async fn reset_second_factor(&self, identity: IdentityId, kind: CredentialType) -> Result<bool, Error> {
        if !matches!(kind, CredentialType::Totp | CredentialType::LookupSecret) {
            return Err(Error::MethodNotAllowed { method: kind.as_str() });
        }
        let had = self.parts.store.identity(identity).await?.has_credential(kind);
        if had {
            update_identity(self.parts.store.as_ref(), identity, self.parts.clock.now(), |fresh| {
                fresh.credentials.remove(kind);
                Ok(())
            })
            .await?;
        }
        self.parts.sessions.revoke_all(identity).await?;
        Ok(had)
    }

    /// Replaces `identity`'s traits (checked by its schema; identifiers and addresses re-derived, changed
    /// addresses unverified) and, when given, its metadata. Credentials stay.
    pub async fn replace_traits(
        &self,
        identity: IdentityId,
        traits: Value,
        metadata_public: Option<Value>,
        metadata_admin: Option<Value>,
    ) -> Result<Identity, Error> {
        let current = self.parts.store.identity(identity).await?;
        let derived = self.parts.schemas.get_or_default(Some(&current.schema_id))?.check(&traits)?;
        let now = self.parts.clock.now();
        update_identity(self.parts.store.as_ref(), identity, now, |fresh| {
            apply_traits(fresh, &traits, &derived, VerificationStatus::Pending, now)?;
            if metadata_public.is_some() {
                fresh.metadata_public = metadata_public.clone();
            }
            if metadata_admin.is_some() {
                fresh.metadata_admin = metadata_admin.clone();
            }
            Ok(())
        })
        .await
    }

    /// Unlinks the upstream account `identifier` (`provider:subject`) from `identity`, dropping the OIDC
    /// credential when it was the last link. Returns whether there was such a link.
    pub async fn remove_oidc_link(&self, identity: IdentityId, identifier: &str) -> Result<bool, Error> {
        let linked = |candidate: &Identity| {
            candidate
                .credentials
                .get(CredentialType::Oidc)
                .is_some_and(|credential| credential.identifiers.iter().any(|linked| linked == identifier))
        };
        if !linked(&self.parts.store.identity(identity).await?) {
            return Ok(false);
        }
        let now = self.parts.clock.now();
        update_identity(self.parts.store.as_ref(), identity, now, |fresh| {
            let Some(credential) = fresh.credentials.get_mut(CredentialType::Oidc) else { return Ok(()) };
            credential.identifiers.retain(|linked| linked != identifier);
            if let CredentialConfig::Oidc(config) = &mut credential.config {
                config.providers.retain(|link| format!("{}:{}", link.provider, link.subject) != identifier);
            }
            credential.updated_at = now;
            if credential.identifiers.is_empty() {
                fresh.credentials.remove(CredentialType::Oidc);
            }
            Ok(())
        })
        .await?;
        Ok(true)
    }

    /// Ends every session of `identity`; returns how many were active.
    pub async fn revoke_sessions(&self, identity: IdentityId) -> Result<u64, Error> {
        self.parts.sessions.revoke_all(identity).await
    }

    /// Enables or disables `identity`. Disabling ends its sessions (and sessions issued before a disable stay
    /// dead after it is enabled again).
    pub async fn set_state(&self, identity: IdentityId, state: IdentityState) -> Result<Identity, Error> {
        let now = self.parts.clock.now();
        let updated = update_identity(self.parts.store.as_ref(), identity, now, |fresh| {
            if fresh.state != state {
                fresh.set_state(state, now);
            }
            Ok(())
        })
        .await?;
        if state == IdentityState::Inactive {
            self.parts.sessions.revoke_all(identity).await?;
        }
        Ok(updated)
    }

    /// Deletes `identity` with everything that belongs to it, its sessions included.
    pub async fn delete(&self, identity: IdentityId) -> Result<(), Error> {
        Ok(self.parts.store.delete_identity(identity).await?)
    }

    /// Imports one identity in Kratos' import shape: traits checked by its schema, identifiers and addresses
    /// derived, a hashed password kept as it is (checked to be a format that can be verified), a plaintext one
    /// hashed.
    pub async fn import(&self, import: IdentityImport) -> Result<Identity, Error> {
        let schema = self.parts.schemas.get(&import.schema_id)?;
        let derived = schema.check(&import.traits)?;
        let now = self.parts.clock.now();
        let mut identity = Identity::new(schema.id(), import.traits, now)?;
        if let Some(state) = import.state {
            identity.set_state(state, now);
        }
        identity.external_id = import.external_id;
        identity.organization_id = import.organization_id;
        identity.metadata_public = import.metadata_public;
        identity.metadata_admin = import.metadata_admin;
        apply_derived(&mut identity, &derived, VerificationStatus::Pending, now)?;
        keep_imported_verification(&mut identity, &import.verifiable_addresses);
        if let Some(password) = import.credentials.password {
            let hash = match (password.config.password, password.config.hashed_password) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(Error::InvalidConfig {
                        field: "credentials.password.config",
                        reason: "give exactly one of `password` and `hashed_password`".into(),
                    });
                }
                (Some(plaintext), None) => self.parts.hasher.hash_async(plaintext).await?,
                (None, Some(hash)) => {
                    PasswordHasher::check_importable(&hash)?;
                    hash
                }
            };
            let identifiers = derived.identifiers_for(CredentialType::Password).map(str::to_owned).collect();
            let config = CredentialConfig::Password(PasswordConfig { hashed_password: Some(hash) });
            identity.credentials.insert(Credential::new(config, identifiers, now)?);
        }
        if let Some(oidc) = import.credentials.oidc {
            let identifiers = oidc
                .config
                .providers
                .iter()
                .map(|link: &OidcLink| format!("{}:{}", link.provider, link.subject))
                .collect();
            identity.credentials.insert(Credential::new(CredentialConfig::Oidc(oidc.config), identifiers, now)?);
        }
        self.parts.store.create_identity(&identity).await?;
        Ok(identity)
    }

    /// Imports many identities (Kratos' batch `PATCH /admin/identities`): each succeeds or fails on its own.
    pub async fn import_batch(&self, imports: Vec<IdentityImport>) -> Vec<Result<Identity, Error>> {
        let mut results = Vec::with_capacity(imports.len());
        for import in imports {
            results.push(self.import(import).await);
        }
        results
    }

    /// Creates an identity without credentials, of `identity_type`, with `traits` of schema `schema_id` (the
    /// default when `None`), and an enrollment (`ott`, `ottca` or `updb`) through which it gets them. If the
    /// enrollment cannot be made, the identity is removed again.
    pub async fn create_for_enrollment(
        &self,
        schema_id: Option<&str>,
        traits: Value,
        identity_type: IdentityType,
        method: EnrollmentMethod,
    ) -> Result<(Identity, IssuedEnrollment), Error> {
        let enrollments = self.parts.enrollments.as_ref().ok_or(Error::InvalidConfig {
            field: "enrollments",
            reason: "no enrollment settings are configured".into(),
        })?;
        let schema = self.parts.schemas.get_or_default(schema_id)?;
        let derived = schema.check(&traits)?;
        let now = self.parts.clock.now();
        let mut identity = Identity::new(schema.id(), traits, now)?;
        identity.identity_type = identity_type;
        apply_derived(&mut identity, &derived, VerificationStatus::Pending, now)?;
        self.parts.store.create_identity(&identity).await?;
        match enrollments.create(identity.id, method).await {
            Ok(issued) => Ok((identity, issued)),
            Err(error) => {
                // Best effort: an identity nobody can enroll is of no use.
                let _ = self.parts.store.delete_identity(identity.id).await;
                Err(error)
            }
        }
    }
}

/// Marks verified the addresses of `identity` that an import says were verified.
fn keep_imported_verification(identity: &mut Identity, imported: &[ImportedAddress]) {
    let now = identity.created_at;
    for address in &mut identity.verifiable_addresses {
        let verified = imported
            .iter()
            .any(|old| old.verified && old.via == address.via && address.via.normalize(&old.value) == address.value);
        if verified {
            address.mark_verified(now);
        }
    }
}

/// The identifiers `identity`'s password answers to: those of its password credential, or if it has none yet,
/// those its traits imply.
pub(crate) fn password_identifiers(identity: &Identity, schemas: &SchemaRegistry) -> Result<Vec<String>, Error> {
    Ok(match identity.credentials.get(CredentialType::Password) {
        Some(credential) => credential.identifiers.clone(),
        None => schemas
            .get_or_default(Some(&identity.schema_id))?
            .derive(&identity.traits)
            .identifiers_for(CredentialType::Password)
            .map(str::to_owned)
            .collect(),
    })
}

/// Stores `hash` as `identity`'s password (answering to `identifiers`), whatever it had before.
pub(crate) async fn replace_password(
    store: &dyn Store,
    identity: IdentityId,
    hash: HashedPassword,
    identifiers: Vec<String>,
    now: identity_core::time::OffsetDateTime,
) -> Result<Identity, Error> {
    update_identity(store, identity, now, |fresh| {
        let config = CredentialConfig::Password(PasswordConfig { hashed_password: Some(hash.clone()) });
        let mut credential = Credential::new(config, identifiers.clone(), now)?;
        if let Some(old) = fresh.credentials.get(CredentialType::Password) {
            credential.created_at = old.created_at;
        }
        fresh.credentials.insert(credential);
        Ok(())
    })
    .await
}

/// Gives `identity` new `traits` with what they imply (see [`apply_derived`]).
pub(crate) fn apply_traits(
    identity: &mut Identity,
    traits: &Value,
    derived: &DerivedTraits,
    new_status: VerificationStatus,
    now: identity_core::time::OffsetDateTime,
) -> Result<(), Error> {
    identity.traits = traits.clone();
    apply_derived(identity, derived, new_status, now)
}

/// Gives `identity` what its traits imply: its password's identifiers, and its addresses (an address kept as it
/// was keeps its verification; a new or changed one starts unverified, in `new_status`).
pub(crate) fn apply_derived(
    identity: &mut Identity,
    derived: &DerivedTraits,
    new_status: VerificationStatus,
    now: identity_core::time::OffsetDateTime,
) -> Result<(), Error> {
    let identifiers: Vec<String> = derived.identifiers_for(CredentialType::Password).map(str::to_owned).collect();
    if let Some(credential) = identity.credentials.get_mut(CredentialType::Password)
        && credential.identifiers != identifiers
    {
        credential.identifiers = identifiers;
        credential.updated_at = now;
    }
    let mut verifiable = Vec::with_capacity(derived.verifiable_addresses.len());
    for address in &derived.verifiable_addresses {
        let kept =
            identity.verifiable_addresses.iter().find(|old| old.value == address.value && old.via == address.via);
        verifiable.push(match kept {
            Some(old) => old.clone(),
            None => {
                let mut new = VerifiableAddress::new(&address.value, address.via, now)?;
                new.status = new_status;
                new
            }
        });
    }
    identity.verifiable_addresses = verifiable;
    let mut recovery = Vec::with_capacity(derived.recovery_addresses.len());
    for address in &derived.recovery_addresses {
        let kept = identity.recovery_addresses.iter().find(|old| old.value == address.value && old.via == address.via);
        recovery.push(match kept {
            Some(old) => old.clone(),
            None => RecoveryAddress::new(&address.value, address.via, now)?,
        });
    }
    identity.recovery_addresses = recovery;
    Ok(())
}
