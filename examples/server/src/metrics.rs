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
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    listener: &'static str,
    method: &'static str,
    route: String,
    status: u16,
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
    latency: Family<RouteLabels, Latency>,
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

/// Upper bounds of the latency buckets, in seconds: 0.25 ms to about 4 s, doubling (a session check at the
/// bottom, a slow hash or a stalled store at the top).
const LATENCY_BOUNDS: [f64; 15] = {
    let mut bounds = [0.000_25; 15];
    let mut i = 1;
    while i < bounds.len() {
        bounds[i] = bounds[i - 1] * 2.0;
        i += 1;
    }
    bounds
};

/// A latency histogram of atomics. prometheus-client's own histogram takes a mutex for every observation, which
/// the cores serving requests then contend for (it cost whoami about a sixth of its throughput on two cores);
/// this one only adds.
#[derive(Debug, Default)]
pub struct Latency {
    /// Per bucket (not cumulative), the last one for everything above the highest bound.
    buckets: [AtomicU64; LATENCY_BOUNDS.len() + 1],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Latency {
    fn observe(&self, elapsed: std::time::Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = LATENCY_BOUNDS.iter().position(|bound| seconds <= *bound).unwrap_or(LATENCY_BOUNDS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

impl TypedMetric for Latency {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Latency {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let buckets: Vec<(f64, u64)> = LATENCY_BOUNDS
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(self.buckets.iter().map(|bucket| bucket.load(Ordering::Relaxed)))
            .collect();
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, self.count.load(Ordering::Relaxed), &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("identity");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests by listener, method, route and status", requests.clone());
        let latency = Family::<RouteLabels, Latency>::default();
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

tokio::task_local! {
    /// The identity the request being logged was authenticated as, noted where credentials are checked.
    static ACTING_FOR: std::cell::Cell<Option<identity_core::IdentityId>>;
}

/// Notes that the current request acts for `identity`, for its access-log line. Every place that checks a
/// session or an access token calls this, so no handler has to remember to; outside a logged request (the
/// access log off, the CLI, tests) it does nothing.
pub fn acting_for(identity: identity_core::IdentityId) {
    let _ = ACTING_FOR.try_with(|cell| cell.set(Some(identity)));
}

/// The methods this server routes, as static label values (anything else is `other`): no allocation per request.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware counting every routed request of `listener` and its latency, and logging it. It sits on the path
/// of every request, whoami included, so it allocates only the route label and skips the log's work when the
/// access log is off.
pub async fn track(
    State((metrics, listener)): State<(Arc<Metrics>, &'static str)>,
    request: Request,
    next: Next,
) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = method_label(request.method());
    let logging = tracing::enabled!(target: "identity_server::access", tracing::Level::INFO);
    let request_id = logging
        .then(|| request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned());
    let started = Instant::now();
    let (response, acted_for) = if logging {
        ACTING_FOR
            .scope(std::cell::Cell::new(None), async move {
                let response = next.run(request).await;
                (response, ACTING_FOR.with(std::cell::Cell::get))
            })
            .await
    } else {
        (next.run(request).await, None)
    };
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let labels = RequestLabels { listener, method, route, status };
    metrics.requests.get_or_create(&labels).inc();
    if let Some(request_id) = request_id {
        let subject =
            response.extensions().get::<Subject>().map(|Subject(id)| *id).or(acted_for).map(|id| id.to_string());
        tracing::info!(
            target: "identity_server::access",
            request_id,
            listener,
            method,
            route = labels.route.as_str(),
            status,
            latency_ms = elapsed.as_secs_f64() * 1e3,
            subject = subject.as_deref().unwrap_or_default(),
            "request"
        );
    }
    metrics.latency.get_or_create(&RouteLabels { listener, route: labels.route }).observe(elapsed);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn latencies_fall_into_cumulative_buckets_with_their_count_and_sum() {
        let metrics = Metrics::default();
        let route = || RouteLabels { listener: "public", route: "/sessions/whoami".into() };
        for elapsed in [Duration::from_micros(100), Duration::from_millis(1), Duration::from_secs(10)] {
            metrics.latency.get_or_create(&route()).observe(elapsed);
        }
        let text = metrics.render(0);
        let line = |le: &str| {
            format!(
                "identity_http_request_duration_seconds_bucket{{le=\"{le}\",listener=\"public\",route=\"/sessions/whoami\"}}"
            )
        };
        for (le, count) in [("0.00025", 1), ("0.001", 2), ("4.096", 2), ("+Inf", 3)] {
            assert!(text.contains(&format!("{} {count}", line(le))), "no {le} bucket of {count} in\n{text}");
        }
        assert!(
            text.contains(
                "identity_http_request_duration_seconds_count{listener=\"public\",route=\"/sessions/whoami\"} 3"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "identity_http_request_duration_seconds_sum{listener=\"public\",route=\"/sessions/whoami\"} 10.0011"
            ),
            "{text}"
        );
    }
}
