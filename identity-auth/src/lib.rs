//! Authentication for the identity platform: passwords (argon2id, bcrypt and Kratos' import formats), TOTP,
//! lookup codes, X.509 client certificates, external JWT signers, enrollments, authentication policies and the
//! secret cipher that keeps TOTP seeds and upstream tokens encrypted at rest; sessions; the self-service flows
//! in Kratos' model ([`SelfService`]: registration, login with a second step, settings, recovery and
//! verification by code, logout), with guesses throttled per identifier, identity and client address; and the
//! operator's jobs ([`Admin`]).
//!
//! Checking a password against the policy and hashing it:
//!
//! ```
//! use identity_auth::{PasswordHasher, PasswordPolicy, Verification};
//! use identity_core::SecretString;
//!
//! let hasher = PasswordHasher::new(Default::default())?;
//! let password = SecretString::new("correct-horse-battery-staple");
//! PasswordPolicy::default().check(&password, &["ada@example.com"], hasher.max_password_bytes())?;
//! let hash = hasher.hash(&password)?;
//! assert_eq!(hasher.verify(&password, &hash)?, Verification::Match { rehash: false });
//! # Ok::<(), identity_auth::Error>(())
//! ```
//!
//! Signing up through a registration flow, over the in-memory store:
//!
//! ```
//! use std::sync::Arc;
//! use identity_auth::*;
//! use identity_core::{SecretBytes, SystemClock};
//! use identity_schema::{IdentitySchema, SchemaRegistry};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let store: Arc<dyn identity_store::Store> = Arc::new(identity_store::MemoryStore::new());
//! let clock = Arc::new(SystemClock);
//! let schema = IdentitySchema::from_json_str("default", r#"{"type": "object", "properties": {"traits": {
//!     "type": "object", "required": ["email"], "properties": {"email": {"type": "string", "format": "email",
//!     "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}}}}}}"#)?;
//! let hasher = Arc::new(PasswordHasher::new(HasherConfig::default())?);
//! let parts = SelfServiceParts {
//!     authenticator: Arc::new(Authenticator::new(store.clone(), clock.clone(), hasher)),
//!     sessions: Arc::new(Sessions::new(store.clone(), clock.clone(), SessionSettings::default())?),
//!     schemas: Arc::new(SchemaRegistry::new(schema)),
//!     courier: Arc::new(RecordingCourier::new()),
//!     code_key: SecretBytes::new(random_bytes(32)?.expose_secret()),
//!     store,
//!     clock,
//! };
//! let flows = SelfService::new(parts, SelfServiceSettings::default())?;
//! let flow = flows.create_registration(&FlowRequest::new(FlowType::Api, "https://id.example/")).await?.flow;
//! let body = serde_json::json!({"traits": {"email": "ada@example.com"}, "password": "correct-horse-battery"});
//! let Submitted::Done(registered) = flows.submit_registration(flow.id, Submission::new("password", body)).await?
//! else { panic!("the flow came back with messages") };
//! assert!(registered.session.is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Outside tests, input that may be missing or wrong gets a typed error, never a panic; clippy holds every
// unwrap and expect of the crate's code to that.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod admin;
mod authenticator;
mod ca;
mod certificate;
mod cipher;
mod courier;
mod enrollment;
mod error;
mod flow;
mod hash_pool;
mod jwt_signer;
mod lookup;
mod password;
mod policy;
mod self_service;
mod session;
mod throttle;
mod token;
mod totp;
mod ui;

pub use admin::{
    Admin, AdminParts, IdentityImport, ImportedAddress, ImportedConfig, ImportedCredentials, ImportedPassword,
};
pub use authenticator::{Authenticated, Authenticator, Presentation};
pub use ca::PlatformCa;
pub use certificate::{CertificateVerifier, VerifiedCertificate, thumbprint_s256};
pub use cipher::{CipherKey, SecretCipher};
pub use courier::{Courier, Message, MessageKind, RecordingCourier, Templates};
pub use enrollment::{EnrollmentSettings, Enrollments, IssuedEnrollment};
pub use error::Error;
pub use flow::{CreatedFlow, Flow, FlowKind, FlowRequest, FlowSettings, FlowStart, FlowType, Flows, LoadedFlow};
pub use hash_pool::HashingPriority;
pub use jwt_signer::{
    CLOCK_SKEW_LEEWAY, CompiledSigner, DEFAULT_CLAIMS_PROPERTY, IdentityMatch, JwtSigner, MAX_TOKEN_LENGTH, SignerKeys,
    VerifiedJwt,
};
pub use lookup::{LOOKUP_CODE_COUNT, LOOKUP_CODE_LENGTH, LookupSecrets};
pub use password::{
    Argon2Params, BCRYPT_MAX_PASSWORD_BYTES, HashAlgorithm, HasherConfig, MAX_PASSWORD_BYTES, PasswordHasher,
    PasswordPolicy, Verification,
};
pub use policy::Policies;
pub use self_service::{
    LoggedIn, LoginRequest, Recovered, RecoveryCode, Registered, SelfService, SelfServiceParts, SelfServiceSettings,
    Submission, Submitted, Verified,
};
pub use session::{ClientInfo, IssuedSession, RequiredAal, SessionSettings, Sessions, has_second_factor};
pub use throttle::RateLimit;
pub use token::{hash_code, hash_token, random_bytes, random_code, random_token};
pub use totp::{TotpEnrollment, TotpSettings, TotpVerifier};
pub use ui::{
    InputAttributes, NodeAttributes, NodeGroup, NodeMeta, NodeType, TextAttributes, TextType, UiContainer, UiNode,
    UiText,
};
