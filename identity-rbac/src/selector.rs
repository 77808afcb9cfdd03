//! Role-attribute selectors, as in OpenZiti: `#attr` (identities carrying the attribute), `@id` (one identity),
//! `#all` (everyone, alone). With [`Semantic::AllOf`] (the default) an identity must carry every `#` attribute,
//! with [`Semantic::AnyOf`] at least one; `@` entries are added as a union either way.

use std::collections::BTreeSet;

use identity_core::{IdentityId, RoleAttribute};
use serde::{Deserialize, Serialize};

use crate::error::{Error, SelectorFault};

/// How the `#` entries of a selector combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Semantic {
    /// An identity must carry every listed attribute.
    #[default]
    AllOf,
    /// An identity must carry at least one listed attribute.
    AnyOf,
}

/// A checked selector. Build it with [`Selector::parse`]; every entry is checked then, so matching cannot fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    all: bool,
    attributes: BTreeSet<RoleAttribute>,
    ids: BTreeSet<IdentityId>,
    semantic: Semantic,
}

impl Selector {
    /// Reads a selector from its entries (`["#sales", "#emea", "@<uuid>"]`). An empty list selects nobody.
    ///
    /// Fails with [`Error::InvalidSelector`] for the first entry without a `#` or `@`, with an attribute that is not
    /// a [`RoleAttribute`], with an `@` not followed by a UUID, or for `#all` beside other entries.
    pub fn parse<S: AsRef<str>>(entries: &[S], semantic: Semantic) -> Result<Self, Error> {
        let mut selector = Selector { all: false, attributes: BTreeSet::new(), ids: BTreeSet::new(), semantic };
        for (position, entry) in entries.iter().enumerate() {
            let entry = entry.as_ref();
            let invalid = |fault| Error::InvalidSelector { position, entry: entry.to_owned(), fault };
            if entry == "#all" {
                if entries.len() > 1 {
                    return Err(invalid(SelectorFault::AllNotAlone));
                }
                selector.all = true;
            } else if let Some(attribute) = entry.strip_prefix('#') {
                let attribute =
                    RoleAttribute::new(attribute).map_err(|problem| invalid(SelectorFault::BadAttribute(problem)))?;
                selector.attributes.insert(attribute);
            } else if let Some(id) = entry.strip_prefix('@') {
                let id: IdentityId = id.parse().map_err(|_| invalid(SelectorFault::BadId))?;
                selector.ids.insert(id);
            } else {
                return Err(invalid(SelectorFault::NoSigil));
            }
        }
        Ok(selector)
    }

    /// Whether the identity `id`, carrying `attributes`, is selected.
    pub fn matches(&self, id: IdentityId, attributes: &BTreeSet<RoleAttribute>) -> bool {
        if self.all || self.ids.contains(&id) {
            return true;
        }
        if self.attributes.is_empty() {
            return false;
        }
        match self.semantic {
            Semantic::AllOf => self.attributes.iter().all(|a| attributes.contains(a)),
            Semantic::AnyOf => self.attributes.iter().any(|a| attributes.contains(a)),
        }
    }

    /// Whether the selector is `#all`.
    pub fn selects_everyone(&self) -> bool {
        self.all
    }

    /// The selector's semantic.
    pub fn semantic(&self) -> Semantic {
        self.semantic
    }

    /// The entries, as they would be written: `#all`, or the `#` entries then the `@` entries, each sorted.
    pub fn entries(&self) -> Vec<String> {
        if self.all {
            return vec!["#all".to_owned()];
        }
        let attributes = self.attributes.iter().map(|a| format!("#{a}"));
        attributes.chain(self.ids.iter().map(|id| format!("@{id}"))).collect()
    }
}
