"""The domain layer imports no framework, driver, XML library or network code."""

from __future__ import annotations

import ast
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "cfdi_cobranza" / "domain"
FORBIDDEN = {"flask", "sqlalchemy", "alembic", "lxml", "satcfdi", "requests", "httpx", "urllib3",
             "psycopg", "click", "jinja2", "werkzeug", "cryptography", "socket", "http", "urllib"}
ALLOWED_PROJECT = {"cfdi_cobranza.domain", "cfdi_cobranza.errors", "cfdi_cobranza.catalogs"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "cfdi_cobranza":  # from cfdi_cobranza import catalogs
                names.extend(f"cfdi_cobranza.{alias.name}" for alias in node.names)
            else:
                names.append(node.module)
    return names


def test_domain_modules_exist():
    assert len(list(DOMAIN.glob("*.py"))) >= 3


def test_domain_imports_no_framework():
    offenders = []
    for path in DOMAIN.rglob("*.py"):
        for name in _imports(path):
            top = name.split(".")[0]
            if top in FORBIDDEN:
                offenders.append(f"{path.name}: {name}")
            if top == "cfdi_cobranza" and not any(name == a or name.startswith(a + ".") for a in ALLOWED_PROJECT):
                offenders.append(f"{path.name}: {name}")
    assert offenders == []


def test_the_check_would_catch_an_offender(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from sqlalchemy import select\nimport lxml.etree\n")
    assert {n.split(".")[0] for n in _imports(bad)} & FORBIDDEN == {"sqlalchemy", "lxml"}
