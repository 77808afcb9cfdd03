//! The OAuth 2.0 / OpenID Connect provider core of the identity platform, framework-agnostic: plain request and
//! response types in, plain answers out; the server maps them to HTTP. It follows the OAuth 2.0 Security BCP
//! (RFC 9700): authorization code with PKCE (`S256` only), exact redirect URI matching, single-use codes whose
//! replay revokes the grant, refresh token rotation with replay detection, client credentials, RFC 9068 JWT
//! access tokens, ID tokens, introspection (RFC 7662), revocation (RFC 7009), userinfo, discovery and a rotating
//! signing key set published as a JWKS; mutual-TLS clients with certificate-bound tokens (RFC 8705); and
//! federation to upstream providers.
//!
//! Registering a client and getting a token with client credentials, on the memory store:
//!
//! ```
//! use std::sync::Arc;
//! use identity_core::SystemClock;
//! use identity_oidc::*;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store: Arc<dyn identity_store::Store> = Arc::new(identity_store::MemoryStore::new());
//! let keys = KeySet::generate(SigningAlgorithm::ES256)?;
//! let provider = Provider::new(store, Arc::new(SystemClock), keys, ProviderSettings::new("https://id.example"));
//! let registered = provider.clients().create(ClientRegistration {
//!     client_id: Some("reports".into()),
//!     client_name: "Nightly reports".into(),
//!     redirect_uris: vec![],
//!     grant_types: vec![GrantType::ClientCredentials],
//!     scope: "reports:read".into(),
//!     token_endpoint_auth_method: TokenEndpointAuthMethod::ClientSecretPost,
//!     login_uri: None,
//!     allowed_cors_origins: vec![],
//!     tls_client_auth_subject_dn: None,
//! }).await?;
//! let secret = registered.secret.as_ref().map(|s| s.expose_once().to_owned());
//! let request = TokenRequest {
//!     grant_type: Some("client_credentials".into()),
//!     client_id: Some("reports".into()),
//!     client_secret: secret.map(identity_core::SecretString::new),
//!     ..Default::default()
//! };
//! let tokens = provider.token(&request, None).await?;
//! let claims = provider.verify_access_token(&tokens.access_token, "https://id.example")?;
//! assert_eq!((claims.sub.as_str(), claims.scope.as_str()), ("reports", "reports:read"));
//! assert!(provider.introspect(&tokens.access_token).await?.active);
//! # Ok::<(), identity_oidc::Error>(())
//! # }).unwrap();
//! ```
//!
//! Mutual TLS (RFC 8705): a provider given an identity-auth `Authenticator` with the trusted client CAs
//! ([`Provider::with_certificate_authentication`]) authenticates `tls_client_auth` clients by the certificate of
//! their connection ([`TokenRequest::client_certificate`]); their client_credentials tokens name the certificate's
//! service identity and are bound to the certificate (`cnf.x5t#S256`), so that
//! [`Provider::verify_bound_access_token`] accepts them only with it. The key set can live in the store, shared by
//! replicas ([`KeySet::load_or_create`], [`Provider::rotate_keys`]).
//!
//! [`federation`] signs users in at upstream providers (a generic OIDC issuer, Google, Microsoft Entra, GitHub),
//! routed by email domain to an organization's provider, and links the upstream account to a local identity
//! without ever linking an existing one silently.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Outside tests, input that may be missing or wrong gets a typed error, never a panic; clippy holds every
// unwrap and expect of the crate's code to that.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod authorize;
pub mod client;
mod error;
pub mod introspect;
pub mod keys;
pub mod pkce;
pub mod provider;
pub mod token;
pub mod userinfo;

pub use authorize::{Authenticated, Authorization, AuthorizationRequest};
pub use client::{
    Client, ClientRegistration, ClientSecret, Clients, GrantType, RegisteredClient, TokenEndpointAuthMethod,
};
pub use error::{Error, ErrorCode, OAuthError};
pub use introspect::Introspection;
pub use keys::{KeySet, SigningAlgorithm, SigningKey};
pub use provider::{AccessTokenClaims, Confirmation, Discovery, Provider, ProviderSettings, TokenResponse};
pub use token::{BasicCredentials, PresentedCertificate, TokenRequest};

pub mod federation;
pub use federation::{Federation, LinkOutcome, Linker, UpstreamIdentity, UpstreamKind, UpstreamProvider};
