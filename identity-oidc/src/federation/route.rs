//! Which upstream a login goes to: an email whose domain an organization claims goes to that organization's
//! provider, and only there (its users must not slip past their company's IdP through a social login);
//! anyone else chooses among the global providers.

use identity_core::{Organization, OrganizationId};

use super::upstream::UpstreamProvider;
use crate::error::Error;

/// Where a login goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Route<'a> {
    /// The email's domain belongs to `organization`: sign in at its provider.
    Organization {
        /// The organization.
        organization: OrganizationId,
        /// Its provider.
        provider: &'a UpstreamProvider,
    },
    /// No organization claims the domain (or no email was given): pick one of these global providers.
    Choose(Vec<&'a UpstreamProvider>),
}

/// The domain of `email`, trimmed and lower-cased; `None` unless it looks like `local@domain`.
fn domain_of(email: &str) -> Option<String> {
    let (local, domain) = email.trim().rsplit_once('@')?;
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    (!local.is_empty() && !domain.is_empty()).then_some(domain)
}

/// The global providers (those of no organization) among `providers`.
pub fn global_providers(providers: &[UpstreamProvider]) -> Vec<&UpstreamProvider> {
    providers.iter().filter(|p| p.organization_id.is_none()).collect()
}

/// Routes a login for `email` (exact domain match, case-insensitive). Fails with [`Error::UnknownUpstreamProvider`] when the organization's
/// provider is not among `providers`: falling back to the global ones would bypass the organization's IdP.
pub fn route<'a>(
    email: Option<&str>,
    organizations: &[Organization],
    providers: &'a [UpstreamProvider],
) -> Result<Route<'a>, Error> {
    let globals = || Route::Choose(global_providers(providers));
    let Some(domain) = email.and_then(domain_of) else { return Ok(globals()) };
    let owner = organizations
        .iter()
        .find(|org| org.email_domains.iter().any(|owned| owned.as_str().eq_ignore_ascii_case(&domain)));
    let Some(organization) = owner else { return Ok(globals()) };
    let provider = organization.provider_id.and_then(|id| providers.iter().find(|p| p.id == id)).ok_or_else(|| {
        Error::UnknownUpstreamProvider {
            provider: organization.provider_id.map(|id| id.to_string()).unwrap_or_default(),
        }
    })?;
    Ok(Route::Organization { organization: organization.id, provider })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_cut_from_the_last_at_sign() {
        assert_eq!(domain_of(" Ada@Example.COM "), Some("example.com".into()));
        assert_eq!(domain_of("\"a@b\"@corp.example"), Some("corp.example".into()));
        assert_eq!(domain_of("nobody"), None);
        assert_eq!(domain_of("@example.com"), None);
        assert_eq!(domain_of("ada@"), None);
    }
}
