#!/usr/bin/env python3
"""Writes the fuzz targets' fixed keys (fuzz/data/) and the seed inputs that need key material (a CA, a client
certificate and a CSR, a JWKS and JWTs signed with its key), with Python's `cryptography`. Run once; the outputs are
committed, so neither the fuzzers nor the tests need Python. The keys are test keys, published on purpose."""

import base64
import datetime
import json
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HERE = os.path.dirname(os.path.abspath(__file__))


def write(path, data):
    path = os.path.join(HERE, path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as out:
        out.write(data if isinstance(data, bytes) else data.encode())


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Fuzz"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def at(year):
    return datetime.datetime(year, 1, 1, tzinfo=datetime.timezone.utc)


pem = serialization.Encoding.PEM
der = serialization.Encoding.DER
pkcs8 = serialization.PrivateFormat.PKCS8

# The CA (P-256, 2025..2100) the certificate target trusts and signs CSRs with.
ca_key = ec.generate_private_key(ec.SECP256R1())
ca = (
    x509.CertificateBuilder()
    .subject_name(name("Fuzz CA"))
    .issuer_name(name("Fuzz CA"))
    .public_key(ca_key.public_key())
    .serial_number(1)
    .not_valid_before(at(2025))
    .not_valid_after(at(2100))
    .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    .add_extension(
        x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
    )
    .sign(ca_key, hashes.SHA256())
)
write("data/ca.pem", ca.public_bytes(pem))
write("data/ca.key.pem", ca_key.private_bytes(pem, pkcs8, serialization.NoEncryption()))

client_key = ec.generate_private_key(ec.SECP256R1())
client = (
    x509.CertificateBuilder()
    .subject_name(name("device-1"))
    .issuer_name(ca.subject)
    .public_key(client_key.public_key())
    .serial_number(2)
    .not_valid_before(at(2025))
    .not_valid_after(at(2099))
    .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
    .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    .sign(ca_key, hashes.SHA256())
)
write("corpus/certificate/client.der", client.public_bytes(der))
write("corpus/certificate/client.pem", client.public_bytes(pem))
write("corpus/certificate/ca.der", ca.public_bytes(der))
csr = x509.CertificateSigningRequestBuilder().subject_name(name("enrollee")).sign(client_key, hashes.SHA256())
write("corpus/certificate/csr.der", csr.public_bytes(der))
write("corpus/certificate/csr.pem", csr.public_bytes(pem))

# The external JWT signer's key: a JWKS of one P-256 key, and the same key as a PEM.
jwt_key = ec.generate_private_key(ec.SECP256R1())
numbers = jwt_key.public_key().public_numbers()
jwk = {
    "kty": "EC",
    "crv": "P-256",
    "kid": "fuzz-es256",
    "use": "sig",
    "alg": "ES256",
    "x": b64url(numbers.x.to_bytes(32, "big")),
    "y": b64url(numbers.y.to_bytes(32, "big")),
}
jwks = json.dumps({"keys": [jwk]}, indent=2)
write("data/jwks.json", jwks)
write(
    "data/jwt-signer.pem",
    jwt_key.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo),
)


def jwt(claims, header=None):
    header = header or {"alg": "ES256", "typ": "JWT", "kid": "fuzz-es256"}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    r, s = utils.decode_dss_signature(jwt_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


claims = {
    "iss": "https://signer.example",
    "aud": ["identity-platform"],
    "sub": "8f14e45f-ceea-467f-a0e4-7a1d2b1c3d4e",
    "iat": 1767225600,
    "nbf": 1767225600,
    "exp": 4102444800,
}
write("corpus/jwt/valid.jwt", jwt(claims))
write("corpus/jwt/wrong-audience.jwt", jwt({**claims, "aud": "someone-else"}))
write("corpus/jwt/no-kid.jwt", jwt(claims, {"alg": "ES256"}))
write("corpus/jwt/alg-none.jwt", b64url(b'{"alg":"none"}') + "." + b64url(json.dumps(claims).encode()) + ".")
write("corpus/jwt/jwks.json", jwks)
write("corpus/jwt/signer.pem", jwt_key.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo))
