//! The mutual-TLS listener (RFC 8705): the public API over TLS, asking every client for a certificate issued by
//! the configured CAs. rustls checks the chain during the handshake; the handlers get the leaf certificate as a
//! [`PeerCertificate`] extension, which the token endpoint hands to identity-oidc (`tls_client_auth`, bound
//! tokens) and the userinfo endpoint compares with a bound token's `cnf`.
//!
//! A client without a certificate still connects: the listener is then plain HTTPS, and certificate-bound
//! tokens are refused on it like anywhere else. Besides `client_ca_file`, the listener trusts the enrollment
//! CAs (see [`crate::certificates`]), and lets expired client certificates through to the API (see
//! [`crate::client_verifier`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::{Extension, Router};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::config::{ConfigError, MtlsListener};
use crate::listen::{Limits, Protocol};

/// How long a client may take to finish the TLS handshake before its connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The DER of the client certificate the connection presented, verified against the configured CAs by the
/// handshake; `None` when the client sent none.
#[derive(Debug, Clone, Default)]
pub struct PeerCertificate(pub Option<Vec<u8>>);

fn field(path: &str, message: String) -> ConfigError {
    ConfigError::Field { path: format!("serve.mtls.{path}"), message }
}

/// The TLS settings of `listener`: its certificate and key, and a client verifier trusting its CAs and
/// `also_trusted` (DER CA certificates: the enrollment CAs).
pub fn acceptor(listener: &MtlsListener, also_trusted: &[Vec<u8>]) -> Result<TlsAcceptor, ConfigError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&listener.certificate_file)
        .and_then(|certificates| certificates.collect::<Result<_, _>>())
        .map_err(|e| field("certificate_file", format!("{}: {e}", listener.certificate_file.display())))?;
    if chain.is_empty() {
        return Err(field("certificate_file", "holds no CERTIFICATE block".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&listener.key_file)
        .map_err(|e| field("key_file", format!("{}: {e}", listener.key_file.display())))?;
    let mut roots = rustls::RootCertStore::empty();
    let mut cas = CertificateDer::pem_file_iter(&listener.client_ca_file)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|e| field("client_ca_file", format!("{}: {e}", listener.client_ca_file.display())))?;
    if cas.is_empty() {
        return Err(field("client_ca_file", "holds no CA certificate".into()));
    }
    cas.extend(also_trusted.iter().map(|der| CertificateDer::from(der.clone())));
    for ca in &cas {
        roots.add(ca.clone()).map_err(|e| field("client_ca_file", format!("a CA certificate is unusable: {e}")))?;
    }
    let webpki = WebPkiClientVerifier::builder(Arc::new(roots))
        .allow_unauthenticated()
        .build()
        .map_err(|e| field("client_ca_file", e.to_string()))?;
    let ders: Vec<Vec<u8>> = cas.iter().map(|der| der.to_vec()).collect();
    let identity_cas =
        identity_auth::CertificateVerifier::from_der(&ders).map_err(|e| field("client_ca_file", e.to_string()))?;
    let verifier = Arc::new(crate::client_verifier::ClientVerifier::new(webpki, identity_cas));
    let mut config = rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| field("key_file", format!("does not fit the certificate: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts TLS connections on `listener` until `stopped` turns true, held to `limits`; each connection is served
/// by `router` with its peer certificate and address as extensions, over HTTP/2 when the client offers it by ALPN.
/// Connections in flight when it stops run to their end.
pub fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    router: Router,
    limits: Limits,
    stopped: watch::Receiver<bool>,
) -> JoinHandle<std::io::Result<()>> {
    let connections = stopped.clone();
    crate::listen::accept(listener, limits, stopped, move |stream, peer| {
        connection(stream, peer, acceptor.clone(), router.clone(), limits, connections.clone())
    })
}

async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    router: Router,
    limits: Limits,
    stopped: watch::Receiver<bool>,
) {
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(error)) => {
            tracing::info!(%peer, error = %error, "a TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, "a TLS handshake timed out");
            return;
        }
    };
    let session = tls.get_ref().1;
    let certificate = session.peer_certificates().and_then(|chain| chain.first()).map(|der| der.to_vec());
    let protocol = if session.alpn_protocol() == Some(b"h2") { Protocol::Http2 } else { Protocol::Http1 };
    let router = router.layer(Extension(PeerCertificate(certificate)));
    crate::listen::http(tls, peer, router, protocol, limits, stopped).await;
}
