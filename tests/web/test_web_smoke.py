"""Every page renders for a signed-in administrator, with data."""

from __future__ import annotations


def test_pages_render(client, login, imported):
    login(client, "administrador")
    for url in ["/", "/importar/", "/documentos/", f"/documentos/{imported}", "/clientes/", "/clientes/1",
                "/configuracion/usuarios", "/configuracion/tokens", "/documentos/?q=ISD&vencidos=1&estado=abiertos"]:
        resp = client.get(url)
        assert resp.status_code == 200, (url, resp.data[:2000])
