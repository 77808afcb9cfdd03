//! The certificate side of the server, assembled from the `enrollment` section (and `serve.mtls`): the platform
//! CA that signs `ott` enrollees' CSRs, the third-party CAs that `ottca` enrollments name, the [`Enrollments`]
//! over them, the authenticator behind certificate login, and the CAs the mutual-TLS listener trusts besides
//! its `client_ca_file`.

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use identity_auth::{Authenticator, CertificateVerifier, EnrollmentSettings, Enrollments, PasswordHasher, PlatformCa};
use identity_core::{CaId, Clock, SecretBytes, SecretString};
use identity_store::Store;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use crate::config::{Config, ConfigError};
use crate::state::StartError;

/// What [`Certificates::new`] is assembled from besides the configuration.
pub struct Parts {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Hashes `updb` enrollees' passwords.
    pub hasher: Arc<PasswordHasher>,
    /// Signs enrollment JWTs (at least 32 bytes, the same on every replica).
    pub signing_key: SecretBytes,
    /// The public base URL: the `iss` of enrollment JWTs.
    pub public_url: String,
}

/// Enrollments and certificate login, as configured.
pub struct Certificates {
    /// Issues and completes enrollments.
    pub enrollments: Arc<Enrollments>,
    /// Authenticates identities by a client certificate of any CA the mutual-TLS listener trusts; `None` without
    /// that listener. Kept apart from the authenticator behind OAuth2's `tls_client_auth`, which trusts only
    /// `serve.mtls.client_ca_file`: trusting the enrollment CAs there too would let a third-party CA mint
    /// certificates for the service names that clients are registered by.
    pub login: Option<Authenticator>,
    /// The platform CA's certificate (DER), handed to `ott` enrollees with theirs; `None` if not configured.
    pub platform_ca: Option<Vec<u8>>,
    /// The configured third-party CAs.
    pub third_party_cas: Vec<CaId>,
    /// Every enrollment CA's certificate (DER), platform and third-party: the listener must accept what they
    /// issued, or no enrolled certificate could reach the server.
    pub listener_cas: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificates")
            .field("platform_ca", &self.platform_ca.is_some())
            .field("third_party_cas", &self.third_party_cas)
            .finish_non_exhaustive()
    }
}

fn field(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Field { path: path.into(), message: message.into() }
}

/// The text of the file at `file`, configured at `path`.
fn read(file: &Path, path: &str) -> Result<String, ConfigError> {
    std::fs::read_to_string(file).map_err(|e| field(path, format!("{}: {e}", file.display())))
}

/// The DER of every certificate in `pem`, configured at `path`; at least one.
fn certificates(pem: &str, path: &str) -> Result<Vec<Vec<u8>>, ConfigError> {
    let ders = CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|certificate| certificate.map(|der| der.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| field(path, e.to_string()))?;
    if ders.is_empty() {
        return Err(field(path, "holds no CERTIFICATE block"));
    }
    Ok(ders)
}

impl Certificates {
    /// Loads the CAs `config` names and assembles enrollments and certificate login over `parts`.
    pub fn new(config: &Config, parts: Parts) -> Result<Self, StartError> {
        let section = &config.enrollment;
        let lifetime = section.lifespan.parse().map_err(|message| field("enrollment.lifespan", message))?;
        let settings = EnrollmentSettings { lifetime, issuer: parts.public_url.clone() };
        let mut enrollments = Enrollments::new(
            parts.store.clone(),
            parts.clock.clone(),
            parts.hasher.clone(),
            &parts.signing_key,
            settings,
        )?;
        let mut listener_cas = Vec::new();
        let mut platform_ca = None;
        if let Some(ca) = &section.ca {
            let pem = read(&ca.certificate_file, "enrollment.ca.certificate_file")?;
            let key = SecretString::new(read(&ca.key_file, "enrollment.ca.key_file")?);
            let validity = ca.validity.parse().map_err(|message| field("enrollment.ca.validity", message))?;
            let issuer =
                PlatformCa::from_pem(&pem, &key, validity).map_err(|e| field("enrollment.ca", e.to_string()))?;
            enrollments = enrollments.with_platform_ca(issuer);
            let ders = certificates(&pem, "enrollment.ca.certificate_file")?;
            platform_ca = ders.first().cloned();
            listener_cas.extend(ders);
        }
        let mut third_party_cas = Vec::new();
        for (index, ca) in section.third_party_cas.iter().enumerate() {
            let path = format!("enrollment.third_party_cas[{index}].certificate_file");
            let pem = read(&ca.certificate_file, &path)?;
            let verifier = CertificateVerifier::from_pem(&pem).map_err(|e| field(path.as_str(), e.to_string()))?;
            enrollments = enrollments.with_third_party_ca(ca.id, verifier);
            listener_cas.extend(certificates(&pem, &path)?);
            third_party_cas.push(ca.id);
        }
        let login = match &config.serve.mtls {
            Some(mtls) => {
                let path = "serve.mtls.client_ca_file";
                let mut trusted = certificates(&read(&mtls.client_ca_file, path)?, path)?;
                trusted.extend(listener_cas.iter().cloned());
                let verifier = CertificateVerifier::from_der(&trusted).map_err(|e| field(path, e.to_string()))?;
                Some(Authenticator::new(parts.store, parts.clock, parts.hasher).with_certificates(verifier))
            }
            None => None,
        };
        Ok(Self { enrollments: Arc::new(enrollments), login, platform_ca, third_party_cas, listener_cas })
    }
}

/// `der` as a PEM `CERTIFICATE` block.
pub fn pem(der: &[u8]) -> String {
    let base64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut text = String::from("-----BEGIN CERTIFICATE-----\n");
    // The encoding is ASCII, so every 64-byte chunk is a whole line of text.
    for line in base64.as_bytes().chunks(64) {
        text.push_str(&String::from_utf8_lossy(line));
        text.push('\n');
    }
    text.push_str("-----END CERTIFICATE-----\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_read_back_as_the_same_certificate() {
        let der: Vec<u8> = (0..=255).cycle().take(1000).collect();
        let text = pem(&der);
        assert!(text.lines().all(|line| line.len() <= 64));
        assert_eq!(certificates(&text, "x").unwrap(), vec![der]);
        assert!(certificates("no pem here", "x").is_err());
    }
}
