//! How the mutual-TLS listener checks client certificates: rustls' WebPKI verifier against the trusted CAs,
//! except that a certificate whose only fault is that it expired is let through the handshake.
//!
//! Why: whether an expired certificate may still authenticate is the identity's authentication policy
//! (OpenZiti's `allowExpiredCerts`, for devices that cannot renew on time), which only identity-auth can apply
//! once it knows whose certificate it is; and a client refused at the handshake learns nothing, while one
//! refused by the API gets a JSON error that says the certificate expired. Everything that authenticates
//! somebody by the peer certificate (certificate login, `ottca` enrollment, OAuth2's `tls_client_auth`)
//! verifies it again through identity-auth, which refuses an expired one unless the holder's policy allows it.
//! A bound token's proof of possession (userinfo) compares only the thumbprint, as RFC 8705 asks, so a token
//! bound while its certificate was valid works with it until the token itself expires. A certificate of an
//! unknown CA, an expired intermediate or CA, or a bad signature still fails the handshake.

use std::sync::Arc;

use identity_auth::CertificateVerifier;
use identity_core::time::OffsetDateTime;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// The listener's client-certificate verifier (see the module documentation).
pub struct ClientVerifier {
    webpki: Arc<dyn ClientCertVerifier>,
    /// The same CAs as `webpki` trusts, for the second look at expired certificates.
    cas: CertificateVerifier,
}

impl std::fmt::Debug for ClientVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientVerifier").finish_non_exhaustive()
    }
}

impl ClientVerifier {
    /// Wraps `webpki`, built over the CAs `cas` trusts.
    pub fn new(webpki: Arc<dyn ClientCertVerifier>, cas: CertificateVerifier) -> Self {
        Self { webpki, cas }
    }

    /// Whether `end_entity` chains to a trusted CA through valid CAs and is merely expired itself.
    fn only_expired(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> bool {
        let Some(now) =
            i64::try_from(now.as_secs()).ok().and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
        else {
            return false;
        };
        let intermediates: Vec<Vec<u8>> = intermediates.iter().map(|der| der.to_vec()).collect();
        matches!(self.cas.verify_allowing_expired(end_entity, &intermediates, now), Ok((_, true)))
    }
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.webpki.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.webpki.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.webpki.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        match self.webpki.verify_client_cert(end_entity, intermediates, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::Expired | CertificateError::ExpiredContext { .. },
            )) if self.only_expired(end_entity, intermediates, now) => Ok(ClientCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
