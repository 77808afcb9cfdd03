//! Kratos' `ory.sh/kratos` schema extension: reading it (strictly: unknown keys are refused when the schema
//! loads) and finding where in the traits each block applies, following local `$ref`s.

use serde::Deserialize;
use serde_json::Value;

use identity_core::AddressVia;

use crate::error::Error;
use crate::pointer::child;

/// The extension's key in a property's schema.
pub(crate) const KEY: &str = "ory.sh/kratos";

/// One `ory.sh/kratos` block.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Extension {
    #[serde(default)]
    pub credentials: CredentialsExtension,
    #[serde(default)]
    pub verification: Option<Via>,
    #[serde(default)]
    pub recovery: Option<Via>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CredentialsExtension {
    #[serde(default)]
    pub password: Option<Identifier>,
    #[serde(default)]
    pub webauthn: Option<Identifier>,
    #[serde(default)]
    pub passkey: Option<Passkey>,
    #[serde(default)]
    pub totp: Option<Totp>,
    #[serde(default)]
    pub code: Option<Code>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Identifier {
    #[serde(default)]
    pub identifier: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Passkey {
    #[serde(default)]
    pub display_name: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Totp {
    #[serde(default)]
    pub account_name: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Code {
    #[serde(default)]
    pub identifier: bool,
    #[serde(default)]
    pub via: Option<AddressVia>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Via {
    pub via: AddressVia,
}

/// One step of a path into the traits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// An object property.
    Key(String),
    /// Every item of an array.
    Each,
}

/// An extension block and the traits it applies to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Marked {
    pub path: Vec<Segment>,
    pub extension: Extension,
}

/// Finds every extension block reachable from `traits_schema` (the schema of `properties.traits`).
pub(crate) fn collect(id: &str, root: &Value, traits_schema: &Value) -> Result<Vec<Marked>, Error> {
    let mut walker = Walker { id, root, found: Vec::new(), refs_on_stack: Vec::new() };
    walker.walk(traits_schema, "/properties/traits".to_owned(), &mut Vec::new())?;
    Ok(walker.found)
}

struct Walker<'a> {
    id: &'a str,
    root: &'a Value,
    found: Vec<Marked>,
    // A reference entered again while still being walked is recursive: walking it once is enough.
    refs_on_stack: Vec<String>,
}

impl Walker<'_> {
    fn walk(&mut self, schema: &Value, pointer: String, path: &mut Vec<Segment>) -> Result<(), Error> {
        let Value::Object(schema) = schema else { return Ok(()) };
        if let Some(block) = schema.get(KEY) {
            let extension = parse(self.id, &pointer, block)?;
            self.found.push(Marked { path: path.clone(), extension });
        }
        if let Some(Value::String(reference)) = schema.get("$ref")
            && let Some(target) = local_target(self.root, reference)
            && !self.refs_on_stack.contains(reference)
        {
            self.refs_on_stack.push(reference.clone());
            let target_pointer = reference.trim_start_matches(|c| c != '#').trim_start_matches('#').to_owned();
            let walked = self.walk(target, target_pointer, path);
            self.refs_on_stack.pop();
            walked?;
        }
        if let Some(Value::Object(properties)) = schema.get("properties") {
            for (name, property) in properties {
                path.push(Segment::Key(name.clone()));
                let walked = self.walk(property, child(&child(&pointer, "properties"), name), path);
                path.pop();
                walked?;
            }
        }
        for keyword in ["items", "prefixItems", "additionalItems"] {
            let subschemas: Vec<(String, &Value)> = match schema.get(keyword) {
                Some(Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| (format!("{pointer}/{keyword}/{index}"), item))
                    .collect(),
                Some(item) => vec![(format!("{pointer}/{keyword}"), item)],
                None => continue,
            };
            for (item_pointer, item) in subschemas {
                path.push(Segment::Each);
                let walked = self.walk(item, item_pointer, path);
                path.pop();
                walked?;
            }
        }
        for keyword in ["allOf", "anyOf", "oneOf"] {
            if let Some(Value::Array(alternatives)) = schema.get(keyword) {
                for (index, alternative) in alternatives.iter().enumerate() {
                    self.walk(alternative, format!("{pointer}/{keyword}/{index}"), path)?;
                }
            }
        }
        for keyword in ["then", "else"] {
            if let Some(branch) = schema.get(keyword) {
                self.walk(branch, format!("{pointer}/{keyword}"), path)?;
            }
        }
        Ok(())
    }
}

/// Reads one extension block found at `pointer` (the schema object holding it).
pub(crate) fn parse(id: &str, pointer: &str, block: &Value) -> Result<Extension, Error> {
    let bad = |message: String| Error::Extension { id: id.to_owned(), pointer: child(pointer, KEY), message };
    let extension = Extension::deserialize(block).map_err(|e| bad(e.to_string()))?;
    if let Some(code) = &extension.credentials.code
        && code.identifier
        && code.via.is_none()
    {
        return Err(bad("`credentials.code.identifier` needs `credentials.code.via` (email or sms)".into()));
    }
    Ok(extension)
}

/// The subschema a local reference (`#`, `#/definitions/x`, or the schema's own `$id` followed by such a
/// fragment) points at; `None` for anything else.
pub(crate) fn local_target<'v>(root: &'v Value, reference: &str) -> Option<&'v Value> {
    let fragment = percent_decode(local_fragment(root, reference)?)?;
    if fragment.is_empty() || fragment.starts_with('/') {
        root.pointer(&fragment)
    } else {
        find_anchor(root, &fragment)
    }
}

/// The subschema named `name` by `"$anchor"` (2019-09 and later) or by an `"$id": "#name"` (draft-07).
fn find_anchor<'v>(value: &'v Value, name: &str) -> Option<&'v Value> {
    match value {
        Value::Object(object) => {
            let named = object.get("$anchor").and_then(Value::as_str) == Some(name)
                || object.get("$dynamicAnchor").and_then(Value::as_str) == Some(name)
                || object.get("$id").and_then(Value::as_str).and_then(|id| id.strip_prefix('#')) == Some(name);
            if named {
                return Some(value);
            }
            object.values().find_map(|child| find_anchor(child, name))
        }
        Value::Array(items) => items.iter().find_map(|item| find_anchor(item, name)),
        _ => None,
    }
}

/// The fragment of a reference into the schema itself, without its `#`.
pub(crate) fn local_fragment<'r>(root: &Value, reference: &'r str) -> Option<&'r str> {
    let (base, fragment) = reference.split_once('#')?;
    let own_id = root.get("$id").and_then(Value::as_str).map(|id| id.split('#').next().unwrap_or(id));
    (base.is_empty() || Some(base) == own_id).then_some(fragment)
}

fn percent_decode(fragment: &str) -> Option<String> {
    let bytes = fragment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            // Two hex digits exactly: from_str_radix alone would also take a sign (`%+5`).
            let hex = fragment.get(index + 1..index + 3).filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn blocks_under_refs_arrays_and_combinators_are_found() {
        let root = json!({
            "$id": "https://example.org/s.json",
            "definitions": {"email": {"type": "string", "ory.sh/kratos": {"recovery": {"via": "email"}}}},
            "properties": {"traits": {
                "type": "object",
                "properties": {
                    "primary": {"$ref": "#/definitions/email"},
                    "others": {"type": "array", "items": {"$ref": "https://example.org/s.json#/definitions/email"}},
                    "phone": {"allOf": [{"type": "string", "ory.sh/kratos": {"verification": {"via": "sms"}}}]}
                }
            }}
        });
        let found = collect("s", &root, &root["properties"]["traits"]).unwrap();
        let paths: Vec<_> = found.iter().map(|m| m.path.clone()).collect();
        assert!(paths.contains(&vec![Segment::Key("primary".into())]));
        assert!(paths.contains(&vec![Segment::Key("others".into()), Segment::Each]));
        assert!(paths.contains(&vec![Segment::Key("phone".into())]));
        assert_eq!(found.len(), 3);
    }

    #[test]
    fn recursive_references_terminate() {
        let root = json!({
            "definitions": {"node": {"type": "object", "properties": {
                "name": {"type": "string", "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}},
                "child": {"$ref": "#/definitions/node"}
            }}},
            "properties": {"traits": {"$ref": "#/definitions/node"}}
        });
        // The recursion is walked once: the top-level `name` is an identifier, `child.name` is not.
        let found = collect("s", &root, &root["properties"]["traits"]).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].path, [Segment::Key("name".into())]);
    }

    #[test]
    fn unknown_keys_and_codes_without_channel_are_refused() {
        let root = json!({"properties": {"traits": {"properties": {
            "email": {"ory.sh/kratos": {"credentials": {"password": {"identifier": true, "typo": 1}}}}
        }}}});
        let err = collect("s", &root, &root["properties"]["traits"]).unwrap_err();
        match err {
            Error::Extension { pointer, message, .. } => {
                assert_eq!(pointer, "/properties/traits/properties/email/ory.sh~1kratos");
                assert!(message.contains("typo"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
        let root = json!({"properties": {"traits": {"properties": {
            "email": {"ory.sh/kratos": {"credentials": {"code": {"identifier": true}}}}
        }}}});
        assert!(matches!(collect("s", &root, &root["properties"]["traits"]), Err(Error::Extension { .. })));
        let root = json!({"properties": {"traits": {"properties": {
            "email": {"ory.sh/kratos": {"verification": {"via": "pigeon"}}}
        }}}});
        assert!(matches!(collect("s", &root, &root["properties"]["traits"]), Err(Error::Extension { .. })));
    }

    #[test]
    fn local_references_resolve_with_escapes() {
        let root = json!({"$id": "urn:x", "definitions": {"a/b": {"x": 1}, "c d": {"y": 2}}});
        assert_eq!(local_target(&root, "#/definitions/a~1b"), Some(&json!({"x": 1})));
        assert_eq!(local_target(&root, "#/definitions/c%20d"), Some(&json!({"y": 2})));
        assert_eq!(local_target(&root, "urn:x#/definitions/c%20d"), Some(&json!({"y": 2})));
        assert_eq!(local_target(&root, "other.json#/definitions/a~1b"), None);
        assert_eq!(local_target(&root, "#/definitions/%zz"), None);
        // A sign is no hex digit (u8::from_str_radix takes `+5` as 5), even where a definition is named U+0005.
        let root = json!({"definitions": {"\u{5}": {"z": 3}}});
        assert_eq!(local_target(&root, "#/definitions/%05"), Some(&json!({"z": 3})));
        assert_eq!(local_target(&root, "#/definitions/%+5"), None);
    }
}
