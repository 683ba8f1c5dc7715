"""Background jobs and the automatic-REP policy, as pure rules: states, when a policy
run is due, how long a failed job waits before its next attempt."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum

from cfdi_cobranza.errors import ValidationError


class JobState(StrEnum):
    """``job.state``: queued (waiting, maybe until ``run_after``), running (claimed by a
    worker holding a lease), done, failed (attempts spent or a refusal; retried by hand)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


JOB_STATE_LABELS = {JobState.QUEUED: "En cola", JobState.RUNNING: "En proceso", JobState.DONE: "Terminado",
                    JobState.FAILED: "Falló"}


class RepMode(StrEnum):
    """When a company's REPs are issued without anyone asking."""

    MANUAL = "manual"  # only «Emitir pendientes» / «cobranza rep issue»
    AL_APLICAR = "al-aplicar"  # one REP per payment as soon as it is applied to a PPD invoice
    DIARIO = "diario"  # every day at ``hora``: one REP per pending payment
    MENSUAL = "mensual"  # from day ``dia`` of the next month: one REP per customer for the month


REP_MODE_LABELS = {RepMode.MANUAL: "Manual", RepMode.AL_APLICAR: "Al aplicar el pago",
                   RepMode.DIARIO: "Diario", RepMode.MENSUAL: "Mensual"}
DEFAULT_MODE = RepMode.DIARIO
DEFAULT_HORA = "19:00"
DEFAULT_DIA = 3
_HORA = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Policy:
    mode: RepMode = DEFAULT_MODE
    hora: str = DEFAULT_HORA
    dia: int = DEFAULT_DIA

    @classmethod
    def parse(cls, mode: str, hora: str | None = None, dia: int | str | None = None) -> Policy:
        """A policy from user input; ``ValidationError`` in Spanish for a bad value."""
        try:
            m = RepMode(mode.strip().lower())
        except ValueError:
            raise ValidationError(f"Modo de emisión de REP inválido «{mode}»; use manual, al-aplicar, diario o "
                                  "mensual.", code="REP_POLITICA_MODO_INVALIDO") from None
        h = (hora or DEFAULT_HORA).strip()
        if not _HORA.match(h):
            raise ValidationError(f"Hora inválida «{h}»; use HH:MM (24 horas, hora de la Ciudad de México).",
                                  code="REP_POLITICA_HORA_INVALIDA")
        try:
            d = DEFAULT_DIA if dia in (None, "") else int(dia)
        except ValueError:
            d = 0
        if not 1 <= d <= 5:
            raise ValidationError(f"Día inválido «{dia}»; use un día del 1 al 5 (el SAT vence el día 5).",
                                  code="REP_POLITICA_DIA_INVALIDO")
        return cls(m, h, d)

    @property
    def at(self) -> time:
        hh, mm = self.hora.split(":")
        return time(int(hh), int(mm))

    def run_due(self, now_local: datetime) -> date | None:
        """The day whose scheduled run is due at ``now_local`` (Mexico City), or None.
        A run is keyed by that day, so asking again the same day finds the same run."""
        if self.mode in (RepMode.MANUAL, RepMode.AL_APLICAR) or now_local.time() < self.at:
            return None
        if self.mode == RepMode.MENSUAL and now_local.day < self.dia:
            return None
        return now_local.date()

    def describe(self) -> str:
        if self.mode == RepMode.DIARIO:
            return f"Diario a las {self.hora}"
        if self.mode == RepMode.MENSUAL:
            return f"Mensual: un REP por cliente, el día {self.dia} a las {self.hora}"
        return REP_MODE_LABELS[self.mode]


def retry_delay(attempts: int) -> int:
    """Seconds before attempt ``attempts + 1`` of a job that failed transiently:
    30 s doubling each time, at most an hour."""
    return int(min(3600, 30 * 2 ** max(0, attempts - 1)))
