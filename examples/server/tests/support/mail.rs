//! A mail sink for tests that need the codes the courier sends: a minimal SMTP server on loopback that accepts
//! every message and hands its text to the test. It speaks just enough SMTP for lettre (no TLS, no AUTH).

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// An SMTP server on a free loopback port, keeping what it receives.
pub struct MailSink {
    /// Where it listens.
    pub port: u16,
    received: mpsc::UnboundedReceiver<String>,
}

impl MailSink {
    /// Starts listening; it stops when the runtime does.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (sender, received) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, sender.clone()));
            }
        });
        Self { port, received }
    }

    /// The courier's `connection_uri` for this sink.
    pub fn connection_uri(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The next message (headers and body), waiting up to 30 s for it.
    pub async fn next(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(30), self.received.recv())
            .await
            .expect("no message arrived within 30 s")
            .expect("the mail sink stopped")
    }

    /// The six-digit code in the body of the next message.
    pub async fn next_code(&mut self) -> String {
        let message = self.next().await;
        let body = message.split_once("\r\n\r\n").map_or(message.as_str(), |(_, body)| body);
        let code = body.split(|c: char| !c.is_ascii_digit()).find(|run| run.len() == 6);
        code.unwrap_or_else(|| panic!("no code in {message}")).to_owned()
    }
}

async fn session(stream: tokio::net::TcpStream, sender: mpsc::UnboundedSender<String>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
    while let Ok(Some(line)) = lines.next_line().await {
        let verb = line.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
        let answer: &[u8] = match verb.as_str() {
            "DATA" => {
                let _ = write.write_all(b"354 go on\r\n").await;
                let mut message = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line == "." {
                        break;
                    }
                    message.push_str(line.strip_prefix('.').unwrap_or(&line));
                    message.push_str("\r\n");
                }
                let _ = sender.send(message);
                b"250 kept\r\n"
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"250 ok\r\n",
        };
        if write.write_all(answer).await.is_err() {
            return;
        }
    }
}
