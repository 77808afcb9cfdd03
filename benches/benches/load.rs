//! An HTTP load driver on loopback, bounded in time: the reference server (memory store, default argon2id) against
//! baselines measured in the same run.
//!
//! 1. `whoami` requests/s against a bare axum handler that answers 200 (same client, same concurrency).
//! 2. Password logins/s against the limit the hash sets: the hasher's own threads kept busy, timed here (and
//!    against `cores / one verify alone`).
//! 3. `whoami` p99 latency while logins saturate the CPU, against idle.
//! 4. `client_credentials` grants/s (client_secret_basic, ES256 JWT access tokens) against Node's `oidc-provider`
//!    configured the same way (`benches/node/oidc_provider_grants.mjs`), when node and the package are there.
//! 5. Introspections/s of such a token, and forward-auth decisions/s, against the bare handler.
//!
//! `cargo bench -p identity-benches --bench load` (`LOAD_SECONDS` sets each phase's length; default 5;
//! `LOAD_HASHERS`, JSON, the first server's `hashers` section; `LOAD_ONLY=grants` runs only phases 4 and 5).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use identity_auth::{HasherConfig, PasswordHasher};
use identity_core::SecretString;
use serde_json::{Value, json};

const PASSWORD: &str = "correct-horse-battery-staple";

/// Turns of bare axum and whoami.
const ROUNDS: usize = 3;

fn main() {
    // `cargo bench` passes `--bench`; a plain `cargo test --benches` run passes nothing and only checks it starts.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    runtime.block_on(run());
}

fn seconds() -> Duration {
    Duration::from_secs(std::env::var("LOAD_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5))
}

async fn run() {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build().expect("a client");
    let concurrency = 16;

    // Baseline 1: a bare axum handler, measured in turns with whoami so that a drift of the machine's speed
    // shows as a spread between rounds instead of skewing one side.
    let bare = bare_server().await;
    // `LOAD_HASHERS` (JSON) overrides the first server's `hashers` section, for experiments such as
    // `{"concurrency": 1}`; the default is the server's own defaults.
    let hashers = std::env::var("LOAD_HASHERS").ok().and_then(|json| serde_json::from_str(&json).ok());
    let server = Server::start(&client, hashers.unwrap_or_else(|| json!({}))).await;
    println!("cores: {cores}, concurrency: {concurrency}, {} s per phase", seconds().as_secs());
    if std::env::var("LOAD_ONLY").is_ok_and(|only| only == "grants") {
        return tokens_and_decisions(&client, concurrency, bare, &server).await;
    }
    let mut ratios = Vec::new();
    for round in 1..=ROUNDS {
        let bare_rate = rate(&client, concurrency, seconds(), format!("http://{bare}/"), None).await;
        let whoami_rate = rate(&client, concurrency, seconds(), server.whoami.clone(), Some(&server.token)).await;
        ratios.push(whoami_rate / bare_rate);
        println!(
            "round {round}: bare axum 200 {bare_rate:>8.0} req/s (baseline), whoami {whoami_rate:>8.0} req/s = {:.2} of bare",
            whoami_rate / bare_rate
        );
    }
    ratios.sort_by(f64::total_cmp);
    println!("whoami:                 {:.2} of bare (median of {ROUNDS} rounds)", ratios[ROUNDS / 2]);

    let (alone, hash_limit) = hash_limits(cores).await;
    let (login_rate, idle, busy) = server.under_logins(&client, cores).await;
    let alone_limit = cores as f64 / alone.as_secs_f64();
    println!(
        "argon2id verify:        {:>10.2} ms alone -> {alone_limit:.1} logins/s; the hasher's threads busy: {hash_limit:.1}/s (the hash limit)",
        alone.as_secs_f64() * 1e3
    );
    println!("with the default hashers.priority = background:");
    report(login_rate, hash_limit, idle, busy);
    println!("                        ({:.2} of cores / one verify alone)", login_rate / alone_limit);
    tokens_and_decisions(&client, concurrency, bare, &server).await;
    drop(server);

    // The same with hashes competing with requests for the cores, as before background priority.
    let server = Server::start(&client, json!({ "priority": "normal" })).await;
    let (login_rate, idle, busy) = server.under_logins(&client, cores).await;
    println!("with hashers.priority = normal:");
    report(login_rate, hash_limit, idle, busy);
}

/// What the hash allows, timed here with the server's default parameters: one verify at a time on an otherwise
/// idle machine (on the hasher's threads), and verifies/s when the hasher's own threads are kept busy (`cores * 2` callers, for `seconds()`)
/// with nothing else running: on these virtual cores two verifies side by side take longer than one alone, so
/// this, not `cores / one verify`, is what a saturated server can reach.
async fn hash_limits(cores: usize) -> (Duration, f64) {
    let hasher = Arc::new(PasswordHasher::new(HasherConfig::default()).expect("a hasher"));
    let hash = hasher.hash(&SecretString::new(PASSWORD)).expect("a hash");
    // One at a time on the hasher's threads, where the server's verifies run (with their kept memory).
    let verifies = 20;
    let started = Instant::now();
    for _ in 0..verifies {
        hasher.verify_async(SecretString::new(PASSWORD), Some(hash.clone())).await.expect("a verify");
    }
    let alone = started.elapsed() / verifies;
    let limit = per_second(cores * 2, seconds(), move || {
        let (hasher, hash) = (hasher.clone(), hash.clone());
        async move { hasher.verify_async(SecretString::new(PASSWORD), Some(hash)).await.is_ok() }
    })
    .await;
    (alone, limit)
}

fn report(login_rate: f64, hash_limit: f64, idle: Vec<Duration>, busy: Vec<Duration>) {
    let p99 = |mut samples: Vec<Duration>| {
        samples.sort();
        samples.get(samples.len() * 99 / 100).copied().unwrap_or_default()
    };
    let (idle_p99, busy_p99) = (p99(idle), p99(busy));
    println!("password logins:        {login_rate:>10.1} logins/s = {:.2} of the hash limit", login_rate / hash_limit);
    println!("whoami p99 idle:        {:>10.2} ms (baseline)", idle_p99.as_secs_f64() * 1e3);
    println!(
        "whoami p99 under logins:{:>10.2} ms = {:.2} x idle",
        busy_p99.as_secs_f64() * 1e3,
        busy_p99.as_secs_f64() / idle_p99.as_secs_f64().max(1e-9)
    );
}

/// The reference server on the memory store, with one registered identity and its session; dropping it stops
/// the server.
struct Server {
    public: String,
    admin: String,
    whoami: String,
    token: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// The access rule the decisions phase asks about: a session token, its subject and email passed on.
const ACCESS_RULES: &str = r#"
- id: app
  match: { methods: [GET, POST], url: "https://app.example/**" }
  authenticators: [bearer_session_token]
  authorizer: allow
  headers:
    X-User-Id: "{{ subject_id }}"
    X-User-Email: { key: email }
"#;

impl Server {
    /// Starts a server whose `hashers` section is `hashers`, and registers an identity.
    async fn start(client: &reqwest::Client, hashers: Value) -> Self {
        let rules = std::env::temp_dir().join(format!("identity-load-rules-{}.yaml", std::process::id()));
        std::fs::write(&rules, ACCESS_RULES).expect("the access rules written");
        let config = identity_server::config::Config::from_value(
            json!({ "dsn": "memory", "serve": { "public": { "port": 0 }, "admin": { "port": 0 } },
                    "throttling": { "max_failures_per_address": 0 }, "hashers": hashers,
                    "access_rules": { "file": rules } }),
            std::iter::empty(),
        )
        .expect("a configuration");
        // The server gets a runtime of its own, as in production: the driver's tasks must not queue on its workers.
        let ((public, admin), stop) = serve_apart(config);
        let (public, admin) = (format!("http://{public}"), format!("http://{admin}"));
        let token = register(client, &public).await;
        Self { whoami: format!("{public}/sessions/whoami"), public, admin, token, _stop: stop }
    }

    /// whoami latencies alone, then while `cores * 2` clients sign in as fast as they can; and logins/s.
    async fn under_logins(&self, client: &reqwest::Client, cores: usize) -> (f64, Vec<Duration>, Vec<Duration>) {
        let idle = sample_apart(self.whoami.clone(), self.token.clone()).await;
        let stop = Arc::new(AtomicBool::new(false));
        let logins = Arc::new(AtomicU64::new(0));
        let mut workers = Vec::new();
        for _ in 0..cores * 2 {
            let (client, public, stop, logins) = (client.clone(), self.public.clone(), stop.clone(), logins.clone());
            workers.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if login(&client, &public).await {
                        logins.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        let started = Instant::now();
        let busy = sample_apart(self.whoami.clone(), self.token.clone()).await;
        stop.store(true, Ordering::Relaxed);
        let elapsed = started.elapsed();
        for worker in workers {
            let _ = worker.await;
        }
        (logins.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64(), idle, busy)
    }
}

/// Starts the server on its own multi-threaded runtime, in its own thread; sending on the returned channel stops it.
fn serve_apart(
    config: identity_server::config::Config,
) -> ((SocketAddr, SocketAddr), tokio::sync::oneshot::Sender<()>) {
    let (started, address) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        // Named, so that a profile tells the server's work from the driver's (`perf report --comms server`).
        let runtime =
            tokio::runtime::Builder::new_multi_thread().thread_name("server").enable_all().build().expect("a runtime");
        runtime.block_on(async move {
            let server = identity_server::server::start(config).await.expect("the server");
            let _ = started.send((server.public, server.admin));
            let _ = stopped.await;
            server.stop().await;
        });
    });
    (address.recv().expect("the server's addresses"), stop)
}

async fn bare_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let address = listener.local_addr().expect("an address");
    let router = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

/// Requests/s that `concurrency` clients get from `url` in `length`.
async fn rate(client: &reqwest::Client, concurrency: usize, length: Duration, url: String, token: Option<&str>) -> f64 {
    let (client, token) = (client.clone(), token.map(str::to_owned));
    per_second(concurrency, length, move || {
        let mut request = client.get(&url);
        if let Some(token) = &token {
            request = request.header("X-Session-Token", token);
        }
        async move { request.send().await.is_ok_and(|r| r.status().is_success()) }
    })
    .await
}

/// Successful calls per second when `callers` tasks repeat `call` for `length`.
async fn per_second<F, C>(callers: usize, length: Duration, call: C) -> f64
where
    C: Fn() -> F + Clone + Send + 'static,
    F: std::future::Future<Output = bool> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + length;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let (call, done) = (call.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                if call().await {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// [`latencies`] measured from a thread of its own, with its own client and runtime.
async fn sample_apart(url: String, token: String) -> Vec<Duration> {
    let sampler = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let client = reqwest::Client::new();
        runtime.block_on(latencies(&client, url, &token, seconds()))
    });
    tokio::task::spawn_blocking(move || sampler.join().unwrap_or_default()).await.unwrap_or_default()
}

/// Latencies of sequential `whoami` calls for `length`.
async fn latencies(client: &reqwest::Client, url: String, token: &str, length: Duration) -> Vec<Duration> {
    let deadline = Instant::now() + length;
    let mut samples = Vec::new();
    while Instant::now() < deadline {
        let started = Instant::now();
        let ok = client.get(&url).header("X-Session-Token", token).send().await.is_ok_and(|r| r.status().is_success());
        if ok {
            samples.push(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    samples
}

async fn register(client: &reqwest::Client, public: &str) -> String {
    let flow: Value = client
        .get(format!("{public}/self-service/registration/api"))
        .send()
        .await
        .expect("a flow")
        .json()
        .await
        .expect("json");
    let done: Value = client
        .post(format!("{public}/self-service/registration?flow={}", flow["id"].as_str().unwrap_or_default()))
        .json(&json!({"method": "password", "traits": {"email": "load@example.com"}, "password": PASSWORD}))
        .send()
        .await
        .expect("registered")
        .json()
        .await
        .expect("json");
    done["session_token"].as_str().unwrap_or_default().to_owned()
}

async fn login(client: &reqwest::Client, public: &str) -> bool {
    let Ok(response) = client.get(format!("{public}/self-service/login/api")).send().await else { return false };
    let Ok(flow) = response.json::<Value>().await else { return false };
    let url = format!("{public}/self-service/login?flow={}", flow["id"].as_str().unwrap_or_default());
    let body = json!({"method": "password", "identifier": "load@example.com", "password": PASSWORD});
    client.post(url).json(&body).send().await.is_ok_and(|r| r.status().is_success())
}

/// The OAuth2 client both providers know in the grants phase.
const CLIENT_ID: &str = "load-client";
/// The scope it asks for.
const SCOPE: &str = "api";

/// Phases 4 and 5: client_credentials grants against Node's `oidc-provider` in alternating rounds, then
/// introspections and forward-auth decisions against the bare handler, also in rounds.
async fn tokens_and_decisions(client: &reqwest::Client, concurrency: usize, bare: SocketAddr, server: &Server) {
    let secret = server.register_client(client).await;
    let ours = format!("{}/oauth2/token", server.public);
    let node = NodeProvider::start(&secret);
    if let Err(why) = &node {
        println!("oidc-provider: SKIPPED ({why})");
    }
    // A second of each first: Node's JIT compiles the provider's paths in its first thousands of grants.
    grants(client, concurrency, Duration::from_secs(1), &ours, &secret).await;
    if let Ok(node) = &node {
        grants(client, concurrency, Duration::from_secs(1), &node.token_endpoint, &secret).await;
    }
    let mut ratios = Vec::new();
    for round in 1..=ROUNDS {
        let our_rate = grants(client, concurrency, seconds(), &ours, &secret).await;
        match &node {
            Ok(node) => {
                let their_rate = grants(client, concurrency, seconds(), &node.token_endpoint, &secret).await;
                ratios.push(our_rate / their_rate);
                println!(
                    "round {round}: oidc-provider {their_rate:>8.0} grants/s (baseline), ours {our_rate:>8.0} grants/s = {:.2} x",
                    our_rate / their_rate
                );
            }
            Err(_) => println!("round {round}: ours {our_rate:>8.0} grants/s"),
        }
    }
    if !ratios.is_empty() {
        ratios.sort_by(f64::total_cmp);
        println!("client_credentials:     {:.2} x oidc-provider (median of {ROUNDS} rounds)", ratios[ROUNDS / 2]);
    }
    drop(node);

    let access_token = grant(client, &ours, &secret).await.expect("an access token");
    let introspect = format!("{}/admin/oauth2/introspect", server.admin);
    let decisions = format!("{}/decisions", server.public);
    let (mut introspections, mut decided) = (Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        let bare_rate = rate(client, concurrency, seconds(), format!("http://{bare}/"), None).await;
        let introspect_rate = {
            let (client, url, token) = (client.clone(), introspect.clone(), access_token.clone());
            per_second(concurrency, seconds(), move || {
                let request = client.post(&url).form(&[("token", token.as_str())]);
                async move {
                    let Ok(response) = request.send().await else { return false };
                    response.status().is_success() && response.text().await.is_ok_and(|t| t.contains("\"active\":true"))
                }
            })
            .await
        };
        let decision_rate = {
            let (client, url, token) = (client.clone(), decisions.clone(), server.token.clone());
            per_second(concurrency, seconds(), move || {
                let request = client
                    .get(&url)
                    .header("x-forwarded-method", "GET")
                    .header("x-forwarded-proto", "https")
                    .header("x-forwarded-host", "app.example")
                    .header("x-forwarded-uri", "/reports/42")
                    .header("x-session-token", &token);
                async move {
                    let Ok(response) = request.send().await else { return false };
                    response.status().is_success() && response.headers().contains_key("x-user-id")
                }
            })
            .await
        };
        introspections.push(introspect_rate / bare_rate);
        decided.push(decision_rate / bare_rate);
        println!(
            "round {round}: bare axum 200 {bare_rate:>8.0} req/s (baseline), introspection {introspect_rate:>8.0}/s = {:.2}, decisions {decision_rate:>8.0}/s = {:.2} of bare",
            introspect_rate / bare_rate,
            decision_rate / bare_rate
        );
    }
    introspections.sort_by(f64::total_cmp);
    decided.sort_by(f64::total_cmp);
    println!("introspection:          {:.2} of bare (median of {ROUNDS} rounds)", introspections[ROUNDS / 2]);
    println!("decisions:              {:.2} of bare (median of {ROUNDS} rounds)", decided[ROUNDS / 2]);
}

/// client_credentials grants/s that `concurrency` clients get from `token_endpoint` in `length`, each answer
/// read whole.
async fn grants(
    client: &reqwest::Client,
    concurrency: usize,
    length: Duration,
    token_endpoint: &str,
    secret: &str,
) -> f64 {
    let (client, url, secret) = (client.clone(), token_endpoint.to_owned(), secret.to_owned());
    per_second(concurrency, length, move || {
        let (client, url, secret) = (client.clone(), url.clone(), secret.clone());
        async move { grant(&client, &url, &secret).await.is_some() }
    })
    .await
}

/// One client_credentials grant with client_secret_basic: its access token.
async fn grant(client: &reqwest::Client, token_endpoint: &str, secret: &str) -> Option<String> {
    let response = client
        .post(token_endpoint)
        .basic_auth(CLIENT_ID, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", SCOPE)])
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    let body: Value = response.json().await.ok()?;
    body["access_token"].as_str().map(str::to_owned)
}

impl Server {
    /// Registers [`CLIENT_ID`] on the admin API for client_credentials with client_secret_basic: its secret.
    async fn register_client(&self, client: &reqwest::Client) -> String {
        let metadata = json!({
            "client_id": CLIENT_ID, "grant_types": ["client_credentials"], "scope": SCOPE,
            "token_endpoint_auth_method": "client_secret_basic",
        });
        let created: Value = client
            .post(format!("{}/admin/clients", self.admin))
            .json(&metadata)
            .send()
            .await
            .expect("the client registered")
            .json()
            .await
            .expect("json");
        created["client_secret"].as_str().expect("a client secret").to_owned()
    }
}

/// Where `.ci/run` installs Node's `oidc-provider`.
const NODE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/oidc-provider-node");

/// `benches/node/oidc_provider_grants.mjs` running under node, knowing [`CLIENT_ID`] with the given secret;
/// killed on drop.
struct NodeProvider {
    child: std::process::Child,
    token_endpoint: String,
}

impl NodeProvider {
    /// Starts the script next to the installed package (so that its import resolves), or says why not.
    fn start(secret: &str) -> Result<Self, String> {
        use std::io::BufRead as _;
        let dir = std::path::Path::new(NODE_DIR);
        if !dir.join("node_modules/oidc-provider/package.json").exists() {
            return Err(format!("oidc-provider is not installed in {NODE_DIR} (.ci/run installs it)"));
        }
        let script = dir.join("load-grants.mjs");
        std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/node/oidc_provider_grants.mjs"), &script)
            .map_err(|e| format!("copying the script: {e}"))?;
        let mut child = std::process::Command::new("node")
            .arg(&script)
            .args([CLIENT_ID, secret, SCOPE])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("node: {e}"))?;
        let mut lines = std::io::BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
        let token_endpoint = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(endpoint) = line.strip_prefix("READY ") {
                        break endpoint.trim().to_owned();
                    }
                }
                _ => {
                    let _ = child.kill();
                    return Err("the script ended before it was ready".into());
                }
            }
        };
        // Keep reading, so that the provider never blocks on a full pipe.
        std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
        Ok(Self { child, token_endpoint })
    }
}

impl Drop for NodeProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
