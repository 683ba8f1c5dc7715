"""What every command shares: the database, JSON vs Spanish output, exit codes.

Exit codes: 0 all good, 1 some item refused or failed (details in the output),
2 usage error. A ``CobranzaError`` is printed as its Spanish message; anything
unexpected is reported without a traceback (set ``COBRANZA_DEBUG=1`` to see one).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import click
from sqlalchemy import Engine

from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.session import make_engine

EXIT_OK = 0
EXIT_ITEMS_FAILED = 1
EXIT_USAGE = 2


@dataclass
class AppContext:
    db_url: str | None
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        return Settings.from_env(self.db_url)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.database_url)
        return self._engine

    def close(self) -> None:
        """Return the pool's connections (a PostgreSQL server counts them)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


pass_app = click.make_pass_decorator(AppContext)

json_option = click.option("--json", "as_json", is_flag=True, help="Imprime un documento JSON en la salida estándar.")


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return format(obj, "f")
    if isinstance(obj, date):
        return obj.isoformat()
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=_default) + "\n")


def parse_date_option(_ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"fecha inválida «{value}»; use AAAA-MM-DD.", param=param) from None


def table(rows: list[list[str]], headers: list[str], right: set[int] | None = None) -> str:
    right = right or set()
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)).rstrip()

    lines = [fmt(headers), "  ".join("-" * w for w in widths)]
    lines.extend(fmt(r) for r in rows)
    return "\n".join(lines)
