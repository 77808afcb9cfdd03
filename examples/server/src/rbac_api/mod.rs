//! The RBAC API as Unikorn's identity service offers it, under `/api/v1`:
//!
//! - for the caller (a session or an access token), public listener only: `GET /api/v1/acl` (its platform-wide
//!   scopes, if it administers the platform) and `GET /api/v1/organizations/{id}/acl` (its rights in one
//!   organization), in Unikorn's ACL JSON;
//! - organizations, their groups and projects, and roles: CRUD on both listeners, at the same paths. The admin
//!   listener is the operator's and trusts its callers. On the public listener every operation checks the
//!   caller's ACL for the operation's scope (`identity:organizations`, `identity:groups`, `identity:projects`,
//!   `identity:roles`), and a group's roles and members change only within what the caller could grant itself
//!   ([`identity_rbac::check_grant`]); the `access` module states the rules and statuses;
//! - `GET /api/v1/organizations/{id}/visible-projects?scope=...`: the projects of the organization the caller
//!   (or, on the admin listener, `identity=...`) may read in a scope, for services that filter by project.
//!
//! Bodies are the domain objects' JSON without their ids; unknown fields are refused. `PUT` replaces, `PATCH`
//! takes a JSON merge patch (RFC 7396) of the same shape.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use identity_auth::RequiredAal;
use identity_core::IdentityId;
use identity_rbac::Subject;

use crate::error::ApiError;
use crate::http::bearer_token;
use crate::oauth2::identity_of_access_token;
use crate::public::token_of;
use crate::state::AppState;

mod access;
mod groups;
mod organizations;
mod projects;
mod roles;

/// The routes of the public listener: callers authenticate themselves, and the ACL decides.
pub fn router(app: Arc<AppState>) -> Router {
    let api = access::Api::new(app.clone(), access::Listener::Public);
    Router::new()
        .route("/api/v1/acl", get(acl))
        .with_state(app)
        .merge(Router::new().route("/api/v1/organizations/{id}/acl", get(organization_acl)).with_state(api.clone()))
        .merge(objects(api))
}

/// The routes of the admin listener: the CRUD routes, trusting the operator.
pub fn admin_router(app: Arc<AppState>) -> Router {
    objects(access::Api::new(app, access::Listener::Admin))
}

fn objects(api: access::Api) -> Router {
    Router::new()
        .route("/api/v1/organizations", get(organizations::list).post(organizations::create))
        .route(
            "/api/v1/organizations/{id}",
            get(organizations::get)
                .put(organizations::update)
                .patch(organizations::update)
                .delete(organizations::delete),
        )
        .route("/api/v1/organizations/{id}/groups", get(groups::list).post(groups::create))
        .route(
            "/api/v1/organizations/{id}/groups/{group}",
            get(groups::get).put(groups::update).patch(groups::update).delete(groups::delete),
        )
        .route("/api/v1/organizations/{id}/projects", get(projects::list).post(projects::create))
        .route(
            "/api/v1/organizations/{id}/projects/{project}",
            get(projects::get).put(projects::update).patch(projects::update).delete(projects::delete),
        )
        .route("/api/v1/organizations/{id}/visible-projects", get(projects::visible))
        .route("/api/v1/organizations/{id}/roles", get(roles::of_organization))
        .route("/api/v1/roles", get(roles::list).post(roles::create))
        .route("/api/v1/roles/{id}", get(roles::get).put(roles::update).patch(roles::update).delete(roles::delete))
        .with_state(api)
}

/// Who calls: an access token (a JWT in `Authorization: Bearer`) naming an active identity, or a session.
async fn caller(app: &AppState, headers: &HeaderMap) -> Result<IdentityId, ApiError> {
    if let Some(token) = bearer_token(headers).filter(|token| token.split('.').count() == 3) {
        let identity = identity_of_access_token(app, token).await.ok_or(identity_auth::Error::SessionInactive)?;
        return Ok(identity.id);
    }
    let token = token_of(app, headers).ok_or(identity_auth::Error::SessionInactive)?;
    let (_, identity) = crate::http::check_session(app, &token, RequiredAal::HighestAvailable).await?;
    Ok(identity.id)
}

fn rbac_error(error: identity_rbac::Error) -> ApiError {
    match error {
        identity_rbac::Error::Store(error) => error.into(),
        other => {
            tracing::error!(error = %other, "an ACL could not be built");
            ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "the ACL could not be built")
        }
    }
}

/// `GET /api/v1/acl`.
async fn acl(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let subject = Subject::new(caller(&app, &headers).await?);
    Ok(Json(app.acls.global_acl(&subject).await.map_err(rbac_error)?).into_response())
}

/// `GET /api/v1/organizations/{id}/acl`: 404 for an organization that does not exist or that the caller cannot
/// see (see the `access` module).
async fn organization_acl(
    State(api): State<access::Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let scoped = api.organization(&headers, &id).await?;
    let access::Caller::Subject(subject) = &scoped.caller else {
        return Err(ApiError::not_found("organization"));
    };
    Ok(Json(api.app.acls.acl(subject, scoped.id()).await.map_err(rbac_error)?).into_response())
}
