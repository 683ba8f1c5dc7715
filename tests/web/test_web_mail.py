"""Correo in the web: a customer's contacts (validated, opt-out), its link shown once, a
statement sent through a real SMTP server on loopback, the log; the SMTP password sealed."""

from __future__ import annotations

import pytest
from fakes.smtp import FakeSmtp
from sqlalchemy import select

from cfdi_cobranza.db.models import Customer
from cfdi_cobranza.db.models.mail import CustomerContact, SmtpSetting
from cfdi_cobranza.db.session import transaction


@pytest.fixture
def smtp(monkeypatch):
    server = FakeSmtp().start()
    monkeypatch.setenv("COBRANZA_SMTP_URL", server.url)
    monkeypatch.setenv("COBRANZA_SMTP_FROM", "cobranza@empresa.example.mx")
    yield server
    server.stop()


def _customer_id(engine) -> int:
    with transaction(engine) as s:
        return s.scalar(select(Customer.id).where(Customer.rfc == "URE180429TM6"))


def test_contacts_statement_link_and_log(client, login, rep_world, engine, smtp):
    token = login(client, "cobranza")
    cid = _customer_id(engine)
    page = f"/clientes/{cid}/correo"
    assert "Correo y contactos" in client.get(f"/clientes/{cid}").get_data(as_text=True)
    resp = client.post(f"{page}/contactos", data={"csrf_token": token, "email": "no-es-correo", "rol": "cobranza"})
    assert resp.status_code == 400 and "no es una dirección válida" in resp.get_data(as_text=True)
    resp = client.post(f"{page}/contactos", data={"csrf_token": token, "email": "Ana@Cliente.example.mx",
                                                  "rol": "cobranza", "nombre": "Ana Pérez"})
    assert resp.status_code == 302
    assert "Ana@cliente.example.mx" in client.get(page).get_data(as_text=True)

    resp = client.post(f"{page}/estado-de-cuenta", data={"csrf_token": token})
    assert resp.status_code == 302
    (got,) = smtp.messages
    msg = got.parsed()
    (pdf,) = list(msg.iter_attachments())
    assert pdf.get_content_type() == "application/pdf" and pdf.get_payload(decode=True).startswith(b"%PDF")
    html = client.get(page).get_data(as_text=True)
    assert "Enviado" in html and "Estado de cuenta" in html
    # The same statement the same day is not sent twice.
    client.post(f"{page}/estado-de-cuenta", data={"csrf_token": token})
    assert len(smtp.messages) == 1

    with transaction(engine) as s:
        contact_id = s.scalar(select(CustomerContact.id))
    client.post(f"{page}/contactos/no-enviar", data={"csrf_token": token, "contacto": str(contact_id),
                                                      "no_enviar": "1"})
    resp = client.post(f"{page}/estado-de-cuenta", data={"csrf_token": token, "otra_vez": "1"})
    assert resp.status_code == 400 and "no tiene contactos de cobranza" in resp.get_data(as_text=True)

    resp = client.post(f"{page}/enlace", data={"csrf_token": token})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "/portal/" in html
    url = html.split('id="enlace-nuevo"', 1)[1].split('href="', 1)[1].split('"', 1)[0]
    assert client.get("/portal/" + url.rsplit("/portal/", 1)[1]).status_code == 200
    assert "/portal/" not in client.get(page).get_data(as_text=True)  # shown once, never stored


def test_smtp_password_is_sealed_and_never_shown(client, login, app, engine, monkeypatch):
    monkeypatch.delenv("COBRANZA_SMTP_URL", raising=False)
    token = login(client, "administrador")
    resp = client.post("/correo/smtp", data={"csrf_token": token, "url": "smtp://usuario@smtp.example.mx:587",
                                             "remitente": "cobranza@empresa.example.mx",
                                             "password": "secreto-smtp-123"})
    assert resp.status_code == 302
    html = client.get("/correo/").get_data(as_text=True)
    assert "smtp.example.mx" in html and "contraseña guardada" in html and "secreto-smtp-123" not in html
    with transaction(engine) as s:
        row = s.scalar(select(SmtpSetting))
        assert row.password_sealed and b"secreto-smtp-123" not in row.password_sealed


def test_api_contacts_send_rep_and_log(app, client, login, rep_world, engine, smtp):
    from cfdi_cobranza.services.users import CLI_CREATOR, create_token

    with transaction(engine) as s:
        _tok, bearer = create_token(s, "ERP", "cobranza", created_by=CLI_CREATOR)
        _tok2, reader = create_token(s, "BI", "consulta", created_by=CLI_CREATOR)
    auth = {"Authorization": f"Bearer {bearer}"}
    resp = client.post("/api/v1/customers/URE180429TM6/contacts", json={"email": "mal@", "rol": "pagos"}, headers=auth)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "CORREO_INVALIDO"
    resp = client.post("/api/v1/customers/URE180429TM6/contacts", headers=auth,
                       json={"email": "pagos@cliente.example.mx", "rol": "pagos", "nombre": "Pagos"})
    assert resp.status_code == 201 and resp.json["rol"] == "pagos"
    resp = client.post("/api/v1/customers/URE180429TM6/contacts", headers={"Authorization": f"Bearer {reader}"},
                       json={"email": "x@cliente.example.mx"})
    assert resp.status_code == 403
    listed = client.get("/api/v1/customers/URE180429TM6/contacts", headers=auth).json["data"]
    assert [c["email"] for c in listed] == ["pagos@cliente.example.mx"]
    uuid = rep_world["rep_uuid"]
    resp = client.post(f"/api/v1/reps/{uuid}/send", json={}, headers=auth)
    assert resp.status_code == 202 and resp.json["envios"][0]["estado"] == "enviado"
    (got,) = smtp.messages
    assert got.rcpt_tos == ["pagos@cliente.example.mx"]
    log = client.get(f"/api/v1/mail/log?rep={uuid}", headers=auth).json["data"]
    assert [(e["estado"], e["rep_uuid"]) for e in log] == [("enviado", uuid)]
    # The REP's page links to its own delivery log, which lists only its messages.
    login(client, "consulta")
    assert f"/correo/?rep={uuid}" in client.get(f"/rep/{uuid}").get_data(as_text=True)
    html = client.get(f"/correo/?rep={uuid}").get_data(as_text=True)
    assert "pagos@cliente.example.mx" in html and "Enviar pendientes" not in html
    resp = client.post("/api/v1/customers/URE180429TM6/contacts/remove", json={"contacto": "pagos@cliente.example.mx"},
                       headers=auth)
    assert resp.status_code == 200
    assert client.get("/api/v1/customers/URE180429TM6/contacts", headers=auth).json["data"] == []


def test_letters_and_statement_pages_send_by_email(client, login, rep_world, engine, smtp):
    token = login(client, "cobranza")
    assert 'id="cartas-correo"' in client.get("/seguimiento/cartas").get_data(as_text=True)
    form = {"csrf_token": token, "tipo": "confirmacion_saldos", "corte": "20/11/2026", "cliente": ""}
    resp = client.post("/correo/cartas", data=form, follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert "Sin contacto de cobranza (no se enviaron): URE180429TM6" in html and smtp.messages == []
    client.post(f"/clientes/{_customer_id(engine)}/correo/contactos",
                data={"csrf_token": token, "email": "cobra@cliente.example.mx", "rol": "cobranza"})
    html = client.post("/correo/cartas", data=form, follow_redirects=True).get_data(as_text=True)
    assert "1 carta(s): 1 correo(s) en cola, 1 enviados" in html
    (got,) = smtp.messages
    (letter,) = list(got.parsed().iter_attachments())
    assert letter.get_filename().startswith("carta-confirmacion_saldos-URE180429TM6")

    page = client.get("/reportes/estado-de-cuenta?cliente=URE180429TM6&desde=01/09/2026&hasta=20/11/2026")
    assert 'id="estado-correo"' in page.get_data(as_text=True)
    html = client.post("/correo/estado-de-cuenta", data={"csrf_token": token, "cliente": "URE180429TM6",
                                                          "desde": "01/09/2026", "hasta": "20/11/2026"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Estado de cuenta: 1 correo(s) en cola, 1 enviados" in html and len(smtp.messages) == 2


def test_company_options_and_templates_from_the_web(client, login, rep_world, engine):
    from cfdi_cobranza.db.models.mail import CompanyMailSetting, MailTemplate

    token = login(client, "administrador")
    html = client.get("/correo/").get_data(as_text=True)
    assert 'id="empresas"' in html and "Complemento de pago {serie}-{folio}" in html
    resp = client.post("/correo/empresa", data={"csrf_token": token, "rfc": "EKU9003173C9", "dias_recordatorio": "x"})
    assert resp.status_code == 400 and "deben ser un número" in resp.get_data(as_text=True)
    resp = client.post("/correo/empresa", data={"csrf_token": token, "rfc": "EKU9003173C9", "dias_recordatorio": "3",
                                                "correos_alerta": "fact@empresa.mx"})
    assert resp.status_code == 302
    with transaction(engine) as s:
        row = s.scalar(select(CompanyMailSetting))
        assert (row.rep_auto, row.reminder_days, row.alert_emails) == (False, 3, "fact@empresa.mx")
    resp = client.post("/correo/plantilla", data={"csrf_token": token, "tipo": "rep", "asunto": "REP {folo}",
                                                  "cuerpo": "x"})
    assert resp.status_code == 400 and "{folo}" in resp.get_data(as_text=True)
    resp = client.post("/correo/plantilla", data={"csrf_token": token, "tipo": "rep", "asunto": "Su REP {serie}{folio}",
                                                  "cuerpo": "Hola {contacto}: {enlace}"})
    assert resp.status_code == 302
    with transaction(engine) as s:
        assert s.scalar(select(MailTemplate.subject)) == "Su REP {serie}{folio}"
