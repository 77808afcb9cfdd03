//! The UI description of a self-service flow, in Kratos' model, so that Ory's SDKs and UIs can render it: a
//! container with an action, a method, nodes (inputs grouped by method) and messages with Kratos' numeric ids.

use serde::{Deserialize, Serialize};

/// What a flow's UI says: where to post, how, which fields, and messages about the whole form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UiContainer {
    /// Where the form posts to.
    pub action: String,
    /// The HTTP method (`POST`).
    pub method: String,
    /// The fields and texts.
    pub nodes: Vec<UiNode>,
    /// Messages about the whole form.
    #[serde(default)]
    pub messages: Vec<UiText>,
}

/// The kinds of node; this workspace uses inputs and texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeType {
    /// A form field.
    Input,
    /// A text to show (a backup code, a TOTP secret).
    Text,
    /// An image (a QR code).
    Img,
    /// A link.
    A,
    /// A script.
    Script,
}

/// Which method a node belongs to; a UI shows one group per method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeGroup {
    /// Shared by every method (the CSRF token, the identifier).
    Default,
    /// Password.
    Password,
    /// TOTP.
    Totp,
    /// Backup codes.
    LookupSecret,
    /// Traits in settings.
    Profile,
    /// One-time codes.
    Code,
    /// Upstream providers.
    Oidc,
}

/// One field or text of a form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UiNode {
    /// The node's kind.
    #[serde(rename = "type")]
    pub node_type: NodeType,
    /// The method it belongs to.
    pub group: NodeGroup,
    /// Its attributes.
    pub attributes: InputAttributes,
    /// Messages about this field (validation errors).
    pub messages: Vec<UiText>,
    /// Presentation hints.
    pub meta: NodeMeta,
}

/// An input's attributes, as Kratos writes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputAttributes {
    /// The field's name (`identifier`, `password`, `traits.email`, `csrf_token`, `method`).
    pub name: String,
    /// The HTML input type (`text`, `password`, `email`, `hidden`, `submit`).
    #[serde(rename = "type")]
    pub input_type: String,
    /// The current value; never a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    /// Whether it must be filled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    /// Whether it is disabled.
    pub disabled: bool,
    /// Always `input` for inputs (Kratos repeats the node type here).
    pub node_type: String,
    /// The autocomplete hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autocomplete: Option<String>,
}

/// Presentation hints of a node.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NodeMeta {
    /// The label to show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<UiText>,
}

/// The kind of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextType {
    /// Informational.
    Info,
    /// Something went wrong.
    Error,
    /// Something went right.
    Success,
}

/// A message or label with Kratos' numeric id, so UIs can translate it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UiText {
    /// Kratos' message id (4000006 "invalid credentials", 1070001 "Password", ...).
    pub id: u64,
    /// The English text.
    pub text: String,
    /// Its kind.
    #[serde(rename = "type")]
    pub text_type: TextType,
    /// Values the text was made from (for translations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<serde_json::Value>,
}

impl UiText {
    /// A message with `id`, `text` and `text_type`.
    pub fn new(id: u64, text: impl Into<String>, text_type: TextType) -> Self {
        Self { id, text: text.into(), text_type, context: None }
    }

    /// Kratos 4000006: the identifier or password is wrong (deliberately not saying which).
    pub fn invalid_credentials() -> Self {
        Self::new(
            4000006,
            "The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number.",
            TextType::Error,
        )
    }

    /// Kratos 1070004: the label of the identifier field.
    pub fn label_identifier() -> Self {
        Self::new(1070004, "ID", TextType::Info)
    }

    /// Kratos 1070001: the label of the password field.
    pub fn label_password() -> Self {
        Self::new(1070001, "Password", TextType::Info)
    }
}

impl UiNode {
    /// An input node.
    pub fn input(group: NodeGroup, name: impl Into<String>, input_type: impl Into<String>) -> Self {
        Self {
            node_type: NodeType::Input,
            group,
            attributes: InputAttributes {
                name: name.into(),
                input_type: input_type.into(),
                value: None,
                required: None,
                disabled: false,
                node_type: "input".into(),
                autocomplete: None,
            },
            messages: Vec::new(),
            meta: NodeMeta::default(),
        }
    }

    /// This node, marked required.
    pub fn required(mut self) -> Self {
        self.attributes.required = Some(true);
        self
    }

    /// This node, with `value`.
    pub fn with_value(mut self, value: serde_json::Value) -> Self {
        self.attributes.value = Some(value);
        self
    }

    /// This node, with a label.
    pub fn with_label(mut self, label: UiText) -> Self {
        self.meta.label = Some(label);
        self
    }

    /// This node, with an autocomplete hint.
    pub fn with_autocomplete(mut self, hint: impl Into<String>) -> Self {
        self.attributes.autocomplete = Some(hint.into());
        self
    }

    /// The hidden CSRF token node of browser flows.
    pub fn csrf_token(token: &str) -> Self {
        Self::input(NodeGroup::Default, "csrf_token", "hidden").required().with_value(serde_json::Value::from(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nodes_serialise_with_all_five_kratos_keys() {
        let node = UiNode::input(NodeGroup::Default, "identifier", "text")
            .required()
            .with_label(UiText::label_identifier())
            .with_autocomplete("username");
        let json = serde_json::to_value(&node).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 5);
        for key in ["type", "group", "attributes", "messages", "meta"] {
            assert!(keys.contains(&key), "{key}");
        }
        assert_eq!(
            json["attributes"],
            json!({"name": "identifier", "type": "text", "required": true, "disabled": false,
                   "node_type": "input", "autocomplete": "username"})
        );
        assert_eq!(json["meta"]["label"], json!({"id": 1070004, "text": "ID", "type": "info"}));
        assert_eq!(serde_json::from_value::<UiNode>(json).unwrap(), node);
    }

    #[test]
    fn message_ids_are_integers_and_types_are_kratos_names() {
        let json = serde_json::to_value(UiText::invalid_credentials()).unwrap();
        assert!(json["id"].is_u64());
        assert_eq!(json["id"], 4000006);
        assert_eq!(json["type"], "error");
        assert!(serde_json::from_value::<UiText>(json!({"id": "4000006", "text": "x", "type": "error"})).is_err());
        assert!(serde_json::from_value::<UiText>(json!({"id": 1, "text": "x", "type": "warning"})).is_err());
    }

    #[test]
    fn the_csrf_node_is_hidden_and_carries_the_token() {
        let json = serde_json::to_value(UiNode::csrf_token("tok")).unwrap();
        assert_eq!((json["group"].as_str(), json["attributes"]["type"].as_str()), (Some("default"), Some("hidden")));
        assert_eq!(json["attributes"]["value"], "tok");
    }
}
