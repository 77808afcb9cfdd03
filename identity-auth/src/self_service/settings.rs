//! Settings, for a signed-in identity with a privileged session: profile traits (re-validated, identifiers and
//! addresses re-derived), password (other sessions end), TOTP (enrolled with a first code; removed), and backup
//! codes (generated, confirmed, removed). Secrets (the TOTP URI, the backup codes) appear once, in the flow
//! returned by the submission that made them; they are never stored in the flow.

use identity_core::{
    AssuranceLevel, AuthenticationMethod, Credential, CredentialConfig, CredentialType, FlowId, Identity,
    LookupSecretConfig, SecretString, Session, TotpConfig, VerifiableAddress, VerificationStatus,
};
use serde_json::{Value, json};

use super::{SelfService, Submission, fields, nodes, password_refusal, set_nodes, show_violations};
use crate::admin::{apply_traits, password_identifiers, replace_password};
use crate::authenticator::update_identity;
use crate::error::Error;
use crate::flow::{CreatedFlow, Flow, FlowKind, FlowRequest, LoadedFlow};
use crate::session::has_second_factor;
use crate::ui::{NodeGroup, TextType, UiNode, UiText};

impl SelfService {
    /// Starts a settings flow for the identity of `session_token`. The session must have a second factor if the
    /// identity has one ([`Error::Aal2Required`]).
    pub async fn create_settings(&self, request: &FlowRequest, session_token: &str) -> Result<CreatedFlow, Error> {
        let (_, identity) = self.settings_session(Some(session_token), None).await?;
        let form = self.settings_form(&identity)?;
        self.flows.create(FlowKind::Settings, request, form, Some(identity.id), Value::Null).await
    }

    /// Submits settings flow `id` with the session that owns it. Methods: `profile` (`traits`), `password`
    /// (`password`), `totp` (nothing: show a new secret; `totp_code`: confirm it; `totp_unlink`: remove),
    /// `lookup_secret` (`lookup_secret_regenerate`, `lookup_secret_confirm`, `lookup_secret_disable`). Every
    /// method needs a privileged session ([`Error::ReauthenticationRequired`]). The flow comes back in state
    /// `success`, at its next step, or with messages.
    pub async fn submit_settings(&self, id: FlowId, submission: Submission) -> Result<Flow, Error> {
        let mut loaded = self.load_for(id, FlowKind::Settings, &submission).await?;
        let mut offered = vec!["profile", "password"];
        offered.extend(self.authenticator.totp().map(|_| "totp"));
        offered.extend(self.authenticator.lookup().map(|_| "lookup_secret"));
        loaded.check_method(&submission.method, &offered)?;
        let (session, identity) =
            self.settings_session(submission.session_token.as_deref(), loaded.identity_id).await?;
        self.sessions.require_privileged(&session)?;
        loaded.flow.state = "show_form".into();
        match submission.method.as_str() {
            "profile" => self.update_profile(loaded, identity, &submission).await,
            "password" => self.change_password(loaded, session, identity, &submission).await,
            "totp" => self.change_totp(loaded, session, identity, &submission).await,
            _ => self.change_lookup_secrets(loaded, session, identity, &submission).await,
        }
    }

    /// The session of a settings request, checked: owned by `identity` when given, and with a second factor if
    /// the identity has one.
    async fn settings_session(
        &self,
        token: Option<&str>,
        identity: Option<identity_core::IdentityId>,
    ) -> Result<(Session, Identity), Error> {
        let (session, owner) = self.session_of(token, identity).await?;
        if has_second_factor(&owner) && session.authenticator_assurance_level < AssuranceLevel::Aal2 {
            return Err(Error::Aal2Required);
        }
        Ok((session, owner))
    }

    /// The settings form for `identity` as it is now.
    fn settings_form(&self, identity: &Identity) -> Result<Vec<UiNode>, Error> {
        let save = || UiText::info(1070003, "Save");
        let mut form = nodes::trait_nodes(self.schema_of(identity)?, Some(&identity.traits), NodeGroup::Profile);
        form.push(UiNode::submit(NodeGroup::Profile, "profile", save()));
        form.push(nodes::new_password(NodeGroup::Password));
        form.push(UiNode::submit(NodeGroup::Password, "password", save()));
        if self.authenticator.totp().is_some() {
            if identity.has_credential(CredentialType::Totp) {
                let label = UiText::info(1050004, "Unlink TOTP Authenticator App");
                form.push(UiNode::flag_button(NodeGroup::Totp, "totp_unlink", label));
            } else {
                form.push(UiNode::input(NodeGroup::Totp, "totp_code", "text").with_autocomplete("one-time-code"));
                form.push(UiNode::submit(NodeGroup::Totp, "totp", save()));
            }
        }
        if self.authenticator.lookup().is_some() {
            let label = UiText::info(1050008, "Generate new backup recovery codes");
            form.push(UiNode::flag_button(NodeGroup::LookupSecret, "lookup_secret_regenerate", label));
            if identity.has_credential(CredentialType::LookupSecret) {
                let label = UiText::info(1050016, "Disable this method");
                form.push(UiNode::flag_button(NodeGroup::LookupSecret, "lookup_secret_disable", label));
            }
        }
        Ok(form)
    }

    /// Ends a successful submission: the fresh form, state `success`, "Your changes have been saved!".
    async fn saved(&self, mut loaded: LoadedFlow, identity: &Identity) -> Result<Flow, Error> {
        loaded.data = Value::Null;
        loaded.flow.state = "success".into();
        set_nodes(&mut loaded.flow, self.settings_form(identity)?);
        loaded.flow.ui.messages = vec![UiText::new(1050001, "Your changes have been saved!", TextType::Success)];
        self.flows.save(&loaded).await?;
        Ok(loaded.flow)
    }

    /// Saves the flow and returns it.
    async fn shown(&self, loaded: LoadedFlow) -> Result<Flow, Error> {
        self.flows.save(&loaded).await?;
        Ok(loaded.flow)
    }

    async fn update_profile(
        &self,
        mut loaded: LoadedFlow,
        identity: Identity,
        submission: &Submission,
    ) -> Result<Flow, Error> {
        let Some(traits) = fields::traits(&submission.fields) else {
            loaded.flow.ui.messages.push(UiText::required("traits"));
            return self.shown(loaded).await;
        };
        let schema = self.schema_of(&identity)?;
        let mut form = nodes::trait_nodes(schema, Some(&traits), NodeGroup::Profile);
        form.push(UiNode::submit(NodeGroup::Profile, "profile", UiText::info(1070003, "Save")));
        let derived = match schema.check(&traits) {
            Ok(derived) => derived,
            Err(identity_schema::Error::InvalidTraits { violations, .. }) => {
                set_nodes(&mut loaded.flow, form);
                show_violations(&mut loaded.flow, &violations);
                return self.shown(loaded).await;
            }
            Err(other) => return Err(other.into()),
        };
        let now = self.clock.now();
        let identifiers: Vec<String> = derived.identifiers_for(CredentialType::Password).map(str::to_owned).collect();
        if identifiers.is_empty() && identity.has_credential(CredentialType::Password) {
            // The password would answer to nothing: the identity could no longer sign in with it.
            set_nodes(&mut loaded.flow, form);
            loaded
                .flow
                .ui
                .messages
                .push(UiText::error(4000001, "These traits leave the password without a login identifier; keep one."));
            return self.shown(loaded).await;
        }
        let updated = update_identity(self.store.as_ref(), identity.id, now, |fresh| {
            apply_traits(fresh, &traits, &derived, VerificationStatus::Sent, now)
        })
        .await;
        let updated = match updated {
            Ok(updated) => updated,
            Err(Error::Store(identity_store::Error::Conflict { field, .. })) if field != "identity version" => {
                set_nodes(&mut loaded.flow, form);
                loaded.flow.ui.messages.push(UiText::duplicate_identifier());
                return self.shown(loaded).await;
            }
            Err(other) => return Err(other),
        };
        let request = FlowRequest::new(loaded.flow.flow_type, &loaded.flow.request_url);
        // Collected first: an iterator adapter held across an await would make this future not `Send`.
        let new: Vec<VerifiableAddress> = updated
            .verifiable_addresses
            .iter()
            .filter(|address| {
                !identity.verifiable_addresses.iter().any(|old| old.value == address.value && old.via == address.via)
            })
            .cloned()
            .collect();
        for address in &new {
            self.send_verification(&updated, address, &request).await?;
        }
        self.saved(loaded, &updated).await
    }

    async fn change_password(
        &self,
        mut loaded: LoadedFlow,
        session: Session,
        identity: Identity,
        submission: &Submission,
    ) -> Result<Flow, Error> {
        let Some(password) = fields::text(&submission.fields, "password").map(SecretString::new) else {
            loaded.flow.ui.message_on("password", UiText::required("password"));
            return self.shown(loaded).await;
        };
        let identifiers = password_identifiers(&identity, &self.schemas)?;
        let names: Vec<&str> = identifiers.iter().map(String::as_str).collect();
        let max = self.authenticator.hasher().max_password_bytes();
        if let Err(refused) = self.settings.password_policy.check(&password, &names, max) {
            loaded.flow.ui.message_on("password", password_refusal(refused)?);
            return self.shown(loaded).await;
        }
        let hash = self.authenticator.hasher().hash_async(password).await?;
        let now = self.clock.now();
        let updated = replace_password(self.store.as_ref(), identity.id, hash, identifiers, now).await?;
        // Whoever knew the old password is signed out everywhere but here.
        self.sessions.revoke_others(identity.id, session.id).await?;
        self.saved(loaded, &updated).await
    }

    async fn change_totp(
        &self,
        mut loaded: LoadedFlow,
        session: Session,
        identity: Identity,
        submission: &Submission,
    ) -> Result<Flow, Error> {
        let totp = self.authenticator.totp().ok_or(Error::MethodNotAllowed { method: "totp" })?;
        let now = self.clock.now();
        if fields::flag(&submission.fields, "totp_unlink") {
            return self.remove_second_factor(loaded, session, &identity, CredentialType::Totp).await;
        }
        if identity.has_credential(CredentialType::Totp) {
            loaded
                .flow
                .ui
                .messages
                .push(UiText::error(4000001, "An authenticator app is already set up; unlink it first."));
            return self.shown(loaded).await;
        }
        let Some(code) = fields::text(&submission.fields, "totp_code") else {
            // A new secret: kept sealed in the flow until a first code confirms it; shown once.
            let account = self.totp_account_name(&identity)?;
            let enrollment = totp.enroll(identity.id, &account)?;
            loaded.data = json!({ "pending_totp": enrollment.config });
            set_nodes(
                &mut loaded.flow,
                vec![
                    UiNode::input(NodeGroup::Totp, "totp_code", "text")
                        .required()
                        .with_autocomplete("one-time-code")
                        .with_label(UiText::info(1010006, "Authentication code")),
                    UiNode::submit(NodeGroup::Totp, "totp", UiText::info(1070003, "Save")),
                ],
            );
            let mut flow = self.shown(loaded).await?;
            let mut secret = UiText::info(1050006, enrollment.uri.expose_secret());
            secret.context = Some(json!({ "secret": enrollment.uri.expose_secret() }));
            flow.ui.nodes.insert(
                flow.ui.nodes.len().saturating_sub(2),
                UiNode::text(NodeGroup::Totp, "totp_secret_key", secret),
            );
            return Ok(flow);
        };
        let pending: Option<TotpConfig> =
            loaded.data.get("pending_totp").and_then(|pending| serde_json::from_value(pending.clone()).ok());
        let Some(mut config) = pending else {
            loaded.flow.ui.message_on(
                "totp_code",
                UiText::error(4000008, "The provided authentication code is invalid, please try again."),
            );
            return self.shown(loaded).await;
        };
        if totp.verify(identity.id, &mut config, code, now).is_err() {
            loaded.flow.ui.message_on(
                "totp_code",
                UiText::error(4000008, "The provided authentication code is invalid, please try again."),
            );
            return self.shown(loaded).await;
        }
        let account = self.totp_account_name(&identity)?;
        let updated = update_identity(self.store.as_ref(), identity.id, now, |fresh| {
            if fresh.has_credential(CredentialType::Totp) {
                return Err(Error::InvalidTotpSetup { reason: "an authenticator app was set up meanwhile".into() });
            }
            let credential = Credential::new(CredentialConfig::Totp(config.clone()), vec![account.clone()], now)?;
            fresh.credentials.insert(credential);
            Ok(())
        })
        .await?;
        // The first code proved the new factor: this session now has it.
        self.add_new_factor(session, CredentialType::Totp).await?;
        self.saved(loaded, &updated).await
    }

    async fn change_lookup_secrets(
        &self,
        mut loaded: LoadedFlow,
        session: Session,
        identity: Identity,
        submission: &Submission,
    ) -> Result<Flow, Error> {
        let lookup = self.authenticator.lookup().ok_or(Error::MethodNotAllowed { method: "lookup_secret" })?;
        let now = self.clock.now();
        if fields::flag(&submission.fields, "lookup_secret_disable") {
            return self.remove_second_factor(loaded, session, &identity, CredentialType::LookupSecret).await;
        }
        if fields::flag(&submission.fields, "lookup_secret_confirm") {
            let pending: Option<LookupSecretConfig> =
                loaded.data.get("pending_lookup").and_then(|pending| serde_json::from_value(pending.clone()).ok());
            let Some(config) = pending else {
                loaded.flow.ui.messages.push(UiText::error(4000014, "Generate backup recovery codes first."));
                return self.shown(loaded).await;
            };
            let updated = update_identity(self.store.as_ref(), identity.id, now, |fresh| {
                let credential = Credential::new(CredentialConfig::LookupSecret(config.clone()), Vec::new(), now)?;
                fresh.credentials.insert(credential);
                Ok(())
            })
            .await?;
            self.add_new_factor(session, CredentialType::LookupSecret).await?;
            return self.saved(loaded, &updated).await;
        }
        if !fields::flag(&submission.fields, "lookup_secret_regenerate") {
            loaded.flow.ui.messages.push(UiText::required("lookup_secret_regenerate"));
            return self.shown(loaded).await;
        }
        // New codes: only their hashes wait in the flow for confirmation; the codes are shown once.
        let (codes, config) = lookup.generate(identity.id)?;
        loaded.data = json!({ "pending_lookup": config });
        let confirm = UiText::info(1050011, "Confirm backup recovery codes");
        set_nodes(
            &mut loaded.flow,
            vec![UiNode::flag_button(NodeGroup::LookupSecret, "lookup_secret_confirm", confirm)],
        );
        let mut flow = self.shown(loaded).await?;
        let codes: Vec<&str> = codes.iter().map(SecretString::expose_secret).collect();
        let mut text = UiText::info(1050015, codes.join(", "));
        text.context = Some(json!({ "secrets": codes }));
        flow.ui.nodes.insert(
            flow.ui.nodes.len().saturating_sub(1),
            UiNode::text(NodeGroup::LookupSecret, "lookup_secret_codes", text),
        );
        Ok(flow)
    }

    /// Removes the second factor `kind` from `identity` and ends its other sessions, which may have relied on it.
    async fn remove_second_factor(
        &self,
        loaded: LoadedFlow,
        session: Session,
        identity: &Identity,
        kind: CredentialType,
    ) -> Result<Flow, Error> {
        if !identity.has_credential(kind) {
            let mut loaded = loaded;
            loaded
                .flow
                .ui
                .messages
                .push(UiText::error(4000001, "This method is not set up, so there is nothing to remove."));
            return self.shown(loaded).await;
        }
        let updated = update_identity(self.store.as_ref(), identity.id, self.clock.now(), |fresh| {
            fresh.credentials.remove(kind);
            Ok(())
        })
        .await?;
        self.sessions.revoke_others(identity.id, session.id).await?;
        self.saved(loaded, &updated).await
    }

    /// Records on `session` the second factor `kind` its identity just set up: a privileged session created it,
    /// so requiring it again at once would lock the user out of their own session.
    async fn add_new_factor(&self, session: Session, kind: CredentialType) -> Result<(), Error> {
        let method = AuthenticationMethod { method: kind, aal: AssuranceLevel::Aal2, completed_at: self.clock.now() };
        self.sessions.add_method(session, method).await?;
        Ok(())
    }

    /// The account name an authenticator app shows: the schema's `totp.account_name` trait, else the first
    /// password identifier, else the identity's id.
    fn totp_account_name(&self, identity: &Identity) -> Result<String, Error> {
        let derived = self.schema_of(identity)?.derive(&identity.traits);
        let name = derived
            .totp_account_name()
            .map(str::to_owned)
            .or_else(|| derived.identifiers_for(CredentialType::Password).next().map(str::to_owned))
            .unwrap_or_else(|| identity.id.to_string());
        Ok(name)
    }
}
