//! What resource servers and clients ask about tokens: offline access token verification, introspection
//! (RFC 7662) and revocation (RFC 7009).

use identity_store::TokenKind;
use jsonwebtoken::{AlgorithmFamily, Validation};
use serde::Serialize;
use serde_json::Value;

use crate::client::Client;
use crate::error::Error;
use crate::provider::{ACCESS_TOKEN_TYP, AccessTokenClaims, Confirmation, GrantDocument, Provider};
use subtle::ConstantTimeEq as _;

/// The longest token looked at; real access tokens are well under 2 KiB.
pub(crate) const MAX_TOKEN_LENGTH: usize = 16 * 1024;

/// An introspection answer (RFC 7662 §2.2). Inactive tokens carry nothing but `active: false`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Introspection {
    /// Whether the token is usable now.
    pub active: bool,
    /// The granted scopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client it was issued to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Expiry, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issue time, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// The issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The audience.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// `access_token` or `refresh_token` (RFC 7662 leaves the vocabulary open; these are RFC 7009's hints).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// The certificate an access token is bound to (RFC 8705 §3.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

fn refused(reason: &'static str) -> Error {
    Error::InvalidToken { reason }
}

impl Provider {
    /// Verifies an access token offline, as a resource server whose identifier is `audience` would: signature
    /// by a key of the set (by `kid`, with that key's algorithm only, so `none` and HMAC never pass), `typ`
    /// `at+jwt` (so an ID token is refused), `iss`, `aud` and `exp` against this provider's clock. It does not
    /// see revocations; [`introspect`](Self::introspect) does.
    ///
    /// A token bound to a client certificate (`cnf.x5t#S256`, RFC 8705) is refused here: use
    /// [`verify_bound_access_token`](Self::verify_bound_access_token) with the certificate of the connection.
    pub fn verify_access_token(&self, token: &str, audience: &str) -> Result<AccessTokenClaims, Error> {
        let claims = self.decode_access_token(token, audience)?;
        if claims.cnf.is_some() {
            return Err(refused("bound to a client certificate, and none was presented"));
        }
        Ok(claims)
    }

    /// [`verify_access_token`](Self::verify_access_token) for a request that came with the client certificate
    /// `certificate_der` (mutual TLS): a token bound to a certificate passes only with that same certificate
    /// (its SHA-256 thumbprint compared in constant time); an unbound token passes as a bearer token.
    pub fn verify_bound_access_token(
        &self,
        token: &str,
        audience: &str,
        certificate_der: &[u8],
    ) -> Result<AccessTokenClaims, Error> {
        let claims = self.decode_access_token(token, audience)?;
        if let Some(cnf) = &claims.cnf {
            let presented = identity_auth::thumbprint_s256(certificate_der);
            if !bool::from(presented.as_bytes().ct_eq(cnf.x5t_s256.as_bytes())) {
                return Err(refused("bound to another client certificate"));
            }
        }
        Ok(claims)
    }

    fn decode_access_token(&self, token: &str, audience: &str) -> Result<AccessTokenClaims, Error> {
        if token.len() > MAX_TOKEN_LENGTH {
            return Err(refused("too long"));
        }
        // jsonwebtoken has no `none` algorithm: such a header fails to decode here.
        let header = jsonwebtoken::decode_header(token).map_err(|_| refused("malformed, or an unsupported alg"))?;
        if header.alg.family() == AlgorithmFamily::Hmac {
            return Err(refused("HMAC algorithms are not accepted"));
        }
        let typ = header.typ.as_deref().unwrap_or_default();
        if !typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) && !typ.eq_ignore_ascii_case("application/at+jwt") {
            return Err(refused("not an access token (typ is not at+jwt)"));
        }
        let keys = self.keys();
        let key = header.kid.as_deref().and_then(|kid| keys.find(kid)).ok_or_else(|| refused("unknown key"))?;
        if header.alg != key.algorithm().jwt_algorithm() {
            return Err(refused("the alg does not match the key"));
        }
        // jsonwebtoken's time checks read the system clock; ours below use the provider's.
        let mut validation = Validation::new(header.alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<Value>(token, key.decoding_key(), &validation)
            .map_err(|_| refused("bad signature or malformed"))?
            .claims;
        let audience_ok = match &claims["aud"] {
            Value::String(aud) => aud == audience,
            Value::Array(auds) => auds.iter().any(|aud| aud == audience),
            _ => false,
        };
        let claims: AccessTokenClaims = serde_json::from_value(claims).map_err(|_| refused("missing claims"))?;
        if claims.iss != self.settings.issuer {
            return Err(refused("another issuer"));
        }
        if !audience_ok {
            return Err(refused("another audience"));
        }
        if self.clock.now().unix_timestamp() >= claims.exp {
            return Err(refused("expired"));
        }
        Ok(claims)
    }

    /// Introspects an access or refresh token (RFC 7662): active only if valid, unexpired and not revoked.
    /// The endpoint must authenticate its caller first ([`authenticate_client`](Self::authenticate_client)).
    pub async fn introspect(&self, token: &str) -> Result<Introspection, Error> {
        self.learn_key_of(token).await?;
        let now = self.clock.now();
        // Bound tokens introspect too, with their `cnf` for the resource server to check (RFC 8705 §3.2).
        if let Ok(claims) = self.decode_access_token(token, &self.settings.audience) {
            let record = self.store.find_token(&identity_auth::hash_token(&claims.jti)).await?;
            let live = record.is_some_and(|r| r.kind == TokenKind::AccessToken && r.expires_at > now);
            if !live {
                return Ok(Introspection::default());
            }
            return Ok(Introspection {
                active: true,
                scope: Some(claims.scope),
                client_id: Some(claims.client_id),
                sub: Some(claims.sub),
                exp: Some(claims.exp),
                iat: Some(claims.iat),
                iss: Some(claims.iss),
                aud: Some(claims.aud),
                token_type: Some("access_token"),
                cnf: claims.cnf,
            });
        }
        let Some(record) = self.store.find_token(&identity_auth::hash_token(token)).await? else {
            return Ok(Introspection::default());
        };
        if record.kind != TokenKind::RefreshToken || record.expires_at <= now {
            return Ok(Introspection::default());
        }
        let document = GrantDocument::decode(&record)?;
        if document.used {
            return Ok(Introspection::default());
        }
        Ok(Introspection {
            active: true,
            scope: Some(document.scope),
            client_id: Some(record.client_id),
            sub: record.identity_id.map(|id| id.to_string()),
            exp: Some(record.expires_at.unix_timestamp()),
            iat: Some(record.created_at.unix_timestamp()),
            iss: Some(self.settings.issuer.clone()),
            aud: None,
            token_type: Some("refresh_token"),
            cnf: None,
        })
    }

    /// Revokes a token of the authenticated `client` (RFC 7009): a refresh token takes its whole grant with it;
    /// an access token stops introspecting as active. Unknown tokens, and other clients' tokens, are not an error.
    pub async fn revoke(&self, client: &Client, token: &str) -> Result<(), Error> {
        let now = self.clock.now();
        if let Some(record) = self.store.find_token(&identity_auth::hash_token(token)).await? {
            if record.kind == TokenKind::RefreshToken && record.client_id == client.client_id {
                self.store.revoke_grant(record.grant_id).await?;
            }
            return Ok(());
        }
        // Expired access tokens too: their signature still says whose they are.
        self.learn_key_of(token).await?;
        let keys = self.keys();
        let Ok(header) = jsonwebtoken::decode_header(token) else { return Ok(()) };
        let Some(key) = header.kid.as_deref().and_then(|kid| keys.find(kid)) else { return Ok(()) };
        if header.alg != key.algorithm().jwt_algorithm() || token.len() > MAX_TOKEN_LENGTH {
            return Ok(());
        }
        let mut validation = Validation::new(header.alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_aud = false;
        let Ok(data) = jsonwebtoken::decode::<AccessTokenClaims>(token, key.decoding_key(), &validation) else {
            return Ok(());
        };
        if data.claims.client_id == client.client_id {
            self.store.consume_token(&identity_auth::hash_token(&data.claims.jti), now).await?;
        }
        Ok(())
    }

    /// Revokes every code, access token and refresh token issued for `identity`, by every client (when it is
    /// disabled, its password reset or its account compromised); returns how many records went. Access tokens
    /// stop introspecting as active at once; offline verification still accepts them until they expire.
    pub async fn revoke_identity(&self, identity: identity_core::IdentityId) -> Result<u64, Error> {
        Ok(self.store.revoke_tokens_of(identity).await?)
    }
}
