"""Today's date in Mexico (the default fecha de corte), from the app's injectable clock."""

from __future__ import annotations

from datetime import date, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from flask import current_app

from cfdi_cobranza.services.clock import Clock


def _mexico() -> tzinfo:
    try:
        return ZoneInfo("America/Mexico_City")
    except Exception:  # no tz database installed: central Mexico has no DST since 2022
        return timezone(timedelta(hours=-6))


MEXICO = _mexico()


def clock() -> Clock:
    value: Clock = current_app.config["CLOCK"]
    return value


def today() -> date:
    return clock()().astimezone(MEXICO).date()
