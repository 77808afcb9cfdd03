//! identity-oidc's provider over HTTP, at Ory Hydra's paths: discovery, JWKS, authorization, token, userinfo and
//! revocation on the public listener; client registration and introspection on the admin listener.
//!
//! Protocol errors are RFC 6749 JSON (`error`, `error_description`), not Kratos' error JSON: OAuth2 clients read
//! those fields. The authorization endpoint signs the browser in through the login flow (or the client's own login
//! page) when it has no session, and comes back to itself afterwards.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Json, routing::post};
use identity_auth::RequiredAal;
use identity_oidc::{
    Authenticated, Authorization, AuthorizationRequest, BasicCredentials, ClientRegistration, Error, ErrorCode,
    OAuthError, PresentedCertificate, TokenRequest,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::bearer_token;
use crate::mtls::PeerCertificate;
use crate::public::token_of;
use crate::state::AppState;

/// The routes of the public listener.
pub fn public(app: Arc<AppState>) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/oauth2/auth", get(authorize))
        .route("/oauth2/token", post(token))
        .route("/userinfo", get(userinfo).post(userinfo))
        .route("/oauth2/revoke", post(revoke))
        .with_state(app)
}

/// The routes of the admin listener.
pub fn admin(app: Arc<AppState>) -> Router {
    Router::new()
        .route("/admin/clients", get(list_clients).post(create_client))
        .route("/admin/clients/{id}", get(get_client).delete(delete_client))
        .route("/admin/oauth2/introspect", post(introspect))
        .route("/admin/oauth2/keys/rotate", post(rotate_keys))
        .with_state(app)
}

/// An RFC 6749 §5.2 error answer, with the status its code calls for.
struct OAuthResponse(OAuthError);

impl From<Error> for OAuthResponse {
    fn from(error: Error) -> Self {
        if error.code().is_none() {
            tracing::warn!(error = %error, "an OAuth2 request failed");
        }
        Self(error.to_oauth())
    }
}

impl IntoResponse for OAuthResponse {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.error.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = (status, Json(&self.0)).into_response();
        no_store(&mut response);
        response
    }
}

fn invalid_request(description: String) -> OAuthResponse {
    OAuthResponse(OAuthError::new(ErrorCode::InvalidRequest, description))
}

/// Token answers hold secrets: no cache may keep them (RFC 6749 §5.1).
fn no_store(response: &mut Response) {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn form<T: for<'de> Deserialize<'de>>(headers: &HeaderMap, body: &[u8]) -> Result<T, OAuthResponse> {
    let media = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !media.split(';').next().unwrap_or_default().trim().eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(invalid_request("the body must be application/x-www-form-urlencoded".into()));
    }
    serde_urlencoded::from_bytes(body).map_err(|e| invalid_request(format!("the form does not parse: {e}")))
}

fn basic(headers: &HeaderMap) -> Result<Option<BasicCredentials>, OAuthResponse> {
    match headers.get(header::AUTHORIZATION).map(|v| v.to_str()) {
        None => Ok(None),
        Some(Ok(value)) if value.len() > 6 && value[..6].eq_ignore_ascii_case("basic ") => {
            BasicCredentials::from_authorization_header(value).map(Some).map_err(OAuthResponse::from)
        }
        Some(_) => Ok(None),
    }
}

async fn discovery(State(app): State<Arc<AppState>>) -> Response {
    Json(app.oauth2.discovery()).into_response()
}

async fn jwks(State(app): State<Arc<AppState>>) -> Response {
    Json(app.oauth2.jwks()).into_response()
}

/// `GET /oauth2/auth`: a code for the signed-in browser, an error at the client's redirect URI, or a detour
/// through the login step that comes back here.
async fn authorize(State(app): State<Arc<AppState>>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let request: AuthorizationRequest = match serde_urlencoded::from_str(query.as_deref().unwrap_or_default()) {
        Ok(request) => request,
        Err(e) => return invalid_request(format!("the query does not parse: {e}")).into_response(),
    };
    let signed_in = match token_of(&app, &headers) {
        Some(token) => crate::http::check_session(&app, &token, RequiredAal::HighestAvailable).await.ok(),
        None => None,
    };
    let authenticated = signed_in.as_ref().map(|(session, identity)| Authenticated { session, identity });
    match app.oauth2.authorize(&request, authenticated).await {
        Ok(Authorization::Code { location }) => Redirect::to(&location).into_response(),
        Ok(Authorization::Error { location, error }) => {
            tracing::info!(error = %error, "an authorization request was refused");
            Redirect::to(&location).into_response()
        }
        Ok(Authorization::Login { login_hint, login_uri, continuation }) => {
            let resume = match serde_urlencoded::to_string(&*continuation) {
                Ok(query) => format!("{}/oauth2/auth?{query}", app.public_url),
                Err(e) => return OAuthResponse::from(Error::Internal { reason: e.to_string() }).into_response(),
            };
            let login = login_uri.unwrap_or_else(|| format!("{}/self-service/login/browser", app.public_url));
            let mut params = vec![("return_to", resume.as_str())];
            if let Some(hint) = &login_hint {
                params.push(("login_hint", hint));
            }
            let separator = if login.contains('?') { '&' } else { '?' };
            let query = serde_urlencoded::to_string(&params).unwrap_or_default();
            Redirect::to(&format!("{login}{separator}{query}")).into_response()
        }
        // Its fields may hold a code: not logged.
        Ok(_) => {
            tracing::error!("an authorization outcome this server does not know");
            OAuthResponse::from(Error::Internal { reason: "unknown authorization outcome".into() }).into_response()
        }
        // An unknown client or redirect URI is shown here, never redirected to (RFC 9700 §4.11.1).
        Err(error) => OAuthResponse::from(error).into_response(),
    }
}

/// `POST /oauth2/token`.
async fn token(
    State(app): State<Arc<AppState>>,
    peer: Option<Extension<PeerCertificate>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthResponse> {
    let mut request: TokenRequest = form(&headers, &body)?;
    // Only the mutual-TLS listener sets the extension, from the handshake: never from the request.
    request.client_certificate = peer
        .and_then(|Extension(PeerCertificate(der))| der)
        .map(|der| PresentedCertificate { der, intermediates: Vec::new() });
    let basic = basic(&headers)?;
    let tokens = app.oauth2.token(&request, basic.as_ref()).await?;
    // Only the grant types the provider knows get here, so the label's values stay few.
    app.metrics.grant(request.grant_type.as_deref().unwrap_or_default());
    let mut response = Json(tokens).into_response();
    no_store(&mut response);
    Ok(response)
}

/// `GET|POST /userinfo` with a bearer access token (RFC 6750).
async fn userinfo(
    State(app): State<Arc<AppState>>,
    peer: Option<Extension<PeerCertificate>>,
    headers: HeaderMap,
) -> Response {
    let certificate = peer.and_then(|Extension(PeerCertificate(der))| der);
    let result = match bearer_token(&headers) {
        Some(token) => app.oauth2.userinfo_over(token, certificate.as_deref()).await.ok(),
        None => None,
    };
    match result {
        Some(claims) => Json(claims).into_response(),
        None => {
            let mut response = (StatusCode::UNAUTHORIZED, Json(json!({ "error": "invalid_token" }))).into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
            response
        }
    }
}

#[derive(Deserialize)]
struct TokenForm {
    token: Option<String>,
    #[serde(flatten)]
    client: TokenRequest,
}

/// `POST /oauth2/revoke` (RFC 7009): the client authenticates; unknown tokens are revoked "successfully".
async fn revoke(State(app): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Result<Response, OAuthResponse> {
    let form: TokenForm = form(&headers, &body)?;
    let token = form.token.ok_or_else(|| invalid_request("`token` is missing".into()))?;
    let client = app.oauth2.authenticate_client(&form.client, basic(&headers)?.as_ref()).await?;
    app.oauth2.revoke(&client, &token).await?;
    Ok(StatusCode::OK.into_response())
}

/// `POST /admin/oauth2/introspect` (RFC 7662).
async fn introspect(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthResponse> {
    let form: TokenForm = form(&headers, &body)?;
    let token = form.token.ok_or_else(|| invalid_request("`token` is missing".into()))?;
    Ok(Json(app.oauth2.introspect(&token).await?).into_response())
}

/// `POST /admin/oauth2/keys/rotate`: a new current signing key (the previous one keeps verifying); answers the
/// new JWKS. Other replicas take it up on their next key reload, or at the first token signed by it they see.
async fn rotate_keys(State(app): State<Arc<AppState>>) -> Result<Response, OAuthResponse> {
    app.oauth2.rotate_keys(&app.cipher, identity_oidc::SigningAlgorithm::ES256).await?;
    Ok(Json(app.oauth2.jwks()).into_response())
}

/// Reads the stored signing keys every `every`, so that a rotation made on another replica signs and verifies
/// here too, until `stopped`.
pub fn reload_keys(app: Arc<AppState>, every: std::time::Duration, stopped: tokio::sync::watch::Receiver<bool>) {
    crate::server::every(every, stopped, move || {
        let app = app.clone();
        async move {
            if let Err(error) = app.oauth2.reload_keys(&app.cipher).await {
                tracing::warn!(error = %error, "the signing keys could not be reloaded");
            }
        }
    });
}

/// The active identity an access token of this provider (for its own audience) acts for; `None` for a token that
/// does not verify or was revoked, a client's own token (client_credentials names no identity) or a disabled identity. Store
/// failures are logged and count as no identity: callers then treat the request as unauthenticated.
pub async fn identity_of_access_token(app: &AppState, token: &str) -> Option<identity_core::Identity> {
    // Checked against the store, not only its signature: a revoked token must stop working at once.
    let record = match app.oauth2.live_access_token(token, None).await {
        Ok((_, record)) => record,
        Err(Error::Store(error)) => {
            tracing::warn!(error = %error, "an access token could not be checked");
            return None;
        }
        Err(_) => return None,
    };
    let id = record.identity_id?;
    match app.store.identity(id).await {
        Ok(identity) if identity.is_active() => {
            crate::metrics::acting_for(identity.id);
            Some(identity)
        }
        Ok(_) => None,
        Err(identity_store::Error::NotFound { .. }) => None,
        Err(error) => {
            tracing::warn!(error = %error, "the identity of an access token could not be read");
            None
        }
    }
}

/// `POST /admin/clients`: the client as RFC 7591 / Hydra's admin API show it, with its secret this once.
async fn create_client(State(app): State<Arc<AppState>>, body: Bytes) -> Result<Response, OAuthResponse> {
    let registration: ClientRegistration = serde_json::from_slice(&body)
        .map_err(|e| OAuthResponse(OAuthError::new(ErrorCode::InvalidClientMetadata, format!("the client: {e}"))))?;
    let registered = match app.oauth2.clients().create(registration).await {
        Ok(registered) => registered,
        Err(Error::Store(identity_store::Error::Conflict { .. })) => {
            let taken = OAuthError::new(ErrorCode::InvalidClientMetadata, "the client id is taken");
            return Ok((StatusCode::CONFLICT, Json(taken)).into_response());
        }
        Err(other) => return Err(other.into()),
    };
    let mut shown = serde_json::to_value(&registered.client).unwrap_or(Value::Null);
    if let (Value::Object(fields), Some(secret)) = (&mut shown, &registered.secret) {
        fields.insert("client_secret".into(), Value::String(secret.expose_once().to_owned()));
    }
    let mut response = (StatusCode::CREATED, Json(shown)).into_response();
    no_store(&mut response);
    Ok(response)
}

async fn list_clients(State(app): State<Arc<AppState>>) -> Result<Response, OAuthResponse> {
    Ok(Json(app.oauth2.clients().list().await?).into_response())
}

async fn get_client(State(app): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    match app.oauth2.clients().get(&id).await {
        Ok(client) => Json(client).into_response(),
        Err(error) => not_found_or(error),
    }
}

async fn delete_client(State(app): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    match app.oauth2.clients().delete(&id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => not_found_or(error),
    }
}

fn not_found_or(error: Error) -> Response {
    match error {
        Error::Store(identity_store::Error::NotFound { .. }) => {
            crate::error::ApiError::not_found("client").into_response()
        }
        other => OAuthResponse::from(other).into_response(),
    }
}
