//! `/api/v1/organizations/{id}/groups[/{group}]`, under the `identity:groups` scope. JSON: `{id,
//! organization_id, name, members, upstream_groups, role_ids}` (members are identity ids).
//!
//! A group's roles reach its members, so both changes are grants: each role added must pass
//! [`identity_rbac::check_grant`] for the caller, and so must every role of a group that gains members (explicit
//! or upstream). Removing roles or members grants nothing and is not checked beyond `update`.

use std::collections::BTreeSet;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use identity_core::{DnsLabel, Group, GroupId, IdentityId, Operation, RoleId, Validate};
use identity_rbac::scopes::GROUPS;
use serde::Deserialize;

use super::access::{Api, InOrganization, created, decode, invalid, writable, write_document, write_error};
use crate::error::ApiError;

/// The objects a group's body refers to.
const REFERENCES: &[&str] = &["identity", "role"];

/// What a write sets.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupWrite {
    name: DnsLabel,
    #[serde(default)]
    members: BTreeSet<IdentityId>,
    #[serde(default)]
    upstream_groups: BTreeSet<String>,
    #[serde(default)]
    role_ids: BTreeSet<RoleId>,
}

impl GroupWrite {
    fn into_group(self, scoped: &InOrganization, id: GroupId) -> Result<Group, ApiError> {
        let group = Group {
            id,
            organization_id: scoped.id(),
            name: self.name,
            members: self.members,
            upstream_groups: self.upstream_groups,
            role_ids: self.role_ids,
        };
        group.validate().map_err(invalid)?;
        Ok(group)
    }
}

/// `GET .../groups`, by name.
pub(super) async fn list(
    State(api): State<Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Vec<Group>>, ApiError> {
    let scoped = api.organization(&headers, &id).await?;
    scoped.require(GROUPS, Operation::Read, None)?;
    Ok(Json(api.app.store.groups_of_organization(scoped.id()).await?))
}

/// `POST .../groups`: 201.
pub(super) async fn create(
    State(api): State<Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let scoped = api.organization(&headers, &id).await?;
    scoped.require(GROUPS, Operation::Create, None)?;
    let write: GroupWrite = decode(write_document(&Method::POST, None, &headers, &body)?)?;
    let group = write.into_group(&scoped, GroupId::new())?;
    check_grants(&api, &scoped, None, &group).await?;
    api.app.store.create_group(&group).await.map_err(|e| write_error(e, REFERENCES))?;
    Ok(created(&group))
}

/// `GET .../groups/{group}`.
pub(super) async fn get(
    State(api): State<Api>,
    Path((id, group)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Group>, ApiError> {
    let scoped = api.organization(&headers, &id).await?;
    scoped.require(GROUPS, Operation::Read, None)?;
    Ok(Json(group_of(&api, &scoped, &group).await?))
}

/// `PUT`/`PATCH .../groups/{group}`.
pub(super) async fn update(
    State(api): State<Api>,
    Path((id, group)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Group>, ApiError> {
    let scoped = api.organization(&headers, &id).await?;
    scoped.require(GROUPS, Operation::Update, None)?;
    let current = group_of(&api, &scoped, &group).await?;
    let write: GroupWrite = decode(write_document(&method, Some(writable(&current)), &headers, &body)?)?;
    let group = write.into_group(&scoped, current.id)?;
    check_grants(&api, &scoped, Some(&current), &group).await?;
    api.app.store.update_group(&group).await.map_err(|e| write_error(e, REFERENCES))?;
    Ok(Json(group))
}

/// `DELETE .../groups/{group}`: 204.
pub(super) async fn delete(
    State(api): State<Api>,
    Path((id, group)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let scoped = api.organization(&headers, &id).await?;
    scoped.require(GROUPS, Operation::Delete, None)?;
    let group = group_of(&api, &scoped, &group).await?;
    api.app.store.delete_group(group.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The group `id` names, if it belongs to the organization of the path (404 otherwise, as if it did not exist).
async fn group_of(api: &Api, scoped: &InOrganization, id: &str) -> Result<Group, ApiError> {
    let unknown = || ApiError::not_found("group");
    let id: GroupId = id.parse().map_err(|_| unknown())?;
    match api.app.store.group(id).await {
        Ok(group) if group.organization_id == scoped.id() => Ok(group),
        Ok(_) | Err(identity_store::Error::NotFound { .. }) => Err(unknown()),
        Err(error) => Err(error.into()),
    }
}

/// Refuses a change that grants a role the caller could not grant itself (see the module's documentation).
async fn check_grants(
    api: &Api,
    scoped: &InOrganization,
    current: Option<&Group>,
    group: &Group,
) -> Result<(), ApiError> {
    if scoped.acl().is_none() {
        return Ok(());
    }
    let gains_members = match current {
        None => !group.members.is_empty() || !group.upstream_groups.is_empty(),
        Some(current) => {
            !group.members.is_subset(&current.members) || !group.upstream_groups.is_subset(&current.upstream_groups)
        }
    };
    for role_id in &group.role_ids {
        let added = current.is_none_or(|current| !current.role_ids.contains(role_id));
        if added || gains_members {
            let role = api.app.store.role(*role_id).await.map_err(|e| write_error(e, REFERENCES))?;
            scoped.may_grant(&role)?;
        }
    }
    Ok(())
}
