//! OAuth2 and OpenID Connect for the identity platform: a provider (discovery, JWKS, authorization code with PKCE,
//! refresh tokens, client credentials with mutual TLS, introspection, revocation, userinfo) and federation to
//! upstream OIDC providers.
//!
//! Its API arrives with the OIDC issue; until then this crate is empty on purpose.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
