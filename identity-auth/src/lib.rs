//! Authentication for the identity platform: passwords (argon2id, bcrypt import), TOTP, lookup codes, X.509 client
//! certificates, external JWT signers, enrollments, authentication policies, sessions with assurance levels,
//! self-service flows and the secret cipher.
//!
//! Its API arrives with the credentials and sessions issues; until then this crate is empty on purpose.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
