//! One identity schema: loaded, checked against Kratos' rules, compiled once, then used for every validation.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

use crate::derive::{DerivedTraits, derive};
use crate::error::Error;
use crate::extension::{self, Marked, local_fragment, local_target};
use crate::violation::violations_of;

/// A compiled identity schema. Compiling is the expensive part; keep the value and validate with it many times.
pub struct IdentitySchema {
    id: String,
    raw: Value,
    validator: jsonschema::Validator,
    marks: Vec<Marked>,
}

impl IdentitySchema {
    /// Compiles the schema in `json`, registered under `id`.
    pub fn from_json_str(id: impl Into<String>, json: &str) -> Result<Self, Error> {
        Self::from_bytes(id.into(), json.as_bytes())
    }

    fn from_bytes(id: String, json: &[u8]) -> Result<Self, Error> {
        match serde_json::from_slice(json) {
            Ok(schema) => Self::from_value(id, schema),
            Err(source) => Err(Error::NotJson { id, source }),
        }
    }

    /// Compiles the schema in the file at `path`.
    pub fn from_file(id: impl Into<String>, path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.to_owned(), source })?;
        Self::from_json_str(id, &text)
    }

    /// Compiles the schema at `location`, written as Kratos' configuration writes it: `base64://<schema in
    /// base64>`, `file://<path>`, or a plain file path.
    pub fn load(id: impl Into<String>, location: &str) -> Result<Self, Error> {
        if let Some(encoded) = location.strip_prefix("base64://") {
            let bytes = decode_base64(encoded.trim()).ok_or(Error::Base64)?;
            return Self::from_bytes(id.into(), &bytes);
        }
        Self::from_file(id, location.strip_prefix("file://").unwrap_or(location))
    }

    /// Compiles `schema`. Refuses references outside the schema, schemas whose `properties.traits` is not an
    /// object schema, malformed `ory.sh/kratos` blocks (wherever they are, even where they could never apply)
    /// and anything the JSON Schema compiler refuses.
    pub fn from_value(id: impl Into<String>, schema: Value) -> Result<Self, Error> {
        let id = id.into();
        if !schema.is_object() {
            return Err(Error::MetaRule {
                id,
                pointer: String::new(),
                rule: "an identity schema must be a JSON object",
            });
        }
        scan(&id, &schema, &schema, &mut String::new(), false)?;
        let traits = traits_schema(&id, &schema)?;
        let marks = extension::collect(&id, &schema, traits)?;
        let validator = jsonschema::options()
            .offline()
            .should_validate_formats(true)
            .with_format("tel", is_phone_number)
            .build(&schema)
            .map_err(|e| Error::Compile { id: id.clone(), message: e.to_string() })?;
        Ok(Self { id, raw: schema, validator, marks })
    }

    /// The id the schema is registered under.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The schema document, as loaded (for `GET /schemas/{id}`).
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// Checks `traits` against the schema. On failure, [`Error::InvalidTraits`] lists every violation with a
    /// JSON pointer into the identity document (`/traits/...`), a stable code and a message.
    pub fn validate(&self, traits: &Value) -> Result<(), Error> {
        // Kratos validates the identity document `{"traits": ...}`, so `$ref`s and pointers stay as written.
        let mut document = Map::with_capacity(1);
        document.insert("traits".to_owned(), traits.clone());
        let document = Value::Object(document);
        if self.validator.is_valid(&document) {
            return Ok(());
        }
        let mut violations = Vec::new();
        for error in self.validator.iter_errors(&document) {
            violations_of(&error, &mut violations);
        }
        Err(Error::InvalidTraits { schema_id: self.id.clone(), violations })
    }

    /// The login identifiers and addresses that `traits` imply. Meant for traits that passed
    /// [`validate`](Self::validate); on others it still returns, skipping values of the wrong type.
    pub fn derive(&self, traits: &Value) -> DerivedTraits {
        derive(&self.marks, traits)
    }

    /// [`validate`](Self::validate), then [`derive`](Self::derive).
    pub fn check(&self, traits: &Value) -> Result<DerivedTraits, Error> {
        self.validate(traits)?;
        Ok(self.derive(traits))
    }
}

impl fmt::Debug for IdentitySchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentitySchema").field("id", &self.id).field("extension_blocks", &self.marks.len()).finish()
    }
}

fn decode_base64(encoded: &str) -> Option<Vec<u8>> {
    let config = GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    [GeneralPurpose::new(&base64::alphabet::STANDARD, config), GeneralPurpose::new(&base64::alphabet::URL_SAFE, config)]
        .iter()
        .find_map(|engine| engine.decode(encoded).ok())
}

/// The schema of `properties.traits`, which Kratos requires to be an object schema.
fn traits_schema<'s>(id: &str, schema: &'s Value) -> Result<&'s Value, Error> {
    let rule = |rule| Error::MetaRule { id: id.to_owned(), pointer: "/properties/traits".to_owned(), rule };
    let mut traits = schema.pointer("/properties/traits").ok_or_else(|| rule("`properties.traits` must be present"))?;
    if let Some(reference) = traits.get("$ref").and_then(Value::as_str) {
        traits = local_target(schema, reference)
            .ok_or_else(|| Error::DanglingReference { id: id.to_owned(), reference: reference.to_owned() })?;
    }
    let is_object = match traits.get("type") {
        Some(Value::String(kind)) => kind == "object",
        Some(Value::Array(kinds)) => kinds.len() == 1 && kinds[0] == "object",
        _ => false,
    };
    if !is_object {
        return Err(rule("`properties.traits` must be an object schema (`\"type\": \"object\"`)"));
    }
    Ok(traits)
}

/// Keywords whose values are data, not schemas: a `$ref` inside them is not a reference.
const DATA_KEYWORDS: [&str; 4] = ["enum", "const", "default", "examples"];

/// Keywords whose values map names to schemas: their keys are names, not keywords.
const MAP_KEYWORDS: [&str; 5] = ["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"];

/// Walks the whole schema once before compiling it: refuses references that leave the document or point at
/// nothing, and reads every `ory.sh/kratos` block so a typo fails the load even where the block could never
/// apply. `in_map` says that `value`'s keys are names (of properties or definitions), not keywords.
fn scan(id: &str, root: &Value, value: &Value, pointer: &mut String, in_map: bool) -> Result<(), Error> {
    match value {
        Value::Object(object) => {
            for (key, child) in object {
                if !in_map {
                    if let ("$ref" | "$dynamicRef" | "$recursiveRef", Value::String(reference)) = (key.as_str(), child)
                    {
                        check_reference(id, root, reference, pointer, key)?;
                    }
                    if key == extension::KEY {
                        extension::parse(id, pointer, child)?;
                        continue;
                    }
                    if DATA_KEYWORDS.contains(&key.as_str()) {
                        continue;
                    }
                }
                let length = pointer.len();
                *pointer = crate::pointer::child(pointer, key);
                let result = scan(id, root, child, pointer, !in_map && MAP_KEYWORDS.contains(&key.as_str()));
                pointer.truncate(length);
                result?;
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let length = pointer.len();
                *pointer = crate::pointer::child(pointer, &index.to_string());
                let result = scan(id, root, item, pointer, false);
                pointer.truncate(length);
                result?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn check_reference(id: &str, root: &Value, reference: &str, pointer: &str, key: &str) -> Result<(), Error> {
    if local_fragment(root, reference).is_none() {
        return Err(Error::RemoteReference {
            id: id.to_owned(),
            reference: reference.to_owned(),
            pointer: crate::pointer::child(pointer, key),
        });
    }
    if local_target(root, reference).is_none() {
        return Err(Error::DanglingReference { id: id.to_owned(), reference: reference.to_owned() });
    }
    Ok(())
}

/// Kratos' `tel` format: an international number, `+` and 7 to 15 digits, spaces, dots, dashes and
/// parentheses allowed between them.
fn is_phone_number(value: &str) -> bool {
    let Some(rest) = value.strip_prefix('+') else { return false };
    let mut digits = 0;
    for c in rest.chars() {
        match c {
            '0'..='9' => digits += 1,
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return false,
        }
    }
    (7..=15).contains(&digits) && rest.starts_with(|c: char| c.is_ascii_digit() && c != '0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_international() {
        for good in ["+4915112345678", "+1 (415) 555-0100", "+44 20 7946 0958"] {
            assert!(is_phone_number(good), "{good}");
        }
        for bad in ["015112345678", "+", "+12", "+49 151 abc", "+0123456789", "+1234567890123456"] {
            assert!(!is_phone_number(bad), "{bad}");
        }
    }

    #[test]
    fn base64_is_accepted_padded_or_not_standard_or_url_safe() {
        assert_eq!(decode_base64("e30="), Some(b"{}".to_vec()));
        assert_eq!(decode_base64("e30"), Some(b"{}".to_vec()));
        assert_eq!(decode_base64("Pz8_"), Some(b"???".to_vec()));
        assert_eq!(decode_base64("Pz8/"), Some(b"???".to_vec()));
        assert_eq!(decode_base64("*"), None);
    }
}
