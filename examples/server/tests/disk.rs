//! A full disk and a read-only database under the real `identity-server serve` process, on SQLite. Tests run as
//! root, where permissions do not stop writes, so the full disk is a limit on file sizes (`RLIMIT_FSIZE`, with
//! `SIGXFSZ` ignored, so SQLite's writes fail with `EFBIG`), and the read-only database is a file made immutable
//! with `chattr +i` (skipped where the filesystem or the container does not allow it) or opened with
//! `mode=ro`. Writes must fail with a clear 5xx answer, reads go on, the log says why, and once the fault is gone
//! the file is whole and holds everything that was answered.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use identity_store::sql::{SqlOptions, SqlStore};
use serde_json::{Value, json};
use support::child::{Launch, ServerProcess};

mod support;

const PASSWORD: &str = "correct-horse-battery-staple";

fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

/// A fresh directory for one test's database.
fn workdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sqlite(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("identity.db").display())
}

/// Starts a `kind` API flow and submits `body` to it; returns the status and the answer of the step that
/// failed, or of the submission. (Starting a flow stores it, so on a full disk that step fails already.)
async fn flow(http: &reqwest::Client, public: &str, kind: &str, body: Value) -> (u16, Value) {
    let started = match http.get(format!("{public}/self-service/{kind}/api")).send().await {
        Ok(started) => started,
        Err(error) => return (0, json!({"transport": error.to_string()})),
    };
    let status = started.status().as_u16();
    let flow: Value = started.json().await.unwrap_or(Value::Null);
    let Some(id) = flow["id"].as_str().filter(|_| status == 200) else { return (status, flow) };
    let answer = match http.post(format!("{public}/self-service/{kind}?flow={id}")).json(&body).send().await {
        Ok(answer) => answer,
        Err(error) => return (0, json!({"transport": error.to_string()})),
    };
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

async fn register(http: &reqwest::Client, public: &str, email: &str) -> (u16, Value) {
    flow(http, public, "registration", json!({"method": "password", "traits": {"email": email}, "password": PASSWORD}))
        .await
}

async fn login(http: &reqwest::Client, public: &str, email: &str) -> (u16, Value) {
    flow(http, public, "login", json!({"method": "password", "identifier": email, "password": PASSWORD})).await
}

async fn whoami(http: &reqwest::Client, public: &str, token: &str) -> u16 {
    let answer = http.get(format!("{public}/sessions/whoami")).bearer_auth(token).send().await.unwrap();
    answer.status().as_u16()
}

/// The server's error shape with 503: the store cannot write, which is the machine's condition, not the request's.
fn assert_server_error(status: u16, body: &Value) {
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], status, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

/// The server's error lines, each as `message: error`.
fn logged_errors(server: &ServerProcess) -> Vec<String> {
    server
        .log()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|entry| entry["level"] == "ERROR" || entry["level"] == "WARN")
        .map(|entry| entry["fields"].to_string())
        .collect()
}

/// Registers `users` on a fresh server over `dsn` and stops it; returns each user's email and session token.
async fn seed(dsn: &str, users: &[&str]) -> Vec<(String, String)> {
    let server = Launch::new(dsn).start().await.unwrap();
    let http = http();
    let mut seeded = Vec::new();
    for email in users {
        let (status, body) = register(&http, &server.public, email).await;
        assert_eq!(status, 200, "{body}");
        seeded.push((email.to_string(), body["session_token"].as_str().unwrap().to_owned()));
    }
    assert!(server.stop().await);
    // The server leaves its write-ahead log behind; closing the last connection folds it into the database,
    // so the fault starts from a database file alone.
    let store = SqlStore::connect(&SqlOptions::new(dsn)).await.unwrap();
    store.check_integrity().await.unwrap();
    store.close().await;
    seeded
}

/// Restarts without the fault and checks the file and that `users` are all there and sign in.
async fn check_after(dsn: &str, users: &[String]) {
    let store = SqlStore::connect(&SqlOptions::new(dsn)).await.unwrap();
    store.check_integrity().await.unwrap();
    store.close().await;
    let server = Launch::new(dsn).start().await.unwrap_or_else(|log| panic!("no restart after the fault:\n{log}"));
    let http = http();
    for email in users {
        let (status, body) = login(&http, &server.public, email).await;
        assert_eq!(status, 200, "{email} after the fault: {body}");
    }
    // Nothing half-written: a registration refused at its last step may have stored its identity, but whole.
    let stored: Vec<Value> = http
        .get(format!("{}/admin/identities?page_size=1000", server.admin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for identity in &stored {
        let email = identity["traits"]["email"].as_str().unwrap_or_default();
        assert_eq!(identity["credentials"]["password"]["identifiers"], json!([email]), "half-written: {identity}");
        assert_eq!(identity["recovery_addresses"][0]["value"], email, "half-written: {identity}");
    }
    eprintln!("FIGURES after the fault: {} answered, {} stored, all whole", users.len(), stored.len());
    let (status, body) = register(&http, &server.public, "after@example.com").await;
    assert_eq!(status, 200, "{body}");
    assert!(server.stop().await);
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_clearly_keeps_reads_and_loses_nothing() {
    if std::process::Command::new("prlimit").arg("--version").output().is_err() {
        eprintln!("SKIPPED: `prlimit` (util-linux) is missing, so the full-disk test passes without running");
        return;
    }
    let dir = workdir("disk-full");
    let dsn = sqlite(&dir);
    let seeded = seed(&dsn, &["ada@example.com", "grace@example.com"]).await;
    let db = dir.join("identity.db");
    let before = (file_size(&db), file_size(&dir.join("identity.db-wal")));

    // No file may grow past 512 KiB: the shared-memory index (32 KiB) fits, the checkpoint that would write
    // the log into the database comes only at 1000 pages (4 MiB), and the write-ahead log, empty at the start,
    // fills after about 125 pages, so the first few registrations succeed and the next ones hit a full disk.
    let limit = 512 * 1024;
    let launch = Launch { file_size_limit: Some(limit), ..Launch::new(&dsn) };
    let mut server = launch.start().await.unwrap_or_else(|log| panic!("no start under the limit:\n{log}"));
    let http = http();
    let mut answered: Vec<String> = seeded.iter().map(|(email, _)| email.clone()).collect();
    let mut refused = None;
    for n in 0..200 {
        let email = format!("full-{n}@example.com");
        let (status, body) = register(&http, &server.public, &email).await;
        if status == 200 {
            answered.push(email);
        } else {
            refused = Some((n, status, body));
            break;
        }
    }
    let (at, status, body) = refused.expect("200 registrations fitted under the limit");
    assert_server_error(status, &body);
    // Once full, it stays full and keeps saying so.
    let (again, body_again) = register(&http, &server.public, "full-again@example.com").await;
    assert_server_error(again, &body_again);

    // Reads go on: an existing session, an identity through the admin API.
    assert_eq!(whoami(&http, &server.public, &seeded[0].1).await, 200);
    let listed = http.get(format!("{}/admin/identities?page_size=1000", server.admin)).send().await.unwrap();
    assert_eq!(listed.status(), 200);
    // Signing in writes a session, so it is refused like any write, with the same clear answer.
    let (signed_in, signed_in_body) = login(&http, &server.public, &seeded[1].0).await;
    if signed_in != 200 {
        assert_server_error(signed_in, &signed_in_body);
    }
    assert!(server.is_running(), "the server died:\n{}", server.log());
    let errors = logged_errors(&server);
    let cause = errors.iter().find(|line| line.contains("database or disk is full") || line.contains("I/O error"));
    assert!(cause.is_some(), "the log does not say why:\n{}", server.log());
    eprintln!(
        "FIGURES disk full: database {} bytes, log {} bytes before; limit {limit} bytes; {} registrations answered \
         under the limit, refused from number {at} on with {status} {body}; again {again}; login {signed_in}; \
         whoami 200; logged: {}",
        before.0,
        before.1,
        answered.len() - seeded.len(),
        cause.unwrap(),
    );
    server.kill().await;

    check_after(&dsn, &answered).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Makes files immutable and makes them mutable again when dropped, even when the test fails, so the
/// directory can be removed.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    /// `chattr +i` on each of `files` that exists; `None` if chattr is refused here.
    fn set(files: &[PathBuf]) -> Option<Self> {
        let mut set = Immutable(Vec::new());
        for file in files.iter().filter(|file| file.exists()) {
            let done = std::process::Command::new("chattr").arg("+i").arg(file).status().ok()?;
            if !done.success() {
                return None;
            }
            set.0.push(file.clone());
        }
        Some(set)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for file in &self.0 {
            let _ = std::process::Command::new("chattr").arg("-i").arg(file).status();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_turned_read_only_refuses_writes_clearly_and_keeps_reads() {
    let dir = workdir("read-only");
    let dsn = sqlite(&dir);
    let seeded = seed(&dsn, &["ada@example.com", "grace@example.com"]).await;
    let mut server = Launch::new(&dsn).start().await.unwrap();
    let http = http();
    // The database and its log, not the shared-memory index (`-shm`): SQLite maps that file, and the first write
    // to a page of the mapping of an immutable file kills the process with SIGBUS (seen here: exit 135), a
    // failure of the kernel's memory mapping that no error handling in the server can catch.
    let files: Vec<PathBuf> = ["identity.db", "identity.db-wal"].iter().map(|name| dir.join(name)).collect();
    let Some(immutable) = Immutable::set(&files) else {
        eprintln!("SKIPPED: `chattr +i` is refused here, so the read-only test passes without running");
        assert!(server.stop().await);
        return;
    };

    let (status, body) = register(&http, &server.public, "late@example.com").await;
    assert!(server.is_running(), "the server died on a read-only database ({body}):\n{}", server.log());
    assert_server_error(status, &body);
    assert_eq!(whoami(&http, &server.public, &seeded[0].1).await, 200);
    let (signed_in, signed_in_body) = login(&http, &server.public, &seeded[1].0).await;
    if signed_in != 200 {
        assert_server_error(signed_in, &signed_in_body);
    }
    assert!(server.is_running(), "the server died:\n{}", server.log());
    let errors = logged_errors(&server);
    let cause = errors.iter().find(|line| line.contains("readonly") || line.contains("I/O error"));
    assert!(cause.is_some(), "the log does not say why:\n{}", server.log());
    eprintln!(
        "FIGURES read-only while running: registration {status} {body}; login {signed_in}; whoami 200; logged: {}",
        cause.unwrap()
    );
    server.kill().await;

    // Started on the read-only file, the server starts (no migration is pending, so nothing is written) and
    // refuses writes the same way.
    let mut again = Launch::new(&dsn).start().await.unwrap_or_else(|log| panic!("no start read-only:\n{log}"));
    let (status, body) = register(&http, &again.public, "later@example.com").await;
    assert!(again.is_running(), "the server died on a read-only database ({body}):\n{}", again.log());
    assert_server_error(status, &body);
    assert_eq!(whoami(&http, &again.public, &seeded[0].1).await, 200);
    eprintln!("FIGURES read-only at start: started; registration {status}; whoami 200");
    again.kill().await;
    drop(immutable);

    let users: Vec<String> = seeded.into_iter().map(|(email, _)| email).collect();
    check_after(&dsn, &users).await;
    std::fs::remove_dir_all(&dir).unwrap();
}
