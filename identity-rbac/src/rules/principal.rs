//! Who the caller resolved the request's credential to, as the decision sees it.

use std::collections::BTreeSet;

use identity_core::{AddressVia, DnsLabel, Identity, IdentityId, OrganizationId, RoleAttribute};

/// What a decision may know about an authenticated subject: enough to authorize by selector and to fill the
/// headers. The caller builds it from the identity its session or token resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The identity's id.
    pub id: IdentityId,
    /// Its email address, if it has one.
    pub email: Option<String>,
    /// The names of the roles it holds in its organization (see
    /// [`OrganizationSnapshot::role_names`](crate::OrganizationSnapshot::role_names)).
    pub roles: Vec<DnsLabel>,
    /// Its role attributes, matched by selectors.
    pub role_attributes: BTreeSet<RoleAttribute>,
    /// Its organization, if it belongs to one.
    pub organization_id: Option<OrganizationId>,
}

impl Principal {
    /// A principal known only by its id.
    pub fn new(id: IdentityId) -> Self {
        Self { id, email: None, roles: Vec::new(), role_attributes: BTreeSet::new(), organization_id: None }
    }

    /// The principal of `identity`: its id, role attributes, organization, and email (its first email address,
    /// or else its `email` trait). Roles are left empty for the caller to fill.
    pub fn from_identity(identity: &Identity) -> Self {
        let email = identity
            .verifiable_addresses
            .iter()
            .find(|address| address.via == AddressVia::Email)
            .map(|address| address.value.clone())
            .or_else(|| identity.traits.get("email").and_then(|e| e.as_str()).map(str::to_owned));
        Self {
            id: identity.id,
            email,
            roles: Vec::new(),
            role_attributes: identity.role_attributes.clone(),
            organization_id: identity.organization_id,
        }
    }
}
