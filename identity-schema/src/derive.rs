//! What validated traits imply: login identifiers per credential type, and verifiable and recovery addresses.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use identity_core::{AddressVia, CredentialType};

use crate::extension::{Marked, Segment};

/// An address and the channel it is reached through, normalised (emails trimmed and lower-cased).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Address {
    /// The address.
    pub value: String,
    /// Email or SMS.
    pub via: AddressVia,
}

/// Everything the `ory.sh/kratos` extension derives from one traits document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DerivedTraits {
    /// Login identifiers per credential type: `password`, `webauthn` and `code` identifiers (trimmed and
    /// lower-cased, as Kratos stores them), and the `totp` account name (trimmed).
    pub identifiers: BTreeMap<CredentialType, BTreeSet<String>>,
    /// Where one-time login codes go, with their channel.
    pub code_addresses: Vec<Address>,
    /// Addresses to verify, in schema order, without duplicates.
    pub verifiable_addresses: Vec<Address>,
    /// Addresses recovery may be sent to, in schema order, without duplicates.
    pub recovery_addresses: Vec<Address>,
    /// The name a passkey shows for this identity.
    pub passkey_display_name: Option<String>,
}

impl DerivedTraits {
    /// The identifiers for `kind`, sorted.
    pub fn identifiers_for(&self, kind: CredentialType) -> impl Iterator<Item = &str> {
        self.identifiers.get(&kind).into_iter().flatten().map(String::as_str)
    }

    /// The account name an authenticator app shows for this identity's TOTP credential.
    pub fn totp_account_name(&self) -> Option<&str> {
        self.identifiers_for(CredentialType::Totp).next()
    }
}

/// Applies every extension block to `traits`. Values that are not strings are skipped; validation against the
/// schema is what rules them out.
pub(crate) fn derive(marks: &[Marked], traits: &Value) -> DerivedTraits {
    let mut derived = DerivedTraits::default();
    for mark in marks {
        let mut values = Vec::new();
        values_at(traits, &mark.path, &mut values);
        let credentials = &mark.extension.credentials;
        for raw in values {
            let value = raw.trim();
            if value.is_empty() {
                continue;
            }
            let identifier = value.to_lowercase();
            if credentials.password.as_ref().is_some_and(|p| p.identifier) {
                add_identifier(&mut derived, CredentialType::Password, identifier.clone());
            }
            if credentials.webauthn.as_ref().is_some_and(|w| w.identifier) {
                add_identifier(&mut derived, CredentialType::Webauthn, identifier.clone());
            }
            if credentials.totp.as_ref().is_some_and(|t| t.account_name) {
                add_identifier(&mut derived, CredentialType::Totp, value.to_owned());
            }
            if credentials.passkey.as_ref().is_some_and(|p| p.display_name) && derived.passkey_display_name.is_none() {
                derived.passkey_display_name = Some(value.to_owned());
            }
            if let Some(code) = &credentials.code
                && let (true, Some(via)) = (code.identifier, code.via)
            {
                let address = address(value, via);
                add_identifier(&mut derived, CredentialType::Code, address.value.clone());
                push_unique(&mut derived.code_addresses, address);
            }
            if let Some(verification) = &mark.extension.verification {
                push_unique(&mut derived.verifiable_addresses, address(value, verification.via));
            }
            if let Some(recovery) = &mark.extension.recovery {
                push_unique(&mut derived.recovery_addresses, address(value, recovery.via));
            }
        }
    }
    derived
}

fn address(value: &str, via: AddressVia) -> Address {
    Address { value: via.normalize(value), via }
}

fn add_identifier(derived: &mut DerivedTraits, kind: CredentialType, identifier: String) {
    derived.identifiers.entry(kind).or_default().insert(identifier);
}

fn push_unique(addresses: &mut Vec<Address>, address: Address) {
    if !addresses.contains(&address) {
        addresses.push(address);
    }
}

fn values_at<'v>(value: &'v Value, path: &[Segment], out: &mut Vec<&'v str>) {
    match path.split_first() {
        None => match value {
            Value::String(text) => out.push(text),
            Value::Array(items) => out.extend(items.iter().filter_map(Value::as_str)),
            _ => {}
        },
        Some((Segment::Key(key), rest)) => {
            if let Some(child) = value.as_object().and_then(|object| object.get(key)) {
                values_at(child, rest, out);
            }
        }
        Some((Segment::Each, rest)) => {
            if let Value::Array(items) = value {
                for item in items {
                    values_at(item, rest, out);
                }
            }
        }
    }
}
