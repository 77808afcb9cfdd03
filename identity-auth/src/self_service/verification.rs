//! Address verification by code: a six-digit code sent to a verifiable address; redeeming it marks the address
//! verified (status `completed`, `verified_at`).

use identity_core::{FlowId, Identity, VerifiableAddress};
use serde_json::Value;

use super::code_flow::{CodeFlow, Redeemed};
use super::{SelfService, Submission, Submitted, fields, nodes};
use crate::authenticator::update_identity;
use crate::error::Error;
use crate::flow::{CreatedFlow, Flow, FlowKind, FlowRequest, FlowStart};
use crate::ui::{TextType, UiText};

/// A finished verification.
#[derive(Debug)]
pub struct Verified {
    /// The identity, with the address verified.
    pub identity: Identity,
    /// The address verified.
    pub address: String,
    /// The flow, in state `passed_challenge`.
    pub flow: Flow,
}

impl SelfService {
    /// Starts a verification flow asking for an email address.
    pub async fn create_verification(&self, request: &FlowRequest) -> Result<CreatedFlow, Error> {
        self.flows.create(FlowKind::Verification, request, nodes::ask_address(), None, Value::Null).await
    }

    /// Submits verification flow `id` (method `code`): with `email`, sends a code if the address is verifiable
    /// (and says the same if it is not); with `code`, redeems it.
    pub async fn submit_verification(&self, id: FlowId, submission: Submission) -> Result<Submitted<Verified>, Error> {
        let loaded = self.load_for(id, FlowKind::Verification, &submission).await?;
        loaded.check_method(&submission.method, &["code"])?;
        let Some(code) = fields::text(&submission.fields, "code").filter(|_| loaded.flow.state == "sent_email") else {
            return self.request_code(CodeFlow::VERIFICATION, loaded, &submission).await;
        };
        let mut flow = loaded.flow.clone();
        let (record, identity) = match self.redeem_code(CodeFlow::VERIFICATION, loaded, code, &submission).await? {
            Redeemed::Code { code, identity } => (code, identity),
            Redeemed::Refused(shown) => return Ok(shown),
        };
        let address = record.address.unwrap_or_default();
        let now = self.clock.now();
        let identity = update_identity(self.store.as_ref(), identity, now, |fresh| {
            // The address may have been removed from the traits since the code was sent: then nothing is verified.
            let found = fresh.verifiable_addresses.iter_mut().find(|candidate| candidate.value == address);
            let found = found
                .ok_or_else(|| identity_store::Error::NotFound { what: "verifiable address", id: address.clone() })?;
            if !found.verified {
                found.mark_verified(now);
            }
            Ok(())
        })
        .await?;
        self.flows.delete(id).await?;
        flow.state = "passed_challenge".into();
        flow.ui.nodes.retain(|node| node.name() == "csrf_token");
        flow.ui.messages =
            vec![UiText::new(1080002, "You successfully verified your email address.", TextType::Success)];
        Ok(Submitted::Done(Verified { identity, address, flow }))
    }

    /// Starts a verification flow for `address` of `identity` and sends its code (after registration or a
    /// profile change); the flow waits for the code.
    pub(super) async fn send_verification(
        &self,
        identity: &Identity,
        address: &VerifiableAddress,
        request: &FlowRequest,
    ) -> Result<Flow, Error> {
        let start = FlowStart {
            state: "sent_email".into(),
            identity_id: Some(identity.id),
            ..FlowStart::new(nodes::ask_code(&address.value))
        };
        let flow = self.flows.start(FlowKind::Verification, request, start).await?.flow;
        let purpose = identity_store::CodePurpose::Verification;
        self.send_code(purpose, identity.id, &address.value, address.via, flow.id).await?;
        Ok(flow)
    }
}
