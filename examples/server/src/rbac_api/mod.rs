//! The RBAC API as Unikorn's identity service offers it, for the caller (a session or an access token): `GET
//! /api/v1/acl` (its platform-wide scopes, if it administers the platform) and `GET
//! /api/v1/organizations/{id}/acl` (its rights in one organization), in Unikorn's ACL JSON.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use identity_auth::RequiredAal;
use identity_core::{IdentityId, OrganizationId};
use identity_rbac::Subject;

use crate::error::ApiError;
use crate::http::bearer_token;
use crate::oauth2::identity_of_access_token;
use crate::public::token_of;
use crate::state::AppState;

/// The routes (public listener: callers authenticate themselves).
pub fn router(app: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/v1/acl", get(acl))
        .route("/api/v1/organizations/{id}/acl", get(organization_acl))
        .with_state(app)
}

/// Who calls: an access token (a JWT in `Authorization: Bearer`) naming an active identity, or a session.
async fn caller(app: &AppState, headers: &HeaderMap) -> Result<IdentityId, ApiError> {
    if let Some(token) = bearer_token(headers).filter(|token| token.split('.').count() == 3) {
        let identity = identity_of_access_token(app, token).await.ok_or(identity_auth::Error::SessionInactive)?;
        return Ok(identity.id);
    }
    let token = token_of(app, headers).ok_or(identity_auth::Error::SessionInactive)?;
    let (_, identity) = app.sessions.check(&token, RequiredAal::HighestAvailable).await?;
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

/// `GET /api/v1/organizations/{id}/acl`: 404 for an organization that does not exist.
async fn organization_acl(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let subject = Subject::new(caller(&app, &headers).await?);
    let organization: OrganizationId = id.parse().map_err(|_| ApiError::not_found("organization"))?;
    app.store.organization(organization).await?;
    Ok(Json(app.acls.acl(&subject, organization).await.map_err(rbac_error)?).into_response())
}
