//! Identities with their credentials: the trait, its query types, and the rules every backend applies the same
//! way (which identifiers are unique, how they are normalised, how large an identity may be).

use async_trait::async_trait;
use identity_core::time::OffsetDateTime;
use identity_core::{
    AddressVia, CertificateFingerprint, CredentialConfig, CredentialType, Identity, IdentityId, OrganizationId,
    RoleAttribute,
};

use crate::error::Error;
use crate::page::{Page, PageRequest};

/// The largest serialised `traits`, `metadata_public` or `metadata_admin` an identity may carry, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// Which identities a listing or count includes. Filters combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityFilter {
    /// Only the identity with this login identifier (of any credential type; case-insensitive where the type's
    /// identifiers are).
    pub credential_identifier: Option<String>,
    /// Only identities carrying this role attribute.
    pub role_attribute: Option<RoleAttribute>,
    /// Only identities of this organization.
    pub organization_id: Option<OrganizationId>,
}

/// Where identities live, with their credentials.
///
/// Invariants every implementation keeps:
/// - a login identifier (see [`login_identifiers`]) belongs to at most one identity, also under concurrent
///   writes; the loser gets [`Error::Conflict`] naming the identifier, and nothing of its write is kept; so do
///   recovery addresses and verifiable addresses (each kind on its own, as in Kratos);
/// - an external id belongs to at most one identity;
/// - creating an identity, and updating one together with the identifiers its credentials imply, are atomic;
/// - deleting an identity removes, in one transaction, its credentials, enrollments, sessions, one-time codes,
///   flows, OAuth2 tokens, role attributes and group memberships;
/// - identities whose traits or metadata exceed [`MAX_DOCUMENT_BYTES`] are refused with [`Error::Invalid`].
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Stores a new identity with its credentials.
    async fn create_identity(&self, identity: &Identity) -> Result<(), Error>;

    /// The identity with `id`; [`Error::NotFound`] if there is none.
    async fn identity(&self, id: IdentityId) -> Result<Identity, Error>;

    /// The identity that signs in with `identifier` for credentials of `kind`.
    async fn find_identity_by_identifier(
        &self,
        kind: CredentialType,
        identifier: &str,
    ) -> Result<Option<Identity>, Error>;

    /// The identity with this recovery or verifiable `address` (normalised as [`normalize_address`] does).
    async fn find_identity_by_address(&self, kind: AddressKind, address: &str) -> Result<Option<Identity>, Error>;

    /// The identity with this external id.
    async fn find_identity_by_external_id(&self, external_id: &str) -> Result<Option<Identity>, Error>;

    /// The identity holding the certificate with this fingerprint.
    async fn find_identity_by_certificate(
        &self,
        fingerprint: &CertificateFingerprint,
    ) -> Result<Option<Identity>, Error> {
        self.find_identity_by_identifier(CredentialType::X509, &fingerprint.to_hex()).await
    }

    /// A page of identities matching `filter`, ordered by id.
    async fn list_identities(&self, filter: &IdentityFilter, page: &PageRequest) -> Result<Page<Identity>, Error>;

    /// How many identities match `filter`.
    async fn count_identities(&self, filter: &IdentityFilter) -> Result<u64, Error>;

    /// Replaces the identity stored under `identity.id`, credentials and identifiers included.
    async fn update_identity(&self, identity: &Identity) -> Result<(), Error>;

    /// Like [`update_identity`](Self::update_identity), but only if the stored identity's `updated_at` still
    /// equals `expected_updated_at` (to the microsecond), the value read before changing it; otherwise
    /// [`Error::Conflict`] on `identity version`, and nothing is written. Read, change (setting a new, later
    /// `updated_at`), write back with this, and retry on conflict: concurrent changes are then never lost, as
    /// long as every writer moves `updated_at` forward, as this workspace's writers do.
    async fn update_identity_if_unchanged(
        &self,
        identity: &Identity,
        expected_updated_at: OffsetDateTime,
    ) -> Result<(), Error>;

    /// Deletes the identity and everything that belongs to it.
    async fn delete_identity(&self, id: IdentityId) -> Result<(), Error>;
}

/// Which of an identity's addresses a lookup is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddressKind {
    /// Addresses account recovery may be sent to.
    Recovery,
    /// Addresses the identity can verify.
    Verifiable,
}

impl AddressKind {
    /// The key kind the store indexes these addresses under (never a credential type's name).
    pub const fn as_str(self) -> &'static str {
        match self {
            AddressKind::Recovery => "recovery_address",
            AddressKind::Verifiable => "verifiable_address",
        }
    }
}

/// Normalises an address typed by a person the way addresses are stored: an email (anything with `@`) trimmed
/// and lower-cased, otherwise a phone number reduced to `+` and digits.
pub fn normalize_address(address: &str) -> String {
    let via = if address.contains('@') { AddressVia::Email } else { AddressVia::Sms };
    via.normalize(address)
}

/// Every unique key the store indexes for `identity`: its login identifiers under their credential type's name,
/// and its recovery and verifiable addresses under [`AddressKind::as_str`]; sorted, without duplicates.
pub fn unique_keys(identity: &Identity) -> Vec<(&'static str, String)> {
    let mut keys: Vec<(&'static str, String)> =
        login_identifiers(identity).into_iter().map(|(kind, identifier)| (kind.as_str(), identifier)).collect();
    let recovery = identity.recovery_addresses.iter().map(|address| (AddressKind::Recovery, &address.value));
    let verifiable = identity.verifiable_addresses.iter().map(|address| (AddressKind::Verifiable, &address.value));
    for (kind, value) in recovery.chain(verifiable) {
        let normalized = normalize_address(value);
        if !normalized.is_empty() {
            keys.push((kind.as_str(), normalized));
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

/// Whether identifiers of `kind` are unique login keys. Second factors (TOTP, lookup codes) are not: their
/// identifiers only label them.
pub fn is_login_credential(kind: CredentialType) -> bool {
    !matches!(kind, CredentialType::Totp | CredentialType::LookupSecret)
}

/// Normalises an identifier of `kind` the way the store keys it: trimmed, and lower-cased for types whose
/// identifiers are emails, user names, phone numbers or fingerprints. OIDC and external-JWT subjects are kept
/// exactly, since upstream providers may treat case as significant.
pub fn normalize_identifier(kind: CredentialType, identifier: &str) -> String {
    if is_case_sensitive(kind) { identifier.trim().to_owned() } else { identifier.trim().to_lowercase() }
}

/// Whether identifiers of `kind` keep their case: upstream subjects (OIDC, external JWTs) do.
pub fn is_case_sensitive(kind: CredentialType) -> bool {
    matches!(kind, CredentialType::Oidc | CredentialType::ExtJwt)
}

/// The unique login keys an identity's credentials imply: `(type, normalised identifier)`, sorted, without
/// duplicates. For X.509 credentials every enrolled certificate's fingerprint counts too.
pub fn login_identifiers(identity: &Identity) -> Vec<(CredentialType, String)> {
    let mut keys: Vec<(CredentialType, String)> = Vec::new();
    for credential in identity.credentials.iter() {
        let kind = credential.credential_type();
        if !is_login_credential(kind) {
            continue;
        }
        for identifier in &credential.identifiers {
            let normalized = normalize_identifier(kind, identifier);
            if !normalized.is_empty() {
                keys.push((kind, normalized));
            }
        }
        if let CredentialConfig::X509(config) = &credential.config {
            keys.extend(config.certificates.iter().map(|certificate| (kind, certificate.fingerprint.to_hex())));
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

/// Refuses identities the store must not keep: over the size limits, or with credentials still carrying
/// plaintext secrets from an import (see [`Credential::has_unsealed_import`](identity_core::Credential)).
pub fn check_identity(identity: &Identity) -> Result<(), Error> {
    // NUL cannot be stored in a PostgreSQL text column; refusing it everywhere keeps the backends alike.
    let keys = unique_keys(identity);
    if keys.iter().any(|(_, identifier)| identifier.contains('\0'))
        || identity.external_id.as_deref().is_some_and(|id| id.contains('\0'))
    {
        return Err(Error::Invalid { field: "credentials", reason: "identifiers may not contain NUL".into() });
    }
    if let Some(credential) = identity.credentials.iter().find(|c| c.has_unsealed_import()) {
        return Err(Error::Invalid {
            field: "credentials",
            reason: format!(
                "the {} credential still holds plaintext imported secrets; seal or hash them first",
                credential.credential_type()
            ),
        });
    }
    let documents = [
        ("traits", Some(&identity.traits)),
        ("metadata_public", identity.metadata_public.as_ref()),
        ("metadata_admin", identity.metadata_admin.as_ref()),
    ];
    for (field, document) in documents {
        let Some(document) = document else { continue };
        let size = serde_json::to_vec(document).map(|bytes| bytes.len()).unwrap_or(usize::MAX);
        if size > MAX_DOCUMENT_BYTES {
            return Err(Error::Invalid {
                field,
                reason: format!("{size} bytes is more than the {MAX_DOCUMENT_BYTES} allowed"),
            });
        }
    }
    Ok(())
}

/// The [`Error::Conflict`] of an optimistic update that found the identity changed.
pub(crate) fn version_conflict(identity: IdentityId) -> Error {
    Error::conflict("identity version", identity.to_string())
}

/// The [`Error::Conflict`] for a unique key (see [`unique_keys`]) that is taken.
pub(crate) fn key_conflict(kind: &str, value: &str) -> Error {
    match kind.strip_suffix("_address") {
        Some(address) => Error::conflict(format!("{address} address"), value),
        None => Error::conflict(format!("{kind} identifier"), value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use identity_core::{Credential, PasswordConfig, TotpConfig, X509Config, time::OffsetDateTime};
    use serde_json::json;

    fn identity_with(credentials: Vec<Credential>) -> Identity {
        let mut identity = Identity::new("default", json!({}), OffsetDateTime::UNIX_EPOCH).unwrap();
        for credential in credentials {
            identity.credentials.insert(credential);
        }
        identity
    }

    #[test]
    fn identifiers_are_normalised_per_type_and_second_factors_skipped() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let password = Credential::new(
            CredentialConfig::Password(PasswordConfig::default()),
            vec![" Ada@Example.COM ".into(), "ada@example.com".into()],
            now,
        )
        .unwrap();
        let oidc = Credential::new(
            CredentialConfig::Oidc(identity_core::OidcConfig::default()),
            vec!["google:AbC".into()],
            now,
        )
        .unwrap();
        let totp = Credential::new(
            CredentialConfig::Totp(TotpConfig::new(identity_core::SealedSecret::from_bytes(vec![1]))),
            vec!["ada".into()],
            now,
        )
        .unwrap();
        let fingerprint = CertificateFingerprint::from_bytes([0xAB; 32]);
        let cert =
            Credential::new(CredentialConfig::X509(X509Config::single(fingerprint, "CN=ada")), vec![], now).unwrap();
        let keys = login_identifiers(&identity_with(vec![password, oidc, totp, cert]));
        assert_eq!(
            keys,
            [
                (CredentialType::Password, "ada@example.com".to_owned()),
                (CredentialType::Oidc, "google:AbC".to_owned()),
                (CredentialType::X509, "ab".repeat(32)),
            ]
        );
    }

    #[test]
    fn plaintext_imported_secrets_are_refused() {
        let mut config = TotpConfig::new(identity_core::SealedSecret::from_bytes(vec![1]));
        config.imported_url = Some(identity_core::SecretString::new("otpauth://totp/x?secret=ABC"));
        let totp = Credential::new(CredentialConfig::Totp(config), vec![], OffsetDateTime::UNIX_EPOCH).unwrap();
        let identity = identity_with(vec![totp]);
        assert!(matches!(check_identity(&identity), Err(Error::Invalid { field: "credentials", .. })));
    }

    #[test]
    fn oversized_documents_are_refused() {
        let mut identity = identity_with(vec![]);
        identity.traits = json!({"blob": "x".repeat(MAX_DOCUMENT_BYTES)});
        assert!(matches!(check_identity(&identity), Err(Error::Invalid { field: "traits", .. })));
        identity.traits = json!({});
        identity.metadata_admin = Some(json!("y".repeat(MAX_DOCUMENT_BYTES)));
        assert!(matches!(check_identity(&identity), Err(Error::Invalid { field: "metadata_admin", .. })));
    }
}
