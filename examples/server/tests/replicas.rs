//! Two replicas of the server on one PostgreSQL schema, as behind a load balancer (one public URL, so one
//! issuer and one CSRF cookie name), each with its own ports: whatever one replica writes, the other sees on its
//! next request, because neither caches sessions, flows, codes, counters or clients. Each test has a schema of
//! its own, dropped at its end. Without `IDENTITY_TEST_POSTGRES_URL` every test says SKIPPED and passes.

use std::sync::Arc;
use std::time::Duration;

use identity_server::config::Config;
use identity_server::server::{Running, start};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

mod support;

use support::JsonBody;
use support::browser::{Browser, csrf_token};
use support::mail::MailSink;
use support::postgres::Schema;

const PASSWORD: &str = "correct-horse-battery-staple";
/// Where the load balancer in front of both replicas would be.
const PUBLIC_URL: &str = "https://id.example";

/// One replica: the running server and a client for it.
struct Replica {
    running: Running,
    http: Client,
}

impl Replica {
    fn public(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.public)
    }

    fn admin(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.admin)
    }

    /// A link the server made for the shared public URL, sent to this replica instead.
    fn here(&self, link: &str) -> String {
        link.replacen(PUBLIC_URL, &format!("http://{}", self.running.public), 1)
    }

    async fn flow(&self, kind: &str) -> Value {
        let response = self.http.get(self.public(&format!("/self-service/{kind}/api"))).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    async fn submit(&self, kind: &str, flow: &Value, body: Value) -> (StatusCode, Value) {
        let url = self.public(&format!("/self-service/{kind}?flow={}", flow["id"].as_str().unwrap()));
        let response = self.http.post(url).json(&body).send().await.unwrap();
        (response.status(), response.json().await.unwrap_or(Value::Null))
    }

    async fn register(&self, email: &str) -> Value {
        let flow = self.flow("registration").await;
        let body = json!({"method": "password", "traits": {"email": email}, "password": PASSWORD});
        let (status, done) = self.submit("registration", &flow, body).await;
        assert_eq!(status, 200, "{done}");
        done
    }

    async fn login(&self, email: &str, password: &str) -> (StatusCode, Value) {
        let flow = self.flow("login").await;
        self.submit("login", &flow, json!({"method": "password", "identifier": email, "password": password})).await
    }

    async fn token(&self, email: &str) -> String {
        let (status, done) = self.login(email, PASSWORD).await;
        assert_eq!(status, 200, "{done}");
        done["session_token"].as_str().unwrap().to_owned()
    }

    async fn whoami(&self, token: &str) -> StatusCode {
        let request = self.http.get(self.public("/sessions/whoami")).header("X-Session-Token", token);
        request.send().await.unwrap().status()
    }

    async fn whoami_by_cookie(&self, cookie: &str) -> StatusCode {
        let request = self.http.get(self.public("/sessions/whoami")).header("cookie", cookie);
        request.send().await.unwrap().status()
    }

    /// The identities whose credentials carry `identifier`, as the admin API finds them.
    async fn identities_with(&self, identifier: &str) -> Vec<Value> {
        let url = self.admin(&format!("/admin/identities?credentials_identifier={identifier}"));
        let found: Value = self.http.get(url).send().await.unwrap().json().await.unwrap();
        found.as_array().unwrap().clone()
    }
}

/// Two replicas on one fresh schema.
struct Pair {
    a: Arc<Replica>,
    b: Arc<Replica>,
    schema: Schema,
}

impl Pair {
    /// Starts both replicas at once (as a rolling deploy or an autoscaler would), with `extra` merged into
    /// their configuration; `None` without a test database.
    async fn start(test: &str, extra: Value) -> Option<Self> {
        let url = support::postgres::url(test)?;
        let schema = Schema::fresh(&url, "identity_replicas").await;
        let mut document = json!({
            "dsn": schema.dsn(),
            "database": { "max_connections": 4 },
            "serve": { "public": { "port": 0, "base_url": PUBLIC_URL }, "admin": { "port": 0 } },
            "secrets": { "cipher": ["replicas-share-this-cipher-key-0123456789"], "codes": "replicas-share-this-codes-key-0123456789" },
            "hashers": { "argon2": { "memory_kib": 64, "iterations": 1, "parallelism": 1 } },
            "selfservice": { "allowed_return_urls": ["https://app.example/"] },
        });
        merge(&mut document, extra);
        let config = || Config::from_value(document.clone(), std::iter::empty()).unwrap();
        let (a, b) = tokio::join!(start(config()), start(config()));
        let replica = |running| Arc::new(Replica { running, http: Client::new() });
        Some(Self { a: replica(a.unwrap()), b: replica(b.unwrap()), schema })
    }

    async fn stop(self) {
        for replica in [self.a, self.b] {
            let Ok(replica) = Arc::try_unwrap(replica) else { panic!("a replica is still in use") };
            replica.running.stop().await;
        }
        self.schema.drop().await;
    }
}

fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                merge(into.entry(key).or_insert(Value::Null), value);
            }
        }
        (into, from) => *into = from,
    }
}

/// Starts a browser flow of `kind` on `replica`: the flow, with the CSRF cookie now in `browser`.
async fn browser_flow(browser: &mut Browser, replica: &Replica, kind: &str) -> Value {
    let request =
        browser.http.get(replica.public(&format!("/self-service/{kind}/browser"))).header("accept", "application/json");
    let response = browser.send(request).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Submits a browser flow on `replica` with the cookies `browser` holds and the flow's CSRF token.
async fn submit_browser(browser: &mut Browser, replica: &Replica, kind: &str, flow: &Value, mut body: Value) -> Value {
    body["csrf_token"] = json!(csrf_token(flow));
    let url = replica.public(&format!("/self-service/{kind}?flow={}", flow["id"].as_str().unwrap()));
    let request = browser.http.post(url).header("accept", "application/json").json(&body);
    let response = browser.send(request).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// Signs `email` in through a browser login flow on `replica`; the session cookie is then in `browser`.
async fn browser_login(browser: &mut Browser, replica: &Replica, email: &str) {
    let flow = browser_flow(browser, replica, "login").await;
    let body = json!({"method": "password", "identifier": email, "password": PASSWORD});
    submit_browser(browser, replica, "login", &flow, body).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_issued_by_one_replica_is_valid_on_the_other() {
    let Some(pair) = Pair::start("a_session_issued_by_one_replica_is_valid_on_the_other", json!({})).await else {
        return;
    };
    let (a, b) = (&pair.a, &pair.b);
    let registered = a.register("ada@example.com").await;
    let token = registered["session_token"].as_str().unwrap();
    let seen: Value = b.http.get(b.public("/sessions/whoami")).header("X-Session-Token", token).json_body().await;
    assert_eq!(seen["identity"]["id"], registered["identity"]["id"], "{seen}");
    assert_eq!(b.whoami(&format!("Bearer-less-{token}")).await, 401, "B accepts anything");

    // A browser signed in on A carries its cookie to B.
    let mut browser = Browser::new();
    browser_login(&mut browser, a, "ada@example.com").await;
    assert!(browser.cookies.contains_key("ory_kratos_session"));
    assert_eq!(b.whoami_by_cookie(&browser.cookie_header()).await, 200);

    // And the other way round, for many sessions: every one B issues is valid on A at once.
    for _ in 0..10 {
        let token = b.token("ada@example.com").await;
        assert_eq!(a.whoami(&token).await, 200);
    }
    pair.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_revoked_on_one_replica_is_refused_by_the_other_at_once() {
    let Some(pair) = Pair::start("a_session_revoked_on_one_replica_is_refused_by_the_other_at_once", json!({})).await
    else {
        return;
    };
    let (a, b) = (&pair.a, &pair.b);
    let id = a.register("ada@example.com").await["identity"]["id"].as_str().unwrap().to_owned();
    let session_id = |replica: &Replica, token: &str| {
        let request = replica.http.get(replica.public("/sessions/whoami")).header("X-Session-Token", token);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned() }
    };

    // Each way of ending a session, done on A and checked on B by the very next request: no polling, no cache.
    const ROUNDS: usize = 5;
    for _ in 0..ROUNDS {
        // Logout (API).
        let token = a.token("ada@example.com").await;
        assert_eq!(b.whoami(&token).await, 200);
        let logout = a.http.delete(a.public("/self-service/logout/api")).json(&json!({"session_token": token}));
        assert_eq!(logout.send().await.unwrap().status(), 204);
        assert_eq!(b.whoami(&token).await, 401, "B still accepts a session logged out on A");

        // The owner revoking another of their sessions (`DELETE /sessions/{id}`).
        let (keeper, victim) = (a.token("ada@example.com").await, b.token("ada@example.com").await);
        let victim_id = session_id(b, &victim).await;
        let revoke = a.http.delete(a.public(&format!("/sessions/{victim_id}"))).header("X-Session-Token", &keeper);
        assert_eq!(revoke.send().await.unwrap().status(), 204);
        assert_eq!(b.whoami(&victim).await, 401, "B still accepts a session its owner revoked on A");
        assert_eq!(b.whoami(&keeper).await, 200);

        // An operator disabling one session, and then all of the identity's.
        let victim = b.token("ada@example.com").await;
        let victim_id = session_id(b, &victim).await;
        let disable = a.http.delete(a.admin(&format!("/admin/sessions/{victim_id}")));
        assert_eq!(disable.send().await.unwrap().status(), 204);
        assert_eq!(b.whoami(&victim).await, 401, "B still accepts a session an operator disabled on A");
        let all = a.http.delete(a.admin(&format!("/admin/identities/{id}/sessions")));
        assert_eq!(all.send().await.unwrap().status(), 204);
        assert_eq!(b.whoami(&keeper).await, 401, "B still accepts a session of an identity whose sessions A revoked");
    }

    // A browser's logout: the logout URL is made on A and opened on B; the cookie is dead on both at once.
    let mut browser = Browser::new();
    browser_login(&mut browser, a, "ada@example.com").await;
    let cookie = browser.cookie_header();
    assert_eq!(b.whoami_by_cookie(&cookie).await, 200);
    let logout: Value =
        a.http.get(a.public("/self-service/logout/browser")).header("cookie", &cookie).json_body().await;
    let url = b.here(logout["logout_url"].as_str().unwrap());
    assert_eq!(b.http.get(url).send().await.unwrap().status(), 204);
    assert_eq!(
        (a.whoami_by_cookie(&cookie).await, b.whoami_by_cookie(&cookie).await),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    pair.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_on_one_replica_count_on_the_other() {
    // 15 failures per client address (both replicas see the test as 127.0.0.1); 10 per identifier by policy.
    let extra = json!({"throttling": {"max_failures_per_address": 15}});
    let Some(pair) = Pair::start("failed_logins_on_one_replica_count_on_the_other", extra).await else { return };
    let (a, b) = (&pair.a, &pair.b);
    a.register("ada@example.com").await;

    // Ten wrong passwords for one identifier, alternating between the replicas, are each refused as wrong...
    for attempt in 0..10 {
        let replica = if attempt % 2 == 0 { a } else { b };
        let (status, flow) = replica.login("ada@example.com", "wrong-password-guess").await;
        assert_eq!(status, 400, "attempt {attempt}: {flow}");
        assert_eq!(flow["ui"]["messages"][0]["id"], 4000006, "attempt {attempt}: {flow}");
    }
    // ...and the eleventh is refused on either replica, even with the right password, before it is checked.
    for replica in [b, a] {
        let flow = replica.flow("login").await;
        let url = replica.public(&format!("/self-service/login?flow={}", flow["id"].as_str().unwrap()));
        let body = json!({"method": "password", "identifier": "ada@example.com", "password": PASSWORD});
        let response = replica.http.post(url).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 429);
        assert!(response.headers().contains_key("retry-after"));
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["id"], "rate_limited", "{error}");
    }

    // The address's budget is shared too: ten failures so far, five more on A with unknown identifiers...
    for n in 0..5 {
        assert_eq!(a.login(&format!("nobody{n}@example.com"), "wrong-password-guess").await.0, 400);
    }
    // ...and B refuses the address for any identifier.
    assert_eq!(b.login("someone-else@example.com", "wrong-password-guess").await.0, 429);
    pair.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_time_code_works_once_across_replicas_even_when_raced() {
    let mut mail = MailSink::start().await;
    // Each race's loser is a failed code attempt from 127.0.0.1: with the address limit (10 in 15 minutes) the
    // races would soon be refused as a whole; that budget is shared as the throttling test shows.
    let extra = json!({
        "courier": {"smtp": {"connection_uri": mail.uri(), "from_address": "id@example.com"}},
        "throttling": {"max_failures_per_address": 0},
    });
    let Some(pair) = Pair::start("a_one_time_code_works_once_across_replicas_even_when_raced", extra).await else {
        return;
    };
    let (a, b) = (&pair.a, &pair.b);
    let registered = a.register("ada@example.com").await;
    let id = registered["identity"]["id"].as_str().unwrap().to_owned();

    let recovery_code = || async {
        let issued: Value = a
            .http
            .post(a.admin("/admin/recovery/code"))
            .json(&json!({"identity_id": id, "flow_type": "api"}))
            .json_body()
            .await;
        let link = issued["recovery_link"].as_str().unwrap();
        let flow = support::browser::query(link, "flow").unwrap();
        (json!({"id": flow}), json!({"method": "code", "code": issued["recovery_code"]}))
    };
    let succeeded = |(status, body): &(StatusCode, Value)| {
        *status == 200 && body["continue_with"][0]["ory_session_token"].is_string()
    };

    // An operator's recovery code issued on A, redeemed on B, is spent for A.
    let (flow, code) = recovery_code().await;
    let first = b.submit("recovery", &flow, code.clone()).await;
    assert!(succeeded(&first), "{first:?}");
    let again = a.submit("recovery", &flow, code).await;
    assert!(!succeeded(&again) && again.0.is_client_error(), "a recovery code worked twice: {again:?}");

    // Raced: the same code submitted on A and B at the same moment recovers the account exactly once.
    const RACES: usize = 10;
    for race in 0..RACES {
        let (flow, code) = recovery_code().await;
        let (on_a, on_b) =
            tokio::join!(a.submit("recovery", &flow, code.clone()), b.submit("recovery", &flow, code.clone()));
        assert_eq!(
            [&on_a, &on_b].into_iter().filter(|outcome| succeeded(outcome)).count(),
            1,
            "race {race}: {on_a:?} / {on_b:?}"
        );
        for outcome in [&on_a, &on_b] {
            assert!(!outcome.0.is_server_error(), "race {race}: {outcome:?}");
        }
    }

    // Verification codes: mailed by one replica, raced on both, accepted once.
    const VERIFICATIONS: usize = 4;
    for n in 0..VERIFICATIONS {
        let email = format!("user{n}@example.com");
        let registered = b.register(&email).await;
        let flow = registered["continue_with"][0]["flow"].clone();
        let code = json!({"method": "code", "code": mail.code_for(&email).await});
        let (on_a, on_b) =
            tokio::join!(a.submit("verification", &flow, code.clone()), b.submit("verification", &flow, code.clone()));
        let passed =
            [&on_a, &on_b].into_iter().filter(|(status, body)| *status == 200 && body["state"] == "passed_challenge");
        assert_eq!(passed.count(), 1, "verification {n}: {on_a:?} / {on_b:?}");
        for outcome in [&on_a, &on_b] {
            assert!(!outcome.0.is_server_error(), "verification {n}: {outcome:?}");
        }
        let identity: Value = a
            .http
            .get(a.admin(&format!("/admin/identities/{}", registered["identity"]["id"].as_str().unwrap())))
            .json_body()
            .await;
        assert_eq!(identity["verifiable_addresses"][0]["verified"], true, "{identity}");
    }
    pair.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_of_one_email_across_replicas_create_one_identity() {
    let Some(pair) =
        Pair::start("concurrent_registrations_of_one_email_across_replicas_create_one_identity", json!({})).await
    else {
        return;
    };
    const AT_ONCE: usize = 20;
    const ROUNDS: usize = 3;
    for round in 0..ROUNDS {
        let email = format!("Race{round}@Example.com");
        // Every flow is ready first, so that the submissions start together.
        let mut flows = Vec::new();
        for n in 0..AT_ONCE {
            let replica = if n % 2 == 0 { pair.a.clone() } else { pair.b.clone() };
            let flow = replica.flow("registration").await;
            flows.push((replica, flow));
        }
        let start = Arc::new(tokio::sync::Barrier::new(AT_ONCE));
        let mut tasks = tokio::task::JoinSet::new();
        for (replica, flow) in flows {
            let (start, email) = (start.clone(), email.clone());
            tasks.spawn(async move {
                start.wait().await;
                let body = json!({"method": "password", "traits": {"email": email}, "password": PASSWORD});
                replica.submit("registration", &flow, body).await
            });
        }
        let outcomes = tasks.join_all().await;
        let created = outcomes.iter().filter(|(status, _)| *status == 200).count();
        assert_eq!(created, 1, "round {round}: {outcomes:?}");
        for (status, body) in outcomes.iter().filter(|(status, _)| *status != 200) {
            // Kratos' answer to a taken identifier: the flow again, with message 4000007.
            assert_eq!(*status, 400, "round {round}: {body}");
            assert_eq!(body["ui"]["messages"][0]["id"], 4000007, "round {round}: {body}");
        }
        for replica in [&pair.a, &pair.b] {
            let found = replica.identities_with(&email.to_lowercase()).await;
            assert_eq!(found.len(), 1, "round {round}: {found:?}");
        }
    }
    let all: Value =
        pair.a.http.get(pair.a.admin("/admin/identities?page_size=100")).send().await.unwrap().json().await.unwrap();
    assert_eq!(all.as_array().unwrap().len(), ROUNDS);
    pair.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_started_on_one_replica_finish_on_the_other() {
    let mut mail = MailSink::start().await;
    let extra = json!({"courier": {"smtp": {"connection_uri": mail.uri(), "from_address": "id@example.com"}}});
    let Some(pair) = Pair::start("flows_started_on_one_replica_finish_on_the_other", extra).await else { return };
    let (a, b) = (&pair.a, &pair.b);

    // Registration, native: created on A, submitted on B.
    let flow = a.flow("registration").await;
    let body = json!({"method": "password", "traits": {"email": "ada@example.com"}, "password": PASSWORD});
    let (status, done) = b.submit("registration", &flow, body).await;
    assert_eq!(status, 200, "{done}");
    let token = done["session_token"].as_str().unwrap().to_owned();
    assert_eq!(a.whoami(&token).await, 200);

    // Registration and login in a browser: the CSRF cookie A set is honoured by B, and the other way round.
    let mut browser = Browser::new();
    let flow = browser_flow(&mut browser, a, "registration").await;
    let body = json!({"method": "password", "traits": {"email": "grace@example.com"}, "password": PASSWORD});
    submit_browser(&mut browser, b, "registration", &flow, body).await;
    assert_eq!(a.whoami_by_cookie(&browser.cookie_header()).await, 200);
    let mut browser = Browser::new();
    let flow = browser_flow(&mut browser, b, "login").await;
    let body = json!({"method": "password", "identifier": "grace@example.com", "password": PASSWORD});
    submit_browser(&mut browser, a, "login", &flow, body).await;
    assert_eq!(b.whoami_by_cookie(&browser.cookie_header()).await, 200);
    // Without the CSRF cookie B refuses the flow A started, as A would.
    let flow = browser_flow(&mut Browser::new(), a, "login").await;
    let url = b.public(&format!("/self-service/login?flow={}", flow["id"].as_str().unwrap()));
    let forged = json!({"method": "password", "identifier": "grace@example.com", "password": PASSWORD, "csrf_token": csrf_token(&flow)});
    assert_eq!(b.http.post(url).json(&forged).send().await.unwrap().status(), 403);

    // Native login: created on B, submitted on A.
    let flow = b.flow("login").await;
    let (status, done) = a
        .submit("login", &flow, json!({"method": "password", "identifier": "ada@example.com", "password": PASSWORD}))
        .await;
    assert_eq!(status, 200, "{done}");

    // Recovery by code: flow created on A, the address submitted on B (B mails the code), the code entered on A;
    // the session it starts is valid on B.
    let verification = mail.code_for("ada@example.com").await;
    let flow = a.flow("recovery").await;
    let (status, sent) = b.submit("recovery", &flow, json!({"method": "code", "email": "ada@example.com"})).await;
    assert_eq!((status, sent["state"].as_str()), (StatusCode::OK, Some("sent_email")), "{sent}");
    let code = mail.code_for("ada@example.com").await;
    assert_ne!(code, verification);
    let (status, recovered) = a.submit("recovery", &flow, json!({"method": "code", "code": code})).await;
    assert_eq!((status, recovered["state"].as_str()), (StatusCode::OK, Some("passed_challenge")), "{recovered}");
    let recovered_token =
        recovered["continue_with"][0]["ory_session_token"].as_str().unwrap_or_else(|| panic!("{recovered}"));
    assert_eq!(b.whoami(recovered_token).await, 200);

    // Recovery ended every other session of ada's, on both replicas.
    assert_eq!((a.whoami(&token).await, b.whoami(&token).await), (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED));
    let token = recovered_token.to_owned();

    // Settings: created on A with the recovery's session, submitted on B; the new password signs in on A.
    let settings: Value =
        a.http.get(a.public("/self-service/settings/api")).header("X-Session-Token", &token).json_body().await;
    let url = b.public(&format!("/self-service/settings?flow={}", settings["id"].as_str().unwrap()));
    let saved = b
        .http
        .post(url)
        .header("X-Session-Token", &token)
        .json(&json!({"method": "password", "password": "another-long-passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    assert_eq!(a.login("ada@example.com", "another-long-passphrase").await.0, 200);
    assert_eq!(a.login("ada@example.com", PASSWORD).await.0, 400);
    pair.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_clients_tokens_and_keys_are_shared_by_the_replicas() {
    let Some(pair) = Pair::start("oauth2_clients_tokens_and_keys_are_shared_by_the_replicas", json!({})).await else {
        return;
    };
    let (a, b) = (&pair.a, &pair.b);
    let client = json!({"client_id": "svc", "grant_types": ["client_credentials"], "scope": "reports:read",
                        "token_endpoint_auth_method": "client_secret_basic"});
    let created: Value =
        a.http.post(a.admin("/admin/clients")).json(&client).send().await.unwrap().json().await.unwrap();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    let issue = |replica: &Replica| {
        let request = replica
            .http
            .post(replica.public("/oauth2/token"))
            .basic_auth("svc", Some(&secret))
            .form(&[("grant_type", "client_credentials"), ("scope", "reports:read")]);
        async move { request.send().await.unwrap() }
    };
    let introspect = |replica: &Replica, token: &str| {
        let request = replica.http.post(replica.admin("/admin/oauth2/introspect")).form(&[("token", token)]);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap()["active"].clone() }
    };

    // A client registered on A gets tokens from B; a token B issued and A revoked is inactive on B at once.
    let issued = issue(b).await;
    assert_eq!(issued.status(), 200);
    let access = issued.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(a, &access).await, true);
    let revoke =
        a.http.post(a.public("/oauth2/revoke")).basic_auth("svc", Some(&secret)).form(&[("token", access.as_str())]);
    assert_eq!(revoke.send().await.unwrap().status(), 200);
    assert_eq!(introspect(b, &access).await, false, "B still finds a token A revoked active");

    // Rotation on A: A signs with the new key at once. B verifies A's first token signed by it at once too (a
    // token naming a key B does not hold makes B read the stored keys), and from then on serves the new JWKS.
    let kids = |replica: &Replica| {
        let request = replica.http.get(replica.public("/.well-known/jwks.json"));
        async move { support::kids(&request.json_body().await) }
    };
    assert_eq!(kids(a).await, kids(b).await, "replicas starting together share one key set");
    for round in 0..3 {
        // B's reads on unknown keys are at most one a second.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(a.http.post(a.admin("/admin/oauth2/keys/rotate")).send().await.unwrap().status(), 200);
        let rotated = kids(a).await;
        assert_ne!(kids(b).await, rotated, "round {round}: B reloaded before it saw a token");
        let fresh = issue(a).await.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
        assert_eq!(introspect(b, &fresh).await, true, "round {round}: B refuses a token signed by the rotated key");
        assert_eq!(kids(b).await, rotated, "round {round}: B verified with keys it does not publish");
    }

    // A client deleted on A is refused by B at once.
    assert_eq!(a.http.delete(a.admin("/admin/clients/svc")).send().await.unwrap().status(), 204);
    let refused = issue(b).await;
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"], "invalid_client");
    pair.stop().await;
}
