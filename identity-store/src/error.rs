//! The one error type of this crate.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The object does not exist.
    #[error("{what} `{id}` not found")]
    NotFound {
        /// The kind of object (`identity`, `session`, ...).
        what: &'static str,
        /// The id or key asked for.
        id: String,
    },
    /// A unique value is taken: a login identifier, an external id, a name. Nothing was written.
    #[error("{field} `{value}` is already taken")]
    Conflict {
        /// What must be unique (`password identifier`, `external_id`, `organization name`, ...).
        field: String,
        /// The value that is taken.
        value: String,
    },
    /// The input breaks a limit of the store (oversized traits, a page size over the maximum, a bad page token).
    #[error("invalid `{field}`: {reason}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The backend cannot be reached, or has no connection to spare. Retrying later may succeed.
    #[error("the store is unavailable: {source}")]
    Unavailable {
        /// The backend's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Stored data does not decode: a row written by something else, or damaged.
    #[error("stored {what} `{id}` does not decode: {reason}")]
    Corrupt {
        /// The kind of object.
        what: &'static str,
        /// Its id or key.
        id: String,
        /// The decoder's explanation.
        reason: String,
    },
    /// The database's schema was written by a newer version of this crate; refusing to touch it.
    #[error(
        "the database is at schema version {found}, newer than the {supported} this build knows; upgrade the software"
    )]
    SchemaTooNew {
        /// The version found in the database.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The database's schema is older than this build needs: run the migrations.
    #[error(
        "the database is at schema version {found}, older than the {required} this build needs; run the migrations"
    )]
    SchemaTooOld {
        /// The version found in the database.
        found: i64,
        /// The version this build needs.
        required: i64,
    },
    /// Anything else the backend reported (a bug, a permission problem). Not retryable.
    #[error("the store failed: {source}")]
    Backend {
        /// The backend's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// Whether retrying the same operation later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unavailable { .. })
    }

    pub(crate) fn not_found(what: &'static str, id: impl ToString) -> Self {
        Error::NotFound { what, id: id.to_string() }
    }

    pub(crate) fn conflict(field: impl Into<String>, value: impl Into<String>) -> Self {
        Error::Conflict { field: field.into(), value: value.into() }
    }

    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pub(crate) fn corrupt(what: &'static str, id: impl ToString, reason: impl ToString) -> Self {
        Error::Corrupt { what, id: id.to_string(), reason: reason.to_string() }
    }
}
