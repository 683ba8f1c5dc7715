"""Every page renders for a signed-in administrator, with data."""

from __future__ import annotations


def test_pages_render(client, login, imported):
    login(client, "administrador")
    for url in ["/", "/importar/", "/documentos/", f"/documentos/{imported}", "/clientes/", "/clientes/1",
                "/configuracion/usuarios", "/configuracion/tokens", "/documentos/?q=ISD&vencidos=1&estado=abiertos"]:
        resp = client.get(url)
        assert resp.status_code == 200, (url, resp.data[:2000])


def test_the_wsgi_entry_point_serves_a_warmed_up_app(tmp_path):
    """``web.wsgi:app`` (what gunicorn loads) is the application, warmed up: in a fresh
    process, the login page answers and the catalogs are loaded."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, COBRANZA_DATABASE_URL=f"sqlite:///{tmp_path / 'w.db'}",
               COBRANZA_INSTANCE=str(tmp_path / "instance"))
    code = ("import web.wsgi as w; from cfdi_cobranza.db.session import migrate; "
            "migrate(w.app.extensions['cobranza_engine']); "
            "from cfdi_cobranza import catalogs; "
            "r = w.app.test_client().get('/login'); print(r.status_code, catalogs.keys.cache_info().currsize > 0)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                         cwd=str(tmp_path.parent))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["200", "True"]


def test_the_gunicorn_settings_freeze_the_start_up_objects_once_a_worker_has_loaded_the_app():
    """``web.gunicorn_conf``'s hook is one gunicorn accepts (a setting, one argument) and
    freezes what is alive for the garbage collector."""
    import gc

    from gunicorn.config import Config

    from web import gunicorn_conf

    config = Config()
    config.set("post_worker_init", gunicorn_conf.post_worker_init)  # gunicorn validates the hook
    try:
        config.post_worker_init(object())
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
