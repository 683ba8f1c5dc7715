"""The ``cobranza`` command line: entry point and command registration."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable

import click
from sqlalchemy.exc import DataError

from cfdi_cobranza import __version__
from cfdi_cobranza.cli import (
    bank,
    conflicts,
    credit,
    customers,
    debts,
    followups,
    jobs,
    ledger,
    mail,
    payments,
    reports,
    reps,
    sales,
    sat,
    sat_status,
    users,
)
from cfdi_cobranza.cli.common import EXIT_ITEMS_FAILED, EXIT_USAGE, AppContext, emit_json
from cfdi_cobranza.errors import CobranzaError

_original_help_option = click.Command.get_help_option


def _spanish_help_option(self: click.Command, ctx: click.Context) -> click.Option | None:
    option = _original_help_option(self, ctx)
    if option is not None:
        option.help = "Muestra esta ayuda y termina."
    return option


# Click writes the --help line in English; every user reads Spanish.
click.Command.get_help_option = _spanish_help_option  # type: ignore[method-assign]

_SECTIONS = {"Options": "Opciones", "Commands": "Comandos", "Arguments": "Argumentos"}


class SpanishHelpFormatter(click.HelpFormatter):
    """Help text with Spanish headings (Uso, Opciones, Comandos)."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args.replace("[OPTIONS]", "[OPCIONES]").replace("COMMAND", "COMANDO")
                            .replace("[ARGS]", "[ARGUMENTOS]"), prefix="Uso: " if prefix is None else prefix)

    def section(self, name: str):  # type: ignore[no-untyped-def]
        return super().section(_SECTIONS.get(name, name))

    def write_dl(self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2) -> None:
        super().write_dl([(_translate_terms(a), _translate_terms(b)) for a, b in rows], col_max, col_spacing)


_TERMS = [(re.compile(r"\b" + en + r"\b"), es) for en, es in (
    ("DIRECTORY", "CARPETA"), ("FILE", "ARCHIVO"), ("INTEGER RANGE", "ENTERO"), ("INTEGER", "ENTERO"),
    ("TEXT", "TEXTO"), ("FLOAT", "NÚMERO"), ("PATH", "RUTA"))]


def _translate_terms(text: str) -> str:
    for pattern, es in _TERMS:
        text = pattern.sub(es, text)
    return text.replace("[required]", "[obligatorio]").replace("[default: ", "[por omisión: ")


click.Context.formatter_class = SpanishHelpFormatter


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--db", "db_url", metavar="URL", help="URL de la base de datos (o COBRANZA_DATABASE_URL).")
@click.version_option(__version__, prog_name="cobranza", help="Muestra la versión y termina.")
@click.pass_context
def cli(ctx: click.Context, db_url: str | None) -> None:
    """cfdi-cobranza: cuentas por cobrar con CFDI 4.0 y complementos de pago (REP)."""
    ctx.obj = AppContext(db_url)
    ctx.call_on_close(ctx.obj.close)


# Each module adds its command group(s).
# ``sat`` (bulk download) before ``sat_status``, which adds its commands to that group.
for _module in (ledger, payments, bank, reps, reports, followups, customers, credit, debts, users, sat, sat_status, mail, jobs):
    _module.register(cli)
conflicts.register(cli)
sales.register(cli)  # cobranza document assign (issue 17)


_CLICK_ES = [
    (re.compile(r"^No such option:? '?([^'\s]+)'?\.?(?:\s.*)?$", re.S), "No existe la opción {0}."),
    (re.compile(r"^No such command '([^']+)'\.?(?: Did you mean '([^']+)'\?)?$"), "No existe el comando «{0}»."),
    (re.compile(r"^Missing argument '([^']+?)\.*'\.?$"), "Falta el argumento {0}."),
    (re.compile(r"^Missing argument '([^']+?)\.*'\. Choose from:\s*(.*)$", re.S), "Falta el argumento {0}. Opciones: {1}."),
    (re.compile(r"^Missing option '([^']+)'\.?$"), "Falta la opción {0}."),
    (re.compile(r"^Option '([^']+)' requires an argument\.?$"), "La opción {0} necesita un valor."),
    (re.compile(r"^Invalid value for '([^']+)': '([^']*)' is not one of (.*?)\.?$", re.S),
     "Valor inválido para {0}: «{1}» no es una de las opciones {2}."),
    (re.compile(r"^Invalid value for '([^']+)': (.*)$", re.S), "Valor inválido para {0}: {1}"),
    (re.compile(r"^Got unexpected extra arguments? \((.*)\)$"), "Argumentos de más: {0}."),
]


def spanish_usage_error(exc: click.ClickException) -> str:
    """Click writes its usage errors in English; users read Spanish."""
    text = exc.format_message()
    for pattern, template in _CLICK_ES:
        match = pattern.match(text)
        if match:
            text = template.format(*(" ".join(g.split()) if g else g for g in match.groups()))
            break
    ctx = getattr(exc, "ctx", None)
    hint = f"\nUse «{ctx.command_path} --help» para ver la ayuda." if ctx is not None else ""
    return f"Error de uso: {text}{hint}"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; never lets a traceback reach the user for bad input."""
    as_json = "--json" in (argv if argv is not None else sys.argv[1:])
    try:
        rv = cli.main(args=argv, prog_name="cobranza", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Cancelado.", err=True)
        return EXIT_ITEMS_FAILED
    except click.ClickException as exc:
        click.echo(spanish_usage_error(exc), err=True)
        return EXIT_USAGE
    except CobranzaError as exc:
        if as_json:
            emit_json({"error": exc.to_dict()})
        else:
            click.echo(f"Error [{exc.code}]: {exc.message}", err=True)
        return EXIT_ITEMS_FAILED
    except KeyboardInterrupt:
        return 130
    except (OverflowError, DataError):
        # A number too big for the database (an id like 10**20): bad input, as on the web.
        error = CobranzaError("Un número de la solicitud está fuera del rango permitido.",
                              code="VALOR_FUERA_DE_RANGO")
        if as_json:
            emit_json({"error": error.to_dict()})
        else:
            click.echo(f"Error [{error.code}]: {error.message}", err=True)
        return EXIT_ITEMS_FAILED
    except Exception as exc:
        if os.environ.get("COBRANZA_DEBUG"):
            raise
        detail = {"code": "ERROR_INTERNO", "message": f"Error interno inesperado ({type(exc).__name__}). "
                  "Ejecute con COBRANZA_DEBUG=1 para ver el detalle técnico."}
        if as_json:
            emit_json({"error": detail})
        else:
            click.echo(f"Error [{detail['code']}]: {detail['message']}", err=True)
        return EXIT_ITEMS_FAILED
    # Commands return their exit code (1 when some item was refused).
    return rv if isinstance(rv, int) else 0


def run() -> None:
    sys.exit(main())
