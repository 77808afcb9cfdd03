//! The courier when SMTP is down: the user's recovery flow completes anyway, the courier logs the failure and
//! retries, and the message arrives once an SMTP server listens on the port; a message the SMTP server keeps
//! refusing does not hold up the ones behind it. The SMTP server is the tests' sink (`support/mail.rs`).

#![cfg(unix)]

use std::time::Duration;

use serde_json::{Value, json};
use support::child::{Launch, ServerProcess};
use support::mail::MailSink;

mod support;

async fn server_sending_to(port: u16) -> ServerProcess {
    Launch::new("memory")
        .with("IDENTITY_COURIER__SMTP__CONNECTION_URI", &format!("smtp://127.0.0.1:{port}"))
        .with("IDENTITY_COURIER__SMTP__FROM_ADDRESS", "Identity <id@example.com>")
        .start()
        .await
        .unwrap()
}

/// Creates `email` through the admin API and starts a recovery by code for it; returns the flow's submit URL.
async fn recover(http: &reqwest::Client, server: &ServerProcess, email: &str) -> String {
    let created = http
        .post(format!("{}/admin/identities", server.admin))
        .json(&json!({"schema_id": "default", "traits": {"email": email}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let flow: Value =
        http.get(format!("{}/self-service/recovery/api", server.public)).send().await.unwrap().json().await.unwrap();
    let submit = format!("{}/self-service/recovery?flow={}", server.public, flow["id"].as_str().unwrap());
    let sent = http.post(&submit).json(&json!({"method": "code", "email": email})).send().await.unwrap();
    assert_eq!(sent.status(), 200);
    assert_eq!(sent.json::<Value>().await.unwrap()["state"], "sent_email");
    submit
}

/// Waits up to 60 s for `done` to hold, polling.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let waited = tokio::time::timeout(Duration::from_secs(60), async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out waiting for {what}");
}

/// The courier's log lines about deliveries to `to`, as (message, attempt).
fn deliveries(server: &ServerProcess, to: &str) -> Vec<(String, u64)> {
    server
        .log()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|entry| entry["fields"]["to"] == to)
        .map(|entry| {
            let message = entry["fields"]["message"].as_str().unwrap_or_default().to_owned();
            (message, entry["fields"]["attempt"].as_u64().unwrap_or_default())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_code_sent_while_smtp_is_down_arrives_when_it_comes_up() {
    // Bound but not listening: connections are refused, as by a host whose SMTP is down, and no other test can
    // take the port before the sink listens on it.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = socket.local_addr().unwrap().port();
    let server = server_sending_to(port).await;
    let http = reqwest::Client::new();
    let submit = recover(&http, &server, "ada@example.com").await;

    eventually("a failed first attempt in the log", || {
        deliveries(&server, "ada@example.com").contains(&("delivery failed; retrying".into(), 1))
    })
    .await;
    let mut sink = MailSink::on(socket.listen(16).unwrap(), None);
    let mail = sink.next().await;
    assert_eq!(mail.to, ["ada@example.com"]);
    let code = mail.code().unwrap_or_else(|| panic!("no code in {}", mail.text));
    let recovered = http.post(&submit).json(&json!({"method": "code", "code": code})).send().await.unwrap();
    assert_eq!(recovered.status(), 200);
    assert_eq!(recovered.json::<Value>().await.unwrap()["state"], "passed_challenge");
    eventually("the delivery in the log", || {
        deliveries(&server, "ada@example.com").iter().any(|(message, _)| message == "message delivered")
    })
    .await;
    let log = deliveries(&server, "ada@example.com");
    eprintln!("FIGURES courier down then up: {log:?}");
    assert!(server.stop().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_smtp_keeps_refusing_does_not_hold_up_the_others() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut sink = MailSink::on(listener, Some("stuck@example.com"));
    let server = server_sending_to(port).await;
    let http = reqwest::Client::new();
    recover(&http, &server, "stuck@example.com").await;
    eventually("the first refusal", || sink.refusals() > 0).await;

    recover(&http, &server, "ada@example.com").await;
    sink.code_for("ada@example.com").await;
    // Ada's message went out while the stuck one was still between its attempts, not after it was given up.
    let refused = sink.refusals();
    assert!(refused < identity_server::courier::ATTEMPTS as usize, "{refused} refusals before ada's message");
    assert!(!deliveries(&server, "stuck@example.com").iter().any(|(message, _)| message.contains("giving up")));

    eventually("the stuck message given up", || {
        deliveries(&server, "stuck@example.com").iter().any(|(message, _)| message.contains("giving up"))
    })
    .await;
    let refused = sink.refusals();
    assert_eq!(refused, identity_server::courier::ATTEMPTS as usize);
    eprintln!("FIGURES courier stuck message: {:?}", deliveries(&server, "stuck@example.com"));
    assert!(server.stop().await);
}
