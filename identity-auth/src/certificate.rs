//! X.509 client certificates: RFC 5280 path validation, reduced to what client authentication needs.
//!
//! A [`CertificateVerifier`] holds the certificate authorities an operator trusts and checks a presented client
//! certificate against them: the signature chain through optional intermediates, every validity window against a
//! time the caller passes in (from the `Clock`, so tests and replays are deterministic), basic constraints, and the
//! key usages that allow client authentication. The [`VerifiedCertificate`] it returns carries what maps a
//! certificate to an identity: the SHA-256 fingerprint (OpenZiti's cert authenticator), the common name (Unikorn's
//! service clients) and the RFC 8705 `x5t#S256` thumbprint that binds tokens to the certificate.
//!
//! Out of scope on purpose: revocation (CRL, OCSP), name constraints and certificate policy processing. A
//! certificate that marks such an extension critical is refused rather than accepted unchecked.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use identity_core::CertificateFingerprint;
use identity_core::time::OffsetDateTime;
use sha2::{Digest as _, Sha256};
use x509_parser::asn1_rs::{Any, Class, Oid, Tag, ToDer as _};
use x509_parser::certificate::X509Certificate;
use x509_parser::error::X509Error;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::nom;
use x509_parser::oid_registry::{
    OID_X509_EXT_BASIC_CONSTRAINTS, OID_X509_EXT_EXTENDED_KEY_USAGE, OID_X509_EXT_KEY_USAGE,
    OID_X509_EXT_SUBJECT_ALT_NAME,
};
use x509_parser::pem::Pem;
use x509_parser::x509::X509Name;

use crate::Error;

/// Bounds the work an unauthenticated client can cause: each intermediate may cost a signature check per step of
/// the path. Real client chains have one or two.
const MAX_INTERMEDIATES: usize = 8;

/// The certificate authorities trusted to issue client certificates, and the checks a presented certificate must
/// pass against them.
///
/// Issuers are matched by the exact encoding of their name, then by signature, as rustls' webpki does;
/// the validity windows of the client certificate, of every intermediate and of the trusted CA are all checked.
#[derive(Clone)]
pub struct CertificateVerifier {
    anchors: Vec<TrustAnchor>,
}

/// A trusted CA kept as DER: its parsed form borrows the bytes, and re-parsing the one whose name matches is cheap
/// next to the signature check that follows.
#[derive(Clone)]
struct TrustAnchor {
    der: Vec<u8>,
    subject_raw: Vec<u8>,
    subject: String,
}

impl CertificateVerifier {
    /// Trusts the CA certificates of `pem`, one or more `CERTIFICATE` blocks (text around the blocks is ignored, as
    /// in a CA bundle). Fails with `MalformedCertificate` if there is no block, a block holds something other than a
    /// certificate or cannot be decoded, and with `NotACa` if a certificate is not a CA allowed to sign certificates.
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        let ders = pem_certificates(pem.as_bytes())?;
        if ders.is_empty() {
            return Err(malformed("no CERTIFICATE block in the PEM input"));
        }
        Self::from_der(&ders)
    }

    /// Trusts the DER-encoded CA certificates `ders`. Fails as [`CertificateVerifier::from_pem`] does, and with
    /// `MalformedCertificate` if `ders` is empty, since a verifier that trusts nobody is a configuration mistake.
    pub fn from_der(ders: &[Vec<u8>]) -> Result<Self, Error> {
        if ders.is_empty() {
            return Err(malformed("at least one trusted CA certificate is required"));
        }
        let anchors = ders.iter().map(|der| TrustAnchor::new(der)).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { anchors })
    }

    /// Verifies the client certificate `presented` at time `now` and returns what identifies its holder.
    ///
    /// `presented` is DER or PEM (told apart by the `-----BEGIN` armour); a PEM bundle's first certificate is the
    /// client's and any further ones are taken as intermediates. `intermediates` are further DER (or PEM)
    /// certificates the client sent, in any order; at most eight in all. The path must lead from the client's
    /// certificate through certificate authorities to one of the trusted CAs, every certificate on it must be
    /// valid at `now`, the client's certificate must not be a CA, and if it (or an intermediate) restricts its
    /// extended key usage, `clientAuth` must be among them; if it restricts its key usage, digital signatures must
    /// be allowed.
    pub fn verify(
        &self,
        presented: &[u8],
        intermediates: &[Vec<u8>],
        now: OffsetDateTime,
    ) -> Result<VerifiedCertificate, Error> {
        self.check(presented, intermediates, now, false).map(|(certificate, _)| certificate)
    }

    /// Like [`verify`](Self::verify), but an expired client certificate (only the client's: the CAs must still be
    /// valid) passes, reported by the `bool`, for identities whose policy allows expired certificates (devices
    /// that cannot renew on time).
    pub fn verify_allowing_expired(
        &self,
        presented: &[u8],
        intermediates: &[Vec<u8>],
        now: OffsetDateTime,
    ) -> Result<(VerifiedCertificate, bool), Error> {
        self.check(presented, intermediates, now, true)
    }

    fn check(
        &self,
        presented: &[u8],
        intermediates: &[Vec<u8>],
        now: OffsetDateTime,
        allow_expired_leaf: bool,
    ) -> Result<(VerifiedCertificate, bool), Error> {
        let mut presented = decode_input(presented)?.into_iter();
        let Some(leaf_der) = presented.next() else {
            return Err(malformed("no certificate was presented"));
        };
        let mut intermediate_ders: Vec<Cow<'_, [u8]>> = presented.collect();
        for der in intermediates {
            intermediate_ders.extend(decode_input(der)?);
        }
        if intermediate_ders.len() > MAX_INTERMEDIATES {
            return Err(malformed(format!("more than {MAX_INTERMEDIATES} intermediate certificates")));
        }

        let leaf = parse_certificate(&leaf_der)?;
        let candidates = intermediate_ders.iter().map(|der| parse_certificate(der)).collect::<Result<Vec<_>, _>>()?;
        // Trust first: until the path reaches a trusted CA, nothing else about the certificate is worth reporting.
        let (path, anchor) = self.build_path(&leaf, &candidates)?;

        for (below, issuer) in path.iter().enumerate() {
            check_issuer(issuer, below)?;
        }
        check_issuer(&anchor, path.len())?;

        let leaf_expired = match check_validity(&leaf, now) {
            Err(Error::CertificateExpired { .. }) if allow_expired_leaf => true,
            other => {
                other?;
                false
            }
        };
        for issuer in &path {
            check_validity(issuer, now)?;
        }
        check_validity(&anchor, now)?;

        if is_ca(&leaf)? {
            return Err(Error::NotACa { subject: rfc4514(leaf.subject()) });
        }
        if !extended_key_usage_allows_client_auth(&leaf)? || !key_usage_allows_signing(&leaf)? {
            return Err(Error::NotClientAuth);
        }
        // An intermediate restricted to other purposes may not vouch for client certificates (as webpki enforces).
        for issuer in &path {
            if !extended_key_usage_allows_client_auth(issuer)? {
                return Err(Error::NotClientAuth);
            }
        }

        Ok((VerifiedCertificate::from_leaf(&leaf, &leaf_der)?, leaf_expired))
    }

    /// Walks from `leaf` towards a trusted CA, taking each issuer from the trusted CAs first (the shortest path)
    /// and from `candidates` otherwise; each candidate is used at most once, so the walk ends.
    fn build_path<'c, 'd>(
        &self,
        leaf: &'c X509Certificate<'d>,
        candidates: &'c [X509Certificate<'d>],
    ) -> Result<(Vec<&'c X509Certificate<'d>>, X509Certificate<'_>), Error> {
        let mut path: Vec<&'c X509Certificate<'d>> = Vec::new();
        let mut used = vec![false; candidates.len()];
        let mut current = leaf;
        loop {
            if let Some(anchor) = self.issuing_anchor(current) {
                return Ok((path, anchor));
            }
            let next = candidates.iter().enumerate().find(|(i, issuer)| !used[*i] && issued_by(current, issuer));
            match next {
                Some((i, issuer)) => {
                    used[i] = true;
                    path.push(issuer);
                    current = issuer;
                }
                None if path.is_empty() && is_self_signed(leaf) => return Err(Error::SelfSigned),
                None => return Err(Error::UnknownIssuer),
            }
        }
    }

    /// The trusted CA whose name is `cert`'s issuer and whose key verifies `cert`'s signature. Several CAs may share
    /// a name (a rotated key); the signature decides.
    fn issuing_anchor(&self, cert: &X509Certificate<'_>) -> Option<X509Certificate<'_>> {
        self.anchors
            .iter()
            .filter(|anchor| anchor.subject_raw == cert.issuer().as_raw())
            .filter_map(|anchor| x509_parser::parse_x509_certificate(&anchor.der).ok().map(|(_, parsed)| parsed))
            .find(|anchor| {
                is_strong_signature(&cert.signature_algorithm.algorithm)
                    && cert.verify_signature(Some(anchor.public_key())).is_ok()
            })
    }
}

impl fmt::Debug for CertificateVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subjects: Vec<&str> = self.anchors.iter().map(|anchor| anchor.subject.as_str()).collect();
        f.debug_struct("CertificateVerifier").field("trusted", &subjects).finish()
    }
}

impl TrustAnchor {
    fn new(der: &[u8]) -> Result<Self, Error> {
        let cert = parse_certificate(der)?;
        let subject = rfc4514(cert.subject());
        if !is_ca(&cert)? || !key_usage_allows_certificate_signing(&cert)? {
            return Err(Error::NotACa { subject });
        }
        Ok(Self { der: der.to_vec(), subject_raw: cert.subject().as_raw().to_vec(), subject })
    }
}

/// A client certificate that passed [`CertificateVerifier::verify`], reduced to what identifies its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCertificate {
    /// The subject distinguished name as an RFC 4514 string (most specific RDN first, e.g. `CN=svc,O=Acme`).
    pub subject: String,
    /// The subject's common name; the last one (the most specific) if there are several, `None` if there is none
    /// or it is not a readable string.
    pub common_name: Option<String>,
    /// The `dNSName` entries of the subject alternative names, as written in the certificate.
    pub dns_names: Vec<String>,
    /// The `uniformResourceIdentifier` entries of the subject alternative names (e.g. SPIFFE IDs).
    pub uris: Vec<String>,
    /// The `rfc822Name` (e-mail) entries of the subject alternative names.
    pub emails: Vec<String>,
    /// The SHA-256 of the certificate's DER encoding: the key of a certificate authenticator.
    pub fingerprint: CertificateFingerprint,
    /// When the certificate expires: nothing proven by it should outlive this.
    pub not_after: OffsetDateTime,
}

impl VerifiedCertificate {
    /// The RFC 8705 `x5t#S256` confirmation value: the fingerprint in base64url without padding.
    pub fn thumbprint_s256(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.fingerprint.as_bytes())
    }

    fn from_leaf(leaf: &X509Certificate<'_>, der: &[u8]) -> Result<Self, Error> {
        let (mut dns_names, mut uris, mut emails) = (Vec::new(), Vec::new(), Vec::new());
        if let Some(san) = leaf.subject_alternative_name().map_err(extension_error)? {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(dns) => dns_names.push((*dns).to_owned()),
                    GeneralName::URI(uri) => uris.push((*uri).to_owned()),
                    GeneralName::RFC822Name(email) => emails.push((*email).to_owned()),
                    _ => {}
                }
            }
        }
        let common_name = leaf.subject().iter_common_name().last().and_then(|cn| directory_string(cn.attr_value()));
        Ok(Self {
            subject: rfc4514(leaf.subject()),
            common_name,
            dns_names,
            uris,
            emails,
            fingerprint: CertificateFingerprint::from_bytes(Sha256::digest(der).into()),
            not_after: leaf.validity().not_after.to_datetime(),
        })
    }
}

/// The RFC 8705 `x5t#S256` thumbprint of a DER-encoded certificate: base64url, without padding, of its SHA-256.
pub fn thumbprint_s256(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(der))
}

fn malformed(reason: impl Into<String>) -> Error {
    Error::MalformedCertificate { reason: reason.into() }
}

fn extension_error(error: X509Error) -> Error {
    malformed(format!("invalid extensions: {error}"))
}

/// The DER certificates of `input`: the `CERTIFICATE` blocks if it is PEM, else `input` itself.
fn decode_input(input: &[u8]) -> Result<Vec<Cow<'_, [u8]>>, Error> {
    if !input.trim_ascii_start().starts_with(b"-----BEGIN ") {
        return Ok(vec![Cow::Borrowed(input)]);
    }
    let ders = pem_certificates(input.trim_ascii_start())?;
    if ders.is_empty() {
        return Err(malformed("no CERTIFICATE block in the PEM input"));
    }
    Ok(ders.into_iter().map(Cow::Owned).collect())
}

fn pem_certificates(input: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    let mut ders = Vec::new();
    for block in Pem::iter_from_buffer(input) {
        let block = block.map_err(|error| malformed(format!("invalid PEM: {error}")))?;
        if block.label != "CERTIFICATE" {
            // The label comes from the input: keep it short and printable so it cannot flood or forge log lines.
            let label: String =
                block.label.chars().filter(|c| c.is_ascii_alphanumeric() || *c == ' ').take(32).collect();
            return Err(malformed(format!("found a PEM block labelled `{label}` where a CERTIFICATE was expected")));
        }
        ders.push(block.contents);
    }
    Ok(ders)
}

/// Parses exactly one certificate and refuses what later checks could not honour, so that they can rely on it.
fn parse_certificate(der: &[u8]) -> Result<X509Certificate<'_>, Error> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der).map_err(|error| match error {
        nom::Err::Incomplete(_) => malformed("truncated DER"),
        nom::Err::Error(error) | nom::Err::Failure(error) => malformed(format!("invalid DER: {error}")),
    })?;
    if !rest.is_empty() {
        return Err(malformed("trailing bytes after the certificate"));
    }
    check_unsigned_encoding(der)?;
    cert.extensions_map().map_err(extension_error)?;
    for extension in cert.extensions() {
        let relied_on = [
            &OID_X509_EXT_BASIC_CONSTRAINTS,
            &OID_X509_EXT_KEY_USAGE,
            &OID_X509_EXT_EXTENDED_KEY_USAGE,
            &OID_X509_EXT_SUBJECT_ALT_NAME,
        ]
        .contains(&&extension.oid);
        match extension.parsed_extension() {
            // x509-parser reports an unreadable basicConstraints as absent: that would make a CA look like a leaf.
            ParsedExtension::ParseError { .. } if relied_on || extension.critical => {
                return Err(malformed(format!("extension {} cannot be parsed", extension.oid.to_id_string())));
            }
            ParsedExtension::BasicConstraints(_)
            | ParsedExtension::KeyUsage(_)
            | ParsedExtension::ExtendedKeyUsage(_)
            | ParsedExtension::SubjectAlternativeName(_)
            | ParsedExtension::SubjectKeyIdentifier(_)
            | ParsedExtension::AuthorityKeyIdentifier(_)
            | ParsedExtension::CertificatePolicies(_) => {}
            // RFC 5280 4.2: a critical extension the verifier does not process must make it refuse the certificate.
            _ if extension.critical => {
                return Err(malformed(format!("critical extension {} is not supported", extension.oid.to_id_string())));
            }
            _ => {}
        }
    }
    Ok(cert)
}

/// One DER element with a single-byte tag, its length in the shortest form as DER requires.
struct Tlv<'a> {
    tag: u8,
    contents: &'a [u8],
    encoded: &'a [u8],
}

fn read_tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let [tag, first, after @ ..] = input else { return None };
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (header_len, len) = if *first < 0x80 {
        (2, usize::from(*first))
    } else {
        let count = usize::from(first & 0x7f);
        let bytes = after.get(..count)?;
        if count == 0 || count > 4 || bytes.first() == Some(&0) {
            return None;
        }
        let len = bytes.iter().fold(0usize, |len, byte| (len << 8) | usize::from(*byte));
        if len < 0x80 {
            return None;
        }
        (2 + count, len)
    };
    let (encoded, rest) = input.split_at_checked(header_len.checked_add(len)?)?;
    Some((Tlv { tag: *tag, contents: encoded.get(header_len..)?, encoded }, rest))
}

/// The signature covers only the to-be-signed part; x509-parser reads the rest leniently (any outer tags, unused
/// bits in the signature, long-form lengths), so the same signed certificate could be re-encoded into many DER
/// strings with as many fingerprints. Requiring DER here keeps one certificate, one fingerprint. RFC 5280 4.1.1.2:
/// the outer signature algorithm must be byte for byte the signed copy, or the signature could be read two ways.
fn check_unsigned_encoding(der: &[u8]) -> Result<(), Error> {
    let not_der = || malformed("the unsigned outer fields of the certificate are not DER");
    let Some((Tlv { tag: 0x30, contents: certificate, .. }, [])) = read_tlv(der) else { return Err(not_der()) };
    let Some((Tlv { tag: 0x30, contents: tbs, .. }, rest)) = read_tlv(certificate) else { return Err(not_der()) };
    let Some((Tlv { tag: 0x30, encoded: algorithm, .. }, rest)) = read_tlv(rest) else { return Err(not_der()) };
    let Some((Tlv { tag: 0x03, contents: [0, ..], .. }, [])) = read_tlv(rest) else { return Err(not_der()) };
    // TBSCertificate: optional [0] version, serial number, then the signed copy of the algorithm.
    let signed_algorithm = read_tlv(tbs)
        .and_then(|(first, rest)| if first.tag == 0xa0 { read_tlv(rest) } else { Some((first, rest)) })
        .filter(|(serial, _)| serial.tag == 0x02)
        .and_then(|(_, rest)| read_tlv(rest))
        .map(|(algorithm, _)| algorithm.encoded);
    if signed_algorithm != Some(algorithm) {
        return Err(malformed("the outer signature algorithm differs from the signed one"));
    }
    Ok(())
}

fn issued_by(cert: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> bool {
    cert.issuer().as_raw() == issuer.subject().as_raw()
        && is_strong_signature(&cert.signature_algorithm.algorithm)
        && cert.verify_signature(Some(issuer.public_key())).is_ok()
}

/// Whether a signature algorithm is one a chain may rely on: SHA-2 with RSA or ECDSA, or Ed25519. SHA-1 and MD5
/// signatures are forgeable, and x509-parser would also accept RSA keys of 1024 bits with them.
fn is_strong_signature(algorithm: &Oid<'_>) -> bool {
    use x509_parser::oid_registry::{
        OID_PKCS1_SHA256WITHRSA, OID_PKCS1_SHA384WITHRSA, OID_PKCS1_SHA512WITHRSA, OID_SIG_ECDSA_WITH_SHA256,
        OID_SIG_ECDSA_WITH_SHA384, OID_SIG_ECDSA_WITH_SHA512, OID_SIG_ED25519,
    };
    [
        OID_PKCS1_SHA256WITHRSA,
        OID_PKCS1_SHA384WITHRSA,
        OID_PKCS1_SHA512WITHRSA,
        OID_SIG_ECDSA_WITH_SHA256,
        OID_SIG_ECDSA_WITH_SHA384,
        OID_SIG_ECDSA_WITH_SHA512,
        OID_SIG_ED25519,
    ]
    .contains(algorithm)
}

fn is_self_signed(cert: &X509Certificate<'_>) -> bool {
    cert.issuer().as_raw() == cert.subject().as_raw() && cert.verify_signature(None).is_ok()
}

fn is_ca(cert: &X509Certificate<'_>) -> Result<bool, Error> {
    Ok(cert.basic_constraints().map_err(extension_error)?.is_some_and(|constraints| constraints.value.ca))
}

/// An issuer `below` intermediates above the client's certificate must be a CA, may sign certificates, and allow
/// that many intermediates under it.
fn check_issuer(issuer: &X509Certificate<'_>, below: usize) -> Result<(), Error> {
    let constraints = issuer.basic_constraints().map_err(extension_error)?;
    let allowed = match constraints {
        Some(constraints) if constraints.value.ca => {
            constraints.value.path_len_constraint.is_none_or(|max| u64::try_from(below).is_ok_and(|n| n <= max.into()))
        }
        _ => false,
    };
    if !allowed || !key_usage_allows_certificate_signing(issuer)? {
        return Err(Error::NotACa { subject: rfc4514(issuer.subject()) });
    }
    Ok(())
}

/// RFC 5280 4.1.2.5: both ends of the window are inclusive.
fn check_validity(cert: &X509Certificate<'_>, now: OffsetDateTime) -> Result<(), Error> {
    let validity = cert.validity();
    let (not_before, not_after) = (validity.not_before.to_datetime(), validity.not_after.to_datetime());
    if now < not_before {
        return Err(Error::CertificateNotYetValid { not_before });
    }
    if now > not_after {
        return Err(Error::CertificateExpired { not_after });
    }
    Ok(())
}

/// Absent means unrestricted (RFC 5280 4.2.1.12); `anyExtendedKeyUsage` alone is not accepted, as in webpki.
fn extended_key_usage_allows_client_auth(cert: &X509Certificate<'_>) -> Result<bool, Error> {
    Ok(cert.extended_key_usage().map_err(extension_error)?.is_none_or(|usage| usage.value.client_auth))
}

fn key_usage_allows_signing(cert: &X509Certificate<'_>) -> Result<bool, Error> {
    Ok(cert.key_usage().map_err(extension_error)?.is_none_or(|usage| usage.value.digital_signature()))
}

fn key_usage_allows_certificate_signing(cert: &X509Certificate<'_>) -> Result<bool, Error> {
    Ok(cert.key_usage().map_err(extension_error)?.is_none_or(|usage| usage.value.key_cert_sign()))
}

/// RFC 4514: RDNs from the last (most specific) to the first, `,` between them, `+` inside a multi-valued one.
/// x509-parser's own `Display` keeps the encoded order and does not escape, so it cannot be compared or parsed back.
fn rfc4514(name: &X509Name<'_>) -> String {
    let rdns: Vec<_> = name.iter_rdn().collect();
    let mut out = String::new();
    for (i, rdn) in rdns.iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, attribute) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            let value = attribute.attr_value();
            match (short_name(attribute.attr_type()), directory_string(value)) {
                (Some(name), Some(text)) => {
                    out.push_str(name);
                    out.push('=');
                    push_escaped(&mut out, &text);
                }
                // RFC 4514 2.4: without a known name or a readable string, the value goes as `#` and its DER in hex.
                (name, _) => {
                    match name {
                        Some(name) => out.push_str(name),
                        None => out.push_str(&attribute.attr_type().to_id_string()),
                    }
                    out.push_str("=#");
                    let encoded = value.to_der_vec().unwrap_or_else(|_| value.data.to_vec());
                    for byte in encoded {
                        out.push_str(&format!("{byte:02x}"));
                    }
                }
            }
        }
    }
    out
}

/// The RFC 4514 table, plus the few more Go's `pkix.Name` prints, so subjects read the same as in OpenZiti and
/// Unikorn (both written in Go).
fn short_name(oid: &Oid<'_>) -> Option<&'static str> {
    Some(match oid.to_id_string().as_str() {
        "2.5.4.3" => "CN",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.17" => "POSTALCODE",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        _ => return None,
    })
}

/// The text of a DirectoryString-like value; `None` for other types and for TeletexString, whose character set is
/// ambiguous in practice.
fn directory_string(value: &Any<'_>) -> Option<String> {
    if value.class() != Class::Universal || value.header.is_constructed() {
        return None;
    }
    let data = value.data;
    match value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::NumericString | Tag::VisibleString => {
            std::str::from_utf8(data).ok().map(str::to_owned)
        }
        Tag::BmpString => match data.as_chunks::<2>() {
            (units, []) => {
                String::from_utf16(&units.iter().map(|unit| u16::from_be_bytes(*unit)).collect::<Vec<_>>()).ok()
            }
            _ => None,
        },
        Tag::UniversalString => match data.as_chunks::<4>() {
            (chars, []) => chars.iter().map(|char| char::from_u32(u32::from_be_bytes(*char))).collect(),
            _ => None,
        },
        _ => None,
    }
}

/// RFC 4514 2.4: escape what would otherwise split or end the value.
fn push_escaped(out: &mut String, value: &str) {
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\0' => out.push_str("\\00"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '#' if i == 0 => out.push_str("\\#"),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use proptest::prelude::*;
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, CustomExtension, DistinguishedName, DnType, DnValue,
        ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType, date_time_ymd,
    };

    use super::*;

    /// Inside every validity window below and far from the real date, so a check that read the system clock fails.
    static NOW: LazyLock<OffsetDateTime> = LazyLock::new(|| date_time_ymd(2040, 6, 1));

    type Ca = CertifiedIssuer<'static, KeyPair>;

    fn name(common_name: &str) -> DistinguishedName {
        let mut name = DistinguishedName::new();
        name.push(DnType::OrganizationName, "Acme");
        name.push(DnType::CommonName, common_name);
        name
    }

    fn ca_params(common_name: &str) -> CertificateParams {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = date_time_ymd(2039, 1, 1);
        params.not_after = date_time_ymd(2050, 1, 1);
        params
    }

    fn client_params(common_name: &str) -> CertificateParams {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = date_time_ymd(2040, 1, 1);
        params.not_after = date_time_ymd(2041, 1, 1);
        params
    }

    fn root(params: CertificateParams) -> Ca {
        CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
    }

    fn intermediate(params: CertificateParams, parent: &Ca) -> Ca {
        CertifiedIssuer::signed_by(params, KeyPair::generate().unwrap(), parent).unwrap()
    }

    fn issue(params: &CertificateParams, issuer: &Ca) -> Vec<u8> {
        params.signed_by(&KeyPair::generate().unwrap(), issuer).unwrap().der().to_vec()
    }

    fn verifier(ca: &Ca) -> CertificateVerifier {
        CertificateVerifier::from_der(&[ca.der().to_vec()]).unwrap()
    }

    fn pem(der: &[u8]) -> String {
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = body.as_bytes().chunks(64).map(|line| std::str::from_utf8(line).unwrap()).collect();
        format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
    }

    #[test]
    fn only_sha2_and_ed25519_signatures_are_trusted() {
        use x509_parser::oid_registry::{
            OID_PKCS1_MD5WITHRSAENC, OID_PKCS1_SHA1WITHRSA, OID_PKCS1_SHA256WITHRSA, OID_SIG_ECDSA_WITH_SHA256,
            OID_SIG_ED25519,
        };
        assert!(is_strong_signature(&OID_PKCS1_SHA256WITHRSA));
        assert!(is_strong_signature(&OID_SIG_ECDSA_WITH_SHA256));
        assert!(is_strong_signature(&OID_SIG_ED25519));
        assert!(!is_strong_signature(&OID_PKCS1_SHA1WITHRSA));
        assert!(!is_strong_signature(&OID_PKCS1_MD5WITHRSAENC));
    }

    #[test]
    fn client_certificate_issued_by_a_trusted_ca_is_accepted() {
        let ca = root(ca_params("Root CA"));
        let der = issue(&client_params("svc-billing"), &ca);
        let verified = verifier(&ca).verify(&der, &[], *NOW).unwrap();
        assert_eq!(verified.subject, "CN=svc-billing,O=Acme");
        assert_eq!(verified.common_name.as_deref(), Some("svc-billing"));
        assert_eq!(verified.not_after, date_time_ymd(2041, 1, 1));
    }

    #[test]
    fn client_certificate_in_pem_is_accepted_like_der() {
        let ca = root(ca_params("Root CA"));
        let der = issue(&client_params("svc"), &ca);
        let verifier = CertificateVerifier::from_pem(&ca.pem()).unwrap();
        let from_pem = verifier.verify(format!("\n  {}", pem(&der)).as_bytes(), &[], *NOW).unwrap();
        let from_der = verifier.verify(&der, &[], *NOW).unwrap();
        assert_eq!(from_pem, from_der);
    }

    #[test]
    fn ca_bundle_in_pem_trusts_every_ca_in_it() {
        let (first, second) = (root(ca_params("First CA")), root(ca_params("Second CA")));
        let bundle = format!("# first\n{}\n# second\n{}", first.pem(), second.pem());
        let verifier = CertificateVerifier::from_pem(&bundle).unwrap();
        verifier.verify(&issue(&client_params("a"), &first), &[], *NOW).unwrap();
        verifier.verify(&issue(&client_params("b"), &second), &[], *NOW).unwrap();
    }

    #[test]
    fn client_certificate_via_an_intermediate_is_accepted_only_with_the_intermediate() {
        let ca = root(ca_params("Root CA"));
        let issuing = intermediate(ca_params("Issuing CA"), &ca);
        let der = issue(&client_params("svc"), &issuing);
        let verifier = verifier(&ca);
        let verified = verifier.verify(&der, &[issuing.der().to_vec()], *NOW).unwrap();
        assert_eq!(verified.common_name.as_deref(), Some("svc"));
        assert!(matches!(verifier.verify(&der, &[], *NOW), Err(Error::UnknownIssuer)));
    }

    #[test]
    fn intermediates_may_come_in_any_order_and_inside_the_presented_pem() {
        let ca = root(ca_params("Root CA"));
        let middle = intermediate(ca_params("Middle CA"), &ca);
        let issuing = intermediate(ca_params("Issuing CA"), &middle);
        let der = issue(&client_params("svc"), &issuing);
        let verifier = verifier(&ca);
        verifier.verify(&der, &[middle.der().to_vec(), issuing.der().to_vec()], *NOW).unwrap();
        let bundle = format!("{}{}{}", pem(&der), issuing.pem(), middle.pem());
        verifier.verify(bundle.as_bytes(), &[], *NOW).unwrap();
    }

    #[test]
    fn expired_client_certificate_is_refused_with_its_expiry() {
        let ca = root(ca_params("Root CA"));
        let der = issue(&client_params("svc"), &ca);
        let result = verifier(&ca).verify(&der, &[], date_time_ymd(2041, 1, 2));
        assert!(
            matches!(result, Err(Error::CertificateExpired { not_after }) if not_after == date_time_ymd(2041, 1, 1))
        );
    }

    #[test]
    fn client_certificate_not_yet_valid_is_refused_with_its_start() {
        let ca = root(ca_params("Root CA"));
        let der = issue(&client_params("svc"), &ca);
        let result = verifier(&ca).verify(&der, &[], date_time_ymd(2039, 12, 31));
        assert!(
            matches!(result, Err(Error::CertificateNotYetValid { not_before }) if not_before == date_time_ymd(2040, 1, 1))
        );
    }

    #[test]
    fn expired_intermediate_or_trusted_ca_makes_the_chain_expired() {
        let mut short_root = ca_params("Root CA");
        short_root.not_after = date_time_ymd(2040, 3, 1);
        let ca = root(short_root);
        let der = issue(&client_params("svc"), &ca);
        let result = verifier(&ca).verify(&der, &[], *NOW);
        assert!(
            matches!(result, Err(Error::CertificateExpired { not_after }) if not_after == date_time_ymd(2040, 3, 1))
        );

        let ca = root(ca_params("Root CA"));
        let mut short_intermediate = ca_params("Issuing CA");
        short_intermediate.not_after = date_time_ymd(2040, 2, 1);
        let issuing = intermediate(short_intermediate, &ca);
        let der = issue(&client_params("svc"), &issuing);
        let result = verifier(&ca).verify(&der, &[issuing.der().to_vec()], *NOW);
        assert!(
            matches!(result, Err(Error::CertificateExpired { not_after }) if not_after == date_time_ymd(2040, 2, 1))
        );
    }

    #[test]
    fn certificate_from_another_ca_with_the_same_name_fails_on_the_signature() {
        let trusted = root(ca_params("Root CA"));
        let impostor = root(ca_params("Root CA"));
        let der = issue(&client_params("svc"), &impostor);
        let (_, leaf) = x509_parser::parse_x509_certificate(&der).unwrap();
        let (_, trusted_cert) = x509_parser::parse_x509_certificate(trusted.der()).unwrap();
        assert_eq!(leaf.issuer().as_raw(), trusted_cert.subject().as_raw(), "the names must match for this test");
        assert!(matches!(verifier(&trusted).verify(&der, &[], *NOW), Err(Error::UnknownIssuer)));
    }

    #[test]
    fn certificate_from_an_unrelated_ca_is_refused() {
        let trusted = root(ca_params("Root CA"));
        let other = root(ca_params("Other CA"));
        let der = issue(&client_params("svc"), &other);
        assert!(matches!(verifier(&trusted).verify(&der, &[], *NOW), Err(Error::UnknownIssuer)));
    }

    #[test]
    fn self_signed_client_certificate_is_refused_as_self_signed() {
        let ca = root(ca_params("Root CA"));
        let der = client_params("svc").self_signed(&KeyPair::generate().unwrap()).unwrap().der().to_vec();
        assert!(matches!(verifier(&ca).verify(&der, &[], *NOW), Err(Error::SelfSigned)));
    }

    #[test]
    fn self_signed_certificate_named_like_the_trusted_ca_is_still_self_signed() {
        let ca = root(ca_params("Root CA"));
        let mut params = client_params("svc");
        params.distinguished_name = name("Root CA");
        let der = params.self_signed(&KeyPair::generate().unwrap()).unwrap().der().to_vec();
        assert!(matches!(verifier(&ca).verify(&der, &[], *NOW), Err(Error::SelfSigned)));
    }

    #[test]
    fn server_auth_only_certificate_is_not_for_client_auth() {
        let ca = root(ca_params("Root CA"));
        let mut params = client_params("www");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let der = issue(&params, &ca);
        assert!(matches!(verifier(&ca).verify(&der, &[], *NOW), Err(Error::NotClientAuth)));
    }

    #[test]
    fn certificate_without_extended_key_usage_is_accepted() {
        let ca = root(ca_params("Root CA"));
        let mut params = client_params("svc");
        params.extended_key_usages = vec![];
        params.key_usages = vec![];
        verifier(&ca).verify(&issue(&params, &ca), &[], *NOW).unwrap();
    }

    #[test]
    fn key_usage_without_digital_signature_is_not_for_client_auth() {
        let ca = root(ca_params("Root CA"));
        let mut params = client_params("svc");
        params.key_usages = vec![KeyUsagePurpose::KeyEncipherment];
        assert!(matches!(verifier(&ca).verify(&issue(&params, &ca), &[], *NOW), Err(Error::NotClientAuth)));
    }

    #[test]
    fn intermediate_restricted_to_server_auth_cannot_vouch_for_clients() {
        let ca = root(ca_params("Root CA"));
        let mut params = ca_params("TLS Server CA");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let issuing = intermediate(params, &ca);
        let der = issue(&client_params("svc"), &issuing);
        let result = verifier(&ca).verify(&der, &[issuing.der().to_vec()], *NOW);
        assert!(matches!(result, Err(Error::NotClientAuth)));
    }

    #[test]
    fn client_certificate_that_is_a_ca_is_refused() {
        let ca = root(ca_params("Root CA"));
        let mut params = client_params("sub-ca");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyCertSign];
        let result = verifier(&ca).verify(&issue(&params, &ca), &[], *NOW);
        assert!(matches!(result, Err(Error::NotACa { subject }) if subject == "CN=sub-ca,O=Acme"));
    }

    #[test]
    fn intermediate_that_is_not_a_ca_cannot_issue() {
        let ca = root(ca_params("Root CA"));
        // Without basicConstraints, and with an explicit cA=false.
        for is_ca in [IsCa::NoCa, IsCa::ExplicitNoCa] {
            let mut params = client_params("Plain Leaf");
            params.is_ca = is_ca;
            params.key_usages = vec![];
            params.extended_key_usages = vec![];
            let not_a_ca = intermediate(params, &ca);
            let der = issue(&client_params("svc"), &not_a_ca);
            let result = verifier(&ca).verify(&der, &[not_a_ca.der().to_vec()], *NOW);
            assert!(matches!(result, Err(Error::NotACa { subject }) if subject == "CN=Plain Leaf,O=Acme"));
        }
    }

    #[test]
    fn certificate_naming_a_genuine_intermediate_but_signed_by_another_key_is_refused() {
        let ca = root(ca_params("Root CA"));
        let genuine = intermediate(ca_params("Issuing CA"), &ca);
        let forger = root(ca_params("Issuing CA"));
        let der = issue(&client_params("svc"), &forger);
        let result = verifier(&ca).verify(&der, &[genuine.der().to_vec()], *NOW);
        assert!(matches!(result, Err(Error::UnknownIssuer)), "{result:?}");
    }

    #[test]
    fn path_length_constraint_of_the_trusted_ca_is_enforced() {
        let mut params = ca_params("Root CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        let ca = root(params);
        verifier(&ca).verify(&issue(&client_params("direct"), &ca), &[], *NOW).unwrap();
        let issuing = intermediate(ca_params("Issuing CA"), &ca);
        let der = issue(&client_params("svc"), &issuing);
        let result = verifier(&ca).verify(&der, &[issuing.der().to_vec()], *NOW);
        assert!(matches!(result, Err(Error::NotACa { subject }) if subject == "CN=Root CA,O=Acme"));
    }

    #[test]
    fn trusting_a_certificate_that_is_not_a_ca_is_refused() {
        let ca = root(ca_params("Root CA"));
        let leaf = issue(&client_params("svc"), &ca);
        let result = CertificateVerifier::from_der(&[ca.der().to_vec(), leaf.clone()]);
        assert!(matches!(result, Err(Error::NotACa { subject }) if subject == "CN=svc,O=Acme"));
        assert!(matches!(CertificateVerifier::from_pem(&pem(&leaf)), Err(Error::NotACa { .. })));
    }

    #[test]
    fn trusting_nothing_or_a_non_certificate_is_refused() {
        assert!(matches!(CertificateVerifier::from_der(&[]), Err(Error::MalformedCertificate { .. })));
        assert!(matches!(CertificateVerifier::from_pem("no pem here"), Err(Error::MalformedCertificate { .. })));
        let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(
            matches!(CertificateVerifier::from_pem(key), Err(Error::MalformedCertificate { reason }) if reason.contains("PRIVATE KEY") && !reason.contains("AAAA"))
        );
    }

    #[test]
    fn garbage_truncated_and_padded_input_is_malformed() {
        let ca = root(ca_params("Root CA"));
        let der = issue(&client_params("svc"), &ca);
        let verifier = verifier(&ca);
        let mut padded = der.clone();
        padded.push(0);
        let inputs: [&[u8]; 6] = [
            b"",
            b"certainly not a certificate",
            &der[..der.len() / 2],
            &der[..der.len() - 1],
            &padded,
            b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        ];
        for input in inputs {
            let result = verifier.verify(input, &[], *NOW);
            assert!(matches!(result, Err(Error::MalformedCertificate { .. })), "{input:?} gave {result:?}");
        }
        let result = verifier.verify(&padded, &[], *NOW);
        assert!(matches!(result, Err(Error::MalformedCertificate { reason }) if reason.contains("trailing")));
        let result = verifier.verify(&der, &[b"junk".to_vec()], *NOW);
        assert!(matches!(result, Err(Error::MalformedCertificate { .. })));
    }

    #[test]
    fn no_single_bit_flip_of_a_certificate_is_accepted() {
        let ca = root(ca_params("Root CA"));
        let der = issue(&client_params("svc"), &ca);
        let verifier = verifier(&ca);
        for at in 0..der.len() {
            for bit in 0..8 {
                let mut flipped = der.clone();
                flipped[at] ^= 1 << bit;
                assert!(verifier.verify(&flipped, &[], *NOW).is_err(), "flipping bit {bit} of byte {at} was accepted");
            }
        }
    }

    #[test]
    fn long_form_length_for_the_same_certificate_is_refused() {
        let ca = root(ca_params("Root CA"));
        let der = issue(&client_params("svc"), &ca);
        let verifier = verifier(&ca);
        verifier.verify(&der, &[], *NOW).unwrap();
        // A non-minimal length (0x83 00 xx yy instead of 0x82 xx yy) leaves the signed part untouched.
        assert_eq!(der[1], 0x82, "the test expects a two-byte length");
        let mut long_form = vec![0x30, 0x83, 0x00];
        long_form.extend_from_slice(&der[2..]);
        let result = verifier.verify(&long_form, &[], *NOW);
        assert!(matches!(result, Err(Error::MalformedCertificate { .. })), "{result:?}");
    }

    #[test]
    fn unsupported_critical_extension_is_refused() {
        let ca = root(ca_params("Root CA"));
        let mut params = client_params("svc");
        let mut extension = CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 99999, 1], vec![0x05, 0x00]);
        extension.set_criticality(true);
        params.custom_extensions = vec![extension];
        let result = verifier(&ca).verify(&issue(&params, &ca), &[], *NOW);
        assert!(
            matches!(result, Err(Error::MalformedCertificate { reason }) if reason.contains("1.3.6.1.4.1.99999.1"))
        );
    }

    #[test]
    fn too_many_intermediates_are_refused_before_any_signature_check() {
        let ca = root(ca_params("Root CA"));
        let der = issue(&client_params("svc"), &ca);
        let intermediates = vec![b"x".to_vec(); MAX_INTERMEDIATES + 1];
        let result = verifier(&ca).verify(&der, &intermediates, *NOW);
        assert!(matches!(result, Err(Error::MalformedCertificate { reason }) if reason.contains("more than")));
    }

    #[test]
    fn common_name_and_subject_alternative_names_are_extracted() {
        let ca = root(ca_params("Root CA"));
        let mut params = client_params("svc, \"special\"");
        params.distinguished_name.push(DnType::CountryName, "DE");
        params.subject_alt_names = vec![
            SanType::DnsName("svc.example.com".try_into().unwrap()),
            SanType::DnsName("svc.internal".try_into().unwrap()),
            SanType::URI("spiffe://example.com/ns/prod/sa/svc".try_into().unwrap()),
            SanType::Rfc822Name("ops@example.com".try_into().unwrap()),
            SanType::IpAddress("10.0.0.1".parse().unwrap()),
        ];
        let verified = verifier(&ca).verify(&issue(&params, &ca), &[], *NOW).unwrap();
        assert_eq!(verified.common_name.as_deref(), Some("svc, \"special\""));
        assert_eq!(verified.dns_names, ["svc.example.com", "svc.internal"]);
        assert_eq!(verified.uris, ["spiffe://example.com/ns/prod/sa/svc"]);
        assert_eq!(verified.emails, ["ops@example.com"]);
        assert_eq!(verified.subject, r#"C=DE,CN=svc\, \"special\",O=Acme"#);
    }

    #[test]
    fn certificate_without_common_name_has_none() {
        let ca = root(ca_params("Root CA"));
        let mut params = client_params("unused");
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::OrganizationName, "Acme");
        params.subject_alt_names = vec![SanType::DnsName("svc.example.com".try_into().unwrap())];
        let verified = verifier(&ca).verify(&issue(&params, &ca), &[], *NOW).unwrap();
        assert_eq!(verified.common_name, None);
        assert_eq!(verified.subject, "O=Acme");
    }

    #[test]
    fn fingerprint_is_the_sha256_of_the_der_and_thumbprint_its_base64url() {
        let ca = root(ca_params("Root CA"));
        let der = issue(&client_params("svc"), &ca);
        let verified = verifier(&ca).verify(pem(&der).as_bytes(), &[], *NOW).unwrap();
        let digest: [u8; 32] = Sha256::digest(&der).into();
        assert_eq!(verified.fingerprint, CertificateFingerprint::from_bytes(digest));
        assert_eq!(verified.thumbprint_s256(), URL_SAFE_NO_PAD.encode(digest));
        assert_eq!(verified.thumbprint_s256(), thumbprint_s256(&der));
        assert_eq!(verified.thumbprint_s256().len(), 43);
    }

    #[test]
    fn thumbprint_matches_a_known_sha256_vector() {
        // SHA-256 of the empty string is e3b0c442...b855; its base64url without padding:
        assert_eq!(thumbprint_s256(b""), "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
    }

    #[test]
    fn subject_escapes_rfc4514_specials_and_hex_encodes_unknown_attributes() {
        let ca = root(ca_params("Root CA"));
        let mut params = client_params(" #lead;<x>+trail ");
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]), "a@b.c");
        params.distinguished_name.push(DnType::CommonName, " #lead;<x>+trail ");
        let verified = verifier(&ca).verify(&issue(&params, &ca), &[], *NOW).unwrap();
        assert_eq!(verified.subject, r"CN=\ #lead\;\<x\>\+trail\ ,1.2.840.113549.1.9.1=#0c056140622e63");
    }

    #[test]
    fn names_in_bmp_and_universal_strings_read_as_text() {
        let ca = root(ca_params("Root CA"));
        let mut params = client_params("unused");
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, DnValue::UniversalString("Zoë 🦀".try_into().unwrap()));
        params.distinguished_name.push(DnType::CommonName, DnValue::BmpString("Zoë".try_into().unwrap()));
        let verified = verifier(&ca).verify(&issue(&params, &ca), &[], *NOW).unwrap();
        assert_eq!(verified.common_name.as_deref(), Some("Zoë"));
        assert_eq!(verified.subject, "CN=Zoë,O=Zoë 🦀");
    }

    static FIXTURE: LazyLock<(CertificateVerifier, Vec<u8>)> = LazyLock::new(|| {
        let ca = root(ca_params("Root CA"));
        let der = issue(&client_params("svc"), &ca);
        (verifier(&ca), der)
    });

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let (verifier, _) = &*FIXTURE;
            let _ = verifier.verify(&bytes, &[], *NOW);
            let _ = verifier.verify(&FIXTURE.1, &[bytes], *NOW);
        }

        #[test]
        fn arbitrary_text_in_pem_armour_never_panics(text in ".{0,512}", bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let (verifier, _) = &*FIXTURE;
            let armoured = format!("-----BEGIN CERTIFICATE-----\n{text}\n-----END CERTIFICATE-----\n");
            let _ = verifier.verify(armoured.as_bytes(), &[], *NOW);
            let _ = verifier.verify(pem(&bytes).as_bytes(), &[], *NOW);
            let _ = CertificateVerifier::from_pem(&armoured);
        }

        #[test]
        fn corrupted_certificates_never_panic_and_are_never_accepted(index in any::<prop::sample::Index>(), xor in 1u8..) {
            let (verifier, der) = &*FIXTURE;
            let mut corrupted = der.clone();
            let at = index.index(corrupted.len());
            corrupted[at] ^= xor;
            prop_assert!(verifier.verify(&corrupted, &[], *NOW).is_err());
        }
    }
}
