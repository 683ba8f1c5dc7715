"""The import page: UUID conflicts with both verification statuses and the replace button; test certificates marked."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from support_forgery import unknown_sat_authority_document
from web_support import REAL_UUID, REAL_XML
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from cfdi_cobranza.cfdi.factory import CfdiFactory, Line
from cfdi_cobranza.db.models import AuditEntry, Document
from cfdi_cobranza.db.models.conflicts import ImportConflict
from cfdi_cobranza.db.session import transaction


def _upload(client, token, files):
    fields = MultiDict([("csrf_token", token)] + [("archivos", FileStorage(io.BytesIO(b), n)) for n, b in files])
    boundary, body = encode_multipart(fields)
    return client.post("/importar/", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def _forged() -> bytes:
    return unknown_sat_authority_document(REAL_XML.read_bytes(), "ISD950921HE5")


def test_conflict_shown_and_replaced_by_an_importer_role(client, login, engine, app):
    token = login(client, "facturacion")
    assert "Importado; autoridad no verificada" in _upload(client, token, [("falsa.xml", _forged())]).get_data(as_text=True)
    html = _upload(client, token, [("cfdi40-real.xml", REAL_XML.read_bytes())]).get_data(as_text=True)
    assert "UUID_EN_CONFLICTO" in html and 'id="tabla-conflictos"' in html
    assert "sello del SAT no verificado, autoridad no verificada" in html
    assert "sello del SAT verificado, autoridad verificada" in html
    assert "Reemplazar por el verificado" in html
    with transaction(engine) as s:
        conflict_id = s.scalar(select(ImportConflict.id))

    # Another role cannot use the button's endpoint.
    other = app.test_client()
    other_token = login(other, "cobranza")
    resp = other.post(f"/importar/conflictos/{conflict_id}/reemplazar", data={"csrf_token": other_token})
    assert resp.status_code == 403
    # Without the CSRF token nothing happens either.
    assert client.post(f"/importar/conflictos/{conflict_id}/reemplazar").status_code == 400

    resp = client.post(f"/importar/conflictos/{conflict_id}/reemplazar", data={"csrf_token": token},
                       follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and f"Documento {REAL_UUID} reemplazado" in page
    assert 'id="tabla-conflictos"' not in page
    with transaction(engine) as s:
        assert s.scalar(select(Document.xml)) == REAL_XML.read_bytes()
        audit = [(a.actor, a.action) for a in s.scalars(select(AuditEntry).where(AuditEntry.entity_id == REAL_UUID))]
    assert ("facturacion", "cfdi_reemplazado") in audit


def test_test_certificate_documents_are_marked_without_fiscal_validity(client, login, app, tmp_path):
    token = login(client, "facturacion")
    factory = CfdiFactory(app.config["INSTANCE_PATH"] + "/sandbox", clock=lambda: datetime(2026, 10, 1, 12, 0))
    inv = factory.invoice(lines=[Line(Decimal("100.00"))], fecha=datetime(2026, 9, 1, 10, 0))
    html = _upload(client, token, [("prueba.xml", inv.xml)]).get_data(as_text=True)
    assert "SIN VALIDEZ FISCAL" in html
    detail = client.get(f"/documentos/{inv.uuid}").get_data(as_text=True)
    assert 'id="aviso-sin-validez"' in detail
    listing = client.get("/documentos/").get_data(as_text=True)
    assert "SIN VALIDEZ FISCAL" in listing
