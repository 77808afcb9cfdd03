//! Servers run flows on multi-threaded executors, which need every future to be `Send`. This compiles only if
//! they are.

use identity_auth::{Admin, Authenticator, FlowKind, FlowRequest, FlowType, LoginRequest, SelfService, Submission};
use identity_core::{FlowId, IdentityId};

fn is_send<T: Send>(_: T) {}

#[allow(dead_code)]
fn self_service_futures_are_send(
    service: &'static SelfService,
    admin: &'static Admin,
    authenticator: &'static Authenticator,
) {
    let request = FlowRequest::new(FlowType::Api, "x");
    let login = LoginRequest { flow: request.clone(), session_token: None };
    is_send(service.create_registration(&request));
    is_send(service.submit_registration(FlowId::new(), Submission::default()));
    is_send(service.create_login(&login));
    is_send(service.submit_login(FlowId::new(), Submission::default()));
    is_send(service.create_settings(&request, "token"));
    is_send(service.submit_settings(FlowId::new(), Submission::default()));
    is_send(service.create_recovery(&request));
    is_send(service.submit_recovery(FlowId::new(), Submission::default()));
    is_send(service.create_verification(&request));
    is_send(service.submit_verification(FlowId::new(), Submission::default()));
    is_send(service.flow(FlowId::new(), FlowKind::Login, None, None));
    is_send(service.logout("token"));
    is_send(admin.identity(IdentityId::new()));
    let password = identity_auth::Presentation::Password {
        identifier: "a".into(),
        password: identity_core::SecretString::new("b"),
    };
    is_send(authenticator.authenticate_from(password, None));
    is_send(authenticator.verify_totp_from(IdentityId::new(), "123456", None));
    is_send(authenticator.use_lookup_code_from(IdentityId::new(), "abc", None));
}

#[test]
fn compiles() {}
