//! Sign-in through upstream identity providers (Kratos' `oidc` method) over identity-oidc's federation: the
//! providers kept in the store and managed on the admin listener ([`admin`]), a login or registration flow
//! submitted with `method: "oidc"` sending the browser to the upstream, and the upstream's callback signing the
//! linked identity in ([`login`]).
//!
//! A started login stays on the server, in a store document found by the hash of its `state` and bound to its
//! flow (and so to the browser holding that flow's CSRF cookie); the callback consumes it, so it completes once.

pub mod admin;
pub mod login;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use identity_auth::{Admin, Flow, FlowKind, NodeGroup, SecretCipher, UiNode, UiText};
use identity_core::{Clock, ProviderId};
use identity_oidc::federation::{
    Federation, HttpSettings, Linker, ReqwestHttp, UpstreamProvider, UpstreamProviders, global_providers,
};
use identity_store::Store;
use serde_json::json;

use crate::config::FederationConfig;
use crate::error::ApiError;
use crate::state::{AppState, StartError};

/// The server's side of federation: logins over real HTTP, the linker to local identities, the stored providers.
pub struct Upstreams {
    /// Starts and completes logins at upstreams.
    pub federation: Federation,
    /// Maps upstream accounts to local identities.
    pub linker: Linker,
    /// The providers, in the store.
    pub providers: UpstreamProviders,
}

impl std::fmt::Debug for Upstreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstreams").finish_non_exhaustive()
    }
}

impl Upstreams {
    /// Federation over `store`, with HTTP bounded as `config` says, client secrets opened by `cipher`, and new
    /// identities created through `admin`.
    pub fn new(
        config: &FederationConfig,
        store: Arc<dyn Store>,
        admin: Arc<Admin>,
        cipher: Arc<SecretCipher>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartError> {
        // The configuration check has already parsed both durations; the fallbacks only keep this total.
        let seconds = |text: &crate::config::DurationText, fallback: u64| {
            let parsed = text.parse().ok().and_then(|d| std::time::Duration::try_from(d).ok());
            parsed.unwrap_or(std::time::Duration::from_secs(fallback))
        };
        let settings = HttpSettings {
            connect_timeout: seconds(&config.connect_timeout, 5),
            timeout: seconds(&config.timeout, 10),
            ..HttpSettings::default()
        };
        let http = Arc::new(ReqwestHttp::new(settings)?);
        Ok(Self {
            federation: Federation::new(http, cipher, clock.clone()),
            linker: Linker::new(store.clone(), admin, clock),
            providers: UpstreamProviders::new(store),
        })
    }
}

/// The public routes: the upstreams' callback.
pub fn public(app: Arc<AppState>) -> Router {
    login::router(app)
}

/// Where upstream `provider` sends browsers back: what must be registered there as the redirect URI.
pub fn redirect_uri(app: &AppState, provider: ProviderId) -> String {
    format!("{}/self-service/methods/oidc/callback/{provider}", app.public_url)
}

/// `flow` with a button per global upstream provider (group `oidc`, as Kratos renders them), for login and
/// registration flows that can still choose a method. An organization's own provider gets no button: its users
/// are routed to it by their identifier's domain. Added when the flow is shown, so the buttons follow the
/// providers as they are now, not as they were when the flow began.
pub(crate) async fn with_providers(app: &AppState, flow: &Flow) -> Result<Flow, ApiError> {
    let mut flow = flow.clone();
    let label = match flow.kind {
        FlowKind::Login if !flow.refresh && flow.requested_aal.is_none() && flow.state == "choose_method" => {
            (1010002, "Sign in with")
        }
        FlowKind::Registration => (1040002, "Sign up with"),
        _ => return Ok(flow),
    };
    let providers = app.federation.providers.list().await.map_err(oidc_error)?;
    flow.ui.nodes.extend(global_providers(&providers).into_iter().map(|provider| provider_node(provider, label)));
    Ok(flow)
}

fn provider_node(provider: &UpstreamProvider, (id, verb): (u64, &str)) -> UiNode {
    let mut label = UiText::info(id, format!("{verb} {}", provider.display_name));
    label.context = Some(json!({ "provider": provider.display_name, "provider_id": provider.id }));
    UiNode::input(NodeGroup::Oidc, "provider", "submit").with_value(json!(provider.id)).with_label(label)
}

/// An identity-oidc error as the answer to a client. The user's and the upstream's refusals are 4xx; an upstream
/// that cannot be reached or breaks the protocol is a 502, since neither the client nor this server can fix it.
pub(crate) fn oidc_error(error: identity_oidc::Error) -> ApiError {
    use identity_oidc::Error as E;
    match error {
        E::Store(store) => store.into(),
        E::Auth(auth) => auth.into(),
        E::UpstreamStateMismatch => ApiError::bad_request(error.to_string()).with_id("security_csrf_violation"),
        E::UpstreamLoginExpired => {
            ApiError::new(StatusCode::GONE, error.to_string()).with_id("self_service_flow_expired")
        }
        E::UpstreamDenied { .. } => ApiError::new(StatusCode::FORBIDDEN, error.to_string()),
        E::UnknownUpstreamProvider { .. } => ApiError::bad_request(error.to_string()),
        E::UpstreamHttp { .. }
        | E::UpstreamProtocol { .. }
        | E::InvalidIdToken { .. }
        | E::UnknownSigningKey { .. } => {
            tracing::warn!(error = %error, "an upstream login failed");
            ApiError::new(StatusCode::BAD_GATEWAY, "The upstream identity provider failed; try again later.")
        }
        other => {
            tracing::error!(error = %other, "a federation step failed");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "An internal error occurred.")
        }
    }
}

/// Deletes, every `every`, the started logins whose callback never came (abandoned at the upstream), so they do
/// not pile up in the store.
pub fn sweep_pending(app: Arc<AppState>, every: std::time::Duration, stopped: tokio::sync::watch::Receiver<bool>) {
    crate::server::every(every, stopped, move || {
        let app = app.clone();
        async move {
            if let Err(error) = login::delete_lapsed(&app).await {
                tracing::warn!(error = %error, "lapsed upstream logins could not be swept");
            }
        }
    });
}
