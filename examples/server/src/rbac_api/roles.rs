//! `/api/v1/roles[/{id}]` and `/api/v1/organizations/{id}/roles`. JSON: `{id, name, description?, scopes:
//! {global?, organization?, project?}}`, each level a list of `{name, operations}` (Unikorn's shape).
//!
//! Roles are shared by every organization (as in Unikorn, where an organization lists the roles it can use), so
//! reading them needs only authentication, and writing them the `identity:roles` scope platform-wide (platform
//! administrators, or the operator on the admin listener). The built-in roles can be changed (another service's
//! scopes added to them) but not renamed or deleted: the server finds them by name at every start (409).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use identity_core::{DnsLabel, Operation, Permission, Role, RoleId, RoleScopes, Scope, ScopeName, ScopeSet, Validate};
use identity_rbac::BuiltinRole;
use identity_rbac::scopes::ROLES;
use serde::Deserialize;

use super::access::{Api, created, decode, invalid, writable, write_document};
use crate::error::ApiError;

/// What a write sets.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleWrite {
    name: DnsLabel,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    scopes: ScopesWrite,
}

/// [`RoleScopes`], refusing unknown levels.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ScopesWrite {
    #[serde(default)]
    global: Vec<ScopeWrite>,
    #[serde(default)]
    organization: Vec<ScopeWrite>,
    #[serde(default)]
    project: Vec<ScopeWrite>,
}

/// [`Scope`], refusing unknown fields.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeWrite {
    name: ScopeName,
    operations: Permission,
}

impl RoleWrite {
    fn into_role(self, id: RoleId) -> Result<Role, ApiError> {
        let set = |scopes: Vec<ScopeWrite>| -> ScopeSet {
            scopes.into_iter().map(|scope| Scope { name: scope.name, operations: scope.operations }).collect()
        };
        let scopes = RoleScopes {
            global: set(self.scopes.global),
            organization: set(self.scopes.organization),
            project: set(self.scopes.project),
        };
        let role = Role { id, name: self.name, description: self.description, scopes };
        role.validate().map_err(invalid)?;
        Ok(role)
    }
}

/// `GET /api/v1/roles`, by name.
pub(super) async fn list(State(api): State<Api>, headers: HeaderMap) -> Result<Json<Vec<Role>>, ApiError> {
    api.caller(&headers).await?;
    Ok(Json(api.app.store.list_roles().await?))
}

/// `GET /api/v1/organizations/{id}/roles`: the roles the organization's groups can hold (all of them), for a
/// caller that may read `identity:roles` there.
pub(super) async fn of_organization(
    State(api): State<Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Vec<Role>>, ApiError> {
    let scoped = api.organization(&headers, &id).await?;
    scoped.require(ROLES, Operation::Read, None)?;
    Ok(Json(api.app.store.list_roles().await?))
}

/// `GET /api/v1/roles/{id}`.
pub(super) async fn get(
    State(api): State<Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Role>, ApiError> {
    api.caller(&headers).await?;
    Ok(Json(role(&api, &id).await?))
}

/// `POST /api/v1/roles`: 201.
pub(super) async fn create(State(api): State<Api>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let caller = api.caller(&headers).await?;
    api.require_globally(&caller, ROLES, Operation::Create).await?;
    let write: RoleWrite = decode(write_document(&Method::POST, None, &headers, &body)?)?;
    let role = write.into_role(RoleId::new())?;
    api.app.store.create_role(&role).await?;
    Ok(created(&role))
}

/// `PUT`/`PATCH /api/v1/roles/{id}`.
pub(super) async fn update(
    State(api): State<Api>,
    Path(id): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Role>, ApiError> {
    let caller = api.caller(&headers).await?;
    api.require_globally(&caller, ROLES, Operation::Update).await?;
    let current = role(&api, &id).await?;
    let write: RoleWrite = decode(write_document(&method, Some(writable(&current)), &headers, &body)?)?;
    let role = write.into_role(current.id)?;
    if role.name != current.name && is_builtin(&api, current.id) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("the built-in role `{}` keeps its name", current.name),
        ));
    }
    api.app.store.update_role(&role).await?;
    Ok(Json(role))
}

/// `DELETE /api/v1/roles/{id}`: 204; it leaves every group that held it.
pub(super) async fn delete(
    State(api): State<Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let caller = api.caller(&headers).await?;
    api.require_globally(&caller, ROLES, Operation::Delete).await?;
    let role = role(&api, &id).await?;
    if is_builtin(&api, role.id) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("the built-in role `{}` cannot be deleted", role.name),
        ));
    }
    api.app.store.delete_role(role.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn role(api: &Api, id: &str) -> Result<Role, ApiError> {
    let id: RoleId = id.parse().map_err(|_| ApiError::not_found("role"))?;
    Ok(api.app.store.role(id).await?)
}

fn is_builtin(api: &Api, id: RoleId) -> bool {
    BuiltinRole::ALL.into_iter().any(|builtin| api.app.builtin_roles.id(builtin) == id)
}
