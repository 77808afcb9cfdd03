//! Accepting and serving connections, for every listener: a cap on open connections, in all and per client
//! address, a deadline for each request's headers (which also closes idle keep-alive connections), and a shutdown that lets in-flight requests
//! finish.
//!
//! `axum::serve` has neither a connection cap nor a header deadline (it gives hyper no timer, and hyper's header
//! timeout needs one), so clients that open connections and trickle their headers, or send nothing at all, would
//! hold sockets forever until the process ran out of descriptors. Plain listeners speak HTTP/1.1 only: the
//! protocol sniffing of HTTP/2 prior knowledge would wait for a silent client's first bytes with no deadline
//! (and so would hyper-util's connections with upgrades, which no route needs). HTTP/2 is offered over TLS, by
//! ALPN.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tower::Layer as _;

/// What every connection of a listener is held to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The most connections open at once; past it the listener stops accepting (new clients wait in the
    /// kernel's backlog) until one closes.
    pub max_connections: u32,
    /// The most connections one client address may hold open at once (0: no limit); a connection past it is
    /// closed at once, so that one client cannot take every slot of `max_connections` from the others.
    pub max_connections_per_address: u32,
    /// How long a client may take to send a request's headers, counted from when the server starts waiting for
    /// them: a client that trickles them, or keeps an idle connection open, is cut off after this.
    pub header_timeout: Duration,
}

/// Which HTTP versions a connection may speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1 only.
    Http1,
    /// HTTP/2 only (negotiated by ALPN).
    Http2,
}

/// Accepts connections on `listener` until `stopped` turns true, at most `limits.max_connections` at once, and
/// hands each to `connection` with its peer address; the task ends when the last connection has finished.
pub fn accept<F, Fut>(
    listener: TcpListener,
    limits: Limits,
    mut stopped: watch::Receiver<bool>,
    connection: F,
) -> JoinHandle<std::io::Result<()>>
where
    F: Fn(TcpStream, SocketAddr) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections as usize));
    let per_address = PerAddress::new(limits.max_connections_per_address);
    tokio::spawn(async move {
        loop {
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => return Ok(()),
                },
                _ = stopping(&mut stopped) => break,
            };
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // A failed accept (a reset, or out of descriptors) concerns one connection, not the
                        // listener; pausing keeps a descriptor shortage from spinning the loop.
                        tracing::warn!(error = %error, "a connection could not be accepted");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = stopping(&mut stopped) => break,
            };
            let Some(held) = per_address.admit(peer.ip()) else {
                tracing::debug!(%peer, "a client address holds too many connections; one more was closed");
                continue;
            };
            let _ = stream.set_nodelay(true);
            let served = connection(stream, peer);
            tokio::spawn(async move {
                served.await;
                drop((held, slot));
            });
        }
        drop(listener);
        // Every open connection holds a slot: having them all back means the last one has finished.
        let _ = slots.acquire_many(limits.max_connections).await;
        Ok(())
    })
}

/// Returns once `stopped` turns true (or its sender is gone).
async fn stopping(stopped: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`: it must not live across the caller's next await.
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// Open connections per client address.
#[derive(Clone)]
struct PerAddress {
    limit: u32,
    open: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

/// One admitted connection; dropping it gives its address's place back.
struct Held {
    address: IpAddr,
    /// `None` when addresses are not limited.
    open: Option<Arc<Mutex<HashMap<IpAddr, u32>>>>,
}

impl PerAddress {
    fn new(limit: u32) -> Self {
        Self { limit, open: Arc::default() }
    }

    /// A place for one more connection from `address`, unless it already holds its limit.
    fn admit(&self, address: IpAddr) -> Option<Held> {
        if self.limit == 0 {
            return Some(Held { address, open: None });
        }
        // The map is only counted in and never left half-changed, so a poisoned lock still holds true counts.
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(address).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(Held { address, open: Some(self.open.clone()) })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(open) = &self.open else { return };
        let mut open = open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

/// Serves HTTP on one connection with `router` (told the peer's address as axum's [`ConnectInfo`]) until the
/// client closes it or a deadline of `limits` cuts it off; when `stopped` turns true, requests in flight are
/// answered first, then it closes.
pub async fn http<I>(
    io: I,
    peer: SocketAddr,
    router: Router,
    protocol: Protocol,
    limits: Limits,
    mut stopped: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(axum::Extension(ConnectInfo(peer)).layer(router));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    builder.http2().timer(TokioTimer::new());
    let builder = match protocol {
        Protocol::Http1 => builder.http1_only(),
        Protocol::Http2 => builder.http2_only(),
    };
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = stopping(&mut stopped) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        // Header timeouts, resets and malformed requests end here; they concern one client.
        tracing::debug!(%peer, error = %error, "a connection ended with an error");
    }
}

/// Serves `router` over plain HTTP/1.1 on `listener` until `stopped`.
pub fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    stopped: watch::Receiver<bool>,
) -> JoinHandle<std::io::Result<()>> {
    let connections = stopped.clone();
    accept(listener, limits, stopped, move |stream, peer| {
        http(stream, peer, router.clone(), Protocol::Http1, limits, connections.clone())
    })
}
