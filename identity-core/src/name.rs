//! Names with a syntax: [`DnsLabel`] (organizations, groups, roles, projects), [`EmailDomain`], [`ScopeName`]
//! and [`RoleAttribute`]. Each is checked when it is made, so a value of the type is always well-formed.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Problem;

macro_rules! checked_name {
    ($(#[$doc:meta])* $name:ident, $check:path) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Checks (and, where the syntax is case-insensitive, normalises) `value`.
            pub fn new(value: impl Into<String>) -> Result<Self, Problem> {
                $check(value.into()).map(Self)
            }

            /// The name as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = Problem;

            fn try_from(value: String) -> Result<Self, Problem> {
                Self::new(value)
            }
        }

        impl FromStr for $name {
            type Err = Problem;

            fn from_str(value: &str) -> Result<Self, Problem> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(name: $name) -> String {
                name.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:?})"), self.0)
            }
        }
    };
}

checked_name!(
    /// An RFC 1123 DNS label: 1 to 63 lower-case ASCII letters, digits and `-`, not starting or ending with `-`.
    /// Names of organizations, groups, roles and projects, so they can appear in host names and URLs unescaped.
    DnsLabel,
    check_dns_label
);

checked_name!(
    /// A domain name whose users belong to an organization (`example.com`): dot-separated DNS labels, at least
    /// two, at most 253 bytes. Trimmed and lower-cased when made, since domains are case-insensitive.
    EmailDomain,
    check_email_domain
);

checked_name!(
    /// The name of a scope a role grants operations on, such as `identity:projects`: 1 to 128 bytes of ASCII
    /// letters, digits and `:`, `.`, `_`, `-`, `/`.
    ScopeName,
    check_scope_name
);

checked_name!(
    /// A tag on an identity that policy selectors match (`#sales`, `#all`): 1 to 128 bytes of ASCII letters,
    /// digits and `-`, `_`, `.`, `:`, `/`. It cannot start with the selector sigils `#` or `@` (those
    /// characters are not allowed at all), and `all` is reserved because `#all` selects everyone.
    RoleAttribute,
    check_role_attribute
);

fn check_dns_label(value: String) -> Result<String, Problem> {
    check_label(&value)?;
    Ok(value)
}

fn check_label(value: &str) -> Result<(), Problem> {
    const EXPECTED: &str =
        "a DNS label: lower-case letters, digits and '-', not starting or ending with '-', at most 63 bytes";
    if value.is_empty() {
        return Err(Problem::Empty);
    }
    if value.len() > 63 {
        return Err(Problem::TooLong { max: 63 });
    }
    if let Some(c) = value.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
        return Err(Problem::ForbiddenCharacter(c));
    }
    if value.starts_with('-') || value.ends_with('-') {
        return Err(Problem::Malformed { expected: EXPECTED });
    }
    Ok(())
}

fn check_email_domain(value: String) -> Result<String, Problem> {
    let value = value.trim().to_ascii_lowercase();
    if value.is_empty() {
        return Err(Problem::Empty);
    }
    if value.len() > 253 {
        return Err(Problem::TooLong { max: 253 });
    }
    if !value.contains('.') {
        return Err(Problem::Malformed { expected: "a domain name with at least two labels, such as example.com" });
    }
    value.split('.').try_for_each(check_label)?;
    Ok(value)
}

fn check_tag(value: &str, max: usize, allowed: impl Fn(char) -> bool) -> Result<(), Problem> {
    if value.is_empty() {
        return Err(Problem::Empty);
    }
    if value.len() > max {
        return Err(Problem::TooLong { max });
    }
    match value.chars().find(|c| !(c.is_ascii_alphanumeric() || allowed(*c))) {
        Some(c) => Err(Problem::ForbiddenCharacter(c)),
        None => Ok(()),
    }
}

fn check_scope_name(value: String) -> Result<String, Problem> {
    check_tag(&value, 128, |c| matches!(c, ':' | '.' | '_' | '-' | '/'))?;
    Ok(value)
}

fn check_role_attribute(value: String) -> Result<String, Problem> {
    check_tag(&value, 128, |c| matches!(c, '-' | '_' | '.' | ':' | '/'))?;
    if value == "all" {
        return Err(Problem::Reserved(value));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels_follow_rfc_1123() {
        for good in ["acme", "a", "team-42", "0day", &"a".repeat(63)] {
            assert!(DnsLabel::new(good).is_ok(), "{good} refused");
        }
        assert_eq!(DnsLabel::new(""), Err(Problem::Empty));
        assert_eq!(DnsLabel::new("a".repeat(64)), Err(Problem::TooLong { max: 63 }));
        assert_eq!(DnsLabel::new("Acme"), Err(Problem::ForbiddenCharacter('A')));
        assert_eq!(DnsLabel::new("a.b"), Err(Problem::ForbiddenCharacter('.')));
        assert_eq!(DnsLabel::new("a_b"), Err(Problem::ForbiddenCharacter('_')));
        assert!(matches!(DnsLabel::new("-acme"), Err(Problem::Malformed { .. })));
        assert!(matches!(DnsLabel::new("acme-"), Err(Problem::Malformed { .. })));
    }

    #[test]
    fn email_domains_are_normalised_and_checked() {
        assert_eq!(EmailDomain::new("  Example.COM ").unwrap().as_str(), "example.com");
        assert!(EmailDomain::new("sub.example.co.uk").is_ok());
        assert!(matches!(EmailDomain::new("localhost"), Err(Problem::Malformed { .. })));
        assert_eq!(EmailDomain::new("exa mple.com"), Err(Problem::ForbiddenCharacter(' ')));
        assert_eq!(EmailDomain::new("example..com"), Err(Problem::Empty));
        assert_eq!(EmailDomain::new(""), Err(Problem::Empty));
    }

    #[test]
    fn scope_names_accept_unikorn_names() {
        assert!(ScopeName::new("identity:projects").is_ok());
        assert_eq!(ScopeName::new(""), Err(Problem::Empty));
        assert_eq!(ScopeName::new("has space"), Err(Problem::ForbiddenCharacter(' ')));
        assert_eq!(ScopeName::new("x".repeat(129)), Err(Problem::TooLong { max: 128 }));
    }

    #[test]
    fn role_attributes_refuse_sigils_and_the_reserved_word() {
        assert!(RoleAttribute::new("sales-emea").is_ok());
        assert!(RoleAttribute::new("Region:EU/West").is_ok());
        assert_eq!(RoleAttribute::new("#sales"), Err(Problem::ForbiddenCharacter('#')));
        assert_eq!(RoleAttribute::new("@id"), Err(Problem::ForbiddenCharacter('@')));
        assert_eq!(RoleAttribute::new("all"), Err(Problem::Reserved("all".into())));
        assert_eq!(RoleAttribute::new("a b"), Err(Problem::ForbiddenCharacter(' ')));
        assert_eq!(RoleAttribute::new(""), Err(Problem::Empty));
    }

    #[test]
    fn names_check_when_deserialised() {
        assert_eq!(serde_json::from_str::<DnsLabel>("\"acme\"").unwrap().as_str(), "acme");
        let err = serde_json::from_str::<DnsLabel>("\"ACME\"").unwrap_err();
        assert!(err.to_string().contains("'A'"), "{err}");
        assert_eq!(serde_json::to_string(&RoleAttribute::new("ops").unwrap()).unwrap(), "\"ops\"");
    }
}
