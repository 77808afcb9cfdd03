//! Sending messages to people: recovery and verification codes, rendered from plain-text templates and handed to
//! a [`Courier`]. The SMTP courier comes with the server; [`RecordingCourier`] keeps messages for tests.

use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use identity_core::time::Duration;
use identity_core::{AddressVia, SecretString};

use crate::error::Error;

/// What a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// A code that recovers an account.
    RecoveryCode,
    /// A code that verifies an address.
    VerificationCode,
}

/// A message ready to send. Its body holds a code, so it is secret: redacted in `Debug`, read with
/// [`SecretString::expose_secret`] by the courier that delivers it.
#[derive(Debug, Clone)]
pub struct Message {
    /// What it is for.
    pub kind: MessageKind,
    /// The recipient's address.
    pub to: String,
    /// Email or SMS.
    pub via: AddressVia,
    /// The subject line (emails).
    pub subject: String,
    /// The text, with the code in it.
    pub body: SecretString,
}

/// Delivers messages. Flows wait for [`send`](Courier::send), so it should hand the message to a queue and
/// return at once: a slow delivery would make known addresses answer more slowly than unknown ones.
#[async_trait]
pub trait Courier: Send + Sync {
    /// Sends `message`. An error means it was not delivered; flows still answer the user as if it were, so that
    /// addresses cannot be probed, and the caller may retry.
    async fn send(&self, message: Message) -> Result<(), Error>;
}

/// Plain-text templates per message kind. `{code}`, `{minutes}` (how long the code lasts) and `{link}` (where
/// to enter the code: the flow it belongs to) are replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Templates {
    /// Subject and body of recovery messages.
    pub recovery: (String, String),
    /// Subject and body of verification messages.
    pub verification: (String, String),
}

impl Default for Templates {
    fn default() -> Self {
        Self {
            recovery: (
                "Recover access to your account".into(),
                "Your recovery code is {code}. Enter it at {link} within {minutes} minutes. If you did not ask for \
                 it, ignore this message."
                    .into(),
            ),
            verification: (
                "Please verify your address".into(),
                "Your verification code is {code}. Enter it at {link} within {minutes} minutes.".into(),
            ),
        }
    }
}

impl Templates {
    /// The message of `kind` carrying `code` to `to`, valid for `lifetime`, to be entered at `link`.
    pub fn render(
        &self,
        kind: MessageKind,
        to: &str,
        via: AddressVia,
        code: &SecretString,
        lifetime: Duration,
        link: &str,
    ) -> Message {
        let (subject, body) = match kind {
            MessageKind::RecoveryCode => &self.recovery,
            MessageKind::VerificationCode => &self.verification,
        };
        // The code goes in last, so nothing in it is taken for a placeholder.
        let body = body
            .replace("{minutes}", &lifetime.whole_minutes().to_string())
            .replace("{link}", link)
            .replace("{code}", code.expose_secret());
        Message { kind, to: to.to_owned(), via, subject: subject.clone(), body: SecretString::new(body) }
    }
}

/// A courier that keeps what it is given, for tests and development.
#[derive(Debug, Default)]
pub struct RecordingCourier {
    sent: Mutex<Vec<Message>>,
}

impl RecordingCourier {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything sent so far, oldest first.
    pub fn sent(&self) -> Vec<Message> {
        self.sent.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

#[async_trait]
impl Courier for RecordingCourier {
    async fn send(&self, message: Message) -> Result<(), Error> {
        self.sent.lock().unwrap_or_else(PoisonError::into_inner).push(message);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn templates_fill_in_the_code_and_the_recorder_keeps_messages() {
        let templates = Templates::default();
        let code = SecretString::new("482913");
        let message = templates.render(
            MessageKind::RecoveryCode,
            "ada@example.com",
            AddressVia::Email,
            &code,
            Duration::hours(1),
            "https://id.example/self-service/recovery?flow=f1",
        );
        let body = message.body.expose_secret();
        assert!(body.contains("482913") && body.contains("60 minutes") && body.contains("?flow=f1"), "{body}");
        assert!(!format!("{message:?}").contains("482913"), "the code leaks through Debug");
        let courier = RecordingCourier::new();
        courier.send(message).await.unwrap();
        let sent = courier.sent();
        assert_eq!((sent.len(), sent[0].to.as_str(), sent[0].kind), (1, "ada@example.com", MessageKind::RecoveryCode));
    }

    #[test]
    fn custom_templates_are_used() {
        let templates =
            Templates { verification: ("Bitte bestätigen".into(), "Code: {code}".into()), ..Templates::default() };
        let message = templates.render(
            MessageKind::VerificationCode,
            "+4915112345678",
            AddressVia::Sms,
            &SecretString::new("123456"),
            Duration::minutes(10),
            "https://id.example/v",
        );
        assert_eq!((message.subject.as_str(), message.body.expose_secret()), ("Bitte bestätigen", "Code: 123456"));
    }
}
