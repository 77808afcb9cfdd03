//! The userinfo endpoint's logic: claims from the identity's traits, by granted scope.

use identity_core::{AddressVia, IdentityState};
use identity_store::{TokenKind, TokenRecord};
use serde_json::{Map, Value};

use crate::error::{Error, ErrorCode};
use crate::provider::AccessTokenClaims;
use crate::provider::Provider;

/// The standard claims (OIDC Core §5.1) the `profile` scope copies from traits of the same name.
const PROFILE_CLAIMS: &[&str] = &[
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
];

impl Provider {
    /// An access token this provider issued for its own audience that is still live: well signed, unexpired,
    /// bound to `certificate_der` if it is certificate-bound, and not revoked. Resource servers that take this
    /// provider's access tokens (the userinfo endpoint, an API in the same process) check it here, since a
    /// signature alone outlives a revocation until the token expires.
    pub async fn live_access_token(
        &self,
        access_token: &str,
        certificate_der: Option<&[u8]>,
    ) -> Result<(AccessTokenClaims, TokenRecord), Error> {
        self.learn_key_of(access_token).await?;
        let audience = &self.settings.audience;
        let claims = match certificate_der {
            Some(der) => self.verify_bound_access_token(access_token, audience, der)?,
            None => self.verify_access_token(access_token, audience)?,
        };
        let record = self.store.find_token(&identity_auth::hash_token(&claims.jti)).await?;
        let Some(record) = record.filter(|r| r.kind == TokenKind::AccessToken) else {
            return Err(Error::InvalidToken { reason: "revoked" });
        };
        Ok((claims, record))
    }

    /// The userinfo claims for a bearer access token: `sub` always, with `profile` the name-like traits (and
    /// Kratos' `name.first`/`name.last` as `given_name`/`family_name`), with `email` the `email` trait and whether
    /// it is a verified address. A revoked token is [`Error::InvalidToken`]; a disabled identity `access_denied`.
    pub async fn userinfo(&self, access_token: &str) -> Result<Value, Error> {
        self.userinfo_over(access_token, None).await
    }

    /// [`userinfo`](Self::userinfo) for a request on a mutual-TLS connection whose client certificate is
    /// `certificate_der`: a certificate-bound token passes only with its own certificate (RFC 8705 §3).
    pub async fn userinfo_over(&self, access_token: &str, certificate_der: Option<&[u8]>) -> Result<Value, Error> {
        let (claims, record) = self.live_access_token(access_token, certificate_der).await?;
        let Some(identity_id) = record.identity_id else {
            return Err(Error::oauth(ErrorCode::InvalidRequest, "client credentials tokens have no end user"));
        };
        let identity = self.store.identity(identity_id).await?;
        if identity.state != IdentityState::Active {
            return Err(Error::oauth(ErrorCode::AccessDenied, "the identity is disabled"));
        }
        let scopes: Vec<&str> = claims.scope.split_ascii_whitespace().collect();
        let mut out = Map::new();
        out.insert("sub".into(), identity.id.to_string().into());
        let traits = identity.traits.as_object().cloned().unwrap_or_default();
        if scopes.contains(&"profile") {
            for claim in PROFILE_CLAIMS {
                if let Some(value) = traits.get(*claim).filter(|v| v.is_string()) {
                    out.insert((*claim).into(), value.clone());
                }
            }
            if let Some(name) = traits.get("name").and_then(Value::as_object) {
                for (part, claim) in [("first", "given_name"), ("last", "family_name")] {
                    if let Some(value) = name.get(part).filter(|v| v.is_string()) {
                        out.entry(claim).or_insert_with(|| value.clone());
                    }
                }
            }
        }
        if scopes.contains(&"email")
            && let Some(email) = traits.get("email").and_then(Value::as_str)
        {
            let normalized = AddressVia::Email.normalize(email);
            let verified = identity
                .verifiable_addresses
                .iter()
                .any(|a| a.via == AddressVia::Email && a.value == normalized && a.verified);
            out.insert("email".into(), email.into());
            out.insert("email_verified".into(), verified.into());
        }
        Ok(Value::Object(out))
    }
}
