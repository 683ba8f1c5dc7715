"""Build the configured PAC from ``COBRANZA_PAC_*`` settings (environment or a file).

Keys (environment variables, or the same names in a mapping / TOML file):

- ``COBRANZA_PAC``: ``sandbox`` (default), ``finkok`` or ``sw``.
- ``COBRANZA_PAC_ENV``: ``test`` (default) or ``production``; picks the PAC's host.
- ``COBRANZA_PAC_USER`` / ``COBRANZA_PAC_PASSWORD``: the PAC account (Finkok; SW when no
  token). ``COBRANZA_PAC_TOKEN``: SW's long-lived account token.
- ``COBRANZA_PAC_PASSWORD_SEALED`` / ``COBRANZA_PAC_TOKEN_SEALED``: the same secrets as
  :class:`~cfdi_cobranza.secrets.SecretBox` tokens, for config files kept on disk.
- ``COBRANZA_PAC_URL``: override the host (tests point it at a loopback fake). In
  production only ``https://`` to a public host (``cfdi_cobranza.pac.urls``); the
  address each connection reaches is checked too.
- ``COBRANZA_PAC_SAT_STATUS_URL``: override the SAT status service (SW).
- ``COBRANZA_PAC_CONNECT_TIMEOUT`` (10 s), ``COBRANZA_PAC_TIMEOUT`` (read, 60 s),
  ``COBRANZA_PAC_RETRIES`` (3 attempts when nothing was sent), ``COBRANZA_PAC_BACKOFF``
  (0.5 s, doubling), ``COBRANZA_PAC_RECOVER_ATTEMPTS`` (5) and
  ``COBRANZA_PAC_RECOVER_DELAY`` (2 s, Finkok's ``stamped`` polling).
- ``COBRANZA_PAC_FOLDER``: the sandbox's folder (default ``<instance>/sandbox-pac``).
- ``COBRANZA_PAC_CONFIG``: a TOML file whose ``[pac]`` table holds the keys above without
  the ``COBRANZA_PAC_`` prefix, in lower case (``name``, ``env``, ``user``, ...);
  environment variables win over the file.

Production is never the default: an unset ``COBRANZA_PAC_ENV`` means the PAC's test
environment, and a real PAC without credentials is a configuration error, not a
silent fallback to the sandbox.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cfdi_cobranza.errors import ConfigurationError
from cfdi_cobranza.pac.base import Pac
from cfdi_cobranza.pac.sandbox import SandboxPac
from cfdi_cobranza.pac.transport import HttpTransport, RetryPolicy, Timeouts
from cfdi_cobranza.pac.urls import address_allowed, pac_url_problem
from cfdi_cobranza.secrets import SecretBox

PREFIX = "COBRANZA_PAC_"
NAMES = ("sandbox", "finkok", "sw")
ENVIRONMENTS = ("test", "production")


def _merged(source: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ if source is None else source)
    settings: dict[str, str] = {}
    file = env.get("COBRANZA_PAC_CONFIG")
    if file:
        settings.update(_from_file(Path(file)))
    for key, value in env.items():
        if key == "COBRANZA_PAC":
            settings["name"] = value
        elif key.startswith(PREFIX) and key != "COBRANZA_PAC_CONFIG":
            settings[key[len(PREFIX) :].lower()] = value
    return {k: v.strip() for k, v in settings.items() if v is not None and str(v).strip()}


def _from_file(path: Path) -> dict[str, str]:
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(
            f"No se pudo leer el archivo de configuración del PAC {path}: {exc}",
            code="PAC_CONFIGURACION",
        ) from exc
    table = data.get("pac", data)
    if not isinstance(table, dict):
        raise ConfigurationError(
            f"El archivo {path} no tiene una tabla [pac]", code="PAC_CONFIGURACION"
        )
    return {str(k).lower(): str(v) for k, v in table.items()}


def _number(settings: Mapping[str, str], key: str, default: float) -> float:
    raw = settings.get(key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigurationError(
            f"COBRANZA_PAC_{key.upper()} debe ser un número, no {raw!r}",
            code="PAC_CONFIGURACION",
        ) from exc
    if value < 0:
        raise ConfigurationError(
            f"COBRANZA_PAC_{key.upper()} no puede ser negativo", code="PAC_CONFIGURACION"
        )
    return value


def _secret(settings: Mapping[str, str], key: str, instance_path: Path | None) -> str | None:
    if settings.get(key):
        return settings[key]
    sealed = settings.get(f"{key}_sealed")
    if not sealed:
        return None
    if instance_path is None:
        raise ConfigurationError(
            f"COBRANZA_PAC_{key.upper()}_SEALED necesita la carpeta de instancia para descifrarse",
            code="PAC_CONFIGURACION",
        )

    return SecretBox.for_instance(instance_path).open(sealed.encode("ascii")).decode("utf-8")


def environment_from_config(source: Mapping[str, str] | None = None) -> str:
    """``test`` or ``production``: the environment of the PAC ``source`` describes (the
    sandbox is always ``test``). What the importer accepts follows it: the SAT's test
    certificates only in ``test``."""
    settings = _merged(source)
    environment = settings.get("env", "test").lower()
    if environment not in ENVIRONMENTS:
        raise ConfigurationError(
            f"COBRANZA_PAC_ENV={environment!r} no es válido; use test o production",
            code="PAC_CONFIGURACION",
        )
    if settings.get("name", "sandbox").lower() == "sandbox":
        return "test"
    return environment


def pac_from_config(
    source: Mapping[str, str] | None = None, *, instance_path: str | Path | None = None
) -> Pac:
    """The PAC described by ``source`` (default ``os.environ``)."""
    settings = _merged(source)
    instance = Path(instance_path) if instance_path is not None else None
    name = settings.get("name", "sandbox").lower()
    if name not in NAMES:
        raise ConfigurationError(
            f"COBRANZA_PAC={name!r} no es válido; use sandbox, finkok o sw",
            code="PAC_CONFIGURACION",
        )
    environment = settings.get("env", "test").lower()
    if environment not in ENVIRONMENTS:
        raise ConfigurationError(
            f"COBRANZA_PAC_ENV={environment!r} no es válido; use test o production",
            code="PAC_CONFIGURACION",
        )

    if name == "sandbox":
        if environment == "production":
            raise ConfigurationError(
                "El PAC sandbox no tiene ambiente de producción: sus CFDI no tienen validez "
                "fiscal. Configure COBRANZA_PAC=finkok o sw para timbrar en producción.",
                code="PAC_CONFIGURACION",
            )
        folder = settings.get("folder")
        if folder is None:
            base = instance or Path(os.environ.get("COBRANZA_INSTANCE", "instance"))
            folder = str(base / "sandbox-pac")
        return SandboxPac(folder)

    url = settings.get("url")
    for key in ("url", "sat_status_url"):
        problem = pac_url_problem(settings[key], environment) if settings.get(key) else None
        if problem is not None:
            raise ConfigurationError(f"COBRANZA_PAC_{key.upper()}: {problem}", code="PAC_URL_INVALIDA")
    transport = HttpTransport(
        allow_address=lambda address: address_allowed(address, environment),
        timeouts=Timeouts(
            connect=_number(settings, "connect_timeout", 10.0),
            read=_number(settings, "timeout", 60.0),
        ),
        retry=RetryPolicy(
            attempts=max(1, int(_number(settings, "retries", 3))),
            backoff=_number(settings, "backoff", 0.5),
        ),
    )
    password = _secret(settings, "password", instance)
    if name == "finkok":
        user = settings.get("user")
        if not user or not password:
            raise ConfigurationError(
                "Finkok necesita COBRANZA_PAC_USER y COBRANZA_PAC_PASSWORD",
                code="PAC_CONFIGURACION",
            )
        # Only the configured real PAC's adapter loads: Finkok and SW sign SOAP cancellations
        # with satcfdi and OpenSSL, 0.3 s that no other command should pay at start-up.
        from cfdi_cobranza.pac.finkok import FinkokPac

        return FinkokPac(
            user,
            password,
            environment=environment,
            base_url=url,
            transport=transport,
            recover_attempts=max(1, int(_number(settings, "recover_attempts", 5))),
            recover_delay=_number(settings, "recover_delay", 2.0),
        )

    token = _secret(settings, "token", instance)
    user = settings.get("user")
    if not token and not (user and password):
        raise ConfigurationError(
            "SW Sapien necesita COBRANZA_PAC_TOKEN, o COBRANZA_PAC_USER y COBRANZA_PAC_PASSWORD",
            code="PAC_CONFIGURACION",
        )
    from cfdi_cobranza.pac.sw import SwPac  # loaded only when configured (see Finkok above)

    return SwPac(
        token=token,
        user=user,
        password=password,
        environment=environment,
        base_url=url,
        sat_status_url=settings.get("sat_status_url"),
        transport=transport,
    )
