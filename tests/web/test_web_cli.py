"""``cobranza user add|list`` and ``cobranza token create``: passwords never as arguments."""

from __future__ import annotations

import json

from cfdi_cobranza.cli.main import main


def test_user_add_list_and_token(tmp_path, sqlite_template, monkeypatch, capsys):
    import shutil

    db = tmp_path / "cli.db"
    shutil.copy(sqlite_template, db)
    url = f"sqlite:///{db}"
    monkeypatch.setenv("COBRANZA_USER_PASSWORD", "clave-segura-1")
    assert main(["--db", url, "user", "add", "--username", "Ana", "--role", "cobranza", "--name", "Ana Pérez"]) == 0
    assert "Usuario «ana» creado con rol Cobranza." in capsys.readouterr().out
    assert main(["--db", url, "user", "add", "--username", "ana", "--role", "cobranza"]) == 1
    assert "USUARIO_DUPLICADO" in capsys.readouterr().err
    assert main(["--db", url, "user", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [{"username": "ana", "full_name": "Ana Pérez", "role": "cobranza", "active": True,
                     "last_login_at": None}]
    assert main(["--db", url, "token", "create", "--name", "ERP", "--role", "facturacion", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["token"].startswith("cbz_")
    assert main(["--db", url, "user", "add", "--username", "x", "--role", "cobranza", "--password", "a"]) == 2
