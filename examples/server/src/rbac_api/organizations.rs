//! `/api/v1/organizations[/{id}]`. JSON: `{id, name, display_name, email_domains, provider_id}`.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use identity_core::{DnsLabel, EmailDomain, Operation, Organization, OrganizationId, ProviderId, Validate};
use identity_rbac::scopes::ORGANIZATIONS;
use serde::Deserialize;

use super::access::{Api, Caller, created, decode, invalid, writable, write_document};
use crate::error::ApiError;

/// What a write sets.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrganizationWrite {
    name: DnsLabel,
    display_name: String,
    #[serde(default)]
    email_domains: BTreeSet<EmailDomain>,
    #[serde(default)]
    provider_id: Option<ProviderId>,
}

impl OrganizationWrite {
    fn into_organization(self, id: OrganizationId) -> Result<Organization, ApiError> {
        let organization = Organization {
            id,
            name: self.name,
            display_name: self.display_name,
            email_domains: self.email_domains,
            provider_id: self.provider_id,
        };
        organization.validate().map_err(invalid)?;
        Ok(organization)
    }
}

/// `GET /api/v1/organizations`: every organization for the operator and platform administrators; otherwise the
/// ones whose groups the caller is an explicit member of and that it may read, by name.
pub(super) async fn list(State(api): State<Api>, headers: HeaderMap) -> Result<Json<Vec<Organization>>, ApiError> {
    let caller = api.caller(&headers).await?;
    if api.holds_globally(&caller, ORGANIZATIONS, Operation::Read).await? {
        return Ok(Json(api.app.store.list_organizations().await?));
    }
    let Caller::Subject(subject) = &caller else { return Ok(Json(Vec::new())) };
    let ids: BTreeSet<OrganizationId> =
        api.app.store.groups_of_member(subject.id).await?.into_iter().map(|group| group.organization_id).collect();
    let mut found = BTreeMap::new();
    for id in ids {
        let acl = match api.app.acls.compiled(subject, id).await {
            Ok(acl) => acl,
            Err(identity_rbac::Error::Store(identity_store::Error::NotFound { .. })) => continue,
            Err(error) => return Err(super::rbac_error(error)),
        };
        if acl.allows(ORGANIZATIONS, Operation::Read, None) {
            let organization = api.app.store.organization(id).await?;
            found.insert(organization.name.clone(), organization);
        }
    }
    Ok(Json(found.into_values().collect()))
}

/// `POST /api/v1/organizations`: 201; platform administrators only on the public listener.
pub(super) async fn create(State(api): State<Api>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let caller = api.caller(&headers).await?;
    api.require_globally(&caller, ORGANIZATIONS, Operation::Create).await?;
    let write: OrganizationWrite = decode(write_document(&Method::POST, None, &headers, &body)?)?;
    let organization = write.into_organization(OrganizationId::new())?;
    api.app.store.create_organization(&organization).await?;
    Ok(created(&organization))
}

/// `GET /api/v1/organizations/{id}`.
pub(super) async fn get(
    State(api): State<Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Organization>, ApiError> {
    let scoped = api.organization(&headers, &id).await?;
    scoped.require(ORGANIZATIONS, Operation::Read, None)?;
    Ok(Json(scoped.organization))
}

/// `PUT`/`PATCH /api/v1/organizations/{id}`. Email domains and the provider decide where logins go, so an
/// organization's administrators cannot change them (they could claim another organization's users' domain):
/// that needs the scope platform-wide.
pub(super) async fn update(
    State(api): State<Api>,
    Path(id): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Organization>, ApiError> {
    let scoped = api.organization(&headers, &id).await?;
    scoped.require(ORGANIZATIONS, Operation::Update, None)?;
    let current = &scoped.organization;
    let write: OrganizationWrite = decode(write_document(&method, Some(writable(current)), &headers, &body)?)?;
    let organization = write.into_organization(current.id)?;
    if organization.email_domains != current.email_domains || organization.provider_id != current.provider_id {
        api.require_globally(&scoped.caller, ORGANIZATIONS, Operation::Update).await?;
    }
    api.app.store.update_organization(&organization).await?;
    Ok(Json(organization))
}

/// `DELETE /api/v1/organizations/{id}`: 204, with its groups and projects; platform administrators only on the
/// public listener.
pub(super) async fn delete(
    State(api): State<Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let scoped = api.organization(&headers, &id).await?;
    api.require_globally(&scoped.caller, ORGANIZATIONS, Operation::Delete).await?;
    api.app.store.delete_organization(scoped.id()).await?;
    Ok(StatusCode::NO_CONTENT)
}
