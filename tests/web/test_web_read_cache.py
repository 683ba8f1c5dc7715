"""Cached aggregate pages (aging, Tablero, document count) show a write at once, whoever made it."""

from __future__ import annotations

from datetime import datetime

import pytest
import rep_support

from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.payments import ReceiptInput
from cfdi_cobranza.services import payments as pay
from cfdi_cobranza.services.payments import Allocation
from web.cache import cache as read_cache


@pytest.fixture
def invoices(app, sandbox_env):
    files = rep_support.ppd_invoices(sandbox_env)  # 1,160.00 and 2,320.00 for URE180429TM6
    rep_support.import_files(app, files)
    return [u for _n, _x, u in files]


def _apply_elsewhere(engine, uuid: str, amount: str) -> None:
    """As another worker or the CLI would: nothing in this process is told about it."""
    with transaction(engine) as s:
        receipt = ReceiptInput(customer=rep_support.CUSTOMER_RFC, company="", fecha_pago=datetime(2026, 11, 10, 12, 0),
                               forma_pago="03", moneda="MXN", monto=amount, tipo_cambio=None)
        (pid,) = [p.id for p in pay.register_settlement(s, [receipt]).payments]
        pay.apply_payment(s, pid, [Allocation(uuid, amount)])


def test_cached_aging_page_shows_a_new_payment_at_once(client, login, invoices, engine):
    login(client, "consulta")
    url = "/reportes/antiguedad?corte=20/11/2026"
    assert "3,480.00" in client.get(url).get_data(as_text=True)
    hits = read_cache.hits
    assert "3,480.00" in client.get(url).get_data(as_text=True)
    assert read_cache.hits > hits  # the second request was served from the cache
    _apply_elsewhere(engine, invoices[0], "500.00")
    html = client.get(url).get_data(as_text=True)
    assert "2,980.00" in html and "3,480.00" not in html


def test_cached_tablero_and_document_count_follow_the_ledger(app, client, login, invoices, engine, sandbox_env):
    login(client, "consulta")
    assert "3,480.00" in client.get("/?corte=20/11/2026").get_data(as_text=True)
    first = client.get("/documentos/?estado=abiertos").get_data(as_text=True)
    assert "2 documentos" in first and invoices[0] in first
    _apply_elsewhere(engine, invoices[0], "1160.00")  # F-101 paid in full
    assert "2,320.00" in client.get("/?corte=20/11/2026").get_data(as_text=True)
    after = client.get("/documentos/?estado=abiertos").get_data(as_text=True)
    assert "1 documento " in after and invoices[0] not in after and invoices[1] in after
    more = rep_support.ppd_invoices(sandbox_env, amounts=("1000.00", "2000.00", "3000.00"))[2:]
    rep_support.import_files(app, more)
    page = client.get("/documentos/?estado=abiertos").get_data(as_text=True)
    assert "2 documentos" in page and more[0][2] in page


def test_a_new_stored_exchange_rate_is_never_hidden_by_the_cache(engine):
    """Exchange rates are not a ledger table (no version bump): the cache key carries
    their marker, so a report converting to MXN is computed again after ``rates update``."""
    from datetime import UTC, date
    from decimal import Decimal

    from cfdi_cobranza.sat.banxico import RatePoint
    from cfdi_cobranza.services import rates

    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    read_cache.clear()
    with transaction(engine) as s:
        assert read_cache.get_or_compute(s, "prueba_tc", (), compute) == 1
        assert read_cache.get_or_compute(s, "prueba_tc", (), compute) == 1  # cached
    with transaction(engine) as s:
        rates.store(s, [RatePoint(date(2026, 11, 19), "USD", Decimal("17.2345"), "SF43718")], fuente="archivo:prueba",
                    clock=lambda: datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    with transaction(engine) as s:
        assert read_cache.get_or_compute(s, "prueba_tc", (), compute) == 2
