//! A TCP proxy a test puts between the server and its database, to make an outage without touching the
//! database itself (other tests use it at the same time): it forwards until cut, then drops every connection it
//! carries and turns new ones away, until restored.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

/// How a cut proxy turns connections away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// It keeps listening, and closes every connection as soon as it is accepted (a database that crashed
    /// behind a load balancer or a pooler).
    Reset,
    /// It stops listening, so connecting is refused (a database host whose database is down).
    Refuse,
}

/// The proxy.
pub struct Proxy {
    /// Where clients connect.
    pub address: SocketAddr,
    upstream: SocketAddr,
    /// `true` while forwarding; forwarding tasks end when it turns `false`.
    forwarding: watch::Sender<bool>,
    /// Connections forwarded since the start.
    pub forwarded: Arc<AtomicU64>,
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

impl Proxy {
    /// A proxy on a free loopback port, forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (forwarding, _) = watch::channel(true);
        let proxy = Self { address, upstream, forwarding, forwarded: Arc::default(), acceptor: Mutex::new(None) };
        *proxy.acceptor.lock().await = Some(proxy.accept(listener));
        proxy
    }

    fn accept(&self, listener: TcpListener) -> JoinHandle<()> {
        let (upstream, forwarding, forwarded) = (self.upstream, self.forwarding.clone(), self.forwarded.clone());
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { continue };
                if !*forwarding.borrow() {
                    // Closed before a byte is read: the client sees its connection end during the handshake.
                    drop(client);
                    continue;
                }
                forwarded.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(forward(client, upstream, forwarding.subscribe()));
            }
        })
    }

    /// Drops every connection it carries and turns new ones away as `outage` says.
    pub async fn cut(&self, outage: Outage) {
        self.forwarding.send_replace(false);
        if outage == Outage::Refuse
            && let Some(acceptor) = self.acceptor.lock().await.take()
        {
            acceptor.abort();
            // The listener is closed once the aborted task is dropped.
            let _ = acceptor.await;
        }
    }

    /// Forwards again (listening again on the same port if it stopped).
    pub async fn restore(&self) {
        self.forwarding.send_replace(true);
        let mut acceptor = self.acceptor.lock().await;
        if acceptor.is_none() {
            // tokio sets SO_REUSEADDR, so the port is free again although closed connections linger in TIME_WAIT.
            let listener = TcpListener::bind(self.address).await.unwrap();
            *acceptor = Some(self.accept(listener));
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.forwarding.send_replace(false);
        if let Ok(mut acceptor) = self.acceptor.try_lock()
            && let Some(acceptor) = acceptor.take()
        {
            acceptor.abort();
        }
    }
}

/// Copies bytes both ways until either side closes or the proxy is cut; then both sockets are dropped.
async fn forward(mut client: TcpStream, upstream: SocketAddr, mut forwarding: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = forwarding.wait_for(|forwarding| !*forwarding) => {}
    }
}
