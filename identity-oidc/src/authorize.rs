//! The authorization endpoint's logic: validating a request, deciding whether the end user must (re)authenticate,
//! and issuing a code bound to their session.
//!
//! Until the client and the redirect URI are known good, errors are returned as [`Error::UnknownClient`] or
//! [`Error::UnregisteredRedirectUri`], for the caller to show; after that they go to the redirect URI as
//! [`Authorization::Error`].

use identity_core::time::Duration;
use identity_core::{GrantId, Identity, IdentityState, Session};
use identity_store::TokenKind;
use serde::{Deserialize, Serialize};

use crate::client::{Client, GrantType, cut, is_scope_token};
use crate::error::{Error, ErrorCode, OAuthError};
use crate::pkce;
use crate::provider::{GrantDocument, Provider, Subject};

/// An authorization request's parameters, as they arrive in the query string (and as a server writes them back
/// into the URL it resumes at after a login).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct AuthorizationRequest {
    /// Must be `code`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_type: Option<String>,
    /// The client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Where to send the answer; must be registered (exact match).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// The scopes asked for, space separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client's CSRF value, returned as is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The OIDC nonce, copied into the ID token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The PKCE challenge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    /// The PKCE method; only `S256`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_challenge_method: Option<String>,
    /// `none`, `login`, `consent`, `select_account`, space separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// The longest time since the end user authenticated that the client accepts, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age: Option<String>,
    /// A hint for the login step (an email address, say), passed through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_hint: Option<String>,
}

/// The end user's authenticated session, as identity-auth checked it.
#[derive(Debug, Clone, Copy)]
pub struct Authenticated<'a> {
    /// The session.
    pub session: &'a Session,
    /// Its identity.
    pub identity: &'a Identity,
}

/// What to do with an authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Authorization {
    /// A code was issued: redirect the user agent to `location`.
    Code {
        /// The redirect URI with `code`, `state` and `iss`.
        location: String,
    },
    /// The request failed: redirect the user agent to `location`, which carries the error.
    Error {
        /// The redirect URI with `error`, `error_description`, `state` and `iss`.
        location: String,
        /// The error, for logs.
        error: OAuthError,
    },
    /// The end user must sign in (again): run the login step, then call [`Provider::authorize`] with
    /// `continuation` and the new session.
    Login {
        /// The request's `login_hint`.
        login_hint: Option<String>,
        /// The client's own login UI, if it has one.
        login_uri: Option<String>,
        /// The request to resume with (without `prompt=login`, which the fresh login satisfies).
        continuation: Box<AuthorizationRequest>,
    },
}

fn redirect(base: &str, params: &[(&str, &str)]) -> Result<String, Error> {
    let query = serde_urlencoded::to_string(params).map_err(Error::internal)?;
    let separator = if base.contains('?') { '&' } else { '?' };
    Ok(format!("{base}{separator}{query}"))
}

struct Prompt {
    none: bool,
    login: bool,
}

fn parse_prompt(prompt: Option<&str>) -> Result<Prompt, OAuthError> {
    let values: Vec<&str> = prompt.unwrap_or_default().split_ascii_whitespace().collect();
    if let Some(unknown) = values.iter().find(|v| !matches!(**v, "none" | "login" | "consent" | "select_account")) {
        return Err(OAuthError::new(ErrorCode::InvalidRequest, format!("unknown prompt value `{}`", cut(unknown))));
    }
    let none = values.contains(&"none");
    if none && values.len() > 1 {
        return Err(OAuthError::new(ErrorCode::InvalidRequest, "prompt=none cannot be combined with other values"));
    }
    Ok(Prompt { none, login: values.contains(&"login") })
}

impl Provider {
    /// Handles an authorization request for the end user's `authenticated` session, if they have one.
    pub async fn authorize(
        &self,
        request: &AuthorizationRequest,
        authenticated: Option<Authenticated<'_>>,
    ) -> Result<Authorization, Error> {
        let client_id = request.client_id.as_deref().unwrap_or_default();
        let client = match self.clients.get(client_id).await {
            Ok(client) => client,
            Err(Error::Store(identity_store::Error::NotFound { .. })) => {
                return Err(Error::UnknownClient { client_id: cut(client_id) });
            }
            Err(other) => return Err(other),
        };
        let redirect_uri = request.redirect_uri.as_deref().filter(|uri| client.has_redirect_uri(uri));
        let Some(redirect_uri) = redirect_uri else { return Err(Error::UnregisteredRedirectUri) };

        match self.checked_authorize(&client, redirect_uri, request, authenticated).await {
            Ok(outcome) => Ok(outcome),
            Err(Error::OAuth(error)) => {
                let mut params = vec![("error", error.error.as_str()), ("error_description", &error.error_description)];
                if let Some(state) = &request.state {
                    params.push(("state", state));
                }
                params.push(("iss", &self.settings.issuer));
                Ok(Authorization::Error { location: redirect(redirect_uri, &params)?, error })
            }
            Err(other) => Err(other),
        }
    }

    async fn checked_authorize(
        &self,
        client: &Client,
        redirect_uri: &str,
        request: &AuthorizationRequest,
        authenticated: Option<Authenticated<'_>>,
    ) -> Result<Authorization, Error> {
        if request.response_type.as_deref() != Some("code") {
            return Err(Error::oauth(ErrorCode::UnsupportedResponseType, "only response_type=code is supported"));
        }
        if !client.allows_grant(GrantType::AuthorizationCode) {
            return Err(Error::oauth(ErrorCode::UnauthorizedClient, "the client may not use authorization_code"));
        }
        let scope = request.scope.as_deref().unwrap_or_default();
        let allowed = client.scopes();
        if let Some(bad) = scope.split_ascii_whitespace().find(|s| !is_scope_token(s) || !allowed.contains(s)) {
            return Err(Error::oauth(ErrorCode::InvalidScope, format!("scope `{}` is not allowed", cut(bad))));
        }
        match (&request.code_challenge, &request.code_challenge_method) {
            (Some(challenge), method) => pkce::check_challenge(challenge, method.as_deref())?,
            (None, Some(_)) => return Err(Error::oauth(ErrorCode::InvalidRequest, "code_challenge is missing")),
            (None, None) if client.is_public() => {
                return Err(Error::oauth(ErrorCode::InvalidRequest, "public clients must use PKCE (S256)"));
            }
            (None, None) => {}
        }
        let prompt = parse_prompt(request.prompt.as_deref()).map_err(Error::OAuth)?;
        let max_age = match request.max_age.as_deref() {
            None => None,
            Some(text) => Some(
                text.parse::<u32>()
                    .map_err(|_| Error::oauth(ErrorCode::InvalidRequest, "max_age must be a number of seconds"))?,
            ),
        };

        let now = self.clock.now();
        let usable = authenticated.filter(|a| a.session.is_valid_at(now) && a.session.identity_id == a.identity.id);
        let fresh_enough = |a: &Authenticated<'_>| {
            max_age.is_none_or(|max| now - a.session.authenticated_at <= Duration::seconds(i64::from(max)))
        };
        let login = Authorization::Login {
            login_hint: request.login_hint.clone(),
            login_uri: client.login_uri.clone(),
            continuation: Box::new(AuthorizationRequest {
                prompt: request
                    .prompt
                    .as_deref()
                    .map(|p| p.split_ascii_whitespace().filter(|v| *v != "login").collect::<Vec<_>>().join(" ")),
                ..request.clone()
            }),
        };
        let authenticated = match usable {
            None if prompt.none => return Err(Error::oauth(ErrorCode::LoginRequired, "the end user is not signed in")),
            None => return Ok(login),
            Some(a) if prompt.login || !fresh_enough(&a) => {
                if prompt.none {
                    return Err(Error::oauth(ErrorCode::LoginRequired, "the end user must sign in again"));
                }
                return Ok(login);
            }
            Some(a) => a,
        };
        if authenticated.identity.state != IdentityState::Active {
            return Err(Error::oauth(ErrorCode::AccessDenied, "the identity is disabled"));
        }

        let code = identity_auth::random_token()?;
        let document = GrantDocument {
            redirect_uri: Some(redirect_uri.to_owned()),
            code_challenge: request.code_challenge.clone(),
            nonce: request.nonce.clone(),
            ..GrantDocument::from_session(
                scope.split_ascii_whitespace().collect::<Vec<_>>().join(" "),
                authenticated.session,
            )
        };
        let subject = Subject { identity: Some(authenticated.identity.id), grant: GrantId::new(), document: &document };
        let record = self.token_record(
            identity_auth::hash_token(code.expose_secret()),
            TokenKind::AuthorizationCode,
            client,
            &subject,
            self.settings.code_lifetime,
            document.encode()?,
        );
        self.store.insert_token(&record).await?;
        let mut params = vec![("code", code.expose_secret())];
        if let Some(state) = &request.state {
            params.push(("state", state));
        }
        params.push(("iss", &self.settings.issuer));
        Ok(Authorization::Code { location: redirect(redirect_uri, &params)? })
    }
}
