//! Access rules as written in rule files, and their checked form.

use std::collections::BTreeMap;

use identity_core::{Operation, ScopeName};
use serde::{Deserialize, Serialize};

use super::decision::Authenticator;
use super::pattern::{Strategy, UrlPattern};
use super::template::{HeaderTemplate, HeaderValue, is_header_name};
use crate::error::{Error, RuleProblem};
use crate::selector::{Selector, Semantic};

/// One access rule as a rule file writes it (YAML or JSON):
///
/// ```yaml
/// - id: read-project
///   priority: 10            # optional, default 0; higher wins
///   match:
///     methods: [GET]
///     url: "https://api.example.com/projects/{project}"   # strategy: glob (default) or regex
///   authenticators: [cookie_session, bearer_jwt]
///   authorizer:
///     scope: { name: "identity:projects", operation: read, project_segment: project }
///   headers:
///     X-User-Id: "{{ subject_id }}"
///     X-User-Email: { key: email }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// A unique id, used in problems and logs.
    pub id: String,
    /// Rules of higher priority are tried first.
    #[serde(default)]
    pub priority: i32,
    /// Which requests the rule is for.
    #[serde(rename = "match")]
    pub matches: MatchSpec,
    /// The credentials accepted, tried in order; the first that succeeds decides who the subject is.
    pub authenticators: Vec<Authenticator>,
    /// Whether the subject may go on.
    pub authorizer: AuthorizerSpec,
    /// Headers to set on an allowed request.
    #[serde(default)]
    pub headers: BTreeMap<String, HeaderValue>,
}

/// The requests a rule is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchSpec {
    /// HTTP methods (`GET`, `POST`, ...).
    pub methods: Vec<String>,
    /// A pattern over `scheme://host/path`.
    pub url: String,
    /// How `url` is read.
    #[serde(default)]
    pub strategy: Strategy,
}

/// What a rule requires of the subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthorizerSpec {
    /// Everyone the authenticators let in.
    Allow,
    /// Nobody.
    Deny,
    /// Subjects whose ACL allows `operation` on the scope `name`, in the project whose id is the URL's segment
    /// `project_segment` if given (else across the organization).
    Scope {
        /// The scope, such as `identity:projects`.
        name: String,
        /// The operation.
        operation: Operation,
        /// The name of the URL pattern's segment (glob `{name}`, regex named group) holding the project id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        project_segment: Option<String>,
    },
    /// Subjects a role-attribute selector selects.
    Selector {
        /// The selector's entries: `#attribute`, `@identity-id`, `#all`.
        roles: Vec<String>,
        /// How `#` entries combine.
        #[serde(default)]
        semantic: Semantic,
    },
}

/// Rules are checked by [`Rules::new`](crate::Rules::new), which collects every problem of every rule instead
/// of stopping at the first; decoding needs nothing more.
impl identity_core::Validate for RuleSpec {
    fn validate(&self) -> Result<(), identity_core::Error> {
        Ok(())
    }
}

/// The HTTP methods a rule may name, each with its bit.
const METHODS: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"];

/// The bit of an HTTP method (exact, upper-case), or `None` for a method no rule can name.
pub(crate) fn method_bit(method: &str) -> Option<u16> {
    METHODS.iter().position(|m| *m == method).map(|i| 1 << i)
}

/// A checked authorizer.
#[derive(Debug, Clone)]
pub(crate) enum Authorizer {
    Allow,
    Deny,
    Scope { name: ScopeName, operation: Operation, project_segment: Option<String> },
    Selector(Selector),
}

/// A checked access rule, ready to match requests.
#[derive(Debug, Clone)]
pub struct Rule {
    pub(crate) index: usize,
    pub(crate) id: String,
    pub(crate) priority: i32,
    pub(crate) methods: u16,
    pub(crate) pattern: UrlPattern,
    pub(crate) authenticators: Vec<Authenticator>,
    pub(crate) authorizer: Authorizer,
    pub(crate) headers: Vec<(String, HeaderTemplate)>,
}

impl Rule {
    /// The rule's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its position in the rule file, from 0.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Its priority.
    pub fn priority(&self) -> i32 {
        self.priority
    }

    /// How specific its URL pattern is: the count of its literal characters. Among rules of equal priority, the
    /// more specific one wins.
    pub fn specificity(&self) -> usize {
        self.pattern.specificity()
    }

    /// The authenticators it accepts, in order: the credentials worth resolving for a request it matches.
    pub fn authenticators(&self) -> &[Authenticator] {
        &self.authenticators
    }

    /// Checks one rule, collecting every problem it has.
    pub(crate) fn new(index: usize, spec: RuleSpec) -> Result<Rule, Vec<RuleProblem>> {
        let mut problems = Vec::new();
        let id = (!spec.id.trim().is_empty()).then(|| spec.id.clone());
        let mut problem = |field: String, reason: String| {
            problems.push(RuleProblem { index, id: id.clone(), field, reason });
        };

        if spec.id.trim().is_empty() {
            problem("id".into(), "must not be empty".into());
        } else if spec.id.chars().any(char::is_control) {
            problem("id".into(), "must not contain control characters".into());
        }

        let mut methods = 0u16;
        if spec.matches.methods.is_empty() {
            problem("match.methods".into(), "list at least one HTTP method".into());
        }
        for (i, method) in spec.matches.methods.iter().enumerate() {
            match method_bit(&method.trim().to_ascii_uppercase()) {
                Some(bit) => methods |= bit,
                None => problem(
                    format!("match.methods[{i}]"),
                    format!("unknown HTTP method `{method}`; expected one of: {}", METHODS.join(", ")),
                ),
            }
        }

        let pattern = UrlPattern::new(&spec.matches.url, spec.matches.strategy)
            .map_err(|reason| problem("match.url".into(), reason))
            .ok();

        if spec.authenticators.is_empty() {
            problem("authenticators".into(), "list at least one authenticator".into());
        }
        for (i, authenticator) in spec.authenticators.iter().enumerate() {
            let earlier = spec.authenticators.get(..i).unwrap_or_default();
            if earlier.contains(authenticator) {
                problem(format!("authenticators[{i}]"), format!("`{}` is listed twice", authenticator.as_str()));
            } else if earlier.contains(&Authenticator::Anonymous) {
                problem(
                    format!("authenticators[{i}]"),
                    "never tried: `anonymous` before it always succeeds; list it last".into(),
                );
            }
        }

        let authorizer = match spec.authorizer {
            AuthorizerSpec::Allow => Some(Authorizer::Allow),
            AuthorizerSpec::Deny => Some(Authorizer::Deny),
            AuthorizerSpec::Scope { name, operation, project_segment } => {
                let name =
                    ScopeName::new(name).map_err(|p| problem("authorizer.scope.name".into(), p.to_string())).ok();
                if let (Some(segment), Some(pattern)) = (&project_segment, &pattern)
                    && !pattern.captures().contains(segment)
                {
                    let known = pattern.captures().join(", ");
                    problem(
                        "authorizer.scope.project_segment".into(),
                        format!("the URL pattern has no segment named `{segment}` (it has: {known})"),
                    );
                }
                name.map(|name| Authorizer::Scope { name, operation, project_segment })
            }
            AuthorizerSpec::Selector { roles, semantic } => match Selector::parse(&roles, semantic) {
                Ok(selector) => Some(Authorizer::Selector(selector)),
                Err(Error::InvalidSelector { position, fault, .. }) => {
                    problem(format!("authorizer.selector.roles[{position}]"), fault.to_string());
                    None
                }
                Err(other) => {
                    problem("authorizer.selector.roles".into(), other.to_string());
                    None
                }
            },
        };

        let mut headers = Vec::with_capacity(spec.headers.len());
        for (name, value) in &spec.headers {
            let field = format!("headers.{name}");
            if !is_header_name(name) {
                problem(field, "not a valid HTTP header name".into());
                continue;
            }
            if headers.iter().any(|(other, _): &(String, HeaderTemplate)| other.eq_ignore_ascii_case(name)) {
                problem(field, "set twice (header names are case-insensitive)".into());
                continue;
            }
            match HeaderTemplate::new(value) {
                Ok(template) => headers.push((name.clone(), template)),
                Err(reason) => problem(field, reason),
            }
        }

        match (pattern, authorizer, problems.is_empty()) {
            (Some(pattern), Some(authorizer), true) => Ok(Rule {
                index,
                id: spec.id,
                priority: spec.priority,
                methods,
                pattern,
                authenticators: spec.authenticators,
                authorizer,
                headers,
            }),
            _ => Err(problems),
        }
    }

    /// The names of the methods in both this rule and `other`.
    pub(crate) fn shared_methods(&self, other: &Rule) -> Vec<&'static str> {
        let shared = self.methods & other.methods;
        METHODS.iter().enumerate().filter(|(i, _)| shared & (1 << i) != 0).map(|(_, m)| *m).collect()
    }
}
