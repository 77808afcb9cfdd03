//! Several identity schemas by id, one of them the default.

use std::collections::BTreeMap;

use crate::error::Error;
use crate::schema::IdentitySchema;

/// The identity schemas a deployment knows, by id, with a default for identities that name none.
#[derive(Debug)]
pub struct SchemaRegistry {
    // Kept apart from the others so that the default can never go missing.
    default: IdentitySchema,
    others: BTreeMap<String, IdentitySchema>,
}

impl SchemaRegistry {
    /// A registry holding `default`, which becomes the default schema.
    pub fn new(default: IdentitySchema) -> Self {
        Self { default, others: BTreeMap::new() }
    }

    /// A registry of `schemas` whose default is `default_id`. Fails if an id repeats or the default is missing.
    pub fn from_schemas(default_id: &str, schemas: impl IntoIterator<Item = IdentitySchema>) -> Result<Self, Error> {
        let mut default = None;
        let mut others = BTreeMap::new();
        for schema in schemas {
            let id = schema.id().to_owned();
            if id == default_id {
                if default.replace(schema).is_some() {
                    return Err(Error::DuplicateSchema { id });
                }
            } else if others.insert(id.clone(), schema).is_some() {
                return Err(Error::DuplicateSchema { id });
            }
        }
        let default = default.ok_or_else(|| Error::UnknownSchema { id: default_id.to_owned() })?;
        Ok(Self { default, others })
    }

    /// Adds `schema`; fails if its id is taken.
    pub fn insert(&mut self, schema: IdentitySchema) -> Result<(), Error> {
        if self.get(schema.id()).is_ok() {
            return Err(Error::DuplicateSchema { id: schema.id().to_owned() });
        }
        self.others.insert(schema.id().to_owned(), schema);
        Ok(())
    }

    /// The schema with `id`.
    pub fn get(&self, id: &str) -> Result<&IdentitySchema, Error> {
        if id == self.default.id() {
            return Ok(&self.default);
        }
        self.others.get(id).ok_or_else(|| Error::UnknownSchema { id: id.to_owned() })
    }

    /// The schema with `id`, or the default one when `id` is `None`.
    pub fn get_or_default(&self, id: Option<&str>) -> Result<&IdentitySchema, Error> {
        match id {
            Some(id) => self.get(id),
            None => Ok(&self.default),
        }
    }

    /// The default schema.
    pub fn default_schema(&self) -> &IdentitySchema {
        &self.default
    }

    /// The default schema's id.
    pub fn default_id(&self) -> &str {
        self.default.id()
    }

    /// Every schema: the default first, then the others ordered by id.
    pub fn iter(&self) -> impl Iterator<Item = &IdentitySchema> {
        std::iter::once(&self.default).chain(self.others.values())
    }
}
