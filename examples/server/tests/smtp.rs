//! The recovery code arrives through a real SMTP server on loopback (Python's `aiosmtpd`, from the interpreter
//! `IDENTITY_TEST_PYTHON` names; `.ci/run` makes one). Without it the test says SKIPPED and passes.

use std::process::Stdio;
use std::time::Duration;

use identity_server::config::Config;
use serde_json::{Value, json};
use support::JsonBody;
use tokio::io::{AsyncBufReadExt, BufReader};

mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recovery_code_arrives_by_smtp_and_recovers_the_account() {
    let Ok(python) = std::env::var("IDENTITY_TEST_PYTHON") else {
        eprintln!("SKIPPED: IDENTITY_TEST_PYTHON is not set, so the SMTP test passes without running");
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut smtpd = tokio::process::Command::new(python)
        .args(["-u", "-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Debugging"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut mail = BufReader::new(smtpd.stdout.take().unwrap()).lines();
    // Wait until it accepts connections; say so if it never does (it exited, or the port was taken meanwhile).
    let mut listening = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            listening = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(listening, "aiosmtpd is not listening on port {port}: {:?}", smtpd.try_wait());

    let document = json!({
        "dsn": "memory",
        "serve": { "public": { "port": 0 }, "admin": { "port": 0 } },
        "hashers": { "argon2": { "memory_kib": 64, "iterations": 1, "parallelism": 1 } },
        "courier": { "smtp": { "connection_uri": format!("smtp://127.0.0.1:{port}"), "from_address": "Identity <id@example.com>" } },
    });
    let running =
        identity_server::server::start(Config::from_value(document, std::iter::empty()).unwrap()).await.unwrap();
    let http = reqwest::Client::new();
    let public = |path: &str| format!("http://{}{path}", running.public);
    let admin = format!("http://{}/admin/identities", running.admin);
    let created = http
        .post(admin)
        .json(&json!({"schema_id": "default", "traits": {"email": "ada@example.com"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    let flow = http.get(public("/self-service/recovery/api")).json_body().await;
    let submit = public(&format!("/self-service/recovery?flow={}", flow["id"].as_str().unwrap()));
    let sent = http.post(&submit).json(&json!({"method": "code", "email": "ada@example.com"})).send().await.unwrap();
    assert_eq!(sent.status(), 200);

    let code = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = mail.next_line().await {
            if let Some(code) = line
                .split(|c: char| !c.is_ascii_digit())
                .find(|word| word.len() == 6)
                .filter(|_| line.contains("recovery code"))
            {
                return code.to_owned();
            }
        }
        panic!("the SMTP server closed without a recovery code");
    })
    .await
    .expect("the recovery code did not arrive by SMTP");

    let recovered = http.post(&submit).json(&json!({"method": "code", "code": code})).send().await.unwrap();
    assert_eq!(recovered.status(), 200);
    let body: Value = recovered.json().await.unwrap();
    assert_eq!(body["state"], "passed_challenge");
    running.stop().await;
}

#[tokio::test]
async fn a_courier_that_cannot_deliver_never_fails_the_users_request() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let document = json!({
        "dsn": "memory",
        "serve": { "public": { "port": 0 }, "admin": { "port": 0 } },
        "courier": { "smtp": { "connection_uri": format!("smtp://127.0.0.1:{closed}"), "from_address": "id@example.com" } },
    });
    let running =
        identity_server::server::start(Config::from_value(document, std::iter::empty()).unwrap()).await.unwrap();
    let http = reqwest::Client::new();
    let created = http
        .post(format!("http://{}/admin/identities", running.admin))
        .json(&json!({"schema_id": "default", "traits": {"email": "ada@example.com"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let flow = http.get(format!("http://{}/self-service/recovery/api", running.public)).json_body().await;
    let submit = format!("http://{}/self-service/recovery?flow={}", running.public, flow["id"].as_str().unwrap());
    let sent = http.post(&submit).json(&json!({"method": "code", "email": "ada@example.com"})).send().await.unwrap();
    assert_eq!(sent.status(), 200);
    assert_eq!(sent.json::<Value>().await.unwrap()["state"], "sent_email");
    let bad = Config::from_value(
        json!({"dsn": "memory", "serve": { "public": { "port": 0 }, "admin": { "port": 0 } },
               "courier": {"smtp": {"connection_uri": "ftp://x", "from_address": "id@example.com"}}}),
        std::iter::empty(),
    )
    .unwrap();
    assert!(identity_server::server::start(bad).await.is_err(), "a bad SMTP URI started");
    running.stop().await;
}
