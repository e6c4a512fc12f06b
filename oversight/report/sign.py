"""Embedding the manifest, signing a report (PAdES), test certificates, and verification.

Why it is built this way:

- The manifest (`oversight-manifest.json`) is attached to the PDF *before* signing, so the
  signature covers it: a verifier can tie the visible pages (which print the manifest's
  SHA-256 and the number of findings) to the machine-readable data, and both to the signer.
- The signature is a PAdES baseline signature (SubFilter ``ETSI.CAdES.detached``), which
  Adobe Reader, poppler's ``pdfsig`` and EU validators understand; B-B by default, B-T when
  an RFC 3161 time-stamping server is given. Signing appends an incremental update and
  must be the last write: anything appended afterwards leaves the signature intact but
  no longer covering the whole file, which `verify_report` reports as a modification.
- Verification uses pyHanko's validator offline (no fetching of certificates or
  revocation data), with only the trust roots the user names, so the answer does not
  depend on the machine's trust store or on the network.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, overload

from asn1crypto import cms as asn1_cms  # type: ignore[import-untyped]
from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from asn1crypto import pkcs12 as asn1_pkcs12
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps import HTTPTimeStamper, TimestampRequestError
from pyhanko.sign.validation import (
    EmbeddedPdfSignature,
    PdfSignatureStatus,
    SignatureCoverageLevel,
    validate_pdf_signature,
)
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash
from pypdf import PdfReader

from db.keyslots import write_atomic
from oversight.errors import AuthenticationError, InputFileError, UsageError
from oversight.report import manifest as report_manifest
from oversight.report.pdfio import is_signed, open_pdf, page_box

__all__ = [
    "MANIFEST_NAME",
    "NONE",
    "NOT_CHECKED",
    "SIGNATURE_FIELD",
    "ReportVerification",
    "SignerIdentity",
    "create_selfsigned",
    "embed_manifest",
    "sign_pdf",
    "verify_report",
]

MANIFEST_NAME = report_manifest.NAME
"""Name of the embedded manifest; `verify_report` looks for exactly this name."""

NONE = "none"
"""What a verification line says for a value that is missing."""

NOT_CHECKED = "not checked"
"""What a verification line says for a check that could not run."""

SIGNATURE_FIELD = "OversightSignature"
"""Name of the signature field `sign_pdf` creates."""

KDF_ROUNDS = 600_000
"""PBKDF2-SHA256 rounds protecting the PKCS#12 files we write (OWASP's 2023 figure)."""

DOCUMENT_SIGNING_EKU = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
"""id-kp-documentSigning (RFC 9336)."""

DEFAULT_BOX_SIZE = (220.0, 72.0)
DEFAULT_BOX_MARGIN = 36.0

# pyHanko logs expected outcomes ("self-signed", "no path to a trust root") at ERROR
# level with tracebacks. Without any handler configured, Python's last-resort handler
# would print them on stderr in the middle of `verify-report` output. A NullHandler on
# the library loggers silences only that fallback; an application that configures
# logging still receives the records.
for _name in ("pyhanko", "pyhanko_certvalidator"):
    logging.getLogger(_name).addHandler(logging.NullHandler())


# --------------------------------------------------------------------------- manifest


def embed_manifest(pdf: bytes, manifest: dict[str, Any]) -> bytes:
    """Attach the manifest before signing (`oversight.report.manifest.embed`, the one
    embedder the report builder uses too): its canonical JSON as ``oversight-manifest.json``.
    The same manifest twice is harmless; a different one, or a signed PDF, is refused."""
    return report_manifest.embed(pdf, manifest)


# --------------------------------------------------------------------------- signing


def sign_pdf(pdf: bytes, p12: Path, passphrase: bytes | None, *, visible: bool = True,
             box: tuple[float, float, float, float] | None = None, page: int = -1,
             signer_name: str | None = None, timestamp_url: str | None = None,
             reason: str = "Audit report", location: str | None = None) -> bytes:
    """Sign ``pdf`` with the key in ``p12``: PAdES B-B, or B-T with ``timestamp_url``.

    The signature is appended as an incremental update and must be the last change to
    the file. A visible signature goes in ``box`` (x1, y1, x2, y2 in points, origin at the
    bottom left) on ``page`` (0-based; negative counts from the end), by default the
    bottom right corner of the last page; its stamp names the signer and the signing
    time. ``visible=False`` makes an invisible signature (readers list it in their
    signature panel).
    """
    reader = open_pdf(pdf, "the report")
    if is_signed(reader):
        raise UsageError("The PDF is already signed; a report carries one signature.")
    try:
        writer = _Writer(io.BytesIO(pdf))
    except PdfError as exc:  # readable leniently (open_pdf), not strictly: not for signing
        raise InputFileError(f"The report is not a readable PDF ({exc}).") from exc
    count, media, found = page_box(writer, page)
    if media is None:
        raise UsageError(f"The report has {count} page(s); there is no page {page}.")
    page_ix = page % count
    writer.ow_page = (page_ix, found)
    spec_box = _field_box(box, media) if visible else None
    signer, cert = _load_signer(Path(p12), passphrase)
    _check_usable(cert, Path(p12))
    name = signer_name or _common_name(cert) or cert.subject.rfc4514_string()
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD, md_algorithm="sha256", reason=reason,
        location=location, name=name, subfilter=fields.SigSeedSubFilter.PADES,
        signer_key_usage={"digital_signature", "non_repudiation"})
    lines = ["Digitally signed by", "%(signer)s", "Date: %(ts)s", "Reason: %(reason)s"]
    params = {"signer": _stamp_text(name), "reason": _stamp_text(reason)}
    if location:
        lines.append("Location: %(location)s")
        params["location"] = _stamp_text(location)
    style = TextStampStyle(stamp_text="\n".join(lines), border_width=1,
                           timestamp_format="%Y-%m-%d %H:%M:%S %Z")
    timestamper = HTTPTimeStamper(timestamp_url, timeout=30) if timestamp_url else None
    pdf_signer = signers.PdfSigner(
        meta, signer, timestamper=timestamper, stamp_style=style,
        new_field_spec=fields.SigFieldSpec(SIGNATURE_FIELD, on_page=page_ix, box=spec_box))
    try:
        out = pdf_signer.sign_pdf(writer, appearance_text_params=params)
    except TimestampRequestError as exc:
        raise UsageError(f"The time-stamping server {timestamp_url} did not give a "
                         f"timestamp ({exc.__cause__ or exc}); check the URL or sign "
                         "without --timestamp-url (PAdES B-B).") from exc
    except SigningError as exc:
        raise UsageError(f"The report could not be signed: {exc}.") from exc
    result: bytes = out.getvalue()
    return result


class _Writer(IncrementalPdfFileWriter):
    """pyHanko's incremental writer, told where the page to sign on is (`page_box`
    found it, from the back for the last page) so that its signer does not walk the
    page tree from the front again."""

    ow_page: tuple[int, Any] | None = None

    def find_page_for_modification(self, page_ix: int) -> Any:
        if self.ow_page is not None and page_ix == self.ow_page[0]:
            return self.ow_page[1]
        return super().find_page_for_modification(page_ix)  # type: ignore[no-untyped-call]


def _load_signer(p12: Path, passphrase: bytes | None) -> tuple[signers.SimpleSigner,
                                                                  x509.Certificate]:
    """Open the PKCS#12 file; tell a wrong passphrase apart from a file that is no key."""
    try:
        data = p12.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"The signing certificate {p12} does not exist.") from None
    except OSError as exc:
        raise InputFileError(f"The signing certificate {p12} cannot be read: "
                             f"{exc.strerror or exc}.") from exc
    key, cert, chain = open_pkcs12(data, p12.name, passphrase)
    return pkcs12_signer(key, cert, chain, p12.name), cert


def pkcs12_signer(key: PrivateKeyTypes, cert: x509.Certificate,
                  chain: Sequence[x509.Certificate], name: str) -> signers.SimpleSigner:
    """pyHanko's signer for a key and certificates already taken out of a PKCS#12 file
    (open_pkcs12), so the file's deliberately slow key derivation runs once, not twice."""
    try:
        der_key = key.private_bytes(serialization.Encoding.DER,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        registry = SimpleCertificateStore()  # type: ignore[no-untyped-call]
        registry.register_multiple(
            asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
            for c in chain)
        signer = _Signer(
            signing_cert=asn1_x509.Certificate.load(
                cert.public_bytes(serialization.Encoding.DER)),
            signing_key=asn1_keys.PrivateKeyInfo.load(der_key), cert_registry=registry)
    except (ValueError, TypeError) as exc:  # a key type pyHanko cannot sign with
        raise InputFileError(f"{name} cannot be used for signing: {exc}.") from exc
    if isinstance(key, rsa.RSAPrivateKey):
        signer.placeholder = (key.key_size + 7) // 8
        signer.rsa_key = key
    return signer


class _Signer(signers.SimpleSigner):
    """pyHanko's signer, whose dry run (sizing the signature before the real one) gives
    placeholder bytes of an RSA signature's fixed length instead of signing twice, and
    whose RSA PKCS#1 v1.5 signature is made with the key already loaded from the PKCS#12
    file: pyHanko's own `sign_raw` reloads the key from DER for every signature, and
    loading an RSA key re-validates it (its primes), the slow part of signing."""

    placeholder: int | None = None
    rsa_key: rsa.RSAPrivateKey | None = None

    async def async_sign_raw(self, data: bytes, digest_algorithm: str,
                             dry_run: bool = False) -> bytes:
        if dry_run and self.placeholder is not None:
            return bytes(self.placeholder)
        return await super().async_sign_raw(data, digest_algorithm, dry_run)

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        if self.rsa_key is not None and mechanism.signature_algo == "rsassa_pkcs1v15":
            return self.rsa_key.sign(data, PKCS1v15(),
                                     get_pyca_cryptography_hash(digest_algorithm))
        return super().sign_raw(data, digest_algorithm)  # PSS, EC, EdDSA: pyHanko's own


def open_pkcs12(data: bytes, name: str, passphrase: bytes | None
                ) -> tuple[PrivateKeyTypes, x509.Certificate, list[x509.Certificate]]:
    """A PKCS#12 file's key, certificate and chain; each way it can fail is a sentence
    naming the file (not PKCS#12, passphrase missing or wrong, key or certificate
    missing)."""
    try:
        key, cert, chain = pkcs12.load_key_and_certificates(data, passphrase)
    except (ValueError, TypeError) as exc:
        if not _looks_like_pkcs12(data):
            raise InputFileError(f"{name} is not a PKCS#12 (.p12/.pfx) file.") from exc
        if not passphrase:
            raise AuthenticationError(f"{name} needs a passphrase.") from exc
        raise AuthenticationError(f"The passphrase does not open {name}.") from exc
    if key is None or cert is None:
        raise InputFileError(f"{name} does not hold both a private key and its "
                             "certificate; export the key with its certificate chain.")
    return key, cert, list(chain)


def _looks_like_pkcs12(data: bytes) -> bool:
    """True when the bytes parse as a PKCS#12 PFX structure (whatever the passphrase)."""
    try:
        pfx = asn1_pkcs12.Pfx.load(data, strict=True)
        return pfx["version"].native == "v3" and pfx["auth_safe"]["content_type"].native in (
            "data", "signed_data")
    except (ValueError, TypeError, KeyError):
        return False


def _check_usable(cert: x509.Certificate, p12: Path) -> None:
    """Refuse a certificate that readers would reject anyway: out of date, wrong usage."""
    now = dt.datetime.now(dt.UTC)
    if cert.not_valid_after_utc < now:
        raise UsageError(f"The certificate in {p12.name} expired on "
                         f"{cert.not_valid_after_utc:%Y-%m-%d}.")
    if cert.not_valid_before_utc > now + dt.timedelta(minutes=5):
        raise UsageError(f"The certificate in {p12.name} is valid only from "
                         f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC.")
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not (ku.digital_signature or ku.content_commitment):
        raise UsageError(f"The certificate in {p12.name} is not meant for signing: its key "
                         "usage lacks digitalSignature and nonRepudiation.")


def _field_box(box: tuple[float, float, float, float] | None,
               media: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    if box is None:
        w, h = DEFAULT_BOX_SIZE
        right, bottom = media[2] - DEFAULT_BOX_MARGIN, media[1] + DEFAULT_BOX_MARGIN
        box = (right - w, bottom, right, bottom + h)
    x1, y1, x2, y2 = (round(v) for v in box)
    if x2 - x1 < 20 or y2 - y1 < 10:
        raise UsageError(f"The signature box {box} is too small or inverted; give "
                         "(x1, y1, x2, y2) in points with x2 > x1 and y2 > y1.")
    return x1, y1, x2, y2


_NO_DECOMPOSITION = {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ı": "i",
                     "Œ": "OE", "œ": "oe", "Ŧ": "T", "ŧ": "t", "Ŋ": "N", "ŋ": "n", "ĸ": "k",
                     "Ŀ": "L", "ŀ": "l", "‐": "-", "‑": "-", "–": "-", "—": "-", "‘": "'",
                     "’": "'", "“": '"', "”": '"'}
"""Letters Unicode does not decompose into a Latin-1 base letter plus accents."""


def _stamp_text(text: str) -> str:
    """Text the stamp's standard font (Courier, WinAnsi) can show.

    pyHanko's built-in font covers Latin-1 only; other letters are shown without their
    accents, or as '?'. The certificate and the signature dictionary keep the full name.
    """
    out = []
    for ch in text:
        if 0x20 <= ord(ch) < 0x7F or 0xA0 <= ord(ch) <= 0xFF:
            out.append(ch)
            continue
        base = _NO_DECOMPOSITION.get(ch) or "".join(
            c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append(base if base and all(0x20 <= ord(c) < 0x7F for c in base) else "?")
    return "".join(out)


def _check_signable_name(name: str) -> None:
    """Refuse a name pyHanko could not sign under: it compares X.509 names after RFC
    4518's string preparation (asn1crypto), which refuses code points Unicode 3.2 did
    not assign (emoji among them) and right-to-left letters mixed with left-to-right
    ones in one name; such a certificate would be written and then refused."""
    try:
        asn1_x509.Name.build({"common_name": name}).hashable  # noqa: B018
    except ValueError as exc:
        raise UsageError(
            f"The name {name!r} cannot be used in a signing certificate: "
            f"{str(exc).rstrip('.')} (X.509 names allow no emoji or other character newer "
            "than Unicode 3.2, nor right-to-left letters mixed with left-to-right ones "
            "in one name).") from None


def _common_name(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


# --------------------------------------------------------------------------- certificates


@overload
def create_selfsigned(name: str, out: Path, passphrase: bytes, *,
                      with_ca: Literal[False] = ..., days: int = ...,
                      email: str | None = ...) -> Path: ...


@overload
def create_selfsigned(name: str, out: Path, passphrase: bytes, *, with_ca: Literal[True],
                      days: int = ..., email: str | None = ...) -> tuple[Path, Path]: ...


@overload
def create_selfsigned(name: str, out: Path, passphrase: bytes, *, with_ca: bool,
                      days: int = ..., email: str | None = ...) -> Path | tuple[Path, Path]:
    ...


def create_selfsigned(name: str, out: Path, passphrase: bytes, *, with_ca: bool = False,
                      days: int = 825, email: str | None = None) -> Path | tuple[Path, Path]:
    """Make a test signing key and certificate in ``out`` (PKCS#12, mode 0600).

    For trying the signing workflow without an organisation's certificate: RSA-3072,
    key usage digitalSignature + nonRepudiation (and keyEncipherment, so the same test
    certificate can receive a review package), extended key usage documentSigning and
    emailProtection (what Adobe Reader accepts for documents). With ``with_ca``, a tiny
    CA issues the certificate instead of the certificate signing itself; its
    certificate (public only) goes to ``out.with_suffix(".ca.pem")`` so that verifiers
    can pass it as a trust root, and its key to ``<out stem>-ca.p12`` under the same
    passphrase (keep both key files out of any repository). Returns the PKCS#12 path,
    or (PKCS#12 path, CA certificate path). Existing files are never overwritten.
    """
    out = Path(out)
    name = name.strip()
    if not name:
        raise UsageError("Give the signer's name (the certificate's common name).")
    if len(name) > 64:
        raise UsageError("The name may have at most 64 characters (X.509 common name).")
    _check_signable_name(name)
    if not passphrase:
        raise UsageError("Give a passphrase to protect the private key.")
    if days < 1:
        raise UsageError("The certificate must be valid for at least one day.")
    if not out.parent.is_dir():
        raise UsageError(f"The folder {out.parent} does not exist.")
    ca_pem, ca_p12 = out.with_suffix(".ca.pem"), out.with_name(out.stem + "-ca.p12")
    targets = [out, ca_pem, ca_p12] if with_ca else [out]
    for target in targets:
        if target.exists():
            raise UsageError(f"{target} already exists; choose another file name.")
    now = dt.datetime.now(dt.UTC)
    start, end = now - dt.timedelta(minutes=5), now + dt.timedelta(days=days)
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    subject_attrs = [x509.NameAttribute(NameOID.COMMON_NAME, name),
                     x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME,
                                        "Oversight Workstation test certificate")]
    if email:
        subject_attrs.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, email))
    subject = x509.Name(subject_attrs)
    builder = (x509.CertificateBuilder()
               .subject_name(subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=True, content_commitment=True, key_encipherment=True,
                   data_encipherment=False, key_agreement=False, key_cert_sign=False,
                   crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage(
                   [DOCUMENT_SIGNING_EKU, ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                   critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False))
    if email:
        try:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
        except (ValueError, TypeError) as exc:
            raise UsageError(f"{email!r} is not a usable e-mail address ({exc}).") from exc
    if not with_ca:
        cert = (builder.issuer_name(subject)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        write_atomic(out, write_pkcs12(name, key, cert, [], passphrase))
        return out
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    # The CA is named by the signer's name and an OU of its own: "<name> test CA" in one
    # common name mixed a right-to-left name with Latin words, which X.509 name
    # comparison (RFC 4518, under pyHanko) refuses, so no Arabic or Hebrew name signed.
    ca_name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, name),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME,
                           "Oversight Workstation test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (x509.CertificateBuilder()
               .subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=False, content_commitment=False, key_encipherment=False,
                   data_encipherment=False, key_agreement=False, key_cert_sign=True,
                   crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(ca_ski, critical=False)
               .sign(ca_key, hashes.SHA256()))
    cert = (builder.issuer_name(ca_name)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                ca_ski), critical=False)
            .sign(ca_key, hashes.SHA256()))
    write_atomic(ca_p12, write_pkcs12(f"{name} test CA", ca_key, ca_cert, [], passphrase))
    write_atomic(ca_pem, ca_cert.public_bytes(serialization.Encoding.PEM))
    write_atomic(out, write_pkcs12(name, key, cert, [ca_cert], passphrase))
    return out, ca_pem


def write_pkcs12(name: str, key: rsa.RSAPrivateKey, cert: x509.Certificate,
                 chain: Sequence[x509.Certificate], passphrase: bytes) -> bytes:
    """A PKCS#12 file holding ``key`` encrypted under ``passphrase`` (PBES2: PBKDF2-SHA256,
    `KDF_ROUNDS` rounds, AES-256-CBC), and ``cert`` and ``chain`` in clear.

    The certificates are public (every signed report carries them), so they are not
    encrypted: opening the file then derives one key from the passphrase, not two. The
    file has no password MAC: cryptography writes it with 2,048 rounds whatever
    ``kdf_rounds`` says, which would let anyone holding the file test passphrases 300
    times faster than against the key itself; without it, the key's own encryption is
    the only test of a passphrase. Nothing then binds the certificate to the file, but
    none is needed: cryptography's reader takes as the key's certificate only one that
    holds the key's public key (`open_pkcs12` refuses a file without one). Both parts are
    cryptography's own encodings, put side by side."""
    encryption = (serialization.PrivateFormat.PKCS12.encryption_builder()
                  .kdf_rounds(KDF_ROUNDS)
                  .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
                  .hmac_hash(hashes.SHA256())
                  .build(passphrase))
    label = name.encode("utf-8")
    shrouded = _safe_bags(pkcs12.serialize_key_and_certificates(label, key, None, None,
                                                                encryption))
    certs = _safe_bags(pkcs12.serialize_key_and_certificates(
        label, None, cert, list(chain) or None, serialization.NoEncryption()))
    if len(shrouded) != 1 or shrouded[0]["bag_id"].native != "pkcs8_shrouded_key_bag" \
            or not certs or any(b["bag_id"].native != "cert_bag" for b in certs):
        raise AssertionError("cryptography's PKCS#12 encoding is not as expected")
    # The key and its certificate share a local key id (the certificate's SHA-1, as
    # cryptography and OpenSSL write it when they encode both together).
    key_id = cert.fingerprint(hashes.SHA1())
    for bag in (shrouded[0], certs[0]):
        bag["bag_attributes"] = asn1_pkcs12.Attributes(
            [a for a in bag["bag_attributes"] if a["type"].native != "local_key_id"]
            + [asn1_pkcs12.Attribute({"type": "local_key_id", "values": [key_id]})])
    safe = asn1_pkcs12.AuthenticatedSafe([
        asn1_cms.ContentInfo({"content_type": "data", "content":
                              asn1_pkcs12.SafeContents(certs).dump()}),
        asn1_cms.ContentInfo({"content_type": "data", "content":
                              asn1_pkcs12.SafeContents(shrouded).dump()})])
    pfx = asn1_pkcs12.Pfx({"version": "v3", "auth_safe": asn1_cms.ContentInfo(
        {"content_type": "data", "content": safe.dump()})})
    data: bytes = pfx.dump()
    return data


def _safe_bags(pfx: bytes) -> list[Any]:
    """The safe bags of a PKCS#12 file whose contents are not encrypted as a whole."""
    bags: list[Any] = []
    for info in asn1_pkcs12.Pfx.load(pfx).authenticated_safe:
        if info["content_type"].native != "data":
            raise AssertionError("cryptography encrypted a part of PKCS#12 it was not "
                                 "asked to")
        bags.extend(asn1_pkcs12.SafeContents.load(info["content"].native))
    return bags


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class SignerIdentity:
    """Who signed, as the signer's certificate says."""

    common_name: str | None
    subject: str
    issuer: str
    serial: str
    """Serial number, hexadecimal."""
    sha256: str
    """SHA-256 fingerprint of the certificate (DER), lowercase hex."""
    valid_until: str


@dataclass(frozen=True)
class ReportVerification:
    """What `verify_report` found; ``ok`` is the verdict, ``problems`` say why not."""

    file: str | None
    signature_found: bool
    signatures: int
    """Signatures in the file (a report carries one)."""
    intact: bool | None
    """The signed bytes hash to the digest in the signature."""
    valid: bool | None
    """The signature over that digest verifies with the signer's certificate."""
    coverage: str | None
    """"entire file", "entire revision" (later updates appended), ..."""
    modified_after_signing: bool | None
    modification_level: str | None
    """pyHanko's judgement of the changes after signing (NONE when there are none)."""
    profile: str | None
    """"PAdES B-B", "PAdES B-T", or the non-PAdES kind of signature."""
    signer: SignerIdentity | None
    signing_time: str | None
    """Signing time as claimed by the signer (the PDF's /M), ISO 8601."""
    timestamp: str | None
    """Time from the RFC 3161 timestamp token (PAdES B-T), ISO 8601."""
    timestamp_ok: bool | None
    trust: str
    """"trusted", "untrusted", "untrusted (no trust roots given)", "self-signed" (no roots
    given, and the certificate signed itself), or "not checked (the signature does not
    verify)"."""
    trusted: bool
    """The signer's certificate chains to one of the given trust roots."""
    trust_roots: list[str]
    bottom_line: bool | None
    """pyHanko's overall judgement (includes trust, so False without trust roots)."""
    manifest_found: bool
    manifest_digest: str | None
    findings: int | None
    pages_show_digest: bool
    pages_show_findings: bool
    problems: list[str] = field(default_factory=list)
    manifest: dict[str, Any] | None = field(default=None, repr=False)
    """The embedded manifest as read from the signed revision (e.g. its chain head, for
    `oversight verify --against`)."""

    @property
    def ok(self) -> bool:
        """Everything holds; trust counts only when trust roots were given."""
        return not self.problems

    @property
    def changed_after_signing(self) -> bool | None:
        """Whether the file differs from what was signed, either way: the signed bytes
        altered (``intact`` False) or content appended after the signature
        (``modified_after_signing``). None when there was no signature to check."""
        if self.intact is False or self.modified_after_signing is True:
            return True
        if self.intact is None or self.modified_after_signing is None:
            return None
        return False

    def checks(self) -> list[tuple[str, str]]:
        """The verification as (check, result) lines, in the one vocabulary the CLI and
        the workstation both show as is: each question is asked once, so two lines can
        never seem to contradict each other; a missing value is always "none", and a
        check that could not run says "not checked"."""
        s = self.signer

        def said(value: Any) -> str:
            return NONE if value is None or value == "" else str(value)

        def when(value: str | None) -> str:  # "2026-11-30 12:58:16+00:00"
            if not value:
                return NONE
            return re.sub(r"^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.\d+)?", r"\1 \2", value)

        def answer(value: bool | None, yes: str = "yes", no: str = "no") -> str:
            return NOT_CHECKED if value is None else (yes if value else no)

        if self.intact is False:
            changed = "yes: the signed bytes no longer match the signature"
        elif self.modified_after_signing:
            changed = (f"yes: content was added after signing (the signature covers the "
                       f"{self.coverage})")
        else:
            changed = answer(self.changed_after_signing)
        if self.intact is False:
            value = NOT_CHECKED + " (the signed bytes were altered)"
        else:
            value = answer(self.valid, "verifies with the signer's certificate",
                           "does not verify")
        rows = [
            ("Signature", "present" if self.signature_found else NONE),
            ("Changed after signing", changed),
            ("Signature value", value),
            ("Signature covers", said(self.coverage)),
            ("Profile", said(self.profile)),
            ("Signed by", said((s.common_name or s.subject) if s else None)),
            ("Issued by", said(s.issuer if s else None)),
            ("Certificate valid until", when(s.valid_until if s else None)),
            ("Certificate SHA-256", said(s.sha256 if s else None)),
            ("Signing time (as claimed)", when(self.signing_time)),
            ("Trusted time-stamp", when(self.timestamp) if self.timestamp_ok is not False
             else f"{when(self.timestamp)} (does not verify)"),
            ("Trust", self.trust),
            ("Embedded manifest", "found" if self.manifest_found else NONE),
            ("Manifest SHA-256", said(self.manifest_digest)),
            ("Findings in the manifest", NONE if self.findings is None
             else f"{self.findings:,}"),
            ("Pages print the manifest digest", answer(
                self.pages_show_digest if self.manifest_found else None)),
            ("Pages print the findings count", answer(
                self.pages_show_findings if self.manifest_found else None)),
        ]
        if self.signatures > 1:
            rows.insert(1, ("Signatures", str(self.signatures)))
        return rows

    def to_json(self) -> dict[str, Any]:
        s = self.signer
        return {
            "ok": self.ok, "file": self.file, "signature_found": self.signature_found,
            "signatures": self.signatures, "intact": self.intact, "valid": self.valid,
            "changed_after_signing": self.changed_after_signing,
            "coverage": self.coverage, "modified_after_signing": self.modified_after_signing,
            "modification_level": self.modification_level, "profile": self.profile,
            "signer": None if s is None else s.common_name or s.subject,
            "signer_subject": None if s is None else s.subject,
            "signer_issuer": None if s is None else s.issuer,
            "signer_serial": None if s is None else s.serial,
            "signer_sha256": None if s is None else s.sha256,
            "signer_valid_until": None if s is None else s.valid_until,
            "signing_time": self.signing_time, "timestamp": self.timestamp,
            "timestamp_ok": self.timestamp_ok, "trust": self.trust, "trusted": self.trusted,
            "trust_roots": list(self.trust_roots), "bottom_line": self.bottom_line,
            "manifest_found": self.manifest_found, "manifest_digest": self.manifest_digest,
            "findings": self.findings, "pages_show_digest": self.pages_show_digest,
            "pages_show_findings": self.pages_show_findings,
            "problems": list(self.problems),
            "checks": [{"check": c, "result": r} for c, r in self.checks()],
        }


_COVERAGE = {
    SignatureCoverageLevel.ENTIRE_FILE: "entire file",
    SignatureCoverageLevel.ENTIRE_REVISION: "entire revision",
    SignatureCoverageLevel.CONTIGUOUS_BLOCK_FROM_START: "contiguous block from the start",
    SignatureCoverageLevel.UNCLEAR: "unclear",
}

_TRUST_PROBLEMS = {
    "NO_CERTIFICATE_CHAIN_FOUND": "no chain of certificates leads to a given trust root",
    "CHAIN_CONSTRAINTS_FAILURE": "its chain does not lead to a given trust root or breaks "
                                 "a constraint (key usage, CA flags)",
    "CERTIFICATE_CHAIN_GENERAL_FAILURE": "its certificate chain could not be validated",
    "OUT_OF_BOUNDS_NO_POE": "it is outside its validity period",
    "OUT_OF_BOUNDS_NOT_REVOKED": "it is outside its validity period",
    "EXPIRED": "it has expired",
    "NOT_YET_VALID": "it is not yet valid",
    "REVOKED": "it has been revoked",
    "REVOKED_NO_POE": "it has been revoked",
    "TRY_LATER": "its revocation status is unknown",
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": "it uses an algorithm no longer accepted",
}

_DIGEST_RE = re.compile(r"Manifest SHA[-\u2010\u2011\u2013]?256:\s*((?:[0-9a-fA-F]\s*){64})")
_FINDINGS_RE = re.compile(r"Findings in this report:\s*(\d[\d,]*)")


def verify_report(pdf: bytes | Path, trust: list[Path] | None = None) -> ReportVerification:
    """Check a signed report: signature, coverage, signer, trust, and the manifest.

    Offline: no certificates or revocation data are fetched. Without trust roots the
    signer's identity is reported but not vouched for ("self-signed" or "untrusted (no
    trust roots given)") and that alone does not make the result fail; with trust roots
    the signer's chain must validate against them. Any incremental update after the
    signature (a note, a form fill, a metadata change, another signature) counts as a
    modification. The manifest and page checks read the revision the signature covers.
    """
    if isinstance(pdf, Path):
        file_name: str | None = str(pdf)
        try:
            data = pdf.read_bytes()
        except FileNotFoundError:
            raise InputFileError(f"{pdf}: no such file.") from None
        except OSError as exc:
            raise InputFileError(f"{pdf} cannot be read: {exc.strerror or exc}.") from exc
    else:
        file_name, data = None, bytes(pdf)
    roots = _load_trust_roots(trust or [])
    if b"%PDF-" not in data[:1024]:
        raise InputFileError(f"{file_name or 'The file'} is not a PDF file.")
    reader = open_pdf(data, file_name or "the file")
    problems: list[str] = []
    try:
        sigs = [s for s in reader.embedded_signatures if s.sig_object_type == "/Sig"]
    except Exception as exc:  # a damaged signature dictionary: the file is unusable
        raise InputFileError(f"The signatures in {file_name or 'the PDF'} cannot be read "
                             f"({exc}).") from exc
    facts: dict[str, Any] = {
        "signature_found": bool(sigs), "signatures": len(sigs), "intact": None,
        "valid": None, "coverage": None, "modified_after_signing": None,
        "modification_level": None, "profile": None, "signer": None, "signing_time": None,
        "timestamp": None, "timestamp_ok": None, "trusted": False, "bottom_line": None,
        "trust": "untrusted (no trust roots given)" if not roots else "untrusted",
    }
    signed_part = data
    if not sigs:
        problems.append("The PDF carries no digital signature.")
    else:
        sig = sigs[0]
        signed_part = _check_signature(sig, data, roots, facts, problems)
        if len(sigs) > 1:
            problems.append(f"The PDF carries {len(sigs)} signatures; a report is signed "
                            "once, so the later ones were added after it was issued.")
    manifest = _check_manifest(signed_part, facts, problems)
    return ReportVerification(
        file=file_name, trust_roots=[str(p) for p in trust or []], problems=problems,
        manifest_found=manifest is not None, manifest=manifest, **facts)


def _check_signature(sig: EmbeddedPdfSignature, data: bytes, roots: list[asn1_x509.Certificate],
                     facts: dict[str, Any], problems: list[str]) -> bytes:
    """Validate the first signature; fill ``facts``; return the bytes it covers."""
    context = ValidationContext(trust_roots=roots, allow_fetching=False)
    usage = KeyUsageConstraints(key_usage={"digital_signature", "non_repudiation"},
                                match_all_key_usages=False)
    try:
        status: PdfSignatureStatus = validate_pdf_signature(
            sig, signer_validation_context=context, key_usage_settings=usage)
    except Exception as exc:  # a damaged signature is a finding, not a crash
        problems.append(f"The signature cannot be validated: {exc}.")
        return data
    cert = x509.load_der_x509_certificate(status.signing_cert.dump())
    facts["intact"], facts["valid"] = bool(status.intact), bool(status.valid)
    if not status.intact:
        problems.append("The signed content was changed after signing: its digest does not "
                        "match the one in the signature.")
    elif not status.valid:
        problems.append("The signature value does not verify with the signer's certificate.")
    coverage = status.coverage
    facts["coverage"] = _COVERAGE.get(coverage, str(coverage)) if coverage else None
    level = status.modification_level
    facts["modification_level"] = level.name if level is not None else None
    modified = coverage != SignatureCoverageLevel.ENTIRE_FILE
    facts["modified_after_signing"] = modified
    if modified:
        problems.append("The file was modified after signing: the signature does not cover "
                        f"the whole file (coverage: {facts['coverage']}; pyHanko's judgement "
                        f"of the later changes: {facts['modification_level']}).")
    if status.docmdp_ok is False:
        problems.append("The changes after signing break the signature's modification "
                        "policy.")
    if not status.seed_value_ok:
        problems.append(f"The signature breaks its field's constraints: "
                        f"{status.seed_value_constraint_error}.")
    subfilter = str(sig.sig_object.get("/SubFilter", ""))
    ts = status.timestamp_validity
    if subfilter == "/ETSI.CAdES.detached":
        facts["profile"] = "PAdES B-T" if ts is not None else "PAdES B-B"
    else:
        facts["profile"] = f"{subfilter.lstrip('/') or 'unknown'} (not PAdES)"
    if status.signer_reported_dt is not None:
        facts["signing_time"] = status.signer_reported_dt.isoformat()
    if ts is not None:
        facts["timestamp"] = ts.timestamp.isoformat()
        facts["timestamp_ok"] = bool(ts.intact and ts.valid)
        if not facts["timestamp_ok"]:
            problems.append("The signature's timestamp token does not verify.")
        elif roots and not ts.trusted:
            problems.append("The timestamp authority does not chain to the given trust "
                            "roots; add the time-stamping authority's root with --trust.")
    facts["signer"] = _identity(cert)
    facts["bottom_line"] = bool(status.bottom_line)
    # Trust is about the signer's certificate: does it chain to a given root? pyHanko
    # only builds the chain once the signature value verifies.
    chain_ok = status.validation_path is not None and status.trust_problem_indic is None
    facts["trusted"] = bool(roots) and chain_ok
    if not status.valid:
        facts["trust"] = "not checked (the signature does not verify)"
    elif roots and chain_ok:
        facts["trust"] = "trusted"
    elif roots:
        indic = status.trust_problem_indic
        code = str(getattr(indic, "name", indic))
        why = _TRUST_PROBLEMS.get(code, code) if indic is not None else "no chain was found"
        problems.append(f"The signer's certificate is not trusted against the given trust "
                        f"roots: {why}.")
    elif _self_signed(cert):
        facts["trust"] = "self-signed"
    if roots and not problems and not status.bottom_line:
        problems.append("pyHanko's overall judgement of the signature is negative.")
    start, length = int(sig.byte_range[2]), int(sig.byte_range[3])
    end = start + length
    return data[:end] if 0 < end <= len(data) else data


_DN_NAMES = {NameOID.EMAIL_ADDRESS: "E"}


def _identity(cert: x509.Certificate) -> SignerIdentity:
    return SignerIdentity(
        common_name=_common_name(cert), subject=cert.subject.rfc4514_string(_DN_NAMES),
        issuer=cert.issuer.rfc4514_string(_DN_NAMES), serial=format(cert.serial_number, "X"),
        sha256=cert.fingerprint(hashes.SHA256()).hex(),
        valid_until=cert.not_valid_after_utc.isoformat())


def _self_signed(cert: x509.Certificate) -> bool:
    """Issued by itself: its own key verifies its signature."""
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _load_trust_roots(paths: Sequence[Path]) -> list[asn1_x509.Certificate]:
    """Certificates from PEM (one or several) or DER files."""
    roots: list[asn1_x509.Certificate] = []
    for path in paths:
        path = Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise InputFileError(f"Trust root {path}: no such file.") from None
        except OSError as exc:
            raise InputFileError(f"Trust root {path} cannot be read: "
                                 f"{exc.strerror or exc}.") from exc
        try:
            if asn1_pem.detect(raw):
                found = [asn1_x509.Certificate.load(der)
                         for kind, _h, der in asn1_pem.unarmor(raw, multiple=True)
                         if kind == "CERTIFICATE"]
            else:
                found = [asn1_x509.Certificate.load(raw)]
            for cert in found:
                _ = cert.subject.native  # force parsing: garbage fails here, not later
        except (ValueError, TypeError, KeyError) as exc:
            raise InputFileError(f"Trust root {path} is not a certificate (PEM or DER).") \
                from exc
        if not found:
            raise InputFileError(f"Trust root {path} holds no certificate.")
        roots.extend(found)
    return roots


def _check_manifest(pdf: bytes, facts: dict[str, Any],
                    problems: list[str]) -> dict[str, Any] | None:
    """Find the manifest, recompute its digest, and compare with what the pages print."""
    facts.update(manifest_digest=None, findings=None, pages_show_digest=False,
                 pages_show_findings=False)
    try:
        reader = PdfReader(io.BytesIO(pdf))
    except Exception as exc:  # damaged structure: a finding, not a crash
        problems.append(f"The embedded files cannot be read ({exc}).")
        return None
    found = report_manifest.read(reader)
    problems += found.problems
    doc = found.doc
    if doc is None:
        return None
    digest, count = report_manifest.digest(doc), len(doc["findings"])
    facts.update(manifest_digest=digest, findings=count)
    try:
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except Exception as exc:  # as above: report, do not crash
        problems.append(f"The text of the pages cannot be read ({exc}).")
        return doc
    printed = {re.sub(r"\s+", "", m).lower() for m in _DIGEST_RE.findall(text)}
    if not printed:
        problems.append("The pages do not print the manifest's SHA-256 "
                        "(\"Manifest SHA-256: ...\").")
    elif printed != {digest}:
        other = ", ".join(sorted(printed - {digest})) or "none"
        problems.append(f"The pages print the manifest SHA-256 {other}, but the embedded "
                        f"manifest's SHA-256 is {digest}.")
    else:
        facts["pages_show_digest"] = True
    counts = {int(m.replace(",", "")) for m in _FINDINGS_RE.findall(text)}
    if not counts:
        problems.append("The pages do not print the number of findings "
                        "(\"Findings in this report: N\").")
    elif counts != {count}:
        shown = ", ".join(str(c) for c in sorted(counts))
        problems.append(f"The pages say {shown} finding(s), but the embedded manifest "
                        f"lists {count}.")
    else:
        facts["pages_show_findings"] = True
    return doc
