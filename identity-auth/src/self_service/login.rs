//! Login: identifier and password; then, when the identity has a second factor (or one is enforced), a second
//! step with a TOTP or backup code in the same flow, giving an aal2 session. `refresh` re-authenticates the
//! current session (making it privileged again); `aal2` upgrades the current session with a second factor.

use identity_core::{
    AssuranceLevel, AuthenticationMethod, CredentialType, FlowId, Identity, SecretString, Session, SessionId,
};
use serde::{Deserialize, Serialize};

use super::{SelfService, Submission, Submitted, fields, nodes, set_nodes};
use crate::authenticator::Presentation;
use crate::error::Error;
use crate::flow::{CreatedFlow, FlowKind, FlowRequest, FlowStart, LoadedFlow};
use crate::session::RequiredAal;
use crate::ui::UiText;

/// A login flow to start: the request, and the session the client already holds (for `refresh` and `aal2`).
#[derive(Clone)]
pub struct LoginRequest {
    /// The request; its `refresh` and `requested_aal` say what the flow is for.
    pub flow: FlowRequest,
    /// The session token or cookie the request carried.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let token = self.session_token.as_ref().map(|_| "***");
        f.debug_struct("LoginRequest").field("flow", &self.flow).field("session_token", &token).finish()
    }
}

/// A finished login.
#[derive(Debug)]
pub struct LoggedIn {
    /// The session: new, or the existing one refreshed or upgraded.
    pub session: Session,
    /// Who signed in.
    pub identity: Identity,
    /// The new session's token, to hand over once; `None` when an existing session was refreshed or upgraded
    /// (its token is unchanged).
    pub token: Option<SecretString>,
    /// Whether a second factor is still required but none that a flow can check is set up: the session is
    /// one-factor, refused where `highest_available` applies, and good only for setting one up in settings.
    pub second_factor_required: bool,
}

/// What a login flow remembers between its steps (server-side only).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Progress {
    /// The session being refreshed or upgraded.
    session: Option<SessionId>,
    /// The factors completed so far in this flow.
    methods: Vec<AuthenticationMethod>,
    /// Whether the flow waits for a second factor.
    second_step: bool,
}

impl SelfService {
    /// Starts a login flow. With a valid session, only `refresh` (asks for the password again) or `aal2` (asks
    /// for a second factor) make sense; otherwise [`Error::SessionAlreadyAvailable`]. Upgrading needs a
    /// session ([`Error::SessionInactive`]) and a second factor set up ([`Error::NoSecondFactor`]).
    pub async fn create_login(&self, request: &LoginRequest) -> Result<CreatedFlow, Error> {
        let session = match request.session_token.as_deref() {
            Some(token) => match self.sessions.check(token, RequiredAal::Aal1).await {
                Ok(found) => Some(found),
                Err(Error::SessionInactive) => None,
                Err(other) => return Err(other),
            },
            None => None,
        };
        let flow = &request.flow;
        let wants_aal2 = flow.requested_aal == Some(AssuranceLevel::Aal2);
        let (form, identity, progress, message) = match session {
            Some((session, identity)) if flow.refresh => {
                let identifier = identity
                    .credentials
                    .get(CredentialType::Password)
                    .and_then(|credential| credential.identifiers.first().cloned())
                    .ok_or(Error::MethodNotAllowed { method: "password" })?;
                let progress = Progress { session: Some(session.id), ..Progress::default() };
                let message = UiText::info(1010003, "Please confirm this action by verifying that it is you.");
                (nodes::password_login(Some(&identifier)), Some(identity.id), progress, Some(message))
            }
            Some((session, identity)) if wants_aal2 => {
                if session.authenticator_assurance_level >= AssuranceLevel::Aal2 {
                    return Err(Error::SessionAlreadyAvailable);
                }
                let factors = self.second_factors(&identity);
                if factors.is_empty() {
                    return Err(Error::NoSecondFactor);
                }
                let progress = Progress { session: Some(session.id), methods: Vec::new(), second_step: true };
                let message = UiText::info(1010004, "Please complete the second authentication challenge.");
                (nodes::second_factor(&factors), Some(identity.id), progress, Some(message))
            }
            Some(_) => return Err(Error::SessionAlreadyAvailable),
            None if wants_aal2 => return Err(Error::SessionInactive),
            None => (nodes::password_login(None), None, Progress::default(), None),
        };
        let data = serde_json::to_value(&progress).map_err(|e| Error::Internal { reason: e.to_string() })?;
        let start =
            FlowStart { messages: message.into_iter().collect(), identity_id: identity, data, ..FlowStart::new(form) };
        self.flows.start(FlowKind::Login, flow, start).await
    }

    /// Submits login flow `id`: method `password` (`identifier`, `password`), then, in the second step, `totp`
    /// (`totp_code`) or `lookup_secret` (`lookup_secret`). Wrong credentials are a message on the flow, the same
    /// for unknown identifiers; too many failures are [`Error::RateLimited`].
    pub async fn submit_login(&self, id: FlowId, submission: Submission) -> Result<Submitted<LoggedIn>, Error> {
        let mut loaded = self.load_for(id, FlowKind::Login, &submission).await?;
        let progress: Progress = serde_json::from_value(loaded.data.clone()).unwrap_or_default();
        if progress.second_step {
            return self.second_step(loaded, progress, submission).await;
        }
        loaded.check_method(&submission.method, &["password"])?;
        let identifier = fields::text(&submission.fields, "identifier");
        let password = fields::text(&submission.fields, "password");
        if let Some(node) = loaded.flow.ui.node_mut("identifier")
            && node.input_attributes().is_some_and(|input| input.input_type != "hidden")
        {
            node.set_value(identifier.map(serde_json::Value::from));
        }
        let (Some(identifier), Some(password)) = (identifier, password) else {
            for (name, value) in [("identifier", identifier), ("password", password)] {
                if value.is_none() {
                    loaded.flow.ui.message_on(name, UiText::required(name));
                }
            }
            return self.show(loaded).await;
        };
        let presentation =
            Presentation::Password { identifier: identifier.to_owned(), password: SecretString::new(password) };
        let authenticated = match self.authenticator.authenticate_from(presentation, submission.client.ip_address).await
        {
            Ok(authenticated) => authenticated,
            Err(Error::InvalidCredentials) => {
                loaded.flow.ui.messages.push(UiText::invalid_credentials());
                return self.show(loaded).await;
            }
            Err(other) => return Err(other),
        };
        let identity = authenticated.identity;
        if loaded.identity_id.is_some_and(|expected| expected != identity.id) {
            return Err(Error::IdentityMismatch);
        }
        if let Some(session) = progress.session {
            // A refresh: the existing session is re-authenticated, so privileged again.
            let method = authenticated.methods.into_iter().next().ok_or(Error::InvalidCredentials)?;
            return self.finish_on_session(id, session, submission.session_token.as_deref(), identity, method).await;
        }
        let needs_second = authenticated.second_factor.is_some() || self.sessions.second_factor_expected(&identity);
        let factors = self.second_factors(&identity);
        if needs_second && !factors.is_empty() {
            let progress = Progress { session: None, methods: authenticated.methods, second_step: true };
            loaded.identity_id = Some(identity.id);
            loaded.data = serde_json::to_value(&progress).map_err(|e| Error::Internal { reason: e.to_string() })?;
            set_nodes(&mut loaded.flow, nodes::second_factor(&factors));
            loaded.flow.ui.messages.push(UiText::info(1010004, "Please complete the second authentication challenge."));
            return self.show(loaded).await;
        }
        let issued = self.sessions.issue(&identity, authenticated.methods, submission.client).await?;
        self.flows.delete(id).await?;
        Ok(Submitted::Done(LoggedIn {
            session: issued.session,
            identity,
            token: Some(issued.token),
            second_factor_required: needs_second,
        }))
    }

    /// The second factors `identity` has that this deployment checks and its policy accepts (a policy that
    /// requires an external JWT accepts nothing else, and flows do not take JWTs).
    fn second_factors(&self, identity: &Identity) -> Vec<CredentialType> {
        let mut factors = Vec::new();
        if self.authenticator.policy_of(identity).secondary.require_ext_jwt_signer.is_some() {
            return factors;
        }
        if self.authenticator.totp().is_some() && identity.has_credential(CredentialType::Totp) {
            factors.push(CredentialType::Totp);
        }
        if self.authenticator.lookup().is_some() && identity.has_credential(CredentialType::LookupSecret) {
            factors.push(CredentialType::LookupSecret);
        }
        factors
    }

    async fn second_step(
        &self,
        mut loaded: LoadedFlow,
        progress: Progress,
        submission: Submission,
    ) -> Result<Submitted<LoggedIn>, Error> {
        let identity_id =
            loaded.identity_id.ok_or(Error::Internal { reason: "a second step without identity".into() })?;
        let identity = self.store.identity(identity_id).await?;
        let offered: Vec<&'static str> =
            self.second_factors(&identity).into_iter().map(CredentialType::as_str).collect();
        loaded.check_method(&submission.method, &offered)?;
        let client = submission.client.ip_address;
        let (field, outcome) = match submission.method.as_str() {
            "totp" => {
                let code = fields::text(&submission.fields, "totp_code");
                let outcome = match code {
                    Some(code) => Some(self.authenticator.verify_totp_from(identity_id, code, client).await),
                    None => None,
                };
                ("totp_code", outcome)
            }
            _ => {
                let code = fields::text(&submission.fields, "lookup_secret");
                let outcome = match code {
                    Some(code) => {
                        Some(self.authenticator.use_lookup_code_from(identity_id, code, client).await.map(|(m, _)| m))
                    }
                    None => None,
                };
                ("lookup_secret", outcome)
            }
        };
        let method = match outcome {
            None => {
                loaded.flow.ui.message_on(field, UiText::required(field));
                return self.show(loaded).await;
            }
            Some(Ok(method)) => method,
            Some(Err(Error::InvalidTotpCode)) => {
                let text = UiText::error(4000008, "The provided authentication code is invalid, please try again.");
                loaded.flow.ui.message_on(field, text);
                return self.show(loaded).await;
            }
            Some(Err(Error::InvalidLookupCode)) => {
                loaded.flow.ui.message_on(field, UiText::error(4000016, "The backup recovery code is not valid."));
                return self.show(loaded).await;
            }
            Some(Err(other)) => return Err(other),
        };
        let id = loaded.flow.id;
        if let Some(session) = progress.session {
            return self.finish_on_session(id, session, submission.session_token.as_deref(), identity, method).await;
        }
        let mut methods = progress.methods;
        methods.push(method);
        let issued = self.sessions.issue(&identity, methods, submission.client).await?;
        self.flows.delete(id).await?;
        Ok(Submitted::Done(LoggedIn {
            session: issued.session,
            identity,
            token: Some(issued.token),
            second_factor_required: false,
        }))
    }

    /// Adds `method` to the existing session `session` of `identity` (refresh or upgrade) and ends flow `id`. The
    /// request must carry that session's token: knowing the flow id is not enough to raise a session.
    async fn finish_on_session(
        &self,
        id: FlowId,
        expected: SessionId,
        token: Option<&str>,
        identity: Identity,
        method: AuthenticationMethod,
    ) -> Result<Submitted<LoggedIn>, Error> {
        let (session, _) = self.session_of(token, Some(identity.id)).await?;
        if session.id != expected {
            return Err(Error::IdentityMismatch);
        }
        let session = self.sessions.add_method(session, method).await?;
        self.flows.delete(id).await?;
        Ok(Submitted::Done(LoggedIn { session, identity, token: None, second_factor_required: false }))
    }
}
