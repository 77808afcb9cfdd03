//! The one error type of this crate. Every variant has a stable [`Error::code`] that clients may match on; the
//! message is for people and never contains a secret.

use identity_core::time::OffsetDateTime;

/// Why proving an identity, or managing its credentials, failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- Passwords -------------------------------------------------------------------------------------------
    /// The password is shorter than the policy allows.
    #[error("the password must be at least {min} characters long")]
    PasswordTooShort {
        /// The minimum, in characters.
        min: usize,
    },
    /// The password is longer than the hasher can take without truncating it.
    #[error("the password must be at most {max} bytes long")]
    PasswordTooLong {
        /// The maximum, in bytes (72 with bcrypt, which would otherwise silently ignore the rest).
        max: usize,
    },
    /// The password is too close to one of the identity's identifiers (an email, a user name).
    #[error("the password is too similar to the account's identifier")]
    PasswordTooSimilar,
    /// The password is easy to guess: common, leaked, or a simple pattern.
    #[error("the password is too easy to guess (strength {score} of 4; at least {min_score} is required)")]
    PasswordTooWeak {
        /// zxcvbn's score, 0 to 4.
        score: u8,
        /// The policy's minimum.
        min_score: u8,
    },
    /// A stored or imported password hash is in a format this crate cannot verify.
    #[error("unsupported password hash format `{algorithm}`")]
    UnsupportedHash {
        /// The algorithm id found in the hash (`$<id>$...`), or a description.
        algorithm: String,
    },
    /// The hasher's configuration is unusable.
    #[error("invalid hasher configuration: {reason}")]
    InvalidHasherConfig {
        /// What is wrong.
        reason: String,
    },

    // --- Authentication --------------------------------------------------------------------------------------
    /// The identifier or the secret is wrong. Deliberately does not say which.
    #[error("the provided credentials are invalid")]
    InvalidCredentials,
    /// The identity is disabled.
    #[error("the identity is disabled")]
    IdentityDisabled,
    /// Too many failed attempts for this identifier, identity or client address; refused before any secret was
    /// checked. Try again after `retry_after` (an HTTP `Retry-After`).
    #[error("too many failed attempts; try again in {} seconds", retry_after.whole_seconds())]
    RateLimited {
        /// How long until attempts are counted afresh.
        retry_after: identity_core::time::Duration,
    },
    /// The identity's authentication policy does not allow this method.
    #[error("the `{method}` method is not allowed for this identity")]
    MethodNotAllowed {
        /// The method refused.
        method: &'static str,
    },

    // --- Sessions --------------------------------------------------------------------------------------------
    /// No usable session: unknown, revoked or expired token, or a disabled identity (Kratos' `session_inactive`).
    #[error("no active session")]
    SessionInactive,
    /// The session has one factor but the identity has a second one set up (Kratos' `session_aal2_required`).
    #[error("this requires a session authenticated with a second factor")]
    Aal2Required,
    /// The session authenticated too long ago to change credentials (Kratos' `session_refresh_required`).
    #[error("please sign in again to do this")]
    ReauthenticationRequired,
    /// A valid session already exists; a login flow makes sense only to refresh or upgrade it (Kratos'
    /// `session_already_available`).
    #[error("you are already signed in")]
    SessionAlreadyAvailable,
    /// The session, or the credentials presented, belong to another identity than the flow's (Kratos'
    /// `security_identity_mismatch`).
    #[error("the session or credentials belong to another identity than this flow's")]
    IdentityMismatch,
    /// A second factor was asked for, but the identity has none set up.
    #[error("no second factor is set up for this identity")]
    NoSecondFactor,

    // --- Self-service flows -----------------------------------------------------------------------------------
    /// No flow of this kind with this id.
    #[error("the flow does not exist")]
    FlowNotFound,
    /// The flow lapsed; start a new one (Kratos' `self_service_flow_expired`).
    #[error("the flow expired; please start again")]
    FlowExpired,
    /// A browser flow was submitted without its CSRF token (Kratos' `security_csrf_violation`).
    #[error("the request failed the CSRF check")]
    CsrfViolation,
    /// The flow does not offer the submitted method.
    #[error("this flow does not offer that method; it offers {offered:?}")]
    WrongFlowMethod {
        /// The methods it offers.
        offered: Vec<&'static str>,
    },

    // --- TOTP and lookup codes -------------------------------------------------------------------------------
    /// The TOTP code is wrong, outside the allowed time window, or was already used.
    #[error("the TOTP code is invalid")]
    InvalidTotpCode,
    /// The lookup (backup) code is wrong or was already used.
    #[error("the backup code is invalid or was already used")]
    InvalidLookupCode,
    /// TOTP parameters cannot be used (digits, period, account name).
    #[error("invalid TOTP setup: {reason}")]
    InvalidTotpSetup {
        /// What is wrong.
        reason: String,
    },

    // --- Secret cipher ---------------------------------------------------------------------------------------
    /// A sealed secret was encrypted with a key that is not in the key ring.
    #[error("the secret was sealed with an unknown key")]
    UnknownCipherKey,
    /// A sealed secret is truncated or was tampered with.
    #[error("the sealed secret is damaged or was tampered with")]
    TamperedSecret,
    /// The key ring is unusable (no key, a key of the wrong length, a duplicate id).
    #[error("invalid cipher key ring: {reason}")]
    InvalidKeyRing {
        /// What is wrong.
        reason: String,
    },

    // --- X.509 client certificates ---------------------------------------------------------------------------
    /// The certificate does not parse.
    #[error("the certificate is malformed: {reason}")]
    MalformedCertificate {
        /// The parser's explanation.
        reason: String,
    },
    /// The certificate (or one in its chain) expired.
    #[error("the certificate expired at {not_after}")]
    CertificateExpired {
        /// When it expired.
        not_after: OffsetDateTime,
    },
    /// The certificate (or one in its chain) is not valid yet.
    #[error("the certificate is not valid before {not_before}")]
    CertificateNotYetValid {
        /// When it becomes valid.
        not_before: OffsetDateTime,
    },
    /// No trusted CA issued the certificate, or the signature does not verify.
    #[error("the certificate was not issued by a trusted certificate authority")]
    UnknownIssuer,
    /// The certificate signs itself and is not a trusted CA.
    #[error("the certificate is self-signed")]
    SelfSigned,
    /// The certificate may not be used for client authentication.
    #[error("the certificate is not allowed for client authentication")]
    NotClientAuth,
    /// A certificate used as a CA is not one, or a leaf claims to be a CA.
    #[error("the certificate `{subject}` has the wrong CA flag for its place in the chain")]
    NotACa {
        /// The certificate's subject.
        subject: String,
    },

    // --- External JWT signers --------------------------------------------------------------------------------
    /// A signer's configuration is unusable.
    #[error("invalid JWT signer `{field}`: {reason}")]
    InvalidSigner {
        /// The field at fault.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The signer is disabled.
    #[error("the JWT signer is disabled")]
    SignerDisabled,
    /// No key of the signer matches the token's `kid`.
    #[error("no key of the signer matches the token's key id")]
    UnknownKey {
        /// The token's `kid`, if it had one.
        kid: Option<String>,
    },
    /// The token's algorithm is not allowed for this signer.
    #[error("the token's algorithm `{algorithm}` is not allowed")]
    AlgorithmNotAllowed {
        /// The algorithm in the token's header.
        algorithm: String,
    },
    /// The token's issuer is not the signer's.
    #[error("the token's issuer is wrong")]
    WrongIssuer,
    /// The token is not meant for this audience.
    #[error("the token's audience is wrong")]
    WrongAudience,
    /// The token expired.
    #[error("the token expired")]
    TokenExpired,
    /// The token is not valid yet.
    #[error("the token is not valid yet")]
    TokenNotYetValid,
    /// The token's signature does not verify with the signer's key.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// The token does not parse, or lacks a claim it needs.
    #[error("the token is malformed: {reason}")]
    MalformedToken {
        /// What is wrong.
        reason: String,
    },

    // --- Enrollments -----------------------------------------------------------------------------------------
    /// No open enrollment matches the token (wrong, used or lapsed).
    #[error("the enrollment token is invalid, used or expired")]
    InvalidEnrollment,
    /// The enrollment lapsed; ask for a new one (or a refresh).
    #[error("the enrollment expired")]
    EnrollmentExpired,
    /// The enrollment is for another method than the one presented.
    #[error("the enrollment is for the `{expected}` method")]
    WrongEnrollmentMethod {
        /// The method the enrollment was made for.
        expected: &'static str,
    },

    // --- Configuration and internals -------------------------------------------------------------------------
    /// A setting is unusable.
    #[error("invalid configuration `{field}`: {reason}")]
    InvalidConfig {
        /// The setting.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Something that cannot fail with valid configuration failed (a hash or seal operation). A bug.
    #[error("internal error: {reason}")]
    Internal {
        /// What failed.
        reason: String,
    },

    // --- Underneath ------------------------------------------------------------------------------------------
    /// The store failed; see [`identity_store::Error::is_retryable`].
    #[error(transparent)]
    Store(#[from] identity_store::Error),
    /// A domain value could not be built.
    #[error(transparent)]
    Domain(#[from] identity_core::Error),
    /// An identity schema is missing or unusable.
    #[error(transparent)]
    Schema(#[from] identity_schema::Error),
    /// The operating system's random source failed.
    #[error("the system's random number generator failed")]
    Random,
    /// A blocking task (hashing) could not run or did not finish.
    #[error("a background task failed: {reason}")]
    Background {
        /// What happened.
        reason: String,
    },
}

impl Error {
    /// A stable, machine-readable code for this error, such as `password_too_short`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::PasswordTooShort { .. } => "password_too_short",
            Error::PasswordTooLong { .. } => "password_too_long",
            Error::PasswordTooSimilar => "password_too_similar",
            Error::PasswordTooWeak { .. } => "password_too_weak",
            Error::UnsupportedHash { .. } => "unsupported_hash",
            Error::InvalidHasherConfig { .. } => "invalid_hasher_config",
            Error::InvalidCredentials => "invalid_credentials",
            Error::IdentityDisabled => "identity_disabled",
            Error::RateLimited { .. } => "rate_limited",
            Error::MethodNotAllowed { .. } => "method_not_allowed",
            Error::SessionInactive => "session_inactive",
            Error::Aal2Required => "session_aal2_required",
            Error::ReauthenticationRequired => "session_refresh_required",
            Error::SessionAlreadyAvailable => "session_already_available",
            Error::IdentityMismatch => "security_identity_mismatch",
            Error::NoSecondFactor => "no_second_factor",
            Error::FlowNotFound => "self_service_flow_not_found",
            Error::FlowExpired => "self_service_flow_expired",
            Error::CsrfViolation => "security_csrf_violation",
            Error::WrongFlowMethod { .. } => "self_service_flow_method_invalid",
            Error::InvalidTotpCode => "invalid_totp_code",
            Error::InvalidLookupCode => "invalid_lookup_code",
            Error::InvalidTotpSetup { .. } => "invalid_totp_setup",
            Error::UnknownCipherKey => "unknown_cipher_key",
            Error::TamperedSecret => "tampered_secret",
            Error::InvalidKeyRing { .. } => "invalid_key_ring",
            Error::MalformedCertificate { .. } => "malformed_certificate",
            Error::CertificateExpired { .. } => "certificate_expired",
            Error::CertificateNotYetValid { .. } => "certificate_not_yet_valid",
            Error::UnknownIssuer => "unknown_issuer",
            Error::SelfSigned => "self_signed",
            Error::NotClientAuth => "not_client_auth",
            Error::NotACa { .. } => "not_a_ca",
            Error::InvalidSigner { .. } => "invalid_signer",
            Error::SignerDisabled => "signer_disabled",
            Error::UnknownKey { .. } => "unknown_key",
            Error::AlgorithmNotAllowed { .. } => "algorithm_not_allowed",
            Error::WrongIssuer => "wrong_issuer",
            Error::WrongAudience => "wrong_audience",
            Error::TokenExpired => "token_expired",
            Error::TokenNotYetValid => "token_not_yet_valid",
            Error::BadSignature => "bad_signature",
            Error::MalformedToken { .. } => "malformed_token",
            Error::InvalidEnrollment => "invalid_enrollment",
            Error::EnrollmentExpired => "enrollment_expired",
            Error::WrongEnrollmentMethod { .. } => "wrong_enrollment_method",
            Error::InvalidConfig { .. } => "invalid_config",
            Error::Internal { .. } => "internal",
            Error::Store(_) => "store",
            Error::Domain(_) => "invalid_value",
            Error::Schema(_) => "identity_schema",
            Error::Random => "random",
            Error::Background { .. } => "background",
        }
    }
}
