"""Issue 14: the ledger must not accept a forged invoice.

Each forgery here imported before (the only hint was "sello del SAT no verificado"):
the issuer's certificate is now checked against the SAT's authorities, the SAT's test
certificates follow the PAC's environment, and the same UUID with other bytes is a
conflict, not a duplicate.
"""

from __future__ import annotations

import itertools
import uuid as uuidlib
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from support_forgery import (
    REAL33,
    REAL40,
    ca_key,
    copied_sat_name_forgery,
    make_certificate,
    reseal,
    self_signed_forgery,
    unknown_sat_authority_document,
    unknown_sat_authority_name,
)

from cfdi_cobranza.cfdi.authority import check_issuer_certificate
from cfdi_cobranza.cfdi.factory import CfdiFactory, Line
from cfdi_cobranza.cfdi.loader import load_cfdi
from cfdi_cobranza.cfdi.sources import Candidate
from cfdi_cobranza.db.models import AuditEntry, Document
from cfdi_cobranza.db.models.conflicts import ImportConflict
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.errors import ImportRefused
from cfdi_cobranza.services.importing import Importer
from cfdi_cobranza.signing.csd import Certificate

REAL40_RFC = "ISD950921HE5"
REAL40_UUID = "C2832671-DA6D-11EF-A83D-00155D012007"


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> CfdiFactory:
    counter = itertools.count(1)
    return CfdiFactory(
        tmp_path_factory.mktemp("sandbox"),
        uuid_source=lambda: uuidlib.UUID(int=next(counter) + 0x7E57000000),
        clock=lambda: datetime(2026, 10, 1, 12, 0, 0),
    )


def _import(engine, settings, clock, *files: tuple[str, bytes], factory: CfdiFactory | None = None,
            environment: str | None = None):
    extra = [factory.sandbox_dir] if factory else []
    importer = Importer(engine, settings, clock=clock, extra_cert_dirs=extra, environment=environment)
    return importer.import_candidates([Candidate(name=n, data=d) for n, d in files])


def _refused_code(data: bytes, **kwargs) -> str:
    with pytest.raises(ImportRefused) as info:
        load_cfdi(data, **kwargs)
    return info.value.code


# --- the issuer's certificate ------------------------------------------------------------


def test_real_invoices_chain_to_the_shipped_sat_authorities() -> None:
    for path in (REAL40, REAL33):
        loaded = load_cfdi(path.read_bytes(), environment="production")
        assert loaded.autoridad == "verificada", path.name
        assert not loaded.sin_validez_fiscal
    assert load_cfdi(REAL40.read_bytes()).sello_sat == "verificado"


def test_self_signed_certificate_with_the_company_rfc_is_refused(engine, settings, clock) -> None:
    forged = self_signed_forgery(REAL40.read_bytes(), REAL40_RFC)
    assert _refused_code(forged) == "CERTIFICADO_NO_SAT"
    result = _import(engine, settings, clock, ("falsa.xml", forged))
    assert [(r.status, r.code) for r in result.results] == [("refused", "CERTIFICADO_NO_SAT")]
    assert "no fue emitido por el SAT" in (result.results[0].message or "")
    with transaction(engine) as s:
        assert s.scalar(select(Document.id)) is None


def test_certificate_claiming_an_sat_authority_that_does_not_sign_it_is_refused() -> None:
    for authority in ("AC5_SAT.crt", "AC-Sat.crt"):
        forged = copied_sat_name_forgery(REAL40.read_bytes(), REAL40_RFC, authority)
        with pytest.raises(ImportRefused) as info:
            load_cfdi(forged)
        assert info.value.code == "CERTIFICADO_NO_SAT"
        assert "el certificado es falso" in info.value.message


def test_certificate_of_another_ca_is_refused() -> None:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    other = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Let's Sign CA"),
                       x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Otra Autoridad SA")])
    forged = reseal(REAL40.read_bytes(), make_certificate(REAL40_RFC, issuer=other, issuer_key=ca_key()))
    assert _refused_code(forged) == "CERTIFICADO_NO_SAT"


def test_unknown_sat_authority_imports_marked_autoridad_no_verificada(engine, settings, clock) -> None:
    doc = unknown_sat_authority_document(REAL40.read_bytes(), REAL40_RFC)
    result = _import(engine, settings, clock, ("nueva-ac.xml", doc), environment="production")
    r = result.results[0]
    assert (r.status, r.autoridad, r.sello_sat) == ("imported", "no verificada", "no verificado")
    assert "autoridad no verificada" in (r.message or "")
    assert not r.sin_validez_fiscal
    with transaction(engine) as s:
        assert s.scalar(select(Document.autoridad)) == "no verificada"


def test_certificate_not_valid_on_the_invoice_date_is_refused() -> None:
    expired = unknown_sat_authority_document(
        REAL40.read_bytes(), REAL40_RFC, not_before=datetime(2020, 1, 1, tzinfo=UTC),
        not_after=datetime(2024, 12, 31, tzinfo=UTC))
    assert _refused_code(expired) == "CERTIFICADO_NO_VIGENTE"
    future = unknown_sat_authority_document(
        REAL40.read_bytes(), REAL40_RFC, not_before=datetime(2025, 2, 1, tzinfo=UTC))
    assert _refused_code(future) == "CERTIFICADO_NO_VIGENTE"


def test_validity_allows_mexican_local_time() -> None:
    # Fecha 2025-01-24T10:10:41 local: 15:10 to 18:10 UTC. A certificate valid from 17:00 UTC
    # may well have been valid (Baja California): not refused.
    cert = make_certificate(REAL40_RFC, issuer=unknown_sat_authority_name(), issuer_key=ca_key(),
                            not_before=datetime(2025, 1, 24, 17, 0, tzinfo=UTC)).cert
    wrapped = Certificate.from_bytes(cert.public_bytes(__import__("cryptography.hazmat.primitives.serialization",
                                                                  fromlist=["Encoding"]).Encoding.DER))
    assert check_issuer_certificate(wrapped, datetime(2025, 1, 24, 10, 10, 41)).status == "no verificada"
    with pytest.raises(ImportRefused):
        check_issuer_certificate(wrapped, datetime(2025, 1, 24, 8, 0, 0))


# --- the SAT's test certificates follow the PAC's environment ------------------------------


def test_test_certificate_in_sandbox_imports_without_fiscal_validity(engine, settings, clock, factory) -> None:
    inv = factory.invoice(lines=[Line(Decimal("100.00"))], fecha=datetime(2026, 9, 1, 10, 0))
    result = _import(engine, settings, clock, ("prueba.xml", inv.xml), factory=factory)
    r = result.results[0]
    assert (r.status, r.autoridad, r.sin_validez_fiscal) == ("imported", "pruebas", True)
    assert "SIN VALIDEZ FISCAL" in (r.message or "")
    with transaction(engine) as s:
        doc = s.scalar(select(Document))
        assert doc.autoridad == "pruebas" and doc.sin_validez_fiscal


@pytest.mark.parametrize(("env", "expected"), [
    ({"COBRANZA_PAC": "finkok", "COBRANZA_PAC_ENV": "production"}, ("refused", "CERTIFICADO_DE_PRUEBAS")),
    ({"COBRANZA_PAC": "finkok", "COBRANZA_PAC_ENV": "test"}, ("imported", None)),
    ({"COBRANZA_PAC": "sw"}, ("imported", None)),  # a PAC's environment defaults to test
    ({}, ("imported", None)),  # nothing configured: the embedded sandbox
])
def test_test_certificate_follows_the_configured_pac_environment(
    engine, settings, clock, factory, monkeypatch, env, expected,
) -> None:
    for key in ("COBRANZA_PAC", "COBRANZA_PAC_ENV", "COBRANZA_PAC_CONFIG"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    inv = factory.invoice(lines=[Line(Decimal("100.00"))], fecha=datetime(2026, 9, 1, 10, 0))
    result = _import(engine, settings, clock, ("prueba.xml", inv.xml), factory=factory)
    assert (result.results[0].status, result.results[0].code) == expected, result.to_dict()


def test_stored_production_pac_setting_refuses_test_certificates(engine, settings, clock, factory, monkeypatch) -> None:
    from cfdi_cobranza.secrets import SecretBox
    from cfdi_cobranza.services.settings import set_pac_setting

    for key in ("COBRANZA_PAC", "COBRANZA_PAC_ENV", "COBRANZA_PAC_CONFIG"):
        monkeypatch.delenv(key, raising=False)
    box = SecretBox.for_instance(settings.instance_path)
    with transaction(engine) as s:
        set_pac_setting(s, box, name="finkok", env="production", user="u", password="p", token=None, url=None,
                        actor="admin")
    inv = factory.invoice(lines=[Line(Decimal("100.00"))], fecha=datetime(2026, 9, 1, 10, 0))
    result = _import(engine, settings, clock, ("prueba.xml", inv.xml), factory=factory)
    assert result.results[0].code == "CERTIFICADO_DE_PRUEBAS"
    assert "producción" in (result.results[0].message or "")


def test_real_invoice_imports_in_production_with_both_seals_and_authority_verified(engine, settings, clock) -> None:
    result = _import(engine, settings, clock, ("cfdi40-real.xml", REAL40.read_bytes()), environment="production")
    r = result.results[0]
    assert (r.status, r.sello_sat, r.autoridad, r.message) == ("imported", "verificado", "verificada", "Importado.")


# --- same UUID, other bytes: a conflict, not a duplicate -------------------------------------


def _forged_real() -> bytes:
    """The real invoice's UUID under a forger's certificate (an SAT-like authority not in the store)."""
    return unknown_sat_authority_document(REAL40.read_bytes(), REAL40_RFC)


def test_forgery_imported_first_makes_the_genuine_invoice_a_conflict(engine, settings, clock) -> None:
    first = _import(engine, settings, clock, ("falsa.xml", _forged_real()))
    assert first.results[0].status == "imported"
    second = _import(engine, settings, clock, ("cfdi40-real.xml", REAL40.read_bytes()))
    r = second.results[0]
    assert (r.status, r.code) == ("refused", "UUID_EN_CONFLICTO"), r
    assert r.conflict is not None
    assert r.conflict["replaceable"] is True
    assert r.conflict["stored"] | {"file": None} == {
        "sha256": r.conflict["stored"]["sha256"], "sello_sat": "no verificado", "autoridad": "no verificada",
        "verified": False, "file": None}
    assert (r.conflict["incoming"]["sello_sat"], r.conflict["incoming"]["autoridad"],
            r.conflict["incoming"]["verified"]) == ("verificado", "verificada", True)
    assert "sello del SAT no verificado" in (r.message or "") and "autoridad verificada" in (r.message or "")
    with transaction(engine) as s:
        conflict = s.scalar(select(ImportConflict))
        assert conflict.id == r.conflict["id"] and conflict.status == "pendiente"
        assert conflict.xml == REAL40.read_bytes()
    # The same file again is the same conflict, not a second one; the same bytes as stored are a duplicate.
    again = _import(engine, settings, clock, ("cfdi40-real.xml", REAL40.read_bytes()))
    assert again.results[0].conflict["id"] == r.conflict["id"]
    dup = _import(engine, settings, clock, ("falsa.xml", _forged_real()))
    assert dup.results[0].status in ("duplicate", "refused")


def test_conflict_within_one_batch(engine, settings, clock) -> None:
    result = _import(engine, settings, clock, ("falsa.xml", _forged_real()), ("cfdi40-real.xml", REAL40.read_bytes()))
    assert [(r.status, r.code) for r in result.results] == [("imported", None), ("refused", "UUID_EN_CONFLICTO")]


def test_same_bytes_stay_a_duplicate(engine, settings, clock) -> None:
    _import(engine, settings, clock, ("a.xml", REAL40.read_bytes()))
    result = _import(engine, settings, clock, ("b.xml", REAL40.read_bytes()))
    assert (result.results[0].status, result.results[0].code) == ("duplicate", "DUPLICADO")


def _user(engine, username: str, role: str) -> None:
    from cfdi_cobranza.services.users import add_user

    with transaction(engine) as s:
        add_user(s, username, "una-clave-larga-1", role, hash_method="pbkdf2:sha256:1000")


def test_replace_needs_a_verified_incoming_and_is_audited(engine, settings, clock) -> None:
    from cfdi_cobranza.services.conflicts import list_conflicts, replace_with_conflict

    _user(engine, "ana", "facturacion")
    _import(engine, settings, clock, ("falsa.xml", _forged_real()))
    res = _import(engine, settings, clock, ("cfdi40-real.xml", REAL40.read_bytes()))
    conflict_id = res.results[0].conflict["id"]
    with transaction(engine) as s:
        forged_doc_id = s.scalar(select(Document.id))
        rows = list_conflicts(s)
        assert [c.id for c in rows] == [conflict_id] and rows[0].replaceable
    outcome = replace_with_conflict(engine, settings, conflict_id, actor="ana", clock=clock)
    assert outcome.uuid == REAL40_UUID
    with transaction(engine) as s:
        doc = s.scalar(select(Document))
        assert doc.id == forged_doc_id  # the same row: what refers to it stays
        assert doc.xml == REAL40.read_bytes()
        assert (doc.sello_sat, doc.autoridad) == ("verificado", "verificada")
        assert s.scalar(select(ImportConflict.status)) == "reemplazado"
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "cfdi_reemplazado")).all()
        assert [(a.actor, a.entity_id) for a in audit] == [("ana", REAL40_UUID)]
        assert list_conflicts(s) == []
    # Replacing twice is refused.
    from cfdi_cobranza.errors import CobranzaError
    with pytest.raises(CobranzaError) as info:
        replace_with_conflict(engine, settings, conflict_id, actor="ana", clock=clock)
    assert info.value.code == "CONFLICTO_RESUELTO"


def test_an_unverified_file_cannot_replace_a_verified_document(engine, settings, clock) -> None:
    from cfdi_cobranza.errors import CobranzaError
    from cfdi_cobranza.services.conflicts import replace_with_conflict

    _user(engine, "ana", "administrador")
    _import(engine, settings, clock, ("cfdi40-real.xml", REAL40.read_bytes()))
    res = _import(engine, settings, clock, ("falsa.xml", _forged_real()))
    r = res.results[0]
    assert r.code == "UUID_EN_CONFLICTO" and r.conflict["replaceable"] is False
    with pytest.raises(CobranzaError) as info:
        replace_with_conflict(engine, settings, r.conflict["id"], actor="ana", clock=clock)
    assert info.value.code == "CONFLICTO_NO_REEMPLAZABLE"
    with transaction(engine) as s:
        assert s.scalar(select(Document.xml)) == REAL40.read_bytes()


@pytest.mark.parametrize(("username", "role", "code"), [
    ("luis", "cobranza", "PERMISO_DENEGADO"), ("eva", "consulta", "PERMISO_DENEGADO"),
    ("cli", None, "USUARIO_NO_ENCONTRADO"),
])
def test_replace_is_role_restricted(engine, settings, clock, username, role, code) -> None:
    from cfdi_cobranza.errors import CobranzaError
    from cfdi_cobranza.services.conflicts import replace_with_conflict

    if role:
        _user(engine, username, role)
    _import(engine, settings, clock, ("falsa.xml", _forged_real()))
    res = _import(engine, settings, clock, ("cfdi40-real.xml", REAL40.read_bytes()))
    with pytest.raises(CobranzaError) as info:
        replace_with_conflict(engine, settings, res.results[0].conflict["id"], actor=username, clock=clock)
    assert info.value.code == code
    with transaction(engine) as s:
        assert s.scalar(select(Document.xml)) != REAL40.read_bytes()
        assert s.scalar(select(ImportConflict.status)) == "pendiente"


def test_replacing_a_complement_redoes_its_credits(engine, settings, clock, tmp_path) -> None:
    """The replacement machinery itself (reached only through a verified conflict): a payment
    complement replaced by another with the same UUID moves the paid invoice's balance."""
    from cfdi_cobranza.cfdi.factory import PaidDoc
    from cfdi_cobranza.db.models import Credit

    fixed = uuidlib.UUID("0000AAAA-0000-4000-8000-000000000001")
    counter = itertools.count(1)
    base = CfdiFactory(tmp_path / "sb", uuid_source=lambda: uuidlib.UUID(int=next(counter) + 0xBEEF0000),
                       clock=lambda: datetime(2026, 10, 1, 12, 0, 0))
    same_uuid = CfdiFactory(tmp_path / "sb", uuid_source=lambda: fixed, clock=lambda: datetime(2026, 10, 1, 12, 0, 0))
    inv = base.invoice(lines=[Line(Decimal("1000.00"))], fecha=datetime(2026, 9, 1, 10, 0))
    pay_500 = same_uuid.payment([PaidDoc(inv.uuid, 1, inv.total, Decimal("500.00"))],
                                fecha_pago=datetime(2026, 9, 5, 10, 0), fecha=datetime(2026, 9, 6, 10, 0))
    pay_300 = same_uuid.payment([PaidDoc(inv.uuid, 1, inv.total, Decimal("300.00"))],
                                fecha_pago=datetime(2026, 9, 5, 10, 0), fecha=datetime(2026, 9, 6, 11, 0))
    assert pay_500.uuid == pay_300.uuid and pay_500.xml != pay_300.xml
    _import(engine, settings, clock, ("f.xml", inv.xml), ("p.xml", pay_500.xml), factory=base)
    with transaction(engine) as s:
        assert s.scalar(select(Document.saldo).where(Document.uuid == inv.uuid)) == inv.total - Decimal("500.00")
    res = _import(engine, settings, clock, ("p2.xml", pay_300.xml), factory=base)
    assert res.results[0].code == "UUID_EN_CONFLICTO" and res.results[0].conflict["replaceable"] is False

    importer = Importer(engine, settings, clock=clock, extra_cert_dirs=[base.sandbox_dir], environment="test")
    loaded = load_cfdi(pay_300.xml, extra_cert_dirs=[base.sandbox_dir])
    with transaction(engine) as s:
        complement = s.scalar(select(Document).where(Document.uuid == pay_300.uuid))
        complement_id = complement.id
        importer.replace_document(s, complement, loaded, "p2.xml")
    with transaction(engine) as s:
        assert s.scalar(select(Document.saldo).where(Document.uuid == inv.uuid)) == inv.total - Decimal("300.00")
        credits = s.execute(select(Credit.amount, Credit.source_document_id)).all()
        assert credits == [(Decimal("300.00"), complement_id)]
        assert s.scalar(select(Document.sha256).where(Document.id == complement_id)) == loaded.sha256
