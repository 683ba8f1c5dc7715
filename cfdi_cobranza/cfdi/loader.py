"""The one entry point the importer calls to take a CFDI file in.

Order matters and is fixed: strict parse -> version -> TimbreFiscalDigital present ->
XSD + catalogs -> read into a ``CfdiRecord`` -> seals and the issuer certificate's
authority (``environment``: the PAC's; "test" accepts the SAT's test certificates). Each
step refuses with a stable ``ImportRefused`` code, so a batch can report every file's
outcome. Tipos N and T load like the others; the importer decides what to ignore.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cfdi_cobranza.cfdi import schema
from cfdi_cobranza.cfdi.authority import AutoridadStatus, Environment
from cfdi_cobranza.cfdi.parser import DEFAULT_MAX_BYTES, parse_xml, read_limited
from cfdi_cobranza.cfdi.reader import find_stamp_element, no_stamp, read_cfdi
from cfdi_cobranza.cfdi.verify import SelloSatStatus, verify_seals
from cfdi_cobranza.domain.cfdi import CfdiRecord


@dataclass(frozen=True)
class LoadedCfdi:
    record: CfdiRecord
    raw: bytes  # the original bytes, kept as evidence; never re-serialised
    sha256: str
    xsd_ok: bool
    sello_ok: bool
    sello_sat: SelloSatStatus
    warnings: list[str] = field(default_factory=list)
    # Who issued the sealing certificate (cfdi.authority); "pruebas": no fiscal validity.
    autoridad: AutoridadStatus = "no verificada"

    @property
    def sin_validez_fiscal(self) -> bool:
        return self.autoridad == "pruebas"


def load_cfdi(
    data: bytes,
    *,
    verify: bool = True,
    extra_cert_dirs: Iterable[str | Path] = (),
    max_bytes: int = DEFAULT_MAX_BYTES,
    environment: Environment = "test",
) -> LoadedCfdi:
    """Parse, validate, read and (with ``verify``) check the seals of one CFDI file."""
    root = parse_xml(data, max_bytes=max_bytes)  # also refuses other versions
    if find_stamp_element(root) is None:
        raise no_stamp()
    schema.validate(root)
    record = read_cfdi(root)
    warnings: list[str] = []
    sello_ok = False
    sello_sat: SelloSatStatus = "no verificado"
    autoridad: AutoridadStatus = "no verificada"
    if verify:
        result = verify_seals(root, record, extra_cert_dirs=extra_cert_dirs, environment=environment)
        sello_ok = result.sello_ok
        sello_sat = result.sello_sat
        autoridad = result.autoridad
        warnings.extend(result.warnings)
    else:
        warnings.append("Los sellos no se verificaron (verificación desactivada)")
    return LoadedCfdi(
        record=record,
        raw=data,
        sha256=hashlib.sha256(data).hexdigest(),
        xsd_ok=True,
        sello_ok=sello_ok,
        sello_sat=sello_sat,
        warnings=warnings,
        autoridad=autoridad,
    )


def load_cfdi_file(
    path: str | Path,
    *,
    verify: bool = True,
    extra_cert_dirs: Iterable[str | Path] = (),
    max_bytes: int = DEFAULT_MAX_BYTES,
    environment: Environment = "test",
) -> LoadedCfdi:
    """``load_cfdi`` on a file, reading at most ``max_bytes + 1`` bytes of it."""
    with open(path, "rb") as fh:
        data = read_limited(fh, max_bytes)
    return load_cfdi(data, verify=verify, extra_cert_dirs=extra_cert_dirs, max_bytes=max_bytes,
                     environment=environment)
