//! The platform's own certificate authority: it turns an `ott` enrollee's certificate signing request into a
//! client certificate, as OpenZiti's controller does, and trusts what it issued.

use identity_core::SecretString;
use identity_core::time::{Duration, OffsetDateTime};
use rcgen::{
    CertificateSigningRequestParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber,
};

use crate::certificate::CertificateVerifier;
use crate::error::Error;

/// A CA certificate and its private key, used to sign enrollees' CSRs.
pub struct PlatformCa {
    issuer: Issuer<'static, KeyPair>,
    verifier: CertificateVerifier,
    validity: Duration,
    /// When the CA's own certificate expires: nothing it issues may outlive it.
    not_after: OffsetDateTime,
}

impl std::fmt::Debug for PlatformCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformCa").field("validity", &self.validity).finish_non_exhaustive()
    }
}

impl PlatformCa {
    /// The CA whose certificate is `certificate_pem` and private key `key_pem` (PKCS#8 PEM); the certificates it
    /// issues are valid for `validity` (positive).
    pub fn from_pem(certificate_pem: &str, key_pem: &SecretString, validity: Duration) -> Result<Self, Error> {
        let config = |reason: String| Error::InvalidConfig { field: "platform_ca", reason };
        if !validity.is_positive() {
            return Err(config("the validity of issued certificates must be positive".into()));
        }
        let key = KeyPair::from_pem(key_pem.expose_secret()).map_err(|e| config(format!("the key: {e}")))?;
        let issuer =
            Issuer::from_ca_cert_pem(certificate_pem, key).map_err(|e| config(format!("the certificate: {e}")))?;
        // The verifier checks that the certificate is a CA, so a leaf configured by mistake is refused here.
        let verifier = CertificateVerifier::from_pem(certificate_pem)?;
        let (_, pem) = x509_parser::pem::parse_x509_pem(certificate_pem.as_bytes())
            .map_err(|e| config(format!("the certificate: {e}")))?;
        let certificate = pem.parse_x509().map_err(|e| config(format!("the certificate: {e}")))?;
        let not_after = certificate.validity().not_after.to_datetime();
        Ok(Self { issuer, verifier, validity, not_after })
    }

    /// A verifier trusting this CA: what authenticates the certificates it issued.
    pub fn verifier(&self) -> &CertificateVerifier {
        &self.verifier
    }

    /// Signs `csr` (PEM or DER; its signature must verify) into a client certificate for `common_name`, valid from
    /// `now` for the configured validity. Only the CSR's public key is used: the subject, usages and lifetime
    /// are the platform's choice, so an enrollee cannot ask for a CA certificate or another identity's name.
    pub fn issue(&self, csr: &[u8], common_name: &str, now: OffsetDateTime) -> Result<Vec<u8>, Error> {
        let malformed =
            |reason: String| Error::MalformedCertificate { reason: format!("certificate signing request: {reason}") };
        let mut request = match std::str::from_utf8(csr) {
            Ok(text) if text.trim_start().starts_with("-----BEGIN") => CertificateSigningRequestParams::from_pem(text),
            _ => CertificateSigningRequestParams::from_der(&csr.to_vec().into()),
        }
        .map_err(|e| malformed(e.to_string()))?;
        let params = &mut request.params;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, common_name);
        params.distinguished_name = name;
        params.subject_alt_names.clear();
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = now;
        let wanted = now.checked_add(self.validity).ok_or_else(|| malformed("validity out of range".into()))?;
        params.not_after = wanted.min(self.not_after);
        params.serial_number = Some(SerialNumber::from_slice(crate::token::random_bytes(16)?.expose_secret()));
        params.use_authority_key_identifier_extension = true;
        let certificate =
            request.signed_by(&self.issuer).map_err(|e| Error::Internal { reason: format!("signing: {e}") })?;
        Ok(certificate.der().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, date_time_ymd};

    fn platform() -> PlatformCa {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, "Platform CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = date_time_ymd(2039, 1, 1);
        params.not_after = date_time_ymd(2050, 1, 1);
        let key = KeyPair::generate().unwrap();
        let key_pem = SecretString::new(key.serialize_pem());
        let ca = CertifiedIssuer::self_signed(params, key).unwrap();
        PlatformCa::from_pem(&ca.pem(), &key_pem, Duration::days(365)).unwrap()
    }

    fn csr(common_name: &str) -> String {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.serialize_request(&KeyPair::generate().unwrap()).unwrap().pem().unwrap()
    }

    #[test]
    fn a_csr_becomes_a_client_certificate_the_platform_trusts() {
        let ca = platform();
        let now = date_time_ymd(2040, 6, 1);
        // The request asks for a CA certificate under another name; the platform decides otherwise.
        let der = ca.issue(csr("someone-else").as_bytes(), "identity-123", now).unwrap();
        let verified = ca.verifier().verify(&der, &[], now).unwrap();
        assert_eq!(verified.common_name.as_deref(), Some("identity-123"));
        assert_eq!(verified.not_after, now + Duration::days(365));
        let next_year = now + Duration::days(366);
        assert!(matches!(ca.verifier().verify(&der, &[], next_year), Err(Error::CertificateExpired { .. })));
    }

    #[test]
    fn issued_certificates_never_outlive_the_ca() {
        let ca = platform();
        let late = date_time_ymd(2049, 9, 1);
        let der = ca.issue(csr("device").as_bytes(), "identity-9", late).unwrap();
        let verified = ca.verifier().verify(&der, &[], late).unwrap();
        assert_eq!(verified.not_after, date_time_ymd(2050, 1, 1));
    }

    #[test]
    fn garbage_and_tampered_requests_are_refused() {
        let ca = platform();
        let now = date_time_ymd(2040, 6, 1);
        assert!(matches!(ca.issue(b"garbage", "x", now), Err(Error::MalformedCertificate { .. })));
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, "device");
        let mut der = params.serialize_request(&KeyPair::generate().unwrap()).unwrap().der().to_vec();
        assert!(ca.issue(&der, "x", now).is_ok());
        let last = der.len() - 1;
        der[last] ^= 0x01;
        assert!(matches!(ca.issue(&der, "x", now), Err(Error::MalformedCertificate { .. })), "a bad signature passed");
    }

    #[test]
    fn a_bad_configuration_is_refused() {
        let key = SecretString::new(KeyPair::generate().unwrap().serialize_pem());
        assert!(matches!(PlatformCa::from_pem("not a pem", &key, Duration::days(1)), Err(Error::InvalidConfig { .. })));
        assert!(matches!(
            PlatformCa::from_pem("x", &SecretString::new("not a key"), Duration::days(1)),
            Err(Error::InvalidConfig { .. })
        ));
    }
}
