"""Encryption of secrets at rest (CSD private key and password, PAC credentials).

The key comes from ``COBRANZA_SECRET_KEY`` (any string; it is stretched with
HKDF) or, when unset, from ``<instance>/secret.key``, created on first use with
mode 0600. Values are stored as Fernet tokens (AES-128-CBC + HMAC-SHA256), never in
clear; a wrong key fails loudly instead of returning garbage.
"""

from __future__ import annotations

import base64
import os
import secrets as pysecrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cfdi_cobranza.errors import ConfigurationError

ENV_VAR = "COBRANZA_SECRET_KEY"


def _derive(material: bytes) -> bytes:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"cfdi-cobranza", info=b"secrets-at-rest").derive(material)
    return base64.urlsafe_b64encode(key)


def load_master_key(instance_path: Path) -> bytes:
    env = os.environ.get(ENV_VAR)
    if env:
        return _derive(env.encode("utf-8"))
    path = instance_path / "secret.key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(pysecrets.token_urlsafe(48))
    return _derive(path.read_text().strip().encode("utf-8"))


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def for_instance(cls, instance_path: Path) -> SecretBox:
        return cls(load_master_key(instance_path))

    def seal(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def open(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise ConfigurationError(
                "No se pudo descifrar un secreto guardado: la clave COBRANZA_SECRET_KEY (o instance/secret.key) "
                "no es la misma con la que se guardó.",
                code="SECRETO_ILEGIBLE",
            ) from exc
