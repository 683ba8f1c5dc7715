"""The customer's link: its own documents and REPs, nobody else's; forged, expired and
revoked links get the same 404; answers are never cached nor sent to another site as a Referer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from cfdi_cobranza.db.models import Customer, Rep
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services.mail import links


def _link(app, engine, rfc: str, days: int = 60) -> str:
    key = links.link_key(Path(app.config["COBRANZA_SETTINGS"].instance_path))
    clock = app.config["CLOCK"]
    with transaction(engine) as s:
        url = links.create_link(s, key, rfc, actor="t", days=days, clock=clock).url
    assert url is not None
    return "/portal/" + url.rsplit("/portal/", 1)[1]


def test_the_customer_sees_its_documents_and_downloads_its_reps(app, client, rep_world, engine):
    page = _link(app, engine, "URE180429TM6")
    resp = client.get(page)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html[:500]
    assert resp.headers["Cache-Control"] == "no-store" and resp.headers["Referrer-Policy"] == "same-origin"
    uuid = rep_world["rep_uuid"]
    assert uuid in html and rep_world["invoices"][1] in html and "Saldo pendiente" in html
    xml = client.get(f"{page}/rep/{uuid}.xml")
    with transaction(engine) as s:
        assert xml.status_code == 200 and xml.data == s.scalar(select(Rep.stamped_xml).where(Rep.uuid == uuid))
    pdf = client.get(f"{page}/rep/{uuid}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    st = client.get(f"{page}/estado-de-cuenta.pdf")
    assert st.status_code == 200 and st.data.startswith(b"%PDF")


def test_a_link_never_opens_another_customers_data(app, client, rep_world, engine):
    with transaction(engine) as s:
        other = s.scalar(select(Customer).where(Customer.rfc == "URE180429TM6"))
        s.add(Customer(key="XIQB891116QE4", rfc="XIQB891116QE4", nombre="OTRO CLIENTE",
                       created_at=other.created_at, updated_at=other.updated_at))
    page = _link(app, engine, "XIQB891116QE4")
    html = client.get(page).get_data(as_text=True)
    assert "OTRO CLIENTE" in html
    assert rep_world["rep_uuid"] not in html and rep_world["invoices"][1] not in html
    assert client.get(f"{page}/rep/{rep_world['rep_uuid']}.xml").status_code == 404
    assert client.get(f"{page}/rep/{rep_world['rep_uuid']}.pdf").status_code == 404


def test_forged_expired_and_revoked_links_are_refused(app, client, rep_world, engine):
    page = _link(app, engine, "URE180429TM6", days=1)
    link_id, sig = page.rsplit("/", 1)[1].split(".")
    for bad in (f"/portal/{link_id}.{sig[:-2]}xx", f"/portal/{int(link_id) + 1}.{sig}", "/portal/abc", "/portal/1."):
        resp = client.get(bad)
        assert resp.status_code == 404 and "no es válido" in resp.get_data(as_text=True)
    clock = app.config["CLOCK"]
    clock.now += timedelta(days=1, seconds=1)
    assert client.get(page).status_code == 404  # expired
    clock.now -= timedelta(days=1, seconds=1)
    assert client.get(page).status_code == 200
    with transaction(engine) as s:
        assert links.revoke_links(s, "URE180429TM6", actor="t", clock=clock) == 1
    assert client.get(page).status_code == 404
    assert client.get(f"{page}/rep/{rep_world['rep_uuid']}.xml").status_code == 404
