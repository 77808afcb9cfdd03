//! Reading a submission's fields: JSON bodies (`{"traits": {"email": ...}}`) and form bodies mapped onto JSON
//! with dotted names (`{"traits.email": ...}`) are read alike.

use serde_json::{Map, Value};

/// The string field `name`, if present and not blank.
pub(super) fn text<'a>(fields: &'a Value, name: &str) -> Option<&'a str> {
    fields.get(name).and_then(Value::as_str).filter(|value| !value.trim().is_empty())
}

/// Whether the flag `name` is set (`true`, or `"true"` from a form).
pub(super) fn flag(fields: &Value, name: &str) -> bool {
    match fields.get(name) {
        Some(Value::Bool(value)) => *value,
        Some(Value::String(value)) => value == "true",
        _ => false,
    }
}

/// The most segments a dotted trait name may have.
const MAX_PATH_SEGMENTS: usize = 16;

/// The submitted traits: the `traits` object, or the `traits.`-prefixed fields nested into one. `None` when
/// neither is there.
pub(super) fn traits(fields: &Value) -> Option<Value> {
    if let Some(traits) = fields.get("traits") {
        return Some(traits.clone());
    }
    let object = fields.as_object()?;
    let mut traits = Map::new();
    let mut found = false;
    for (name, value) in object {
        let Some(path) = name.strip_prefix("traits.") else { continue };
        found = true;
        // A name nesting deeper than any schema does is left out (the schema then says what is missing):
        // following it would only build a document deep enough to exhaust the stack.
        if path.split('.').count() <= MAX_PATH_SEGMENTS {
            insert_path(&mut traits, path, value.clone());
        }
    }
    found.then_some(Value::Object(traits))
}

/// Puts `value` at the dotted `path` in `object`, making the objects on the way. A path crossing a value that is
/// not an object replaces it (the schema then judges the result).
fn insert_path(object: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            object.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let child = object.entry(head.to_owned()).or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            if let Value::Object(child) = child {
                insert_path(child, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn form_fields_nest_into_traits_and_json_traits_are_taken_whole() {
        let form = json!({"traits.email": "a@b.c", "traits.name.first": "Ada", "password": "x"});
        assert_eq!(traits(&form), Some(json!({"email": "a@b.c", "name": {"first": "Ada"}})));
        assert_eq!(traits(&json!({"traits": {"email": "a@b.c"}})), Some(json!({"email": "a@b.c"})));
        assert_eq!(traits(&json!({"password": "x"})), None);
        assert_eq!(traits(&json!("not an object")), None);
        assert_eq!(traits(&json!({"traits.a": 1, "traits.a.b": 2})), Some(json!({"a": {"b": 2}})));
        let deep = format!("traits{}", ".a".repeat(100_000));
        assert_eq!(traits(&json!({ deep: 1, "traits.b": 2 })), Some(json!({"b": 2})));
    }

    #[test]
    fn text_skips_blank_and_non_strings_and_flags_read_forms() {
        let fields = json!({"a": "  ", "b": 3, "c": "x", "t": true, "s": "true", "f": "false"});
        assert_eq!((text(&fields, "a"), text(&fields, "b"), text(&fields, "c")), (None, None, Some("x")));
        assert!(flag(&fields, "t") && flag(&fields, "s") && !flag(&fields, "f") && !flag(&fields, "missing"));
    }
}
