//! The one error type of this crate, and the [`Problem`]s a value can have.

/// Why a domain value could not be built or decoded. Every variant names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value handed to a constructor is not acceptable.
    #[error("invalid `{field}`: {problem}")]
    InvalidField {
        /// The field (or a dotted path to it) that holds the bad value.
        field: String,
        /// What is wrong with it.
        problem: Problem,
    },
    /// A JSON document does not decode into the domain type: a missing field, a wrong type, an unknown enum string
    /// or a value that fails its own validation.
    #[error("invalid JSON at `{path}`: {message}")]
    Json {
        /// Where in the document the decoder stopped, as a dotted path (`scopes.global[0].name`); `.` for the root.
        path: String,
        /// The decoder's explanation.
        message: String,
    },
}

/// What is wrong with one value. Combined with a field name by [`Problem::at`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The value is empty (or only white space) where something is required.
    #[error("must not be empty")]
    Empty,
    /// The value is longer than allowed.
    #[error("must be at most {max} bytes long")]
    TooLong {
        /// The largest length accepted, in bytes.
        max: usize,
    },
    /// The value contains a character that is not allowed in it.
    #[error("contains {0:?}, which is not allowed here")]
    ForbiddenCharacter(char),
    /// The value is a word this field reserves for another meaning.
    #[error("{0:?} is reserved")]
    Reserved(String),
    /// The value does not have the expected syntax.
    #[error("must be {expected}")]
    Malformed {
        /// What the value should look like.
        expected: &'static str,
    },
    /// An instant that must come after another one does not.
    #[error("must be later than `{earlier}`")]
    NotAfter {
        /// The field that holds the earlier instant.
        earlier: &'static str,
    },
    /// A number is outside the range allowed for it.
    #[error("must be between {min} and {max}")]
    OutOfRange {
        /// The smallest value accepted.
        min: u64,
        /// The largest value accepted.
        max: u64,
    },
    /// A string is not one of the names of a closed set.
    #[error("unknown value {value:?}; expected one of: {expected}")]
    UnknownVariant {
        /// The string that was given.
        value: String,
        /// The names that are accepted.
        expected: &'static str,
    },
    /// Two parts of a value contradict each other.
    #[error("{0}")]
    Inconsistent(&'static str),
}

impl Problem {
    /// This problem, found in `field`.
    pub fn at(self, field: impl Into<String>) -> Error {
        Error::InvalidField { field: field.into(), problem: self }
    }
}

/// Checks that `value` is neither empty nor only white space.
pub(crate) fn require_text(field: &str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(Problem::Empty.at(field));
    }
    Ok(())
}
