//! The input a decision takes besides the request (who the caller resolved the subject to) and its outcome.

use serde::{Deserialize, Serialize};

use super::principal::Principal;
use crate::compiled::CompiledAcl;

/// A way a request can prove who it comes from; a rule lists the ones it accepts, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Authenticator {
    /// A session cookie.
    CookieSession,
    /// A session token in `Authorization: Bearer` (or `X-Session-Token`).
    BearerSessionToken,
    /// A JWT access token in `Authorization: Bearer`.
    BearerJwt,
    /// Nobody in particular: always succeeds, as an anonymous subject.
    Anonymous,
}

impl Authenticator {
    /// The name used in rule files and in the `authenticator` header key.
    pub const fn as_str(self) -> &'static str {
        match self {
            Authenticator::CookieSession => "cookie_session",
            Authenticator::BearerSessionToken => "bearer_session_token",
            Authenticator::BearerJwt => "bearer_jwt",
            Authenticator::Anonymous => "anonymous",
        }
    }
}

/// Who the request comes from, as the caller resolved it before asking for a decision (checking a session or
/// a token is I/O, which a decision never does). Resolve at most the credentials the matched rule accepts:
/// [`Rules::matched`](crate::Rules::matched) tells which.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// No credential, or none that resolved to an active subject.
    Anonymous,
    /// A subject proven by a credential.
    Authenticated {
        /// The kind of credential that proved it.
        via: Authenticator,
        /// The subject.
        principal: &'a Principal,
        /// Its ACL in the organization the request concerns, for `scope` authorizers; `None` if it has none there
        /// (such authorizers then forbid).
        acl: Option<&'a CompiledAcl>,
    },
}

/// What the proxy should do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Let it through, setting these headers (name, value) on the upstream request.
    Allow(Vec<(String, String)>),
    /// It needs a (different) credential: answer 401, or send a browser to `login`, a URL that returns to the
    /// request's URL afterwards.
    Unauthorized {
        /// Where to send a browser; `None` for other clients or without a configured login URL.
        login: Option<String>,
    },
    /// Refuse it: answer 403.
    Forbidden,
}
