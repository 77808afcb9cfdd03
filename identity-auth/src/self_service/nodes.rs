//! The forms of each flow, as Kratos draws them: which inputs, in which group, with which labels.

use identity_core::CredentialType;
use identity_schema::IdentitySchema;
use serde_json::Value;

use crate::ui::{NodeGroup, UiNode, UiText};

/// How deep trait objects are followed when drawing their fields.
const MAX_TRAIT_DEPTH: usize = 8;

/// The inputs for the traits `schema` describes, filled from `traits`, in `group`.
pub(super) fn trait_nodes(schema: &IdentitySchema, traits: Option<&Value>, group: NodeGroup) -> Vec<UiNode> {
    let mut nodes = Vec::new();
    let root = schema.raw();
    if let Some(definition) = resolve(root, root.pointer("/properties/traits")) {
        object_nodes(root, definition, "traits", traits, group, 0, &mut nodes);
    }
    nodes
}

fn object_nodes(
    root: &Value,
    definition: &Value,
    prefix: &str,
    values: Option<&Value>,
    group: NodeGroup,
    depth: usize,
    out: &mut Vec<UiNode>,
) {
    let Some(properties) = definition.get("properties").and_then(Value::as_object) else { return };
    let required: Vec<&str> =
        definition.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    for (name, property) in properties {
        let Some(property) = resolve(root, Some(property)) else { continue };
        let path = format!("{prefix}.{name}");
        let value = values.and_then(|values| values.get(name));
        if property.get("type").and_then(Value::as_str) == Some("object") {
            if depth < MAX_TRAIT_DEPTH {
                object_nodes(root, property, &path, value, group, depth + 1, out);
            }
            continue;
        }
        let input_type =
            match (property.get("type").and_then(Value::as_str), property.get("format").and_then(Value::as_str)) {
                (_, Some("email")) => "email",
                (_, Some("tel")) => "tel",
                (_, Some("date")) => "date",
                (Some("number" | "integer"), _) => "number",
                (Some("boolean"), _) => "checkbox",
                _ => "text",
            };
        let mut node = UiNode::input(group, path, input_type);
        if required.contains(&name.as_str()) {
            node = node.required();
        }
        if let Some(title) = property.get("title").and_then(Value::as_str) {
            node = node.with_label(UiText::info(1070002, title));
        }
        if let Some(value) = value {
            node = node.with_value(value.clone());
        }
        out.push(node);
    }
}

/// Follows a local `$ref` (one hop; identity schemas keep definitions flat).
fn resolve<'a>(root: &'a Value, node: Option<&'a Value>) -> Option<&'a Value> {
    let node = node?;
    match node.get("$ref").and_then(Value::as_str).and_then(|reference| reference.strip_prefix('#')) {
        Some(pointer) => root.pointer(pointer),
        None => Some(node),
    }
}

/// Registration with a password: the traits, a new password, and the submit button.
pub(super) fn registration(schema: &IdentitySchema) -> Vec<UiNode> {
    let mut nodes = trait_nodes(schema, None, NodeGroup::Default);
    nodes.push(new_password(NodeGroup::Password));
    nodes.push(UiNode::submit(NodeGroup::Password, "password", UiText::info(1040001, "Sign up")));
    nodes
}

/// Login with a password; a refresh fixes the identifier.
pub(super) fn password_login(fixed_identifier: Option<&str>) -> Vec<UiNode> {
    let identifier = match fixed_identifier {
        Some(identifier) => {
            UiNode::input(NodeGroup::Default, "identifier", "hidden").with_value(Value::from(identifier))
        }
        None => {
            UiNode::input(NodeGroup::Default, "identifier", "text").required().with_label(UiText::label_identifier())
        }
    };
    vec![
        identifier,
        UiNode::input(NodeGroup::Password, "password", "password")
            .required()
            .with_autocomplete("current-password")
            .with_label(UiText::label_password()),
        UiNode::submit(NodeGroup::Password, "password", UiText::info(1010001, "Sign in")),
    ]
}

/// The second step of a login: one input and button per second factor the identity has.
pub(super) fn second_factor(factors: &[CredentialType]) -> Vec<UiNode> {
    let mut nodes = Vec::new();
    if factors.contains(&CredentialType::Totp) {
        nodes.push(
            UiNode::input(NodeGroup::Totp, "totp_code", "text")
                .required()
                .with_autocomplete("one-time-code")
                .with_label(UiText::info(1010006, "Authentication code")),
        );
        nodes.push(UiNode::submit(NodeGroup::Totp, "totp", UiText::info(1010009, "Use Authenticator")));
    }
    if factors.contains(&CredentialType::LookupSecret) {
        nodes.push(
            UiNode::input(NodeGroup::LookupSecret, "lookup_secret", "text")
                .required()
                .with_label(UiText::info(1010007, "Backup recovery code")),
        );
        nodes.push(UiNode::submit(
            NodeGroup::LookupSecret,
            "lookup_secret",
            UiText::info(1010010, "Use backup recovery code"),
        ));
    }
    nodes
}

/// A new password input.
pub(super) fn new_password(group: NodeGroup) -> UiNode {
    UiNode::input(group, "password", "password")
        .required()
        .with_autocomplete("new-password")
        .with_label(UiText::label_password())
}

/// Asking for the address a code goes to.
pub(super) fn ask_address() -> Vec<UiNode> {
    vec![
        UiNode::input(NodeGroup::Code, "email", "email")
            .required()
            .with_autocomplete("email")
            .with_label(UiText::info(1070007, "Email")),
        UiNode::submit(NodeGroup::Code, "code", UiText::info(1070005, "Submit")),
    ]
}

/// Asking for the code sent to `address` (kept in a hidden field so it can be sent again).
pub(super) fn ask_code(address: &str) -> Vec<UiNode> {
    vec![
        UiNode::input(NodeGroup::Code, "code", "text")
            .required()
            .with_autocomplete("one-time-code")
            .with_label(UiText::info(1070006, "Verify code")),
        UiNode::input(NodeGroup::Code, "email", "hidden").with_value(Value::from(address)),
        UiNode::submit(NodeGroup::Code, "code", UiText::info(1070005, "Submit")),
    ]
}
