//! Tenancy: organizations, the groups within them that carry roles, and the projects shared with groups
//! (Unikorn's model).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Problem, require_text};
use crate::id::{GroupId, IdentityId, OrganizationId, ProjectId, ProviderId, RoleId};
use crate::json::Validate;
use crate::name::{DnsLabel, EmailDomain};

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// The organization's id.
    pub id: OrganizationId,
    /// Its unique name, a DNS label.
    pub name: DnsLabel,
    /// A name for people.
    pub display_name: String,
    /// Email domains whose users sign in through this organization's upstream provider.
    #[serde(default)]
    pub email_domains: BTreeSet<EmailDomain>,
    /// The upstream OIDC provider its users sign in with, if any.
    #[serde(default)]
    pub provider_id: Option<ProviderId>,
}

impl Organization {
    /// A new organization without email domains or provider.
    pub fn new(name: &str, display_name: impl Into<String>) -> Result<Self, Error> {
        let organization = Self {
            id: OrganizationId::new(),
            name: DnsLabel::new(name).map_err(|p| p.at("name"))?,
            display_name: display_name.into(),
            email_domains: BTreeSet::new(),
            provider_id: None,
        };
        organization.validate()?;
        Ok(organization)
    }
}

impl Validate for Organization {
    fn validate(&self) -> Result<(), Error> {
        require_text("display_name", &self.display_name)?;
        if !self.email_domains.is_empty() && self.provider_id.is_none() {
            return Err(Problem::Inconsistent("email domains route logins to a provider; set `provider_id` too")
                .at("email_domains"));
        }
        Ok(())
    }
}

/// A set of identities within an organization that hold the same roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// The group's id.
    pub id: GroupId,
    /// The organization it belongs to.
    pub organization_id: OrganizationId,
    /// Its name, unique within the organization.
    pub name: DnsLabel,
    /// Explicit members: users and service identities.
    #[serde(default)]
    pub members: BTreeSet<IdentityId>,
    /// Group names at the upstream identity provider whose members belong here implicitly.
    #[serde(default)]
    pub upstream_groups: BTreeSet<String>,
    /// The roles every member holds.
    #[serde(default)]
    pub role_ids: BTreeSet<RoleId>,
}

impl Group {
    /// A new, empty group.
    pub fn new(organization_id: OrganizationId, name: &str) -> Result<Self, Error> {
        Ok(Self {
            id: GroupId::new(),
            organization_id,
            name: DnsLabel::new(name).map_err(|p| p.at("name"))?,
            members: BTreeSet::new(),
            upstream_groups: BTreeSet::new(),
            role_ids: BTreeSet::new(),
        })
    }
}

impl Validate for Group {
    fn validate(&self) -> Result<(), Error> {
        for group in &self.upstream_groups {
            require_text("upstream_groups", group)?;
        }
        Ok(())
    }
}

/// A unit of work within an organization, visible to the groups it is shared with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// The project's id.
    pub id: ProjectId,
    /// The organization it belongs to.
    pub organization_id: OrganizationId,
    /// Its name, unique within the organization.
    pub name: DnsLabel,
    /// The groups it is shared with.
    #[serde(default)]
    pub group_ids: BTreeSet<GroupId>,
}

impl Project {
    /// A new project shared with `group_ids`.
    pub fn new(organization_id: OrganizationId, name: &str, group_ids: BTreeSet<GroupId>) -> Result<Self, Error> {
        Ok(Self {
            id: ProjectId::new(),
            organization_id,
            name: DnsLabel::new(name).map_err(|p| p.at("name"))?,
            group_ids,
        })
    }
}

impl Validate for Project {
    fn validate(&self) -> Result<(), Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::from_json;

    #[test]
    fn names_must_be_dns_labels() {
        assert!(Organization::new("acme", "ACME Corp.").is_ok());
        assert_eq!(Organization::new("Acme Corp", "x").unwrap_err(), Problem::ForbiddenCharacter('A').at("name"));
        assert_eq!(Organization::new("acme", " ").unwrap_err(), Problem::Empty.at("display_name"));
        let org = OrganizationId::new();
        assert!(Group::new(org, "admins").is_ok());
        assert_eq!(Group::new(org, "").unwrap_err(), Problem::Empty.at("name"));
        assert!(Project::new(org, "web_shop", BTreeSet::new()).is_err());
    }

    #[test]
    fn email_domains_need_a_provider() {
        let mut org = Organization::new("acme", "ACME").unwrap();
        org.email_domains.insert(EmailDomain::new("acme.example").unwrap());
        assert!(org.validate().is_err());
        org.provider_id = Some(ProviderId::new());
        assert!(org.validate().is_ok());
    }

    #[test]
    fn decoding_names_the_bad_field() {
        let org = Organization::new("acme", "ACME").unwrap();
        let mut json = serde_json::to_value(&org).unwrap();
        json["email_domains"] = serde_json::json!(["not a domain"]);
        let err = from_json::<Organization>(&json.to_string()).unwrap_err();
        assert!(matches!(err, Error::Json { ref path, .. } if path.starts_with("email_domains")), "{err}");
        json["email_domains"] = serde_json::json!([]);
        json["name"] = "ACME".into();
        let err = from_json::<Organization>(&json.to_string()).unwrap_err();
        assert!(matches!(err, Error::Json { ref path, .. } if path == "name"), "{err}");
    }
}
