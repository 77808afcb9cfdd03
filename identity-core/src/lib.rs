//! The identity platform's domain model, with no I/O: identities (typed traits, state, type, addresses, metadata,
//! role attributes), their credentials, enrollments, sessions and authentication policies, and the tenancy
//! objects of access control (organizations, groups, roles of scoped CRUD permissions, projects).
//!
//! Every value is checked when it is built: names with a syntax are newtypes that cannot hold a bad value, ids
//! are typed, secrets redact themselves, and [`from_json`] decodes untrusted JSON with errors that name the field.
//! The JSON of identities and sessions uses Kratos' field names, so a Kratos identity export decodes.
//!
//! ```
//! use identity_core::{Clock, Identity, Operation, Permission, Role, RoleScopes, ScopeLevel, TestClock};
//!
//! let clock = TestClock::at_default_start();
//! let mut ada = Identity::new("default", serde_json::json!({"email": "ada@example.com"}), clock.now())?;
//! ada.role_attributes.insert("engineering".parse()?);
//!
//! let mut scopes = RoleScopes::default();
//! scopes.at_mut(ScopeLevel::Project).grant("identity:projects".parse()?, Permission::READ);
//! let reader = Role::new("reader", scopes)?;
//! assert!(reader.scopes.project.get("identity:projects").allows(Operation::Read));
//!
//! // Bad input is a typed error that names the field.
//! let err = Role::new("Not A Label", RoleScopes::default()).unwrap_err();
//! assert!(err.to_string().starts_with("invalid `name`"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Outside tests, input that may be missing or wrong gets a typed error, never a panic; clippy holds every
// unwrap and expect of the crate's code to that.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod clock;
mod credential;
mod enrollment;
mod error;
mod id;
mod identity;
mod json;
mod name;
mod organization;
mod permission;
mod policy;
mod role;
mod secret;
mod session;

pub use clock::{Clock, SystemClock, TestClock};
pub use credential::{
    CertificateFingerprint, CodeAddress, CodeConfig, Credential, CredentialConfig, CredentialType, Credentials,
    EnrolledCertificate, ExtJwtConfig, ImportedLookupCode, LookupCode, LookupSecretConfig, OidcConfig, OidcLink,
    PasswordConfig, TotpAlgorithm, TotpConfig, X509Config,
};
pub use enrollment::{Enrollment, EnrollmentMethod};
pub use error::{Error, Problem};
pub use id::{
    AddressId, AuthenticationPolicyId, CaId, DeviceId, EnrollmentId, FlowId, GrantId, GroupId, IdentityId, JwtSignerId,
    OrganizationId, ProjectId, ProviderId, RoleId, SessionId,
};
pub use identity::{
    AddressVia, Identity, IdentityState, IdentityType, RecoveryAddress, VerifiableAddress, VerificationStatus,
};
pub use json::{Validate, from_json, from_value};
pub use name::{DnsLabel, EmailDomain, RoleAttribute, ScopeName};
pub use organization::{Group, Organization, Project};
pub use permission::{Operation, Permission};
pub use policy::{
    AuthenticationPolicy, CertificateRules, ExtJwtRules, MIN_PASSWORD_LENGTH_FLOOR, PasswordRules, PrimaryMethods,
    SecondaryFactors,
};
pub use role::{Role, RoleScopes, Scope, ScopeLevel, ScopeSet};
pub use secret::{HashedPassword, SealedSecret, SecretBytes, SecretString, TokenHash};
pub use session::{AssuranceLevel, AuthenticationMethod, Device, Session};

/// Re-exported so callers name instants and durations with the same `time` version as this crate.
pub use time;
