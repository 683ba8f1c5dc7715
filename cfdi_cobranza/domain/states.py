"""The states a record moves through and the moves allowed between them, in one place.

A state is a ``StrEnum`` whose values are the strings stored in the database and shown
in JSON; a move not in its table is a bug or a race, refused with ``ConflictError``.
"""

from __future__ import annotations

from enum import StrEnum

from cfdi_cobranza.errors import ConflictError


class RepStatus(StrEnum):
    """A payment complement (REP) we issue. There is no draft: it is computed and
    validated in memory and first saved signed, as ``enviando``."""

    ENVIANDO = "enviando"  # signed and saved, sent (or about to be) to the PAC
    TIMBRADO = "timbrado"
    RECHAZADO = "rechazado"  # refused by the PAC (or never sent); kept only when a later folio was taken
    SUSTITUYENDO = "sustituyendo"  # its replacement (motive 01) is being issued
    CANCELACION_SOLICITADA = "cancelacion_solicitada"  # the receiver must accept
    CANCELADO = "cancelado"
    SUSTITUIDO = "sustituido"  # cancelled with motive 01 once its replacement was stamped

    def check_move(self, new: RepStatus) -> RepStatus:
        """``new`` when this state may become it; else ``ConflictError``."""
        if new not in REP_TRANSITIONS[self]:
            raise ConflictError(f"Un REP {self.value} no puede pasar a {new.value}.", code="REP_TRANSICION_INVALIDA")
        return new


REP_TRANSITIONS: dict[RepStatus, frozenset[RepStatus]] = {
    # Stamped, refused by the PAC, or still in flight after an answer that never came
    # (``rep retry``). A refused REP whose folio is the last one is deleted, not moved.
    RepStatus.ENVIANDO: frozenset({RepStatus.TIMBRADO, RepStatus.RECHAZADO}),
    RepStatus.TIMBRADO: frozenset({RepStatus.SUSTITUYENDO, RepStatus.CANCELACION_SOLICITADA,
                                   RepStatus.CANCELADO, RepStatus.SUSTITUIDO}),
    # Back to stamped once the replacement is issued (or failed; after a crash, by
    # ``rep retry`` once no replacement is in flight); then it is cancelled.
    RepStatus.SUSTITUYENDO: frozenset({RepStatus.TIMBRADO}),
    # Back to stamped when the receiver rejects the cancellation: the CFDI stays in force.
    RepStatus.CANCELACION_SOLICITADA: frozenset({RepStatus.CANCELADO, RepStatus.SUSTITUIDO, RepStatus.TIMBRADO}),
    RepStatus.RECHAZADO: frozenset(),
    RepStatus.CANCELADO: frozenset(),
    RepStatus.SUSTITUIDO: frozenset(),
}

# A live REP still stands for its applications: no other REP may cover them.
LIVE_REP_STATUSES = frozenset({RepStatus.ENVIANDO, RepStatus.TIMBRADO, RepStatus.SUSTITUYENDO,
                               RepStatus.CANCELACION_SOLICITADA})
