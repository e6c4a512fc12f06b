"""Data, keys and workspaces of the review-package tests (the fixtures are registered by
``exchange_fixtures``, loaded through ``pytest_plugins``).

Two bodies, each with its own workspace and test certificates: A (the sender) holds
operations, an authorisation register and a case register whose people and officers
have long, unmistakable identifiers, and the real police.uk City of London file; both
criteria packs have run and A's staff have decided, noted, assigned and approved. B
(the receiver) is empty. Certificates and workspaces are made once per session and
copied per test.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import POLICE_UK, ROOT, write
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from test_triage import NASTY as NASTY_NOTE

from oversight import triage
from oversight.criteria.engine import run_detection
from oversight.criteria.pack import default_pack, load_pack
from oversight.findings import FindingFilters, list_findings
from oversight.importing import import_file
from oversight.records import Kind
from oversight.report.sign import create_selfsigned
from oversight.workspace import Role, Workspace

PASS = "p12-passphrase"
PW = "a-long-password"
A_ADMIN, A_AUDITOR, A_AUDITOR2, A_INSPECTOR = "alice", "aurelia", "anton", "ines"
B_ADMIN, B_AUDITOR, B_INSPECTOR, B_VIEWER = "bob", "bruno", "berta", "victor"
POLICE_FILE = POLICE_UK / "2020-01-city-of-london-stop-and-search.csv"
POLICE_PROFILE = ROOT / "examples" / "police-uk-stop-and-search.yaml"
POLICE_PACK = ROOT / "examples" / "police-uk-stop-and-search.criteria.yaml"

SUBJECTS = ("SUBJ-ANNA-KOWALSKA-1984", "SUBJ-JAN-NOWAK-1971", "SUBJ-ÉVA-KISS-1990")
ACTORS = ("OFFICER-MUELLER-4711", "OFFICER-SMITH-0815", "SUPT-JONES-7717",
          "JUDGE-BRANDT-1212")

CONSULTS = "".join(
    f"C-{i:02d},2026-03-{4 + i // 6:02d}T{10 + i % 6:02d}:15:00+01:00,consult,"
    f"OFFICER-MUELLER-4711,C-77,SUBJ-ANNA-KOWALSKA-1984,,enquiry about "
    f"SUBJ-ANNA-KOWALSKA-1984,,,,,Rückfrage zu SUBJ-ÉVA-KISS-1990 🚔\n" for i in range(12))
OPS = ("record_id,ts,action,actor_id,case_id,subject_ids,authorisation_id,justification,"
       "recipient_id,recipient_type,recipient_country,transfer_basis,Officer note\n"
       + CONSULTS
       + "T-1,2026-03-05T09:00:00+01:00,transfer,OFFICER-SMITH-0815,C-77,"
         "SUBJ-JAN-NOWAK-1971,,extradition file,MPS-BEIJING,competent_authority,CN,,"
         "\"sent, as OFFICER-SMITH-0815 asked\"\n"
       + "S-1,2026-03-06T11:00:00+01:00,directed_surveillance,OFFICER-SMITH-0815,C-77,"
         "SUBJ-ÉVA-KISS-1990,W-1,follow-up,,,,,\n")
AUTHS = ("authorisation_id,regime,issuer_id,issuer_role,approver_id,approval,valid_from,"
         "valid_to,case_id,subject_ids,actions\n"
         "W-1,RIPA,SUPT-JONES-7717,superintendent,JUDGE-BRANDT-1212,approved,"
         "2026-03-01T00:00:00+00:00,2026-03-31,C-77,SUBJ-JAN-NOWAK-1971,"
         "directed_surveillance\n")
CASES = ("case_id,opened_at,offence,max_penalty_months,team,subject_ids\n"
         "C-77,2026-02-01T00:00:00+00:00,fraud,60,OFFICER-MUELLER-4711;OFFICER-SMITH-0815,"
         "SUBJ-ANNA-KOWALSKA-1984;SUBJ-JAN-NOWAK-1971\n")


@dataclass(frozen=True)
class Keys:
    folder: Path
    sender: Path
    """A's auditor: PKCS#12 issued by A's test CA."""
    sender_ca: Path
    sender_pem: Path
    receiver: Path
    receiver_ca: Path
    receiver_pem: Path
    other: Path
    other_pem: Path
    other_ca: Path
    expired: Path
    """A PKCS#12 whose (self-signed) certificate expired yesterday."""
    signing_only_pem: Path
    """A certificate whose key usage lacks keyEncipherment."""


def _cert_pem(p12: Path, out: Path) -> Path:
    _key, cert, _chain = pkcs12.load_key_and_certificates(p12.read_bytes(), PASS.encode())
    assert cert is not None
    out.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return out


def _made(name: str, out: Path, *, days_ago: int = 0, encipher: bool = True) -> Path:
    """A self-signed RSA-2048 certificate and key; valid until ``days_ago`` days ago
    when given (an expired certificate)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    end = now - dt.timedelta(days=days_ago) if days_ago else now + dt.timedelta(days=30)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(end - dt.timedelta(days=60)).not_valid_after(end)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=encipher,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    out.write_bytes(pkcs12.serialize_key_and_certificates(
        name.encode(), key, cert, None, serialization.BestAvailableEncryption(PASS.encode())))
    return out


@pytest.fixture(scope="session")
def exchange_keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    folder = tmp_path_factory.mktemp("exchange-keys")
    phrase = PASS.encode()
    sender, sender_ca = create_selfsigned("Aurelia Auditor", folder / "sender.p12", phrase,
                                          with_ca=True)
    receiver, receiver_ca = create_selfsigned("Bruno Auditor", folder / "receiver.p12",
                                              phrase, with_ca=True)
    other, other_ca = create_selfsigned("Carla Other", folder / "other.p12", phrase,
                                        with_ca=True)
    expired = _made("Expired Sender", folder / "expired.p12", days_ago=1)
    signing_only = _made("Signing Only", folder / "signing-only.p12", encipher=False)
    return Keys(folder, sender, sender_ca, _cert_pem(sender, folder / "sender.pem"),
                receiver, receiver_ca, _cert_pem(receiver, folder / "receiver.pem"),
                other, _cert_pem(other, folder / "other.pem"), other_ca, expired,
                _cert_pem(signing_only, folder / "signing-only.pem"))


def build_sender(folder: Path, tmp: Path) -> None:
    with Workspace.create(folder, A_ADMIN, PW) as ws:
        for name, role in ((A_AUDITOR, Role.AUDITOR), (A_AUDITOR2, Role.AUDITOR),
                           (A_INSPECTOR, Role.INSPECTOR)):
            ws.add_user(name, role, PW)
    with Workspace.open(folder, A_INSPECTOR, PW) as ws:
        import_file(ws, write(tmp / "ops.csv", OPS), Kind.OPERATIONS)
        import_file(ws, write(tmp / "auths.csv", AUTHS), Kind.AUTHORISATIONS)
        import_file(ws, write(tmp / "cases.csv", CASES), Kind.CASES)
        import_file(ws, POLICE_FILE, profile_path=POLICE_PROFILE)
        run_detection(ws, default_pack())
        run_detection(ws, load_pack(POLICE_PACK))
        ids = {r: [f["id"] for f in list_findings(ws, FindingFilters(rule=r))]
               for r in ("PRO-01", "TRF-01", "AUT-04", "OBJ-01", "STRIP-01")}
        assert all(ids.values()), ids
        triage.mark(ws, ids["PRO-01"][:1], "in_review", note=NASTY_NOTE)
        first = triage.notes(ws, ids["PRO-01"][0])[0]["note_id"]
        triage.add_note(ws, ids["PRO-01"][0], "Correction: SUBJ-ANNA-KOWALSKA-1984 is a "
                                               "witness, not a suspect.", refers_to=first)
        triage.mark(ws, ids["OBJ-01"][:1], "dismissed", reason="data_error",
                    note="Object column left empty by the force's export.")
        triage.assign(ws, ids["STRIP-01"][:2], A_AUDITOR)
    with Workspace.open(folder, A_AUDITOR, PW) as ws:
        triage.mark(ws, ids["TRF-01"], "confirmed", note="No basis recorded for CN.")
        triage.mark(ws, ids["AUT-04"], "confirmed", note="SUBJ-ÉVA-KISS-1990 not on W-1.")
    with Workspace.open(folder, A_AUDITOR2, PW) as ws:
        triage.approve(ws, ids["TRF-01"], note="Agreed.")


def build_receiver(folder: Path) -> None:
    with Workspace.create(folder, B_ADMIN, PW) as ws:
        for name, role in ((B_AUDITOR, Role.AUDITOR), (B_INSPECTOR, Role.INSPECTOR),
                           (B_VIEWER, Role.VIEWER)):
            ws.add_user(name, role, PW)


@dataclass(frozen=True)
class Pair:
    a: Path
    b: Path
    keys: Keys
    tmp: Path


@pytest.fixture(scope="session")
def pair_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("exchange-pair")
    build_sender(root / "a", root)
    build_receiver(root / "b")
    return root / "a", root / "b"


@pytest.fixture
def pair(pair_template: tuple[Path, Path], exchange_keys: Keys, tmp_path: Path) -> Pair:
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(pair_template[0], a)
    shutil.copytree(pair_template[1], b)
    return Pair(a, b, exchange_keys, tmp_path)
