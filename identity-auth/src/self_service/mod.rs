//! The self-service flows end users live through, in Kratos' model: registration, login (with a second step,
//! re-authentication and upgrade to aal2), settings, recovery and verification by code, and logout. Each is a
//! state machine over the store: create a flow, submit a method with its fields, get the flow back (at its next
//! step, or with field-level messages) or the finished result. The server only maps these calls to HTTP.

mod code_flow;
mod fields;
mod login;
mod nodes;
mod recovery;
mod registration;
mod settings;
mod verification;

use std::sync::Arc;

use identity_core::time::Duration;
use identity_core::{AddressVia, Clock, FlowId, Identity, IdentityId, SecretBytes, Session};
use identity_schema::SchemaRegistry;
use identity_store::{CodePurpose, OneTimeCode, Store};

use crate::authenticator::Authenticator;
use crate::courier::{Courier, MessageKind, Templates};
use crate::error::Error;
use crate::flow::{Flow, FlowKind, FlowSettings, Flows, LoadedFlow};
use crate::password::PasswordPolicy;
use crate::session::{ClientInfo, RequiredAal, Sessions};
use crate::throttle::{RateLimit, Throttle};
use crate::token::{hash_code, random_code};

pub use login::{LoggedIn, LoginRequest};
pub use recovery::{Recovered, RecoveryCode};
pub use registration::Registered;
pub use verification::Verified;

/// How the self-service flows behave.
#[derive(Debug, Clone)]
pub struct SelfServiceSettings {
    /// Flow lifespan and the public URL forms post to.
    pub flows: FlowSettings,
    /// What new passwords must satisfy.
    pub password_policy: PasswordPolicy,
    /// The texts of recovery and verification messages.
    pub templates: Templates,
    /// Whether registration signs the new identity in (Kratos' `session` hook; default on).
    pub session_after_registration: bool,
    /// How long a recovery or verification code lasts (default 1 hour).
    pub code_lifespan: Duration,
    /// How many codes may be tried in one recovery or verification flow (default 5, Kratos' `max_submissions`).
    pub code_max_submissions: u32,
}

impl Default for SelfServiceSettings {
    fn default() -> Self {
        Self {
            flows: FlowSettings::default(),
            password_policy: PasswordPolicy::default(),
            templates: Templates::default(),
            session_after_registration: true,
            code_lifespan: Duration::hours(1),
            code_max_submissions: 5,
        }
    }
}

/// What a client submitted to a flow: the method, its fields (a JSON object, as Kratos' JSON bodies; form
/// bodies map onto it with dotted names such as `traits.email`), and the request's context. Its `Debug` shows
/// only the method and the field names: the values hold passwords and codes.
#[derive(Clone, Default)]
pub struct Submission {
    /// The method (`password`, `totp`, `lookup_secret`, `profile`, `code`).
    pub method: String,
    /// The method's fields.
    pub fields: serde_json::Value,
    /// The CSRF token from the body or the `X-CSRF-Token` header (browser flows).
    pub csrf_token: Option<String>,
    /// The session token or cookie the request carried (settings, login refresh and upgrade).
    pub session_token: Option<String>,
    /// Where the request came from.
    pub client: ClientInfo,
}

impl std::fmt::Debug for Submission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> =
            self.fields.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
        f.debug_struct("Submission")
            .field("method", &self.method)
            .field("fields", &names)
            .field("csrf_token", &self.csrf_token.as_ref().map(|_| "***"))
            .field("session_token", &self.session_token.as_ref().map(|_| "***"))
            .field("client", &self.client)
            .finish()
    }
}

impl Submission {
    /// `method` with `fields`, from an unknown client, without CSRF token or session.
    pub fn new(method: &str, fields: serde_json::Value) -> Self {
        Self { method: method.to_owned(), fields, ..Self::default() }
    }

    /// This submission, carrying the browser flow's CSRF token.
    pub fn with_csrf(mut self, token: &str) -> Self {
        self.csrf_token = Some(token.to_owned());
        self
    }

    /// This submission, made with a session.
    pub fn with_session(mut self, token: &str) -> Self {
        self.session_token = Some(token.to_owned());
        self
    }

    /// This submission, from `client`.
    pub fn from_client(mut self, client: ClientInfo) -> Self {
        self.client = client;
        self
    }
}

/// What a submission led to.
#[derive(Debug)]
pub enum Submitted<T> {
    /// The flow again: at its next step, or with messages on its fields when [`Flow::has_errors`] (Kratos
    /// answers the latter with 400 and the flow).
    Flow(Box<Flow>),
    /// The flow finished.
    Done(T),
}

impl<T> Submitted<T> {
    /// The flow, if the flow goes on.
    pub fn flow(&self) -> Option<&Flow> {
        match self {
            Submitted::Flow(flow) => Some(flow),
            Submitted::Done(_) => None,
        }
    }

    /// The result, if the flow finished.
    pub fn done(self) -> Option<T> {
        match self {
            Submitted::Flow(_) => None,
            Submitted::Done(done) => Some(done),
        }
    }
}

/// The self-service flows over one store.
pub struct SelfService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    flows: Flows,
    sessions: Arc<Sessions>,
    authenticator: Arc<Authenticator>,
    schemas: Arc<SchemaRegistry>,
    courier: Arc<dyn Courier>,
    code_key: SecretBytes,
    throttle: Throttle,
    settings: SelfServiceSettings,
}

impl std::fmt::Debug for SelfService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelfService").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// What [`SelfService::new`] is assembled from.
pub struct SelfServiceParts {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Checks passwords and second factors (its TOTP verifier and backup codes are offered in settings).
    pub authenticator: Arc<Authenticator>,
    /// Issues and checks sessions.
    pub sessions: Arc<Sessions>,
    /// The identity schemas; registration uses the default one.
    pub schemas: Arc<SchemaRegistry>,
    /// Delivers recovery and verification codes.
    pub courier: Arc<dyn Courier>,
    /// The key codes are hashed with (at least 32 bytes; keep it stable across restarts and replicas).
    pub code_key: SecretBytes,
}

impl SelfService {
    /// The flows assembled from `parts`, behaving as `settings` says.
    pub fn new(parts: SelfServiceParts, settings: SelfServiceSettings) -> Result<Self, Error> {
        if parts.code_key.expose_secret().len() < 32 {
            return Err(Error::InvalidConfig { field: "code_key", reason: "must be at least 32 bytes".into() });
        }
        if !settings.code_lifespan.is_positive() || settings.code_max_submissions == 0 {
            return Err(Error::InvalidConfig {
                field: "self_service.code",
                reason: "the code lifespan and the number of submissions must be positive".into(),
            });
        }
        let flows = Flows::new(parts.store.clone(), parts.clock.clone(), settings.flows.clone())?;
        Ok(Self {
            throttle: parts.authenticator.throttle().clone(),
            store: parts.store,
            clock: parts.clock,
            flows,
            sessions: parts.sessions,
            authenticator: parts.authenticator,
            schemas: parts.schemas,
            courier: parts.courier,
            code_key: parts.code_key,
            settings,
        })
    }

    /// The flow `id` of `kind` as it stands (Kratos' `GET /self-service/<kind>/flows?id=`). A browser flow is
    /// shown only with its CSRF token (from the cookie), since the flow carries it; a settings flow only to the
    /// session that owns it ([`Error::IdentityMismatch`]), since it shows the identity's traits.
    pub async fn flow(
        &self,
        id: FlowId,
        kind: FlowKind,
        csrf_token: Option<&str>,
        session_token: Option<&str>,
    ) -> Result<Flow, Error> {
        let mut loaded = self.flows.load(id, kind).await?;
        loaded.check_csrf(csrf_token)?;
        loaded.show_csrf(csrf_token);
        if kind == FlowKind::Settings {
            self.session_of(session_token, loaded.identity_id).await?;
        }
        Ok(loaded.flow)
    }

    /// Signs out: revokes the session `token` stands for. [`Error::SessionInactive`] if it is not active.
    pub async fn logout(&self, token: &str) -> Result<(), Error> {
        let (session, identity) = self.sessions.check(token, RequiredAal::Aal1).await?;
        self.sessions.revoke(identity.id, session.id).await
    }

    /// A logout token for the session `token` stands for (Kratos' browser logout): the session's id and a keyed
    /// MAC of it, so a link can sign out that session and no other, without storing anything.
    pub async fn logout_token(&self, token: &str) -> Result<identity_core::SecretString, Error> {
        let (session, _) = self.sessions.check(token, RequiredAal::Aal1).await?;
        let mac = hash_code(&self.code_key, b"logout", &session.id.to_string());
        Ok(identity_core::SecretString::new(format!("{}.{}", session.id, mac.to_hex())))
    }

    /// Signs out the session a [`logout_token`](Self::logout_token) names. A forged or garbled token is
    /// [`Error::SessionInactive`], as is a session already gone.
    pub async fn logout_with_token(&self, logout_token: &str) -> Result<(), Error> {
        let (id, mac) = logout_token.split_once('.').ok_or(Error::SessionInactive)?;
        let session: identity_core::SessionId = id.parse().map_err(|_| Error::SessionInactive)?;
        let expected = hash_code(&self.code_key, b"logout", &session.to_string());
        let presented: identity_core::TokenHash = mac.parse().map_err(|_| Error::SessionInactive)?;
        if presented != expected {
            return Err(Error::SessionInactive);
        }
        let stored = match self.store.session(session).await {
            Ok(stored) => stored,
            Err(identity_store::Error::NotFound { .. }) => return Err(Error::SessionInactive),
            Err(other) => return Err(other.into()),
        };
        if !stored.is_valid_at(self.clock.now()) {
            return Err(Error::SessionInactive);
        }
        self.sessions.revoke(stored.identity_id, stored.id).await
    }

    /// Loads flow `id` of `kind` for a submission, checking its CSRF token and clearing old messages.
    async fn load_for(&self, id: FlowId, kind: FlowKind, submission: &Submission) -> Result<LoadedFlow, Error> {
        let mut loaded = self.flows.load(id, kind).await?;
        loaded.check_csrf(submission.csrf_token.as_deref())?;
        loaded.show_csrf(submission.csrf_token.as_deref());
        loaded.flow.ui.clear_messages();
        Ok(loaded)
    }

    /// Saves the flow and hands it back to show again.
    async fn show<T>(&self, loaded: LoadedFlow) -> Result<Submitted<T>, Error> {
        self.flows.save(&loaded).await?;
        Ok(Submitted::Flow(Box::new(loaded.flow)))
    }

    /// The session `token` stands for (any assurance level), which must belong to `identity` when given.
    async fn session_of(
        &self,
        token: Option<&str>,
        identity: Option<IdentityId>,
    ) -> Result<(Session, Identity), Error> {
        let token = token.ok_or(Error::SessionInactive)?;
        let (session, owner) = self.sessions.check(token, RequiredAal::Aal1).await?;
        if identity.is_some_and(|expected| expected != owner.id) {
            return Err(Error::IdentityMismatch);
        }
        Ok((session, owner))
    }

    /// Sends a fresh code for `purpose` to `address` of `identity`, bound to flow `flow`. Delivery failures are
    /// not the user's concern (and must not tell whether the address exists): the flow goes on either way.
    async fn send_code(
        &self,
        purpose: CodePurpose,
        identity: IdentityId,
        address: &str,
        via: AddressVia,
        flow: FlowId,
    ) -> Result<(), Error> {
        if purpose == CodePurpose::Recovery {
            // One live recovery code per identity: requesting codes again does not add chances to guess one.
            self.store.delete_codes_of(identity, purpose).await?;
        }
        let expires_at = self.clock.now().checked_add(self.settings.code_lifespan);
        let expires_at = expires_at.ok_or(Error::Internal { reason: "code lifespan".into() })?;
        let code = self.store_code(purpose, identity, Some(address), flow, expires_at).await?;
        let kind = match purpose {
            CodePurpose::Recovery => MessageKind::RecoveryCode,
            CodePurpose::Verification | CodePurpose::Login => MessageKind::VerificationCode,
        };
        let link = match purpose {
            CodePurpose::Recovery => self.flow_link(FlowKind::Recovery, flow),
            CodePurpose::Verification | CodePurpose::Login => self.flow_link(FlowKind::Verification, flow),
        };
        let lifespan = self.settings.code_lifespan;
        let message = self.settings.templates.render(kind, address, via, &code, lifespan, &link);
        // Sent or not, the answer is the same; the courier reports its own failures.
        let _ = self.courier.send(message).await;
        Ok(())
    }

    /// Where a person opens flow `flow` of `kind` (Kratos' `<public>/self-service/<kind>?flow=<id>`).
    fn flow_link(&self, kind: FlowKind, flow: FlowId) -> String {
        format!("{}/self-service/{}?flow={flow}", self.settings.flows.public_url.trim_end_matches('/'), kind.as_str())
    }

    /// Makes a six-digit code for `purpose` and stores its hash, bound to `flow`, until `expires_at`.
    async fn store_code(
        &self,
        purpose: CodePurpose,
        identity: IdentityId,
        address: Option<&str>,
        flow: FlowId,
        expires_at: identity_core::time::OffsetDateTime,
    ) -> Result<identity_core::SecretString, Error> {
        let code = random_code(b"0123456789", 6)?;
        self.store
            .insert_code(&OneTimeCode {
                hash: self.code_hash(flow, code.expose_secret()),
                purpose,
                identity_id: Some(identity),
                address: address.map(str::to_owned),
                flow_id: Some(flow),
                created_at: self.clock.now(),
                expires_at,
            })
            .await?;
        Ok(code)
    }

    /// The stored form of a code: keyed, and bound to its flow, so six digits cannot collide across flows.
    fn code_hash(&self, flow: FlowId, code: &str) -> identity_core::TokenHash {
        hash_code(&self.code_key, flow.as_uuid().as_bytes(), code.trim())
    }

    /// At most `code_max_submissions` within what is left of `flow`'s life: the limit on the codes one flow may
    /// try, and on the codes it may send.
    fn per_flow(&self, flow: &Flow) -> RateLimit {
        let left = (flow.expires_at - self.clock.now()).max(Duration::seconds(1));
        RateLimit { max_failures: self.settings.code_max_submissions, window: left }
    }

    /// Counts a code submission in `flow` (atomically, across replicas) and says whether it is past the limit.
    async fn code_tries_exhausted(&self, flow: &Flow) -> Result<bool, Error> {
        let key = format!("flow-code:{}", flow.id);
        match self.throttle.count_attempt(&key, Some(self.per_flow(flow)), self.clock.now()).await {
            Ok(()) => Ok(false),
            Err(Error::RateLimited { .. }) => Ok(true),
            Err(other) => Err(other),
        }
    }

    /// The schema `identity`'s traits follow.
    fn schema_of(&self, identity: &Identity) -> Result<&identity_schema::IdentitySchema, Error> {
        Ok(self.schemas.get_or_default(Some(&identity.schema_id))?)
    }
}

/// Replaces the flow's form with `nodes`, keeping its CSRF token node.
fn set_nodes(flow: &mut Flow, nodes: Vec<crate::ui::UiNode>) {
    let csrf = flow.ui.nodes.iter().find(|node| node.name() == "csrf_token").cloned();
    flow.ui.nodes = csrf.into_iter().chain(nodes).collect();
}

/// Puts each schema violation on the field it is about (`/traits/email` -> `traits.email`).
fn show_violations(flow: &mut Flow, violations: &[identity_schema::Violation]) {
    use identity_schema::ViolationCode;
    for violation in violations {
        let field: Vec<String> = violation
            .pointer
            .trim_start_matches('/')
            .split('/')
            .map(|segment| segment.replace("~1", "/").replace("~0", "~"))
            .collect();
        let field = field.join(".");
        let text = match violation.code {
            ViolationCode::Required => crate::ui::UiText::required(field.rsplit('.').next().unwrap_or(&field)),
            ViolationCode::MinLength => crate::ui::UiText::error(4000003, violation.message.clone()),
            ViolationCode::Format => crate::ui::UiText::error(4000004, violation.message.clone()),
            _ => crate::ui::UiText::error(4000001, violation.message.clone()),
        };
        flow.ui.message_on(&field, text);
    }
}

/// The messages a password refused by the policy gets; other errors are not the user's to fix.
fn password_refusal(error: Error) -> Result<crate::ui::UiText, Error> {
    match error {
        Error::PasswordTooShort { .. }
        | Error::PasswordTooLong { .. }
        | Error::PasswordTooSimilar
        | Error::PasswordTooWeak { .. } => Ok(crate::ui::UiText::password_refused(&error.to_string())),
        other => Err(other),
    }
}
