"""Credit conditions and checks from DB state, authorizations, bounced cheques, letters."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from collections_data import AS_OF, generate, import_all, make_factory
from sqlalchemy import select

from cfdi_cobranza.db.models import Credit, Document
from cfdi_cobranza.db.models.users import User
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.errors import ConflictError, NotFoundError, ValidationError
from cfdi_cobranza.services import collections as credit
from cfdi_cobranza.services import debts
from cfdi_cobranza.services.letters import letters_pdf

NOW = datetime(2026, 10, 31, 18, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    return make_factory(tmp_path_factory.mktemp("sandbox"), seed=3)


@pytest.fixture(scope="module")
def generated(factory):
    return generate(factory)


@pytest.fixture
def loaded(engine, settings, factory, generated, clock):
    import_all(engine, settings, factory, generated, clock)
    return engine


def _check(engine, rfc="CAC070627H79", amount="1000", **kw):
    with transaction(engine) as s:
        return credit.check_credit(s, rfc, Decimal(amount), clock=clock, **kw)


def test_credit_check_levels_follow_the_stored_conditions(loaded):
    first = _check(loaded)
    assert first.decision.nivel.value == "solicitud_autorizacion"  # no limit yet, default control
    assert "SIN_LIMITE_MONEDA" in first.decision.codes and "ATRASO_EXCEDIDO" in first.decision.codes
    with transaction(loaded) as s:
        credit.set_conditions(s, "CAC070627H79", actor="jefe", limits={"MXN": Decimal("1000000")},
                              dias_atraso_tolerados=200, nivel_control="restrictivo", clock=clock)
    ok = _check(loaded)
    assert ok.decision.nivel.value == "informacion"
    saldo = ok.exposure.saldos["MXN"]
    over = _check(loaded, amount=str(Decimal("1000000") - saldo + 1))
    assert over.decision.nivel.value == "restriccion" and over.decision.codes[0] == "LIMITE_EXCEDIDO"
    with transaction(loaded) as s:
        credit.set_conditions(s, "CAC070627H79", actor="jefe", estatus="bloqueado", clock=clock)
    assert _check(loaded).decision.codes[0] == "CLIENTE_BLOQUEADO"
    with transaction(loaded) as s:
        view = credit.set_conditions(s, "CAC070627H79", actor="jefe", estatus="activo", tipo_cobranza="judicial",
                                     clock=clock)
    assert view.conditions.limites == {"MXN": Decimal("1000000")}
    assert _check(loaded, tipo="cobro").decision.nivel.value == "solicitud_autorizacion"


@pytest.mark.parametrize("kwargs,code", [
    ({"limits": {"MXN": Decimal("-1")}}, "LIMITE_INVALIDO"),
    ({"plazo_maximo_dias": -3}, "PLAZO_INVALIDO"),
    ({"estatus": "congelado"}, "ESTATUS_INVALIDO"),
    ({"limits": {"XYZ": Decimal("5")}}, "MONEDA_INVALIDA"),
    ({"forma_pago_habitual": "77"}, "FORMA_PAGO_INVALIDA"),
])
def test_bad_conditions_are_refused_and_change_nothing(loaded, kwargs, code):
    with pytest.raises(ValidationError) as err, transaction(loaded) as s:
        credit.set_conditions(s, "CAC070627H79", actor="jefe", clock=clock, **kwargs)
    assert err.value.code == code
    with transaction(loaded) as s:
        assert credit.get_conditions(s, "CAC070627H79").configurado is False


def test_branch_change_keeps_earlier_sales_on_their_branch(loaded):
    from cfdi_cobranza.db.models.collections import SaleAssignment

    with transaction(loaded) as s:
        credit.set_conditions(s, "DME980512KJ3", actor="jefe", sucursal="Norte", vendedor="Ana", clock=clock)
        credit.set_conditions(s, "DME980512KJ3", actor="jefe", sucursal="Sur", clock=clock)
        rows = s.scalars(select(SaleAssignment)).all()
    assert rows and {(r.sucursal, r.vendedor) for r in rows} == {("Norte", "Ana")}


def test_authorization_request_and_decision_by_role(loaded):
    with transaction(loaded) as s:
        for name, role in (("cajero", "consulta"), ("gerente", "cobranza")):
            s.add(User(username=name, password_hash="x", role=role, active=True, failed_logins=0, created_at=NOW))
        req = credit.request_authorization(s, "CAC070627H79", Decimal("5000"), actor="vendedor1", clock=clock,
                                           motivo="Cliente estratégico").to_dict()
    assert req["estado"] == "pendiente" and req["nivel"] == "solicitud_autorizacion"
    with pytest.raises(ConflictError) as err, transaction(loaded) as s:
        credit.decide_authorization(s, req["id"], grant=True, username="cajero", clock=clock)
    assert err.value.code == "PERMISO_DENEGADO"
    with pytest.raises(NotFoundError), transaction(loaded) as s:
        credit.decide_authorization(s, req["id"], grant=True, username="nadie", clock=clock)
    with transaction(loaded) as s:
        done = credit.decide_authorization(s, req["id"], grant=True, username="gerente", clock=clock).to_dict()
    assert (done["estado"], done["resuelta_por"], done["rol"]) == ("autorizada", "gerente", "cobranza")
    with pytest.raises(ConflictError) as err, transaction(loaded) as s:
        credit.decide_authorization(s, req["id"], grant=False, username="gerente", motivo="x", clock=clock)
    assert err.value.code == "AUTORIZACION_RESUELTA"


def test_requester_cannot_approve_by_changing_letter_case(loaded):
    with transaction(loaded) as s:
        s.add(User(username="ana", password_hash="x", role="cobranza", active=True, failed_logins=0, created_at=NOW))
        req = credit.request_authorization(s, "CAC070627H79", Decimal("5000"), actor="Ana", clock=clock).to_dict()
    with pytest.raises(ConflictError), transaction(loaded) as s:
        credit.decide_authorization(s, req["id"], grant=True, username="ana", clock=clock)


def test_bounced_cheque_reopens_what_it_paid(loaded, factory):
    from cfdi_cobranza.cfdi.factory import IVA16, PaidDoc, Receptor
    from cfdi_cobranza.cfdi.sources import Candidate
    from cfdi_cobranza.config import Settings
    from cfdi_cobranza.services.importing import Importer

    with transaction(loaded) as s:
        inv = s.scalar(select(Document).where(Document.tipo == "I", Document.saldo > 1000).order_by(Document.id))
        uuid, total, rfc = inv.uuid, inv.total, inv.customer.rfc
        saldo_before = inv.saldo
    receptor = Receptor(rfc, "X", "601", "20000", "CP01")
    pay = factory.payment([PaidDoc(uuid, 9, saldo_before, Decimal("700.00"), iva=IVA16)], receptor=receptor,
                          fecha_pago=datetime(2026, 10, 30, 12), forma="02", folio="CH1")
    importer = Importer(loaded, Settings(database_url="sqlite://", instance_path=factory.sandbox_dir.parent),
                        clock=clock, extra_cert_dirs=[factory.sandbox_dir])
    assert importer.import_candidates([Candidate("ch.xml", pay.xml)]).ok
    with transaction(loaded) as s:
        assert s.scalar(select(Document.saldo).where(Document.uuid == uuid)) == saldo_before - Decimal("700.00")
        dd = debts.register_debt_document(s, rfc, tipo="cheque", importe=Decimal("700.00"), fecha=date(2026, 10, 30),
                                           fecha_cobro=date(2026, 11, 15), numero="000123", banco="BBVA",
                                           complement_uuid=pay.uuid, actor="caja", clock=clock)
        assert dd.row.posfechado
        debts.change_debt_state(s, dd.row.id, "depositado", fecha=date(2026, 11, 15), actor="caja", clock=clock)
        with pytest.raises(ConflictError):
            debts.change_debt_state(s, dd.row.id, "en_cartera", fecha=date(2026, 11, 15), actor="caja", clock=clock)
        view = debts.change_debt_state(s, dd.row.id, "devuelto", fecha=date(2026, 11, 16), actor="caja",
                                        nota="Fondos insuficientes", clock=clock)
        assert len(view.reversed_credits) == 1
        assert [h["estado"] for h in view.to_dict()["historial"]] == ["en_cartera", "depositado", "devuelto"]
    with transaction(loaded) as s:
        assert s.scalar(select(Document.saldo).where(Document.uuid == uuid)) == saldo_before
        c = s.get(Credit, view.reversed_credits[0])
        assert c.reversed_at is not None and "devuelto" in c.reverse_reason
    assert total >= saldo_before


def test_letters_pdf_for_customers_with_overdue_documents(loaded):
    with transaction(loaded) as s:
        batch = letters_pdf(s, "recordatorio_1", AS_OF, min_dias_vencido=1)
        confirm = letters_pdf(s, "confirmacion_saldos", AS_OF)
        with pytest.raises(ValidationError) as err:
            letters_pdf(s, "prejuridica", AS_OF, template="Hola {cliente.__class__}")
    assert batch.pdf.startswith(b"%PDF") and len(batch.letters) == 3
    assert confirm.pdf.startswith(b"%PDF")
    assert err.value.code == "PLANTILLA_INVALIDA"
