//! `/api/v1/organizations/{id}/projects[/{project}]`, under the `identity:projects` scope (a project-level grant
//! counts for that project), and `.../visible-projects`. JSON: `{id, organization_id, name, group_ids}`.

use std::collections::BTreeSet;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use identity_core::{
    DnsLabel, GroupId, IdentityId, Operation, OrganizationId, Project, ProjectId, ScopeName, Validate,
};
use identity_rbac::scopes::PROJECTS;
use identity_rbac::{Subject, Visibility};
use serde::{Deserialize, Serialize};

use super::access::{Api, InOrganization, Listener, created, decode, invalid, writable, write_document, write_error};
use crate::error::ApiError;

/// The objects a project's body refers to.
const REFERENCES: &[&str] = &["group"];

/// What a write sets.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectWrite {
    name: DnsLabel,
    #[serde(default)]
    group_ids: BTreeSet<GroupId>,
}

impl ProjectWrite {
    fn into_project(self, scoped: &InOrganization, id: ProjectId) -> Result<Project, ApiError> {
        let project = Project { id, organization_id: scoped.id(), name: self.name, group_ids: self.group_ids };
        project.validate().map_err(invalid)?;
        Ok(project)
    }
}

/// `GET .../projects`: the projects the caller may read, by name.
pub(super) async fn list(
    State(api): State<Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Vec<Project>>, ApiError> {
    let scoped = api.organization(&headers, &id).await?;
    let mut projects = api.app.store.projects_of_organization(scoped.id()).await?;
    if let Some(acl) = scoped.acl() {
        projects.retain(|project| acl.allows(PROJECTS, Operation::Read, Some(project.id)));
    }
    Ok(Json(projects))
}

/// `POST .../projects`: 201; needs `create` across the organization.
pub(super) async fn create(
    State(api): State<Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let scoped = api.organization(&headers, &id).await?;
    scoped.require(PROJECTS, Operation::Create, None)?;
    let write: ProjectWrite = decode(write_document(&Method::POST, None, &headers, &body)?)?;
    let project = write.into_project(&scoped, ProjectId::new())?;
    api.app.store.create_project(&project).await.map_err(|e| write_error(e, REFERENCES))?;
    Ok(created(&project))
}

/// `GET .../projects/{project}`.
pub(super) async fn get(
    State(api): State<Api>,
    Path((id, project)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Project>, ApiError> {
    let scoped = api.organization(&headers, &id).await?;
    let project = project_of(&api, &scoped, &project).await?;
    scoped.require(PROJECTS, Operation::Read, Some(project.id))?;
    Ok(Json(project))
}

/// `PUT`/`PATCH .../projects/{project}`.
pub(super) async fn update(
    State(api): State<Api>,
    Path((id, project)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Project>, ApiError> {
    let scoped = api.organization(&headers, &id).await?;
    let current = project_of(&api, &scoped, &project).await?;
    scoped.require(PROJECTS, Operation::Update, Some(current.id))?;
    let write: ProjectWrite = decode(write_document(&method, Some(writable(&current)), &headers, &body)?)?;
    let project = write.into_project(&scoped, current.id)?;
    api.app.store.update_project(&project).await.map_err(|e| write_error(e, REFERENCES))?;
    Ok(Json(project))
}

/// `DELETE .../projects/{project}`: 204.
pub(super) async fn delete(
    State(api): State<Api>,
    Path((id, project)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let scoped = api.organization(&headers, &id).await?;
    let project = project_of(&api, &scoped, &project).await?;
    scoped.require(PROJECTS, Operation::Delete, Some(project.id))?;
    api.app.store.delete_project(project.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The project `id` names, if it belongs to the organization of the path (404 otherwise).
async fn project_of(api: &Api, scoped: &InOrganization, id: &str) -> Result<Project, ApiError> {
    let unknown = || ApiError::not_found("project");
    let id: ProjectId = id.parse().map_err(|_| unknown())?;
    match api.app.store.project(id).await {
        Ok(project) if project.organization_id == scoped.id() => Ok(project),
        Ok(_) | Err(identity_store::Error::NotFound { .. }) => Err(unknown()),
        Err(error) => Err(error.into()),
    }
}

/// The query of `visible-projects`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VisibleQuery {
    /// The scope, such as `identity:projects` or another service's `compute:clusters`.
    scope: ScopeName,
    /// Whose visibility: required on the admin listener, refused on the public one (the caller's own).
    #[serde(default)]
    identity: Option<IdentityId>,
}

/// The answer of `visible-projects`.
#[derive(Serialize)]
pub(super) struct Visible {
    organization_id: OrganizationId,
    scope: ScopeName,
    /// `everything` (a platform-wide grant), `organization` (an organization-wide grant) or `projects` (only
    /// the listed ones).
    visibility: &'static str,
    /// The organization's projects that are visible, sorted by id; every one of them unless `projects`.
    project_ids: Vec<ProjectId>,
}

/// `GET .../visible-projects?scope=...[&identity=...]`: which of the organization's projects may be read in the
/// scope, from [`identity_rbac::CompiledAcl::visibility`].
pub(super) async fn visible(
    State(api): State<Api>,
    Path(id): Path<String>,
    Query(query): Query<VisibleQuery>,
    headers: HeaderMap,
) -> Result<Json<Visible>, ApiError> {
    let scoped = api.organization(&headers, &id).await?;
    let acl = match (api.listener(), query.identity) {
        (Listener::Public, None) => scoped.acl().cloned(),
        (Listener::Admin, Some(identity)) => {
            Some(api.app.acls.compiled(&Subject::new(identity), scoped.id()).await.map_err(super::rbac_error)?)
        }
        (Listener::Public, Some(_)) => {
            return Err(ApiError::bad_request("`identity` is for the admin listener; here it is the caller"));
        }
        (Listener::Admin, None) => return Err(ApiError::bad_request("`identity`: whose visibility is asked")),
    };
    let visibility = acl.map(|acl| acl.visibility(query.scope.as_str())).unwrap_or(Visibility::Everything);
    let (label, project_ids) = match visibility {
        Visibility::Projects(ids) => ("projects", ids),
        whole => {
            let mut ids: Vec<ProjectId> =
                api.app.store.projects_of_organization(scoped.id()).await?.into_iter().map(|p| p.id).collect();
            ids.sort();
            (if whole == Visibility::Everything { "everything" } else { "organization" }, ids)
        }
    };
    Ok(Json(Visible { organization_id: scoped.id(), scope: query.scope, visibility: label, project_ids }))
}
