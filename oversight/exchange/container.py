"""The package file: an ASiC-E-style ZIP with a CAdES signature and a CMS envelope.

Layout (ETSI EN 319 162-1, ASiC-E with a CAdES signature), every entry stored
uncompressed, in this order, with fixed times and attributes::

    mimetype                    application/vnd.etsi.asic-e+zip (first, stored)
    metadata.json               what a mail gateway may see: nothing personal
    payload.p7m                 CMS EnvelopedData (RFC 5652), AES-256, RSA key transport
    META-INF/ASiCManifest.xml   each data object with its SHA-256
    META-INF/signature001.p7s   detached CAdES (CMS SignedData with signing-certificate-v2)
                                over the manifest

The signature covers the manifest, the manifest covers both data objects, and the
ZIP around them is written the same way every time, so reading checks all of it: a
package whose ZIP bytes are not exactly those this layout gives for its entries (one
flipped byte in a header or a date) is refused, as is any entry beyond the five, any
name that leaves the package (``../x``), any compressed entry, a truncated file.
Anyone can check a package without this program (docs/exchange.md gives the
``openssl cms`` commands).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

from asn1crypto import cms  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator import ValidationContext

from oversight.errors import InputFileError
from oversight.exchange import keys

__all__ = ["FORMAT", "FORMAT_VERSION", "MIMETYPE", "PackageError", "SignatureCheck",
           "decrypt", "encrypt", "manifest_xml", "read_container", "read_zip", "sign",
           "verify_signature", "write_container", "write_zip"]

MIMETYPE = b"application/vnd.etsi.asic-e+zip"
FORMAT = "oversight-review-package"
FORMAT_VERSION = 1
"""The newest package format this program reads and the one it writes."""
MANIFEST = "META-INF/ASiCManifest.xml"
SIGNATURE = "META-INF/signature001.p7s"
METADATA = "metadata.json"
PAYLOAD = "payload.p7m"
ENTRIES = ("mimetype", METADATA, PAYLOAD, MANIFEST, SIGNATURE)
DATA_OBJECTS = ((METADATA, "application/json"), (PAYLOAD, "application/pkcs7-mime"))
#: The largest package read (1,000 findings with their records are a few MiB).
MAX_PACKAGE = 1 << 30
#: The largest metadata, manifest or signature entry.
MAX_SMALL = 1 << 20

_ASIC = "http://uri.etsi.org/02918/v1.2.1#"
_DS = "http://www.w3.org/2000/09/xmldsig#"
_SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
_TIME = (1980, 1, 1, 0, 0, 0)


class PackageError(InputFileError):
    """A package (or its payload) cannot be used: damaged, forged, not for this reader."""

    code = "package"


# -- ZIP -----------------------------------------------------------------------------------


def write_zip(members: Sequence[tuple[str, bytes]]) -> bytes:
    """The one ZIP this program writes for ``members``: stored, fixed times and modes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3
            info.create_version = 20
            info.extract_version = 20
            info.external_attr = 0o100644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def _leaves(name: str) -> bool:
    """Whether an entry name points outside the folder it would be unpacked in."""
    parts = name.replace("\\", "/").split("/")
    return (name.startswith(("/", "\\")) or ".." in parts or "\x00" in name
            or bool(re.match(r"^[A-Za-z]:", name)))


def read_zip(data: bytes, entries: Sequence[str], what: str,
             limits: dict[str, int] | None = None) -> dict[str, bytes]:
    """The entries of a ZIP written by ``write_zip`` (exactly ``entries``, in order).

    Refuses, with one sentence naming ``what``: a file that is no ZIP or is truncated,
    an entry leaving the package, an entry too many or missing, a compressed or
    damaged entry (CRC), and any byte that differs from what ``write_zip`` writes."""
    limits = limits or {}
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except Exception as exc:  # any parse failure of untrusted bytes: not a package
        raise PackageError(f"{what} is not a complete ZIP container ({_why(exc)}); it may be "
                           "truncated or damaged.") from None
    with zf:
        try:
            infos = zf.infolist()
        except Exception as exc:  # pragma: no cover - read at open already
            raise PackageError(f"{what} is damaged ({_why(exc)}).") from None
        names = [i.filename for i in infos]
        for name in names:
            if _leaves(name):
                raise PackageError(f"{what} holds an entry {name!r} that points outside the "
                                   "package; it is refused and nothing was read from it.")
        for name in names:
            if name not in entries:
                raise PackageError(f"{what} holds an entry {name!r} that a review package "
                                   f"does not have (it has exactly: {', '.join(entries)}).")
        for name in entries:
            if names.count(name) != 1:
                how = "lacks" if name not in names else "holds twice"
                raise PackageError(f"{what} {how} its entry {name!r}.")
        out: dict[str, bytes] = {}
        for info in infos:
            cap = limits.get(info.filename, MAX_PACKAGE)
            if info.compress_type != zipfile.ZIP_STORED:
                raise PackageError(f"{what}: its entry {info.filename!r} is compressed; "
                                   "review packages store every entry as it is.")
            if info.file_size > cap:
                raise PackageError(f"{what}: its entry {info.filename!r} is "
                                   f"{info.file_size:,} bytes, more than the {cap:,} such an "
                                   "entry may have.")
            try:
                out[info.filename] = zf.read(info)
            except Exception as exc:  # CRC, header, encryption bit: damaged
                raise PackageError(f"{what}: its entry {info.filename!r} is damaged "
                                   f"({_why(exc)}).") from None
    if names != list(entries) or write_zip([(n, out[n]) for n in entries]) != data:
        raise PackageError(f"{what} is not laid out as Oversight writes review packages: "
                           "its ZIP bytes were changed after it was written (a damaged or "
                           "edited file); it is refused.")
    return out


def _why(exc: BaseException) -> str:
    text = str(exc).strip().rstrip(".") or type(exc).__name__
    return text[:200]


# -- manifest ------------------------------------------------------------------------------


def manifest_xml(objects: Sequence[tuple[str, str, bytes]]) -> bytes:
    """The ASiC manifest listing (uri, mime type, bytes) with SHA-256 digests."""
    lines = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
             f'<asic:ASiCManifest xmlns:asic="{_ASIC}" xmlns:ds="{_DS}">',
             f'  <asic:SigReference URI="{SIGNATURE}" MimeType="application/pkcs7-signature"/>']
    for uri, mime, data in objects:
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
        lines += [f'  <asic:DataObjectReference URI="{uri}" MimeType="{mime}">',
                  f'    <ds:DigestMethod Algorithm="{_SHA256}"/>',
                  f"    <ds:DigestValue>{digest}</ds:DigestValue>",
                  "  </asic:DataObjectReference>"]
    lines.append("</asic:ASiCManifest>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _manifest_digests(manifest: bytes, what: str) -> dict[str, bytes]:
    """uri -> SHA-256 as the manifest lists them (no DTD, no entities)."""
    if b"<!DOCTYPE" in manifest or b"<!ENTITY" in manifest:
        raise PackageError(f"{what}: its manifest declares a DTD or entities; refused.")
    try:
        root = ElementTree.fromstring(manifest)
    except ElementTree.ParseError as exc:
        raise PackageError(f"{what}: its manifest is not well-formed XML ({exc}).") from None
    if root.tag != f"{{{_ASIC}}}ASiCManifest":
        raise PackageError(f"{what}: its manifest is not an ASiCManifest.")
    ref = root.find(f"{{{_ASIC}}}SigReference")
    if ref is None or ref.get("URI") != SIGNATURE:
        raise PackageError(f"{what}: its manifest does not name {SIGNATURE} as its "
                           "signature.")
    out: dict[str, bytes] = {}
    for obj in root.findall(f"{{{_ASIC}}}DataObjectReference"):
        uri = obj.get("URI") or ""
        method = obj.find(f"{{{_DS}}}DigestMethod")
        value = obj.find(f"{{{_DS}}}DigestValue")
        if method is None or method.get("Algorithm") != _SHA256 or value is None:
            raise PackageError(f"{what}: its manifest gives {uri!r} no SHA-256 digest.")
        try:
            digest = base64.b64decode((value.text or "").strip(), validate=True)
        except binascii.Error:
            raise PackageError(f"{what}: its manifest's digest of {uri!r} is not "
                               "base64.") from None
        if uri in out:
            raise PackageError(f"{what}: its manifest lists {uri!r} twice.")
        out[uri] = digest
    return out


# -- signature -----------------------------------------------------------------------------


def sign(identity: keys.Identity, data: bytes) -> bytes:
    """A detached CAdES signature (CMS SignedData, signing-certificate-v2) over ``data``."""
    signed = asyncio.run(identity.signer.async_sign_general_data(
        data, "sha256", detached=True, use_cades=True))
    blob: bytes = signed.dump()
    return blob


@dataclass(frozen=True)
class SignatureCheck:
    """What the signature over the manifest says."""

    signer: x509.Certificate
    signing_time: str | None
    """When the signer says it signed (the signed signing-time attribute), ISO 8601."""
    trusted: bool
    """The signer's certificate chains to one of the trust roots given."""
    trust_problem: str | None
    """Why it is not trusted (None when it is)."""


def verify_signature(signature: bytes, manifest: bytes, roots: Sequence[x509.Certificate],
                     what: str, now: dt.datetime | None = None) -> SignatureCheck:
    """Check the CAdES signature over the manifest: intact, valid, the signer's
    certificate in force now, and whether it chains to ``roots`` (offline)."""
    try:
        info = cms.ContentInfo.load(signature, strict=True)
        if info["content_type"].native != "signed_data":
            raise ValueError("not SignedData")
        signed = info["content"]
        signer_info = signed["signer_infos"][0]
        attrs = {a["type"].native: a for a in signer_info["signed_attrs"]}
    except Exception as exc:  # untrusted DER
        raise PackageError(f"{what}: {SIGNATURE} is not a CMS signature ({_why(exc)})."
                           ) from None
    if "signing_certificate_v2" not in attrs:
        raise PackageError(f"{what}: its signature is not a CAdES signature (it has no "
                           "signing-certificate-v2 attribute).")
    context = ValidationContext(trust_roots=[keys.to_asn1(c) for c in roots],
                                allow_fetching=False)
    usage = KeyUsageConstraints(key_usage={"digital_signature", "non_repudiation"},
                                match_all_key_usages=False)
    try:
        status = asyncio.run(async_validate_detached_cms(
            manifest, signed, signer_validation_context=context, key_usage_settings=usage))
    except Exception as exc:  # a damaged signature is a refusal, not a crash
        raise PackageError(f"{what}: its signature cannot be validated ({_why(exc)})."
                           ) from None
    if not status.intact:
        raise PackageError(f"{what}: its signature does not cover its manifest (the "
                           "manifest was changed after signing).")
    if not status.valid:
        raise PackageError(f"{what}: its signature value does not verify with the signer's "
                           "certificate.")
    cert = x509.load_der_x509_certificate(status.signing_cert.dump())
    problem = keys.validity_problem(cert, "The sender's certificate", now)
    if problem is not None:
        raise PackageError(f"{what}: {problem[0].lower()}{problem[1:]} A package signed "
                           "with it is refused.")
    when = status.signer_reported_dt
    chained = status.validation_path is not None and status.trust_problem_indic is None
    trusted = bool(roots) and chained
    why = None
    if not trusted:
        indic = status.trust_problem_indic
        why = ("no trust root was given (--trust)" if not roots else
               str(getattr(indic, "name", indic) or "no chain to the given roots was found"))
    return SignatureCheck(cert, when.isoformat() if when is not None else None, trusted, why)


# -- envelope ------------------------------------------------------------------------------


def encrypt(data: bytes, recipients: Sequence[x509.Certificate]) -> bytes:
    """CMS EnvelopedData of ``data`` for each recipient (AES-256-CBC, RSA key transport)."""
    builder = pkcs7.PKCS7EnvelopeBuilder().set_data(data).set_content_encryption_algorithm(
        algorithms.AES256)
    for cert in recipients:
        builder = builder.add_recipient(cert)
    return builder.encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])


def envelope_recipients(p7m: bytes, what: str) -> list[tuple[bytes, int]]:
    """(issuer as DER, serial number) of each recipient the envelope names."""
    try:
        info = cms.ContentInfo.load(p7m, strict=True)
        if info["content_type"].native != "enveloped_data":
            raise ValueError("not EnvelopedData")
        out = []
        for rinfo in info["content"]["recipient_infos"]:
            rid = rinfo.chosen["rid"].chosen
            out.append((rid["issuer"].dump(), int(rid["serial_number"].native)))
        return out
    except Exception as exc:  # untrusted DER
        raise PackageError(f"{what}: {PAYLOAD} is not a CMS envelope ({_why(exc)})."
                           ) from None


def decrypt(p7m: bytes, identity: keys.Identity, recipients: Sequence[str],
            what: str) -> bytes:
    """The payload, decrypted with ``identity``'s key; refused with a sentence when the
    envelope is not for it (``recipients`` names whom it is for)."""
    mine = identity.certificate
    wanted = (keys.to_asn1(mine).issuer.dump(), mine.serial_number)
    if wanted not in envelope_recipients(p7m, what):
        listed = "; ".join(recipients) or "other recipients"
        raise PackageError(f"{what} is not encrypted for you: it is for {listed}, and the "
                           f"certificate in {identity.path.name} ({keys.subject_text(mine)}) "
                           "is not among them.")
    try:
        return pkcs7.pkcs7_decrypt_der(p7m, mine, identity.key, [])
    except ValueError as exc:
        raise PackageError(f"{what} could not be decrypted with the key in "
                           f"{identity.path.name} ({_why(exc)}).") from None


# -- the whole container -------------------------------------------------------------------


def write_container(metadata: dict[str, Any], payload_p7m: bytes,
                    identity: keys.Identity) -> bytes:
    """The package file: metadata and encrypted payload, manifest, signature."""
    meta = json.dumps(metadata, ensure_ascii=False, sort_keys=True, indent=2).encode("utf-8")
    manifest = manifest_xml([(METADATA, "application/json", meta),
                             (PAYLOAD, "application/pkcs7-mime", payload_p7m)])
    signature = sign(identity, manifest)
    return write_zip([("mimetype", MIMETYPE), (METADATA, meta), (PAYLOAD, payload_p7m),
                      (MANIFEST, manifest), (SIGNATURE, signature)])


@dataclass(frozen=True)
class Container:
    """A package file read and checked, its payload still encrypted."""

    metadata: dict[str, Any]
    payload_p7m: bytes
    signature: SignatureCheck


def read_container(data: bytes, roots: Sequence[x509.Certificate], what: str,
                   now: dt.datetime | None = None) -> Container:
    """Check a package file: layout, signature over the manifest, each digest, metadata.

    Trust is reported, not enforced here (``inspect`` shows it; ``import`` decides)."""
    if len(data) > MAX_PACKAGE:
        raise PackageError(f"{what} is {len(data):,} bytes, more than a package may have.")
    entries = read_zip(data, ENTRIES, what, {"mimetype": 64, METADATA: MAX_SMALL,
                                             MANIFEST: MAX_SMALL, SIGNATURE: MAX_SMALL})
    if entries["mimetype"] != MIMETYPE:
        raise PackageError(f"{what} is not an ASiC-E container: its mimetype entry says "
                           f"{entries['mimetype'][:64]!r}.")
    check = verify_signature(entries[SIGNATURE], entries[MANIFEST], roots, what, now)
    digests = _manifest_digests(entries[MANIFEST], what)
    for uri, _mime in DATA_OBJECTS:
        listed = digests.pop(uri, None)
        if listed is None:
            raise PackageError(f"{what}: its signed manifest does not list {uri}.")
        if hashlib.sha256(entries[uri]).digest() != listed:
            raise PackageError(f"{what}: {uri} does not match the SHA-256 its signed "
                               "manifest gives it (it was changed after signing).")
    if digests:
        raise PackageError(f"{what}: its manifest lists {sorted(digests)[0]!r}, which the "
                           "package does not hold.")
    try:
        metadata = json.loads(entries[METADATA].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise PackageError(f"{what}: {METADATA} is not JSON.") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise PackageError(f"{what} is not an Oversight review package (its {METADATA} "
                           f"names no format {FORMAT!r}).")
    check_format_version(metadata.get("format_version"), f"{what} ({METADATA})")
    return Container(metadata, entries[PAYLOAD], check)


def check_format_version(version: Any, where: str) -> int:
    """The format version as an int; a newer one than this program reads is refused."""
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise PackageError(f"{where} gives no format version.")
    if version > FORMAT_VERSION:
        raise PackageError(f"{where} declares package format version {version}, newer than "
                           f"this program reads ({FORMAT_VERSION}); install a newer Oversight "
                           "Workstation to open it.")
    return version
