//! What `/metrics` on the admin listener shows, in the Prometheus/OpenMetrics text format: requests by listener,
//! route and status with their latencies, logins by outcome, registrations, active sessions and OAuth2 token
//! grants by type.
//!
//! Routes are the router's path templates (`/sessions/{id}`), never the paths requested, so that neither ids
//! nor tokens reach the metrics and their number stays bounded.
//!
//! The same middleware writes one log line per request (target `identity_server::access`): request id, method,
//! route, status, latency and, when the handler reports one ([`Subject`]), the identity it acted for.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    listener: &'static str,
    method: String,
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    listener: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrantLabels {
    grant_type: String,
}

/// How a login submission ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    /// A session was issued (or a factor completed).
    Succeeded,
    /// Wrong credentials, or the flow goes on with an error.
    Failed,
    /// Refused by throttling before any check.
    Throttled,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    logins: Family<OutcomeLabels, Counter>,
    registrations: Counter,
    grants: Family<GrantLabels, Counter>,
    active_sessions: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn latency_histogram() -> Histogram {
    // 0.25 ms to about 4 s: a session check at the bottom, a slow hash or a stalled store at the top.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("identity");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests by listener, method, route and status", requests.clone());
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register("http_request_duration_seconds", "HTTP request latency by route", latency.clone());
        let logins = Family::<OutcomeLabels, Counter>::default();
        registry.register("logins", "Login submissions by outcome", logins.clone());
        let registrations = Counter::default();
        registry.register("registrations", "Completed registrations", registrations.clone());
        let grants = Family::<GrantLabels, Counter>::default();
        registry.register("oauth2_token_grants", "OAuth2 tokens issued, by grant type", grants.clone());
        let active_sessions = Gauge::default();
        registry.register("active_sessions", "Sessions valid now, counted at each scrape", active_sessions.clone());
        Self { registry, requests, latency, logins, registrations, grants, active_sessions }
    }
}

impl Metrics {
    /// Counts a login submission.
    pub fn login(&self, outcome: LoginOutcome) {
        let outcome = match outcome {
            LoginOutcome::Succeeded => "succeeded",
            LoginOutcome::Failed => "failed",
            LoginOutcome::Throttled => "throttled",
        };
        self.logins.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// Counts a completed registration.
    pub fn registration(&self) {
        self.registrations.inc();
    }

    /// Counts an OAuth2 token grant of `grant_type` (one of the three this provider knows).
    pub fn grant(&self, grant_type: &str) {
        self.grants.get_or_create(&GrantLabels { grant_type: grant_type.to_owned() }).inc();
    }

    /// The text exposition, with the active sessions gauge set to `active_sessions`.
    pub fn render(&self, active_sessions: i64) -> String {
        self.active_sessions.set(active_sessions);
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// The identity a request acted for, as a response extension a handler sets, for the access log.
#[derive(Debug, Clone, Copy)]
pub struct Subject(pub identity_core::IdentityId);

/// Middleware counting every routed request of `listener` and its latency, and logging it.
pub async fn track(
    State((metrics, listener)): State<(Arc<Metrics>, &'static str)>,
    request: Request,
    next: Next,
) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = request.method().as_str().to_owned();
    let request_id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    metrics.latency.get_or_create(&RouteLabels { listener, route: route.clone() }).observe(elapsed.as_secs_f64());
    let status = response.status().as_u16();
    let subject = response.extensions().get::<Subject>().map(|Subject(id)| id.to_string());
    tracing::info!(
        target: "identity_server::access",
        request_id,
        listener,
        method,
        route,
        status,
        latency_ms = elapsed.as_secs_f64() * 1e3,
        subject = subject.as_deref().unwrap_or_default(),
        "request"
    );
    metrics.requests.get_or_create(&RequestLabels { listener, method, route, status: status.to_string() }).inc();
    response
}

/// `GET /metrics`.
pub async fn scrape(State(app): State<Arc<AppState>>) -> Response {
    let active = match app.store.count_active_sessions(app.clock.now()).await {
        Ok(count) => i64::try_from(count).unwrap_or(i64::MAX),
        Err(error) => {
            tracing::warn!(error = %error, "active sessions could not be counted for the metrics");
            -1
        }
    };
    let mut response = app.metrics.render(active).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}
