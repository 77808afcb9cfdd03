//! An HTTP load driver on loopback, bounded in time: the reference server (memory store, default argon2id) against
//! baselines measured in the same run.
//!
//! 1. `whoami` requests/s against a bare axum handler that answers 200 (same client, same concurrency).
//! 2. Password logins/s against the limit the hash sets: the hasher's own threads kept busy, timed here (and
//!    against `cores / one verify alone`).
//! 3. `whoami` p99 latency while logins saturate the CPU, against idle.
//!
//! `cargo bench -p identity-benches --bench load` (`LOAD_SECONDS` sets each phase's length; default 5;
//! `LOAD_HASHERS`, JSON, the first server's `hashers` section).

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

/// The reference server on the memory store, with one registered identity and its session.
struct Server {
    public: String,
    whoami: String,
    token: String,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl Server {
    /// Starts a server whose `hashers` section is `hashers`, and registers an identity.
    async fn start(client: &reqwest::Client, hashers: Value) -> Self {
        let config = identity_server::config::Config::from_value(
            json!({ "dsn": "memory", "serve": { "public": { "port": 0 }, "admin": { "port": 0 } },
                    "throttling": { "max_failures_per_address": 0 }, "hashers": hashers }),
            std::iter::empty(),
        )
        .expect("a configuration");
        // The server gets a runtime of its own, as in production: the driver's tasks must not queue on its workers.
        let (address, stop) = serve_apart(config);
        let public = format!("http://{address}");
        let token = register(client, &public).await;
        Self { whoami: format!("{public}/sessions/whoami"), public, token, stop }
    }

    /// whoami latencies alone, then while `cores * 2` clients sign in as fast as they can; and logins/s. Stops
    /// the server.
    async fn under_logins(self, client: &reqwest::Client, cores: usize) -> (f64, Vec<Duration>, Vec<Duration>) {
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
        let _ = self.stop.send(());
        (logins.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64(), idle, busy)
    }
}

/// Starts the server on its own multi-threaded runtime, in its own thread; sending on the returned channel stops it.
fn serve_apart(config: identity_server::config::Config) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let (started, address) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        // Named, so that a profile tells the server's work from the driver's (`perf report --comms server`).
        let runtime =
            tokio::runtime::Builder::new_multi_thread().thread_name("server").enable_all().build().expect("a runtime");
        runtime.block_on(async move {
            let server = identity_server::server::start(config).await.expect("the server");
            let _ = started.send(server.public);
            let _ = stopped.await;
            server.stop().await;
        });
    });
    (address.recv().expect("the server's address"), stop)
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
