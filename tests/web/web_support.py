"""Constants and helpers shared by the web tests (a uniquely named module, unlike conftest)."""

from __future__ import annotations

import re
from pathlib import Path

from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parents[2]
REAL_XML = ROOT / "tests" / "data" / "real" / "cfdi40-real.xml"
REAL_UUID = "C2832671-DA6D-11EF-A83D-00155D012007"
PASSWORD = "clave-de-prueba-123"
FAST_HASH = "pbkdf2:sha256:1000"  # scrypt is deliberately slow; tests sign in hundreds of times


def csrf_of(client: FlaskClient) -> str:
    page = client.get("/login")
    match = re.search(rb'name="csrf_token" value="([^"]+)"', page.data)
    if match is None:  # already signed in: /login redirects; take the token from any page
        page = client.get("/", follow_redirects=True)
        match = re.search(rb'name="csrf_token" value="([^"]+)"', page.data)
    assert match is not None
    return match.group(1).decode()
