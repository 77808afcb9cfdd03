//! Registration with a password: traits checked by the default schema, the password by the policy, identifiers
//! and addresses derived, a verification code sent to each verifiable address, and a session when configured.

use identity_core::{
    AssuranceLevel, AuthenticationMethod, Credential, CredentialConfig, CredentialType, FlowId, Identity,
    PasswordConfig, SecretString, VerificationStatus,
};
use serde_json::{Map, Value};

use super::{SelfService, Submission, Submitted, fields, nodes, password_refusal, set_nodes, show_violations};
use crate::admin::apply_derived;
use crate::error::Error;
use crate::flow::{CreatedFlow, Flow, FlowKind, FlowRequest};
use crate::session::IssuedSession;
use crate::ui::{NodeGroup, UiNode, UiText};

/// A finished registration.
#[derive(Debug)]
pub struct Registered {
    /// The new identity.
    pub identity: Identity,
    /// Its first session, when registration signs in.
    pub session: Option<IssuedSession>,
    /// One verification flow per verifiable address, each waiting for the code just sent (Kratos'
    /// `continue_with: show_verification_ui`), with the address it verifies.
    pub verification_flows: Vec<(Flow, String)>,
}

impl SelfService {
    /// Starts a registration flow with the default schema's traits and a password.
    pub async fn create_registration(&self, request: &FlowRequest) -> Result<CreatedFlow, Error> {
        let nodes = nodes::registration(self.schemas.default_schema());
        self.flows.create(FlowKind::Registration, request, nodes, None, Value::Null).await
    }

    /// Submits registration flow `id` (method `password`, fields `traits` and `password`). Invalid traits, a
    /// refused password and a taken identifier come back as messages on the flow.
    pub async fn submit_registration(
        &self,
        id: FlowId,
        submission: Submission,
    ) -> Result<Submitted<Registered>, Error> {
        let mut loaded = self.load_for(id, FlowKind::Registration, &submission).await?;
        loaded.check_method(&submission.method, &["password"])?;
        let schema = self.schemas.default_schema();
        let traits = fields::traits(&submission.fields).unwrap_or_else(|| Value::Object(Map::new()));
        // The form comes back filled in with what was typed, never with the password.
        let mut form = nodes::trait_nodes(schema, Some(&traits), NodeGroup::Default);
        form.push(nodes::new_password(NodeGroup::Password));
        form.push(UiNode::submit(NodeGroup::Password, "password", UiText::info(1040001, "Sign up")));
        set_nodes(&mut loaded.flow, form);

        let derived = match schema.check(&traits) {
            Ok(derived) => Some(derived),
            Err(identity_schema::Error::InvalidTraits { violations, .. }) => {
                show_violations(&mut loaded.flow, &violations);
                None
            }
            Err(other) => return Err(other.into()),
        };
        let identifiers: Vec<String> = derived
            .as_ref()
            .map(|derived| derived.identifiers_for(CredentialType::Password).map(str::to_owned).collect())
            .unwrap_or_default();
        if derived.is_some() && identifiers.is_empty() {
            loaded.flow.ui.messages.push(UiText::error(
                4000001,
                "Could not find any login identifiers. Did you forget to set them? This could also be caused by a \
                 server misconfiguration.",
            ));
        }
        let password = match fields::text(&submission.fields, "password") {
            Some(password) => Some(SecretString::new(password)),
            None => {
                loaded.flow.ui.message_on("password", UiText::required("password"));
                None
            }
        };
        if let Some(password) = &password {
            let names: Vec<&str> = identifiers.iter().map(String::as_str).collect();
            let max = self.authenticator.hasher().max_password_bytes();
            if let Err(refused) = self.settings.password_policy.check(password, &names, max) {
                loaded.flow.ui.message_on("password", password_refusal(refused)?);
            }
        }
        let (Some(derived), Some(password)) = (derived, password) else { return self.show(loaded).await };
        if loaded.flow.has_errors() {
            return self.show(loaded).await;
        }

        let now = self.clock.now();
        let mut identity = Identity::new(schema.id(), traits, now)?;
        // Each verifiable address gets its code below, so it starts as `sent`.
        apply_derived(&mut identity, &derived, VerificationStatus::Sent, now)?;
        let hash = self.authenticator.hasher().hash_async(password).await?;
        let config = CredentialConfig::Password(PasswordConfig { hashed_password: Some(hash) });
        identity.credentials.insert(Credential::new(config, identifiers, now)?);
        // One submission of a flow registers: of concurrent ones, the others find the flow gone.
        let claim = format!("flow-done:{id}");
        let window = (loaded.flow.expires_at - now).max(identity_core::time::Duration::seconds(1));
        if !self.throttle.claim_once(&claim, window, now).await? {
            return Err(Error::FlowNotFound);
        }
        let created = self.store.create_identity(&identity).await;
        if created.is_err() {
            self.throttle.reset(&claim).await?;
        }
        match created {
            Ok(()) => {}
            Err(identity_store::Error::Conflict { field, .. }) if field != "identity id" => {
                loaded.flow.ui.messages.push(UiText::duplicate_identifier());
                return self.show(loaded).await;
            }
            Err(other) => return Err(other.into()),
        }
        self.flows.delete(id).await?;

        let request = FlowRequest::new(loaded.flow.flow_type, &loaded.flow.request_url);
        let mut verification_flows = Vec::with_capacity(identity.verifiable_addresses.len());
        for address in &identity.verifiable_addresses {
            // The account exists now: a code that could not be sent is asked for again through verification.
            if let Ok(flow) = self.send_verification(&identity, address, &request).await {
                verification_flows.push((flow, address.value.clone()));
            }
        }
        let session = if self.settings.session_after_registration {
            let method =
                AuthenticationMethod { method: CredentialType::Password, aal: AssuranceLevel::Aal1, completed_at: now };
            Some(self.sessions.issue(&identity, vec![method], submission.client).await?)
        } else {
            None
        };
        Ok(Submitted::Done(Registered { identity, session, verification_flows }))
    }
}
