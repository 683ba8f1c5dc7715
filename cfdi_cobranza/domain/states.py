"""The states a record moves through and the moves allowed between them, in one place.

A state is a ``StrEnum`` whose values are the strings stored in the database and shown
in JSON; a move not in its table is a bug or a race, refused with ``ConflictError``.
README.md ("Estados") lists them all; ``tests/unit/test_states.py`` keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Self

from cfdi_cobranza.errors import ConflictError


class State(StrEnum):
    """Base of every state set below; its moves are ``TRANSITIONS[type(self)]``."""

    @property
    def etiqueta(self) -> str:
        return self.value.replace("_", " ").capitalize()

    def check_move(self, new: Self) -> Self:
        """``new`` when this state may become it; else ``ConflictError``."""
        if new not in TRANSITIONS[type(self)][self]:
            refusal, code = REFUSALS[type(self)]
            raise ConflictError(refusal.format(old=self, new=new, old_label=self.etiqueta.lower(),
                                                new_label=new.etiqueta.lower()), code=code)
        return new


class RepStatus(State):
    """A payment complement (REP) we issue. There is no draft: it is computed and
    validated in memory and first saved signed, as ``enviando``."""

    ENVIANDO = "enviando"  # signed and saved, sent (or about to be) to the PAC
    TIMBRADO = "timbrado"
    RECHAZADO = "rechazado"  # refused by the PAC (or never sent); kept only when a later folio was taken
    SUSTITUYENDO = "sustituyendo"  # its replacement (motive 01) is being issued
    CANCELACION_SOLICITADA = "cancelacion_solicitada"  # the receiver must accept
    CANCELADO = "cancelado"
    SUSTITUIDO = "sustituido"  # cancelled with motive 01 once its replacement was stamped


class DocumentStatus(State):
    """An imported CFDI (``document.status``)."""

    VIGENTE = "vigente"
    CANCELADO = "cancelado"  # cancelled at the SAT: owes nothing, left out of aging


class PaymentStatus(State):
    """A receipt of money (``payment.status``)."""

    ACTIVO = "activo"
    DEVUELTO = "devuelto"  # the cheque or transfer that funded it bounced: the money never arrived


class DepositStatus(State):
    """A deposit read from a bank statement (``bank_movement.status``)."""

    PENDIENTE = "pendiente"
    APLICADO = "aplicado"


class AuthorizationStatus(State):
    """A request to let through an operation the credit check stopped."""

    PENDIENTE = "pendiente"
    AUTORIZADA = "autorizada"
    DENEGADA = "denegada"


class CreditStatus(State):
    """A customer's credit standing (``credit_condition.estatus``), set by hand."""

    ACTIVO = "activo"
    SUSPENDIDO = "suspendido"  # credit operations need an authorization
    BLOQUEADO = "bloqueado"  # no sale, order or document at all


class DebtStatus(State):
    """A cheque, pagaré or voucher (``debt_document.estado``, history in ``debt_document_state``)."""

    EN_CARTERA = "en_cartera"
    DEPOSITADO = "depositado"
    COBRADO = "cobrado"
    DEVUELTO = "devuelto"  # bounced: the credits it funded are reversed
    PROTESTADO = "protestado"  # bounced and protested: the credits it funded are reversed
    CANCELADO = "cancelado"


class FollowUpStatus(State):
    """A follow-up of the collection file; closing it adds a closure row (append-only)."""

    PENDIENTE = "pendiente"
    CERRADO = "cerrado"


class PromiseStatus(State):
    """A promise to pay, evaluated (never stored) from the payments applied to its documents."""

    VIGENTE = "vigente"
    CUMPLIDA = "cumplida"
    INCUMPLIDA = "incumplida"


class MailStatus(State):
    """A message of the outbox (``mail_message.status``): queued, claimed by one sender, then settled."""

    EN_COLA = "en_cola"  # waiting for its next attempt (``next_attempt_at``)
    ENVIANDO = "enviando"  # claimed by one sender (conditional UPDATE); never two at once
    ENVIADO = "enviado"  # the server accepted it (250 after DATA)
    RECHAZADO = "rechazado"  # the server refused it for good (5xx); its answer is kept
    FALLIDO = "fallido"  # temporary errors until the attempts ran out
    INCIERTO = "incierto"  # the sender died after handing over DATA: maybe delivered, never resent by itself
    CANCELADO = "cancelado"  # not sent: the contact opted out or was removed


TRANSITIONS: Mapping[type[State], Mapping[State, frozenset[State]]] = {
    RepStatus: {
        # Stamped, refused by the PAC, or still in flight after an answer that never came
        # (``rep retry``). A refused REP whose folio is the last one is deleted, not moved.
        RepStatus.ENVIANDO: frozenset({RepStatus.TIMBRADO, RepStatus.RECHAZADO}),
        RepStatus.TIMBRADO: frozenset({RepStatus.SUSTITUYENDO, RepStatus.CANCELACION_SOLICITADA,
                                       RepStatus.CANCELADO, RepStatus.SUSTITUIDO}),
        # Back to stamped once the replacement is issued (or failed; after a crash, by
        # ``rep retry`` once no replacement is in flight); then it is cancelled.
        RepStatus.SUSTITUYENDO: frozenset({RepStatus.TIMBRADO}),
        # Back to stamped when the receiver rejects the cancellation: the CFDI stays in force.
        RepStatus.CANCELACION_SOLICITADA: frozenset({RepStatus.CANCELADO, RepStatus.SUSTITUIDO,
                                                     RepStatus.TIMBRADO}),
        RepStatus.RECHAZADO: frozenset(),
        RepStatus.CANCELADO: frozenset(),
        RepStatus.SUSTITUIDO: frozenset(),
    },
    DocumentStatus: {
        DocumentStatus.VIGENTE: frozenset({DocumentStatus.CANCELADO}),
        DocumentStatus.CANCELADO: frozenset(),
    },
    PaymentStatus: {
        PaymentStatus.ACTIVO: frozenset({PaymentStatus.DEVUELTO}),
        PaymentStatus.DEVUELTO: frozenset(),
    },
    DepositStatus: {
        DepositStatus.PENDIENTE: frozenset({DepositStatus.APLICADO}),
        DepositStatus.APLICADO: frozenset(),
    },
    AuthorizationStatus: {
        AuthorizationStatus.PENDIENTE: frozenset({AuthorizationStatus.AUTORIZADA, AuthorizationStatus.DENEGADA}),
        AuthorizationStatus.AUTORIZADA: frozenset(),
        AuthorizationStatus.DENEGADA: frozenset(),
    },
    CreditStatus: {s: frozenset(CreditStatus) - {s} for s in CreditStatus},  # set by hand, any to any
    DebtStatus: {
        DebtStatus.EN_CARTERA: frozenset({DebtStatus.DEPOSITADO, DebtStatus.COBRADO, DebtStatus.PROTESTADO,
                                          DebtStatus.CANCELADO}),
        DebtStatus.DEPOSITADO: frozenset({DebtStatus.COBRADO, DebtStatus.DEVUELTO}),
        DebtStatus.COBRADO: frozenset({DebtStatus.DEVUELTO}),  # the bank may charge a cheque back
        DebtStatus.DEVUELTO: frozenset({DebtStatus.DEPOSITADO, DebtStatus.PROTESTADO, DebtStatus.COBRADO,
                                        DebtStatus.CANCELADO}),
        DebtStatus.PROTESTADO: frozenset({DebtStatus.COBRADO, DebtStatus.CANCELADO}),
        DebtStatus.CANCELADO: frozenset(),
    },
    FollowUpStatus: {
        FollowUpStatus.PENDIENTE: frozenset({FollowUpStatus.CERRADO}),
        FollowUpStatus.CERRADO: frozenset(),
    },
    MailStatus: {
        MailStatus.EN_COLA: frozenset({MailStatus.ENVIANDO, MailStatus.CANCELADO}),
        # Back to the queue on a temporary error (or a claim abandoned before DATA).
        MailStatus.ENVIANDO: frozenset({MailStatus.ENVIADO, MailStatus.EN_COLA, MailStatus.RECHAZADO,
                                        MailStatus.FALLIDO, MailStatus.INCIERTO, MailStatus.CANCELADO}),
        MailStatus.ENVIADO: frozenset(),
        MailStatus.RECHAZADO: frozenset(),
        # Sent again only when a user asks (``cobranza mail resend``).
        MailStatus.FALLIDO: frozenset({MailStatus.EN_COLA}),
        MailStatus.INCIERTO: frozenset({MailStatus.EN_COLA}),
        MailStatus.CANCELADO: frozenset(),
    },
    # Decided once the promised date (plus grace) has passed or the amount is paid.
    PromiseStatus: {
        PromiseStatus.VIGENTE: frozenset({PromiseStatus.CUMPLIDA, PromiseStatus.INCUMPLIDA}),
        PromiseStatus.CUMPLIDA: frozenset(),
        PromiseStatus.INCUMPLIDA: frozenset(),
    },
}

# The Spanish refusal of an illegal move ({old}, {new}: the states; {old_label}, {new_label}:
# their labels) and its stable code.
REFUSALS: Mapping[type[State], tuple[str, str]] = {
    RepStatus: ("Un REP {old} no puede pasar a {new}.", "REP_TRANSICION_INVALIDA"),
    DocumentStatus: ("Un CFDI {old} no puede pasar a {new}.", "DOCUMENTO_TRANSICION_INVALIDA"),
    PaymentStatus: ("Un pago {old} no puede pasar a {new}.", "PAGO_TRANSICION_INVALIDA"),
    DepositStatus: ("Un depósito {old} no puede pasar a {new}.", "DEPOSITO_TRANSICION_INVALIDA"),
    AuthorizationStatus: ("La solicitud ya fue {old}.", "AUTORIZACION_RESUELTA"),
    CreditStatus: ("Un crédito {old} no puede pasar a {new}.", "CREDITO_TRANSICION_INVALIDA"),
    DebtStatus: ("Un documento {old_label} no puede pasar a {new_label}.", "TRANSICION_INVALIDA"),
    FollowUpStatus: ("Un seguimiento {old} no puede pasar a {new}.", "SEGUIMIENTO_TRANSICION_INVALIDA"),
    PromiseStatus: ("Una promesa {old} no puede pasar a {new}.", "PROMESA_TRANSICION_INVALIDA"),
    MailStatus: ("Un correo {old_label} no puede pasar a {new_label}.", "CORREO_TRANSICION_INVALIDA"),
}

# A live REP still stands for its applications: no other REP may cover them.
LIVE_REP_STATUSES = frozenset({RepStatus.ENVIANDO, RepStatus.TIMBRADO, RepStatus.SUSTITUYENDO,
                               RepStatus.CANCELACION_SOLICITADA})
# A bounced instrument reverses the credits of the receipt or complement it funded.
BOUNCED = frozenset({DebtStatus.DEVUELTO, DebtStatus.PROTESTADO})
