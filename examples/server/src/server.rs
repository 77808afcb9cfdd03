//! The two listeners, public and admin (served by [`crate::listen`]), with what every request goes through: a
//! request id, a tracing span, a timeout, a body limit, CORS on the public side only, and errors (even the framework's own: unknown routes,
//! wrong methods, oversized bodies) answered as Kratos' JSON. Shutdown lets in-flight requests finish.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::error::ApiError;
use crate::state::{AppState, Migrations, StartError, open_store};

/// A running server.
pub struct Running {
    /// Where the public API listens.
    pub public: SocketAddr,
    /// Where the admin API listens.
    pub admin: SocketAddr,
    /// Where the mutual-TLS listener (the public API over TLS with client certificates) listens, if configured.
    pub mtls: Option<SocketAddr>,
    /// The assembled state (for tests and the CLI).
    pub state: Arc<AppState>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish, and returns when both listeners are closed.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::error!(error = %error, "a listener failed"),
                Err(error) => tracing::error!(error = %error, "a listener task failed"),
            }
        }
    }
}

/// Opens the store (migrating it), assembles the server and starts both listeners.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let mut config = config;
    let public_listener = bind(&config.serve.public.host, config.serve.public.port).await?;
    let admin_listener = bind(&config.serve.admin.host, config.serve.admin.port).await?;
    let (public, admin) = (local(&public_listener)?, local(&admin_listener)?);
    // Links point at where the listeners really are (port 0 picks a free one).
    config.serve.public.base_url.get_or_insert_with(|| format!("http://{public}"));
    config.serve.admin.base_url.get_or_insert_with(|| format!("http://{admin}"));
    let store = open_store(&config, Migrations::Apply).await?;
    let state = Arc::new(AppState::new(config, store).await?);
    let config = &state.config;
    let tracked = |router: Router, listener: &'static str| {
        router
            .route_layer(axum::middleware::from_fn_with_state((state.metrics.clone(), listener), crate::metrics::track))
    };
    let public_routes = crate::public::router(state.clone())
        .merge(crate::oauth2::public(state.clone()))
        .merge(crate::enrollment_api::public(state.clone()))
        .merge(crate::certificate_login::router(state.clone()))
        .merge(crate::rbac_api::router(state.clone()))
        .merge(crate::federation::public(state.clone()))
        .merge(crate::openapi::router(state.clone(), crate::openapi::Listener::Public));
    let public_router = layers(tracked(public_routes, "public"), config).layer(cors(config));
    let admin_routes = crate::admin_api::router(state.clone())
        .merge(crate::oauth2::admin(state.clone()))
        .merge(crate::enrollment_api::admin(state.clone()))
        .merge(crate::rbac_api::admin_router(state.clone()))
        .merge(crate::federation::admin::router(state.clone()))
        .merge(Router::new().route("/metrics", axum::routing::get(crate::metrics::scrape)).with_state(state.clone()))
        .merge(crate::openapi::router(state.clone(), crate::openapi::Listener::Admin));
    let admin_router = layers(tracked(admin_routes, "admin"), config);
    let (stop, stopped) = watch::channel(false);
    let limits = limits(config);
    let mut tasks = vec![crate::listen::serve(public_listener, public_router.clone(), limits, stopped.clone())];
    let mut mtls = None;
    if let Some(listener) = &config.serve.mtls {
        let acceptor = crate::mtls::acceptor(listener, &state.certificates.listener_cas)?;
        let tcp = bind(&listener.host, listener.port).await?;
        mtls = Some(local(&tcp)?);
        tasks.push(crate::mtls::serve(tcp, acceptor, public_router, limits, stopped.clone()));
    }
    // Rotations are rare and tokens live an hour: a minute's delay before another replica signs with the new key
    // is harmless, and verifying needs none (an unknown kid reads the keys at once; the previous key stays).
    let reload_every = std_duration(&config.oauth2.key_reload_interval, 60);
    crate::oauth2::reload_keys(state.clone(), reload_every, stopped.clone());
    // Started logins whose callback never came lapse within 15 minutes; sweeping them once a minute is plenty.
    crate::federation::sweep_pending(state.clone(), std::time::Duration::from_secs(60), stopped.clone());
    tasks.push(crate::listen::serve(admin_listener, admin_router, limits, stopped));
    tracing::info!(%public, %admin, ?mtls, "listening");
    Ok(Running { public, admin, mtls, state, stop, tasks })
}

/// Runs `job` every `period`, until `stopped`: background upkeep (key reloads, sweeps). The first run is one
/// period after the start, since a process that just started has nothing to catch up on.
pub fn every<F, Fut>(period: std::time::Duration, mut stopped: watch::Receiver<bool>, job: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.tick().await;
        loop {
            tokio::select! {
                _ = ticks.tick() => job().await,
                changed = stopped.changed() => {
                    if changed.is_err() || *stopped.borrow() {
                        return;
                    }
                }
            }
        }
    });
}

async fn bind(host: &str, port: u16) -> Result<TcpListener, StartError> {
    TcpListener::bind((host, port)).await.map_err(|e| listen_error(format!("cannot listen on {host}:{port}: {e}")))
}

fn local(listener: &TcpListener) -> Result<SocketAddr, StartError> {
    listener.local_addr().map_err(|e| listen_error(e.to_string()))
}

fn listen_error(message: String) -> StartError {
    StartError::Config(crate::config::ConfigError::Field { path: "serve".into(), message })
}

fn limits(config: &Config) -> crate::listen::Limits {
    crate::listen::Limits {
        max_connections: config.serve.max_connections,
        max_connections_per_address: config.serve.max_connections_per_address,
        header_timeout: std_duration(&config.serve.header_timeout, 10),
    }
}

/// A configured duration (checked when the configuration was read), or `default_seconds`.
fn std_duration(text: &crate::config::DurationText, default_seconds: i64) -> std::time::Duration {
    let duration = text.parse().unwrap_or(identity_core::time::Duration::seconds(default_seconds));
    std::time::Duration::from_millis(u64::try_from(duration.whole_milliseconds()).unwrap_or(1000))
}

fn layers(router: Router, config: &Config) -> Router {
    let timeout = std_duration(&config.serve.request_timeout, 30);
    // The error rewrite sits outside the timeout, so that a 408 is Kratos' JSON too.
    router
        .layer(DefaultBodyLimit::max(config.serve.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(axum::middleware::map_response(as_kratos_error))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// The span of a request: its method and path, never its query, which carries one-time secrets (recovery codes,
/// logout tokens, upstream authorization codes and states) on some routes.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::debug_span!("request", method = %request.method(), path = request.uri().path())
}

/// Errors the framework answers itself (404 for unknown routes, 405, 413, 408, bad path or query values) come
/// as plain text; clients of a Kratos API expect its JSON, so they are rewritten.
async fn as_kratos_error(mut response: Response) -> Response {
    let status = response.status();
    if matches!(status.as_u16(), 408 | 413) {
        // The request's body was not read to its end, so the connection cannot carry another request.
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if status.as_u16() < 400 || is_json {
        return response;
    }
    let reason = status.canonical_reason().unwrap_or("the request failed").to_owned();
    let mut rewritten = ApiError::new(status, reason).into_response();
    if let Some(connection) = response.headers().get(header::CONNECTION) {
        rewritten.headers_mut().insert(header::CONNECTION, connection.clone());
    }
    if let Some(allow) = response.headers().get(header::ALLOW) {
        rewritten.headers_mut().insert(header::ALLOW, allow.clone());
    }
    rewritten
}

fn cors(config: &Config) -> CorsLayer {
    let cors = &config.serve.public.cors;
    if !cors.enabled {
        return CorsLayer::new();
    }
    let origins: Vec<HeaderValue> =
        cors.allowed_origins.iter().filter_map(|origin| HeaderValue::from_str(origin).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::HeaderName::from_static("x-session-token"),
            header::HeaderName::from_static("x-csrf-token"),
        ])
}
