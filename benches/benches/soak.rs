//! A soak on loopback, bounded in time and in requests: `identity-server serve` runs as a child process (the
//! release binary, default settings, real argon2id) on SQLite or PostgreSQL, while a mixed workload runs against
//! it: registrations, password logins with a TOTP second step, whoami, settings, client_credentials grants and
//! forward-auth decisions. Each minute it prints the requests, errors, p50 and p99 of every operation and the
//! server's resident memory; at the end, the whole run's figures and the memory from the first minute to the last.
//!
//! `benches/soak.sh` builds the server and runs both backends. By hand:
//! `cargo build --release -p identity-server && SOAK_MINUTES=10 SOAK_DSN=sqlite cargo bench -p identity-benches
//! --bench soak`. `SOAK_DSN` is `sqlite` (a new file) or `postgres` (a new schema of `IDENTITY_TEST_POSTGRES_URL`);
//! `SOAK_MAX_REQUESTS` stops it early; `SOAK_CONCURRENCY` (default 8) is the number of clients; `SOAK_SERVER` the
//! server binary (default `target/release/identity-server`).

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

const PASSWORD: &str = "correct-horse-battery-staple";
/// Users enrolled with TOTP at the start; each may sign in once per 30 s step (a code is accepted once).
const TOTP_USERS: usize = 150;
/// The OAuth2 client of the grants.
const CLIENT_ID: &str = "soak-client";

fn main() {
    // `cargo bench` passes `--bench`; a plain `cargo test --benches` run passes nothing and only checks it starts.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    runtime.block_on(run());
}

fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

/// The operations of the mix, and how many of every 20 requests each is.
const MIX: [(Operation, usize); 7] = [
    (Operation::Whoami, 7),
    (Operation::Decision, 3),
    (Operation::Grant, 3),
    (Operation::Registration, 2),
    (Operation::TotpLogin, 2),
    (Operation::PasswordLogin, 1),
    (Operation::Settings, 2),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Operation {
    Whoami,
    Decision,
    Grant,
    Registration,
    TotpLogin,
    PasswordLogin,
    Settings,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::Whoami => "whoami",
            Operation::Decision => "decision",
            Operation::Grant => "token grant",
            Operation::Registration => "registration",
            Operation::TotpLogin => "login + TOTP",
            Operation::PasswordLogin => "login (password)",
            Operation::Settings => "settings (profile)",
        }
    }
}

/// Latencies and errors of one operation.
#[derive(Default, Clone)]
struct Tally {
    latencies: Vec<Duration>,
    errors: u64,
}

impl Tally {
    fn line(&self, name: &str) -> String {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let at = |q: f64| sorted.get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1)));
        let ms = |d: Option<&Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
        let total = sorted.len() as u64 + self.errors;
        format!(
            "| {name} | {total} | {} ({:.2} %) | {:.1} | {:.1} |",
            self.errors,
            if total == 0 { 0.0 } else { self.errors as f64 * 100.0 / total as f64 },
            ms(at(0.5)),
            ms(at(0.99))
        )
    }
}

type Tallies = Arc<Mutex<BTreeMap<Operation, Tally>>>;

/// A TOTP user: email, its authenticator, and the last 30 s step it signed in with.
struct TotpUser {
    email: String,
    app: totp_rs::Totp,
    last_step: Mutex<u64>,
}

struct Target {
    public: String,
    admin: String,
    http: reqwest::Client,
    client_secret: String,
    session: String,
    totp_users: Vec<TotpUser>,
    next_user: AtomicU64,
    registered: AtomicU64,
    run: String,
}

async fn run() {
    let minutes: u64 = setting("SOAK_MINUTES", 10);
    let max_requests: u64 = setting("SOAK_MAX_REQUESTS", u64::MAX);
    let concurrency: usize = setting("SOAK_CONCURRENCY", 8);
    let backend: String = setting("SOAK_DSN", "sqlite".to_owned());
    let binary = std::env::var("SOAK_SERVER")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/identity-server").to_owned());
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let dir = std::env::temp_dir().join(format!("identity-soak-{run}"));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let dsn = match backend.as_str() {
        "sqlite" => format!("sqlite://{}", dir.join("identity.db").display()),
        "postgres" => postgres_schema(&run).await,
        other => panic!("SOAK_DSN is `sqlite` or `postgres`, not `{other}`"),
    };
    let rules = dir.join("rules.yaml");
    std::fs::write(
        &rules,
        "- id: app\n  match: { methods: [GET], url: \"https://app.example/**\" }\n  authenticators: [bearer_session_token]\n  authorizer: allow\n  headers:\n    X-User-Id: \"{{ subject_id }}\"\n",
    )
    .expect("the access rules");
    // Keys of this run only (PostgreSQL refuses to start without configured ones, as replicas must share them).
    let config = dir.join("identity.yaml");
    let key = || uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string();
    std::fs::write(&config, format!("secrets:\n  cipher: [\"{}\"]\n  codes: \"{}\"\n", key(), key()))
        .expect("the configuration");
    let mut child = tokio::process::Command::new(&binary)
        .arg("serve")
        .arg("-c")
        .arg(&config)
        .env("IDENTITY_DSN", &dsn)
        .env("IDENTITY_SERVE__PUBLIC__PORT", "0")
        .env("IDENTITY_SERVE__ADMIN__PORT", "0")
        .env("IDENTITY_ACCESS_RULES__FILE", &rules)
        // One client address: the driver. Per-address throttling would count its deliberate nothing; the
        // per-identity limits stay.
        .env("IDENTITY_THROTTLING__MAX_FAILURES_PER_ADDRESS", "0")
        // Warnings, and the "listening" line that says where the listeners are.
        .env("IDENTITY_LOG__LEVEL", "warn,identity_server::server=info")
        .env("IDENTITY_LOG__FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{binary}: {e} (build it: cargo build --release -p identity-server)"));
    let pid = child.id().expect("the server's pid");
    let (public, admin) = listening(&mut child).await;
    println!("backend: {backend}, {minutes} min, {concurrency} clients, server pid {pid} ({binary})");

    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build().expect("a client");
    let target = Arc::new(prepare(http, public, admin, run).await);
    let tallies: Tallies = Arc::default();
    let requests = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(minutes * 60);
    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let (target, tallies, requests) = (target.clone(), tallies.clone(), requests.clone());
        workers.push(tokio::spawn(async move {
            let schedule: Vec<Operation> =
                MIX.iter().flat_map(|(operation, share)| std::iter::repeat_n(*operation, *share)).collect();
            let mut turn = worker * 7;
            while Instant::now() < deadline && requests.fetch_add(1, Ordering::Relaxed) < max_requests {
                let mut operation = schedule[turn % schedule.len()];
                turn += 1;
                let user = if operation == Operation::TotpLogin { target.free_totp_user() } else { None };
                if operation == Operation::TotpLogin && user.is_none() {
                    // Every TOTP user has signed in during this 30 s step: a whoami instead, counted as one.
                    operation = Operation::Whoami;
                }
                let started = Instant::now();
                let ok = match user {
                    Some(user) => target.totp_login(user).await,
                    None => target.perform(operation).await,
                };
                let took = started.elapsed();
                let mut tallies = tallies.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let tally = tallies.entry(operation).or_default();
                if ok { tally.latencies.push(took) } else { tally.errors += 1 }
            }
        }));
    }

    let mut memory = vec![(0u64, rss_kib(pid))];
    let mut minute = 0;
    let mut whole: BTreeMap<Operation, Tally> = BTreeMap::new();
    while workers.iter().any(|worker| !worker.is_finished()) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let elapsed = Instant::now() + Duration::from_secs(minutes * 60) - deadline;
        if elapsed.as_secs() / 60 > minute || workers.iter().all(|worker| worker.is_finished()) {
            minute = elapsed.as_secs() / 60;
            let rss = rss_kib(pid);
            memory.push((elapsed.as_secs(), rss));
            let taken = std::mem::take(&mut *tallies.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
            let (count, errors): (usize, u64) =
                taken.values().fold((0, 0), |(n, e), tally| (n + tally.latencies.len(), e + tally.errors));
            println!("minute {minute:>2}: {count} answered, {errors} errors, server RSS {} MiB", rss / 1024);
            for (operation, tally) in taken {
                let sum = whole.entry(operation).or_default();
                sum.latencies.extend(tally.latencies);
                sum.errors += tally.errors;
            }
        }
    }
    for worker in workers {
        let _ = worker.await;
    }
    println!(
        "\nthe whole run ({backend}):\n| operation | requests | errors | p50 ms | p99 ms |\n|---|---|---|---|---|"
    );
    for (operation, tally) in &whole {
        println!("{}", tally.line(operation.name()));
    }
    println!("registrations: {}", target.registered.load(Ordering::Relaxed));
    let samples: Vec<String> = memory.iter().map(|(s, kib)| format!("{}s {} MiB", s, kib / 1024)).collect();
    println!("server RSS over time: {}", samples.join(", "));
    if memory.len() > 2 {
        let (first, last) = (memory[1].1, memory[memory.len() - 1].1);
        println!(
            "server RSS, end of minute 1 -> end: {} -> {} MiB ({:+.1} %)",
            first / 1024,
            last / 1024,
            (last as f64 / first as f64 - 1.0) * 100.0
        );
    }
    let _ = child.kill().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A new schema of `IDENTITY_TEST_POSTGRES_URL`, migrated, as a DSN the server keeps its tables in.
async fn postgres_schema(run: &str) -> String {
    let url = std::env::var("IDENTITY_TEST_POSTGRES_URL").expect("SOAK_DSN=postgres needs IDENTITY_TEST_POSTGRES_URL");
    let schema = format!("identity_soak_{run}");
    let mut options = identity_store::sql::SqlOptions::new(&url);
    options.schema = Some(schema.clone());
    let store = identity_store::sql::SqlStore::connect(&options).await.expect("PostgreSQL");
    store.migrate().await.expect("the schema migrated");
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-csearch_path%3D{schema}")
}

/// The listeners' addresses, from the server's "listening" log line.
async fn listening(child: &mut tokio::process::Child) -> (String, String) {
    let stderr = child.stderr.take().expect("the server's stderr");
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                // Not a log line: the server says why it cannot start.
                eprintln!("server: {line}");
                continue;
            };
            if entry["fields"]["message"] == "listening" {
                let field = |name: &str| format!("http://{}", entry["fields"][name].as_str().unwrap_or_default());
                return Some((field("public"), field("admin")));
            }
        }
        None
    })
    .await;
    let addresses = found.ok().flatten().expect("the server did not start listening");
    // Keep draining its log so that it never blocks on a full pipe; warnings go to ours.
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("server: {line}");
        }
    });
    addresses
}

/// Resident memory of process `pid`, in KiB (0 if unreadable).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn now_step() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) / 30
}

/// Registers the TOTP users and the OAuth2 client, and one session for whoami and decisions.
async fn prepare(http: reqwest::Client, public: String, admin: String, run: String) -> Target {
    let created: Value = http
        .post(format!("{admin}/admin/clients"))
        .json(&json!({"client_id": CLIENT_ID, "grant_types": ["client_credentials"], "scope": "api",
                      "token_endpoint_auth_method": "client_secret_basic"}))
        .send()
        .await
        .expect("the client registered")
        .json()
        .await
        .expect("json");
    let client_secret = created["client_secret"].as_str().expect("a client secret").to_owned();
    let mut target = Target {
        public,
        admin,
        http,
        client_secret,
        session: String::new(),
        totp_users: Vec::new(),
        next_user: AtomicU64::new(0),
        registered: AtomicU64::new(0),
        run,
    };
    target.session = target.register(&format!("whoami-{}@example.com", target.run)).await.expect("a session");
    for index in 0..TOTP_USERS {
        let email = format!("totp-{index}-{}@example.com", target.run);
        let token = target.register(&email).await.expect("a TOTP user registered");
        let app = target.enroll_totp(&token).await.expect("TOTP enrolled");
        // The code that confirmed the app is spent for this step.
        target.totp_users.push(TotpUser { email, app, last_step: Mutex::new(now_step()) });
    }
    println!("prepared: an OAuth2 client, {TOTP_USERS} TOTP users, a session (admin API at {})", target.admin);
    target
}

impl Target {
    async fn flow(&self, kind: &str, token: Option<&str>) -> Option<Value> {
        let mut request = self.http.get(format!("{}/self-service/{kind}/api", self.public));
        if let Some(token) = token {
            request = request.header("X-Session-Token", token);
        }
        let response = request.send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
    }

    async fn submit(&self, kind: &str, flow: &Value, body: Value, token: Option<&str>) -> Option<(u16, Value)> {
        let url = format!("{}/self-service/{kind}?flow={}", self.public, flow["id"].as_str()?);
        let mut request = self.http.post(url).json(&body);
        if let Some(token) = token {
            request = request.header("X-Session-Token", token);
        }
        let response = request.send().await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.json().await.ok()?))
    }

    /// Registers `email`: the new session's token.
    async fn register(&self, email: &str) -> Option<String> {
        let flow = self.flow("registration", None).await?;
        let body = json!({"method": "password", "traits": {"email": email}, "password": PASSWORD});
        let (status, done) = self.submit("registration", &flow, body, None).await?;
        if status != 200 {
            return None;
        }
        self.registered.fetch_add(1, Ordering::Relaxed);
        done["session_token"].as_str().map(str::to_owned)
    }

    /// Enrols an authenticator app in the session of `token` through the settings flow.
    async fn enroll_totp(&self, token: &str) -> Option<totp_rs::Totp> {
        let flow = self.flow("settings", Some(token)).await?;
        let (_, shown) = self.submit("settings", &flow, json!({"method": "totp"}), Some(token)).await?;
        let nodes = shown["ui"]["nodes"].as_array()?;
        let secret = nodes.iter().find(|node| node["attributes"]["id"] == "totp_secret_key")?;
        let app = totp_rs::Totp::from_url(secret["attributes"]["text"]["text"].as_str()?).ok()?;
        let code = app.generate_current().to_string();
        let (status, saved) =
            self.submit("settings", &flow, json!({"method": "totp", "totp_code": code}), Some(token)).await?;
        (status == 200 && saved["state"] == "success").then_some(app)
    }

    async fn perform(&self, operation: Operation) -> bool {
        match operation {
            Operation::Whoami => self.whoami().await,
            Operation::Decision => self.decision().await,
            Operation::Grant => self.grant().await,
            Operation::Registration => {
                let email = format!("user-{}-{}@example.com", uuid::Uuid::new_v4().simple(), self.run);
                self.register(&email).await.is_some()
            }
            // Chosen in the worker, together with a user who may sign in now.
            Operation::TotpLogin => false,
            Operation::PasswordLogin => {
                let email = format!("whoami-{}@example.com", self.run);
                self.password_login(&email).await.is_some_and(|(status, _, _)| status == 200)
            }
            Operation::Settings => self.settings().await,
        }
    }

    async fn whoami(&self) -> bool {
        let request =
            self.http.get(format!("{}/sessions/whoami", self.public)).header("X-Session-Token", &self.session);
        request.send().await.is_ok_and(|r| r.status().is_success())
    }

    async fn decision(&self) -> bool {
        let request = self
            .http
            .get(format!("{}/decisions", self.public))
            .header("x-forwarded-method", "GET")
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "app.example")
            .header("x-forwarded-uri", "/reports/42")
            .header("x-session-token", &self.session);
        request.send().await.is_ok_and(|r| r.status().is_success() && r.headers().contains_key("x-user-id"))
    }

    async fn grant(&self) -> bool {
        let request = self
            .http
            .post(format!("{}/oauth2/token", self.public))
            .basic_auth(CLIENT_ID, Some(&self.client_secret))
            .form(&[("grant_type", "client_credentials"), ("scope", "api")]);
        let Ok(response) = request.send().await else { return false };
        response.status().is_success()
            && response.json::<Value>().await.is_ok_and(|body| body["access_token"].is_string())
    }

    /// A password login: its status, answer and flow.
    async fn password_login(&self, email: &str) -> Option<(u16, Value, Value)> {
        let flow = self.flow("login", None).await?;
        let body = json!({"method": "password", "identifier": email, "password": PASSWORD});
        let (status, answer) = self.submit("login", &flow, body, None).await?;
        Some((status, answer, flow))
    }

    /// A TOTP user who has not signed in during this 30 s step, now marked as having done so.
    fn free_totp_user(&self) -> Option<(&TotpUser, u64)> {
        let step = now_step();
        (0..self.totp_users.len()).find_map(|_| {
            let index = self.next_user.fetch_add(1, Ordering::Relaxed) as usize % self.totp_users.len();
            let user = &self.totp_users[index];
            let mut last = user.last_step.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            (*last < step).then(|| {
                *last = step;
                (user, step)
            })
        })
    }

    /// A password login whose second step is `user`'s TOTP code of `step`.
    async fn totp_login(&self, (user, step): (&TotpUser, u64)) -> bool {
        let Some((status, _, flow)) = self.password_login(&user.email).await else { return false };
        if status != 400 {
            return false;
        }
        let code = user.app.generate(step * 30 + 1).to_string();
        let Some((status, done)) =
            self.submit("login", &flow, json!({"method": "totp", "totp_code": code}), None).await
        else {
            return false;
        };
        status == 200 && done["session"]["authenticator_assurance_level"] == "aal2"
    }

    /// A fresh login, then a settings flow saving the profile unchanged.
    async fn settings(&self) -> bool {
        let email = format!("whoami-{}@example.com", self.run);
        let Some((200, done, _)) = self.password_login(&email).await else { return false };
        let Some(token) = done["session_token"].as_str() else { return false };
        let Some(flow) = self.flow("settings", Some(token)).await else { return false };
        let body = json!({"method": "profile", "traits": {"email": email}});
        let saved = self.submit("settings", &flow, body, Some(token)).await;
        let ok = saved.is_some_and(|(status, saved)| status == 200 && saved["state"] == "success");
        // Ends the session it made, so sessions do not pile up over the run.
        let _ = self
            .http
            .delete(format!("{}/self-service/logout/api", self.public))
            .json(&json!({"session_token": token}))
            .send()
            .await;
        ok
    }
}
