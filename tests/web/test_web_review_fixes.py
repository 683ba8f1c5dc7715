"""Regressions from review: redirects, download names, spreadsheet formulas, extreme dates."""

from __future__ import annotations

from urllib.parse import urlsplit

from web_support import PASSWORD, csrf_of

from cfdi_cobranza.reports.export import safe_text, to_csv
from web.downloads import attachment


def test_login_next_cannot_leave_the_site(app) -> None:
    app.testing = False  # follow what a real server would do with the header
    for nxt in ["/\t/evil.example", "/\n/evil.example", "//evil.example", "/\\evil", "https://evil.example",
                "/%09/evil.example"]:
        client = app.test_client()
        token = csrf_of(client)
        resp = client.post("/login", data={"username": "consulta", "password": PASSWORD, "csrf_token": token,
                                           "next": nxt})
        assert resp.status_code == 302, nxt
        location = resp.headers["Location"]
        parts = urlsplit(location)
        assert parts.netloc in ("", "localhost") and not location.startswith("//"), (nxt, location)


def test_download_names_are_header_safe() -> None:
    header = attachment('estado-de-cuenta-XEXX010101000|ACME "GMBH"; FILENAME=X.EXE — ñ.csv')["Content-Disposition"]
    header.encode("latin-1")  # gunicorn refuses anything else
    plain = header.split(";")[1]
    assert '"' not in plain.split("=", 1)[1].strip('"')
    assert "filename*=UTF-8''" in header


def test_spreadsheet_formulas_are_neutralised() -> None:
    assert safe_text('=HYPERLINK("http://evil.example","x")').startswith("'=")
    assert safe_text("-5") == "'-5" and safe_text("ACME") == "ACME" and safe_text(7) == 7


def test_extreme_dates_get_a_spanish_400(client, login) -> None:
    login(client, "consulta")
    for url in ["/reportes/antiguedad?corte=01/01/0001", "/reportes/vencimientos?corte=31/12/9999",
                "/reportes/proyeccion?hasta=31/12/9999", "/reportes/cobradores?hasta=31/12/9999"]:
        resp = client.get(url)
        assert resp.status_code == 400, url
        assert "año" in resp.get_data(as_text=True), url


def test_projection_horizon_is_bounded(client, login) -> None:
    login(client, "consulta")
    resp = client.get("/reportes/proyeccion?periodo=semana&hasta=31/12/2200")
    assert resp.status_code == 400
    assert "máximo" in resp.get_data(as_text=True)


def test_unknown_api_method_is_405_not_csrf(client) -> None:
    resp = client.delete("/api/v1/reports/aging")
    assert resp.status_code in (401, 405)
    assert resp.get_json()["error"]["code"] != "CSRF_INVALIDO"


def test_csv_cells_quote_formulas() -> None:
    from cfdi_cobranza.reports.export import Column, Kind, Report, Table

    report = Report("r", [], [Table("t", [Column("Cliente"), Column("Saldo", Kind.MONEY)], [["=1+1", 5]])], {})
    assert b"'=1+1" in to_csv(report)


def test_document_detail_links_the_rep_of_each_payment(client, login, rep_world) -> None:
    login(client, "consulta")
    html = client.get(f"/documentos/{rep_world['invoices'][0]}").get_data(as_text=True)
    assert f"/rep/{rep_world['rep_uuid']}" in html
    assert "timbrado" in html
