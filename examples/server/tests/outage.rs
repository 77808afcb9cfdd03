//! A PostgreSQL outage, made by a TCP proxy between the server and the database (the database itself keeps
//! running: other tests use it): requests are answered 503 with the JSON error within the pool's acquire
//! timeout, never hang and never panic; readiness turns 503 on both listeners while liveness stays 200; when the
//! proxy forwards again the server recovers by itself. Without `IDENTITY_TEST_POSTGRES_URL` the tests say
//! SKIPPED and pass.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use identity_server::config::Config;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

mod support;

use support::postgres::Schema;
use support::proxy::{Outage, Proxy};

const PASSWORD: &str = "correct-horse-battery-staple";
/// The server's pool waits this long for a connection before answering 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
/// What "no hang" means here: the acquire timeout plus generous room for a loaded machine, and well under the
/// request timeout (30 s), which would answer 408 instead.
const ANSWER_WITHIN: Duration = Duration::from_secs(15);

/// Panics anywhere in this test binary (server tasks included), counted by a hook installed once.
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
}

struct Server {
    running: identity_server::server::Running,
    http: Client,
}

impl Server {
    fn public(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.public)
    }

    fn admin(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.admin)
    }

    /// Sends `request` and answers its status, its JSON body and how long it took.
    async fn timed(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value, Duration) {
        let started = Instant::now();
        let response = request.send().await.unwrap();
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body, started.elapsed())
    }

    async fn api_flow(&self, kind: &str) -> (StatusCode, Value, Duration) {
        self.timed(self.http.get(self.public(&format!("/self-service/{kind}/api")))).await
    }

    async fn submit(&self, kind: &str, flow: &Value, body: Value) -> (StatusCode, Value, Duration) {
        let url = self.public(&format!("/self-service/{kind}?flow={}", flow["id"].as_str().unwrap()));
        self.timed(self.http.post(url).json(&body)).await
    }

    async fn login(&self, email: &str) -> (StatusCode, Value, Duration) {
        let (status, flow, took) = self.api_flow("login").await;
        if status != 200 {
            return (status, flow, took);
        }
        self.submit("login", &flow, json!({"method": "password", "identifier": email, "password": PASSWORD})).await
    }

    async fn ready(&self) -> [(StatusCode, Value, Duration); 2] {
        [
            self.timed(self.http.get(self.public("/health/ready"))).await,
            self.timed(self.http.get(self.admin("/health/ready"))).await,
        ]
    }
}

/// The server's JSON error for an unavailable store, answered in time.
fn assert_unavailable(what: &str, (status, body, took): &(StatusCode, Value, Duration)) {
    assert_eq!(*status, 503, "{what}: {body}");
    assert_eq!(body["error"]["code"], 503, "{what}: {body}");
    assert!(body["error"]["reason"].is_string(), "{what}: {body}");
    assert!(*took < ANSWER_WITHIN, "{what} took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_database_outage_requests_get_503_quickly_and_the_server_recovers_by_itself() {
    let test = "during_a_database_outage_requests_get_503_quickly_and_the_server_recovers_by_itself";
    let Some(url) = support::postgres::url(test) else { return };
    count_panics();
    let schema = Schema::fresh(&url, "identity_outage").await;
    let proxy = Proxy::start(schema.server()).await;
    let document = json!({
        "dsn": schema.dsn_via(proxy.address),
        "database": { "max_connections": 4, "acquire_timeout": format!("{}s", ACQUIRE_TIMEOUT.as_secs()) },
        "serve": { "public": { "port": 0 }, "admin": { "port": 0 } },
        "secrets": { "cipher": ["outage-test-cipher-key-0123456789abcdef"], "codes": "outage-test-codes-key-0123456789abcdef" },
        "hashers": { "argon2": { "memory_kib": 64, "iterations": 1, "parallelism": 1 } },
    });
    let config = Config::from_value(document, std::iter::empty()).unwrap();
    let server = Server { running: identity_server::server::start(config).await.unwrap(), http: Client::new() };
    let flow = server.api_flow("registration").await.1;
    let body = json!({"method": "password", "traits": {"email": "ada@example.com"}, "password": PASSWORD});
    let registered = server.submit("registration", &flow, body).await;
    assert_eq!(registered.0, 200, "{}", registered.1);
    let token = registered.1["session_token"].as_str().unwrap().to_owned();

    for (round, outage) in [Outage::Reset, Outage::Refuse, Outage::Reset].into_iter().enumerate() {
        // Flows made before the outage, submitted during it.
        let registration = server.api_flow("registration").await.1;
        let login = server.api_flow("login").await.1;
        proxy.cut(outage).await;
        let cut_at = Instant::now();
        let label = |what: &str| format!("round {round} ({outage:?}): {what}");

        let whoami = server.timed(server.http.get(server.public("/sessions/whoami")).header("X-Session-Token", &token));
        let whoami = whoami.await;
        assert_unavailable(&label("whoami"), &whoami);
        let first_503 = cut_at.elapsed();
        let body = json!({"method": "password", "identifier": "ada@example.com", "password": PASSWORD});
        assert_unavailable(&label("login"), &server.submit("login", &login, body).await);
        let body =
            json!({"method": "password", "traits": {"email": format!("new{round}@example.com")}, "password": PASSWORD});
        assert_unavailable(&label("registration"), &server.submit("registration", &registration, body).await);
        assert_unavailable(&label("a new flow"), &server.api_flow("login").await);
        assert_unavailable(
            &label("admin list"),
            &server.timed(server.http.get(server.admin("/admin/identities"))).await,
        );
        for (listener, (status, body, took)) in ["public", "admin"].into_iter().zip(server.ready().await) {
            assert_eq!(status, 503, "{}: {body}", label(&format!("{listener} ready")));
            assert!(body["errors"].is_object(), "{}: {body}", label(&format!("{listener} ready")));
            assert!(took < ANSWER_WITHIN, "{}: {took:?}", label(&format!("{listener} ready")));
        }
        for alive in [server.public("/health/alive"), server.admin("/health/alive")] {
            assert_eq!(server.http.get(alive).send().await.unwrap().status(), 200, "{}", label("alive"));
        }

        // Back: ready again on both listeners without a restart, and everything works.
        proxy.restore().await;
        let restored_at = Instant::now();
        loop {
            let [public, admin] = server.ready().await;
            if public.0 == 200 && admin.0 == 200 {
                break;
            }
            assert!(restored_at.elapsed() < Duration::from_secs(30), "{}", label("never ready again"));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let recovered = restored_at.elapsed();
        let again = server.timed(server.http.get(server.public("/sessions/whoami")).header("X-Session-Token", &token));
        assert_eq!(again.await.0, 200, "{}", label("whoami after"));
        let login = server.login("ada@example.com").await;
        assert_eq!(login.0, 200, "{}: {}", label("login after"), login.1);
        let flow = server.api_flow("registration").await.1;
        let body = json!({"method": "password", "traits": {"email": format!("after{round}@example.com")}, "password": PASSWORD});
        assert_eq!(server.submit("registration", &flow, body).await.0, 200, "{}", label("registration after"));
        eprintln!(
            "outage round {round} ({outage:?}): first 503 after {first_503:?} (whoami took {:?}); ready again \
             {recovered:?} after the proxy forwarded again",
            whoami.2
        );
    }
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "something panicked during the outage");
    server.running.stop().await;
    drop(proxy);
    schema.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_mid_query_is_unavailable_not_a_backend_failure() {
    let Some(url) = support::postgres::url("a_connection_dropped_mid_query_is_unavailable_not_a_backend_failure")
    else {
        return;
    };
    let schema = Schema::fresh(&url, "identity_outage").await;
    let proxy = Proxy::start(schema.server()).await;
    let mut options = identity_store::sql::SqlOptions::new(schema.dsn_via(proxy.address));
    options.max_connections = 1;
    options.acquire_timeout = ACQUIRE_TIMEOUT;
    let store = identity_store::sql::SqlStore::connect(&options).await.unwrap();
    let marker = uuid::Uuid::new_v4().simple().to_string();
    let sleeper = store.clone();
    let sleeping = format!("SELECT pg_sleep(20) /* {marker} */");
    let query = tokio::spawn(async move {
        let started = Instant::now();
        let outcome = identity_store::sql::testing_support::execute(&sleeper, &sleeping).await;
        (outcome, started.elapsed())
    });
    // Cut only once the database runs the query (seen from a connection of the test's own).
    let running = format!(
        "SELECT 1 FROM pg_stat_activity WHERE query LIKE '%{marker}%' AND pid <> pg_backend_pid() AND state = 'active'"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while identity_store::sql::testing_support::execute(&schema.store, &running).await.unwrap() == 0 {
        assert!(Instant::now() < deadline, "the query never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    proxy.cut(Outage::Reset).await;
    let (outcome, took) = query.await.unwrap();
    let error = outcome.expect_err("the query survived its connection");
    assert!(matches!(error, identity_store::Error::Unavailable { .. }), "{error:?}");
    assert!(error.is_retryable());
    assert!(took < Duration::from_secs(15), "the query took {took:?} to fail");
    eprintln!("a query cut mid-way failed after {took:?} with: {error} ({:?})", std::error::Error::source(&error));
    // The same store serves again once the database is reachable: the broken connection was not kept.
    proxy.restore().await;
    let ok = identity_store::sql::testing_support::execute(&store, "SELECT 1").await;
    assert!(ok.is_ok(), "{ok:?}");
    store.close().await;
    drop(proxy);
    schema.drop().await;
}
