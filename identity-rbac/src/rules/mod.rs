//! The access rules of an identity-aware proxy (Ory Oathkeeper's model): which requests a rule is for, which
//! credentials it accepts, what it requires of the subject and which headers it sets.
//!
//! Precedence is explicit: higher `priority` first, then the more specific URL pattern (more literal
//! characters). Two rules of equal priority and specificity that could match the same request are refused when
//! the rules load, not at request time; a request no rule matches gets the configured default, deny unless
//! configured otherwise.

mod decision;
mod pattern;
mod principal;
mod request;
mod spec;
mod template;

use serde::{Deserialize, Serialize};

pub use decision::{Authenticator, Caller, Decision};
pub use pattern::Strategy;
pub use principal::Principal;
pub use request::{ForwardedRequest, PresentedCredentials, Request};
pub use spec::{AuthorizerSpec, MatchSpec, Rule, RuleSpec};
pub use template::{HeaderKey, HeaderValue};

use crate::error::{Error, RuleFormat, RuleProblem};
use spec::{Authorizer, method_bit};

/// What happens to a request no rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unmatched {
    /// Forbid it (403).
    #[default]
    Deny,
    /// Let it through with no headers set.
    Allow,
}

/// Settings of a rule set.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    /// Where to send a browser that must sign in; the request's URL is appended as `return_to`.
    #[serde(default)]
    pub login_url: Option<String>,
    /// What to do with a request no rule matches.
    #[serde(default)]
    pub unmatched: Unmatched,
}

/// A checked set of access rules, ordered for matching.
#[derive(Debug, Clone)]
pub struct Rules {
    rules: Vec<Rule>,
    config: RulesConfig,
}

impl Rules {
    /// Checks `specs`: each rule on its own, then every pair of equal priority and specificity for overlap.
    /// Fails with [`Error::InvalidRules`] listing every problem, each naming its rule and field.
    pub fn new(specs: Vec<RuleSpec>, config: RulesConfig) -> Result<Self, Error> {
        Self::checked(specs.into_iter().enumerate().collect(), Vec::new(), config)
    }

    /// Checks rules given with their positions in the file, adding to `problems` found while decoding.
    fn checked(
        specs: Vec<(usize, RuleSpec)>,
        mut problems: Vec<RuleProblem>,
        config: RulesConfig,
    ) -> Result<Self, Error> {
        let mut rules: Vec<Rule> = Vec::with_capacity(specs.len());
        let mut ids: Vec<(String, usize)> = Vec::with_capacity(specs.len());
        for (index, spec) in specs {
            if let Some((_, first)) = ids.iter().find(|(id, _)| *id == spec.id) {
                problems.push(RuleProblem {
                    index,
                    id: Some(spec.id.clone()),
                    field: "id".into(),
                    reason: format!("already the id of rule #{first}"),
                });
            }
            ids.push((spec.id.clone(), index));
            match Rule::new(index, spec) {
                Ok(rule) => rules.push(rule),
                Err(found) => problems.extend(found),
            }
        }
        problems.extend(overlaps(&rules));
        if !problems.is_empty() {
            problems.sort_by_key(|p| p.index);
            return Err(Error::InvalidRules { problems });
        }
        rules.sort_by(|a, b| {
            (b.priority, b.pattern.specificity(), a.index).cmp(&(a.priority, a.pattern.specificity(), b.index))
        });
        Ok(Self { rules, config })
    }

    /// Reads a rule file: a list of rules, in YAML or JSON. A file that does not parse, or whose top level is
    /// not a list, fails with [`Error::RuleFileSyntax`]; otherwise each element is decoded and checked on its
    /// own, and [`Error::InvalidRules`] lists every problem of every rule, with the rule's id and the field.
    pub fn load(text: &str, format: RuleFormat, config: RulesConfig) -> Result<Self, Error> {
        let syntax = |message: String| Error::RuleFileSyntax { format, message };
        let document: serde_json::Value = match format {
            RuleFormat::Yaml => serde_yaml_ng::from_str(text).map_err(|e| syntax(e.to_string()))?,
            RuleFormat::Json => serde_json::from_str(text).map_err(|e| syntax(e.to_string()))?,
        };
        let elements = match document {
            serde_json::Value::Array(elements) => elements,
            serde_json::Value::Null => Vec::new(),
            other => return Err(syntax(format!("the top level must be a list of rules, not {}", kind(&other)))),
        };
        let mut specs = Vec::with_capacity(elements.len());
        let mut problems = Vec::new();
        for (index, element) in elements.into_iter().enumerate() {
            let id = element.get("id").and_then(|id| id.as_str()).map(str::to_owned);
            match identity_core::from_value::<RuleSpec>(element) {
                Ok(spec) => specs.push((index, spec)),
                Err(identity_core::Error::Json { path, message }) => {
                    problems.push(RuleProblem { index, id, field: path, reason: message })
                }
                Err(other) => problems.push(RuleProblem { index, id, field: ".".into(), reason: other.to_string() }),
            }
        }
        Self::checked(specs, problems, config)
    }

    /// Reads a YAML rule file (see [`Rules::load`]).
    pub fn from_yaml(text: &str, config: RulesConfig) -> Result<Self, Error> {
        Self::load(text, RuleFormat::Yaml, config)
    }

    /// Reads a JSON rule file (see [`Rules::load`]).
    pub fn from_json(text: &str, config: RulesConfig) -> Result<Self, Error> {
        Self::load(text, RuleFormat::Json, config)
    }

    /// The rules, in the order they are tried.
    pub fn iter(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter()
    }

    /// How many rules there are.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are none (every request gets the default).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The settings.
    pub fn config(&self) -> &RulesConfig {
        &self.config
    }

    /// The rule that decides `request`, if any; its [`authenticators`](Rule::authenticators) are the credentials
    /// worth resolving before calling [`Rules::decide`].
    pub fn matched(&self, request: &Request<'_>) -> Option<&Rule> {
        let url = request::normalize_url(request.url)?;
        self.find(request.method, &url)
    }

    fn find(&self, method: &str, url: &str) -> Option<&Rule> {
        let bit = method_bit(method)?;
        self.rules.iter().find(|rule| rule.methods & bit != 0 && rule.pattern.is_match(url))
    }

    /// Decides `request`, coming from `caller`. Pure computation: the caller has already resolved the request's
    /// credential (see [`Caller`]).
    ///
    /// 1. The URL is normalised: scheme and host lower-cased, a default port dropped, query and fragment cut,
    ///    escaped unreserved characters decoded. A URL an upstream could read differently than the rules do is
    ///    forbidden: without scheme or host, with user information, dot segments (`/../`, also escaped), empty
    ///    segments (`//`), an escaped `/` or `\`, a backslash, white space or a bad escape.
    /// 2. The matching rule of highest precedence applies; with none, the configured default.
    /// 3. Its authenticators are tried in order: `anonymous` always succeeds, any other succeeds if the caller
    ///    was authenticated by it. If none succeeds, the request is unauthorized.
    /// 4. Its authorizer decides; a `scope` or `selector` authorizer answers an anonymous subject with
    ///    unauthorized (signing in may help) and a subject it refuses with forbidden.
    /// 5. Allowed requests get the rule's headers.
    pub fn decide(&self, request: &Request<'_>, caller: &Caller<'_>) -> Decision {
        let Some(url) = request::normalize_url(request.url) else {
            return Decision::Forbidden;
        };
        let Some(rule) = self.find(request.method, &url) else {
            return match self.config.unmatched {
                Unmatched::Deny => Decision::Forbidden,
                Unmatched::Allow => Decision::Allow(Vec::new()),
            };
        };

        let mut admitted = None;
        for authenticator in &rule.authenticators {
            match (authenticator, caller) {
                (Authenticator::Anonymous, _) => {
                    admitted = Some((Authenticator::Anonymous, None));
                    break;
                }
                (wanted, Caller::Authenticated { via, principal, acl }) if via == wanted => {
                    admitted = Some((*via, Some((*principal, *acl))));
                    break;
                }
                _ => {}
            }
        }
        let Some((via, subject)) = admitted else {
            return self.unauthorized(request);
        };

        match (&rule.authorizer, subject) {
            (Authorizer::Allow, _) => {}
            (Authorizer::Deny, _) => return Decision::Forbidden,
            (Authorizer::Scope { .. } | Authorizer::Selector(_), None) => return self.unauthorized(request),
            (Authorizer::Scope { name, operation, project_segment }, Some((_, acl))) => {
                let Some(acl) = acl else {
                    return Decision::Forbidden;
                };
                let project = match project_segment {
                    None => None,
                    Some(segment) => match rule.pattern.capture(&url, segment).map(str::parse) {
                        Some(Ok(project)) => Some(project),
                        _ => return Decision::Forbidden,
                    },
                };
                if !acl.allows(name.as_str(), *operation, project) {
                    return Decision::Forbidden;
                }
            }
            (Authorizer::Selector(selector), Some((principal, _))) => {
                if !selector.matches(principal.id, &principal.role_attributes) {
                    return Decision::Forbidden;
                }
            }
        }

        let principal = subject.map(|(principal, _)| principal);
        let headers = rule
            .headers
            .iter()
            .map(|(name, template)| (name.clone(), template.render(principal, via)))
            .filter(|(_, value)| !value.is_empty())
            .collect();
        Decision::Allow(headers)
    }

    fn unauthorized(&self, request: &Request<'_>) -> Decision {
        let login = match (&self.config.login_url, request.is_browser()) {
            (Some(login), true) => {
                let separator = if login.contains('?') { '&' } else { '?' };
                Some(format!("{login}{separator}return_to={}", request::percent_encode(request.url)))
            }
            _ => None,
        };
        Decision::Unauthorized { login }
    }
}

/// A problem for each rule that could match a request some earlier rule of the same priority and specificity
/// also matches.
fn overlaps(rules: &[Rule]) -> Vec<RuleProblem> {
    let mut problems = Vec::new();
    for (j, later) in rules.iter().enumerate() {
        for earlier in rules.iter().take(j) {
            if earlier.priority != later.priority || earlier.pattern.specificity() != later.pattern.specificity() {
                continue;
            }
            let methods = earlier.shared_methods(later);
            if methods.is_empty() || !earlier.pattern.may_overlap(&later.pattern) {
                continue;
            }
            problems.push(RuleProblem {
                index: later.index,
                id: Some(later.id.clone()),
                field: "match".into(),
                reason: format!(
                    "overlaps rule `{}` (#{}) for {} requests at the same priority ({}) and specificity ({}); \
                     give one of them a higher priority",
                    earlier.id,
                    earlier.index,
                    methods.join("/"),
                    later.priority,
                    later.pattern.specificity(),
                ),
            });
        }
    }
    problems
}

fn kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a map",
    }
}
