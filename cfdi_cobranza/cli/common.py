"""What every command shares: the database, JSON vs Spanish output, exit codes, options.

Exit codes: 0 all good, 1 some item refused or failed (details in the output),
2 usage error. A ``CobranzaError`` is printed as its Spanish message; anything
unexpected is reported without a traceback (set ``COBRANZA_DEBUG=1`` to see one).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine

from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.session import make_engine, migrate, require_current_schema, transaction
from cfdi_cobranza.domain.money import MoneyError, parse_amount
from cfdi_cobranza.domain.period import DateRange, date_in_window, parse_date, window_message
from cfdi_cobranza.errors import CobranzaError, ValidationError
from cfdi_cobranza.reports.export import Format, Report, render
from cfdi_cobranza.services.clock import system_clock
from cfdi_cobranza.services.ledger import find_customer
from cfdi_cobranza.services.portfolio import Filters, local_date

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
        """The database; refused (exit 1, in Spanish) unless its schema is current."""
        if self._engine is None:
            engine = make_engine(self.settings.database_url)
            try:
                require_current_schema(engine)
            except CobranzaError:
                engine.dispose()
                raise
            self._engine = engine
        return self._engine

    def migrate(self) -> list[str]:
        """Bring the schema to the newest revision: only ``init`` and ``serve`` do this."""
        if self._engine is None:
            self._engine = make_engine(self.settings.database_url)
        return migrate(self._engine)

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


def reply(as_json: bool, payload: Any, text: str) -> int:
    """A command's answer: ``payload`` as one JSON document with ``--json``, else ``text``."""
    if as_json:
        emit_json(payload)
    else:
        click.echo(text)
    return EXIT_OK


def parse_date_option(_ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"fecha inválida «{value}»; use AAAA-MM-DD.", param=param) from None
    if not date_in_window(day):
        raise click.BadParameter(window_message("la fecha", day), param=param)
    return day


_OS_REASONS = {
    errno.EACCES: "no tiene permiso para escribir ahí",
    errno.EPERM: "no tiene permiso para escribir ahí",
    errno.ENOENT: "la carpeta no existe",
    errno.ENOTDIR: "una parte de la ruta no es una carpeta",
    errno.EISDIR: "es una carpeta, no un archivo",
    errno.ENOSPC: "el disco está lleno",
    errno.EROFS: "el sistema de archivos es de solo lectura",
    errno.ENAMETOOLONG: "el nombre es demasiado largo",
    errno.EEXIST: "ya existe un archivo con ese nombre",
}


def output_error(path: Path, exc: OSError) -> CobranzaError:
    """An output path the system refuses, as a user error in Spanish (exit 1)."""
    reason = _OS_REASONS.get(exc.errno or 0, "el sistema no permite escribir en esa ruta")
    return CobranzaError(f"No se pudo escribir «{path}»: {reason}. Indique otra ruta con --out.",
                         code="SALIDA_NO_ESCRIBIBLE", archivo=str(path))


def write_output(path: Path, data: bytes | str, *, mkdir: bool = False) -> None:
    """Write a command's output file; a refused path is a user error, and a file this call
    created is not left half-written."""
    existed = path.exists()
    try:
        if mkdir:
            path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
    except OSError as exc:
        if not existed:
            with contextlib.suppress(OSError):
                path.unlink()
        raise output_error(path, exc) from exc


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


# --------------------------------------------------------------------------- options of the collections commands


def date_option(_ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    """A date as dd/mm/aaaa or aaaa-mm-dd (the collections commands; see also ``parse_date_option``)."""
    if value is None:
        return None
    try:
        return parse_date(value)
    except ValidationError as exc:
        raise click.BadParameter(exc.message, param=param) from None


def amount_option(_ctx: click.Context, param: click.Parameter, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return parse_amount(value.replace(",", ""), allow_negative=True)
    except MoneyError:
        raise click.BadParameter(f"importe inválido «{value}»; use por ejemplo 1500.00.", param=param) from None


def today() -> date:
    return local_date(system_clock())


def actor_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--user", "actor", default=lambda: os.environ.get("COBRANZA_USER", "cli"),
                        show_default="COBRANZA_USER o «cli»", help="Usuario que firma la operación.")(f)


def as_of_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--as-of", "as_of", callback=date_option, metavar="FECHA",
                        help="Fecha de corte (dd/mm/aaaa o aaaa-mm-dd); hoy si se omite.")(f)


def range_options(required: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        f = click.option("--to", "hasta", callback=date_option, required=required, metavar="FECHA",
                         help="Fecha final.")(f)
        return click.option("--from", "desde", callback=date_option, required=required, metavar="FECHA",
                            help="Fecha inicial.")(f)
    return deco


def date_range(desde: date | None, hasta: date | None) -> DateRange:
    if desde is None or hasta is None:
        raise click.UsageError("indique --from y --to.")
    return DateRange(desde, hasta)  # an inverted range is a ValidationError: exit 1


_FILTERS = (("empresa", "RFC de la empresa emisora."), ("sucursal", "Sucursal."),
            ("clasificacion", "Clasificación del cliente."), ("zona", "Zona del cliente."), ("vendedor", "Vendedor."),
            ("tipo_cobranza", "Tipo de cobranza del cliente: normal, judicial, especial u otra."))


def filters_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--customer RFC`` (repeatable), ``--vendedor``, ``--zona``, ``--clasificacion``, ``--sucursal`` and
    ``--empresa``, handed to the command as one ``filters`` argument: the services' ``Filters``, or ``None``
    when no option restricts the portfolio. An unknown customer is refused (exit 1)."""

    @functools.wraps(f)
    def command(*args: Any, customers: tuple[str, ...], **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name, _help in _FILTERS}
        filters = None
        if customers:
            app = click.get_current_context().find_object(AppContext)
            assert app is not None
            with transaction(app.engine) as session:
                ids = tuple(find_customer(session, rfc).id for rfc in customers)
            filters = Filters(customer_ids=ids, **values)
        elif any(values.values()):
            filters = Filters(**values)
        return f(*args, filters=filters, **kwargs)

    for name, help_text in _FILTERS:
        command = click.option(f"--{name.replace('_', '-')}", name, metavar="TEXTO",
                               help=f"Solo {help_text[0].lower()}{help_text[1:]}")(command)
    return click.option("--customer", "customers", multiple=True, metavar="RFC",
                        help="Solo este cliente (se puede repetir).")(command)


def output_options_for(formats: list[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--format`` (one of ``formats``), ``--out ARCHIVO`` and ``--json``."""
    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        f = click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), metavar="ARCHIVO",
                         help="Escribe el reporte en este archivo.")(f)
        f = click.option("--format", "fmt", type=click.Choice(formats), default=None,
                         help="Formato de salida (por omisión: table, o el de la extensión de --out).")(f)
        return json_option(f)
    return deco


output_options = output_options_for([x.value for x in Format])


def emit_report(report: Report, fmt: str | None, out: Path | None, as_json: bool) -> int:
    if as_json:
        fmt = "json"
    if fmt is None:
        suffix = out.suffix.lower().lstrip(".") if out else ""
        fmt = suffix if suffix in ("csv", "xlsx", "json") else "table"
    kind = Format.parse(fmt)
    data = render(report, kind)
    if out is None:
        if kind is Format.XLSX:
            raise click.UsageError("el formato xlsx necesita --out ARCHIVO.")
        click.echo(data.decode("utf-8-sig"), nl=False)
        return EXIT_OK
    write_output(out, data)
    if not as_json:
        click.echo(f"Reporte escrito en {out} ({kind.value}).", err=True)
    else:
        emit_json({"archivo": str(out), "formato": kind.value, **report.payload})
    return EXIT_OK
