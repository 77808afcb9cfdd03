//! What is wrong with a traits document, field by field: a JSON pointer, a stable code and a message.

use std::fmt;

use jsonschema::error::ValidationErrorKind;
use serde::Serialize;

/// A stable name for each kind of schema violation. UIs and clients may match on [`ViolationCode::as_str`];
/// the message text may change, the code does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ViolationCode {
    /// A required property is missing (the pointer names it).
    Required,
    /// The value has the wrong JSON type.
    Type,
    /// A string does not have the required format (email, hostname, tel, ...).
    Format,
    /// A string does not match the required pattern.
    Pattern,
    /// The value is not one of the allowed values.
    Enum,
    /// The value is not the one allowed value.
    Const,
    /// A property is not allowed here (the pointer names it).
    AdditionalProperties,
    /// A property was not evaluated by any subschema (the pointer names it).
    UnevaluatedProperties,
    /// A string is too short.
    MinLength,
    /// A string is too long.
    MaxLength,
    /// A number is too small.
    Minimum,
    /// A number is too large.
    Maximum,
    /// A number is not a multiple of the required step.
    MultipleOf,
    /// An array has too few items.
    MinItems,
    /// An array has too many items.
    MaxItems,
    /// An array has duplicate items.
    UniqueItems,
    /// An array contains no matching item.
    Contains,
    /// An object has too few properties.
    MinProperties,
    /// An object has too many properties.
    MaxProperties,
    /// A property name is not allowed.
    PropertyNames,
    /// None, or more than one, of several alternative subschemas matched.
    Alternatives,
    /// The value matched a schema it must not match.
    Not,
    /// The schema allows no value here.
    FalseSchema,
    /// Anything else (content encoding, media type, an unevaluated array item, a regex that could not run).
    Other,
}

impl ViolationCode {
    /// The code as a snake_case string, such as `required` or `additional_properties`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ViolationCode::Required => "required",
            ViolationCode::Type => "type",
            ViolationCode::Format => "format",
            ViolationCode::Pattern => "pattern",
            ViolationCode::Enum => "enum",
            ViolationCode::Const => "const",
            ViolationCode::AdditionalProperties => "additional_properties",
            ViolationCode::UnevaluatedProperties => "unevaluated_properties",
            ViolationCode::MinLength => "min_length",
            ViolationCode::MaxLength => "max_length",
            ViolationCode::Minimum => "minimum",
            ViolationCode::Maximum => "maximum",
            ViolationCode::MultipleOf => "multiple_of",
            ViolationCode::MinItems => "min_items",
            ViolationCode::MaxItems => "max_items",
            ViolationCode::UniqueItems => "unique_items",
            ViolationCode::Contains => "contains",
            ViolationCode::MinProperties => "min_properties",
            ViolationCode::MaxProperties => "max_properties",
            ViolationCode::PropertyNames => "property_names",
            ViolationCode::Alternatives => "alternatives",
            ViolationCode::Not => "not",
            ViolationCode::FalseSchema => "false_schema",
            ViolationCode::Other => "other",
        }
    }

    fn of(kind: &ValidationErrorKind) -> Self {
        use ValidationErrorKind as K;
        match kind {
            K::Required { .. } => ViolationCode::Required,
            K::Type { .. } => ViolationCode::Type,
            K::Format { .. } => ViolationCode::Format,
            K::Pattern { .. } => ViolationCode::Pattern,
            K::Enum { .. } => ViolationCode::Enum,
            K::Constant { .. } => ViolationCode::Const,
            K::AdditionalProperties { .. } => ViolationCode::AdditionalProperties,
            K::UnevaluatedProperties { .. } => ViolationCode::UnevaluatedProperties,
            K::MinLength { .. } => ViolationCode::MinLength,
            K::MaxLength { .. } => ViolationCode::MaxLength,
            K::Minimum { .. } | K::ExclusiveMinimum { .. } => ViolationCode::Minimum,
            K::Maximum { .. } | K::ExclusiveMaximum { .. } => ViolationCode::Maximum,
            K::MultipleOf { .. } => ViolationCode::MultipleOf,
            K::MinItems { .. } => ViolationCode::MinItems,
            K::MaxItems { .. } | K::AdditionalItems { .. } => ViolationCode::MaxItems,
            K::UniqueItems => ViolationCode::UniqueItems,
            K::Contains => ViolationCode::Contains,
            K::MinProperties { .. } => ViolationCode::MinProperties,
            K::MaxProperties { .. } => ViolationCode::MaxProperties,
            K::PropertyNames { .. } => ViolationCode::PropertyNames,
            K::AnyOf { .. } | K::OneOfMultipleValid { .. } | K::OneOfNotValid { .. } => ViolationCode::Alternatives,
            K::Not { .. } => ViolationCode::Not,
            K::FalseSchema => ViolationCode::FalseSchema,
            _ => ViolationCode::Other,
        }
    }
}

impl fmt::Display for ViolationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing wrong with a traits document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Where, as a JSON pointer into the identity document (`/traits/email`). For a missing or unexpected
    /// property it points at that property, so a UI can put the message next to the right field.
    pub pointer: String,
    /// What kind of violation.
    pub code: ViolationCode,
    /// A human explanation.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]: {}", self.pointer, self.code, self.message)
    }
}

/// Turns one validator error into violations (an `additionalProperties` error lists several properties).
pub(crate) fn violations_of(error: &jsonschema::ValidationError<'_>, out: &mut Vec<Violation>) {
    let code = ViolationCode::of(error.kind());
    let at = error.instance_path().as_str();
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().map(str::to_owned).unwrap_or_else(|| property.to_string());
            out.push(Violation {
                pointer: crate::pointer::child(at, &name),
                code,
                message: format!("the property {name:?} is required"),
            });
        }
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            for name in unexpected {
                out.push(Violation {
                    pointer: crate::pointer::child(at, name),
                    code,
                    message: format!("the property {name:?} is not allowed"),
                });
            }
        }
        _ => out.push(Violation { pointer: at.to_owned(), code, message: error.to_string() }),
    }
}
