"""PAC adapters: the embedded sandbox, Finkok and SW Sapien behind one interface.

Use :func:`cfdi_cobranza.pac.config.pac_from_config` to get the configured one and the
types of :mod:`cfdi_cobranza.pac.base` to talk to it.
"""

from cfdi_cobranza.pac.base import (
    CancelRequest,
    CancelResult,
    CsdCredentials,
    Pac,
    SatStatus,
    StampRequest,
    StampResult,
)

__all__ = [
    "CancelRequest",
    "CancelResult",
    "CsdCredentials",
    "Pac",
    "SatStatus",
    "StampRequest",
    "StampResult",
]
