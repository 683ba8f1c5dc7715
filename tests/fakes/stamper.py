"""What every fake PAC does behind its wire protocol: stamp once per Sello, cancel.

Also builds the signed, unstamped CFDI the tests send (the factory stamps its output,
so the TimbreFiscalDigital is removed again; the issuer's Sello does not cover it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from lxml import etree

from cfdi_cobranza.cfdi import timbre
from cfdi_cobranza.cfdi.factory import CfdiFactory, PaidDoc
from cfdi_cobranza.cfdi.reader import find_stamp_element

FIXED_NOW = datetime(2025, 1, 15, 12, 5, 0)
RFC_EMISOR = "EKU9003173C9"
RFC_RECEPTOR = "URE180429TM6"


def signed_cfdi(sandbox_dir: Path, folio: str = "1") -> bytes:
    """A signed, unstamped Pagos 2.0 CFDI by the SAT test CSD EKU9003173C9."""
    factory = CfdiFactory(sandbox_dir)
    doc = factory.payment(
        [PaidDoc("AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE", 1, Decimal("1160.00"), Decimal("1160.00"))],
        folio=folio,
    )
    root = etree.fromstring(doc.xml)
    tfd = find_stamp_element(root)
    assert tfd is not None
    parent = tfd.getparent()
    assert parent is not None
    parent.remove(tfd)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@dataclass
class FakeStamper:
    folder: Path
    stamps: int = 0  # documents stamped for the first time
    by_sello: dict[str, bytes] = field(default_factory=dict)
    by_uuid: dict[str, bytes] = field(default_factory=dict)
    cancelled: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.certificate, self.signer = timbre.ensure_sandbox_certificate(self.folder)

    def stamp(self, xml: bytes) -> tuple[bytes, bool]:
        """(stamped CFDI, True if it was stamped before)."""
        root = etree.fromstring(xml)
        sello = root.get("Sello") or ""
        with self._lock:
            if sello in self.by_sello:
                return self.by_sello[sello], True
            stamped = timbre.stamp(
                root,
                certificate=self.certificate,
                signer=self.signer,
                clock=lambda: FIXED_NOW,
                rfc_prov_certif="FIN1203015JA",
            )
            self.stamps += 1
            self.by_sello[sello] = stamped
            tfd = find_stamp_element(etree.fromstring(stamped))
            assert tfd is not None
            self.by_uuid[(tfd.get("UUID") or "").upper()] = stamped
            return stamped, False

    def previously(self, xml: bytes) -> bytes | None:
        sello = etree.fromstring(xml).get("Sello") or ""
        return self.by_sello.get(sello)

    @staticmethod
    def uuid_of(stamped: bytes) -> str:
        tfd = find_stamp_element(etree.fromstring(stamped))
        assert tfd is not None
        return tfd.get("UUID") or ""
