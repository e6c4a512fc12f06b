"""Certificates and keys of a review package: the sender's PKCS#12, recipients' PEMs.

A package is signed with the sender's PKCS#12 (key, certificate and chain) and
encrypted for recipients' X.509 certificates; the receiving body decrypts it with its
own PKCS#12. Every refusal is one sentence naming the file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pyhanko.sign import signers

from oversight.errors import InputFileError, UsageError
from oversight.report.sign import open_pkcs12, pkcs12_signer
from oversight.safefile import read_capped

__all__ = ["Identity", "describe", "fingerprint", "load_certificates", "load_identity",
           "recipient_problem", "subject_text", "to_asn1", "validity_problem"]

#: A certificate or key file larger than this is refused (real ones are a few KiB).
MAX_KEY_FILE = 1 << 20


@dataclass(frozen=True)
class Identity:
    """A PKCS#12 opened: the private key, its certificate, the chain, and a signer."""

    path: Path
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    signer: signers.SimpleSigner


def subject_text(cert: x509.Certificate) -> str:
    """The certificate's subject as one line (RFC 4514)."""
    return cert.subject.rfc4514_string()


def issuer_text(cert: x509.Certificate) -> str:
    return cert.issuer.rfc4514_string()


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate (DER), lowercase hex."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def common_name(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


def organisation(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(attrs[0].value) if attrs else None


def describe(cert: x509.Certificate) -> dict[str, str]:
    """What a package states about a certificate: subject, issuer, SHA-256, validity."""
    return {"subject": subject_text(cert), "issuer": issuer_text(cert),
            "sha256": fingerprint(cert),
            "valid_until": cert.not_valid_after_utc.isoformat()}


def to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def validity_problem(cert: x509.Certificate, who: str,
                     now: dt.datetime | None = None) -> str | None:
    """Why ``cert`` is not valid now (expired, or not yet valid), or None."""
    now = now or dt.datetime.now(dt.UTC)
    if cert.not_valid_after_utc < now:
        return (f"{who} ({subject_text(cert)}) expired on "
                f"{cert.not_valid_after_utc:%Y-%m-%d}.")
    if cert.not_valid_before_utc > now + dt.timedelta(minutes=5):
        return (f"{who} ({subject_text(cert)}) is valid only from "
                f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC.")
    return None


def _key_usage(cert: x509.Certificate) -> x509.KeyUsage | None:
    try:
        return cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None


def signing_problem(cert: x509.Certificate, path: Path) -> str | None:
    """Why the certificate in ``path`` cannot sign a package, or None."""
    problem = validity_problem(cert, f"The certificate in {path.name}")
    if problem is not None:
        return problem
    ku = _key_usage(cert)
    if ku is not None and not (ku.digital_signature or ku.content_commitment):
        return (f"The certificate in {path.name} is not meant for signing: its key usage "
                "lacks digitalSignature and nonRepudiation.")
    return None


def recipient_problem(cert: x509.Certificate, where: str) -> str | None:
    """Why a package cannot be encrypted for ``cert`` (read from ``where``), or None."""
    if not isinstance(cert.public_key(), rsa.RSAPublicKey):
        return (f"The recipient certificate {where} ({subject_text(cert)}) holds no RSA key; "
                "CMS key transport needs an RSA certificate.")
    problem = validity_problem(cert, f"The recipient certificate {where}")
    if problem is not None:
        return problem
    ku = _key_usage(cert)
    if ku is not None and not ku.key_encipherment:
        return (f"The recipient certificate {where} ({subject_text(cert)}) is not meant for "
                "encryption: its key usage lacks keyEncipherment; ask the recipient for "
                "their encryption certificate.")
    return None


def load_certificates(path: Path, what: str = "certificate") -> list[x509.Certificate]:
    """Every certificate in a PEM file (one or more), or the one in a DER file."""
    path = Path(path)
    data = read_capped(path, MAX_KEY_FILE, what)
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise InputFileError(f"The {what} {path} is not an X.509 certificate (PEM or "
                             "DER).") from None
    if not certs:
        raise InputFileError(f"The {what} {path} holds no certificate.")
    return certs


def load_identity(path: Path, passphrase: bytes | None) -> Identity:
    """Open a PKCS#12 file; tell a wrong passphrase apart from a file that is no key."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"The key file {path} does not exist.")
    data = read_capped(path, MAX_KEY_FILE, "key file")
    key, cert, chain = open_pkcs12(data, path.name, passphrase)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InputFileError(f"The key in {path.name} is not an RSA key; review packages "
                             "use RSA certificates (CMS key transport).")
    signer = pkcs12_signer(key, cert, chain, path.name)
    return Identity(path, key, cert, tuple(chain or ()), signer)
