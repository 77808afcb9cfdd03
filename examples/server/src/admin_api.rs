//! The admin API, with Kratos' paths and shapes: identities (create/import, batch, list with keyset paging,
//! get with credentials, by external id, delete, delete a credential), an identity's sessions, sessions (get,
//! disable, extend), and recovery codes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use identity_auth::{FlowType, IdentityImport};
use identity_core::{CredentialType, IdentityId, IdentityState, SessionId};
use identity_store::{IdentityFilter, PageRequest, PageToken};
use serde_json::{Value, json};

use crate::config::DurationText;
use crate::error::ApiError;
use crate::http::{Audience, body_object, identity_view, session_view};
use crate::public::{alive, ready, version};
use crate::state::AppState;

/// The admin router.
pub fn router(app: Arc<AppState>) -> Router {
    Router::new()
        .route("/health/alive", get(alive))
        .route("/health/ready", get(ready))
        .route("/version", get(version))
        .route("/admin/identities", get(list_identities).post(create_identity).patch(batch_create))
        .route("/admin/identities/by/external/{external_id}", get(identity_by_external_id))
        .route(
            "/admin/identities/{id}",
            get(get_identity).delete(delete_identity).put(put_identity).patch(patch_identity),
        )
        .route("/admin/identities/{id}/credentials/{kind}", delete(delete_credential))
        .route("/admin/identities/{id}/sessions", get(identity_sessions).delete(revoke_identity_sessions))
        .route("/admin/sessions", get(list_sessions))
        .route("/admin/sessions/{id}", get(get_session).delete(disable_session))
        .route("/admin/sessions/{id}/extend", patch(extend_session))
        .route("/admin/recovery/code", post(recovery_code))
        .route("/admin/recovery/link", post(recovery_link))
        .with_state(app)
}

/// The identity id in a path; one that does not parse names no identity.
pub(crate) fn identity_id(text: &str) -> Result<IdentityId, ApiError> {
    text.parse().map_err(|_| ApiError::not_found("identity"))
}

fn credential_types(params: &[(String, String)]) -> Vec<CredentialType> {
    params
        .iter()
        .filter(|(key, _)| key == "include_credential" || key == "include_credential[]")
        .filter_map(|(_, value)| CredentialType::ALL.into_iter().find(|kind| kind.as_str() == value))
        .collect()
}

fn admin_view(app: &AppState, identity: &identity_core::Identity, include: &[CredentialType]) -> Value {
    identity_view(identity, &app.public_url, Audience::Admin { include })
}

fn parse_import(value: Value) -> Result<IdentityImport, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| ApiError::bad_request(format!("`{}`: {}", e.path(), e.inner())))
}

async fn create_identity(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let import = parse_import(body_object(&headers, &body)?)?;
    let identity = app.admin.import(import).await?;
    Ok((StatusCode::CREATED, Json(admin_view(&app, &identity, &[]))).into_response())
}

async fn batch_create(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = body_object(&headers, &body)?;
    let items = body
        .get("identities")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("`identities` must be a list"))?;
    if items.len() > 1000 {
        return Err(ApiError::bad_request("at most 1000 identities per batch"));
    }
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let patch_id = item.get("patch_id").cloned().unwrap_or(Value::Null);
        let create = item.get("create").cloned().unwrap_or(Value::Null);
        let outcome = match parse_import(create) {
            Ok(import) => app.admin.import(import).await.map_err(ApiError::from),
            Err(error) => Err(error),
        };
        results.push(match outcome {
            Ok(identity) => json!({ "action": "create", "identity": identity.id, "patch_id": patch_id }),
            Err(error) => {
                json!({ "action": "error", "patch_id": patch_id, "error": { "code": error.status().as_u16() } })
            }
        });
    }
    Ok(Json(json!({ "identities": results })))
}

/// The most ids `GET /admin/identities?ids=` takes at once (Kratos' limit).
const MAX_IDS: usize = 500;

async fn list_identities(
    State(app): State<Arc<AppState>>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let ids: Vec<&str> =
        pairs.iter().filter(|(key, _)| key == "ids" || key == "ids[]").map(|(_, v)| v.as_str()).collect();
    if !ids.is_empty() {
        // Kratos' `ids` filter: those identities (unknown ids are left out), no paging, no other filter.
        if ids.len() > MAX_IDS {
            return Err(ApiError::bad_request(format!("at most {MAX_IDS} ids at once")));
        }
        let mut items = Vec::with_capacity(ids.len());
        for id in ids {
            let Ok(id) = id.parse::<IdentityId>() else { continue };
            match app.store.identity(id).await {
                Ok(identity) => items.push(admin_view(&app, &identity, &[])),
                Err(identity_store::Error::NotFound { .. }) => {}
                Err(other) => return Err(other.into()),
            }
        }
        return Ok(Json(Value::Array(items)).into_response());
    }
    let params: HashMap<String, String> = pairs.into_iter().collect();
    let page_size = page_size(params.get("page_size").map(String::as_str))?;
    let page = PageRequest { page_size, page_token: params.get("page_token").map(PageToken::parse) };
    let filter = IdentityFilter {
        credential_identifier: params.get("credentials_identifier").cloned(),
        ..IdentityFilter::default()
    };
    let found = app.store.list_identities(&filter, &page).await?;
    let items: Vec<Value> = found.items.iter().map(|identity| admin_view(&app, identity, &[])).collect();
    Ok(paged(items, "/admin/identities", page_size, found.next_page_token.as_ref()))
}

async fn get_identity(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let identity = app.admin.identity(identity_id(&id)?).await?;
    Ok(Json(admin_view(&app, &identity, &credential_types(&params))))
}

async fn identity_by_external_id(
    State(app): State<Arc<AppState>>,
    Path(external_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let identity =
        app.store.find_identity_by_external_id(&external_id).await?.ok_or_else(|| ApiError::not_found("identity"))?;
    Ok(Json(admin_view(&app, &identity, &[])))
}

/// `PUT /admin/identities/{id}`: replaces traits, state and metadata (credentials stay), re-checked by the
/// schema; disabling ends the sessions.
async fn put_identity(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let id = identity_id(&id)?;
    let body = body_object(&headers, &body)?;
    let traits = body.get("traits").cloned().ok_or_else(|| ApiError::bad_request("`traits` is required"))?;
    let state: IdentityState = match body.get("state") {
        Some(state) => serde_json::from_value(state.clone())
            .map_err(|_| ApiError::bad_request("`state` must be active or inactive"))?,
        None => return Err(ApiError::bad_request("`state` is required")),
    };
    let metadata = (body.get("metadata_public").cloned(), body.get("metadata_admin").cloned());
    replace_identity(&app, id, traits, state, metadata).await
}

/// Stores new traits, metadata and state (disabling ends the sessions) and answers the identity.
async fn replace_identity(
    app: &AppState,
    id: IdentityId,
    traits: Value,
    state: IdentityState,
    (metadata_public, metadata_admin): (Option<Value>, Option<Value>),
) -> Result<Json<Value>, ApiError> {
    let identity = app.admin.replace_traits(id, traits, metadata_public, metadata_admin).await?;
    let identity = if identity.state == state { identity } else { app.admin.set_state(id, state).await? };
    if identity.state == IdentityState::Inactive {
        // A disabled identity's OAuth2 grants end with its sessions: refresh tokens stop working and
        // introspection reports its access tokens inactive.
        app.oauth2.revoke_identity(id).await.map_err(|e| {
            tracing::error!(error = %e, "revoking a disabled identity's OAuth2 tokens failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the identity was disabled, but its OAuth2 tokens could not be revoked; retry",
            )
        })?;
    }
    Ok(Json(admin_view(app, &identity, &[])))
}

/// `PATCH /admin/identities/{id}`: an RFC 6902 JSON Patch over the identity's JSON. `traits`, `state`,
/// `metadata_public` and `metadata_admin` may change (`id` and `credentials` may not); the result is checked as
/// a `PUT` is.
async fn patch_identity(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let id = identity_id(&id)?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.starts_with("application/json") && !content_type.starts_with("application/json-patch+json") {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send a JSON Patch document"));
    }
    let patch: json_patch::Patch =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("not a JSON Patch: {e}")))?;
    for operation in &patch.0 {
        let path = operation.path().to_string();
        let top = path.trim_start_matches('/').split('/').next().unwrap_or("");
        if !matches!(top, "traits" | "state" | "metadata_public" | "metadata_admin") {
            return Err(ApiError::bad_request(format!("`{path}` cannot be patched")));
        }
    }
    let current = app.admin.identity(id).await?;
    let mut document = json!({
        "traits": current.traits,
        "state": current.state,
        "metadata_public": current.metadata_public,
        "metadata_admin": current.metadata_admin,
    });
    json_patch::patch(&mut document, &patch)
        .map_err(|e| ApiError::bad_request(format!("the patch does not apply: {e}")))?;
    let state: IdentityState = serde_json::from_value(document["state"].clone())
        .map_err(|_| ApiError::bad_request("`state` must be active or inactive"))?;
    let metadata = (Some(document["metadata_public"].clone()), Some(document["metadata_admin"].clone()));
    replace_identity(&app, id, document["traits"].clone(), state, metadata).await
}

async fn delete_identity(State(app): State<Arc<AppState>>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    app.admin.delete(identity_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /admin/identities/{id}/credentials/{type}`: `totp` and `lookup_secret` (ending the sessions), or one
/// `oidc` link named by `?identifier=provider:subject`.
async fn delete_credential(
    State(app): State<Arc<AppState>>,
    Path((id, kind)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<StatusCode, ApiError> {
    let id = identity_id(&id)?;
    let removed = match kind.as_str() {
        "totp" => app.admin.reset_second_factor(id, CredentialType::Totp).await?,
        "lookup_secret" => app.admin.reset_second_factor(id, CredentialType::LookupSecret).await?,
        "oidc" => {
            let identifier =
                params.get("identifier").ok_or_else(|| ApiError::bad_request("`identifier` is required for oidc"))?;
            app.admin.remove_oidc_link(id, identifier).await?
        }
        _ => return Err(ApiError::bad_request("only `totp`, `lookup_secret` and `oidc` credentials can be deleted")),
    };
    if !removed {
        return Err(ApiError::not_found("credential"));
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn identity_sessions(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let id = identity_id(&id)?;
    let identity = app.admin.identity(id).await?;
    let active_only = params.get("active").is_some_and(|v| v == "true");
    let sessions = app.sessions.list(id, active_only).await?;
    Ok(Json(Value::Array(sessions.iter().map(|s| session_view(s, Some(&identity), &app.public_url)).collect())))
}

async fn revoke_identity_sessions(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = identity_id(&id)?;
    app.admin.identity(id).await?;
    app.admin.revoke_sessions(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /admin/sessions`: every session, by id, in keyset pages (`page_size`, `page_token`, `Link`); `active`
/// filters; `expand=identity` embeds each session's identity.
async fn list_sessions(
    State(app): State<Arc<AppState>>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let get = |name: &str| params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    let page_size = page_size(get("page_size"))?;
    let page = PageRequest { page_size, page_token: get("page_token").map(PageToken::parse) };
    let active_at = match get("active") {
        Some("true") => Some(app.clock.now()),
        None | Some("false") => None,
        Some(_) => return Err(ApiError::bad_request("`active` must be true or false")),
    };
    let expand = params.iter().any(|(key, value)| key == "expand" && value == "identity");
    let found = app.store.list_sessions(active_at, &page).await?;
    let mut items = Vec::with_capacity(found.items.len());
    for session in &found.items {
        let identity = if expand { app.store.identity(session.identity_id).await.ok() } else { None };
        items.push(session_view(session, identity.as_ref(), &app.public_url));
    }
    Ok(paged(items, "/admin/sessions", page_size, found.next_page_token.as_ref()))
}

/// A page of `items` with Kratos' `Link` header to the next page of `path`, if there is one.
fn paged(items: Vec<Value>, path: &str, page_size: u32, next: Option<&PageToken>) -> Response {
    let mut response = Json(Value::Array(items)).into_response();
    if let Some(next) = next {
        let link = format!("<{path}?page_size={page_size}&page_token={next}>; rel=\"next\"");
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    response
}

/// The page size a listing asks for (Kratos' `page_size`), or the default.
fn page_size(value: Option<&str>) -> Result<u32, ApiError> {
    match value {
        Some(size) => size.parse().map_err(|_| ApiError::bad_request("`page_size` must be a number")),
        None => Ok(identity_store::DEFAULT_PAGE_SIZE),
    }
}

/// The `identity_id` and `expires_in` of a recovery request.
fn recovery_target(body: &Value) -> Result<(IdentityId, Option<identity_core::time::Duration>), ApiError> {
    let id = body
        .get("identity_id")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("`identity_id` is required"))
        .and_then(identity_id)?;
    let expires_in = match body.get("expires_in").and_then(Value::as_str) {
        Some(text) => Some(
            DurationText(text.to_owned()).parse().map_err(|e| ApiError::bad_request(format!("`expires_in`: {e}")))?,
        ),
        None => None,
    };
    Ok((id, expires_in))
}

fn session_id(text: &str) -> Result<SessionId, ApiError> {
    text.parse().map_err(|_| ApiError::not_found("session"))
}

async fn get_session(State(app): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let session = app.store.session(session_id(&id)?).await?;
    let identity = app.store.identity(session.identity_id).await.ok();
    Ok(Json(session_view(&session, identity.as_ref(), &app.public_url)))
}

async fn disable_session(State(app): State<Arc<AppState>>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let session = app.store.session(session_id(&id)?).await?;
    app.sessions.revoke(session.identity_id, session.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn extend_session(State(app): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let session = app.store.session(session_id(&id)?).await?;
    let extended = app.sessions.extend(session.identity_id, session.id).await?;
    let identity = app.store.identity(session.identity_id).await.ok();
    Ok(Json(session_view(&extended, identity.as_ref(), &app.public_url)))
}

async fn recovery_code(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = body_object(&headers, &body)?;
    let (id, expires_in) = recovery_target(&body)?;
    let flow_type = match body.get("flow_type").and_then(Value::as_str) {
        None | Some("browser") => FlowType::Browser,
        Some("api") => FlowType::Api,
        Some(_) => return Err(ApiError::bad_request("`flow_type` must be api or browser")),
    };
    let issued = app.admin.recovery_code(id, expires_in, flow_type).await?;
    let expires_at = crate::http::rfc3339(issued.expires_at);
    let body =
        json!({ "recovery_link": issued.link, "recovery_code": issued.code.expose_secret(), "expires_at": expires_at });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `POST /admin/recovery/link`: a link that recovers the account when opened (the code rides in it, so treat the
/// link as a password); `{recovery_link, expires_at}`.
async fn recovery_link(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = body_object(&headers, &body)?;
    let (id, expires_in) = recovery_target(&body)?;
    // The link itself carries the secret, so no cookie-bound CSRF token is needed to redeem it.
    let issued = app.admin.recovery_code(id, expires_in, FlowType::Api).await?;
    let expires_at = crate::http::rfc3339(issued.expires_at);
    let link = format!("{}&code={}", issued.link, issued.code.expose_secret());
    Ok(Json(json!({ "recovery_link": link, "expires_at": expires_at })))
}
