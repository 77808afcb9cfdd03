//! Crashes under load: the real `identity-server serve` process, killed with SIGKILL while registrations and
//! logins are in flight, restarts on the same database with every answered registration whole and nothing
//! half-created, three times in a row, on SQLite and (when `IDENTITY_TEST_POSTGRES_URL` is set) PostgreSQL.

#![cfg(unix)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use identity_store::sql::{SqlOptions, SqlStore};
use serde_json::{Value, json};
use support::child::{Launch, ServerProcess};

mod support;

/// Requests in flight while the server is killed.
const WORKERS: usize = 12;
/// Kill-and-restart rounds on one database.
const ROUNDS: usize = 3;
/// Registrations answered in a round before the kill, at least (a count, not a time, so a slow machine
/// still kills in the middle of a load and a fast one does not wait).
const ANSWERED_BEFORE_KILL: usize = 60;

/// A registration the server answered with 2xx.
#[derive(Clone, Debug)]
struct Registered {
    email: String,
    id: String,
    password: String,
}

/// What one round of load saw.
#[derive(Debug, Default)]
struct Round {
    loaded_for: Duration,
    answered: usize,
    logins: usize,
    in_flight_at_kill: usize,
    failed_before_kill: usize,
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

async fn try_register(http: &reqwest::Client, public: &str, email: &str, password: &str) -> Option<Value> {
    let flow: Value =
        http.get(format!("{public}/self-service/registration/api")).send().await.ok()?.json().await.ok()?;
    let answer = http
        .post(format!("{public}/self-service/registration?flow={}", flow["id"].as_str()?))
        .json(&json!({"method": "password", "traits": {"email": email}, "password": password}))
        .send()
        .await
        .ok()?;
    if !answer.status().is_success() {
        return None;
    }
    answer.json().await.ok()
}

async fn login(http: &reqwest::Client, public: &str, email: &str, password: &str) -> Result<Value, String> {
    let flow: Value = http
        .get(format!("{public}/self-service/login/api"))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let answer = http
        .post(format!("{public}/self-service/login?flow={}", flow["id"].as_str().unwrap_or_default()))
        .json(&json!({"method": "password", "identifier": email, "password": password}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = answer.status();
    let body: Value = answer.json().await.map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("{status}: {body}"));
    }
    Ok(body)
}

/// Runs registrations and logins from [`WORKERS`] tasks against `server` and kills it with SIGKILL once
/// [`ANSWERED_BEFORE_KILL`] registrations were answered; adds the answered ones to `known`.
async fn load_then_kill(server: ServerProcess, round: usize, known: &Arc<Mutex<Vec<Registered>>>) -> Round {
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let logins = Arc::new(AtomicUsize::new(0));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    let started = std::time::Instant::now();
    for worker in 0..WORKERS {
        let (stop, answered, logins, in_flight, failed, known) =
            (stop.clone(), answered.clone(), logins.clone(), in_flight.clone(), failed.clone(), known.clone());
        let public = server.public.clone();
        workers.spawn(async move {
            let http = http();
            for turn in 0usize.. {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                // Every third request of a worker signs in someone registered earlier.
                let earlier = if turn % 3 == 2 {
                    let known = known.lock().unwrap();
                    (!known.is_empty()).then(|| known[(turn * 7 + worker) % known.len()].clone())
                } else {
                    None
                };
                in_flight.fetch_add(1, Ordering::SeqCst);
                match earlier {
                    Some(user) => {
                        if login(&http, &public, &user.email, &user.password).await.is_ok() {
                            logins.fetch_add(1, Ordering::SeqCst);
                        } else if !stop.load(Ordering::SeqCst) {
                            failed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    None => {
                        let email = format!("r{round}-w{worker}-{}@example.com", uuid::Uuid::new_v4().simple());
                        let password = format!("pw-{}", uuid::Uuid::new_v4());
                        match try_register(&http, &public, &email, &password).await {
                            Some(body) => {
                                let id = body["identity"]["id"].as_str().unwrap_or_default().to_owned();
                                assert!(!id.is_empty(), "a 2xx registration without an identity: {body}");
                                known.lock().unwrap().push(Registered { email, id, password });
                                answered.fetch_add(1, Ordering::SeqCst);
                            }
                            None if !stop.load(Ordering::SeqCst) => {
                                failed.fetch_add(1, Ordering::SeqCst);
                            }
                            None => {}
                        }
                    }
                }
                in_flight.fetch_sub(1, Ordering::SeqCst);
            }
        });
    }
    let waited = tokio::time::timeout(Duration::from_secs(60), async {
        while answered.load(Ordering::SeqCst) < ANSWERED_BEFORE_KILL {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "the load made no progress:\n{}", server.log());
    let in_flight_at_kill = in_flight.load(Ordering::SeqCst);
    let loaded_for = started.elapsed();
    // Failures from here on are the kill's; answers that still arrive count, since the server committed them
    // before it died.
    stop.store(true, Ordering::SeqCst);
    server.kill().await;
    while let Some(done) = workers.join_next().await {
        done.unwrap();
    }
    Round {
        loaded_for,
        answered: answered.load(Ordering::SeqCst),
        logins: logins.load(Ordering::SeqCst),
        in_flight_at_kill,
        failed_before_kill: failed.load(Ordering::SeqCst),
    }
}

/// Every identity the admin API lists, page after page.
async fn all_identities(http: &reqwest::Client, admin: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut url = format!("{admin}/admin/identities?page_size=1000");
    loop {
        let answer = http.get(&url).send().await.unwrap();
        assert_eq!(answer.status(), 200);
        let next = answer.headers().get("link").and_then(|link| {
            let link = link.to_str().ok()?;
            let token = link.split("page_token=").nth(1)?.split('>').next()?;
            Some(token.to_owned())
        });
        let page: Vec<Value> = answer.json().await.unwrap();
        all.extend(page);
        match next {
            Some(token) => url = format!("{admin}/admin/identities?page_size=1000&page_token={token}"),
            None => return all,
        }
    }
}

/// Checks the restarted `server`: every answered registration is there whole and signs in; every stored
/// identity has its password credential and its addresses. Returns how many identities are stored.
async fn check_everything_whole(server: &ServerProcess, known: &[Registered]) -> usize {
    let http = http();
    for user in known {
        let got = http.get(format!("{}/admin/identities/{}", server.admin, user.id)).send().await.unwrap();
        assert_eq!(got.status(), 200, "an answered registration is gone: {user:?}");
        let identity: Value = got.json().await.unwrap();
        assert_eq!(identity["traits"]["email"], user.email.as_str(), "{identity}");
        assert_eq!(identity["credentials"]["password"]["identifiers"], json!([user.email]), "{identity}");
    }
    let users = Arc::new(known.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let mut signers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (users, next, public, http) = (users.clone(), next.clone(), server.public.clone(), http.clone());
        signers.spawn(async move {
            while let Some(user) = users.get(next.fetch_add(1, Ordering::SeqCst)) {
                let signed_in = login(&http, &public, &user.email, &user.password).await;
                let signed_in = signed_in.unwrap_or_else(|e| panic!("{user:?} cannot sign in after the crash: {e}"));
                assert_eq!(signed_in["session"]["identity"]["id"], user.id.as_str());
            }
        });
    }
    while let Some(done) = signers.join_next().await {
        done.unwrap();
    }
    let stored = all_identities(&http, &server.admin).await;
    for identity in &stored {
        let email = identity["traits"]["email"].as_str().unwrap_or_else(|| panic!("no email: {identity}"));
        assert_eq!(identity["credentials"]["password"]["identifiers"], json!([email]), "half-created: {identity}");
        for addresses in ["verifiable_addresses", "recovery_addresses"] {
            let values: Vec<&Value> =
                identity[addresses].as_array().into_iter().flatten().map(|a| &a["value"]).collect();
            assert_eq!(values, [email], "half-created ({addresses}): {identity}");
        }
    }
    stored.len()
}

async fn check_integrity(options: &SqlOptions) {
    let store = SqlStore::connect(options).await.unwrap();
    store.check_integrity().await.unwrap();
    store.close().await;
}

/// Kills the server [`ROUNDS`] times under load on one database, checking it after every restart.
async fn kill_under_load_and_restart(launch: Launch, store: SqlOptions, what: &str) {
    let known = Arc::new(Mutex::new(Vec::new()));
    let mut server = launch.start().await.unwrap();
    for round in 1..=ROUNDS {
        let figures = load_then_kill(server, round, &known).await;
        server = launch.start().await.unwrap_or_else(|log| panic!("no restart after kill {round}:\n{log}"));
        check_integrity(&store).await;
        let answered = known.lock().unwrap().clone();
        let stored = check_everything_whole(&server, &answered).await;
        // Written to stderr directly so that `--nocapture` shows the figures and the harness keeps them quiet
        // otherwise.
        eprintln!(
            "FIGURES {what} round {round}: {WORKERS} workers, killed after {:?} of load, {} requests in flight at the kill, {} registrations \
             answered this round ({} in all), {} logins answered, {} failed before the kill, {stored} identities \
             stored (answered or committed unanswered), all whole",
            figures.loaded_for,
            figures.in_flight_at_kill,
            figures.answered,
            answered.len(),
            figures.logins,
            figures.failed_before_kill,
        );
        assert!(stored >= answered.len());
        assert_eq!(figures.failed_before_kill, 0, "requests failed while the server was up:\n{}", server.log());
    }
    assert!(server.stop().await, "no clean stop after the last restart");
    check_integrity(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_sigkill_under_load_three_times() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("crash-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let dsn = format!("sqlite://{}", dir.join("identity.db").display());
    kill_under_load_and_restart(Launch::new(&dsn), SqlOptions::new(&dsn), "sqlite").await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_survives_sigkill_under_load_three_times() {
    let Some(url) = std::env::var("IDENTITY_TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty()) else {
        eprintln!(
            "SKIPPED: IDENTITY_TEST_POSTGRES_URL is not set, so the PostgreSQL crash test passes without running"
        );
        return;
    };
    // The schema is made (and migrated) through the store; the server finds it through its search path.
    let schema = format!("identity_crash_{}", uuid::Uuid::new_v4().simple());
    let mut store = SqlOptions::new(&url);
    store.schema = Some(schema.clone());
    let made = SqlStore::connect(&store).await.unwrap();
    made.migrate().await.unwrap();
    made.close().await;
    let separator = if url.contains('?') { '&' } else { '?' };
    let dsn = format!("{url}{separator}options=-csearch_path%3D{schema}");
    let launch = Launch::new(&dsn)
        .with("IDENTITY_SECRETS__CIPHER", "[\"crash-test-cipher-key-0123456789abcdef\"]")
        .with("IDENTITY_SECRETS__CODES", "crash-test-codes-key-0123456789abcdef");
    kill_under_load_and_restart(launch, store, "postgres").await;
}
