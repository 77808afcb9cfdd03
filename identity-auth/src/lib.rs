//! Authentication for the identity platform: passwords (argon2id, bcrypt and Kratos' import formats), TOTP,
//! lookup codes, X.509 client certificates, external JWT signers, enrollments, authentication policies and the
//! secret cipher that keeps TOTP seeds and upstream tokens encrypted at rest.
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
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod admin;
mod authenticator;
mod ca;
mod certificate;
mod cipher;
mod courier;
mod enrollment;
mod error;
mod flow;
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
pub use flow::{CreatedFlow, Flow, FlowKind, FlowRequest, FlowSettings, FlowType, Flows, LoadedFlow};
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
