//! Decoding domain objects from untrusted JSON: path-aware errors, then the object's own checks.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Error;

/// Rules a domain object checks beyond what its field types already guarantee (cross-field rules, free-text
/// limits). Constructors call it; so does [`from_json`], so decoded objects obey the same rules as built ones.
pub trait Validate {
    /// `Ok` when the object keeps every rule; otherwise the first broken rule, naming its field.
    fn validate(&self) -> Result<(), Error>;
}

/// Decodes a `T` from JSON text and validates it. Errors name the path of the bad field
/// (`credentials.password.config.hashed_password`), not only a line and column.
pub fn from_json<T: DeserializeOwned + Validate>(json: &str) -> Result<T, Error> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(path_error)?;
    deserializer.end().map_err(|e| Error::Json { path: ".".into(), message: e.to_string() })?;
    value.validate()?;
    Ok(value)
}

/// Decodes a `T` from a JSON value and validates it, like [`from_json`].
pub fn from_value<T: DeserializeOwned + Validate>(json: Value) -> Result<T, Error> {
    let value: T = serde_path_to_error::deserialize(json).map_err(path_error)?;
    value.validate()?;
    Ok(value)
}

fn path_error<E: std::fmt::Display>(error: serde_path_to_error::Error<E>) -> Error {
    Error::Json { path: error.path().to_string(), message: error.inner().to_string() }
}
