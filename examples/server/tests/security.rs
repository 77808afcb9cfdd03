//! Security properties of the server, shown over real HTTP against in-process servers: no account enumeration (in
//! answers and in timing), no secret at rest in the database, brute force throttled across many client addresses,
//! CSRF on every browser flow, and credential changes ending the sessions they should.
//!
//! Covered elsewhere and not repeated here: cookie flags, session rotation on login and logout of one session
//! (e2e.rs), the admin API's absence from the public listener (e2e.rs), token confusion (identity-oidc).

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use identity_server::config::Config;
use identity_server::server::{Running, start};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

mod support;

use support::JsonBody;
use support::browser::{Browser, csrf_token};
use support::mail::MailSink;

const PASSWORD: &str = "correct-horse-battery-staple";
const NEW_PASSWORD: &str = "another-long-passphrase";

fn temp_db() -> PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("security-{}.db", uuid::Uuid::new_v4()))
}

/// A configuration on `dsn` with cheap hashes, changed by `patch` (merged key by key).
fn document(dsn: &str, patch: Value) -> Value {
    let mut document = json!({
        "dsn": dsn,
        "serve": { "public": { "port": 0 }, "admin": { "port": 0 } },
        "hashers": { "argon2": { "memory_kib": 64, "iterations": 1, "parallelism": 1 } },
    });
    merge(&mut document, patch);
    document
}

fn merge(into: &mut Value, patch: Value) {
    match (into, patch) {
        (Value::Object(into), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(into.entry(key).or_insert(Value::Null), value);
            }
        }
        (into, patch) => *into = patch,
    }
}

struct Server {
    running: Running,
    http: Client,
}

impl Server {
    async fn start(document: Value) -> Self {
        let running = start(Config::from_value(document, std::iter::empty()).unwrap()).await.unwrap();
        Self { running, http: Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap() }
    }

    fn public(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.public)
    }

    fn admin(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.admin)
    }

    /// A new API flow of `kind` (with `token`'s session for settings).
    async fn api_flow(&self, kind: &str, token: Option<&str>) -> Value {
        let mut request = self.http.get(self.public(&format!("/self-service/{kind}/api")));
        if let Some(token) = token {
            request = request.header("X-Session-Token", token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    async fn submit(&self, kind: &str, flow: &Value, body: Value, token: Option<&str>) -> (StatusCode, Value) {
        let url = self.public(&format!("/self-service/{kind}?flow={}", flow["id"].as_str().unwrap()));
        let mut request = self.http.post(url).json(&body);
        if let Some(token) = token {
            request = request.header("X-Session-Token", token);
        }
        let response = request.send().await.unwrap();
        (response.status(), response.json().await.unwrap())
    }

    /// Creates `email` with [`PASSWORD`] through the admin API; its id.
    async fn create_identity(&self, email: &str) -> String {
        let body = json!({"schema_id": "default", "traits": {"email": email},
                          "credentials": {"password": {"config": {"password": PASSWORD}}}});
        let response = self.http.post(self.admin("/admin/identities")).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 201);
        response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    }

    async fn login(&self, email: &str, password: &str) -> (StatusCode, Value) {
        let flow = self.api_flow("login", None).await;
        self.submit("login", &flow, json!({"method": "password", "identifier": email, "password": password}), None)
            .await
    }

    /// Signs in and answers the session token.
    async fn session(&self, email: &str, password: &str) -> String {
        let (status, done) = self.login(email, password).await;
        assert_eq!(status, 200, "{done}");
        done["session_token"].as_str().unwrap().to_owned()
    }

    async fn whoami(&self, token: &str) -> StatusCode {
        self.http.get(self.public("/sessions/whoami")).header("X-Session-Token", token).send().await.unwrap().status()
    }

    /// The password hash stored for `id`.
    async fn password_hash(&self, id: &str) -> String {
        let url = self.admin(&format!("/admin/identities/{id}?include_credential=password"));
        let identity = self.http.get(url).json_body().await;
        identity["credentials"]["password"]["config"]["hashed_password"].as_str().unwrap().to_owned()
    }

    /// The value of the metric line `name` on the admin listener (0 when absent).
    async fn metric(&self, name: &str) -> u64 {
        let text = self.http.get(self.admin("/metrics")).send().await.unwrap().text().await.unwrap();
        let value = text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok());
        value.unwrap_or(0)
    }

    /// An operator's recovery code for `id`, redeemed in its API flow: the new session's token.
    async fn recover(&self, id: &str) -> String {
        let issued = self
            .http
            .post(self.admin("/admin/recovery/code"))
            .json(&json!({"identity_id": id, "flow_type": "api"}))
            .json_body()
            .await;
        let flow_id = support::browser::query(issued["recovery_link"].as_str().unwrap(), "flow").unwrap();
        let (status, recovered) = self
            .submit(
                "recovery",
                &json!({"id": flow_id}),
                json!({"method": "code", "code": issued["recovery_code"]}),
                None,
            )
            .await;
        assert_eq!(status, 200, "{recovered}");
        recovered["continue_with"][0]["ory_session_token"].as_str().unwrap().to_owned()
    }
}

/// `value` with what differs between any two answers by construction (ids, instants, the identifier the caller
/// typed) replaced by placeholders, so two answers can be compared byte for byte.
fn scrubbed(value: &Value, typed: &str) -> Vec<u8> {
    fn walk(value: &Value, typed: &str) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, value)| {
                        let value = if key.ends_with("_at") && value.is_string() {
                            json!("<instant>")
                        } else {
                            walk(value, typed)
                        };
                        (key.clone(), value)
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|item| walk(item, typed)).collect()),
            Value::String(text) => Value::String(without_uuids(&text.replace(typed, "<typed>"))),
            other => other.clone(),
        }
    }
    serde_json::to_vec(&walk(value, typed)).unwrap()
}

fn without_uuids(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        if rest.len() >= 36 && rest.is_char_boundary(36) && uuid::Uuid::try_parse(&rest[..36]).is_ok() {
            out.push_str("<id>");
            rest = &rest[36..];
        } else {
            let next = rest.chars().next().unwrap();
            out.push(next);
            rest = &rest[next.len_utf8()..];
        }
    }
    out
}

fn unknown_email() -> String {
    format!("nobody-{}@example.com", uuid::Uuid::new_v4().simple())
}

// ---------------------------------------------------------------------------------------------------------------
// 1. No account enumeration.

#[tokio::test]
async fn login_with_unknown_identifier_looks_like_wrong_password() {
    let server = Server::start(document("memory", json!({}))).await;
    server.create_identity("ada@example.com").await;
    let (known_status, known) = server.login("ada@example.com", "wrong-password-1").await;
    let stranger = unknown_email();
    let (unknown_status, unknown) = server.login(&stranger, "wrong-password-1").await;
    assert_eq!(known_status, 400);
    assert_eq!(known_status, unknown_status);
    assert_eq!(known["ui"]["messages"][0]["id"], 4000006, "{known}");
    let (known, unknown) = (scrubbed(&known, "ada@example.com"), scrubbed(&unknown, &stranger));
    assert_eq!(String::from_utf8_lossy(&known), String::from_utf8_lossy(&unknown));
    server.running.stop().await;
}

async fn register(server: &Server, email: &str) -> (StatusCode, Value) {
    let flow = server.api_flow("registration", None).await;
    let body = json!({"method": "password", "traits": {"email": email}, "password": NEW_PASSWORD});
    server.submit("registration", &flow, body, None).await
}

#[tokio::test]
async fn a_taken_email_at_registration_says_only_what_kratos_says() {
    let server = Server::start(document("memory", json!({}))).await;
    let ada = server.create_identity("ada@example.com").await;
    let ada_hash = server.password_hash(&ada).await;
    let (status, taken) = register(&server, "ADA@example.com").await;
    // Kratos answers a taken identifier the same way: the flow again, 400, with message 4000007 ("An account with
    // the same identifier (email, phone, username, ...) exists already."), so registration does tell that an
    // account exists, there as here. Nothing more about it may come out: no id, no hash, no session.
    assert_eq!(status, 400, "{taken}");
    let messages = taken["ui"]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{taken}");
    assert_eq!(messages[0]["id"], 4000007);
    let text = taken.to_string();
    assert!(!text.contains(&ada) && !text.contains(&ada_hash), "{text}");
    assert!(taken.get("identity").is_none() && taken.get("session_token").is_none(), "{text}");
    assert_eq!(server.password_hash(&ada).await, ada_hash, "the taken account changed");
    assert_eq!(server.login("ada@example.com", NEW_PASSWORD).await.0, 400);
    // A new email registers.
    let (status, fresh) = register(&server, "grace@example.com").await;
    assert_eq!(status, 200, "{fresh}");
    server.running.stop().await;
}

#[tokio::test]
async fn recovery_and_verification_answer_alike_for_known_and_unknown_addresses() {
    let mut mail = MailSink::start().await;
    let server = Server::start(document(
        "memory",
        json!({"courier": {"smtp": {"connection_uri": mail.uri(), "from_address": "id@example.com"}}}),
    ))
    .await;
    server.create_identity("ada@example.com").await;
    for kind in ["recovery", "verification"] {
        let stranger = unknown_email();
        let mut answers = Vec::new();
        for email in ["ada@example.com", stranger.as_str()] {
            let flow = server.api_flow(kind, None).await;
            let (status, answer) = server.submit(kind, &flow, json!({"method": "code", "email": email}), None).await;
            assert_eq!(answer["state"], "sent_email", "{kind} {email}: {answer}");
            // The state the flow is left in is the same too.
            let url = server.public(&format!("/self-service/{kind}/flows?id={}", flow["id"].as_str().unwrap()));
            let stored = server.http.get(url).json_body().await;
            answers.push((status, scrubbed(&answer, email), scrubbed(&stored, email)));
        }
        let (known, unknown) = (&answers[0], &answers[1]);
        assert_eq!(known.0, unknown.0, "{kind}: status");
        assert_eq!(String::from_utf8_lossy(&known.1), String::from_utf8_lossy(&unknown.1), "{kind}: answer");
        assert_eq!(String::from_utf8_lossy(&known.2), String::from_utf8_lossy(&unknown.2), "{kind}: stored flow");
        // Only the real address gets mail (what it says is the one difference, and it goes to the owner).
        assert!(mail.next().await.text.contains("ada@example.com"));
    }
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_takes_as_long_for_unknown_identifiers_as_for_wrong_passwords() {
    // On SQLite, where a known account costs one more counter write than an unknown one. argon2id at 4 MiB, one
    // pass: in a test build (unoptimised) that is tens of milliseconds, far above the store's work, so the hash
    // dominates as it does in production (the defaults, 19 MiB and two passes, took ~640 ms a login here unoptimised,
    // too slow for 400 logins). Hashes run at normal priority so that other work on a shared machine cannot starve
    // them; the parameters decide the cost, not the scheduling.
    let dsn = format!("sqlite://{}", temp_db().display());
    let server = Server::start(json!({
        "dsn": dsn,
        "serve": { "public": { "port": 0 }, "admin": { "port": 0 } },
        "hashers": { "priority": "normal", "argon2": { "memory_kib": 4096, "iterations": 1, "parallelism": 1 } },
        "throttling": { "max_failures_per_address": 0 },
    }))
    .await;
    // Each account takes at most 8 wrong passwords (under the lockout of 10), so none is ever refused unhashed.
    const PAIRS: usize = 200;
    const WARM_UP: usize = 10;
    let accounts: Vec<String> = (0..(PAIRS + WARM_UP).div_ceil(8)).map(|n| format!("user{n}@example.com")).collect();
    for account in &accounts {
        server.create_identity(account).await;
    }
    let attempt = |email: String| {
        let server = &server;
        async move {
            let flow = server.api_flow("login", None).await;
            let body = json!({"method": "password", "identifier": email, "password": "wrong-password-1"});
            let started = Instant::now();
            let (status, answer) = server.submit("login", &flow, body, None).await;
            let took = started.elapsed();
            assert_eq!(status, 400, "{answer}");
            took
        }
    };
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for pair in 0..(PAIRS + WARM_UP) {
        let account = accounts[pair / 8].clone();
        // Alternate which goes first, so a drift in machine load weighs on both sides alike.
        let (k, u) = if pair % 2 == 0 {
            let k = attempt(account).await;
            (k, attempt(unknown_email()).await)
        } else {
            let u = attempt(unknown_email()).await;
            (attempt(account).await, u)
        };
        if pair >= WARM_UP {
            known.push(k);
            unknown.push(u);
        }
    }
    let median = |samples: &mut Vec<Duration>| {
        samples.sort();
        samples[samples.len() / 2]
    };
    let (known, unknown) = (median(&mut known), median(&mut unknown));
    let ratio = known.as_secs_f64() / unknown.as_secs_f64();
    eprintln!("FIGURES login timing: {PAIRS} pairs, median known {known:?}, unknown {unknown:?}, ratio {ratio:.3}");
    assert!((ratio - 1.0).abs() < 0.10, "median known {known:?} vs unknown {unknown:?}: ratio {ratio:.3}");
    assert_eq!(server.metric("identity_logins_total{outcome=\"throttled\"}").await, 0);
    server.running.stop().await;
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Secrets at rest.

/// A secret the test saw: what it is, and its bytes as the client got them.
struct Seen {
    what: String,
    bytes: Vec<u8>,
}

fn seen(what: impl Into<String>, secret: &str) -> Seen {
    assert!(!secret.is_empty());
    Seen { what: what.into(), bytes: secret.as_bytes().to_vec() }
}

/// Walks through every flow that hands out a secret, on a server whose courier delivers to `mail`, and answers
/// every secret it was handed.
async fn hand_out_secrets(server: &Server, mail: &mut MailSink) -> Vec<Seen> {
    let mut secrets = vec![seen("password", PASSWORD)];

    // Registration: a native session token, and a verification code by mail.
    let flow = server.api_flow("registration", None).await;
    let body = json!({"method": "password", "traits": {"email": "ada@example.com"}, "password": PASSWORD});
    let (status, registered) = server.submit("registration", &flow, body, None).await;
    assert_eq!(status, 200, "{registered}");
    let id = registered["identity"]["id"].as_str().unwrap().to_owned();
    let native = registered["session_token"].as_str().unwrap().to_owned();
    secrets.push(seen("native session token", &native));
    secrets.push(seen("verification code sent at registration", &mail.next_code().await));
    for kind in ["verification", "recovery"] {
        let flow = server.api_flow(kind, None).await;
        let (status, sent) =
            server.submit(kind, &flow, json!({"method": "code", "email": "ada@example.com"}), None).await;
        assert_eq!((status, sent["state"].as_str()), (StatusCode::OK, Some("sent_email")), "{sent}");
        secrets.push(seen(format!("{kind} code sent by mail"), &mail.next_code().await));
    }

    // A browser login: the CSRF token, the session cookie, a logout token.
    let mut browser = Browser::new();
    let created = server.http.get(server.public("/self-service/login/browser")).header("accept", "application/json");
    let flow: Value = browser.send(created).await.json().await.unwrap();
    let csrf = csrf_token(&flow);
    secrets.push(seen("CSRF token", &csrf));
    let url = server.public(&format!("/self-service/login?flow={}", flow["id"].as_str().unwrap()));
    let body = json!({"method": "password", "identifier": "ada@example.com", "password": PASSWORD, "csrf_token": csrf});
    let response = browser.send(server.http.post(url).json(&body)).await;
    assert_eq!(response.status(), 200);
    secrets.push(seen("browser session cookie", &browser.cookies["ory_kratos_session"]));
    let logout: Value =
        browser.send(server.http.get(server.public("/self-service/logout/browser"))).await.json().await.unwrap();
    secrets.push(seen("logout token", logout["logout_token"].as_str().unwrap()));

    // An operator's recovery code and link.
    let issued =
        server.http.post(server.admin("/admin/recovery/code")).json(&json!({"identity_id": id})).json_body().await;
    secrets.push(seen("admin recovery code", issued["recovery_code"].as_str().unwrap()));
    let link =
        server.http.post(server.admin("/admin/recovery/link")).json(&json!({"identity_id": id})).json_body().await;
    let link = link["recovery_link"].as_str().unwrap();
    secrets.push(seen("admin recovery link's code", &support::browser::query(link, "code").unwrap()));

    // OAuth2: a client secret; client credentials; the authorization code with PKCE, its tokens, a refresh.
    let redirect = "https://app.example/callback";
    let client = json!({
        "client_id": "shop", "redirect_uris": [redirect], "scope": "openid email",
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_method": "client_secret_basic"
    });
    let created = server.http.post(server.admin("/admin/clients")).json(&client).json_body().await;
    let client_secret = created["client_secret"].as_str().unwrap().to_owned();
    secrets.push(seen("OAuth2 client secret", &client_secret));
    let token = |form: Vec<(&'static str, String)>| {
        server
            .http
            .post(server.public("/oauth2/token"))
            .basic_auth("shop", Some(&client_secret))
            .form(&form)
            .json_body()
    };
    let mut tokens = vec![token(vec![("grant_type", "client_credentials".into())]).await];
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let params = [
        ("response_type", "code"),
        ("client_id", "shop"),
        ("redirect_uri", redirect),
        ("scope", "openid email"),
        ("state", "state-1"),
        ("nonce", "nonce-1"),
        ("code_challenge", &identity_oidc::pkce::challenge_s256(verifier)),
        ("code_challenge_method", "S256"),
    ];
    let authorize = format!("{}?{}", server.public("/oauth2/auth"), serde_urlencoded::to_string(params).unwrap());
    let signed_in =
        server.http.get(&authorize).header("cookie", format!("ory_kratos_session={native}")).send().await.unwrap();
    assert_eq!(signed_in.status(), 303);
    let code = support::browser::query(&support::browser::location(&signed_in), "code").unwrap();
    secrets.push(seen("authorization code", &code));
    let exchanged = token(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code),
        ("redirect_uri", redirect.into()),
        ("code_verifier", verifier.into()),
    ])
    .await;
    let refresh = exchanged["refresh_token"].as_str().unwrap().to_owned();
    tokens.push(exchanged);
    tokens.push(token(vec![("grant_type", "refresh_token".into()), ("refresh_token", refresh)]).await);
    for issued in &tokens {
        for kind in ["access_token", "refresh_token", "id_token"] {
            let Some(value) = issued[kind].as_str() else { continue };
            secrets.push(seen(kind, value));
            if let Some((_, signature)) = value.rsplit_once('.') {
                secrets.push(seen(format!("{kind}'s signature"), signature));
            }
        }
    }
    assert!(secrets.iter().filter(|s| s.what == "refresh_token").count() >= 2 && tokens[1]["id_token"].is_string());

    // Settings: a TOTP secret (shown, then confirmed) and lookup codes (shown, then confirmed).
    let flow = server.api_flow("settings", Some(&native)).await;
    let (status, shown) = server.submit("settings", &flow, json!({"method": "totp"}), Some(&native)).await;
    assert_eq!(status, 200, "{shown}");
    let nodes = shown["ui"]["nodes"].as_array().unwrap();
    let uri = nodes.iter().find(|n| n["attributes"]["id"] == "totp_secret_key").unwrap()["attributes"]["text"]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    let app = totp_rs::Totp::from_url(&uri).unwrap();
    secrets.push(seen("TOTP secret (base32)", &support::browser::query(&uri, "secret").unwrap()));
    secrets.push(Seen { what: "TOTP secret (bytes)".into(), bytes: app.secret().as_bytes().to_vec() });
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let confirm = json!({"method": "totp", "totp_code": app.generate(now).to_string()});
    let (_, saved) = server.submit("settings", &flow, confirm, Some(&native)).await;
    assert_eq!(saved["state"], "success", "{saved}");
    let regenerate = json!({"method": "lookup_secret", "lookup_secret_regenerate": true});
    let (status, shown) = server.submit("settings", &flow, regenerate, Some(&native)).await;
    assert_eq!(status, 200, "{shown}");
    let nodes = shown["ui"]["nodes"].as_array().unwrap();
    let codes =
        nodes.iter().find(|n| n["attributes"]["id"] == "lookup_secret_codes").unwrap()["attributes"]["text"]["context"]
            ["secrets"]
            .as_array()
            .unwrap()
            .clone();
    assert!(!codes.is_empty());
    for code in &codes {
        secrets.push(seen("lookup code", code.as_str().unwrap()));
    }
    let confirm = json!({"method": "lookup_secret", "lookup_secret_confirm": true});
    let (_, saved) = server.submit("settings", &flow, confirm, Some(&native)).await;
    assert_eq!(saved["state"], "success", "{saved}");
    // Used, the secrets still work: the store holds what checks them.
    assert_eq!(server.whoami(&native).await, 200);
    secrets
}

/// The forms in which `secret` could be written down: as is, hex, base64 (and, where it is base64 itself, the
/// bytes it encodes, in the same forms).
fn forms(secret: &[u8]) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let mut sources = vec![secret.to_vec()];
    for engine in [&URL_SAFE_NO_PAD, &URL_SAFE, &STANDARD, &STANDARD_NO_PAD] {
        if let Ok(decoded) = engine.decode(secret)
            && decoded.len() >= 8
        {
            sources.push(decoded);
        }
    }
    let mut forms = Vec::new();
    for bytes in sources {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        forms.push(hex.to_uppercase().into_bytes());
        forms.push(hex.into_bytes());
        forms.push(STANDARD.encode(&bytes).trim_end_matches('=').as_bytes().to_vec());
        forms.push(URL_SAFE_NO_PAD.encode(&bytes).into_bytes());
        forms.push(bytes);
    }
    forms.sort();
    forms.dedup();
    forms
}

#[test]
fn the_scan_finds_a_code_written_down_but_not_in_hashes_uuids_or_times() {
    let code = b"123456";
    for stored in [&b"{\"code\":\"123456\"}"[..], b"123456", b"code=123456&x", b"'123456'"] {
        assert_eq!(support::occurrences(stored, code).len(), 1, "{}", String::from_utf8_lossy(stored));
    }
    for noise in [&b"9f123456e0"[..], b"0123456", b"1234567", b"2026-12-06T22:31:19.123456Z", b"a123456-"] {
        assert!(support::occurrences(noise, code).is_empty(), "{}", String::from_utf8_lossy(noise));
    }
    assert_eq!(support::occurrences(b"tok-abc.tok-abc", b"tok-abc").len(), 2, "other secrets are found anywhere");
}

/// Panics with every secret found in `files` (name and bytes), and where.
fn assert_no_secret_in(files: &[(String, Vec<u8>)], secrets: &[Seen]) {
    let mut found = Vec::new();
    for secret in secrets {
        for form in forms(&secret.bytes) {
            for (name, bytes) in files {
                for at in support::occurrences(bytes, &form) {
                    let context = &bytes[at.saturating_sub(60)..(at + form.len() + 60).min(bytes.len())];
                    found.push(format!(
                        "{} (as `{}`) in {name} at {at}: …{}…",
                        secret.what,
                        String::from_utf8_lossy(&form),
                        String::from_utf8_lossy(context)
                    ));
                }
            }
        }
    }
    let scanned: usize = files.iter().map(|(_, bytes)| bytes.len()).sum();
    eprintln!("FIGURES secrets at rest: {} secrets, {} files, {scanned} bytes scanned", secrets.len(), files.len());
    assert!(found.is_empty(), "secrets at rest:\n{}", found.join("\n"));
}

fn mail_courier(mail: &MailSink) -> Value {
    json!({"courier": {"smtp": {"connection_uri": mail.uri(), "from_address": "id@example.com"}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_handed_out_is_stored_in_the_sqlite_file() {
    let mut mail = MailSink::start().await;
    let path = temp_db();
    let server = Server::start(document(&format!("sqlite://{}", path.display()), mail_courier(&mail))).await;
    let secrets = hand_out_secrets(&server, &mut mail).await;
    server.running.stop().await;
    // Whatever the pool has not checkpointed yet is in the write-ahead log: scan that too.
    let mut files = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let name = format!("{}{suffix}", path.display());
        if let Ok(bytes) = std::fs::read(&name) {
            files.push((name, bytes));
        }
    }
    let holds_data = files.iter().any(|(_, bytes)| !support::occurrences(bytes, b"ada@example.com").is_empty());
    assert!(
        holds_data,
        "the scanned files hold no data: {:?}",
        files.iter().map(|(n, b)| (n, b.len())).collect::<Vec<_>>()
    );
    assert_no_secret_in(&files, &secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_handed_out_is_stored_in_postgresql() {
    let Some(url) = std::env::var("IDENTITY_TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty()) else {
        eprintln!(
            "SKIPPED: IDENTITY_TEST_POSTGRES_URL is not set, so the PostgreSQL secrets test passes without running"
        );
        return;
    };
    // A schema of its own, made by the store's migrations, then named in the server's search path.
    let schema = format!("security_{}", uuid::Uuid::new_v4().simple());
    let mut options = identity_store::sql::SqlOptions::new(url.clone());
    options.schema = Some(schema.clone());
    identity_store::sql::SqlStore::connect(&options).await.unwrap().migrate().await.unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    let dsn = format!("{url}{separator}options=-csearch_path%3D{schema}");
    let mut mail = MailSink::start().await;
    let mut configured = document(&dsn, mail_courier(&mail));
    // Replicas on PostgreSQL share configured keys (no development keys next to a file).
    configured["secrets"] = json!({"cipher": ["cipher-key-of-the-security-test-0123456789"],
                                   "codes": "codes-key-of-the-security-test-0123456789"});
    let server = Server::start(configured).await;
    let secrets = hand_out_secrets(&server, &mut mail).await;
    server.running.stop().await;
    let dump = std::process::Command::new("pg_dump")
        .args(["--dbname", &url, "--schema", &schema, "--no-owner"])
        .output()
        .expect("pg_dump is not on PATH");
    assert!(dump.status.success(), "pg_dump: {}", String::from_utf8_lossy(&dump.stderr));
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(text.contains("COPY") && text.contains("ada@example.com"), "the dump holds no data");
    let files = vec![(format!("pg_dump of {schema}"), dump.stdout.clone())];
    let _ =
        std::process::Command::new("psql").args([&url, "-q", "-c", &format!("DROP SCHEMA {schema} CASCADE")]).output();
    assert_no_secret_in(&files, &secrets);
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Brute force.

/// A client whose connections come from `address` (any of 127.0.0.0/8 is this machine on Linux).
fn client_from(address: Ipv4Addr) -> Client {
    Client::builder().local_address(IpAddr::V4(address)).pool_max_idle_per_host(1).build().unwrap()
}

/// One password login through `flow_url` (`/self-service/login?flow=`), answered with its status and
/// `Retry-After` in seconds.
async fn guess(http: &Client, flow_url: &str, identifier: &str, password: &str) -> (StatusCode, Option<u64>) {
    let body = json!({"method": "password", "identifier": identifier, "password": password});
    let response = http.post(flow_url).json(&body).send().await.unwrap();
    let retry = response.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok());
    (response.status(), retry)
}

async fn login_flow_url(server: &Server, http: &Client) -> String {
    let flow = http.get(server.public("/self-service/login/api")).json_body().await;
    server.public(&format!("/self-service/login?flow={}", flow["id"].as_str().unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_guesses_from_249_addresses_are_refused_unhashed_and_the_owner_recovers() {
    // The default policy (10 failures per identifier and identity, 10 per address, 15 minutes) and the default
    // argon2id parameters, on SQLite: were the guesses hashed, 10,000 of them would take minutes on two cores.
    let dsn = format!("sqlite://{}", temp_db().display());
    let server = Server::start(json!({"dsn": dsn, "serve": { "public": { "port": 0 }, "admin": { "port": 0 } }})).await;
    let ada = server.create_identity("ada@example.com").await;
    const GUESSES: usize = 10_000;
    let addresses: Vec<Ipv4Addr> = (2..=250).map(|last| Ipv4Addr::new(127, 0, 0, last)).collect();
    let started = Instant::now();
    let mut attackers = tokio::task::JoinSet::new();
    for (n, address) in addresses.iter().enumerate() {
        // 10,000 spread over 249 addresses: 40 or 41 each, one after the other; all addresses at once.
        let share = GUESSES / addresses.len() + usize::from(n < GUESSES % addresses.len());
        let http = client_from(*address);
        let flow_url = login_flow_url(&server, &http).await;
        attackers.spawn(async move {
            let mut answers = Vec::with_capacity(share);
            for guess_number in 0..share {
                let password = format!("guess-{n}-{guess_number}");
                answers.push(guess(&http, &flow_url, "ada@example.com", &password).await);
            }
            answers
        });
    }
    let answers: Vec<(StatusCode, Option<u64>)> = attackers.join_all().await.into_iter().flatten().collect();
    let took = started.elapsed();
    assert_eq!(answers.len(), GUESSES);
    let mut statuses = std::collections::BTreeMap::new();
    for (status, _) in &answers {
        *statuses.entry(status.as_u16()).or_insert(0usize) += 1;
    }
    eprintln!("FIGURES brute force statuses: {statuses:?} in {took:?}");
    let wrong = answers.iter().filter(|(status, _)| *status == StatusCode::BAD_REQUEST).count();
    let refused: Vec<u64> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::TOO_MANY_REQUESTS)
        .map(|(_, retry)| retry.expect("a 429 without Retry-After"))
        .collect();
    // On a loaded machine (every test binary at once) a few requests may time out or find the store busy: those are
    // server errors, never a success, and they are counted, not hidden.
    let other = GUESSES - wrong - refused.len();
    assert!(statuses.keys().all(|&s| s == 400 || s == 429 || s == 408 || s >= 500), "{statuses:?}");
    assert!(other * 100 <= GUESSES, "more than 1% errors: {statuses:?}");
    assert!(refused.iter().all(|&seconds| (1..=15 * 60).contains(&seconds)), "Retry-After outside the window");
    // Checked (hashed) exactly as often as the account allows; every other guess was refused before any hash.
    let checked = server.metric("identity_logins_total{outcome=\"failed\"}").await;
    let throttled = server.metric("identity_logins_total{outcome=\"throttled\"}").await;
    eprintln!(
        "FIGURES brute force: {GUESSES} guesses from {} addresses in {took:?}: {wrong} answered 400 (checked {checked}), \
         {} refused 429 (throttled {throttled}), Retry-After {}..{} s",
        addresses.len(),
        refused.len(),
        refused.iter().min().unwrap(),
        refused.iter().max().unwrap(),
    );
    // At most the account's 10 failures were ever hashed (exactly 10 unless an error took the place of one).
    assert_eq!(checked, wrong as u64);
    assert!(wrong <= 10 && (wrong == 10 || other > 0), "{wrong} checked");
    assert_eq!(throttled, refused.len() as u64);

    // The right password is refused too while the account is locked, from anywhere: the lock is the account's.
    let owner = client_from(Ipv4Addr::new(127, 0, 0, 1));
    let (status, retry) = guess(&owner, &login_flow_url(&server, &owner).await, "ada@example.com", PASSWORD).await;
    assert_eq!(status, 429);
    assert!(retry.is_some());
    // The owner gets in through recovery, and the session works.
    let token = server.recover(&ada).await;
    assert_eq!(server.whoami(&token).await, 200);

    // Per address: one address that fails 10 times (on any accounts) is refused on the 11th; its neighbour is not.
    let single = client_from(Ipv4Addr::new(127, 0, 0, 251));
    let flow_url = login_flow_url(&server, &single).await;
    for _ in 0..10 {
        assert_eq!(guess(&single, &flow_url, &unknown_email(), "wrong-password-1").await.0, 400);
    }
    let (status, retry) = guess(&single, &flow_url, &unknown_email(), "wrong-password-1").await;
    assert_eq!(status, 429);
    assert!(retry.is_some_and(|seconds| (1..=15 * 60).contains(&seconds)));
    let neighbour = client_from(Ipv4Addr::new(127, 0, 0, 252));
    let flow_url = login_flow_url(&server, &neighbour).await;
    assert_eq!(guess(&neighbour, &flow_url, &unknown_email(), "wrong-password-1").await.0, 400);
    server.running.stop().await;
}

#[tokio::test]
async fn a_locked_account_opens_again_after_its_lockout() {
    // The shortest lockout a policy can have is a minute, and the server's clock is the system's: this test waits
    // for it (about 61 s) instead of moving a clock.
    let server = Server::start(document(
        "memory",
        json!({"throttling": {"max_failures_per_account": 3, "lockout": "1m", "max_failures_per_address": 0}}),
    ))
    .await;
    server.create_identity("ada@example.com").await;
    for _ in 0..3 {
        assert_eq!(server.login("ada@example.com", "wrong-password-1").await.0, 400);
    }
    let flow_url = login_flow_url(&server, &server.http).await;
    let (status, retry) = guess(&server.http, &flow_url, "ada@example.com", PASSWORD).await;
    assert_eq!(status, 429);
    let retry = retry.unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    tokio::time::sleep(Duration::from_secs(retry + 1)).await;
    let (status, answer) = server.login("ada@example.com", PASSWORD).await;
    assert_eq!(status, 200, "{answer}");
    server.running.stop().await;
}

// ---------------------------------------------------------------------------------------------------------------
// 4. CSRF.

/// How a browser flow's submission is encoded.
#[derive(Debug, Clone, Copy)]
enum Encoding {
    Json,
    Form,
}

/// What a test submission carries for CSRF.
#[derive(Debug, Clone, Copy)]
enum Csrf {
    /// No token at all (the cookie is sent).
    Missing,
    /// A token that is not the cookie's.
    Wrong,
    /// The right token, but no CSRF cookie (as a cross-site request that copied a token would be).
    WithoutCookie,
    /// The right token and cookie.
    Right,
}

/// Posts `fields` (flat: `traits.email` style names) to browser flow `flow` of `kind` as `encoding`, from
/// `browser`, with CSRF as `csrf` says.
async fn post_browser(
    server: &Server,
    browser: &mut Browser,
    kind: &str,
    flow: &Value,
    fields: &[(&str, &str)],
    encoding: Encoding,
    csrf: Csrf,
) -> reqwest::Response {
    let token = csrf_token(flow);
    let presented = match csrf {
        Csrf::Missing => None,
        Csrf::Wrong => Some(altered(&token)),
        Csrf::WithoutCookie | Csrf::Right => Some(token),
    };
    let mut fields: Vec<(String, String)> = fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    if let Some(presented) = presented {
        fields.push(("csrf_token".into(), presented));
    }
    let url = server.public(&format!("/self-service/{kind}?flow={}", flow["id"].as_str().unwrap()));
    let request = match encoding {
        Encoding::Form => server.http.post(url).form(&fields),
        Encoding::Json => {
            let mut body = json!({});
            for (name, value) in &fields {
                match name.split_once('.') {
                    Some((outer, inner)) => body[outer][inner] = json!(value),
                    None => body[name] = json!(value),
                }
            }
            server.http.post(url).header("accept", "application/json").json(&body)
        }
    };
    let cookies = if matches!(csrf, Csrf::WithoutCookie) {
        browser
            .cookies
            .iter()
            .filter(|(name, _)| !name.starts_with("csrf_token_"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    } else {
        browser.cookie_header()
    };
    request.header("cookie", cookies).send().await.unwrap()
}

/// `token` with its first character changed, so it is always a different token of the same length (putting a fixed
/// character first would give the token back whenever it already began with that character).
fn altered(token: &str) -> String {
    let mut chars = token.chars();
    let first = match chars.next() {
        Some('a') => 'b',
        _ => 'a',
    };
    format!("{first}{}", chars.as_str())
}

/// Starts browser flow `kind` in `browser` and answers it (as JSON).
async fn browser_flow(server: &Server, browser: &mut Browser, kind: &str) -> Value {
    let request =
        server.http.get(server.public(&format!("/self-service/{kind}/browser"))).header("accept", "application/json");
    let response = browser.send(request).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// A browser signed in as `email` (its session cookie in the jar).
async fn signed_in_browser(server: &Server, email: &str, password: &str) -> Browser {
    let mut browser = Browser::new();
    let flow = browser_flow(server, &mut browser, "login").await;
    let fields = [("method", "password"), ("identifier", email), ("password", password)];
    let done = post_browser(server, &mut browser, "login", &flow, &fields, Encoding::Json, Csrf::Right).await;
    assert_eq!(done.status(), 200);
    let set: Vec<String> =
        done.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    let session = set.iter().find(|c| c.starts_with("ory_kratos_session=")).unwrap();
    let value = session.split(';').next().unwrap().split_once('=').unwrap().1;
    browser.cookies.insert("ory_kratos_session".into(), value.to_owned());
    browser
}

async fn assert_csrf_refused(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), 403, "{what}");
    let set_session =
        response.headers().get_all("set-cookie").iter().any(|v| v.to_str().unwrap().starts_with("ory_kratos_session="));
    assert!(!set_session, "{what}: a refused submission set a session");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["id"], "security_csrf_violation", "{what}: {body}");
}

async fn identity_exists(server: &Server, email: &str) -> bool {
    let url = server.admin(&format!("/admin/identities?credentials_identifier={email}"));
    !server.http.get(url).json_body().await.as_array().unwrap().is_empty()
}

/// The state browser flow `flow` of `kind` is in, as `browser` sees it.
async fn flow_state(server: &Server, browser: &Browser, kind: &str, flow: &Value) -> String {
    let url = server.public(&format!("/self-service/{kind}/flows?id={}", flow["id"].as_str().unwrap()));
    let request = server.http.get(url).header("cookie", browser.cookie_header());
    request.json_body().await["state"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_browser_flow_submission_needs_the_csrf_token_and_its_cookie() {
    let server = Server::start(document(
        "memory",
        json!({"throttling": {"max_failures_per_address": 0, "max_failures_per_account": 1000}}),
    ))
    .await;
    let ada = server.create_identity("ada@example.com").await;
    let refusals = [Csrf::Missing, Csrf::Wrong, Csrf::WithoutCookie];
    let mut checked = 0;
    for encoding in [Encoding::Json, Encoding::Form] {
        // Login: no session comes of a refused submission.
        let mut browser = Browser::new();
        let flow = browser_flow(&server, &mut browser, "login").await;
        let fields = [("method", "password"), ("identifier", "ada@example.com"), ("password", PASSWORD)];
        for csrf in refusals {
            let response = post_browser(&server, &mut browser, "login", &flow, &fields, encoding, csrf).await;
            assert_csrf_refused(response, &format!("login {encoding:?} {csrf:?}")).await;
            checked += 1;
        }
        // Shown again (fetched with the cookie, or after a wrong password), the flow still carries its token.
        let url = server.public(&format!("/self-service/login/flows?id={}", flow["id"].as_str().unwrap()));
        let fetched = server.http.get(url).header("cookie", browser.cookie_header()).json_body().await;
        assert_eq!(csrf_token(&fetched), csrf_token(&flow), "{fetched}");
        let wrong = [("method", "password"), ("identifier", "ada@example.com"), ("password", "wrong-password-1")];
        let again = post_browser(&server, &mut browser, "login", &flow, &wrong, Encoding::Json, Csrf::Right).await;
        assert_eq!(again.status(), 400);
        assert_eq!(csrf_token(&again.json().await.unwrap()), csrf_token(&flow));
        let sessions = server.http.get(server.admin(&format!("/admin/identities/{ada}/sessions"))).json_body().await;
        let before = sessions.as_array().unwrap().len();
        let done = post_browser(&server, &mut browser, "login", &flow, &fields, encoding, Csrf::Right).await;
        assert_eq!(done.status(), 200, "login {encoding:?}");
        let sessions = server.http.get(server.admin(&format!("/admin/identities/{ada}/sessions"))).json_body().await;
        assert_eq!(sessions.as_array().unwrap().len(), before + 1);

        // Registration: no identity comes of a refused submission.
        let email = unknown_email();
        let flow = browser_flow(&server, &mut browser, "registration").await;
        let fields = [("method", "password"), ("traits.email", email.as_str()), ("password", PASSWORD)];
        for csrf in refusals {
            let response = post_browser(&server, &mut browser, "registration", &flow, &fields, encoding, csrf).await;
            assert_csrf_refused(response, &format!("registration {encoding:?} {csrf:?}")).await;
            assert!(!identity_exists(&server, &email).await, "registration {encoding:?} {csrf:?} created the identity");
            checked += 1;
        }
        let done = post_browser(&server, &mut browser, "registration", &flow, &fields, encoding, Csrf::Right).await;
        assert_eq!(done.status(), 200, "registration {encoding:?}");
        assert!(identity_exists(&server, &email).await);

        // Settings: the password stays as it was.
        let mut browser = signed_in_browser(&server, "ada@example.com", PASSWORD).await;
        let hash = server.password_hash(&ada).await;
        let flow = browser_flow(&server, &mut browser, "settings").await;
        let fields = [("method", "password"), ("password", NEW_PASSWORD)];
        for csrf in refusals {
            let response = post_browser(&server, &mut browser, "settings", &flow, &fields, encoding, csrf).await;
            assert_csrf_refused(response, &format!("settings {encoding:?} {csrf:?}")).await;
            assert_eq!(server.password_hash(&ada).await, hash, "settings {encoding:?} {csrf:?} changed the password");
            checked += 1;
        }
        let done = post_browser(&server, &mut browser, "settings", &flow, &fields, encoding, Csrf::Right).await;
        assert_eq!(done.status(), 200, "settings {encoding:?}");
        assert_ne!(server.password_hash(&ada).await, hash);
        // Back to the first password, for the next round.
        let token = server.session("ada@example.com", NEW_PASSWORD).await;
        let flow = server.api_flow("settings", Some(&token)).await;
        let (status, _) =
            server.submit("settings", &flow, json!({"method": "password", "password": PASSWORD}), Some(&token)).await;
        assert_eq!(status, 200);

        // Recovery and verification: no code is sent (the flow stays where it was).
        for kind in ["recovery", "verification"] {
            let flow = browser_flow(&server, &mut browser, kind).await;
            let fields = [("method", "code"), ("email", "ada@example.com")];
            let initial = flow_state(&server, &browser, kind, &flow).await;
            assert_ne!(initial, "sent_email");
            for csrf in refusals {
                let response = post_browser(&server, &mut browser, kind, &flow, &fields, encoding, csrf).await;
                assert_csrf_refused(response, &format!("{kind} {encoding:?} {csrf:?}")).await;
                assert_eq!(
                    flow_state(&server, &browser, kind, &flow).await,
                    initial,
                    "{kind} {encoding:?} {csrf:?} moved the flow"
                );
                checked += 1;
            }
            let done = post_browser(&server, &mut browser, kind, &flow, &fields, encoding, Csrf::Right).await;
            assert_eq!(done.status(), 200, "{kind} {encoding:?}");
            assert_eq!(flow_state(&server, &browser, kind, &flow).await, "sent_email");
        }
    }

    // Browser logout needs its logout token, which only the session's own pages can read.
    let mut browser = signed_in_browser(&server, "ada@example.com", PASSWORD).await;
    let whoami = |browser: &Browser| {
        server.http.get(server.public("/sessions/whoami")).header("cookie", browser.cookie_header()).send()
    };
    let logout: Value =
        browser.send(server.http.get(server.public("/self-service/logout/browser"))).await.json().await.unwrap();
    let logout_token = logout["logout_token"].as_str().unwrap().to_owned();
    let other = signed_in_browser(&server, "ada@example.com", PASSWORD).await;
    for (url, expected) in [
        (server.public("/self-service/logout"), 400),
        (server.public("/self-service/logout?token="), 401),
        (server.public(&format!("/self-service/logout?token={}", altered(&logout_token))), 401),
    ] {
        let response = browser.send(server.http.get(&url)).await;
        assert_eq!(response.status(), expected, "{url}");
        assert_eq!(whoami(&browser).await.unwrap().status(), 200, "{url} signed out");
        checked += 1;
    }
    let done = browser.send(server.http.get(logout["logout_url"].as_str().unwrap())).await;
    assert_eq!(done.status(), 204);
    assert_eq!(whoami(&browser).await.unwrap().status(), 401);
    assert_eq!(whoami(&other).await.unwrap().status(), 200, "another session was signed out");

    // API flows carry no CSRF token and need none.
    assert_eq!(server.login("ada@example.com", PASSWORD).await.0, 200);
    eprintln!("FIGURES csrf: {checked} forged submissions refused");
    server.running.stop().await;
}

// ---------------------------------------------------------------------------------------------------------------
// 5. Credential changes end the sessions they should.

#[tokio::test]
async fn a_password_change_ends_every_other_session_and_only_the_new_password_logs_in() {
    let server = Server::start(document("memory", json!({}))).await;
    server.create_identity("ada@example.com").await;
    let mut sessions = Vec::new();
    for _ in 0..3 {
        sessions.push(server.session("ada@example.com", PASSWORD).await);
    }
    let (first, used, third) = (&sessions[0], &sessions[1], &sessions[2]);
    let flow = server.api_flow("settings", Some(used)).await;
    let (status, saved) =
        server.submit("settings", &flow, json!({"method": "password", "password": NEW_PASSWORD}), Some(used)).await;
    assert_eq!((status, saved["state"].as_str()), (StatusCode::OK, Some("success")), "{saved}");
    assert_eq!(server.whoami(first).await, 401);
    assert_eq!(server.whoami(third).await, 401);
    assert_eq!(server.whoami(used).await, 200, "the session that changed the password was ended");
    assert_eq!(server.login("ada@example.com", PASSWORD).await.0, 400, "the old password still logs in");
    assert_eq!(server.login("ada@example.com", NEW_PASSWORD).await.0, 200);
    server.running.stop().await;
}

#[tokio::test]
async fn recovery_ends_every_earlier_session() {
    let server = Server::start(document("memory", json!({}))).await;
    let ada = server.create_identity("ada@example.com").await;
    let earlier =
        [server.session("ada@example.com", PASSWORD).await, server.session("ada@example.com", PASSWORD).await];
    let recovered = server.recover(&ada).await;
    for token in &earlier {
        assert_eq!(server.whoami(token).await, 401, "a session from before the recovery survived it");
    }
    assert_eq!(server.whoami(&recovered).await, 200);
    server.running.stop().await;
}

#[tokio::test]
async fn deleting_or_disabling_an_identity_ends_its_sessions() {
    let server = Server::start(document("memory", json!({}))).await;
    let ada = server.create_identity("ada@example.com").await;
    let grace = server.create_identity("grace@example.com").await;
    let (ada_token, grace_token) =
        (server.session("ada@example.com", PASSWORD).await, server.session("grace@example.com", PASSWORD).await);

    let deleted = server.http.delete(server.admin(&format!("/admin/identities/{ada}"))).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(server.whoami(&ada_token).await, 401);

    let disable = json!({"schema_id": "default", "traits": {"email": "grace@example.com"}, "state": "inactive"});
    let put = server.http.put(server.admin(&format!("/admin/identities/{grace}"))).json(&disable).send().await.unwrap();
    assert_eq!(put.status(), 200);
    assert_eq!(server.whoami(&grace_token).await, 401);
    let (status, answer) = server.login("grace@example.com", PASSWORD).await;
    assert_ne!(status, 200, "a disabled identity signed in: {answer}");
    assert!(answer.get("session_token").is_none());
    server.running.stop().await;
}
