//! What recovery and verification share: asking for an address, sending a six-digit code to it when it belongs
//! to someone (and answering the same when it does not), and redeeming the code at most once, within its
//! lifespan and within the flow's limit of tries.

use identity_core::{Identity, IdentityId};
use identity_store::{AddressKind, CodePurpose, OneTimeCode, normalize_address};

use super::{SelfService, Submission, Submitted, fields, nodes, set_nodes};
use crate::error::Error;
use crate::flow::{FlowKind, LoadedFlow};
use crate::throttle::RateLimit;
use crate::ui::UiText;

/// Which code flow: recovery or verification.
#[derive(Debug, Clone, Copy)]
pub(super) struct CodeFlow {
    pub(super) kind: FlowKind,
    pub(super) purpose: CodePurpose,
    pub(super) addresses: AddressKind,
}

impl CodeFlow {
    pub(super) const RECOVERY: Self =
        Self { kind: FlowKind::Recovery, purpose: CodePurpose::Recovery, addresses: AddressKind::Recovery };
    pub(super) const VERIFICATION: Self =
        Self { kind: FlowKind::Verification, purpose: CodePurpose::Verification, addresses: AddressKind::Verifiable };

    /// The message saying a code was sent (whether or not the address is known).
    fn sent(self) -> UiText {
        match self.kind {
            FlowKind::Recovery => UiText::info(
                1060003,
                "An email containing a recovery code has been sent to the email address you provided. If you have \
                 not received an email, check the spelling of the address and make sure to use the address you \
                 registered with.",
            ),
            _ => UiText::info(
                1080003,
                "An email containing a verification code has been sent to the email address you provided. If you \
                 have not received an email, check the spelling of the address and make sure to use the address you \
                 registered with.",
            ),
        }
    }

    fn invalid(self) -> UiText {
        match self.kind {
            FlowKind::Recovery => {
                UiText::error(4060006, "The recovery code is invalid or has already been used. Please try again.")
            }
            _ => UiText::error(4070006, "The verification code is invalid or has already been used. Please try again."),
        }
    }

    fn too_many_tries(self) -> UiText {
        let id = if matches!(self.kind, FlowKind::Recovery) { 4060006 } else { 4070006 };
        UiText::error(id, "The code was submitted too often. Please request a new code.")
    }
}

/// The outcome of redeeming a code: the code's record, or the flow to show with a message.
pub(super) enum Redeemed<T> {
    Code { code: OneTimeCode, identity: IdentityId },
    Refused(Submitted<T>),
}

impl SelfService {
    /// Handles a code flow's submission that is not a code: the address to send one to.
    pub(super) async fn request_code<T>(
        &self,
        which: CodeFlow,
        mut loaded: LoadedFlow,
        submission: &Submission,
    ) -> Result<Submitted<T>, Error> {
        let Some(address) = fields::text(&submission.fields, "email") else {
            loaded.flow.ui.message_on("email", UiText::required("email"));
            return self.show(loaded).await;
        };
        let normalized = normalize_address(address);
        // Sends are limited per flow and per address, known or not (so the limit tells nothing): codes cannot
        // be piled up to guess one, nor an inbox flooded.
        let now = self.clock.now();
        let flow_key = format!("code-sent:flow:{}", loaded.flow.id);
        self.throttle.count_attempt(&flow_key, Some(self.per_flow(&loaded.flow)), now).await?;
        let address_key = format!("code-sent:{}:{normalized}", which.purpose.as_str());
        self.throttle.count_attempt(&address_key, Some(RateLimit::default()), now).await?;
        let owner = self.store.find_identity_by_address(which.addresses, &normalized).await?;
        let owner = owner.filter(Identity::is_active);
        match owner.as_ref().and_then(|identity| Some((identity.id, via_of(identity, which.addresses, &normalized)?))) {
            Some((identity, via)) => self.send_code(which.purpose, identity, &normalized, via, loaded.flow.id).await?,
            None => {
                // About the same store work as storing a code, so the answer takes about as long.
                let decoy = self.code_hash(loaded.flow.id, &normalized);
                self.store.consume_code(which.purpose, &decoy, now).await?;
            }
        }
        // Known or not, the answer is the same, so addresses cannot be probed.
        loaded.flow.state = "sent_email".into();
        set_nodes(&mut loaded.flow, nodes::ask_code(&normalized));
        loaded.flow.ui.messages.push(which.sent());
        self.show(loaded).await
    }

    /// Redeems `code` in a code flow: at most `code_max_submissions` tries per flow, counted before the code is
    /// looked at; a wrong, used or lapsed code is a message on the flow.
    pub(super) async fn redeem_code<T>(
        &self,
        which: CodeFlow,
        mut loaded: LoadedFlow,
        code: &str,
        submission: &Submission,
    ) -> Result<Redeemed<T>, Error> {
        let now = self.clock.now();
        let client = submission.client.ip_address;
        self.throttle.check_address(client, now).await?;
        if self.code_tries_exhausted(&loaded.flow).await? {
            loaded.flow.ui.message_on("code", which.too_many_tries());
            return Ok(Redeemed::Refused(self.show(loaded).await?));
        }
        let hash = self.code_hash(loaded.flow.id, code);
        let consumed = self.store.consume_code(which.purpose, &hash, now).await?;
        match consumed {
            Some(record) if record.flow_id == Some(loaded.flow.id) => match record.identity_id {
                Some(identity) => Ok(Redeemed::Code { identity, code: record }),
                None => Err(Error::Internal { reason: "a code without its identity".into() }),
            },
            _ => {
                self.throttle.address_failed(client, now).await?;
                loaded.flow.ui.message_on("code", which.invalid());
                Ok(Redeemed::Refused(self.show(loaded).await?))
            }
        }
    }
}

/// The channel of `identity`'s address `value` of kind `which`.
fn via_of(identity: &Identity, which: AddressKind, value: &str) -> Option<identity_core::AddressVia> {
    match which {
        AddressKind::Recovery => {
            identity.recovery_addresses.iter().find(|address| address.value == value).map(|address| address.via)
        }
        AddressKind::Verifiable => {
            identity.verifiable_addresses.iter().find(|address| address.value == value).map(|address| address.via)
        }
    }
}
