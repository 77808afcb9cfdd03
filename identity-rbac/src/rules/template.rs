//! Header values set on an allowed request: fixed keys (`{key: email}`) or templates of text and keys
//! (`"user={{ subject_id }}"`).

use serde::{Deserialize, Serialize};

use super::decision::Authenticator;
use super::principal::Principal;

/// What a header value can hold about the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeaderKey {
    /// The identity's id; empty for an anonymous request.
    SubjectId,
    /// Its email address, if known.
    Email,
    /// The names of its roles in the organization, comma-separated, sorted.
    Roles,
    /// Its organization's id, if any.
    Organization,
    /// Its role attributes, comma-separated, sorted.
    RoleAttributes,
    /// The authenticator that let the request in (`cookie_session`, ..., `anonymous`).
    Authenticator,
}

impl HeaderKey {
    const ALL: [HeaderKey; 6] = [
        HeaderKey::SubjectId,
        HeaderKey::Email,
        HeaderKey::Roles,
        HeaderKey::Organization,
        HeaderKey::RoleAttributes,
        HeaderKey::Authenticator,
    ];

    /// The key's name in rule files and templates.
    pub const fn as_str(self) -> &'static str {
        match self {
            HeaderKey::SubjectId => "subject_id",
            HeaderKey::Email => "email",
            HeaderKey::Roles => "roles",
            HeaderKey::Organization => "organization",
            HeaderKey::RoleAttributes => "role_attributes",
            HeaderKey::Authenticator => "authenticator",
        }
    }
}

/// How a rule file sets one header: a template string, or `{key: ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HeaderValue {
    /// Text with `{{ key }}` placeholders, each key one of [`HeaderKey`]'s names.
    Template(String),
    /// One key's value.
    Key {
        /// The key.
        key: HeaderKey,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Key(HeaderKey),
}

/// A checked header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeaderTemplate {
    parts: Vec<Part>,
}

impl HeaderTemplate {
    /// Checks a header value from a rule; the error says what is wrong.
    pub(crate) fn new(value: &HeaderValue) -> Result<Self, String> {
        match value {
            HeaderValue::Key { key } => Ok(Self { parts: vec![Part::Key(*key)] }),
            HeaderValue::Template(text) => Self::parse(text),
        }
    }

    fn parse(text: &str) -> Result<Self, String> {
        if let Some(c) = text.chars().find(|c| c.is_control()) {
            return Err(format!("contains the control character {c:?}"));
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or("a `{{` is not closed by `}}`")?;
            let name = after[..end].trim();
            let key = HeaderKey::ALL.into_iter().find(|k| k.as_str() == name).ok_or_else(|| {
                let known: Vec<&str> = HeaderKey::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown key `{name}`; expected one of: {}", known.join(", "))
            })?;
            parts.push(Part::Key(key));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self { parts })
    }

    /// The value for `principal` (`None` when anonymous), let in by `via`. Control characters coming from the
    /// subject's data are dropped, so a value can never split a header.
    pub(crate) fn render(&self, principal: Option<&Principal>, via: Authenticator) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Key(key) => push_clean(&mut out, &value_of(*key, principal, via)),
            }
        }
        out
    }
}

fn value_of(key: HeaderKey, principal: Option<&Principal>, via: Authenticator) -> String {
    let Some(principal) = principal else {
        return match key {
            HeaderKey::Authenticator => via.as_str().to_owned(),
            _ => String::new(),
        };
    };
    match key {
        HeaderKey::SubjectId => principal.id.to_string(),
        HeaderKey::Email => principal.email.clone().unwrap_or_default(),
        HeaderKey::Roles => {
            let mut roles: Vec<&str> = principal.roles.iter().map(|r| r.as_str()).collect();
            roles.sort_unstable();
            roles.dedup();
            roles.join(",")
        }
        HeaderKey::Organization => principal.organization_id.map(|id| id.to_string()).unwrap_or_default(),
        HeaderKey::RoleAttributes => principal.role_attributes.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(","),
        HeaderKey::Authenticator => via.as_str().to_owned(),
    }
}

fn push_clean(out: &mut String, value: &str) {
    out.extend(value.chars().filter(|c| !c.is_control()));
}

/// Whether `name` is an HTTP header name (an RFC 9110 token).
pub(crate) fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use identity_core::IdentityId;

    #[test]
    fn templates_mix_text_and_keys() {
        let t =
            HeaderTemplate::new(&HeaderValue::Template("id={{subject_id}}; via={{ authenticator }}".into())).unwrap();
        let mut ada = Principal::new(IdentityId::new());
        ada.email = Some("ada@example.com\r\nX-Evil: 1".into());
        assert_eq!(t.render(Some(&ada), Authenticator::CookieSession), format!("id={}; via=cookie_session", ada.id));
        assert_eq!(t.render(None, Authenticator::Anonymous), "id=; via=anonymous");
        let email = HeaderTemplate::new(&HeaderValue::Key { key: HeaderKey::Email }).unwrap();
        assert_eq!(email.render(Some(&ada), Authenticator::BearerJwt), "ada@example.comX-Evil: 1");
    }

    #[test]
    fn bad_templates_say_why() {
        let err = |text: &str| HeaderTemplate::new(&HeaderValue::Template(text.into())).unwrap_err();
        assert!(err("{{ subject_id").contains("not closed"));
        assert!(err("{{ password }}").contains("unknown key `password`"));
        assert!(err("a\nb").contains("control"));
    }

    #[test]
    fn header_names_are_tokens() {
        assert!(is_header_name("X-User-Id"));
        assert!(!is_header_name("X User"));
        assert!(!is_header_name(""));
        assert!(!is_header_name("X-User:"));
    }
}
