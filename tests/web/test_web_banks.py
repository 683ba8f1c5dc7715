"""Bancos: upload a statement, see ranked suggestions with reasons, apply the chosen ones."""

from __future__ import annotations

import io
import re

import pytest
import rep_support

from cfdi_cobranza.db.models import BankMovement, Payment

DATA = rep_support.Path(__file__).resolve().parents[1] / "data" / "bank"
CSV = (b"fecha;concepto;ref;importe;moneda\n"
       b"2026-11-12;SPEI RECIBIDO RFC URE180429TM6 PAGO FACTURA F101;F101;1160.00;MXN\n"
       b"2026-11-13;SPEI RECIBIDO RFC URE180429TM6 PAGO F102;F102;2320.00;MXN\n"
       b"2026-11-14;CARGO COMISION;;-50.00;MXN\n")
MAPPING = {"col_fecha": "fecha", "col_descripcion": "concepto", "col_referencia": "ref", "col_importe": "importe",
           "col_moneda": "moneda", "formato_fecha": "iso"}


@pytest.fixture
def invoices(app, sandbox_env):
    files = rep_support.ppd_invoices(sandbox_env)
    rep_support.import_files(app, files)
    return [u for _n, _x, u in files]


def _upload(client, token, data=CSV, formato="generico", **extra):
    return client.post("/bancos/estado-de-cuenta", data={"csrf_token": token, "formato": formato,
                                                          "archivo": (io.BytesIO(data), "estado.csv"), **extra},
                       content_type="multipart/form-data")


def test_upload_suggest_and_apply_chosen(client, login, invoices, count, engine):
    token = login(client, "facturacion")
    resp = _upload(client, token, **MAPPING)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "2 depósitos nuevos" in html and "1 cargo omitido" in html
    assert count(BankMovement) == 2
    assert "F-101" in html and re.search(r'class="score score-\w+">\d+<', html)
    keys = re.findall(r'name="elegida" value="([^"]+)"', html)
    assert keys
    first = next(k for k in keys if k.startswith(f"{min(int(k.split(':')[0]) for k in keys)}:0:"))
    resp = client.post("/bancos/aplicar", data={"csrf_token": token, "elegida": [first]})
    assert resp.status_code == 200 and "Aplicado" in resp.get_data(as_text=True)
    assert count(Payment) == 1
    # Same statement again: nothing duplicated.
    html = _upload(client, token, **MAPPING).get_data(as_text=True)
    assert "0 depósitos nuevos" in html and count(BankMovement) == 2


def test_stale_choice_refused(client, login, invoices, count):
    token = login(client, "facturacion")
    html = _upload(client, token, **MAPPING).get_data(as_text=True)
    key = re.findall(r'name="elegida" value="([^"]+)"', html)[0]
    mid, rank, _fp = key.split(":")
    resp = client.post("/bancos/aplicar", data={"csrf_token": token, "elegida": [f"{mid}:{rank}:0000"]})
    assert resp.status_code == 409 and "La sugerencia cambió" in resp.get_data(as_text=True)
    assert count(Payment) == 0


def test_apply_all_above_score(client, login, invoices, count):
    token = login(client, "administrador")
    _upload(client, token, **MAPPING)
    resp = client.post("/bancos/aplicar-por-puntaje", data={"csrf_token": token, "puntaje": "abc"})
    assert resp.status_code == 400 and "puntaje mínimo" in resp.get_data(as_text=True)
    resp = client.post("/bancos/aplicar-por-puntaje", data={"csrf_token": token, "puntaje": "1"})
    assert resp.status_code == 200
    assert count(Payment) == 2
    assert "No hay depósitos pendientes" in client.get("/bancos/").get_data(as_text=True)


@pytest.mark.parametrize("formato, extra, data, message", [
    ("generico", {}, CSV, "columnas de fecha"),
    ("generico", {"col_descripcion": "concepto", "col_importe": "importe"}, CSV, "falta la columna de la fecha"),
    ("nada", {}, CSV, "formato del banco"),
    ("banorte", {}, b"\x00\x01 basura", ""),
])
def test_bad_statement_input_nothing_written(client, login, invoices, count, formato, extra, data, message):
    token = login(client, "facturacion")
    resp = _upload(client, token, data=data, formato=formato, **extra)
    html = resp.get_data(as_text=True)
    if message:
        assert resp.status_code == 400 and message in html
    assert count(BankMovement) == 0


def test_bank_presets_from_samples(client, login, invoices, count):
    token = login(client, "facturacion")
    for formato, name in (("santander", "santander.csv"), ("banorte", "banorte.csv"), ("bbva", "bbva_movimientos.txt")):
        resp = _upload(client, token, data=(DATA / name).read_bytes(), formato=formato)
        assert resp.status_code == 200, (formato, resp.get_data(as_text=True)[:300])
    assert count(BankMovement) > 3


def test_consulta_sees_but_cannot_apply(client, login, invoices):
    token = login(client, "consulta")
    html = client.get("/bancos/").get_data(as_text=True)
    assert "Subir estado de cuenta" not in html
    assert _upload(client, token, **MAPPING).status_code == 403
