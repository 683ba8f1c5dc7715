"""Where a PAC may be reached: the rules for ``COBRANZA_PAC_URL`` and the stored setting.

The PAC receives the account's password or token in every request, so an address an
administrator types must not send it in clear or to a machine inside the network:

- production (``COBRANZA_PAC_ENV=production``): ``https://`` only, and the host must be
  a public address. IP literals that are private, loopback, link-local (the cloud
  metadata service ``169.254.169.254``), multicast, reserved or unspecified are refused,
  and so are names that only make sense inside a network (``localhost``, ``*.local``,
  ``*.internal``, ...) and numeric hosts in non-standard forms (``2852039166``, ``0xa9.…``)
  that resolvers turn into such addresses;
- test: ``http://`` or ``https://``; loopback is allowed (the protocol fakes the tests
  run), link-local, multicast, reserved and unspecified addresses are not.

A name is checked again when the connection is made: ``address_allowed`` is given the
address the socket actually reached (``HttpTransport(allow_address=...)``), so a public
name that resolves to an internal address is refused before a byte of the request is
written.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".lan", ".home.arpa", ".intranet")
INTERNAL_NAMES = frozenset({"localhost", "localhost.localdomain", "metadata", "metadata.google.internal"})


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _numeric_form(host: str) -> bool:
    """True for hosts that resolvers read as an IPv4 address in a non-dotted-quad form."""
    labels = host.split(".")
    return all(label.isdigit() or (label.lower().startswith("0x")) for label in labels if label)


def address_allowed(address: str, environment: str) -> bool:
    """May a PAC in ``environment`` be reached at the IP ``address``?"""
    ip = _literal(address)
    if ip is None:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return False
    if environment == "production":
        return ip.is_global and not (ip.is_private or ip.is_loopback)
    return True


def pac_url_problem(url: str, environment: str) -> str | None:
    """Why ``url`` may not be used for a PAC in ``environment`` (Spanish), or None."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        host = (parts.hostname or "").lower().rstrip(".")
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError:
        return "La URL del PAC tiene un puerto inválido."
    if scheme not in ("http", "https") or not host or any(c.isspace() for c in url):
        return "La URL del PAC debe empezar con http:// o https:// e incluir el servidor."
    if parts.username is not None or parts.password is not None:
        return "La URL del PAC no debe llevar usuario ni contraseña; use los campos de la cuenta."
    production = environment == "production"
    if production and scheme != "https":
        return ("En producción la URL del PAC debe usar https://: la contraseña o el token de la cuenta "
                "viajan en cada solicitud.")
    ip = _literal(host)
    if ip is not None:
        if not address_allowed(str(ip), environment):
            if production:
                return ("En producción la URL del PAC debe apuntar a una dirección pública, no a una red "
                        f"privada, local o de enlace local ({host}).")
            return f"La URL del PAC no puede apuntar a una dirección de enlace local, multicast o reservada ({host})."
        return None
    if _numeric_form(host):
        return f"Escriba la dirección del PAC como nombre o en la forma usual a.b.c.d, no «{host}»."
    if production and (host in INTERNAL_NAMES or host.endswith(INTERNAL_SUFFIXES) or "." not in host):
        return f"En producción la URL del PAC debe ser un nombre público, no «{host}»."
    return None


__all__ = ["address_allowed", "pac_url_problem"]
