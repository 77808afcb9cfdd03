//! The authentication policies in force: a default one, and named ones identities may point at.

use std::collections::HashMap;

use identity_core::{AuthenticationPolicy, AuthenticationPolicyId, Identity, Validate};

use crate::error::Error;

/// The policies a deployment has. Identities without a policy, or pointing at an unknown one, get the default.
#[derive(Debug, Clone, Default)]
pub struct Policies {
    default: AuthenticationPolicy,
    others: HashMap<AuthenticationPolicyId, AuthenticationPolicy>,
}

impl Policies {
    /// `default` and `others`, each checked ([`Validate`]); refuses two policies with one id.
    pub fn new(default: AuthenticationPolicy, others: Vec<AuthenticationPolicy>) -> Result<Self, Error> {
        default.validate()?;
        let mut map = HashMap::new();
        for policy in others {
            policy.validate()?;
            let id = policy.id;
            if map.insert(id, policy).is_some() || id == default.id {
                return Err(Error::InvalidConfig {
                    field: "policies",
                    reason: format!("policy id {id} is used twice"),
                });
            }
        }
        Ok(Self { default, others: map })
    }

    /// The policy that applies to `identity`.
    pub fn of(&self, identity: &Identity) -> &AuthenticationPolicy {
        identity.auth_policy_id.and_then(|id| self.others.get(&id)).unwrap_or(&self.default)
    }

    /// The default policy, which also governs attempts on unknown accounts.
    pub fn default_policy(&self) -> &AuthenticationPolicy {
        &self.default
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use identity_core::time::OffsetDateTime;

    #[test]
    fn identities_get_their_policy_or_the_default() {
        let mut strict = AuthenticationPolicy { id: AuthenticationPolicyId::new(), ..AuthenticationPolicy::default() };
        strict.primary.password.min_password_length = 16;
        let policies = Policies::new(AuthenticationPolicy::default(), vec![strict.clone()]).unwrap();
        let mut identity = Identity::new("default", serde_json::json!({}), OffsetDateTime::UNIX_EPOCH).unwrap();
        assert_eq!(policies.of(&identity), policies.default_policy());
        identity.auth_policy_id = Some(strict.id);
        assert_eq!(policies.of(&identity).primary.password.min_password_length, 16);
        identity.auth_policy_id = Some(AuthenticationPolicyId::new());
        assert_eq!(policies.of(&identity), policies.default_policy());
    }

    #[test]
    fn invalid_or_duplicate_policies_are_refused() {
        let mut bad = AuthenticationPolicy::default();
        bad.primary.password.min_password_length = 2;
        assert!(matches!(Policies::new(bad, vec![]), Err(Error::Domain(_))));
        let twin = AuthenticationPolicy { id: AuthenticationPolicyId::new(), ..AuthenticationPolicy::default() };
        let result = Policies::new(AuthenticationPolicy::default(), vec![twin.clone(), twin]);
        assert!(matches!(result, Err(Error::InvalidConfig { .. })));
    }
}
