//! Identities: who or what authenticates. The JSON uses Kratos' field names, so a Kratos identity export decodes;
//! the fields Kratos lacks (`type`, `is_admin`, `role_attributes`, `auth_policy_id`) default when absent.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::credential::{CredentialType, Credentials};
use crate::error::{Error, Problem, require_text};
use crate::id::{AddressId, AuthenticationPolicyId, IdentityId, OrganizationId};
use crate::json::Validate;
use crate::name::RoleAttribute;

/// Whether an identity may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityState {
    /// It may sign in.
    #[default]
    Active,
    /// It may not; its sessions are ended when it becomes inactive.
    Inactive,
}

/// What an identity stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityType {
    /// A person.
    #[default]
    User,
    /// A machine, typically authenticating with a certificate.
    Device,
    /// A service account of another system.
    Service,
}

/// The channel an address is reached through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressVia {
    /// An email address.
    Email,
    /// A phone number reached by text message.
    Sms,
}

impl AddressVia {
    /// Normalises `value` for its channel, so one address has one spelling: emails trimmed and lower-cased (as
    /// Kratos does); phone numbers reduced to `+` and digits (E.164), so `+1 (415) 555-0100` and
    /// `+14155550100` are the same number.
    pub fn normalize(self, value: &str) -> String {
        match self {
            AddressVia::Email => value.trim().to_lowercase(),
            AddressVia::Sms => value.chars().filter(|c| c.is_ascii_digit() || *c == '+').collect(),
        }
    }
}

/// How far the verification of an address has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerificationStatus {
    /// Nothing sent yet.
    #[default]
    Pending,
    /// A code or link was sent.
    Sent,
    /// The address was verified.
    Completed,
}

/// An address the identity can prove it controls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifiableAddress {
    /// The address's id.
    pub id: AddressId,
    /// The address, normalised for its channel.
    pub value: String,
    /// Whether it was verified.
    pub verified: bool,
    /// Email or SMS.
    pub via: AddressVia,
    /// Verification progress.
    #[serde(default)]
    pub status: VerificationStatus,
    /// When it was verified.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<OffsetDateTime>,
    /// When it was added.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl VerifiableAddress {
    /// A new, unverified address, normalised for `via`.
    pub fn new(value: &str, via: AddressVia, now: OffsetDateTime) -> Result<Self, Error> {
        let value = via.normalize(value);
        require_text("value", &value)?;
        Ok(Self {
            id: AddressId::new(),
            value,
            verified: false,
            via,
            status: VerificationStatus::Pending,
            verified_at: None,
            created_at: now,
            updated_at: now,
        })
    }

    /// Records that the address was verified at `now`.
    pub fn mark_verified(&mut self, now: OffsetDateTime) {
        self.verified = true;
        self.status = VerificationStatus::Completed;
        self.verified_at = Some(now);
        self.updated_at = now;
    }
}

/// An address account recovery may be sent to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoveryAddress {
    /// The address's id.
    pub id: AddressId,
    /// The address, normalised for its channel.
    pub value: String,
    /// Email or SMS.
    pub via: AddressVia,
    /// When it was added.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl RecoveryAddress {
    /// A new recovery address, normalised for `via`.
    pub fn new(value: &str, via: AddressVia, now: OffsetDateTime) -> Result<Self, Error> {
        let value = via.normalize(value);
        require_text("value", &value)?;
        Ok(Self { id: AddressId::new(), value, via, created_at: now, updated_at: now })
    }
}

/// A person, device or service known to the platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// The identity's id.
    pub id: IdentityId,
    /// The id of the identity schema its traits follow.
    pub schema_id: String,
    /// Where the schema is published; the server fills it in from its public base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_url: Option<String>,
    /// The traits: a JSON object validated by the schema.
    #[serde(deserialize_with = "json_object")]
    pub traits: Value,
    /// Whether it may sign in.
    #[serde(default)]
    pub state: IdentityState,
    /// When `state` last changed.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub state_changed_at: Option<OffsetDateTime>,
    /// User, device or service.
    #[serde(rename = "type", default)]
    pub identity_type: IdentityType,
    /// Whether the identity administers the platform. Only operators set this.
    #[serde(default)]
    pub is_admin: bool,
    /// The id of this identity in another system (an HR system, an upstream directory); unique when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Tags that policy selectors match.
    #[serde(default)]
    pub role_attributes: BTreeSet<RoleAttribute>,
    /// The authentication policy that applies; the default policy when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_policy_id: Option<AuthenticationPolicyId>,
    /// The organization the identity belongs to, if any.
    #[serde(default)]
    pub organization_id: Option<OrganizationId>,
    /// Addresses it can verify, derived from the schema.
    #[serde(default)]
    pub verifiable_addresses: Vec<VerifiableAddress>,
    /// Addresses recovery may go to, derived from the schema.
    #[serde(default)]
    pub recovery_addresses: Vec<RecoveryAddress>,
    /// Metadata the identity itself may read but not change.
    #[serde(default)]
    pub metadata_public: Option<Value>,
    /// Metadata only administrators see.
    #[serde(default)]
    pub metadata_admin: Option<Value>,
    /// Its credentials, keyed by type.
    #[serde(default)]
    pub credentials: Credentials,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Identity {
    /// A new active user identity with `traits` following schema `schema_id`, created at `now`.
    ///
    /// `traits` must be a JSON object; whether it satisfies the schema is identity-schema's check.
    pub fn new(schema_id: impl Into<String>, traits: Value, now: OffsetDateTime) -> Result<Self, Error> {
        let identity = Self {
            id: IdentityId::new(),
            schema_id: schema_id.into(),
            schema_url: None,
            traits,
            state: IdentityState::Active,
            state_changed_at: Some(now),
            identity_type: IdentityType::User,
            is_admin: false,
            external_id: None,
            role_attributes: BTreeSet::new(),
            auth_policy_id: None,
            organization_id: None,
            verifiable_addresses: Vec::new(),
            recovery_addresses: Vec::new(),
            metadata_public: None,
            metadata_admin: None,
            credentials: Credentials::new(),
            created_at: now,
            updated_at: now,
        };
        identity.validate()?;
        Ok(identity)
    }

    /// Whether the identity may sign in.
    pub fn is_active(&self) -> bool {
        self.state == IdentityState::Active
    }

    /// Changes the state, recording when. Setting the state it already has changes nothing.
    pub fn set_state(&mut self, state: IdentityState, now: OffsetDateTime) {
        if self.state != state {
            self.state = state;
            self.state_changed_at = Some(now);
            self.updated_at = now;
        }
    }

    /// Whether the identity has a credential of `kind`.
    pub fn has_credential(&self, kind: CredentialType) -> bool {
        self.credentials.get(kind).is_some()
    }
}

/// Decodes a value that must be a JSON object, so no decoder (not only [`from_json`](crate::from_json)) accepts
/// traits of another type.
fn json_object<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
    let value = Value::deserialize(deserializer)?;
    if value.is_object() { Ok(value) } else { Err(serde::de::Error::custom("traits must be a JSON object")) }
}

impl Validate for Identity {
    fn validate(&self) -> Result<(), Error> {
        require_text("schema_id", &self.schema_id)?;
        if self.schema_id.len() > 255 {
            return Err(Problem::TooLong { max: 255 }.at("schema_id"));
        }
        if !self.traits.is_object() {
            return Err(Problem::Malformed { expected: "a JSON object" }.at("traits"));
        }
        if let Some(external_id) = &self.external_id {
            require_text("external_id", external_id)?;
            if external_id.len() > 255 {
                return Err(Problem::TooLong { max: 255 }.at("external_id"));
            }
        }
        for (index, address) in self.verifiable_addresses.iter().enumerate() {
            require_text(&format!("verifiable_addresses[{index}].value"), &address.value)?;
        }
        for (index, address) in self.recovery_addresses.iter().enumerate() {
            require_text(&format!("recovery_addresses[{index}].value"), &address.value)?;
        }
        if self.updated_at < self.created_at {
            return Err(Problem::NotAfter { earlier: "created_at" }.at("updated_at"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);

    #[test]
    fn a_new_identity_is_an_active_user() {
        let identity = Identity::new("default", json!({"email": "a@example.com"}), NOW).unwrap();
        assert!(identity.is_active());
        assert_eq!(identity.identity_type, IdentityType::User);
        assert_eq!(identity.state_changed_at, Some(NOW));
        assert!(!identity.is_admin);
    }

    #[test]
    fn construction_names_the_bad_field() {
        let err = Identity::new(" ", json!({}), NOW).unwrap_err();
        assert_eq!(err, Problem::Empty.at("schema_id"));
        let err = Identity::new("default", json!(["not", "an", "object"]), NOW).unwrap_err();
        assert!(matches!(err, Error::InvalidField { ref field, .. } if field == "traits"), "{err}");
    }

    #[test]
    fn set_state_records_the_change_once() {
        let mut identity = Identity::new("default", json!({}), NOW).unwrap();
        let later = NOW + time::Duration::hours(1);
        identity.set_state(IdentityState::Inactive, later);
        assert!(!identity.is_active());
        assert_eq!(identity.state_changed_at, Some(later));
        identity.set_state(IdentityState::Inactive, later + time::Duration::hours(1));
        assert_eq!(identity.state_changed_at, Some(later));
    }

    #[test]
    fn addresses_are_normalised_for_their_channel() {
        let email = VerifiableAddress::new("  Alice@Example.COM ", AddressVia::Email, NOW).unwrap();
        assert_eq!(email.value, "alice@example.com");
        assert_eq!(email.status, VerificationStatus::Pending);
        let phone = RecoveryAddress::new(" +1 (415) 555-0100 ", AddressVia::Sms, NOW).unwrap();
        assert_eq!(phone.value, "+14155550100");
        assert!(VerifiableAddress::new("   ", AddressVia::Email, NOW).is_err());
    }

    #[test]
    fn marking_verified_completes_the_address() {
        let mut email = VerifiableAddress::new("a@example.com", AddressVia::Email, NOW).unwrap();
        email.mark_verified(NOW);
        assert!(email.verified);
        assert_eq!(email.status, VerificationStatus::Completed);
        assert_eq!(email.verified_at, Some(NOW));
    }

    #[test]
    fn our_additions_serialise_beside_kratos_fields() {
        let mut identity = Identity::new("default", json!({"email": "a@example.com"}), NOW).unwrap();
        identity.identity_type = IdentityType::Device;
        identity.role_attributes.insert(RoleAttribute::new("edge").unwrap());
        let json = serde_json::to_value(&identity).unwrap();
        assert_eq!(json["type"], "device");
        assert_eq!(json["role_attributes"], json!(["edge"]));
        assert_eq!(json["state"], "active");
        assert_eq!(json["created_at"], "2026-01-01T00:00:00Z");
        let back: Identity = serde_json::from_value(json).unwrap();
        assert_eq!(back, identity);
    }
}
