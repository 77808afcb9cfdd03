//! What every self-service flow shares, on the memory and SQLite stores: creation, Kratos' JSON shape, CSRF for
//! browser flows, expiry, unknown flows, methods, and saving progress.

#[macro_use]
mod support;

use std::sync::Arc;

use identity_auth::{Error, FlowKind, FlowRequest, FlowSettings, FlowType, Flows, NodeGroup, UiNode, UiText};
use identity_core::time::Duration;
use identity_core::{FlowId, TestClock};
use identity_store::Store;
use serde_json::Value;
use support::*;

identity_store::on_every_store!(
    an_api_flow_has_kratos_shape_and_no_csrf,
    a_browser_flow_demands_its_csrf_token,
    flows_expire_and_unknown_or_foreign_ones_are_not_found,
    progress_is_saved_between_requests,
);

fn login_nodes() -> Vec<UiNode> {
    vec![
        UiNode::input(NodeGroup::Default, "identifier", "text").required().with_label(UiText::label_identifier()),
        UiNode::input(NodeGroup::Password, "password", "password").required().with_label(UiText::label_password()),
    ]
}

fn flows(store: &Arc<dyn Store>, clock: &Arc<TestClock>) -> Flows {
    Flows::new(store.clone(), clock.clone(), FlowSettings::default()).unwrap()
}

async fn an_api_flow_has_kratos_shape_and_no_csrf(store: Arc<dyn Store>) {
    let clock = clock();
    let flows = flows(&store, &clock);
    let created = flows
        .create(
            FlowKind::Login,
            &FlowRequest::new(FlowType::Api, "https://id.example/self-service/login/api"),
            login_nodes(),
            None,
            Value::Null,
        )
        .await
        .unwrap();
    assert!(created.csrf_token.is_none());
    let json = serde_json::to_value(&created.flow).unwrap();
    for key in ["id", "type", "expires_at", "issued_at", "request_url", "state", "ui", "refresh"] {
        assert!(json.get(key).is_some(), "{key} missing from {json}");
    }
    assert!(json.get("kind").is_none());
    assert_eq!(json["type"], "api");
    assert_eq!(json["ui"]["method"], "POST");
    assert_eq!(json["ui"]["nodes"][1]["attributes"]["name"], "password");
    let loaded = flows.load(created.flow.id, FlowKind::Login).await.unwrap();
    assert_eq!(loaded.flow, created.flow);
    loaded.check_csrf(None).unwrap();
}

async fn a_browser_flow_demands_its_csrf_token(store: Arc<dyn Store>) {
    let clock = clock();
    let flows = flows(&store, &clock);
    let created = flows
        .create(
            FlowKind::Login,
            &FlowRequest::new(FlowType::Browser, "https://id.example/self-service/login/browser"),
            login_nodes(),
            None,
            Value::Null,
        )
        .await
        .unwrap();
    let token = created.csrf_token.unwrap();
    let node = &created.flow.ui.nodes[0];
    assert_eq!(node.name(), "csrf_token");
    let value = node.input_attributes().and_then(|input| input.value.as_ref()).and_then(|v| v.as_str());
    assert_eq!(value, Some(token.expose_secret()));
    // Only the token's hash is stored, not the form's copy of the token.
    let stored = store.flow(created.flow.id).await.unwrap().document.to_string();
    assert!(!stored.contains(token.expose_secret()), "{stored}");
    let loaded = flows.load(created.flow.id, FlowKind::Login).await.unwrap();
    loaded.check_csrf(Some(token.expose_secret())).unwrap();
    assert!(matches!(loaded.check_csrf(None), Err(Error::CsrfViolation)));
    assert!(matches!(loaded.check_csrf(Some("forged")), Err(Error::CsrfViolation)));
}

async fn flows_expire_and_unknown_or_foreign_ones_are_not_found(store: Arc<dyn Store>) {
    let clock = clock();
    let flows = flows(&store, &clock);
    let created = flows
        .create(FlowKind::Recovery, &FlowRequest::new(FlowType::Api, "https://id.example/r"), vec![], None, Value::Null)
        .await
        .unwrap();
    assert!(matches!(flows.load(created.flow.id, FlowKind::Login).await, Err(Error::FlowNotFound)));
    assert!(matches!(flows.load(FlowId::new(), FlowKind::Recovery).await, Err(Error::FlowNotFound)));
    clock.advance(Duration::minutes(59));
    flows.load(created.flow.id, FlowKind::Recovery).await.unwrap();
    clock.advance(Duration::minutes(1));
    let expired = flows.load(created.flow.id, FlowKind::Recovery).await;
    assert!(matches!(expired, Err(Error::FlowExpired)), "{expired:?}");
    assert_eq!(Error::FlowExpired.code(), "self_service_flow_expired");
}

async fn progress_is_saved_between_requests(store: Arc<dyn Store>) {
    let clock = clock();
    let flows = flows(&store, &clock);
    let created = flows
        .create(
            FlowKind::Login,
            &FlowRequest::new(FlowType::Api, "https://id.example/l"),
            login_nodes(),
            None,
            Value::Null,
        )
        .await
        .unwrap();
    let mut loaded = flows.load(created.flow.id, FlowKind::Login).await.unwrap();
    loaded.check_method("password", &["password", "totp"]).unwrap();
    assert!(matches!(loaded.check_method("webauthn", &["password"]), Err(Error::WrongFlowMethod { .. })));
    loaded.flow.state = "passed_challenge".into();
    loaded.flow.ui.messages.push(UiText::invalid_credentials());
    loaded.data = serde_json::json!({"pending": "totp"});
    flows.save(&loaded).await.unwrap();
    let again = flows.load(created.flow.id, FlowKind::Login).await.unwrap();
    assert_eq!(again.flow.state, "passed_challenge");
    assert_eq!(again.flow.ui.messages[0].id, 4000006);
    assert_eq!(again.data["pending"], "totp");
}
