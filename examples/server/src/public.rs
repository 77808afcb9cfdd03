//! The public API, with Kratos' paths and shapes: sessions, schemas, health and version here; the
//! self-service flows and logout in [`crate::flows`].

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use base64::Engine as _;
use identity_auth::RequiredAal;
use identity_core::SessionId;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::flows;
use crate::http::{SessionView, session_token};
use crate::state::AppState;

/// The public router.
pub fn router(app: Arc<AppState>) -> Router {
    Router::new()
        .route("/health/alive", get(alive))
        .route("/health/ready", get(ready))
        .route("/version", get(version))
        .route("/schemas", get(schemas))
        .route("/schemas/{id}", get(schema))
        .route("/sessions/whoami", get(whoami))
        .route("/sessions", get(my_sessions).delete(revoke_my_other_sessions))
        .route("/sessions/{id}", delete(revoke_my_session))
        .route("/self-service/logout/api", delete(flows::logout_api))
        .route("/self-service/logout/browser", get(flows::logout_browser))
        .route("/self-service/logout", get(flows::logout_with_token))
        .route("/self-service/{kind}/{variant}", get(flows::create_or_fetch_flow))
        .route("/self-service/{kind}", get(flows::open_link).post(flows::submit_flow))
        .route("/decisions", axum::routing::any(crate::decisions::decide))
        .route("/decisions/{*rest}", axum::routing::any(crate::decisions::decide))
        .with_state(app)
}

/// `GET /health/alive`: the process answers.
pub async fn alive() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /health/ready`: the store answers.
pub async fn ready(State(app): State<Arc<AppState>>) -> Response {
    match app.store.find_identity_by_external_id("health-check").await {
        Ok(_) => Json(json!({ "status": "ok" })).into_response(),
        Err(error) => {
            tracing::warn!(error = %error, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "errors": { "store": "the store is not reachable" } })))
                .into_response()
        }
    }
}

/// `GET /version`.
pub async fn version() -> Json<Value> {
    Json(json!({ "version": env!("CARGO_PKG_VERSION") }))
}

async fn schemas(State(app): State<Arc<AppState>>) -> Json<Value> {
    let list: Vec<Value> =
        app.schemas.iter().map(|schema| json!({ "id": schema.id(), "schema": schema.raw() })).collect();
    Json(Value::Array(list))
}

async fn schema(State(app): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    // Kratos' schema URLs carry the id in base64url; plain ids work too.
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(id.trim_end_matches('='))
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    let found = decoded.as_deref().and_then(|id| app.schemas.get(id).ok()).or_else(|| app.schemas.get(&id).ok());
    found.map(|schema| Json(schema.raw().clone())).ok_or_else(|| ApiError::not_found("schema"))
}

/// The session token the request carries, by the configured cookie name.
pub(crate) fn token_of(app: &AppState, headers: &HeaderMap) -> Option<String> {
    session_token(headers, &app.config.session.cookie_name)
}

async fn whoami(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = token_of(&app, &headers).ok_or(identity_auth::Error::SessionInactive)?;
    let (session, identity) = crate::http::check_session(&app, &token, RequiredAal::HighestAvailable).await?;
    let mut response = Json(SessionView::new(&session, Some(&identity), &app.public_url)).into_response();
    response.extensions_mut().insert(crate::metrics::Subject(identity.id));
    if let Ok(value) = HeaderValue::from_str(&identity.id.to_string()) {
        response.headers_mut().insert("x-kratos-authenticated-identity-id", value);
    }
    Ok(response)
}

async fn my_sessions(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = token_of(&app, &headers).ok_or(identity_auth::Error::SessionInactive)?;
    let (current, identity) = crate::http::check_session(&app, &token, RequiredAal::HighestAvailable).await?;
    let sessions = app.sessions.list(identity.id, true).await?;
    let others: Vec<SessionView<'_>> = sessions
        .iter()
        .filter(|session| session.id != current.id)
        .map(|session| SessionView::new(session, Some(&identity), &app.public_url))
        .collect();
    Ok(Json(others).into_response())
}

async fn revoke_my_other_sessions(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let token = token_of(&app, &headers).ok_or(identity_auth::Error::SessionInactive)?;
    let (current, identity) = crate::http::check_session(&app, &token, RequiredAal::HighestAvailable).await?;
    let count = app.sessions.revoke_others(identity.id, current.id).await?;
    Ok(Json(json!({ "count": count })))
}

async fn revoke_my_session(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let id: SessionId = id.parse().map_err(|_| ApiError::not_found("session"))?;
    let token = token_of(&app, &headers).ok_or(identity_auth::Error::SessionInactive)?;
    let (current, identity) = crate::http::check_session(&app, &token, RequiredAal::HighestAvailable).await?;
    if id == current.id {
        return Err(ApiError::bad_request("use logout to end the current session"));
    }
    app.sessions.revoke(identity.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
