"""Configuración → Empresas → e.firma, and Importar → Desde el SAT against the loopback fake SAT."""

from __future__ import annotations

import io
import itertools
import uuid as uuidlib
from datetime import date, datetime

import pytest
from sqlalchemy import select

from cfdi_cobranza.cfdi.factory import CfdiFactory
from cfdi_cobranza.db.models import Document
from cfdi_cobranza.db.models.sat_download import CompanyFiel
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.sat.descarga import DescargaMasiva, DescargaUrls
from cfdi_cobranza.sat.descarga_http import Retry, Timeouts
from cfdi_cobranza.signing.csd import Certificate
from tests.fakes.fiel import make_fiel
from tests.fakes.sat_descarga import FakeCfdi, SatDescargaFake
from tests.web import rep_support

PAGE = "/configuracion/empresas/"
RFC = rep_support.ISSUER_RFC


@pytest.fixture(scope="module")
def fiel():
    return make_fiel(RFC)


def _files(token, fiel, password):
    return {"csrf_token": token, "fiel_password": password,
            "fiel_cer": (io.BytesIO(fiel.cer), "fiel.cer"), "fiel_key": (io.BytesIO(fiel.key), "fiel.key")}


def test_fiel_upload_refuses_a_csd_and_never_echoes_the_password(client, login, engine, fiel):
    rep_support.ensure_company(engine)
    token = login(client, "contabilidad")
    assert "Sin e.firma" in client.get(PAGE).get_data(as_text=True)
    csd = make_fiel(RFC, fiel=False)
    resp = client.post(f"{PAGE}{RFC}/fiel", data=_files(token, csd, csd.password), content_type="multipart/form-data")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "no la e.firma" in html and csd.password not in html
    resp = client.post(f"{PAGE}{RFC}/fiel", data=_files(token, fiel, "otra-clave-77"), content_type="multipart/form-data")
    assert resp.status_code == 400 and "otra-clave-77" not in resp.get_data(as_text=True)
    with transaction(engine) as s:
        assert s.scalar(select(CompanyFiel)) is None
    resp = client.post(f"{PAGE}{RFC}/fiel", data=_files(token, fiel, fiel.password), content_type="multipart/form-data",
                       follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "e.firma 30001000000500003999 registrada" in html and fiel.password not in html
    assert 'id="fiel-EKU9003173C9"' in html and "Registrada" in html
    with transaction(engine) as s:
        row = s.scalar(select(CompanyFiel))
        assert fiel.password.encode() not in row.password_sealed and row.key_sealed != fiel.key


def test_sync_from_the_page(client, login, engine, app, fiel, tmp_path):
    rep_support.ensure_company(engine)
    token = login(client, "contabilidad")
    client.post(f"{PAGE}{RFC}/fiel", data=_files(token, fiel, fiel.password), content_type="multipart/form-data")
    counter = itertools.count(1)
    factory = CfdiFactory(tmp_path / "sandbox", uuid_source=lambda: uuidlib.UUID(int=next(counter) + 0x5A7F00),
                          clock=lambda: datetime(2026, 10, 1, 12, 0, 0))
    docs = [factory.invoice() for _ in range(3)]
    with SatDescargaFake(certificates=[Certificate.from_bytes(fiel.cer)], package_size=2,
                         cfdi=[FakeCfdi(date(2026, 10, 5), d.uuid, d.xml) for d in docs]) as fake:
        app.config["SAT_CLIENT_FACTORY"] = lambda c, s: DescargaMasiva(
            c, s, urls=DescargaUrls.under(fake.url), timeouts=Timeouts(connect=1, read=5), retry=Retry(attempts=1))
        assert "Desde el SAT" in client.get("/importar/").get_data(as_text=True)
        page = client.get("/importar/sat/").get_data(as_text=True)
        assert "Aún no hay solicitudes" in page and "30001000000500003999" in page
        resp = client.post("/importar/sat/", data={"csrf_token": token, "rfc": RFC, "desde": "2026-10-01",
                                                   "hasta": "2026-10-31"})
        html = resp.get_data(as_text=True)
        assert resp.status_code == 200 and 'id="resultado-sat"' in html
        assert "3 importados" in html and "3 paquete(s)" in html and "3 metadatos" in html
        resp = client.post("/importar/sat/", data={"csrf_token": token, "rfc": RFC, "desde": "2026-10-31",
                                                   "hasta": "2026-10-01"})
        assert resp.status_code == 400 and "RANGO_INVALIDO" in resp.get_data(as_text=True)
    with transaction(engine) as s:
        assert len(s.scalars(select(Document)).all()) == 3


def test_readers_cannot_sync(client, login):
    login(client, "consulta")
    assert client.get("/importar/sat/").status_code == 403
