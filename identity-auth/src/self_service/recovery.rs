//! Account recovery by code: a six-digit code sent to a recovery address; redeeming it signs the identity in
//! with a fresh, privileged session (so it can set a new password in settings) and ends every other session.

use identity_core::time::{Duration, OffsetDateTime};
use identity_core::{AssuranceLevel, AuthenticationMethod, CredentialType, FlowId, Identity, IdentityId, SecretString};
use identity_store::CodePurpose;
use serde_json::Value;

use super::code_flow::{CodeFlow, Redeemed};
use super::{SelfService, Submission, Submitted, fields, nodes};
use crate::authenticator::update_identity;
use crate::error::Error;
use crate::flow::{CreatedFlow, Flow, FlowKind, FlowRequest, FlowStart, FlowType};
use crate::session::IssuedSession;
use crate::ui::{NodeGroup, TextType, UiNode, UiText};

/// A recovery code an operator hands to a user (Kratos' `POST /admin/recovery/code`): the user opens the link and
/// types the code.
#[derive(Debug)]
pub struct RecoveryCode {
    /// The recovery flow waiting for the code.
    pub flow_id: FlowId,
    /// Where the user enters the code.
    pub link: String,
    /// The code; shown once, stored only as a hash.
    pub code: SecretString,
    /// When the code and its flow lapse.
    pub expires_at: OffsetDateTime,
}

/// A finished recovery.
#[derive(Debug)]
pub struct Recovered {
    /// The recovered identity.
    pub identity: Identity,
    /// A new session, privileged for the settings window, to set a new password with.
    pub session: IssuedSession,
    /// The flow, in state `passed_challenge`.
    pub flow: Flow,
}

impl SelfService {
    /// Starts a recovery flow asking for an email address.
    pub async fn create_recovery(&self, request: &FlowRequest) -> Result<CreatedFlow, Error> {
        self.flows.create(FlowKind::Recovery, request, nodes::ask_address(), None, Value::Null).await
    }

    /// Submits recovery flow `id` (method `code`): with `email`, sends a code if the address is a recovery address
    /// (and says the same if it is not); with `code`, redeems it.
    pub async fn submit_recovery(&self, id: FlowId, submission: Submission) -> Result<Submitted<Recovered>, Error> {
        let loaded = self.load_for(id, FlowKind::Recovery, &submission).await?;
        loaded.check_method(&submission.method, &["code"])?;
        let Some(code) = fields::text(&submission.fields, "code").filter(|_| loaded.flow.state == "sent_email") else {
            return self.request_code(CodeFlow::RECOVERY, loaded, &submission).await;
        };
        let mut flow = loaded.flow.clone();
        let (record, identity) = match self.redeem_code(CodeFlow::RECOVERY, loaded, code, &submission).await? {
            Redeemed::Code { code, identity } => (code, identity),
            Redeemed::Refused(shown) => return Ok(shown),
        };
        let now = self.clock.now();
        // The code proved control of the address: where it is also to be verified, it now is.
        let identity = update_identity(self.store.as_ref(), identity, now, |fresh| {
            if !fresh.is_active() {
                return Err(Error::IdentityDisabled);
            }
            let proved = fresh.verifiable_addresses.iter_mut().filter(|a| Some(&a.value) == record.address.as_ref());
            for address in proved.filter(|address| !address.verified) {
                address.mark_verified(now);
            }
            Ok(())
        })
        .await?;
        // Whoever else was signed in as this identity may be why it is being recovered.
        self.sessions.revoke_all(identity.id).await?;
        let method =
            AuthenticationMethod { method: CredentialType::Code, aal: AssuranceLevel::Aal1, completed_at: now };
        let session = self.sessions.issue(&identity, vec![method], submission.client).await?;
        self.flows.delete(id).await?;
        flow.state = "passed_challenge".into();
        flow.ui.nodes.retain(|node| node.name() == "csrf_token");
        flow.ui.messages = vec![UiText::new(
            1060001,
            "You successfully recovered your account. Please change your password or set up an alternative login \
             method (e.g. social sign in) within the next 15 minutes.",
            TextType::Success,
        )];
        Ok(Submitted::Done(Recovered { identity, session, flow }))
    }

    /// Issues a recovery code for `identity` without sending it, valid for `lifespan` (default: the code
    /// lifespan), in a new recovery flow of `flow_type` that waits for it.
    pub async fn issue_recovery_code(
        &self,
        identity: IdentityId,
        lifespan: Option<Duration>,
        flow_type: FlowType,
    ) -> Result<RecoveryCode, Error> {
        let lifespan = lifespan.unwrap_or(self.settings.code_lifespan);
        if !lifespan.is_positive() {
            return Err(Error::InvalidConfig { field: "expires_in", reason: "must be positive".into() });
        }
        let target = self.store.identity(identity).await?;
        if !target.is_active() {
            return Err(Error::IdentityDisabled);
        }
        // Checked here so that an absurd `expires_in` is the caller's error, not an internal one.
        self.clock
            .now()
            .checked_add(lifespan)
            .ok_or(Error::InvalidConfig { field: "expires_in", reason: "is too long".into() })?;
        let form = vec![
            UiNode::input(NodeGroup::Code, "code", "text").required().with_autocomplete("one-time-code"),
            UiNode::submit(NodeGroup::Code, "code", UiText::info(1070005, "Submit")),
        ];
        let request_url = format!("{}/self-service/recovery", self.settings.flows.public_url.trim_end_matches('/'));
        let request = FlowRequest::new(flow_type, &request_url);
        let start = FlowStart {
            state: "sent_email".into(),
            lifespan: Some(lifespan),
            identity_id: Some(identity),
            ..FlowStart::new(form)
        };
        let flow = self.flows.start(FlowKind::Recovery, &request, start).await?.flow;
        let code = self.store_code(CodePurpose::Recovery, identity, None, flow.id, flow.expires_at).await?;
        let link = self.flow_link(FlowKind::Recovery, flow.id);
        Ok(RecoveryCode { flow_id: flow.id, link, code, expires_at: flow.expires_at })
    }
}
