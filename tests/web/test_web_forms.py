"""Bad form input gives a Spanish message and writes nothing; good input works; pages show data."""

from __future__ import annotations

import pytest
from web_support import REAL_XML

from cfdi_cobranza.db.models import AuditEntry
from cfdi_cobranza.db.models.users import ApiToken, User

GOOD = {"username": "nueva", "full_name": "Ana Pérez", "role": "cobranza", "password": "clave-segura-1",
        "password2": "clave-segura-1"}


@pytest.mark.parametrize(("change", "message"), [
    ({"password2": "otra-clave-22"}, "Las contraseñas no coinciden."),
    ({"password": "corta1", "password2": "corta1"}, "al menos 10 caracteres"),
    ({"password": "soloLetrasAqui", "password2": "soloLetrasAqui"}, "combinar letras"),
    ({"role": "superusuario"}, "Rol desconocido"),
    ({"username": "a b"}, "El usuario debe tener"),
    ({"username": "consulta"}, "ya existe"),
])
def test_bad_user_form(client, login, count, change, message):
    token = login(client, "administrador")
    before = (count(User), count(AuditEntry))
    resp = client.post("/configuracion/usuarios", data={**GOOD, **change, "csrf_token": token})
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    assert (count(User), count(AuditEntry)) == before


def test_good_user_form_then_login(client, login, count, app):
    token = login(client, "administrador")
    resp = client.post("/configuracion/usuarios", data={**GOOD, "csrf_token": token})
    assert resp.status_code == 302 and count(User) == 6
    assert "Usuario «nueva» creado." in client.get("/configuracion/usuarios").get_data(as_text=True)


def test_bad_token_form(client, login, count):
    token = login(client, "administrador")
    resp = client.post("/configuracion/tokens", data={"csrf_token": token, "name": " ", "role": "consulta"})
    assert resp.status_code == 400 and "Indique un nombre" in resp.get_data(as_text=True) and count(ApiToken) == 0


def test_cannot_deactivate_self(client, login):
    token = login(client, "administrador")
    resp = client.post("/configuracion/usuarios/administrador/activo", data={"csrf_token": token, "activo": "0"},
                       follow_redirects=True)
    assert "No puede desactivar su propio usuario." in resp.get_data(as_text=True)


@pytest.mark.parametrize("query", ["desde=32/01/2026", "hasta=ayer", "estado=raro", "moneda=PESOS", "pagina=0",
                                   "desde=10/10/2026&hasta=01/01/2026"])
def test_bad_document_filters_spanish(client, login, query):
    login(client, "consulta")
    resp = client.get(f"/documentos/?{query}")
    assert resp.status_code == 400 and 'class="alert alert-error"' in resp.get_data(as_text=True)


def test_bad_fecha_de_corte(client, login):
    login(client, "consulta")
    resp = client.get("/?corte=99/99/9999")
    assert resp.status_code == 400 and "no es una fecha válida" in resp.get_data(as_text=True)


def test_pages_show_money_dates_and_chart(client, login, imported):
    login(client, "cobranza")
    html = client.get("/").get_data(as_text=True)
    assert "$1,000.00 MXN" in html and "<svg" in html and "Más de 90" in html and "20/11/2026" in html
    docs = client.get("/documentos/?q=O52375239").get_data(as_text=True)
    assert imported in docs and "24/01/2025" in docs and "Vencido" in docs
    assert imported in client.get("/documentos/?vencidos=1&moneda=MXN&cliente=COSC8001137NA").get_data(as_text=True)
    assert imported not in client.get("/documentos/?estado=pagados").get_data(as_text=True)
    assert imported not in client.get("/documentos/?desde=01/02/2025").get_data(as_text=True)
    clientes = client.get("/clientes/").get_data(as_text=True)
    assert "risk-rojo" in clientes and "COSC8001137NA" in clientes
    xml = client.get(f"/documentos/{imported}/xml")
    assert xml.data == REAL_XML.read_bytes() and "attachment" in xml.headers["Content-Disposition"]


def test_nav_shows_the_areas_of_the_role(client, login):
    login(client, "consulta")
    html = client.get("/").get_data(as_text=True)
    assert "Configuración" not in html and "/importar/" not in html
    assert "/reportes/" in html and "/seguimiento/" in html and "próximamente" not in html
