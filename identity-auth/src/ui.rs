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
    pub attributes: NodeAttributes,
    /// Messages about this field (validation errors).
    pub messages: Vec<UiText>,
    /// Presentation hints.
    pub meta: NodeMeta,
}

/// A node's attributes, told apart by `node_type` as in Kratos.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "node_type", rename_all = "lowercase")]
pub enum NodeAttributes {
    /// A form field.
    Input(InputAttributes),
    /// A text to show (a TOTP secret, backup codes).
    Text(TextAttributes),
}

/// A text node's attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextAttributes {
    /// The node's id (`totp_secret_key`, `lookup_secret_codes`).
    pub id: String,
    /// The text.
    pub text: UiText,
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

    /// An error message with Kratos' `id`.
    pub fn error(id: u64, text: impl Into<String>) -> Self {
        Self::new(id, text, TextType::Error)
    }

    /// An informational message with Kratos' `id`.
    pub fn info(id: u64, text: impl Into<String>) -> Self {
        Self::new(id, text, TextType::Info)
    }

    /// Kratos 4000002: a required field is missing.
    pub fn required(field: &str) -> Self {
        let mut text = Self::error(4000002, format!("Property {field} is missing."));
        text.context = Some(serde_json::json!({ "property": field }));
        text
    }

    /// Kratos 4000007: an identifier or address is taken.
    pub fn duplicate_identifier() -> Self {
        Self::error(4000007, "An account with the same identifier (email, phone, username, ...) exists already.")
    }

    /// Kratos 4000005: the password breaks the policy.
    pub fn password_refused(reason: &str) -> Self {
        let mut text = Self::error(4000005, format!("The password can not be used because {reason}."));
        text.context = Some(serde_json::json!({ "reason": reason }));
        text
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

impl UiContainer {
    /// The node named `name` (an input's name, or a text's id).
    pub fn node_mut(&mut self, name: &str) -> Option<&mut UiNode> {
        self.nodes.iter_mut().find(|node| node.name() == name)
    }

    /// Puts `text` on the node named `name`, or on the form if there is none.
    pub fn message_on(&mut self, name: &str, text: UiText) {
        match self.node_mut(name) {
            Some(node) => node.messages.push(text),
            None => self.messages.push(text),
        }
    }

    /// Removes every message, before a new submission is judged.
    pub fn clear_messages(&mut self) {
        self.messages.clear();
        for node in &mut self.nodes {
            node.messages.clear();
        }
    }

    /// Whether any message on the form or a node is an error (the flow is answered with 400).
    pub fn has_errors(&self) -> bool {
        let error = |text: &UiText| text.text_type == TextType::Error;
        self.messages.iter().any(error) || self.nodes.iter().any(|node| node.messages.iter().any(error))
    }
}

impl UiNode {
    /// An input node.
    pub fn input(group: NodeGroup, name: impl Into<String>, input_type: impl Into<String>) -> Self {
        Self {
            node_type: NodeType::Input,
            group,
            attributes: NodeAttributes::Input(InputAttributes {
                name: name.into(),
                input_type: input_type.into(),
                value: None,
                required: None,
                disabled: false,
                autocomplete: None,
            }),
            messages: Vec::new(),
            meta: NodeMeta::default(),
        }
    }

    /// A submit button choosing `method` (Kratos names it `method`, its value the method).
    pub fn submit(group: NodeGroup, method: &str, label: UiText) -> Self {
        Self::input(group, "method", "submit").with_value(serde_json::Value::from(method)).with_label(label)
    }

    /// A submit button setting the flag `name` (`totp_unlink`, `lookup_secret_regenerate`, ...).
    pub fn flag_button(group: NodeGroup, name: &str, label: UiText) -> Self {
        Self::input(group, name, "submit").with_value(serde_json::Value::Bool(true)).with_label(label)
    }

    /// A text node with `id`.
    pub fn text(group: NodeGroup, id: &str, text: UiText) -> Self {
        Self {
            node_type: NodeType::Text,
            group,
            attributes: NodeAttributes::Text(TextAttributes { id: id.to_owned(), text }),
            messages: Vec::new(),
            meta: NodeMeta::default(),
        }
    }

    /// The input's name, or the text's id.
    pub fn name(&self) -> &str {
        match &self.attributes {
            NodeAttributes::Input(input) => &input.name,
            NodeAttributes::Text(text) => &text.id,
        }
    }

    /// The input's attributes, if this is an input.
    pub fn input_attributes(&self) -> Option<&InputAttributes> {
        match &self.attributes {
            NodeAttributes::Input(input) => Some(input),
            NodeAttributes::Text(_) => None,
        }
    }

    fn input_mut(&mut self) -> Option<&mut InputAttributes> {
        match &mut self.attributes {
            NodeAttributes::Input(input) => Some(input),
            NodeAttributes::Text(_) => None,
        }
    }

    /// This node, marked required.
    pub fn required(mut self) -> Self {
        if let Some(input) = self.input_mut() {
            input.required = Some(true);
        }
        self
    }

    /// This node, with `value`.
    pub fn with_value(mut self, value: serde_json::Value) -> Self {
        self.set_value(Some(value));
        self
    }

    /// Sets or clears the input's value.
    pub fn set_value(&mut self, value: Option<serde_json::Value>) {
        if let Some(input) = self.input_mut() {
            input.value = value;
        }
    }

    /// This node, with a label.
    pub fn with_label(mut self, label: UiText) -> Self {
        self.meta.label = Some(label);
        self
    }

    /// This node, with an autocomplete hint.
    pub fn with_autocomplete(mut self, hint: impl Into<String>) -> Self {
        if let Some(input) = self.input_mut() {
            input.autocomplete = Some(hint.into());
        }
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
            .with_autocomplete("email");
        let json = serde_json::to_value(&node).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 5);
        for key in ["type", "group", "attributes", "messages", "meta"] {
            assert!(keys.contains(&key), "{key}");
        }
        assert_eq!(
            json["attributes"],
            json!({"name": "identifier", "type": "text", "required": true, "disabled": false,
                   "node_type": "input", "autocomplete": "email"})
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
