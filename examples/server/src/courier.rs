//! Couriers: SMTP through `lettre` (rustls; `smtp://` plain, `smtp://...?tls=required` STARTTLS, `smtps://`
//! implicit TLS; credentials from the URI) and a log courier for development. Sending only queues the message:
//! delivery happens in the background with a few retries, and its failures are logged (never the body, which
//! holds the code), so the user's request neither waits nor fails, and known and unknown addresses answer alike.
//!
//! Delivery, as it stands:
//! - each message is tried [`ATTEMPTS`] times, waiting 2 s, 4 s, 8 s between tries (about 14 s in all, plus the
//!   10 s connection timeout of each try); a permanent refusal (SMTP 5xx) is not retried;
//! - after the last try the message is dropped, with an error in the log naming the recipient;
//! - messages are delivered side by side (up to [`IN_PARALLEL`] at once), so one that keeps failing does not hold
//!   up the ones behind it;
//! - the queue lives in memory: messages still waiting when the process stops are lost.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use identity_auth::{Courier, Message};
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::{Semaphore, mpsc};

/// How many messages may wait for delivery; past that, new ones are dropped (and logged).
const QUEUE: usize = 1024;
/// Delivery attempts per message.
pub const ATTEMPTS: u32 = 4;
/// Messages being delivered (or waiting between attempts) at once; more wait in the queue.
pub const IN_PARALLEL: usize = 16;

/// Delivers messages over SMTP.
#[derive(Debug, Clone)]
pub struct SmtpCourier {
    queue: mpsc::Sender<Message>,
}

impl SmtpCourier {
    /// A courier sending through `connection_uri` as `from`, delivering in a background task.
    pub fn start(connection_uri: &str, from: &str) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(connection_uri)
            .map_err(|e| format!("courier.smtp.connection_uri: {e}"))?
            .timeout(Some(Duration::from_secs(10)))
            .build();
        let from: Mailbox = from.parse().map_err(|e| format!("courier.smtp.from_address: {e}"))?;
        let (queue, waiting) = mpsc::channel(QUEUE);
        tokio::spawn(deliver(transport, from, waiting));
        Ok(Self { queue })
    }
}

#[async_trait]
impl Courier for SmtpCourier {
    async fn send(&self, message: Message) -> Result<(), identity_auth::Error> {
        if let Err(error) = self.queue.try_send(message) {
            tracing::warn!(reason = %error, "the courier queue is full or closed; a message was dropped");
        }
        Ok(())
    }
}

async fn deliver(transport: AsyncSmtpTransport<Tokio1Executor>, from: Mailbox, mut waiting: mpsc::Receiver<Message>) {
    let slots = Arc::new(Semaphore::new(IN_PARALLEL));
    while let Some(message) = waiting.recv().await {
        let email = match build(&from, &message) {
            Ok(email) => email,
            Err(error) => {
                tracing::warn!(to = %message.to, error = %error, "a message could not be built; dropped");
                continue;
            }
        };
        // The semaphore is never closed, so waiting for a slot only fails if it were.
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let transport = transport.clone();
        // Each message retries in its own task: one that keeps failing waits out its backoff without holding up
        // the messages queued behind it.
        tokio::spawn(async move {
            let _slot = slot;
            deliver_one(&transport, &message, email).await;
        });
    }
}

async fn deliver_one(transport: &AsyncSmtpTransport<Tokio1Executor>, message: &Message, email: lettre::Message) {
    for attempt in 1..=ATTEMPTS {
        match transport.send(email.clone()).await {
            Ok(_) => {
                tracing::info!(to = %message.to, kind = ?message.kind, attempt, "message delivered");
                return;
            }
            Err(error) if error.is_permanent() => {
                tracing::error!(to = %message.to, attempt, error = %error, "delivery refused; dropped");
                return;
            }
            Err(error) if attempt < ATTEMPTS => {
                tracing::warn!(to = %message.to, attempt, error = %error, "delivery failed; retrying");
                tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
            }
            Err(error) => {
                tracing::error!(to = %message.to, attempt, error = %error, "delivery failed; giving up, dropped")
            }
        }
    }
}

fn build(from: &Mailbox, message: &Message) -> Result<lettre::Message, String> {
    let to: Mailbox = message.to.parse().map_err(|e| format!("recipient: {e}"))?;
    lettre::Message::builder()
        .from(from.clone())
        .to(to)
        .subject(message.subject.clone())
        .body(message.body.expose_secret().to_owned())
        .map_err(|e| e.to_string())
}

/// A courier for development: logs that a message went out, never its body.
#[derive(Debug, Default)]
pub struct LogCourier;

#[async_trait]
impl Courier for LogCourier {
    async fn send(&self, message: Message) -> Result<(), identity_auth::Error> {
        tracing::info!(to = %message.to, kind = ?message.kind, subject = %message.subject, "message sent (log courier)");
        Ok(())
    }
}
