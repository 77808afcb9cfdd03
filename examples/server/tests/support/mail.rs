//! An SMTP sink on loopback for tests that need the codes the server mails: it speaks just enough SMTP for the
//! server's courier (no TLS, no authentication) and hands every message over in arrival order.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A message as received: its recipients and its raw text (headers and body).
#[derive(Debug, Clone)]
pub struct Mail {
    /// `RCPT TO` addresses, without angle brackets.
    pub to: Vec<String>,
    /// The message as sent after `DATA`, without the final dot.
    pub text: String,
}

impl Mail {
    /// The six-digit code in the message's body, whatever transfer encoding the courier chose.
    pub fn code(&self) -> Option<String> {
        let (headers, body) = self.text.split_once("\r\n\r\n")?;
        let body = if headers.to_ascii_lowercase().contains("content-transfer-encoding: base64") {
            let compact: String = body.split_whitespace().collect();
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(compact).ok()?).ok()?
        } else {
            // Quoted-printable soft line breaks could split the code.
            body.replace("=\r\n", "")
        };
        let after = body.split_once("code is ")?.1;
        let code: String = after.chars().take_while(char::is_ascii_digit).collect();
        (code.len() == 6).then_some(code)
    }
}

/// The sink.
pub struct MailSink {
    /// The port it listens on (`smtp://127.0.0.1:<port>`).
    pub port: u16,
    received: mpsc::UnboundedReceiver<Mail>,
    refusals: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl MailSink {
    /// A sink on a free loopback port.
    pub async fn start() -> Self {
        Self::on(TcpListener::bind("127.0.0.1:0").await.unwrap(), None)
    }

    /// A sink on `listener` that answers every recipient `refuse` with `451` (try again later).
    pub fn on(listener: TcpListener, refuse: Option<&'static str>) -> Self {
        let port = listener.local_addr().unwrap().port();
        let (sender, received) = mpsc::unbounded_channel();
        let refusals = Arc::new(AtomicUsize::new(0));
        let counted = refusals.clone();
        let task = tokio::spawn(async move {
            while let Ok((connection, _)) = listener.accept().await {
                tokio::spawn(session(connection, sender.clone(), refuse, counted.clone()));
            }
        });
        Self { port, received, refusals, task }
    }

    /// How many times a recipient was refused.
    pub fn refusals(&self) -> usize {
        self.refusals.load(Ordering::SeqCst)
    }

    /// The courier URI that reaches it.
    pub fn uri(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The next message, whoever it is to; panics after 30 s.
    pub async fn next(&mut self) -> Mail {
        tokio::time::timeout(Duration::from_secs(30), self.received.recv())
            .await
            .unwrap_or_else(|_| panic!("no mail came"))
            .expect("the sink stopped")
    }

    /// The code of the next message, whoever it is to; panics after 30 s or if it holds none.
    pub async fn next_code(&mut self) -> String {
        let mail = self.next().await;
        mail.code().unwrap_or_else(|| panic!("no code in {}", mail.text))
    }

    /// The code of the next message to `to` (messages to others are skipped); panics after 30 s.
    pub async fn code_for(&mut self, to: &str) -> String {
        let wait = async {
            loop {
                let mail = self.received.recv().await.expect("the sink stopped");
                if mail.to.iter().any(|address| address.eq_ignore_ascii_case(to)) {
                    return mail.code().unwrap_or_else(|| panic!("no code in {}", mail.text));
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(30), wait).await.unwrap_or_else(|_| panic!("no mail to {to}"))
    }
}

impl Drop for MailSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn session(
    connection: TcpStream,
    sender: mpsc::UnboundedSender<Mail>,
    refuse: Option<&'static str>,
    refusals: Arc<AtomicUsize>,
) {
    let (read, mut write) = connection.into_split();
    let mut lines = BufReader::new(read).lines();
    if write.write_all(b"220 sink ESMTP\r\n").await.is_err() {
        return;
    }
    let mut to = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        let verb = line.split([' ', ':']).next().unwrap_or_default().to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250 sink\r\n",
            "MAIL" | "RSET" | "NOOP" => {
                if verb == "RSET" {
                    to.clear();
                }
                b"250 OK\r\n"
            }
            "RCPT" => {
                let address = line.split_once(':').map(|(_, a)| a.trim().trim_matches(['<', '>'])).unwrap_or_default();
                if refuse.is_some_and(|refused| refused.eq_ignore_ascii_case(address)) {
                    refusals.fetch_add(1, Ordering::SeqCst);
                    b"451 try again later\r\n"
                } else {
                    to.push(address.to_owned());
                    b"250 OK\r\n"
                }
            }
            "DATA" => {
                if write.write_all(b"354 end with .\r\n").await.is_err() {
                    return;
                }
                let mut text = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line == "." {
                        break;
                    }
                    // Dot-stuffing (RFC 5321 §4.5.2).
                    text.push_str(line.strip_prefix('.').filter(|_| line.starts_with("..")).unwrap_or(&line));
                    text.push_str("\r\n");
                }
                let _ = sender.send(Mail { to: std::mem::take(&mut to), text });
                b"250 OK\r\n"
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"502 not implemented\r\n",
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}
