//! The token endpoint's logic: client authentication and the `authorization_code`, `refresh_token` and
//! `client_credentials` grants.
//!
//! Codes and refresh tokens are single use. Using one deletes it atomically and leaves a marker under the same
//! hash, so that presenting it again is recognised as a replay and revokes every token of its grant (RFC 9700
//! §2.2.2, §4.14.2).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use identity_core::{GrantId, IdentityId, IdentityState, IdentityType, SecretString};
use identity_store::{TokenKind, TokenRecord};
use serde::Deserialize;

use crate::client::{Client, GrantType, TokenEndpointAuthMethod, cut, is_scope_token};
use crate::error::{Error, ErrorCode};
use crate::pkce;
use crate::provider::{GrantDocument, Provider, Subject, TokenResponse};

/// A token request's form parameters.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenRequest {
    /// `authorization_code`, `refresh_token` or `client_credentials`.
    pub grant_type: Option<String>,
    /// The authorization code.
    pub code: Option<SecretString>,
    /// Must equal the authorization request's.
    pub redirect_uri: Option<String>,
    /// The PKCE verifier.
    pub code_verifier: Option<SecretString>,
    /// The refresh token.
    pub refresh_token: Option<SecretString>,
    /// A narrower scope (refresh, client credentials).
    pub scope: Option<String>,
    /// The client id, for `client_secret_post` and public clients.
    pub client_id: Option<String>,
    /// The secret, for `client_secret_post`.
    pub client_secret: Option<SecretString>,
    /// The client certificate of the mutual-TLS connection the request came on, set by the caller from the
    /// handshake (never from the form), for `tls_client_auth` clients.
    #[serde(skip)]
    pub client_certificate: Option<PresentedCertificate>,
}

/// A client certificate from a TLS handshake: DER (or PEM), with the intermediates the client sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PresentedCertificate {
    /// The client's own certificate.
    pub der: Vec<u8>,
    /// Intermediate CA certificates, in any order.
    pub intermediates: Vec<Vec<u8>>,
}

/// What a `tls_client_auth` client proved: the service identity its certificate maps to, and the certificate's
/// RFC 8705 thumbprint that its tokens are bound to.
#[derive(Debug, Clone)]
pub(crate) struct CertificateBinding {
    identity: IdentityId,
    thumbprint: String,
}

/// Credentials from an HTTP `Authorization: Basic` header (`client_secret_basic`).
#[derive(Debug, Clone)]
pub struct BasicCredentials {
    /// The client id.
    pub client_id: String,
    /// The secret.
    pub client_secret: SecretString,
}

impl BasicCredentials {
    /// Parses the value of an `Authorization` header: `Basic base64(urlencode(id) ":" urlencode(secret))`
    /// (RFC 6749 §2.3.1).
    pub fn from_authorization_header(value: &str) -> Result<Self, Error> {
        let invalid = || Error::oauth(ErrorCode::InvalidClient, "malformed Basic authorization header");
        let (scheme, encoded) = value.trim().split_once(' ').ok_or_else(invalid)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(invalid());
        }
        let decoded = STANDARD.decode(encoded.trim()).map_err(|_| invalid())?;
        let decoded = String::from_utf8(decoded).map_err(|_| invalid())?;
        let (id, secret) = decoded.split_once(':').ok_or_else(invalid)?;
        let form = |part: &str| {
            serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={part}"))
                .ok()
                .and_then(|mut pairs| pairs.pop())
                .map(|(_, value)| value)
                .ok_or_else(invalid)
        };
        Ok(Self { client_id: form(id)?, client_secret: SecretString::new(form(secret)?) })
    }
}

fn invalid_client() -> Error {
    Error::oauth(ErrorCode::InvalidClient, "client authentication failed")
}

fn invalid_grant(description: &'static str) -> Error {
    Error::oauth(ErrorCode::InvalidGrant, description)
}

fn required<'a, T>(value: &'a Option<T>, name: &'static str) -> Result<&'a T, Error> {
    value.as_ref().ok_or_else(|| Error::oauth(ErrorCode::InvalidRequest, format!("`{name}` is missing")))
}

/// `requested` if it is within `allowed` (all of `allowed` when absent), normalised.
fn narrow_scope(requested: Option<&str>, allowed: &str) -> Result<String, Error> {
    let allowed: Vec<&str> = allowed.split_ascii_whitespace().collect();
    let Some(requested) = requested else { return Ok(allowed.join(" ")) };
    if let Some(bad) = requested.split_ascii_whitespace().find(|s| !is_scope_token(s) || !allowed.contains(s)) {
        return Err(Error::oauth(ErrorCode::InvalidScope, format!("scope `{}` was not granted", cut(bad))));
    }
    Ok(requested.split_ascii_whitespace().collect::<Vec<_>>().join(" "))
}

impl Provider {
    /// Authenticates the client of a token, introspection or revocation request, by the method it registered.
    /// Every failure is `invalid_client`.
    pub async fn authenticate_client(
        &self,
        request: &TokenRequest,
        basic: Option<&BasicCredentials>,
    ) -> Result<Client, Error> {
        self.authenticate(request, basic).await.map(|(client, _)| client)
    }

    async fn authenticate(
        &self,
        request: &TokenRequest,
        basic: Option<&BasicCredentials>,
    ) -> Result<(Client, Option<CertificateBinding>), Error> {
        let client_id = match (basic, &request.client_id) {
            (Some(basic), Some(id)) if *id != basic.client_id => return Err(invalid_client()),
            (Some(basic), _) => basic.client_id.as_str(),
            (None, Some(id)) => id.as_str(),
            (None, None) => return Err(invalid_client()),
        };
        let client = match self.clients.get(client_id).await {
            Ok(client) => client,
            Err(Error::Store(identity_store::Error::NotFound { .. })) => return Err(invalid_client()),
            Err(other) => return Err(other),
        };
        let secret = match (client.token_endpoint_auth_method, basic, &request.client_secret) {
            (TokenEndpointAuthMethod::ClientSecretBasic, Some(basic), None) => &basic.client_secret,
            (TokenEndpointAuthMethod::ClientSecretPost, None, Some(secret)) => secret,
            (TokenEndpointAuthMethod::None, None, None) => return Ok((client, None)),
            (TokenEndpointAuthMethod::TlsClientAuth, None, None) => {
                let binding = self.certificate_binding(&client, request.client_certificate.as_ref()).await?;
                return Ok((client, Some(binding)));
            }
            _ => return Err(invalid_client()),
        };
        if client.verify_secret(secret.expose_secret()) { Ok((client, None)) } else { Err(invalid_client()) }
    }

    /// RFC 8705 §2.1: the certificate must verify against the trusted CAs, map to an active service identity
    /// whose policy lets a certificate alone sign it in, and carry the client's registered subject DN.
    async fn certificate_binding(
        &self,
        client: &Client,
        presented: Option<&PresentedCertificate>,
    ) -> Result<CertificateBinding, Error> {
        let (Some(authenticator), Some(presented)) = (self.certificates.as_ref(), presented) else {
            return Err(invalid_client());
        };
        let (authenticated, certificate) =
            match authenticator.authenticate_certificate(&presented.der, &presented.intermediates).await {
                Ok(done) => done,
                Err(identity_auth::Error::Store(error)) => return Err(error.into()),
                Err(_) => return Err(invalid_client()),
            };
        let service = authenticated.identity.identity_type == IdentityType::Service;
        let subject_matches = client.tls_client_auth_subject_dn.as_deref() == Some(certificate.subject.as_str());
        if !service || !subject_matches || authenticated.second_factor.is_some() {
            return Err(invalid_client());
        }
        Ok(CertificateBinding { identity: authenticated.identity.id, thumbprint: certificate.thumbprint_s256() })
    }

    /// Handles a token request. `basic` is the parsed `Authorization: Basic` header, if one was sent.
    pub async fn token(
        &self,
        request: &TokenRequest,
        basic: Option<&BasicCredentials>,
    ) -> Result<TokenResponse, Error> {
        let (client, binding) = self.authenticate(request, basic).await?;
        match required(&request.grant_type, "grant_type")?.as_str() {
            "authorization_code" => self.exchange_code(&client, request).await,
            "refresh_token" => self.refresh(&client, request).await,
            "client_credentials" => self.client_credentials(&client, request, binding).await,
            _ => Err(Error::oauth(ErrorCode::UnsupportedGrantType, "unsupported grant_type")),
        }
    }

    /// Takes a single-use code or refresh token: checks kind, client, replay and expiry, consumes it and leaves
    /// the replay marker.
    async fn take(&self, client: &Client, secret: &SecretString, kind: TokenKind) -> Result<TokenRecord, Error> {
        let now = self.clock.now();
        let hash = identity_auth::hash_token(secret.expose_secret());
        let unknown = match kind {
            TokenKind::AuthorizationCode => "the code is invalid, expired or was already used",
            _ => "the refresh token is invalid, expired or was already used",
        };
        let Some(found) = self.store.find_token(&hash).await? else { return Err(invalid_grant(unknown)) };
        if found.kind != kind || found.client_id != client.client_id {
            return Err(invalid_grant(unknown));
        }
        if GrantDocument::decode(&found)?.used {
            self.store.revoke_grant(found.grant_id).await?;
            return Err(invalid_grant(unknown));
        }
        if found.expires_at <= now {
            return Err(invalid_grant(unknown));
        }
        let Some(taken) = self.store.consume_token(&hash, now).await? else {
            // Someone else took it between the two calls: a concurrent replay, treated like any other.
            self.store.revoke_grant(found.grant_id).await?;
            return Err(invalid_grant(unknown));
        };
        let mut document = GrantDocument::decode(&taken)?;
        document.used = true;
        let marker = TokenRecord {
            document: document.encode()?,
            // Kept as long as the grant's tokens may live, so a late replay still revokes them.
            expires_at: now + self.settings.refresh_token_lifetime,
            ..taken.clone()
        };
        match self.store.insert_token(&marker).await {
            Ok(()) | Err(identity_store::Error::Conflict { .. }) => Ok(taken),
            Err(other) => Err(other.into()),
        }
    }

    async fn active_identity(&self, record: &TokenRecord) -> Result<identity_core::IdentityId, Error> {
        let id = record.identity_id.ok_or_else(|| invalid_grant("the grant has no end user"))?;
        match self.store.identity(id).await {
            Ok(identity) if identity.state == IdentityState::Active => Ok(id),
            Ok(_) | Err(identity_store::Error::NotFound { .. }) => {
                self.store.revoke_grant(record.grant_id).await?;
                Err(invalid_grant("the end user is disabled or deleted"))
            }
            Err(other) => Err(other.into()),
        }
    }

    async fn exchange_code(&self, client: &Client, request: &TokenRequest) -> Result<TokenResponse, Error> {
        if !client.allows_grant(GrantType::AuthorizationCode) {
            return Err(Error::oauth(ErrorCode::UnauthorizedClient, "the client may not use authorization_code"));
        }
        let code = required(&request.code, "code")?;
        let record = self.take(client, code, TokenKind::AuthorizationCode).await?;
        let document = GrantDocument::decode(&record)?;
        if request.redirect_uri.is_none() || request.redirect_uri != document.redirect_uri {
            return Err(invalid_grant("redirect_uri does not match the authorization request"));
        }
        match (&document.code_challenge, &request.code_verifier) {
            (Some(challenge), Some(verifier)) => pkce::verify(challenge, verifier.expose_secret())?,
            (Some(_), None) => return Err(invalid_grant("code_verifier is missing")),
            (None, Some(_)) => return Err(invalid_grant("no code_challenge was sent with the authorization request")),
            (None, None) => {}
        }
        let identity = self.active_identity(&record).await?;
        let subject = Subject { identity: Some(identity), grant: record.grant_id, document: &document };
        self.issue_tokens(client, &subject, document.nonce.as_deref()).await
    }

    async fn refresh(&self, client: &Client, request: &TokenRequest) -> Result<TokenResponse, Error> {
        if !client.allows_grant(GrantType::RefreshToken) {
            return Err(Error::oauth(ErrorCode::UnauthorizedClient, "the client may not use refresh_token"));
        }
        let token = required(&request.refresh_token, "refresh_token")?;
        let record = self.take(client, token, TokenKind::RefreshToken).await?;
        let mut document = GrantDocument::decode(&record)?;
        document.scope = narrow_scope(request.scope.as_deref(), &document.scope)?;
        let identity = self.active_identity(&record).await?;
        let subject = Subject { identity: Some(identity), grant: record.grant_id, document: &document };
        self.issue_tokens(client, &subject, None).await
    }

    /// With a certificate, the token's subject is the certificate's service identity and the token is bound to
    /// the certificate (`cnf.x5t#S256`); without, the subject is the client.
    async fn client_credentials(
        &self,
        client: &Client,
        request: &TokenRequest,
        binding: Option<CertificateBinding>,
    ) -> Result<TokenResponse, Error> {
        if !client.allows_grant(GrantType::ClientCredentials) || client.is_public() {
            return Err(Error::oauth(ErrorCode::UnauthorizedClient, "the client may not use client_credentials"));
        }
        let document = GrantDocument {
            scope: narrow_scope(request.scope.as_deref(), &client.scope)?,
            x5t_s256: binding.as_ref().map(|binding| binding.thumbprint.clone()),
            ..Default::default()
        };
        let subject =
            Subject { identity: binding.map(|binding| binding.identity), grant: GrantId::new(), document: &document };
        self.issue_tokens(client, &subject, None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_headers_are_parsed_and_form_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20app:s%3Acret+x"));
        let creds = BasicCredentials::from_authorization_header(&header).unwrap();
        assert_eq!(creds.client_id, "my app");
        assert_eq!(creds.client_secret.expose_secret(), "s:cret x");
        for bad in ["Bearer abc", "Basic !!!", "Basic", &format!("Basic {}", STANDARD.encode("no-colon"))] {
            let err = BasicCredentials::from_authorization_header(bad).unwrap_err();
            assert_eq!(err.code(), Some(ErrorCode::InvalidClient), "{bad}");
        }
    }
}
