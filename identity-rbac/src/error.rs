//! The one error type of this crate.

use std::fmt;

use identity_core::{DnsLabel, Permission, ScopeLevel, ScopeName};

/// Why building an ACL, granting a role, reading a selector or loading access rules failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store failed or an object it was asked for does not exist (an unknown organization is
    /// [`identity_store::Error::NotFound`]).
    #[error(transparent)]
    Store(#[from] identity_store::Error),
    /// A domain value could not be built (a role of the seed, a scope name).
    #[error(transparent)]
    Domain(#[from] identity_core::Error),
    /// One entry of a role-attribute selector is not valid. Selectors are checked when they are read, never when
    /// they are used.
    #[error("invalid selector entry {entry:?} at position {position}: {fault}")]
    InvalidSelector {
        /// The entry's position in the selector's list, from 0.
        position: usize,
        /// The entry as written.
        entry: String,
        /// What is wrong with it.
        fault: SelectorFault,
    },
    /// A rule file is not YAML or JSON, or its top level is not a list of rules. Nothing was loaded.
    #[error("the {format} rule file cannot be read: {message}")]
    RuleFileSyntax {
        /// The format the file was read as.
        format: RuleFormat,
        /// The parser's explanation, with the line and column where it has one.
        message: String,
    },
    /// Some rules are invalid; each problem names the rule and the field. Nothing was loaded.
    #[error("{} invalid access rule(s); first: {}", problems.len(), problems.first().map(ToString::to_string).unwrap_or_default())]
    InvalidRules {
        /// Every problem found, in the order of the rules.
        problems: Vec<RuleProblem>,
    },
    /// The granter does not hold every operation of the role it tries to grant: granting it would raise its own
    /// privileges (or a group's above the granter's).
    #[error("granting role `{role}` needs {missing:?} on `{scope}` at the {level:?} level, which the granter lacks")]
    PrivilegeEscalation {
        /// The role that was to be granted.
        role: DnsLabel,
        /// The level of the first scope the granter lacks.
        level: ScopeLevel,
        /// The scope.
        scope: ScopeName,
        /// The operations on it the granter does not hold.
        missing: Permission,
    },
}

/// What is wrong with one selector entry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SelectorFault {
    /// The entry starts with neither `#` (a role attribute) nor `@` (an identity id).
    NoSigil,
    /// `#all` stands beside other entries; it selects everyone and must be alone.
    AllNotAlone,
    /// The text after `#` is not a valid role attribute.
    BadAttribute(identity_core::Problem),
    /// The text after `@` is not an identity id (a UUID).
    BadId,
}

impl fmt::Display for SelectorFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelectorFault::NoSigil => f.write_str("must start with `#` (a role attribute) or `@` (an identity id)"),
            SelectorFault::AllNotAlone => f.write_str("`#all` selects everyone and must be the only entry"),
            SelectorFault::BadAttribute(problem) => write!(f, "not a role attribute: {problem}"),
            SelectorFault::BadId => f.write_str("`@` must be followed by an identity id (a UUID)"),
        }
    }
}

/// The syntax a rule file is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleFormat {
    /// YAML (a superset of JSON).
    Yaml,
    /// JSON.
    Json,
}

impl fmt::Display for RuleFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RuleFormat::Yaml => "YAML",
            RuleFormat::Json => "JSON",
        })
    }
}

/// One problem of one access rule: which rule, which field, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    /// The rule's position in the file, from 0.
    pub index: usize,
    /// The rule's id, when it has a readable one.
    pub id: Option<String>,
    /// The field at fault, as a dotted path within the rule (`match.url`, `authorizer.selector.roles[1]`).
    pub field: String,
    /// What is wrong, for people.
    pub reason: String,
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => write!(f, "rule `{id}` (#{}): `{}`: {}", self.index, self.field, self.reason),
            None => write!(f, "rule #{}: `{}`: {}", self.index, self.field, self.reason),
        }
    }
}
