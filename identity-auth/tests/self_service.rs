//! The self-service flows end to end, on the memory and SQLite stores: registration, login with a second step,
//! refresh and upgrade, settings, recovery, verification and logout, with every failure the issue names.

#[macro_use]
mod support;

use std::sync::Arc;

use identity_auth::{
    Error, Flow, FlowKind, FlowRequest, FlowType, LoggedIn, LoginRequest, RequiredAal, SelfServiceSettings, Submission,
    Submitted,
};
use identity_core::time::Duration;
use identity_core::{AssuranceLevel, Clock, CredentialType, SecretString, VerificationStatus};
use identity_store::Store;
use serde_json::{Value, json};
use support::*;

identity_store::on_every_store!(
    registration_creates_the_identity_signs_in_and_sends_verification,
    registration_refuses_bad_traits_weak_passwords_and_taken_emails_as_messages,
    flows_refuse_wrong_csrf_wrong_methods_and_expiry,
    login_with_a_password_and_wrong_or_unknown_credentials_look_alike,
    repeated_wrong_passwords_are_rate_limited_per_identifier_and_per_address,
    login_asks_for_totp_once_set_up_and_refuses_a_replayed_code,
    backup_codes_are_set_up_in_settings_and_work_once,
    aal1_sessions_are_refused_where_aal2_is_required_until_upgraded,
    password_change_needs_a_privileged_session_and_ends_other_sessions,
    profile_changes_rederive_identifiers_and_unverify_changed_addresses,
    totp_is_enrolled_with_a_first_code_and_its_secret_is_shown_once,
    recovery_by_code_signs_in_and_ends_other_sessions,
    recovery_never_tells_known_from_unknown_addresses,
    recovery_codes_expire_and_a_sixth_try_is_refused,
    logout_revokes_the_session,
    enforced_mfa_leaves_a_session_good_only_for_setting_up_a_factor,
    refresh_and_upgrade_need_the_flows_own_session,
    second_factors_and_codes_are_rate_limited_too,
    a_success_resets_the_identifiers_count,
    removing_backup_codes_ends_other_sessions_and_nothing_is_removed_twice,
    verification_can_be_asked_for_by_address,
    code_requests_are_limited_and_a_new_recovery_code_replaces_the_old,
    disabled_identities_get_no_recovery_code,
    flows_are_shown_only_to_their_owner_and_submissions_hide_secrets,
    a_registration_flow_registers_once,
);

const PASSWORD: &str = "correct-horse-battery-staple";

fn api() -> FlowRequest {
    FlowRequest::new(FlowType::Api, "https://id.example/self-service/x/api")
}

fn shown<T: std::fmt::Debug>(submitted: Submitted<T>) -> Flow {
    match submitted {
        Submitted::Flow(flow) => *flow,
        Submitted::Done(done) => panic!("expected the flow again, got {done:?}"),
    }
}

fn done<T>(submitted: Submitted<T>) -> T {
    match submitted {
        Submitted::Done(done) => done,
        Submitted::Flow(flow) => panic!("expected the flow to finish, got {}", serde_json::to_string(&flow).unwrap()),
    }
}

/// The ids of the error messages on the node `name` (or on the form for `""`).
fn errors_on(flow: &Flow, name: &str) -> Vec<u64> {
    let texts = if name.is_empty() {
        flow.ui.messages.clone()
    } else {
        flow.ui.nodes.iter().filter(|node| node.name() == name).flat_map(|node| node.messages.clone()).collect()
    };
    texts.into_iter().filter(|text| text.text_type == identity_auth::TextType::Error).map(|text| text.id).collect()
}

async fn register(world: &World, email: &str) -> identity_auth::Registered {
    let flow = world.service.create_registration(&api()).await.unwrap().flow;
    let body = json!({ "traits": { "email": email }, "password": PASSWORD });
    done(world.service.submit_registration(flow.id, Submission::new("password", body)).await.unwrap())
}

async fn log_in(world: &World, identifier: &str, password: &str) -> Result<Submitted<LoggedIn>, Error> {
    let request = LoginRequest { flow: api(), session_token: None };
    let flow = world.service.create_login(&request).await.unwrap().flow;
    let body = json!({ "identifier": identifier, "password": password });
    world.service.submit_login(flow.id, Submission::new("password", body)).await
}

fn totp_code(uri: &str, world: &World) -> String {
    let app = totp_rs::Totp::from_url(uri).unwrap();
    app.generate(world.clock.now().unix_timestamp() as u64).to_string()
}

/// Sets TOTP up through the settings flow with `token` and returns the otpauth URI shown.
async fn enroll_totp(world: &World, token: &str) -> String {
    let flow = world.service.create_settings(&api(), token).await.unwrap().flow;
    let shown = world.service.submit_settings(flow.id, Submission::new("totp", json!({})).with_session(token)).await;
    let shown = shown.unwrap();
    let uri = text_node(&shown, "totp_secret_key");
    let code = totp_code(&uri, world);
    let body = json!({ "totp_code": code });
    let saved =
        world.service.submit_settings(flow.id, Submission::new("totp", body).with_session(token)).await.unwrap();
    assert_eq!(saved.state, "success", "{}", serde_json::to_string(&saved).unwrap());
    uri
}

fn text_node(flow: &Flow, id: &str) -> String {
    let node = flow.ui.nodes.iter().find(|node| node.name() == id).unwrap_or_else(|| panic!("no {id} node"));
    match &node.attributes {
        identity_auth::NodeAttributes::Text(text) => text.text.text.clone(),
        other => panic!("{id} is not a text node: {other:?}"),
    }
}

async fn registration_creates_the_identity_signs_in_and_sends_verification(store: Arc<dyn Store>) {
    let world = world(store);
    let registered = register(&world, "Ada@Example.com").await;
    let identity = world.store.identity(registered.identity.id).await.unwrap();
    assert_eq!(identity.credentials.get(CredentialType::Password).unwrap().identifiers, vec!["ada@example.com"]);
    assert_eq!(identity.verifiable_addresses.len(), 1);
    assert_eq!(identity.verifiable_addresses[0].status, VerificationStatus::Sent);
    assert!(!identity.verifiable_addresses[0].verified);
    assert_eq!(identity.recovery_addresses[0].value, "ada@example.com");
    let session = registered.session.expect("a session after registration");
    let (checked, _) =
        world.sessions.check(session.token.expose_secret(), RequiredAal::HighestAvailable).await.unwrap();
    assert_eq!(checked.id, session.session.id);

    // The verification code went out, bound to the verification flow handed back.
    let code = last_code(&world.courier, "ada@example.com");
    let (flow, address) = &registered.verification_flows[0];
    assert_eq!(address, "ada@example.com");
    assert_eq!(flow.state, "sent_email");
    let wrong = world.service.submit_verification(flow.id, Submission::new("code", json!({"code": "000000"}))).await;
    assert_eq!(errors_on(&shown(wrong.unwrap()), "code"), vec![4070006]);
    let verified = world.service.submit_verification(flow.id, Submission::new("code", json!({"code": code}))).await;
    let verified = done(verified.unwrap());
    assert_eq!(verified.flow.state, "passed_challenge");
    let address = &world.store.identity(identity.id).await.unwrap().verifiable_addresses[0];
    assert!(address.verified && address.verified_at.is_some());
    assert_eq!(address.status, VerificationStatus::Completed);

    // The registration flow is finished: it cannot be submitted again.
    let again = world.service.submit_registration(registered.verification_flows[0].0.id, Submission::default()).await;
    assert!(matches!(again, Err(Error::FlowNotFound)), "{again:?}");
}

async fn registration_refuses_bad_traits_weak_passwords_and_taken_emails_as_messages(store: Arc<dyn Store>) {
    let world = world(store);
    let flow = world.service.create_registration(&api()).await.unwrap().flow;
    let submit = |body: Value| world.service.submit_registration(flow.id, Submission::new("password", body));

    let missing =
        shown(submit(json!({ "traits": { "name": { "first": "Ada" } }, "password": PASSWORD })).await.unwrap());
    assert!(missing.has_errors());
    assert_eq!(errors_on(&missing, "traits.email"), vec![4000002]);
    let first = missing.ui.nodes.iter().find(|n| n.name() == "traits.name.first").unwrap();
    assert_eq!(first.input_attributes().unwrap().value, Some(json!("Ada")), "the form lost what was typed");

    let weak = shown(
        submit(json!({ "traits": { "email": "ada@example.com" }, "password": "ada@example.com" })).await.unwrap(),
    );
    assert_eq!(errors_on(&weak, "password"), vec![4000005]);
    let short = shown(submit(json!({ "traits.email": "ada@example.com", "password": "short" })).await.unwrap());
    assert_eq!(errors_on(&short, "password"), vec![4000005]);
    let no_password = shown(submit(json!({ "traits": { "email": "ada@example.com" } })).await.unwrap());
    assert_eq!(errors_on(&no_password, "password"), vec![4000002]);
    assert_eq!(world.store.count_identities(&Default::default()).await.unwrap(), 0);

    register(&world, "ada@example.com").await;
    let taken = shown(submit(json!({ "traits": { "email": "ADA@example.com" }, "password": PASSWORD })).await.unwrap());
    assert_eq!(errors_on(&taken, ""), vec![4000007]);
    assert_eq!(world.store.count_identities(&Default::default()).await.unwrap(), 1);
    // The refused flow is still usable.
    let fine = submit(json!({ "traits": { "email": "grace@example.com" }, "password": PASSWORD })).await.unwrap();
    done(fine);
}

async fn flows_refuse_wrong_csrf_wrong_methods_and_expiry(store: Arc<dyn Store>) {
    let world = world(store);
    let browser = FlowRequest::new(FlowType::Browser, "https://id.example/self-service/registration/browser");
    let created = world.service.create_registration(&browser).await.unwrap();
    let token = created.csrf_token.unwrap();
    let body = json!({ "traits": { "email": "ada@example.com" }, "password": PASSWORD });
    let id = created.flow.id;
    let no_token = world.service.submit_registration(id, Submission::new("password", body.clone())).await;
    assert!(matches!(no_token, Err(Error::CsrfViolation)), "{no_token:?}");
    let wrong =
        world.service.submit_registration(id, Submission::new("password", body.clone()).with_csrf("forged")).await;
    assert!(matches!(wrong, Err(Error::CsrfViolation)), "{wrong:?}");
    let method = world
        .service
        .submit_registration(id, Submission::new("totp", body.clone()).with_csrf(token.expose_secret()))
        .await;
    assert!(matches!(method, Err(Error::WrongFlowMethod { .. })), "{method:?}");
    assert_eq!(world.store.count_identities(&Default::default()).await.unwrap(), 0);

    world.clock.advance(Duration::hours(1));
    let expired =
        world.service.submit_registration(id, Submission::new("password", body).with_csrf(token.expose_secret())).await;
    assert!(matches!(expired, Err(Error::FlowExpired)), "{expired:?}");
    let unknown = world.service.flow(identity_core::FlowId::new(), FlowKind::Login, None, None).await;
    assert!(matches!(unknown, Err(Error::FlowNotFound)));
}

async fn login_with_a_password_and_wrong_or_unknown_credentials_look_alike(store: Arc<dyn Store>) {
    let world = world(store);
    let ada = register(&world, "ada@example.com").await.identity;
    let logged_in = done(log_in(&world, "ADA@example.com", PASSWORD).await.unwrap());
    assert_eq!(logged_in.identity.id, ada.id);
    assert_eq!(logged_in.session.authenticator_assurance_level, AssuranceLevel::Aal1);
    let token = logged_in.token.expect("a new session's token");
    world.sessions.check(token.expose_secret(), RequiredAal::HighestAvailable).await.unwrap();

    let wrong = shown(log_in(&world, "ada@example.com", "not-the-password").await.unwrap());
    let unknown = shown(log_in(&world, "nobody@example.com", "not-the-password").await.unwrap());
    assert_eq!(errors_on(&wrong, ""), vec![4000006]);
    assert_eq!(serde_json::to_value(&wrong.ui.messages).unwrap(), serde_json::to_value(&unknown.ui.messages).unwrap());
    let missing = shown(log_in(&world, "ada@example.com", "").await.unwrap());
    assert_eq!(errors_on(&missing, "password"), vec![4000002]);

    // A session already there: a plain login flow is refused.
    let request = LoginRequest { flow: api(), session_token: Some(token.expose_secret().to_owned()) };
    assert!(matches!(world.service.create_login(&request).await, Err(Error::SessionAlreadyAvailable)));
}

async fn repeated_wrong_passwords_are_rate_limited_per_identifier_and_per_address(store: Arc<dyn Store>) {
    let world = world(store);
    register(&world, "ada@example.com").await;
    for _ in 0..10 {
        shown(log_in(&world, "ada@example.com", "wrong-password").await.unwrap());
    }
    // The eleventh attempt is refused before the password is looked at, even the right one.
    let limited = log_in(&world, "ada@example.com", PASSWORD).await;
    let Err(Error::RateLimited { retry_after }) = limited else { panic!("expected RateLimited, got {limited:?}") };
    assert!(retry_after > Duration::ZERO && retry_after <= Duration::minutes(15), "{retry_after}");
    world.clock.advance(Duration::minutes(15));
    done(log_in(&world, "ada@example.com", PASSWORD).await.unwrap());

    // From one address, failures on many identifiers add up; another address is not affected.
    let attempt = |identifier: String, address: &'static str| {
        let request = LoginRequest { flow: api(), session_token: None };
        let service = &world.service;
        async move {
            let flow = service.create_login(&request).await.unwrap().flow;
            let client = identity_auth::ClientInfo { ip_address: Some(address.parse().unwrap()), user_agent: None };
            let body = json!({ "identifier": identifier, "password": "wrong-password" });
            service.submit_login(flow.id, Submission::new("password", body).from_client(client)).await
        }
    };
    for n in 0..10 {
        shown(attempt(format!("user{n}@example.com"), "192.0.2.1").await.unwrap());
    }
    let limited = attempt("someone-else@example.com".into(), "192.0.2.1").await;
    assert!(matches!(limited, Err(Error::RateLimited { .. })), "{limited:?}");
    shown(attempt("someone-else@example.com".into(), "192.0.2.2").await.unwrap());
}

async fn login_asks_for_totp_once_set_up_and_refuses_a_replayed_code(store: Arc<dyn Store>) {
    let world = world(store);
    let registered = register(&world, "ada@example.com").await;
    let uri = enroll_totp(&world, registered.session.unwrap().token.expose_secret()).await;
    world.clock.advance(Duration::minutes(2));

    let second_step = shown(log_in(&world, "ada@example.com", PASSWORD).await.unwrap());
    assert!(!second_step.has_errors());
    assert!(second_step.ui.nodes.iter().any(|node| node.name() == "totp_code"));
    let wrong =
        world.service.submit_login(second_step.id, Submission::new("totp", json!({"totp_code": "000000"}))).await;
    assert_eq!(errors_on(&shown(wrong.unwrap()), "totp_code"), vec![4000008]);
    let password_again = world.service.submit_login(second_step.id, Submission::new("password", json!({}))).await;
    assert!(matches!(password_again, Err(Error::WrongFlowMethod { .. })), "{password_again:?}");
    let code = totp_code(&uri, &world);
    let logged_in =
        world.service.submit_login(second_step.id, Submission::new("totp", json!({"totp_code": code}))).await;
    let logged_in = done(logged_in.unwrap());
    assert_eq!(logged_in.session.authenticator_assurance_level, AssuranceLevel::Aal2);
    world.sessions.check(logged_in.token.unwrap().expose_secret(), RequiredAal::HighestAvailable).await.unwrap();

    // The same code again, in another login: refused.
    let again = shown(log_in(&world, "ada@example.com", PASSWORD).await.unwrap());
    let replay = world.service.submit_login(again.id, Submission::new("totp", json!({"totp_code": code}))).await;
    assert_eq!(errors_on(&shown(replay.unwrap()), "totp_code"), vec![4000008]);
}

async fn backup_codes_are_set_up_in_settings_and_work_once(store: Arc<dyn Store>) {
    let world = world(store);
    let registered = register(&world, "ada@example.com").await;
    let token = registered.session.unwrap().token;
    let flow = world.service.create_settings(&api(), token.expose_secret()).await.unwrap().flow;
    let regenerate =
        Submission::new("lookup_secret", json!({"lookup_secret_regenerate": true})).with_session(token.expose_secret());
    let shown_codes = world.service.submit_settings(flow.id, regenerate).await.unwrap();
    let codes = text_node(&shown_codes, "lookup_secret_codes");
    let codes: Vec<String> = codes.split(", ").map(str::to_owned).collect();
    assert_eq!(codes.len(), 12);
    let stored = serde_json::to_string(
        &world.service.flow(flow.id, FlowKind::Settings, None, Some(token.expose_secret())).await.unwrap(),
    )
    .unwrap();
    assert!(!stored.contains(&codes[0]), "backup codes were stored in the flow");
    assert!(!world.store.identity(registered.identity.id).await.unwrap().has_credential(CredentialType::LookupSecret));
    let confirm =
        Submission::new("lookup_secret", json!({"lookup_secret_confirm": "true"})).with_session(token.expose_secret());
    assert_eq!(world.service.submit_settings(flow.id, confirm).await.unwrap().state, "success");

    let second_step = shown(log_in(&world, "ada@example.com", PASSWORD).await.unwrap());
    let used = Submission::new("lookup_secret", json!({"lookup_secret": codes[0]}));
    let logged_in = done(world.service.submit_login(second_step.id, used.clone()).await.unwrap());
    assert_eq!(logged_in.session.authenticator_assurance_level, AssuranceLevel::Aal2);
    let again = shown(log_in(&world, "ada@example.com", PASSWORD).await.unwrap());
    let reused = world.service.submit_login(again.id, used).await.unwrap();
    assert_eq!(errors_on(&shown(reused), "lookup_secret"), vec![4000016]);
}

async fn aal1_sessions_are_refused_where_aal2_is_required_until_upgraded(store: Arc<dyn Store>) {
    let world = world(store);
    let registered = register(&world, "ada@example.com").await;
    let uri = enroll_totp(&world, registered.session.unwrap().token.expose_secret()).await;
    world.clock.advance(Duration::minutes(1));
    // A one-factor session of an identity with TOTP, as a client that stopped after the password would hold.
    let method = identity_core::AuthenticationMethod {
        method: CredentialType::Password,
        aal: AssuranceLevel::Aal1,
        completed_at: world.clock.now(),
    };
    let identity = world.store.identity(registered.identity.id).await.unwrap();
    let aal1 = world.sessions.issue(&identity, vec![method], Default::default()).await.unwrap();
    let token = aal1.token.expose_secret();
    assert!(matches!(world.sessions.check(token, RequiredAal::HighestAvailable).await, Err(Error::Aal2Required)));
    assert!(matches!(world.service.create_settings(&api(), token).await, Err(Error::Aal2Required)));
    world.sessions.check(token, RequiredAal::Aal1).await.unwrap();

    let mut request = LoginRequest { flow: api(), session_token: Some(token.to_owned()) };
    request.flow.requested_aal = Some(AssuranceLevel::Aal2);
    let flow = world.service.create_login(&request).await.unwrap().flow;
    let code = totp_code(&uri, &world);
    let upgraded = Submission::new("totp", json!({"totp_code": code})).with_session(token);
    let upgraded = done(world.service.submit_login(flow.id, upgraded).await.unwrap());
    assert!(upgraded.token.is_none(), "an upgrade keeps the session's token");
    assert_eq!(upgraded.session.id, aal1.session.id);
    let (session, _) = world.sessions.check(token, RequiredAal::HighestAvailable).await.unwrap();
    assert_eq!(session.authenticator_assurance_level, AssuranceLevel::Aal2);

    // Without a session there is nothing to upgrade.
    let mut anonymous = LoginRequest { flow: api(), session_token: None };
    anonymous.flow.requested_aal = Some(AssuranceLevel::Aal2);
    assert!(matches!(world.service.create_login(&anonymous).await, Err(Error::SessionInactive)));
}

async fn password_change_needs_a_privileged_session_and_ends_other_sessions(store: Arc<dyn Store>) {
    let world = world(store);
    let registered = register(&world, "ada@example.com").await;
    let token = registered.session.unwrap().token;
    let other = done(log_in(&world, "ada@example.com", PASSWORD).await.unwrap()).token.unwrap();
    world.clock.advance(Duration::minutes(16));
    let flow = world.service.create_settings(&api(), token.expose_secret()).await.unwrap().flow;
    let change =
        Submission::new("password", json!({"password": "another-long-passphrase"})).with_session(token.expose_secret());
    let refused = world.service.submit_settings(flow.id, change.clone()).await;
    assert!(matches!(refused, Err(Error::ReauthenticationRequired)), "{refused:?}");

    // Signing in again refreshes this session, which may then change the password.
    let mut refresh = LoginRequest { flow: api(), session_token: Some(token.expose_secret().to_owned()) };
    refresh.flow.refresh = true;
    let login = world.service.create_login(&refresh).await.unwrap().flow;
    let body = json!({"identifier": "ada@example.com", "password": PASSWORD});
    let body = Submission::new("password", body).with_session(token.expose_secret());
    let refreshed = done(world.service.submit_login(login.id, body).await.unwrap());
    assert!(refreshed.token.is_none());
    let weak = Submission::new("password", json!({"password": "ada@example.com"})).with_session(token.expose_secret());
    assert_eq!(errors_on(&world.service.submit_settings(flow.id, weak).await.unwrap(), "password"), vec![4000005]);
    let saved = world.service.submit_settings(flow.id, change).await.unwrap();
    assert_eq!(saved.state, "success");

    assert!(matches!(
        world.sessions.check(other.expose_secret(), RequiredAal::Aal1).await,
        Err(Error::SessionInactive)
    ));
    world.sessions.check(token.expose_secret(), RequiredAal::Aal1).await.unwrap();
    shown(log_in(&world, "ada@example.com", PASSWORD).await.unwrap());
    done(log_in(&world, "ada@example.com", "another-long-passphrase").await.unwrap());

    // Another identity's session cannot use this flow.
    let grace = register(&world, "grace@example.com").await.session.unwrap().token;
    let foreign = Submission::new("password", json!({"password": "x-long-enough-passphrase"}))
        .with_session(grace.expose_secret());
    assert!(matches!(world.service.submit_settings(flow.id, foreign).await, Err(Error::IdentityMismatch)));
}

async fn profile_changes_rederive_identifiers_and_unverify_changed_addresses(store: Arc<dyn Store>) {
    let world = world(store);
    let registered = register(&world, "ada@example.com").await;
    let token = registered.session.unwrap().token;
    let code = last_code(&world.courier, "ada@example.com");
    let (verification, _) = &registered.verification_flows[0];
    done(
        world
            .service
            .submit_verification(verification.id, Submission::new("code", json!({"code": code})))
            .await
            .unwrap(),
    );

    let flow = world.service.create_settings(&api(), token.expose_secret()).await.unwrap().flow;
    let email = flow.ui.nodes.iter().find(|node| node.name() == "traits.email").unwrap();
    assert_eq!(email.input_attributes().unwrap().value, Some(json!("ada@example.com")));
    let invalid = Submission::new("profile", json!({"traits": {"email": 42}})).with_session(token.expose_secret());
    let invalid = world.service.submit_settings(flow.id, invalid).await.unwrap();
    assert!(!errors_on(&invalid, "traits.email").is_empty());

    let change =
        Submission::new("profile", json!({"traits.email": "ada@new.example"})).with_session(token.expose_secret());
    assert_eq!(world.service.submit_settings(flow.id, change).await.unwrap().state, "success");
    let identity = world.store.identity(registered.identity.id).await.unwrap();
    assert_eq!(identity.verifiable_addresses.len(), 1);
    assert_eq!(identity.verifiable_addresses[0].value, "ada@new.example");
    assert!(!identity.verifiable_addresses[0].verified, "a changed address stayed verified");
    assert_eq!(identity.recovery_addresses[0].value, "ada@new.example");
    last_code(&world.courier, "ada@new.example");
    done(log_in(&world, "ada@new.example", PASSWORD).await.unwrap());
    shown(log_in(&world, "ada@example.com", PASSWORD).await.unwrap());

    // Taking someone else's email is a message, and changes nothing.
    register(&world, "grace@example.com").await;
    let taken = Submission::new("profile", json!({"traits": {"email": "grace@example.com"}}))
        .with_session(token.expose_secret());
    let taken = world.service.submit_settings(flow.id, taken).await.unwrap();
    assert_eq!(errors_on(&taken, ""), vec![4000007]);
    assert_eq!(world.store.identity(identity.id).await.unwrap().traits, json!({"email": "ada@new.example"}));
}

async fn totp_is_enrolled_with_a_first_code_and_its_secret_is_shown_once(store: Arc<dyn Store>) {
    let world = world(store);
    let registered = register(&world, "ada@example.com").await;
    let token = registered.session.unwrap().token;
    let other = done(log_in(&world, "ada@example.com", PASSWORD).await.unwrap()).token.unwrap();
    let flow = world.service.create_settings(&api(), token.expose_secret()).await.unwrap().flow;
    let shown_secret = world
        .service
        .submit_settings(flow.id, Submission::new("totp", json!({})).with_session(token.expose_secret()))
        .await
        .unwrap();
    let uri = text_node(&shown_secret, "totp_secret_key");
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    let stored = serde_json::to_string(
        &world.service.flow(flow.id, FlowKind::Settings, None, Some(token.expose_secret())).await.unwrap(),
    )
    .unwrap();
    assert!(!stored.contains("otpauth"), "the TOTP secret was stored in the flow");
    let wrong = Submission::new("totp", json!({"totp_code": "000000"})).with_session(token.expose_secret());
    assert_eq!(errors_on(&world.service.submit_settings(flow.id, wrong).await.unwrap(), "totp_code"), vec![4000008]);
    assert!(!world.store.identity(registered.identity.id).await.unwrap().has_credential(CredentialType::Totp));
    let code = totp_code(&uri, &world);
    let right = Submission::new("totp", json!({"totp_code": code})).with_session(token.expose_secret());
    assert_eq!(world.service.submit_settings(flow.id, right).await.unwrap().state, "success");
    assert!(world.store.identity(registered.identity.id).await.unwrap().has_credential(CredentialType::Totp));
    // The session that proved the new factor has it; the other one is now short of the second factor.
    let (session, _) = world.sessions.check(token.expose_secret(), RequiredAal::HighestAvailable).await.unwrap();
    assert_eq!(session.authenticator_assurance_level, AssuranceLevel::Aal2);
    assert!(matches!(
        world.sessions.check(other.expose_secret(), RequiredAal::HighestAvailable).await,
        Err(Error::Aal2Required)
    ));

    // Removing it ends the other sessions.
    let unlink = Submission::new("totp", json!({"totp_unlink": true})).with_session(token.expose_secret());
    assert_eq!(world.service.submit_settings(flow.id, unlink).await.unwrap().state, "success");
    assert!(!world.store.identity(registered.identity.id).await.unwrap().has_credential(CredentialType::Totp));
    assert!(matches!(
        world.sessions.check(other.expose_secret(), RequiredAal::Aal1).await,
        Err(Error::SessionInactive)
    ));
    world.sessions.check(token.expose_secret(), RequiredAal::HighestAvailable).await.unwrap();
}

async fn recovery_by_code_signs_in_and_ends_other_sessions(store: Arc<dyn Store>) {
    let world = world(store);
    let registered = register(&world, "ada@example.com").await;
    let old = registered.session.unwrap().token;
    let flow = world.service.create_recovery(&api()).await.unwrap().flow;
    let sent = shown(
        world
            .service
            .submit_recovery(flow.id, Submission::new("code", json!({"email": "ADA@example.com"})))
            .await
            .unwrap(),
    );
    assert_eq!(sent.state, "sent_email");
    assert!(!sent.has_errors());
    let code = last_code(&world.courier, "ada@example.com");
    let recovered =
        done(world.service.submit_recovery(flow.id, Submission::new("code", json!({"code": code}))).await.unwrap());
    assert_eq!(recovered.identity.id, registered.identity.id);
    assert!(world.sessions.is_privileged(&recovered.session.session));
    assert!(recovered.identity.verifiable_addresses[0].verified, "the code proved the address");
    assert!(matches!(world.sessions.check(old.expose_secret(), RequiredAal::Aal1).await, Err(Error::SessionInactive)));

    // The new session may set a new password right away.
    let token = recovered.session.token;
    let settings = world.service.create_settings(&api(), token.expose_secret()).await.unwrap().flow;
    let change =
        Submission::new("password", json!({"password": "a-brand-new-passphrase"})).with_session(token.expose_secret());
    assert_eq!(world.service.submit_settings(settings.id, change).await.unwrap().state, "success");

    // The code is used up with its flow.
    let reused = world.service.submit_recovery(flow.id, Submission::new("code", json!({"code": code}))).await;
    assert!(matches!(reused, Err(Error::FlowNotFound)), "{reused:?}");
}

async fn recovery_never_tells_known_from_unknown_addresses(store: Arc<dyn Store>) {
    let world = world(store);
    register(&world, "ada@example.com").await;
    let sent_before = world.courier.sent().len();
    let answer = |email: &'static str| {
        let service = &world.service;
        async move {
            let flow = service.create_recovery(&api()).await.unwrap().flow;
            let flow = shown(
                service.submit_recovery(flow.id, Submission::new("code", json!({"email": email}))).await.unwrap(),
            );
            (flow.state, serde_json::to_value(&flow.ui.messages).unwrap())
        }
    };
    let known = answer("ada@example.com").await;
    let unknown = answer("nobody@example.com").await;
    assert_eq!(known, unknown);
    assert_eq!(world.courier.sent().len(), sent_before + 1, "only the known address got a message");
}

async fn recovery_codes_expire_and_a_sixth_try_is_refused(store: Arc<dyn Store>) {
    let settings = SelfServiceSettings { code_lifespan: Duration::minutes(10), ..SelfServiceSettings::default() };
    let world = world_with(store, settings);
    register(&world, "ada@example.com").await;
    let flow = request_recovery(&world).await;
    let code = last_code(&world.courier, "ada@example.com");
    world.clock.advance(Duration::minutes(11));
    let expired =
        shown(world.service.submit_recovery(flow.id, Submission::new("code", json!({"code": code}))).await.unwrap());
    assert_eq!(errors_on(&expired, "code"), vec![4060006]);

    let flow = request_recovery(&world).await;
    let code = last_code(&world.courier, "ada@example.com");
    for _ in 0..5 {
        let wrong = world.service.submit_recovery(flow.id, Submission::new("code", json!({"code": "999999x"}))).await;
        assert_eq!(errors_on(&shown(wrong.unwrap()), "code"), vec![4060006]);
    }
    let sixth =
        shown(world.service.submit_recovery(flow.id, Submission::new("code", json!({"code": code}))).await.unwrap());
    assert!(sixth.has_errors(), "the right code was accepted on the sixth try");
    let sessions = world.sessions.list(registered_id(&world).await, true).await.unwrap();
    assert_eq!(sessions.len(), 1, "only the registration's session is there");
}

async fn request_recovery(world: &World) -> Flow {
    let flow = world.service.create_recovery(&api()).await.unwrap().flow;
    let body = json!({"email": "ada@example.com"});
    shown(world.service.submit_recovery(flow.id, Submission::new("code", body)).await.unwrap())
}

async fn registered_id(world: &World) -> identity_core::IdentityId {
    world.store.find_identity_by_identifier(CredentialType::Password, "ada@example.com").await.unwrap().unwrap().id
}

async fn logout_revokes_the_session(store: Arc<dyn Store>) {
    let world = world(store);
    let token = register(&world, "ada@example.com").await.session.unwrap().token;
    world.service.logout(token.expose_secret()).await.unwrap();
    assert!(matches!(
        world.sessions.check(token.expose_secret(), RequiredAal::Aal1).await,
        Err(Error::SessionInactive)
    ));
    assert!(matches!(world.service.logout(token.expose_secret()).await, Err(Error::SessionInactive)));
}

async fn enforced_mfa_leaves_a_session_good_only_for_setting_up_a_factor(store: Arc<dyn Store>) {
    let sessions = identity_auth::SessionSettings { enforce_mfa: true, ..identity_auth::SessionSettings::default() };
    let world = world_full(store, SelfServiceSettings::default(), sessions);
    register(&world, "ada@example.com").await;
    let logged_in = done(log_in(&world, "ada@example.com", PASSWORD).await.unwrap());
    assert!(logged_in.second_factor_required);
    assert_eq!(logged_in.session.authenticator_assurance_level, AssuranceLevel::Aal1);
    let token = logged_in.token.unwrap();
    let checked = world.sessions.check(token.expose_secret(), RequiredAal::HighestAvailable).await;
    assert!(matches!(checked, Err(Error::Aal2Required)), "{checked:?}");
    let uri = enroll_totp(&world, token.expose_secret()).await;
    world.sessions.check(token.expose_secret(), RequiredAal::HighestAvailable).await.unwrap();
    world.clock.advance(Duration::minutes(1));
    let second_step = shown(log_in(&world, "ada@example.com", PASSWORD).await.unwrap());
    let code = totp_code(&uri, &world);
    let body = json!({"totp_code": code});
    let logged_in = done(world.service.submit_login(second_step.id, Submission::new("totp", body)).await.unwrap());
    assert!(!logged_in.second_factor_required);
    assert_eq!(logged_in.session.authenticator_assurance_level, AssuranceLevel::Aal2);
}

async fn refresh_and_upgrade_need_the_flows_own_session(store: Arc<dyn Store>) {
    let world = world(store);
    let token = register(&world, "ada@example.com").await.session.unwrap().token;
    register(&world, "grace@example.com").await;
    let mut refresh = LoginRequest { flow: api(), session_token: Some(token.expose_secret().to_owned()) };
    refresh.flow.refresh = true;
    let flow = world.service.create_login(&refresh).await.unwrap().flow;
    assert!(flow.refresh);
    let grace = json!({"identifier": "grace@example.com", "password": PASSWORD});
    let other = world
        .service
        .submit_login(flow.id, Submission::new("password", grace).with_session(token.expose_secret()))
        .await;
    assert!(matches!(other, Err(Error::IdentityMismatch)), "{other:?}");
    let ada = json!({"identifier": "ada@example.com", "password": PASSWORD});
    let without = world.service.submit_login(flow.id, Submission::new("password", ada.clone())).await;
    assert!(matches!(without, Err(Error::SessionInactive)), "{without:?}");
    let refreshed =
        world.service.submit_login(flow.id, Submission::new("password", ada).with_session(token.expose_secret())).await;
    assert!(done(refreshed.unwrap()).token.is_none());
}

async fn second_factors_and_codes_are_rate_limited_too(store: Arc<dyn Store>) {
    let world = world(store);
    let registered = register(&world, "ada@example.com").await;
    let uri = enroll_totp(&world, registered.session.unwrap().token.expose_secret()).await;
    world.clock.advance(Duration::minutes(1));
    let second_step = shown(log_in(&world, "ada@example.com", PASSWORD).await.unwrap());
    for _ in 0..10 {
        let wrong = world.service.submit_login(second_step.id, Submission::new("totp", json!({"totp_code": "000000"})));
        assert_eq!(errors_on(&shown(wrong.await.unwrap()), "totp_code"), vec![4000008]);
    }
    let code = totp_code(&uri, &world);
    let limited = world.service.submit_login(second_step.id, Submission::new("totp", json!({"totp_code": code}))).await;
    assert!(matches!(limited, Err(Error::RateLimited { .. })), "{limited:?}");

    // Wrong codes from one address add up across recovery flows.
    let client = identity_auth::ClientInfo { ip_address: Some("198.51.100.7".parse().unwrap()), user_agent: None };
    for _ in 0..2 {
        let flow = request_recovery(&world).await;
        for _ in 0..5 {
            let wrong = Submission::new("code", json!({"code": "000000"})).from_client(client.clone());
            shown(world.service.submit_recovery(flow.id, wrong).await.unwrap());
        }
    }
    let flow = request_recovery(&world).await;
    let code = last_code(&world.courier, "ada@example.com");
    let limited = world
        .service
        .submit_recovery(flow.id, Submission::new("code", json!({"code": code})).from_client(client))
        .await;
    assert!(matches!(limited, Err(Error::RateLimited { .. })), "{limited:?}");
    done(world.service.submit_recovery(flow.id, Submission::new("code", json!({"code": code}))).await.unwrap());
}

async fn a_success_resets_the_identifiers_count(store: Arc<dyn Store>) {
    let world = world(store);
    register(&world, "ada@example.com").await;
    for _ in 0..2 {
        for _ in 0..9 {
            shown(log_in(&world, "ada@example.com", "wrong-password").await.unwrap());
        }
        done(log_in(&world, "ada@example.com", PASSWORD).await.unwrap());
    }
}

async fn removing_backup_codes_ends_other_sessions_and_nothing_is_removed_twice(store: Arc<dyn Store>) {
    let world = world(store);
    let token = register(&world, "ada@example.com").await.session.unwrap().token;
    let flow = world.service.create_settings(&api(), token.expose_secret()).await.unwrap().flow;
    let submit = |fields: Value| {
        world
            .service
            .submit_settings(flow.id, Submission::new("lookup_secret", fields).with_session(token.expose_secret()))
    };
    submit(json!({"lookup_secret_regenerate": true})).await.unwrap();
    assert_eq!(submit(json!({"lookup_secret_confirm": true})).await.unwrap().state, "success");
    let other = register_session(&world).await;
    assert_eq!(submit(json!({"lookup_secret_disable": true})).await.unwrap().state, "success");
    assert!(matches!(
        world.sessions.check(other.expose_secret(), RequiredAal::Aal1).await,
        Err(Error::SessionInactive)
    ));
    let another = register_session(&world).await;
    let again = submit(json!({"lookup_secret_disable": true})).await.unwrap();
    assert_eq!(errors_on(&again, ""), vec![4000001]);
    world.sessions.check(another.expose_secret(), RequiredAal::Aal1).await.unwrap();
}

/// A second session of ada's, from a password login (her backup codes, if any, completing it).
async fn register_session(world: &World) -> SecretString {
    let identity = world.store.find_identity_by_identifier(CredentialType::Password, "ada@example.com").await;
    let identity = identity.unwrap().unwrap();
    let method = identity_core::AuthenticationMethod {
        method: CredentialType::Password,
        aal: AssuranceLevel::Aal1,
        completed_at: world.clock.now(),
    };
    world.sessions.issue(&identity, vec![method], Default::default()).await.unwrap().token
}

async fn verification_can_be_asked_for_by_address(store: Arc<dyn Store>) {
    let world = world(store);
    let id = register(&world, "ada@example.com").await.identity.id;
    let ask = |email: &'static str| {
        let service = &world.service;
        async move {
            let flow = service.create_verification(&api()).await.unwrap().flow;
            shown(service.submit_verification(flow.id, Submission::new("code", json!({"email": email}))).await.unwrap())
        }
    };
    let unknown = ask("nobody@example.com").await;
    let flow = ask("ada@example.com").await;
    assert_eq!(serde_json::to_value(&unknown.ui.messages).unwrap(), serde_json::to_value(&flow.ui.messages).unwrap());
    let message = world.courier.sent().into_iter().last().unwrap();
    assert!(message.body.expose_secret().contains(&format!("/self-service/verification?flow={}", flow.id)));
    let code = last_code(&world.courier, "ada@example.com");
    done(world.service.submit_verification(flow.id, Submission::new("code", json!({"code": code}))).await.unwrap());
    assert!(world.store.identity(id).await.unwrap().verifiable_addresses[0].verified);
}

async fn code_requests_are_limited_and_a_new_recovery_code_replaces_the_old(store: Arc<dyn Store>) {
    let world = world(store);
    register(&world, "ada@example.com").await;
    let first = request_recovery(&world).await;
    let old = last_code(&world.courier, "ada@example.com");
    let second = request_recovery(&world).await;
    let new = last_code(&world.courier, "ada@example.com");
    let stale = world.service.submit_recovery(first.id, Submission::new("code", json!({"code": old}))).await;
    assert_eq!(errors_on(&shown(stale.unwrap()), "code"), vec![4060006]);

    for _ in 1..5 {
        let again = Submission::new("code", json!({"email": "ada@example.com"}));
        shown(world.service.submit_recovery(second.id, again).await.unwrap());
    }
    let flooded =
        world.service.submit_recovery(second.id, Submission::new("code", json!({"email": "x@example.com"}))).await;
    assert!(matches!(flooded, Err(Error::RateLimited { .. })), "{flooded:?}");
    let newest = last_code(&world.courier, "ada@example.com");
    assert_ne!(new, newest);
    done(world.service.submit_recovery(second.id, Submission::new("code", json!({"code": newest}))).await.unwrap());
}

async fn disabled_identities_get_no_recovery_code(store: Arc<dyn Store>) {
    let world = world(store);
    let id = register(&world, "ada@example.com").await.identity.id;
    admin(&world).set_state(id, identity_core::IdentityState::Inactive).await.unwrap();
    let sent = world.courier.sent().len();
    let flow = request_recovery(&world).await;
    assert_eq!(flow.state, "sent_email");
    assert_eq!(world.courier.sent().len(), sent);
}

async fn flows_are_shown_only_to_their_owner_and_submissions_hide_secrets(store: Arc<dyn Store>) {
    let world = world(store);
    let ada = register(&world, "ada@example.com").await.session.unwrap().token;
    let grace = register(&world, "grace@example.com").await.session.unwrap().token;
    let flow = world.service.create_settings(&api(), ada.expose_secret()).await.unwrap().flow;
    let foreign = world.service.flow(flow.id, FlowKind::Settings, None, Some(grace.expose_secret())).await;
    assert!(matches!(foreign, Err(Error::IdentityMismatch)), "{foreign:?}");
    let anonymous = world.service.flow(flow.id, FlowKind::Settings, None, None).await;
    assert!(matches!(anonymous, Err(Error::SessionInactive)), "{anonymous:?}");
    let browser = FlowRequest::new(FlowType::Browser, "https://id.example/self-service/login/browser");
    let created = world.service.create_recovery(&browser).await.unwrap();
    let no_cookie = world.service.flow(created.flow.id, FlowKind::Recovery, None, None).await;
    assert!(matches!(no_cookie, Err(Error::CsrfViolation)), "{no_cookie:?}");
    let token = created.csrf_token.unwrap();
    world.service.flow(created.flow.id, FlowKind::Recovery, Some(token.expose_secret()), None).await.unwrap();

    let submission = Submission::new("password", json!({"identifier": "ada", "password": "hunter2-secret"}))
        .with_session("session-secret")
        .with_csrf("csrf-secret");
    let debug = format!("{submission:?}");
    for secret in ["hunter2-secret", "session-secret", "csrf-secret"] {
        assert!(!debug.contains(secret), "{debug}");
    }
    let request = LoginRequest { flow: api(), session_token: Some("session-secret".into()) };
    assert!(!format!("{request:?}").contains("session-secret"));
}

async fn a_registration_flow_registers_once(store: Arc<dyn Store>) {
    let world = world(store);
    let flow = world.service.create_registration(&api()).await.unwrap().flow;
    let submit = |email: &str| {
        let body = json!({ "traits": { "email": email }, "password": PASSWORD });
        world.service.submit_registration(flow.id, Submission::new("password", body))
    };
    let (a, b) = tokio::join!(submit("one@example.com"), submit("two@example.com"));
    let finished = [&a, &b].iter().filter(|outcome| matches!(outcome, Ok(Submitted::Done(_)))).count();
    assert_eq!(finished, 1, "{a:?} / {b:?}");
    assert_eq!(world.store.count_identities(&Default::default()).await.unwrap(), 1);
}
