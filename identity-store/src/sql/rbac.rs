//! RBAC objects in SQL. Names and email domains are unique through constraints; memberships, role grants and
//! project sharing are join tables, so deleting an identity, role or group removes it everywhere by cascade.

use std::collections::BTreeMap;

use async_trait::async_trait;
use identity_core::{
    DnsLabel, EmailDomain, Group, GroupId, IdentityId, Organization, OrganizationId, Project, ProjectId, Role, RoleId,
};
use sqlx::{Any, AssertSqlSafe, Transaction};

use super::{SqlStore, col, from_document, map_error, map_write_error, to_document};
use crate::error::Error;
use crate::rbac::RbacStore;

/// Rows of `(id, document)` decoded as `T`.
async fn documents<T: serde::de::DeserializeOwned>(
    store: &SqlStore,
    what: &'static str,
    sql: String,
    key: Option<String>,
) -> Result<Vec<T>, Error> {
    let mut query = sqlx::query(AssertSqlSafe(sql));
    if let Some(key) = key {
        query = query.bind(key);
    }
    let rows = query.fetch_all(store.pool()).await.map_err(map_error)?;
    rows.iter()
        .map(|row| {
            let id: String = col(row, "id")?;
            let document: String = col(row, "document")?;
            from_document(what, &id, &document)
        })
        .collect()
}

/// `(owner id, member id)` pairs from a join table, grouped by owner.
async fn pairs(store: &SqlStore, sql: String, key: Option<String>) -> Result<BTreeMap<String, Vec<String>>, Error> {
    let mut query = sqlx::query(AssertSqlSafe(sql));
    if let Some(key) = key {
        query = query.bind(key);
    }
    let rows = query.fetch_all(store.pool()).await.map_err(map_error)?;
    let mut grouped: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in rows {
        let owner: String = col(&row, "owner")?;
        let member: String = col(&row, "member")?;
        grouped.entry(owner).or_default().push(member);
    }
    Ok(grouped)
}

fn parse_ids<T: std::str::FromStr + Ord>(
    what: &'static str,
    owner: &str,
    ids: Option<&Vec<String>>,
) -> Result<std::collections::BTreeSet<T>, Error> {
    ids.into_iter()
        .flatten()
        .map(|id| id.parse().map_err(|_| Error::corrupt(what, owner, format!("bad id {id:?}"))))
        .collect()
}

async fn execute(
    tx: &mut Transaction<'static, Any>,
    query: sqlx::query::Query<'_, Any, sqlx::any::AnyArguments>,
    conflict: impl FnOnce() -> Error,
    missing: impl FnOnce() -> Error,
) -> Result<u64, Error> {
    query.execute(&mut **tx).await.map(|done| done.rows_affected()).map_err(|e| map_write_error(e, conflict, missing))
}

impl SqlStore {
    /// Groups matching `condition` (over `g`), with members and roles, in three queries.
    async fn load_groups(&self, condition: &str, key: String, order: &str) -> Result<Vec<Group>, Error> {
        let mut groups: Vec<Group> = documents(
            self,
            "group",
            format!("SELECT g.id, g.document FROM rbac_groups g WHERE {condition} ORDER BY {order}"),
            Some(key.clone()),
        )
        .await?;
        let scope = format!("SELECT g.id FROM rbac_groups g WHERE {condition}");
        let members = pairs(
            self,
            format!("SELECT group_id AS owner, identity_id AS member FROM group_members WHERE group_id IN ({scope})"),
            Some(key.clone()),
        )
        .await?;
        let roles = pairs(
            self,
            format!("SELECT group_id AS owner, role_id AS member FROM group_roles WHERE group_id IN ({scope})"),
            Some(key),
        )
        .await?;
        for group in &mut groups {
            let id = group.id.to_string();
            group.members = parse_ids("group", &id, members.get(&id))?;
            group.role_ids = parse_ids("group", &id, roles.get(&id))?;
        }
        Ok(groups)
    }

    async fn load_projects(&self, condition: &str, key: String) -> Result<Vec<Project>, Error> {
        let mut projects: Vec<Project> = documents(
            self,
            "project",
            format!("SELECT p.id, p.document FROM projects p WHERE {condition} ORDER BY p.name"),
            Some(key.clone()),
        )
        .await?;
        let shared = pairs(
            self,
            format!(
                "SELECT project_id AS owner, group_id AS member FROM project_groups WHERE project_id IN \
                 (SELECT p.id FROM projects p WHERE {condition})"
            ),
            Some(key),
        )
        .await?;
        for project in &mut projects {
            let id = project.id.to_string();
            project.group_ids = parse_ids("project", &id, shared.get(&id))?;
        }
        Ok(projects)
    }

    async fn write_organization(&self, organization: &Organization, insert: bool) -> Result<(), Error> {
        let id = organization.id.to_string();
        let mut tx = self.begin_write().await?;
        let sql = if insert {
            "INSERT INTO organizations (id, name, document) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING"
        } else {
            "UPDATE organizations SET name = $2, document = $3 WHERE id = $1"
        };
        let query = sqlx::query(sql)
            .bind(&id)
            .bind(organization.name.as_str())
            .bind(to_document("organization", organization)?);
        let written = execute(
            &mut tx,
            query,
            || Error::conflict("organization name", organization.name.as_str()),
            || Error::not_found("organization", &id),
        )
        .await?;
        if written == 0 {
            return Err(if insert {
                Error::conflict("organization id", &id)
            } else {
                Error::not_found("organization", &id)
            });
        }
        let clear = sqlx::query("DELETE FROM organization_domains WHERE organization_id = $1").bind(&id);
        execute(&mut tx, clear, || Error::conflict("organization", &id), || Error::not_found("organization", &id))
            .await?;
        for domain in &organization.email_domains {
            let query = sqlx::query("INSERT INTO organization_domains (domain, organization_id) VALUES ($1, $2)")
                .bind(domain.as_str())
                .bind(&id);
            execute(
                &mut tx,
                query,
                || Error::conflict("email domain", domain.as_str()),
                || Error::not_found("organization", &id),
            )
            .await?;
        }
        tx.commit().await.map_err(map_error)
    }

    async fn write_group(&self, group: &Group, insert: bool) -> Result<(), Error> {
        let id = group.id.to_string();
        let organization = group.organization_id.to_string();
        let mut tx = self.begin_write().await?;
        let mut bare = group.clone();
        bare.members.clear();
        bare.role_ids.clear();
        let sql = if insert {
            "INSERT INTO rbac_groups (id, organization_id, name, document) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO NOTHING"
        } else {
            // The organization is part of the condition: a group cannot move.
            "UPDATE rbac_groups SET name = $3, document = $4 WHERE id = $1 AND organization_id = $2"
        };
        let query =
            sqlx::query(sql).bind(&id).bind(&organization).bind(group.name.as_str()).bind(to_document("group", &bare)?);
        let written = execute(
            &mut tx,
            query,
            || Error::conflict("group name", group.name.as_str()),
            || Error::not_found("organization", &organization),
        )
        .await?;
        if written == 0 {
            return Err(self.unwritten("group", "rbac_groups", &id, insert, &mut tx).await);
        }
        if !insert {
            for table in ["group_members", "group_roles"] {
                let clear = sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE group_id = $1"))).bind(&id);
                execute(&mut tx, clear, || Error::conflict("group", &id), || Error::not_found("group", &id)).await?;
            }
        }
        for member in &group.members {
            let query = sqlx::query("INSERT INTO group_members (group_id, identity_id) VALUES ($1, $2)")
                .bind(&id)
                .bind(member.to_string());
            execute(
                &mut tx,
                query,
                || Error::conflict("group member", member.to_string()),
                || Error::not_found("identity", member),
            )
            .await?;
        }
        for role in &group.role_ids {
            let query = sqlx::query("INSERT INTO group_roles (group_id, role_id) VALUES ($1, $2)")
                .bind(&id)
                .bind(role.to_string());
            execute(
                &mut tx,
                query,
                || Error::conflict("group role", role.to_string()),
                || Error::not_found("role", role),
            )
            .await?;
        }
        tx.commit().await.map_err(map_error)
    }

    /// Why an insert or a guarded update of `id` in `table` wrote nothing: the id is taken (insert), the row is
    /// gone, or it belongs to another organization.
    async fn unwritten(
        &self,
        what: &'static str,
        table: &str,
        id: &str,
        insert: bool,
        tx: &mut Transaction<'static, Any>,
    ) -> Error {
        if insert {
            return Error::conflict(format!("{what} id"), id);
        }
        let exists = sqlx::query(AssertSqlSafe(format!("SELECT id FROM {table} WHERE id = $1")))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await;
        match exists {
            Ok(Some(_)) => Error::Invalid { field: "organization_id", reason: format!("a {what} cannot move") },
            Ok(None) => Error::not_found(what, id),
            Err(error) => map_error(error),
        }
    }

    async fn write_role(&self, role: &Role, insert: bool) -> Result<(), Error> {
        let sql = if insert {
            "INSERT INTO roles (id, name, document) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING"
        } else {
            "UPDATE roles SET name = $2, document = $3 WHERE id = $1"
        };
        let done = sqlx::query(sql)
            .bind(role.id.to_string())
            .bind(role.name.as_str())
            .bind(to_document("role", role)?)
            .execute(self.pool())
            .await
            .map_err(|e| {
                map_write_error(
                    e,
                    || Error::conflict("role name", role.name.as_str()),
                    || Error::not_found("role", role.id),
                )
            })?;
        if done.rows_affected() == 0 {
            return Err(if insert {
                Error::conflict("role id", role.id.to_string())
            } else {
                Error::not_found("role", role.id)
            });
        }
        Ok(())
    }

    async fn write_project(&self, project: &Project, insert: bool) -> Result<(), Error> {
        let id = project.id.to_string();
        let organization = project.organization_id.to_string();
        let mut tx = self.begin_write().await?;
        let mut bare = project.clone();
        bare.group_ids.clear();
        let sql = if insert {
            "INSERT INTO projects (id, organization_id, name, document) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO NOTHING"
        } else {
            "UPDATE projects SET name = $3, document = $4 WHERE id = $1 AND organization_id = $2"
        };
        let query = sqlx::query(sql)
            .bind(&id)
            .bind(&organization)
            .bind(project.name.as_str())
            .bind(to_document("project", &bare)?);
        let written = execute(
            &mut tx,
            query,
            || Error::conflict("project name", project.name.as_str()),
            || Error::not_found("organization", &organization),
        )
        .await?;
        if written == 0 {
            return Err(self.unwritten("project", "projects", &id, insert, &mut tx).await);
        }
        if !insert {
            let clear = sqlx::query("DELETE FROM project_groups WHERE project_id = $1").bind(&id);
            execute(&mut tx, clear, || Error::conflict("project", &id), || Error::not_found("project", &id)).await?;
        }
        for group in &project.group_ids {
            // A project may only be shared with groups of its own organization.
            let query = sqlx::query(
                "INSERT INTO project_groups (project_id, group_id) \
                 SELECT $1, g.id FROM rbac_groups g WHERE g.id = $2 AND g.organization_id = $3",
            )
            .bind(&id)
            .bind(group.to_string())
            .bind(&organization);
            let inserted = execute(
                &mut tx,
                query,
                || Error::conflict("project group", group.to_string()),
                || Error::not_found("group", group),
            )
            .await?;
            if inserted == 0 {
                return Err(Error::not_found("group", group));
            }
        }
        tx.commit().await.map_err(map_error)
    }

    async fn delete_by_id(&self, what: &'static str, table: &str, id: String) -> Result<(), Error> {
        let done = sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE id = $1")))
            .bind(&id)
            .execute(self.pool())
            .await
            .map_err(map_error)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(what, id));
        }
        Ok(())
    }

    async fn one<T: serde::de::DeserializeOwned>(
        &self,
        what: &'static str,
        sql: &str,
        key: String,
    ) -> Result<Option<T>, Error> {
        Ok(documents(self, what, sql.to_owned(), Some(key)).await?.into_iter().next())
    }
}

#[async_trait]
impl RbacStore for SqlStore {
    async fn create_organization(&self, organization: &Organization) -> Result<(), Error> {
        self.write_organization(organization, true).await
    }

    async fn organization(&self, id: OrganizationId) -> Result<Organization, Error> {
        self.one("organization", "SELECT id, document FROM organizations WHERE id = $1", id.to_string())
            .await?
            .ok_or_else(|| Error::not_found("organization", id))
    }

    async fn find_organization_by_name(&self, name: &DnsLabel) -> Result<Option<Organization>, Error> {
        self.one("organization", "SELECT id, document FROM organizations WHERE name = $1", name.to_string()).await
    }

    async fn find_organization_by_email_domain(&self, domain: &EmailDomain) -> Result<Option<Organization>, Error> {
        self.one(
            "organization",
            "SELECT o.id, o.document FROM organization_domains d JOIN organizations o ON o.id = d.organization_id \
             WHERE d.domain = $1",
            domain.to_string(),
        )
        .await
    }

    async fn list_organizations(&self) -> Result<Vec<Organization>, Error> {
        documents(self, "organization", "SELECT id, document FROM organizations ORDER BY name".into(), None).await
    }

    async fn update_organization(&self, organization: &Organization) -> Result<(), Error> {
        self.write_organization(organization, false).await
    }

    async fn delete_organization(&self, id: OrganizationId) -> Result<(), Error> {
        self.delete_by_id("organization", "organizations", id.to_string()).await
    }

    async fn create_group(&self, group: &Group) -> Result<(), Error> {
        self.write_group(group, true).await
    }

    async fn group(&self, id: GroupId) -> Result<Group, Error> {
        self.load_groups("g.id = $1", id.to_string(), "g.id")
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::not_found("group", id))
    }

    async fn groups_of_organization(&self, organization: OrganizationId) -> Result<Vec<Group>, Error> {
        self.load_groups("g.organization_id = $1", organization.to_string(), "g.name").await
    }

    async fn groups_of_member(&self, identity: IdentityId) -> Result<Vec<Group>, Error> {
        self.load_groups(
            "g.id IN (SELECT group_id FROM group_members WHERE identity_id = $1)",
            identity.to_string(),
            "g.id",
        )
        .await
    }

    async fn update_group(&self, group: &Group) -> Result<(), Error> {
        self.write_group(group, false).await
    }

    async fn delete_group(&self, id: GroupId) -> Result<(), Error> {
        self.delete_by_id("group", "rbac_groups", id.to_string()).await
    }

    async fn create_role(&self, role: &Role) -> Result<(), Error> {
        self.write_role(role, true).await
    }

    async fn role(&self, id: RoleId) -> Result<Role, Error> {
        self.one("role", "SELECT id, document FROM roles WHERE id = $1", id.to_string())
            .await?
            .ok_or_else(|| Error::not_found("role", id))
    }

    async fn find_role_by_name(&self, name: &DnsLabel) -> Result<Option<Role>, Error> {
        self.one("role", "SELECT id, document FROM roles WHERE name = $1", name.to_string()).await
    }

    async fn list_roles(&self) -> Result<Vec<Role>, Error> {
        documents(self, "role", "SELECT id, document FROM roles ORDER BY name".into(), None).await
    }

    async fn update_role(&self, role: &Role) -> Result<(), Error> {
        self.write_role(role, false).await
    }

    async fn delete_role(&self, id: RoleId) -> Result<(), Error> {
        self.delete_by_id("role", "roles", id.to_string()).await
    }

    async fn create_project(&self, project: &Project) -> Result<(), Error> {
        self.write_project(project, true).await
    }

    async fn project(&self, id: ProjectId) -> Result<Project, Error> {
        self.load_projects("p.id = $1", id.to_string())
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::not_found("project", id))
    }

    async fn projects_of_organization(&self, organization: OrganizationId) -> Result<Vec<Project>, Error> {
        self.load_projects("p.organization_id = $1", organization.to_string()).await
    }

    async fn update_project(&self, project: &Project) -> Result<(), Error> {
        self.write_project(project, false).await
    }

    async fn delete_project(&self, id: ProjectId) -> Result<(), Error> {
        self.delete_by_id("project", "projects", id.to_string()).await
    }
}
