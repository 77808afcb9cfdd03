//! What every self-service flow shares (Kratos' model): an id, a kind, an API or browser type, a lifespan, the
//! request that started it, a state, the UI to render, and for browser flows a CSRF token bound to a cookie.
//! Flows live in the store between requests; loading one checks it exists and has not lapsed.

use std::sync::Arc;

use identity_core::time::{Duration, OffsetDateTime};
use identity_core::{AssuranceLevel, Clock, FlowId, IdentityId, SecretString, TokenHash};
use identity_store::{FlowRecord, Store};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::error::Error;
use crate::token::{hash_token, random_token};
use crate::ui::{UiContainer, UiNode};

/// What a flow is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowKind {
    /// Signing in.
    Login,
    /// Signing up.
    Registration,
    /// Changing one's profile or credentials.
    Settings,
    /// Recovering an account.
    Recovery,
    /// Verifying an address.
    Verification,
}

impl FlowKind {
    /// The name in paths and storage (`login`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            FlowKind::Login => "login",
            FlowKind::Registration => "registration",
            FlowKind::Settings => "settings",
            FlowKind::Recovery => "recovery",
            FlowKind::Verification => "verification",
        }
    }
}

/// Who drives the flow: a native app through the API, or a browser with cookies (and so with CSRF protection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowType {
    /// A native or API client.
    Api,
    /// A browser.
    Browser,
}

/// A flow, serialised in Kratos' shape (`id`, `type`, `expires_at`, `issued_at`, `request_url`, `state`, `ui`,
/// `refresh`, `requested_aal`, `return_to`); what only the server needs is kept out of the JSON it shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    /// The flow's id.
    pub id: FlowId,
    /// API or browser.
    #[serde(rename = "type")]
    pub flow_type: FlowType,
    /// When it lapses.
    #[serde(with = "identity_core::time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// When it started.
    #[serde(with = "identity_core::time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// The URL of the request that started it.
    pub request_url: String,
    /// Where to send the user afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
    /// The flow's progress, as Kratos names it (`choose_method`, `sent_email`, `passed_challenge`, ...).
    pub state: String,
    /// The form to render.
    pub ui: UiContainer,
    /// Whether a login flow re-authenticates an existing session.
    #[serde(default)]
    pub refresh: bool,
    /// The assurance level a login flow is asked to reach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_aal: Option<AssuranceLevel>,
    /// What kind of flow this is (part of the path, not of Kratos' JSON).
    #[serde(skip_serializing, default = "unknown_kind")]
    pub kind: FlowKind,
}

impl Flow {
    /// Whether the flow carries an error message (on the form or a field): the submission was refused.
    pub fn has_errors(&self) -> bool {
        self.ui.has_errors()
    }
}

fn unknown_kind() -> FlowKind {
    FlowKind::Login
}

/// The stored form: the flow plus what stays on the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredFlow {
    kind: FlowKind,
    flow: Flow,
    identity_id: Option<IdentityId>,
    /// The hash of the CSRF token of a browser flow.
    csrf: Option<TokenHash>,
    /// Method-specific progress (a pending second factor, a code's address).
    data: serde_json::Value,
}

/// A flow loaded from the store, with its server-side parts.
#[derive(Debug, Clone)]
pub struct LoadedFlow {
    /// The flow.
    pub flow: Flow,
    /// The identity it acts for, once known.
    pub identity_id: Option<IdentityId>,
    /// Method-specific progress.
    pub data: serde_json::Value,
    csrf: Option<TokenHash>,
}

impl LoadedFlow {
    /// Refuses a browser flow submitted without the CSRF token its cookie carries ([`Error::CsrfViolation`]).
    /// API flows have no cookie, so nothing to check.
    pub fn check_csrf(&self, token: Option<&str>) -> Result<(), Error> {
        let Some(expected) = &self.csrf else { return Ok(()) };
        let presented = token.map(hash_token).ok_or(Error::CsrfViolation)?;
        if bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) { Ok(()) } else { Err(Error::CsrfViolation) }
    }

    /// Puts `token` (already checked by [`check_csrf`](Self::check_csrf)) back into the flow's `csrf_token` node:
    /// the store keeps only its hash, so a flow comes back from the store with the node empty.
    pub(crate) fn show_csrf(&mut self, token: Option<&str>) {
        if let (Some(_), Some(token)) = (&self.csrf, token) {
            set_csrf_node(&mut self.flow, Some(token));
        }
    }

    /// Refuses a method this flow does not offer ([`Error::WrongFlowMethod`]).
    pub fn check_method(&self, method: &str, offered: &[&'static str]) -> Result<(), Error> {
        if offered.contains(&method) { Ok(()) } else { Err(Error::WrongFlowMethod { offered: offered.to_vec() }) }
    }
}

/// What a client asked for when starting a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRequest {
    /// API or browser.
    pub flow_type: FlowType,
    /// The URL of the request that started it.
    pub request_url: String,
    /// Where to send the user afterwards. The caller checks it against its allowed return URLs first.
    pub return_to: Option<String>,
    /// Login: re-authenticate the current session.
    pub refresh: bool,
    /// Login: the assurance level to reach.
    pub requested_aal: Option<AssuranceLevel>,
}

impl FlowRequest {
    /// A request of `flow_type` made at `request_url`, without options.
    pub fn new(flow_type: FlowType, request_url: &str) -> Self {
        Self { flow_type, request_url: request_url.to_owned(), return_to: None, refresh: false, requested_aal: None }
    }
}

/// How a flow starts besides what the client asked: its form, state and messages, lifespan, the identity it acts
/// for, and server-side progress.
#[derive(Debug, Clone)]
pub struct FlowStart {
    /// The form.
    pub nodes: Vec<UiNode>,
    /// The state (`choose_method` unless the flow starts further on, e.g. `sent_email`).
    pub state: String,
    /// Messages on the form.
    pub messages: Vec<crate::ui::UiText>,
    /// How long it lasts, if not the configured lifespan.
    pub lifespan: Option<Duration>,
    /// The identity it acts for, once known.
    pub identity_id: Option<IdentityId>,
    /// Method-specific progress.
    pub data: serde_json::Value,
}

impl FlowStart {
    /// A flow in state `choose_method` with `nodes`, no messages, the configured lifespan, no identity yet.
    pub fn new(nodes: Vec<UiNode>) -> Self {
        Self {
            nodes,
            state: "choose_method".into(),
            messages: Vec::new(),
            lifespan: None,
            identity_id: None,
            data: serde_json::Value::Null,
        }
    }
}

/// A flow just created, with the CSRF token to set as a cookie (browser flows only), once.
#[derive(Debug)]
pub struct CreatedFlow {
    /// The flow.
    pub flow: Flow,
    /// The CSRF token for the cookie and the form's hidden field.
    pub csrf_token: Option<SecretString>,
}

/// How flows behave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSettings {
    /// How long a flow lasts (default 1 hour).
    pub lifespan: Duration,
    /// The public base URL forms post to (`<public_url>/self-service/<kind>?flow=<id>`); default
    /// `http://127.0.0.1:4433`, the public listener's default address.
    pub public_url: String,
}

impl Default for FlowSettings {
    fn default() -> Self {
        Self { lifespan: Duration::hours(1), public_url: "http://127.0.0.1:4433".into() }
    }
}

/// Creates, loads and saves flows.
pub struct Flows {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    settings: FlowSettings,
}

impl std::fmt::Debug for Flows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flows").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Flows {
    /// Flows over `store`, with time from `clock`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, settings: FlowSettings) -> Result<Self, Error> {
        if !settings.lifespan.is_positive() {
            return Err(Error::InvalidConfig { field: "flows.lifespan", reason: "must be positive".into() });
        }
        Ok(Self { store, clock, settings })
    }

    /// The settings in force.
    pub fn settings(&self) -> &FlowSettings {
        &self.settings
    }

    /// Starts a flow of `kind` with `nodes` as its form, posting to the public URL of its kind. Browser flows get
    /// a CSRF token (and its hidden node); its hash stays on the server.
    pub async fn create(
        &self,
        kind: FlowKind,
        request: &FlowRequest,
        nodes: Vec<UiNode>,
        identity_id: Option<IdentityId>,
        data: serde_json::Value,
    ) -> Result<CreatedFlow, Error> {
        self.start(kind, request, FlowStart { identity_id, data, ..FlowStart::new(nodes) }).await
    }

    /// Starts a flow of `kind` as `start` says (a state other than `choose_method`, messages, another lifespan),
    /// in one store write.
    pub async fn start(&self, kind: FlowKind, request: &FlowRequest, start: FlowStart) -> Result<CreatedFlow, Error> {
        let FlowStart { mut nodes, state, messages, lifespan, identity_id, data } = start;
        let now = self.clock.now();
        let flow_type = request.flow_type;
        let csrf_token = match flow_type {
            FlowType::Browser => Some(random_token()?),
            FlowType::Api => None,
        };
        if let Some(token) = &csrf_token {
            nodes.insert(0, UiNode::csrf_token(token.expose_secret()));
        }
        let lifespan = lifespan.unwrap_or(self.settings.lifespan);
        if !lifespan.is_positive() {
            return Err(Error::InvalidConfig { field: "lifespan", reason: "must be positive".into() });
        }
        let expires_at = now.checked_add(lifespan).ok_or(Error::Internal { reason: "lifespan".into() })?;
        let id = FlowId::new();
        let action =
            format!("{}/self-service/{}?flow={id}", self.settings.public_url.trim_end_matches('/'), kind.as_str());
        let flow = Flow {
            id,
            flow_type,
            expires_at,
            issued_at: now,
            request_url: request.request_url.clone(),
            return_to: request.return_to.clone(),
            state,
            ui: UiContainer { action, method: "POST".into(), nodes, messages },
            refresh: request.refresh,
            requested_aal: request.requested_aal,
            kind,
        };
        let stored = StoredFlow {
            kind,
            flow: flow.clone(),
            identity_id,
            csrf: csrf_token.as_ref().map(|token| hash_token(token.expose_secret())),
            data,
        };
        self.store.insert_flow(&record(&stored)?).await?;
        Ok(CreatedFlow { flow, csrf_token })
    }

    /// The flow `id` of `kind`: [`Error::FlowNotFound`] if there is none of that kind, [`Error::FlowExpired`]
    /// once it lapsed.
    pub async fn load(&self, id: FlowId, kind: FlowKind) -> Result<LoadedFlow, Error> {
        let record = match self.store.flow(id).await {
            Ok(record) => record,
            Err(identity_store::Error::NotFound { .. }) => return Err(Error::FlowNotFound),
            Err(other) => return Err(other.into()),
        };
        let stored: StoredFlow = serde_json::from_value(record.document)
            .map_err(|e| identity_store::Error::Corrupt { what: "flow", id: id.to_string(), reason: e.to_string() })?;
        if stored.kind != kind {
            return Err(Error::FlowNotFound);
        }
        if self.clock.now() >= stored.flow.expires_at {
            return Err(Error::FlowExpired);
        }
        let mut flow = stored.flow;
        flow.kind = stored.kind;
        Ok(LoadedFlow { flow, identity_id: stored.identity_id, data: stored.data, csrf: stored.csrf })
    }

    /// Forgets a finished flow, so it cannot be submitted again.
    pub async fn delete(&self, id: FlowId) -> Result<(), Error> {
        match self.store.delete_flow(id).await {
            Ok(()) | Err(identity_store::Error::NotFound { .. }) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }

    /// Stores the flow's new state (its UI with messages, its progress).
    pub async fn save(&self, loaded: &LoadedFlow) -> Result<(), Error> {
        let stored = StoredFlow {
            kind: loaded.flow.kind,
            flow: loaded.flow.clone(),
            identity_id: loaded.identity_id,
            csrf: loaded.csrf,
            data: loaded.data.clone(),
        };
        Ok(self.store.update_flow(&record(&stored)?).await?)
    }
}

fn record(stored: &StoredFlow) -> Result<FlowRecord, Error> {
    // The CSRF token is a secret like any other: only its hash (`csrf`) is stored, never the form's copy of it.
    let mut stored = stored.clone();
    set_csrf_node(&mut stored.flow, None);
    Ok(FlowRecord {
        id: stored.flow.id,
        kind: stored.kind.as_str().to_owned(),
        identity_id: stored.identity_id,
        expires_at: stored.flow.expires_at,
        document: serde_json::to_value(&stored).map_err(|e| Error::Internal { reason: format!("flow: {e}") })?,
    })
}

/// Fills (or empties) the value of `flow`'s `csrf_token` node, if it has one.
fn set_csrf_node(flow: &mut Flow, token: Option<&str>) {
    for node in flow.ui.nodes.iter_mut().filter(|node| node.name() == "csrf_token") {
        node.set_value(Some(serde_json::Value::from(token.unwrap_or_default())));
    }
}
