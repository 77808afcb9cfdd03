//! The crate's error type, and the OAuth2 error codes and JSON bodies of RFC 6749 §5.2 that callers hand to clients.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

/// The error codes of RFC 6749 (§4.1.2.1, §5.2) and OpenID Connect Core (§3.1.2.6) this provider returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request is missing a parameter, repeats one, or is otherwise malformed.
    InvalidRequest,
    /// Client authentication failed (unknown client, wrong secret, wrong method).
    InvalidClient,
    /// The code, refresh token or PKCE verifier is invalid, expired, revoked, used, or issued to another client.
    InvalidGrant,
    /// The client may not use this grant type or response type.
    UnauthorizedClient,
    /// The grant type is not supported.
    UnsupportedGrantType,
    /// The requested scope is invalid or exceeds what the client may ask for.
    InvalidScope,
    /// The response type is not supported (only `code` is).
    UnsupportedResponseType,
    /// `prompt=none` was asked but the end user is not signed in.
    LoginRequired,
    /// `prompt=none` was asked but the end user must interact.
    InteractionRequired,
    /// The end user or the server refused the request.
    AccessDenied,
    /// Something unexpected failed on the server.
    ServerError,
    /// Client registration metadata is invalid (RFC 7591 §3.2.2).
    InvalidClientMetadata,
}

impl ErrorCode {
    /// The code as the RFCs spell it.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::InteractionRequired => "interaction_required",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::ServerError => "server_error",
            ErrorCode::InvalidClientMetadata => "invalid_client_metadata",
        }
    }

    /// The HTTP status a token endpoint answers with (RFC 6749 §5.2): 401 for `invalid_client`, 500 for
    /// `server_error`, 400 otherwise.
    pub const fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient => 401,
            ErrorCode::ServerError => 500,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth2 error as sent to a client: the RFC 6749 error JSON `{"error", "error_description"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OAuthError {
    /// The code.
    pub error: ErrorCode,
    /// A sentence for the client's developer; never holds a secret.
    pub error_description: Cow<'static, str>,
}

impl OAuthError {
    /// An error with `code` and `description`.
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self { error: code, error_description: description.into() }
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error, self.error_description)
    }
}

/// Why an OAuth2/OIDC operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A protocol error to hand to the client as RFC 6749 error JSON (token, introspection and revocation
    /// endpoints) or, for authorization requests, after the client and redirect URI were checked.
    #[error("{0}")]
    OAuth(OAuthError),
    /// An authorization request named an unknown client. Show this to the user; never redirect it (RFC 6749
    /// §4.1.2.1), since nothing proves where the redirect would go.
    #[error("unknown client `{client_id}`")]
    UnknownClient {
        /// The client id asked for (as sent, cut to 64 characters).
        client_id: String,
    },
    /// An authorization request's `redirect_uri` is missing or not registered for the client (exact match). Show
    /// this to the user; never redirect it (RFC 9700 §4.1: no open redirector).
    #[error("the redirect_uri is not registered for this client")]
    UnregisteredRedirectUri,
    /// Client metadata is invalid; `field` names the RFC 7591 field.
    #[error("invalid client metadata `{field}`: {reason}")]
    InvalidClientMetadata {
        /// The RFC 7591 field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A token presented to a resource server is not a valid access token of this issuer (bad signature, wrong
    /// `typ`, `iss`, `aud`, expired, unknown key, refused algorithm, malformed). A resource server answers 401
    /// with `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 §3.1).
    #[error("invalid access token: {reason}")]
    InvalidToken {
        /// Why it was refused.
        reason: &'static str,
    },
    /// The signing key set or a key document cannot be used.
    #[error("signing keys: {reason}")]
    Keys {
        /// What is wrong.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] identity_store::Error),
    /// identity-auth failed (the secret cipher, the random source).
    #[error(transparent)]
    Auth(#[from] identity_auth::Error),
    /// A bug or an impossible state: a stored document that does not decode, a signature that cannot be made.
    #[error("internal error: {reason}")]
    Internal {
        /// What went wrong.
        reason: String,
    },
    /// An upstream provider could not be reached or its answer not read (connection, TLS, timeout, size).
    /// Safe to retry.
    #[error("upstream `{url}` could not be reached: {reason}")]
    UpstreamHttp {
        /// The URL called (never with credentials: they travel in headers and bodies).
        url: String,
        /// What failed.
        reason: String,
    },
    /// An upstream provider answered, but not as the protocol says (bad discovery, an error status, a token
    /// response without tokens, a non-https endpoint).
    #[error("upstream protocol error: {reason}")]
    UpstreamProtocol {
        /// What was wrong.
        reason: String,
    },
    /// The upstream refused the login (the callback's or the token endpoint's `error`); show the user a retry.
    #[error("the upstream provider refused the login: {error}")]
    UpstreamDenied {
        /// The upstream's error code (cut to 64 characters).
        error: String,
        /// Its description, if any (cut to 256 characters).
        description: Option<String>,
    },
    /// The callback's `state` is not the pending login's (a forged or replayed callback, or another tab's).
    #[error("the callback's state does not match the login")]
    UpstreamStateMismatch,
    /// The pending login is older than its lifetime; start again.
    #[error("the upstream login took too long; start again")]
    UpstreamLoginExpired,
    /// The upstream's ID token was refused.
    #[error("invalid upstream ID token: {reason}")]
    InvalidIdToken {
        /// Why.
        reason: &'static str,
    },
    /// No key of the upstream's key set has the ID token's `kid` (also after refetching it once).
    #[error("the upstream ID token is signed by an unknown key")]
    UnknownSigningKey {
        /// The token's `kid`, if it named one.
        kid: Option<String>,
    },
    /// A login was routed to an upstream provider that is not configured.
    #[error("unknown upstream provider `{provider}`")]
    UnknownUpstreamProvider {
        /// The provider's id.
        provider: String,
    },
}

impl Error {
    pub(crate) fn oauth(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Error::OAuth(OAuthError::new(code, description))
    }

    pub(crate) fn internal(reason: impl ToString) -> Self {
        Error::Internal { reason: reason.to_string() }
    }

    /// The RFC 6749 error to answer a client with: protocol errors as they are, everything else as
    /// `server_error` (or `invalid_client` for an unknown client) without internal detail.
    pub fn to_oauth(&self) -> OAuthError {
        match self {
            Error::OAuth(error) => error.clone(),
            Error::UnknownClient { .. } => OAuthError::new(ErrorCode::InvalidClient, "unknown client"),
            Error::UnregisteredRedirectUri => {
                OAuthError::new(ErrorCode::InvalidRequest, "the redirect_uri is not registered for this client")
            }
            Error::InvalidClientMetadata { field, reason } => {
                OAuthError::new(ErrorCode::InvalidClientMetadata, format!("invalid `{field}`: {reason}"))
            }
            Error::InvalidToken { .. } => OAuthError::new(ErrorCode::InvalidGrant, "the token is not valid"),
            _ => OAuthError::new(ErrorCode::ServerError, "the server could not complete the request"),
        }
    }

    /// The OAuth2 code, if this is a protocol error.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::OAuth(error) => Some(error.error),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_serialise_as_rfc_6749_json() {
        let error = OAuthError::new(ErrorCode::InvalidGrant, "the code was already used");
        let json = serde_json::to_value(&error).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": "invalid_grant", "error_description": "the code was already used"})
        );
        assert_eq!(ErrorCode::InvalidClient.http_status(), 401);
        assert_eq!(serde_json::to_value(ErrorCode::LoginRequired).unwrap(), "login_required");
    }

    #[test]
    fn internal_errors_reach_clients_as_server_error_without_detail() {
        let error = Error::internal("database password is hunter2");
        let oauth = error.to_oauth();
        assert_eq!(oauth.error, ErrorCode::ServerError);
        assert!(!oauth.error_description.contains("hunter2"));
    }
}
