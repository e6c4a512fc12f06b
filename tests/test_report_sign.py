"""Signing reports: the manifest embedded before signing, a PAdES signature that pyHanko
and poppler's pdfsig both accept, tampering and later updates detected by both, trust
against given roots, and the printed manifest digest tied to the embedded manifest.

build.py is not used: a small report is drawn with ReportLab (uncompressed page streams,
so a test can flip one byte of the printed text). Keys are made in temporary folders.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import io
import json
import re
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pypdf import PdfReader
from reportlab.pdfgen import canvas
from tools import require

from oversight.errors import AuthenticationError, InputFileError, UsageError
from oversight.report.data import manifest_digest
from oversight.report.sign import (
    MANIFEST_NAME,
    create_selfsigned,
    embed_manifest,
    sign_pdf,
    verify_report,
)

PASS = b"correct horse battery staple"
SIGNER = "Aurelia Novák"


def sample_manifest(n: int = 3) -> dict[str, Any]:
    return {"format": "oversight-report-manifest", "version": 1, "report_id": "R-test",
            "title": "Audit of logged operations", "findings": [
                {"id": i, "rule_id": "R1", "severity": "high", "status": "open",
                 "message": f"Finding {i}: stop without recorded grounds"}
                for i in range(1, n + 1)]}


def report_pdf(printed: dict[str, Any], pages: int = 2) -> bytes:
    """A report whose every page prints the two manifest lines of ``printed``."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pageCompression=0)
    for p in range(1, pages + 1):
        c.drawString(72, 760, f"Audit report - page {p} of {pages}")
        c.drawString(72, 740, "Irregularities found in the logged operations.")
        c.drawString(72, 60, f"Findings in this report: {len(printed['findings'])}")
        c.drawString(72, 46, f"Manifest SHA-256: {manifest_digest(printed)}")
        c.showPage()
    c.save()
    return buf.getvalue()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("keys")
    p12, ca = create_selfsigned(SIGNER, d / "signer.p12", PASS, with_ca=True,
                                email="aurelia@example.org")
    _, other_ca = create_selfsigned("Somebody Else", d / "other.p12", PASS, with_ca=True)
    self_p12 = create_selfsigned("Self Signer", d / "self.p12", PASS)
    return {"p12": p12, "ca": ca, "ca_p12": d / "signer-ca.p12", "other_ca": other_ca,
            "self": self_p12}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return sample_manifest()


@pytest.fixture(scope="module")
def unsigned(manifest: dict[str, Any]) -> bytes:
    return embed_manifest(report_pdf(manifest), manifest)


@pytest.fixture(scope="module")
def signed(unsigned: bytes, keys: dict[str, Path]) -> bytes:
    return sign_pdf(unsigned, keys["p12"], PASS, location="Prague")


def pdfsig(tmp_path: Path, data: bytes, name: str = "x.pdf") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    res = subprocess.run([require("pdfsig"), str(path)], capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0, res.stderr  # pdfsig exits 0 whatever it finds
    return res.stdout


def byte_range(data: bytes) -> tuple[int, int, int, int]:
    m = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data)
    assert m is not None
    a, b, c, d = (int(x) for x in m.groups())
    return a, b, c, d


def flip(data: bytes, at: int) -> bytes:
    """Change one byte that the signature covers (not its /Contents, not the xref)."""
    _, first_len, second_start, second_len = byte_range(data)
    assert at < first_len or second_start <= at < second_start + second_len
    out = bytearray(data)
    out[at] ^= 0x01
    return bytes(out)


def sig_widgets(data: bytes) -> list[tuple[int, list[float]]]:
    """(page index, /Rect) of every signature widget."""
    found = []
    for ix, page in enumerate(PdfReader(io.BytesIO(data)).pages):
        for ref in page.get("/Annots") or []:
            annot = ref.get_object()
            ft = annot.get("/FT") or annot.get("/Parent", {}).get("/FT")
            if annot.get("/Subtype") == "/Widget" and ft == "/Sig":
                found.append((ix, [float(v) for v in annot["/Rect"]]))
    return found


# ------------------------------------------------------------------ manifest and signing


def test_manifest_is_embedded_before_signing(unsigned: bytes, signed: bytes,
                                             manifest: dict[str, Any],
                                             keys: dict[str, Path]) -> None:
    reader = PdfReader(io.BytesIO(signed))
    assert json.loads(reader.attachments[MANIFEST_NAME][0]) == manifest
    names = reader.trailer["/Root"]["/Names"]["/EmbeddedFiles"]["/Names"]
    spec = names[names.index(MANIFEST_NAME) + 1].get_object()
    assert spec["/EF"]["/F"].get_object()["/Subtype"] == "/application/json"
    # The embedded file sits before the signed byte range ends: the signature covers it.
    _, _, start, length = byte_range(signed)
    assert signed.startswith(unsigned) and start + length == len(signed)
    # The same manifest again (a builder may embed it too) changes nothing; another is refused.
    assert embed_manifest(unsigned, manifest) == unsigned
    with pytest.raises(UsageError, match="different embedded"):
        embed_manifest(unsigned, sample_manifest(4))
    with pytest.raises(UsageError, match="already signed"):
        embed_manifest(sign_pdf(report_pdf(manifest), keys["p12"], PASS), manifest)
    with pytest.raises(InputFileError, match="not a readable PDF"):
        embed_manifest(b"not a pdf at all", manifest)


def test_builder_and_signer_embed_the_same_manifest_bytes(tmp_path: Path,
                                                         keys: dict[str, Path]) -> None:
    # One embedder (oversight.report.manifest.embed): the bytes the unsigned build
    # attaches, the bytes the signed report carries and the bytes the signer's
    # embed_manifest writes into the same pages are one canonical JSON, hashed as printed.
    from test_report_build import finding, small_data

    from oversight.report.build import build_pdf
    from oversight.report.manifest import canonical

    built = build_pdf(small_data([finding(1), finding(2, rule="R-02", severity="low")]))
    signed = sign_pdf(built.pdf, keys["p12"], PASS, box=built.signature_box)
    in_build = PdfReader(io.BytesIO(built.pdf)).attachments[MANIFEST_NAME]
    in_signed = PdfReader(io.BytesIO(signed)).attachments[MANIFEST_NAME]
    assert in_build == in_signed == [canonical(built.manifest)]
    assert hashlib.sha256(in_build[0]).hexdigest() == built.manifest_digest
    # The pages as laid out, before the builder's incremental update added the manifest.
    end = re.search(rb"%%EOF\r?\n?", built.pdf)
    assert end is not None and end.end() < len(built.pdf)
    pages_only = built.pdf[:end.end()]
    assert MANIFEST_NAME not in PdfReader(io.BytesIO(pages_only)).attachments
    by_signer = embed_manifest(pages_only, built.manifest)
    assert PdfReader(io.BytesIO(by_signer)).attachments[MANIFEST_NAME] == in_build
    # And the signed build is a valid signature to pyHanko's verifier and to poppler.
    assert verify_report(signed, trust=[keys["ca"]]).ok
    out = pdfsig(tmp_path, signed)
    assert "Signature Validation: Signature is Valid." in out
    assert "Total document signed" in out


def test_signing_twice_is_refused(signed: bytes, keys: dict[str, Path]) -> None:
    with pytest.raises(UsageError, match="already signed"):
        sign_pdf(signed, keys["p12"], PASS)


def test_signing_decodes_the_key_file_once_and_signs_once(
        unsigned: bytes, keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The PKCS#12 file's key derivation and the private key's loading are the slow part
    of signing: the file is decoded once per signature, and the RSA key it holds signs
    as loaded (pyHanko would reload and re-validate it from DER for each signature; its
    dry run, which sizes the signature, takes placeholder bytes instead of signing)."""
    from cryptography.hazmat.primitives.serialization import pkcs12 as real_pkcs12
    from pyhanko.sign.signers import pdf_cms

    calls = {"p12": 0, "key": 0}
    load_p12, load_key = real_pkcs12.load_key_and_certificates, \
        pdf_cms.serialization.load_der_private_key

    def counted_p12(*args: Any, **kwargs: Any) -> Any:
        calls["p12"] += 1
        return load_p12(*args, **kwargs)

    def counted_key(*args: Any, **kwargs: Any) -> Any:
        calls["key"] += 1
        return load_key(*args, **kwargs)

    monkeypatch.setattr(real_pkcs12, "load_key_and_certificates", counted_p12)
    monkeypatch.setattr(pdf_cms.serialization, "load_der_private_key", counted_key)
    out = sign_pdf(unsigned, keys["p12"], PASS)
    assert calls == {"p12": 1, "key": 0}
    monkeypatch.undo()
    path = Path(keys["p12"]).parent / "once.pdf"
    path.write_bytes(out)
    v = verify_report(path, trust=[keys["ca"]])  # and the signature is whole and trusted
    assert v.ok and v.valid and v.trusted, v.problems


def test_signed_report_verifies_and_is_trusted(tmp_path: Path, signed: bytes,
                                               keys: dict[str, Path],
                                               manifest: dict[str, Any]) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(signed)
    v = verify_report(path, trust=[keys["ca"]])
    assert v.ok, v.problems
    assert v.signature_found and v.signatures == 1 and v.intact and v.valid
    assert v.coverage == "entire file" and v.modified_after_signing is False
    assert v.modification_level == "NONE"
    assert v.profile == "PAdES B-B" and v.timestamp is None
    assert v.trust == "trusted" and v.trusted and v.bottom_line is True
    assert v.manifest_found and v.manifest_digest == manifest_digest(manifest)
    assert v.findings == 3 and v.pages_show_digest and v.pages_show_findings
    _, cert, chain = pkcs12.load_key_and_certificates(keys["p12"].read_bytes(), PASS)
    assert cert is not None and len(chain) == 1  # the CA certificate travels with the key
    assert v.signer is not None and v.signer.common_name == SIGNER
    assert v.signer.sha256 == cert.fingerprint(hashes.SHA256()).hex()
    assert v.signer.serial == format(cert.serial_number, "X")
    assert "E=aurelia@example.org" in v.signer.subject and "test CA" in v.signer.issuer
    assert v.signing_time is not None and v.signing_time[:4].isdigit()
    doc = json.loads(json.dumps(v.to_json()))
    assert doc["ok"] is True and doc["signer"] == SIGNER and doc["problems"] == []
    assert doc["trust_roots"] == [str(keys["ca"])] and doc["file"] == str(path)


def test_trust_is_reported_separately(tmp_path: Path, signed: bytes, keys: dict[str, Path],
                                      unsigned: bytes) -> None:
    v = verify_report(signed)
    assert v.ok and v.intact and v.valid
    assert v.trust == "untrusted (no trust roots given)" and not v.trusted
    assert v.bottom_line is False  # pyHanko's judgement includes trust
    v = verify_report(signed, trust=[keys["other_ca"]])
    assert not v.ok and v.intact and v.valid and v.trust == "untrusted"
    assert any("not trusted against the given trust roots" in p for p in v.problems)
    both = verify_report(signed, trust=[keys["other_ca"], keys["ca"]])
    assert both.ok and both.trust == "trusted"
    selfsigned = sign_pdf(unsigned, keys["self"], PASS)
    v = verify_report(selfsigned)
    assert v.ok and v.trust == "self-signed"
    v = verify_report(selfsigned, trust=[keys["ca"]])
    assert not v.ok and v.trust == "untrusted"
    # A self-signed certificate can itself be the trust root (exported without its key).
    _, cert, _ = pkcs12.load_key_and_certificates(keys["self"].read_bytes(), PASS)
    assert cert is not None
    own = tmp_path / "self.pem"
    own.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    v = verify_report(selfsigned, trust=[own])
    assert v.ok and v.trust == "trusted"


def test_pdfsig_accepts_the_signature(tmp_path: Path, signed: bytes) -> None:
    out = pdfsig(tmp_path, signed)
    assert "Signature Validation: Signature is Valid." in out
    assert "Total document signed" in out and "Not total document signed" not in out
    assert "Signature Type: ETSI.CAdES.detached" in out
    assert f"Signer Certificate Common Name: {SIGNER}" in out
    # Trust is a separate line: our test CA is not in poppler's NSS database.
    assert "Certificate Validation:" in out


# ------------------------------------------------------------------ tampering and updates


def _in_page_text(data: bytes) -> int:
    return data.index(b"Findings in this report") + 3


def _in_manifest_stream(data: bytes) -> int:
    obj = data.index(b"/Type /EmbeddedFile")
    start = data.index(b"stream", obj) + len(b"stream\n")
    end = data.index(b"endstream", start)
    return (start + end) // 2


@pytest.mark.parametrize("where", [_in_page_text, _in_manifest_stream],
                         ids=["page-content", "manifest"])
def test_one_flipped_byte_is_detected_by_both(tmp_path: Path, signed: bytes,
                                              keys: dict[str, Path], where: Any) -> None:
    bad = flip(signed, where(signed))
    v = verify_report(bad, trust=[keys["ca"]])
    assert not v.ok and v.signature_found and v.intact is False
    assert any("changed after signing" in p for p in v.problems)


@pytest.mark.parametrize("where", [_in_page_text, _in_manifest_stream],
                         ids=["page-content", "manifest"])
def test_one_flipped_byte_is_detected_by_pdfsig(tmp_path: Path, signed: bytes,
                                                where: Any) -> None:
    out = pdfsig(tmp_path, flip(signed, where(signed)))
    assert "Signature Validation: Digest Mismatch." in out
    assert "Signature is Valid" not in out


def _add_annotation(data: bytes) -> bytes:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(data))
    page_ref, _ = w.find_page_for_modification(0)
    annot = generic.DictionaryObject({
        generic.pdf_name("/Type"): generic.pdf_name("/Annot"),
        generic.pdf_name("/Subtype"): generic.pdf_name("/Text"),
        generic.pdf_name("/Rect"): generic.ArrayObject(
            [generic.FloatObject(v) for v in (100, 100, 120, 120)]),
        generic.pdf_name("/Contents"): generic.pdf_string("added after signing")})
    w.register_annotation(page_ref, w.add_object(annot))
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def _change_metadata(data: bytes) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(data))
    w.document_meta.title = "Retitled after signing"
    w.update_root()
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


@pytest.mark.parametrize("update", [_add_annotation, _change_metadata],
                         ids=["annotation", "metadata"])
def test_update_after_signing_is_a_modification(tmp_path: Path, signed: bytes,
                                                keys: dict[str, Path], update: Any) -> None:
    later = update(signed)
    assert later.startswith(signed) and len(later) > len(signed)
    v = verify_report(later, trust=[keys["ca"]])
    assert not v.ok
    assert v.intact and v.valid  # the signed revision itself is untouched...
    assert v.modified_after_signing is True and v.coverage == "entire revision"
    assert any("modified after signing" in p for p in v.problems)
    assert v.pages_show_digest and v.pages_show_findings  # ...and checked as signed


@pytest.mark.parametrize("update", [_add_annotation, _change_metadata],
                         ids=["annotation", "metadata"])
def test_update_after_signing_is_seen_by_pdfsig(tmp_path: Path, signed: bytes,
                                                update: Any) -> None:
    out = pdfsig(tmp_path, update(signed))
    assert "Not total document signed" in out
    assert "Signature Validation: Signature is Valid." in out


# ------------------------------------------------------------------ certificates and inputs


def test_passphrase_and_key_file_errors(tmp_path: Path, unsigned: bytes,
                                        keys: dict[str, Path]) -> None:
    with pytest.raises(AuthenticationError, match=r"^The passphrase does not open signer\.p12\.$"):
        sign_pdf(unsigned, keys["p12"], b"wrong passphrase")
    with pytest.raises(AuthenticationError, match="needs a passphrase"):
        sign_pdf(unsigned, keys["p12"], None)
    with pytest.raises(InputFileError, match="does not exist"):
        sign_pdf(unsigned, tmp_path / "missing.p12", PASS)
    garbage = tmp_path / "garbage.p12"
    garbage.write_bytes(b"\x30\x82 this is not a key" * 10)
    with pytest.raises(InputFileError, match="not a PKCS#12"):
        sign_pdf(unsigned, garbage, PASS)
    pem_only = tmp_path / "ca-as-p12.p12"
    pem_only.write_bytes(keys["ca"].read_bytes())
    with pytest.raises(InputFileError, match="not a PKCS#12"):
        sign_pdf(unsigned, pem_only, PASS)


def test_certificates_created(tmp_path: Path, keys: dict[str, Path]) -> None:
    for f in (keys["p12"], keys["ca"], keys["ca_p12"], keys["self"]):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert keys["ca"] == keys["p12"].with_suffix(".ca.pem")
    pem = keys["ca"].read_text()
    assert "BEGIN CERTIFICATE" in pem and "PRIVATE KEY" not in pem
    ca_cert = x509.load_pem_x509_certificate(pem.encode())
    assert ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    ca_key, ca_in_p12, _ = pkcs12.load_key_and_certificates(keys["ca_p12"].read_bytes(), PASS)
    assert ca_key is not None and ca_in_p12 == ca_cert
    key, cert, _ = pkcs12.load_key_and_certificates(keys["p12"].read_bytes(), PASS)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 3072
    assert cert is not None and cert.issuer == ca_cert.subject
    cert.verify_directly_issued_by(ca_cert)
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.content_commitment
    assert not ku.value.key_cert_sign
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["aurelia@example.org"]
    _, self_cert, _ = pkcs12.load_key_and_certificates(keys["self"].read_bytes(), PASS)
    assert self_cert is not None and self_cert.issuer == self_cert.subject
    with pytest.raises(UsageError, match="already exists"):
        create_selfsigned("Again", keys["p12"], PASS)
    with pytest.raises(UsageError, match="passphrase"):
        create_selfsigned("No Pass", tmp_path / "n.p12", b"")
    with pytest.raises(UsageError, match="does not exist"):
        create_selfsigned("Nowhere", tmp_path / "no" / "such" / "x.p12", PASS)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def _pfx_parts(data: bytes) -> list[tuple[str, list[Any]]]:
    """(content type, safe bags or None when encrypted) of each part of a PKCS#12 file."""
    from asn1crypto import pkcs12 as asn1_pkcs12

    parts: list[tuple[str, list[Any]]] = []
    for info in asn1_pkcs12.Pfx.load(data).authenticated_safe:
        kind = info["content_type"].native
        bags = list(asn1_pkcs12.SafeContents.load(info["content"].native)) \
            if kind == "data" else []
        parts.append((kind, bags))
    return parts


def test_key_file_encrypts_the_key_only_and_has_no_weaker_passphrase_check(
        keys: dict[str, Path]) -> None:
    """The certificates of a file we write are in clear (they are public), so opening it
    derives one key from the passphrase; the private key stays encrypted with PBES2
    (PBKDF2-SHA256, at least OWASP's 600,000 rounds, AES-256-CBC); and there is no
    password MAC, which cryptography writes with 2,048 rounds and which would test a
    passphrase far faster than the key's own encryption."""
    from asn1crypto import pkcs12 as asn1_pkcs12

    for f, certs in ((keys["p12"], 2), (keys["ca_p12"], 1), (keys["self"], 1)):
        data = f.read_bytes()
        assert asn1_pkcs12.Pfx.load(data)["mac_data"].native is None
        parts = _pfx_parts(data)
        assert [kind for kind, _ in parts] == ["data", "data"]
        bags = [bag for _, found in parts for bag in found]
        assert [b["bag_id"].native for b in bags] == ["cert_bag"] * certs \
            + ["pkcs8_shrouded_key_bag"]
        algo = bags[-1]["bag_value"]["encryption_algorithm"]
        assert algo["algorithm"].native == "pbes2"
        kdf = algo["parameters"]["key_derivation_func"]
        assert kdf["algorithm"].native == "pbkdf2"
        assert kdf["parameters"]["iteration_count"].native >= 600_000
        assert kdf["parameters"]["prf"]["algorithm"].native == "sha256"
        assert algo["parameters"]["encryption_scheme"]["algorithm"].native == "aes256_cbc"
        # the key and its own certificate carry the same local key id
        cert_id, key_id = ([a["values"].native for a in b["bag_attributes"]
                            if a["type"].native == "local_key_id"] for b in (bags[0], bags[-1]))
        assert key_id and cert_id == key_id
        with pytest.raises(ValueError):
            pkcs12.load_key_and_certificates(data, b"not the passphrase")


def test_key_file_opens_with_openssl(tmp_path: Path, keys: dict[str, Path]) -> None:
    """OpenSSL reads the key with the passphrase (and not without), and the certificates
    without it."""
    require("openssl")
    env = {"PW": PASS.decode()}
    run = ["openssl", "pkcs12", "-in", str(keys["p12"]), "-passin", "env:PW"]
    key = subprocess.run([*run, "-nocerts", "-nodes"], capture_output=True, env=env,
                         check=False)
    assert key.returncode == 0, key.stderr
    pem = key.stdout  # after bag attributes: the friendly name, in OpenSSL's encoding
    loaded = serialization.load_pem_private_key(pem[pem.index(b"-----BEGIN"):], None)
    _, cert, chain = pkcs12.load_key_and_certificates(keys["p12"].read_bytes(), PASS)
    assert cert is not None and loaded.public_key() == cert.public_key()
    wrong = subprocess.run([*run, "-nocerts", "-nodes"], capture_output=True,
                           env={"PW": "wrong"}, check=False)
    assert wrong.returncode != 0 and b"PRIVATE KEY" not in wrong.stdout
    certs = subprocess.run([*run, "-nokeys"], capture_output=True, env=env, check=False)
    assert certs.returncode == 0, certs.stderr
    found = x509.load_pem_x509_certificates(certs.stdout)
    assert found[0] == cert and found[1:] == chain


def test_certificate_of_another_key_is_refused(tmp_path: Path, unsigned: bytes,
                                              keys: dict[str, Path]) -> None:
    """Without a MAC nothing binds a file's certificate to it: a certificate swapped for
    another key's (same local key id and all) is not taken as the key's, and the file is
    refused before signing."""
    from oversight.report.sign import write_pkcs12

    key, _, _ = pkcs12.load_key_and_certificates(keys["p12"].read_bytes(), PASS)
    _, other, _ = pkcs12.load_key_and_certificates(keys["self"].read_bytes(), PASS)
    assert isinstance(key, rsa.RSAPrivateKey) and other is not None
    swapped = tmp_path / "swapped.p12"
    swapped.write_bytes(write_pkcs12("Swapped", key, other, [], PASS))
    with pytest.raises(InputFileError, match=r"^swapped\.p12 does not hold both a private "
                                             r"key and its certificate"):
        sign_pdf(unsigned, swapped, PASS)


def test_unsigned_report_is_not_ok(unsigned: bytes) -> None:
    v = verify_report(unsigned)
    assert not v.ok and not v.signature_found and v.intact is None
    assert v.problems[0] == "The PDF carries no digital signature."
    assert v.pages_show_digest and v.pages_show_findings  # the manifest checks still run


def test_verify_inputs(tmp_path: Path, signed: bytes) -> None:
    with pytest.raises(InputFileError, match="no such file"):
        verify_report(tmp_path / "missing.pdf")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(InputFileError, match="not a PDF"):
        verify_report(text)
    with pytest.raises(InputFileError, match="not a certificate"):
        verify_report(signed, trust=[text])
    with pytest.raises(InputFileError, match="no such file"):
        verify_report(signed, trust=[tmp_path / "missing.pem"])


def test_manifest_that_does_not_match_the_pages(keys: dict[str, Path],
                                                manifest: dict[str, Any]) -> None:
    other = dict(manifest, title="A different report")  # same number of findings
    v = verify_report(sign_pdf(embed_manifest(report_pdf(manifest), other), keys["p12"],
                               PASS), trust=[keys["ca"]])
    assert v.intact and v.trusted and not v.ok
    assert not v.pages_show_digest and v.pages_show_findings
    assert v.problems == [f"The pages print the manifest SHA-256 {manifest_digest(manifest)}, "
                          f"but the embedded manifest's SHA-256 is {manifest_digest(other)}."]
    fewer = sample_manifest(2)
    printed_wrong_count = report_pdf(dict(fewer, findings=manifest["findings"]))
    v = verify_report(sign_pdf(embed_manifest(printed_wrong_count, fewer), keys["p12"], PASS))
    assert not v.ok and any("say 3 finding(s), but the embedded manifest lists 2" in p
                            for p in v.problems)
    v = verify_report(sign_pdf(report_pdf(manifest), keys["p12"], PASS))
    assert not v.ok and v.problems == [f"The PDF has no embedded {MANIFEST_NAME}."]


# ------------------------------------------------------------------ appearance


def test_visible_signature_on_the_last_page(signed: bytes) -> None:
    widgets = sig_widgets(signed)
    assert len(widgets) == 1
    page, (x1, y1, x2, y2) = widgets[0]
    assert page == 1 and x2 - x1 > 100 and y2 - y1 > 40


def test_visible_signature_text_rendered_by_poppler(signed: bytes) -> None:
    # poppler renders the widget's appearance stream, as a reader would show it.
    text = subprocess.run([require("pdftotext"), "-f", "2", "-l", "2", "-", "-"],
                          input=signed, capture_output=True, check=True).stdout.decode("utf-8")
    assert "Digitally signed by\nAurelia Novák\nDate: 20" in text
    assert "Location: Prague" in text


def test_box_page_and_invisible(unsigned: bytes, keys: dict[str, Path]) -> None:
    placed = sign_pdf(unsigned, keys["p12"], PASS, box=(50, 600, 300, 680), page=0)
    assert sig_widgets(placed) == [(0, [50.0, 600.0, 300.0, 680.0])]
    assert verify_report(placed).ok
    hidden = sign_pdf(unsigned, keys["p12"], PASS, visible=False)
    assert all(rect == [0.0, 0.0, 0.0, 0.0] for _, rect in sig_widgets(hidden))
    assert verify_report(hidden, trust=[keys["ca"]]).ok
    with pytest.raises(UsageError, match="no page 5"):
        sign_pdf(unsigned, keys["p12"], PASS, page=5)
    with pytest.raises(UsageError, match="too small or inverted"):
        sign_pdf(unsigned, keys["p12"], PASS, box=(300, 600, 50, 680))


# ------------------------------------------------------------------ PAdES B-T


class _TSAHandler(http.server.BaseHTTPRequestHandler):
    stamper: Any = None

    def do_POST(self) -> None:
        from asn1crypto import tsp

        body = self.rfile.read(int(self.headers["Content-Length"]))
        resp = self.stamper.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(resp)))
        self.end_headers()
        self.wfile.write(resp)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def tsa_url(keys: dict[str, Path]) -> Iterator[str]:
    """A local RFC 3161 server whose certificate the test CA issued."""
    from pyhanko.keys.internal import (
        translate_pyca_cryptography_cert_to_asn1,
        translate_pyca_cryptography_key_to_asn1,
    )
    from pyhanko.sign.timestamps import DummyTimeStamper

    ca_key, ca_cert, _ = pkcs12.load_key_and_certificates(keys["ca_p12"].read_bytes(), PASS)
    assert isinstance(ca_key, rsa.RSAPrivateKey) and ca_cert is not None
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = ca_cert.not_valid_before_utc
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(ca_cert.not_valid_after_utc)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                           critical=True)
            .sign(ca_key, hashes.SHA256()))
    _TSAHandler.stamper = DummyTimeStamper(
        tsa_cert=translate_pyca_cryptography_cert_to_asn1(cert),
        tsa_key=translate_pyca_cryptography_key_to_asn1(key),
        certs_to_embed=[translate_pyca_cryptography_cert_to_asn1(ca_cert)])
    server = http.server.HTTPServer(("127.0.0.1", 0), _TSAHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_pades_b_t_with_a_timestamp_server(tmp_path: Path, unsigned: bytes,
                                           keys: dict[str, Path], tsa_url: str) -> None:
    stamped = sign_pdf(unsigned, keys["p12"], PASS, timestamp_url=tsa_url)
    v = verify_report(stamped, trust=[keys["ca"]])
    assert v.ok, v.problems
    assert v.profile == "PAdES B-T" and v.timestamp is not None and v.timestamp_ok
    assert v.bottom_line is True
    v = verify_report(stamped, trust=[keys["other_ca"]])
    assert not v.ok and any("timestamp authority" in p for p in v.problems)
    out = pdfsig(tmp_path, stamped)
    assert "Signature Validation: Signature is Valid." in out


def test_unreachable_timestamp_server(unsigned: bytes, keys: dict[str, Path]) -> None:
    with pytest.raises(UsageError, match="did not give a timestamp"):
        sign_pdf(unsigned, keys["p12"], PASS, timestamp_url="http://127.0.0.1:9/tsa")


def test_certificate_without_private_key(tmp_path: Path, unsigned: bytes) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Cert Only")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    only = tmp_path / "cert-only.p12"
    only.write_bytes(pkcs12.serialize_key_and_certificates(
        b"x", None, cert, None, serialization.BestAvailableEncryption(PASS)))
    with pytest.raises(InputFileError, match="private key"):
        sign_pdf(unsigned, only, PASS)


def _said(v: Any) -> dict[str, str]:
    lines = v.checks()
    labels = [label for label, _ in lines]
    assert len(labels) == len(set(labels)), "a check is asked twice"
    return dict(lines)


@pytest.mark.parametrize("case", ["intact", "flipped", "appended", "unsigned"])
def test_one_vocabulary_never_contradicts_itself(signed: bytes, unsigned: bytes,
                                                 keys: dict[str, Path], case: str) -> None:
    """Each question is answered once: a tampered report can never read "Signed bytes
    unchanged: no" beside "Changed after signing: no" (issue 11, item 7)."""
    data = {"intact": signed, "flipped": flip(signed, _in_page_text(signed)),
            "appended": _add_annotation(signed), "unsigned": unsigned}[case]
    v = verify_report(data, trust=[keys["ca"]])
    said = _said(v)
    changed = said["Changed after signing"]
    expected = {"intact": "no", "flipped": "yes: the signed bytes no longer match",
                "appended": "yes: content was added after signing (the signature covers "
                            "the entire revision)", "unsigned": "not checked"}[case]
    assert changed.startswith(expected)
    assert v.changed_after_signing is {"intact": False, "flipped": True, "appended": True,
                                       "unsigned": None}[case]
    assert (changed.startswith("yes")) == (not v.ok and case != "unsigned")
    if case == "flipped":  # the value is not judged on altered bytes
        assert said["Signature value"].startswith("not checked")
    if case == "unsigned":
        assert said["Signature"] == "none" and said["Signed by"] == "none"
    assert v.to_json()["checks"] == [{"check": c, "result": r} for c, r in v.checks()]
    assert v.to_json()["changed_after_signing"] is v.changed_after_signing


def _nested_page_tree() -> bytes:
    """A PDF whose page tree has nodes within nodes, resources on the nodes and the
    pages, and pages of three sizes (written by hand: PDF writers make flat trees)."""
    objects = {
        1: "<< /Type /Catalog /Pages 2 0 R >>",
        2: "<< /Type /Pages /Kids [3 0 R 4 0 R 9 0 R] /Count 5 /MediaBox [0 0 612 792] "
           "/Resources << /ProcSet [/PDF] >> >>",
        3: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] >>",
        4: "<< /Type /Pages /Parent 2 0 R /Kids [5 0 R 6 0 R 7 0 R] /Count 3 "
           "/Resources << /ProcSet [/PDF /Text] >> >>",
        5: "<< /Type /Page /Parent 4 0 R >>",
        6: "<< /Type /Page /Parent 4 0 R /Resources << /ProcSet [/ImageB] >> >>",
        7: "<< /Type /Pages /Parent 4 0 R /Kids [8 0 R] /Count 1 "
           "/MediaBox [0 0 842 595] >>",
        8: "<< /Type /Page /Parent 7 0 R >>",
        9: "<< /Type /Page /Parent 2 0 R /MediaBox [10 20 400 500] >>",
    }
    out = bytearray(b"%PDF-1.7\n")
    offsets = {}
    for n, body in objects.items():
        offsets[n] = len(out)
        out += f"{n} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for n in objects:
        out += f"{offsets[n]:010d} 00000 n \n".encode()
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n"
            "%%EOF\n").encode()
    return bytes(out)


def test_page_box_reads_only_the_page_tree_and_agrees_with_pypdf(unsigned: bytes) -> None:
    # The signer finds its page (and its media box) with a walk of the page tree from
    # the back when the page is counted from the back (the last page of a long report),
    # and hands pyHanko's signer what pyHanko's own walk from the front would find. Two
    # independent readers must agree: pypdf on the media boxes, pyHanko on the page and
    # its resources, for every page of flat and nested page trees (inherited sizes and
    # resources, pages of different sizes).
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, FloatObject, NameObject

    from oversight.errors import InputFileError
    from oversight.report.pdfio import page_box

    writer = PdfWriter()
    for w, h in ((595.28, 841.89), (841.89, 595.28), (300, 200)):
        writer.add_blank_page(width=w, height=h)
    tree = writer._root_object["/Pages"].get_object()
    tree[NameObject("/MediaBox")] = ArrayObject([FloatObject(v) for v in (0, 0, 612, 792)])
    del writer.pages[2][NameObject("/MediaBox")]  # the last page inherits its size
    buf = io.BytesIO()
    writer.write(buf)
    nested = _nested_page_tree()
    for pdf in (buf.getvalue(), nested, unsigned):
        expected = [(float(p.mediabox.left), float(p.mediabox.bottom),
                     float(p.mediabox.right), float(p.mediabox.top))
                    for p in PdfReader(io.BytesIO(pdf)).pages]
        count = len(expected)
        for i in range(-count, count):
            reader = PdfFileReader(io.BytesIO(pdf))  # a fresh one: nothing read yet
            got_count, box, found = page_box(reader, i)
            assert (got_count, box) == (count, expected[i % count])
            ref, resources = PdfFileReader(io.BytesIO(pdf)).find_page_for_modification(
                i % count)
            assert found[0].reference == ref.reference
            assert found[1] == resources
        reader = PdfFileReader(io.BytesIO(pdf))
        assert page_box(reader, count) == (count, None, None)
        assert page_box(reader, -count - 1) == (count, None, None)
    assert len(PdfReader(io.BytesIO(nested)).pages) == 5
    assert page_box(PdfFileReader(io.BytesIO(buf.getvalue())), 2)[1] == (0, 0, 612, 792)
    broken = buf.getvalue().replace(b"/MediaBox", b"/MediaBax")
    for page in (0, -1):
        with pytest.raises(InputFileError, match="not a readable PDF"):
            page_box(PdfFileReader(io.BytesIO(broken)), page)


# -- signers' names outside ASCII ------------------------------------------------------------


@pytest.mark.parametrize("name", ["Aisha عائشة", "Zoë 🙂"])
def test_a_certificate_name_signing_would_refuse_is_refused_when_made(
        tmp_path: Path, name: str) -> None:
    """`keys create-selfsigned` wrote a certificate for "Aisha عائشة" (right-to-left and
    left-to-right letters in one name) or "Zoë 🙂" (an emoji: newer than Unicode 3.2)
    that signing a report then refused ("cannot be used for signing: X.509 Name object
    contains a malformed bidirectional sequence"): pyHanko compares X.509 names after
    RFC 4518's string preparation (asn1crypto), which refuses both. Such a name is
    refused when the certificate is made, saying why, and nothing is written."""
    from click.testing import CliRunner

    from oversight.cli import main

    out = tmp_path / "signer.p12"
    res = CliRunner().invoke(main, ["keys", "create-selfsigned", "--name", name, "--out",
                                    str(out), "--with-ca"],
                             env={"OVERSIGHT_P12_PASSWORD": "p12-passphrase"})
    assert res.exit_code == 2, res.output
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith(f"error: The name {name!r} cannot be used in a signing "
                           "certificate: "), line
    assert list(tmp_path.iterdir()) == []


def test_a_signer_named_in_one_right_to_left_script_signs(manifest: dict[str, Any],
                                                          tmp_path: Path) -> None:
    """A name in Arabic or Hebrew alone is a name X.509 comparison accepts; with
    --with-ca the test CA was named "<name> test CA", right-to-left and Latin letters in
    one common name, so signing with such a certificate was refused."""
    name = "عائشة الهاشمي"
    p12, ca = create_selfsigned(name, tmp_path / "signer.p12", PASS, with_ca=True)
    signed = sign_pdf(embed_manifest(report_pdf(manifest), manifest), p12, PASS)
    checked = verify_report(signed, trust=[ca])
    assert checked.ok and name in json.dumps(checked.to_json(), ensure_ascii=False)
