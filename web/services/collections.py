"""Reportes, Seguimiento and the customer's collections file: request parsing and one call each.

Each public function here is the *one* service a view calls: it reads what the user
typed (query string or form), refuses bad input with a Spanish ``ValidationError``
before anything runs, calls ``cfdi_cobranza.services.collection_reports`` /
``followups`` / ``collections`` / ``letters`` and returns what the template shows
(``reports.export.Report`` tables plus chart geometry). No figure is computed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from cfdi_cobranza.domain.aging import AgingBuckets, AgingReport, GroupBy
from cfdi_cobranza.domain.money import MoneyError, parse_amount
from cfdi_cobranza.domain.period import DateRange, Granularity
from cfdi_cobranza.domain.promises import PromiseOutcome
from cfdi_cobranza.domain.states import FollowUpStatus
from cfdi_cobranza.domain.summary import OwedDocument
from cfdi_cobranza.domain.trends import DEFAULT_MONTHS as DEFAULT_TREND_MONTHS
from cfdi_cobranza.domain.trends import MAX_MONTHS as MAX_TREND_MONTHS
from cfdi_cobranza.errors import ValidationError
from cfdi_cobranza.pdf.statement import render_statement_pdf
from cfdi_cobranza.reports import followups as followup_tables
from cfdi_cobranza.reports import tables
from cfdi_cobranza.reports.export import Format, Report, render
from cfdi_cobranza.services import collection_reports as reports
from cfdi_cobranza.services import collections as credit
from cfdi_cobranza.services import followups
from cfdi_cobranza.services.customers import (
    CustomerChoice,
    CustomerDetail,
    customer_detail,
    customer_key,
    customers_for_select,
)
from cfdi_cobranza.services.ledger import find_customer, statement_letterhead
from cfdi_cobranza.services.letters import letters_pdf, record_letters
from cfdi_cobranza.services.mail.documents import LetterMailRun, send_letters
from cfdi_cobranza.services.portfolio import Filters
from web.cache import cached
from web.charts import (
    BarChart,
    ProjectionChart,
    TrendChart,
    aging_chart,
    projection_chart,
    trend_chart,
)
from web.report_pdf import report_pdf
from web.services.inputs import parse_date

if TYPE_CHECKING:
    from cfdi_cobranza.services.clock import Clock
    from cfdi_cobranza.services.letters import LetterSent

MAX_TEXT = 100
DEFAULT_LIMIT = 100
MAX_LIMIT = 5000
FILTER_FIELDS = ("cliente", "vendedor", "zona", "clasificacion", "sucursal", "empresa", "tipo_cobranza")
GROUP_LABELS = {g.value: g.titulo for g in GroupBy}


# --------------------------------------------------------------------------- input parsing


def _text(args: Mapping[str, str], name: str) -> str:
    return (args.get(name) or "").strip()[:MAX_TEXT]


def parse_limit(text: str | None, default: int = DEFAULT_LIMIT) -> int:
    value = (text or "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValidationError(f"Filas a mostrar: «{value[:12]}» no es un número entero.", code="LIMITE_INVALIDO") from None
    if number < 1 or number > MAX_LIMIT:
        raise ValidationError(f"Filas a mostrar debe estar entre 1 y {MAX_LIMIT}; no puede ser cero ni negativo.",
                              code="LIMITE_INVALIDO")
    return number


def parse_money(text: str | None, label: str, *, required: bool = False) -> Decimal | None:
    value = (text or "").strip().replace(",", "").replace("$", "")
    if not value:
        if required:
            raise ValidationError(f"{label}: capture un importe.", code="IMPORTE_REQUERIDO")
        return None
    try:
        amount = parse_amount(value[:30], allow_negative=True)
    except (MoneyError, InvalidOperation, ValueError):
        raise ValidationError(f"{label}: «{value[:20]}» no es un importe válido; use por ejemplo 1500.00.",
                              code="IMPORTE_INVALIDO") from None
    if amount < 0:
        raise ValidationError(f"{label} no puede ser negativo.", code="IMPORTE_INVALIDO")
    return amount


def parse_int(text: str | None, label: str, *, minimum: int = 0, maximum: int = 36500) -> int | None:
    value = (text or "").strip()
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        raise ValidationError(f"{label}: «{value[:12]}» no es un número entero.", code="NUMERO_INVALIDO") from None
    if not minimum <= number <= maximum:
        raise ValidationError(f"{label} debe estar entre {minimum} y {maximum}.", code="NUMERO_INVALIDO")
    return number


@dataclass
class ReportParams:
    """What the filter form says, echoed back into the form as typed."""

    form: dict[str, str]
    as_of: date
    desde: date | None = None
    hasta: date | None = None
    group_by: str = "cliente"
    buckets: str | None = None
    granularity: str = "semana"
    limit: int = DEFAULT_LIMIT
    detail: bool = False
    filter_values: dict[str, str] = field(default_factory=dict)
    today: date | None = None  # the real today: nothing due after it is overdue, whatever the dates asked

    def rango(self, default_days: int = 0) -> DateRange:
        desde = self.desde or (self.as_of.replace(day=1) if default_days == 0 else self.as_of)
        hasta = self.hasta or (self.as_of if default_days == 0 else desde + timedelta(days=default_days))
        return DateRange(desde, hasta)  # an inverted range is a Spanish ValidationError


def parse_params(args: Mapping[str, str], today: date, *, default_group: str = "cliente") -> ReportParams:
    form = {k: _text(args, k) for k in ("corte", "desde", "hasta", "agrupar", "rangos", "periodo", "limite",
                                        "detalle", *FILTER_FIELDS)}
    form["meses"] = _text(args, "meses")  # the trends report's months
    as_of = parse_date(form["corte"], "Fecha de corte") or today
    desde = parse_date(form["desde"], "Fecha inicial")
    hasta = parse_date(form["hasta"], "Fecha final")
    if desde and hasta and desde > hasta:
        DateRange(desde, hasta)
    group = form["agrupar"] or default_group
    GroupBy.parse(group)
    buckets = form["rangos"] or None
    if buckets is not None:
        AgingBuckets.parse(buckets)  # overlapping, unordered or negative bounds: Spanish message
    periodo = form["periodo"] or "semana"
    Granularity.parse(periodo)
    return ReportParams(form=form, as_of=as_of, desde=desde, hasta=hasta, group_by=group, buckets=buckets,
                        granularity=periodo, limit=parse_limit(form["limite"]), detail=form["detalle"] == "1",
                        filter_values={k: form[k] for k in FILTER_FIELDS if form[k]}, today=today)


def _filters(session: Session, p: ReportParams) -> Filters | None:
    values = dict(p.filter_values)
    rfc = values.pop("cliente", None)
    ids = (find_customer(session, rfc).id,) if rfc else None
    if ids is None and not values:
        return None
    return Filters(customer_ids=ids, **values)


# --------------------------------------------------------------------------- reports


@dataclass
class ReportPage:
    report: Report
    charts: list[BarChart] = field(default_factory=list)
    projection: ProjectionChart | None = None
    truncated: dict[str, int] = field(default_factory=dict)  # table name -> rows not shown
    trend: TrendChart | None = None


def _limit_tables(report: Report, limit: int) -> dict[str, int]:
    """Keep the HTML page light on a large portfolio: the downloads carry every row."""
    cut: dict[str, int] = {}
    for t in report.tables:
        data = [r for r in t.rows if r and r[0] != "TOTAL"]
        totals = [r for r in t.rows if r and r[0] == "TOTAL"]
        if len(data) > limit:
            cut[t.name] = len(data) - limit
            t.rows = data[:limit] + totals
    return cut


def aging_report(session: Session, p: ReportParams) -> AgingReport:
    """The aging report of these parameters, cached per process for the current ledger version.

    Everything it reads (documents, credits, customers, companies, conditions, sale
    assignments, the default buckets) is a tracked table (``web.cache``). The cached
    report is shared: callers derive new objects (``replace``) and never mutate it.
    """
    def compute() -> AgingReport:
        return reports.aging(session, p.as_of, buckets=p.buckets, group_by=p.group_by, filters=_filters(session, p),
                             detail=p.detail)

    if p.detail:
        return compute()  # one line per open document (100,000 of them): too big to keep
    key = (p.as_of, p.buckets, p.group_by, tuple(sorted(p.filter_values.items())))
    return cached(session, "aging_report", key, compute)


def aging_page(session: Session, p: ReportParams, *, for_download: bool = False) -> ReportPage:
    rep = aging_report(session, p)
    labels = tuple(rep.etiquetas)
    charts = [aging_chart(labels, t.importes, cur) for cur, t in rep.totales.items()]
    if len(rep.totales) > 1 or (rep.totales and "MXN" not in rep.totales):
        charts.append(aging_chart(labels, rep.total_mxn.importes, "MXN", title="Toda la cartera convertida a MXN"))
    if for_download:
        return ReportPage(tables.aging_report(rep), charts)
    # The page shows the first rows of each table with the totals: format only those
    # (a portfolio of thousands of customers would spend most of the request here).
    cut = {name: n - p.limit for name, n in (("Antigüedad", len(rep.filas)), ("Convertido a MXN", len(rep.filas_mxn)),
                                             ("Detalle", len(rep.detalle))) if n > p.limit}
    shown = replace(rep, filas=rep.filas[:p.limit], filas_mxn=rep.filas_mxn[:p.limit], detalle=rep.detalle[:p.limit])
    page = ReportPage(tables.aging_report(shown), charts)
    page.truncated = cut
    return page


def due_page(session: Session, p: ReportParams, *, for_download: bool = False) -> ReportPage:
    rep = reports.due_report(session, p.rango(default_days=7), p.as_of, filters=_filters(session, p))
    page = ReportPage(tables.due_report(rep))
    if not for_download:
        page.truncated = _limit_tables(page.report, p.limit)
    return page


def movement_page(session: Session, p: ReportParams, *, for_download: bool = False) -> ReportPage:
    rep = reports.movement(session, p.rango(), group_by=p.group_by, filters=_filters(session, p))
    page = ReportPage(tables.movement_report(rep))
    if not for_download:
        page.truncated = _limit_tables(page.report, p.limit)
    return page


def summary_page(session: Session, p: ReportParams, *, for_download: bool = False) -> ReportPage:
    rep = reports.summary(session, p.rango(), group_by=p.group_by, filters=_filters(session, p))
    return ReportPage(tables.summary_report(rep))


def collectors_page(session: Session, p: ReportParams, *, for_download: bool = False) -> ReportPage:
    rep = reports.collectors(session, p.rango(), group_by=p.group_by, filters=_filters(session, p), today=p.today)
    return ReportPage(tables.collectors_report(rep))


def projection_page(session: Session, p: ReportParams, *, for_download: bool = False) -> ReportPage:
    hasta = p.hasta or p.as_of + timedelta(days=90)
    if p.hasta is not None and p.hasta <= p.as_of:
        DateRange(p.as_of + timedelta(days=1), p.hasta)
    proj = reports.projection(session, p.as_of, granularity=p.granularity, hasta=hasta, filters=_filters(session, p))
    page = ReportPage(tables.projection_report(proj), projection=projection_chart(proj))
    if not for_download:
        page.truncated = _limit_tables(page.report, p.limit)
    return page


def trends_page(session: Session, p: ReportParams, *, for_download: bool = False) -> ReportPage:
    """Patrones y tendencias: the portfolio's (or the one customer's) monthly line and chart."""
    months = parse_int(p.form.get("meses"), "Meses", minimum=1, maximum=MAX_TREND_MONTHS) or DEFAULT_TREND_MONTHS
    filters = _filters(session, p)
    rep = reports.trends(session, p.as_of, months=months, filters=filters)
    customer = p.filter_values.get("cliente")
    one = rep.clientes[0].rfc if customer and rep.clientes else None
    page = ReportPage(tables.trends_report(rep, customer=one))
    line = rep.clientes[0] if one else rep.cartera
    page.trend = trend_chart(line, f"Días de atraso por mes · {'cliente ' + line.rfc if one else 'cartera'}")
    if not for_download:
        page.truncated = _limit_tables(page.report, p.limit)
    return page


@dataclass
class StatementPage:
    report: Report | None
    pdf: bytes | None = None
    stem: str = "estado-de-cuenta"
    charts: list[BarChart] = field(default_factory=list)
    projection: ProjectionChart | None = None
    truncated: dict[str, int] = field(default_factory=dict)


def statement_page(session: Session, p: ReportParams, *, pdf: bool = False) -> StatementPage:
    """The customer's estado de cuenta (historial) in a period; without a customer, only the form."""
    rfc = p.filter_values.get("cliente")
    if not rfc:
        return StatementPage(None)
    rango = p.rango()
    customer = find_customer(session, rfc)
    statements = reports.customer_statement(session, customer.key, rango, today=p.today)
    report = tables.statement_report(customer.key, statements, rango.desde, rango.hasta)
    data = None
    if pdf:
        data = render_statement_pdf(statements, empresa=statement_letterhead(session, customer.id),
                                    fecha_corte=rango.hasta)
    return StatementPage(report, data, f"estado-de-cuenta-{customer.rfc}-{customer.id}")


def download(report: Report, fmt: str) -> tuple[bytes, str, str]:
    """(bytes, mimetype, extension) of a report in CSV, Excel or a simple PDF table."""
    if fmt == "csv":
        return render(report, Format.CSV), "text/csv; charset=utf-8", "csv"
    if fmt == "xlsx":
        return (render(report, Format.XLSX),
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")
    if fmt == "pdf":
        return report_pdf(report), "application/pdf", "pdf"
    raise ValidationError(f"Formato de descarga desconocido: «{fmt[:10]}». Use csv, xlsx o pdf.",
                          code="FORMATO_INVALIDO")


# --------------------------------------------------------------------------- dashboard panel

@dataclass
class FollowUpPanel:
    tareas: list[dict[str, Any]]
    incumplidas: list[PromiseOutcome]
    projection: ProjectionChart | None
    error: str | None = None


def dashboard_panel(session: Session, today: date) -> FollowUpPanel:
    """Today's follow-up tasks, broken promises and the 12-week projected income chart.

    Cached per process for the current ledger version (``web.cache``): imports,
    applications, reversals, credit notes and follow-ups (promises, closures) all bump
    it, so the panel is never older than the ledger it was drawn from. Read-only.
    """
    return cached(session, "dashboard_panel", today, lambda: _dashboard_panel(session, today))


def _dashboard_panel(session: Session, today: date) -> FollowUpPanel:
    rep = followups.tasks(session, today)
    broken = followups.promise_outcomes(session, today, only_broken=True)
    proj = reports.projection(session, today, granularity=Granularity.SEMANA, hasta=today + timedelta(weeks=12))
    return FollowUpPanel([t.to_dict() for t in rep.tareas], broken, projection_chart(proj))


# --------------------------------------------------------------------------- seguimiento


@dataclass
class FollowUpBoard:
    fecha: date
    tareas: list[dict[str, Any]]
    realizados: dict[str, int]
    pendientes: list[dict[str, Any]]
    incumplidas: list[PromiseOutcome]
    tipos: dict[str, str]
    customers: list[CustomerChoice]


def follow_up_board(session: Session, today: date, rfc: str | None = None) -> FollowUpBoard:
    rep = followups.tasks(session, today, rfc=rfc or None)
    pending = followups.list_follow_ups(session, rfc=rfc or None, estado=FollowUpStatus.PENDIENTE)
    broken = followups.promise_outcomes(session, today, rfc=rfc or None, only_broken=True)
    return FollowUpBoard(today, [t.to_dict() for t in rep.tareas], rep.realizados,
                         [v.to_dict() for v in reversed(pending[-300:])], broken,
                         followups.follow_up_types(session), customers_for_select(session, limit=2000))


@dataclass
class FollowUpForm:
    cliente: str = ""
    tipo: str = "llamada"
    documentos: str = ""
    notas: str = ""
    promesa_fecha: str = ""
    promesa_importe: str = ""
    promesa_moneda: str = "MXN"
    proxima_fecha: str = ""
    proxima_tipo: str = ""
    vendedor: str = ""  # empty: the customer's salesperson

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> FollowUpForm:
        limits = {"notas": 2000, "documentos": 2000}
        blank = cls()
        return cls(**{k: (form.get(k) or getattr(blank, k)).strip()[: limits.get(k, MAX_TEXT)]
                      for k in cls.__dataclass_fields__})

    def documents(self) -> list[str]:
        refs = [r.strip() for r in self.documentos.replace(";", ",").replace("\n", ",").split(",")]
        return [r for r in refs if r][:50]


def add_follow_up(session: Session, form: FollowUpForm, *, actor: str, clock: Any) -> dict[str, Any]:
    if not form.cliente:
        raise ValidationError("Seleccione el cliente del seguimiento.", code="CLIENTE_REQUERIDO")
    promise_date = parse_date(form.promesa_fecha, "Fecha de la promesa")
    amount = parse_money(form.promesa_importe, "Importe prometido")
    next_date = parse_date(form.proxima_fecha, "Fecha de la próxima tarea")
    view = followups.add_follow_up(
        session, form.cliente, tipo=form.tipo or "", contacto=actor, notes=form.notas or None,
        documentos=form.documents(), vendedor=form.vendedor or None, promise_date=promise_date, promise_amount=amount,
        promise_currency=form.promesa_moneda or "MXN", next_task_date=next_date,
        next_task_type=form.proxima_tipo or None, clock=clock)
    return view.to_dict()


def history(session: Session, args: Mapping[str, str]) -> tuple[dict[str, str], list[dict[str, Any]]]:
    form = {k: _text(args, k) for k in ("cliente", "desde", "hasta", "tipo", "estado")}
    desde = parse_date(form["desde"], "Fecha inicial")
    hasta = parse_date(form["hasta"], "Fecha final")
    rango = DateRange(desde or date(1900, 1, 1), hasta or date(9999, 12, 31)) if (desde or hasta) else None
    estado = {"pendiente": "pendiente", "cerrado": "cerrado"}.get(form["estado"] or "cerrado")
    rows = followups.list_follow_ups(session, rfc=form["cliente"] or None, rango=rango, tipo=form["tipo"] or None,
                                     estado=estado if form["estado"] != "todos" else None)
    return form, [v.to_dict() for v in reversed(rows[-1000:])]


def history_report(form: Mapping[str, str], rows: list[dict[str, Any]]) -> Report:
    estado = None if form.get("estado") == "todos" else (form.get("estado") or "cerrado")
    meta = [(label, form[k]) for k, label in (("cliente", "Cliente"), ("tipo", "Tipo"), ("desde", "Del"),
                                              ("hasta", "Al")) if form.get(k)]
    return followup_tables.followups_report(rows, estado=estado, meta=meta)


def tasks_report(session: Session, args: Mapping[str, str], today: date) -> tuple[Report, date]:
    on = parse_date(args.get("fecha"), "Fecha") or today
    rep = followups.tasks(session, on, tipo=_text(args, "tipo") or None, rfc=_text(args, "cliente") or None,
                          vendedor=_text(args, "vendedor") or None)
    return followup_tables.tasks_report(rep.to_dict()), on


def close_follow_ups(session: Session, form: Mapping[str, str], *, actor: str, clock: Any) -> list[int]:
    desde = parse_date(form.get("desde"), "Fecha inicial")
    hasta = parse_date(form.get("hasta"), "Fecha final")
    if desde is None or hasta is None:
        raise ValidationError("Indique la fecha inicial y la fecha final de los seguimientos a cerrar.",
                              code="RANGO_INVALIDO")
    rango = DateRange(desde, hasta)
    rfc = (form.get("cliente") or "").strip()[:MAX_TEXT] or None
    if rfc:
        find_customer(session, rfc)
    return followups.close_follow_ups(session, rango, actor=actor, rfc=rfc,
                                      nota=(form.get("nota") or "").strip()[:500] or None, clock=clock)


LETTER_KINDS = {
    "confirmacion_saldos": "Confirmación de saldos (verificación)",
    "recordatorio_1": "Cobranza: primer recordatorio",
    "recordatorio_2": "Cobranza: segundo recordatorio",
    "prejuridica": "Cobranza: aviso prejurídico",
}


def letters(session: Session, form: Mapping[str, str], today: date, *, actor: str | None = None,
            clock: Any = None) -> tuple[bytes, list[LetterSent], str]:
    """The batch PDF; with ``actor``, each customer's letter is logged in its follow-up file."""
    kind = (form.get("tipo") or "").strip()
    if kind not in LETTER_KINDS:
        raise ValidationError("Seleccione el tipo de carta.", code="TIPO_CARTA_INVALIDO")
    p = parse_params(form, today)
    if (form.get("dias_minimos") or "").strip().startswith("-"):
        raise ValidationError("Los días mínimos de vencimiento no pueden ser negativos.", code="PLAZO_INVALIDO")
    min_days = parse_int(form.get("dias_minimos"), "Días mínimos de vencimiento", minimum=0) or 1
    batch = letters_pdf(session, kind, p.as_of, filters=_filters(session, p), min_dias_vencido=min_days,
                        firmante=(form.get("firmante") or "").strip()[:120] or None)
    if actor is not None:
        record_letters(session, batch, kind, p.as_of, actor=actor, **({"clock": clock} if clock else {}))
    return batch.pdf, batch.letters, kind


def letters_by_email(session: Session, form: Mapping[str, str], today: date, *, actor: str,
                     clock: Clock) -> LetterMailRun:
    """The letters form, sent by email to each customer's collection contacts instead of printed."""
    kind = (form.get("tipo") or "").strip()
    if kind not in LETTER_KINDS:
        raise ValidationError("Seleccione el tipo de carta.", code="TIPO_CARTA_INVALIDO")
    p = parse_params(form, today)
    min_days = parse_int(form.get("dias_minimos"), "Días mínimos de vencimiento", minimum=0) or 1
    return send_letters(session, kind, p.as_of, filters=_filters(session, p), actor=actor, min_dias_vencido=min_days,
                        firmante=(form.get("firmante") or "").strip()[:120] or None, clock=clock)


# --------------------------------------------------------------------------- the customer's file


@dataclass
class CustomerFile:
    customer_id: int
    rfc: str
    payload: dict[str, Any]
    documentos: tuple[OwedDocument, ...]
    autorizaciones: list[dict[str, Any]]
    seguimientos: list[dict[str, Any]]
    tipos: dict[str, str]
    detail: CustomerDetail | None = None  # fiscal data and the document list
    check: dict[str, Any] | None = None
    check_form: dict[str, str] = field(default_factory=dict)
    check_error: str | None = None
    trend: TrendChart | None = None  # days late month by month (domain.trends)


def customer_file(session: Session, customer_id: int, today: date,
                  check_args: Mapping[str, str] | None = None, pagina: int = 1) -> CustomerFile:
    """Financial summary, conditions, authorizations, notes and follow-ups of one customer."""
    key = customer_key(session, customer_id)
    view = reports.customer_overview(session, key, today, actions_limit=15)
    payload = tables.customer_summary_payload(view)
    out = CustomerFile(customer_id, key, payload, view.summary.documentos,
                       [a.to_dict() for a in credit.list_authorizations(session, rfc=key)],
                       view.acciones, followups.follow_up_types(session),
                       detail=customer_detail(session, customer_id, today, pagina))
    if view.tendencia is not None:
        out.trend = trend_chart(view.tendencia, "Días de atraso por mes (24 meses)")
    if check_args and (check_args.get("importe") or "").strip():
        out.check_form = {k: (check_args.get(k) or "").strip()[:30]
                          for k in ("importe", "moneda", "operacion", "plazo", "forma_pago")}
        try:
            amount = parse_money(out.check_form["importe"], "Importe de la operación", required=True)
            assert amount is not None
            out.check = credit.check_credit(
                session, key, amount, out.check_form["moneda"] or "MXN",
                tipo=out.check_form["operacion"] or "venta_credito",
                plazo_dias=parse_int(out.check_form["plazo"], "Plazo", minimum=0),
                forma_pago=out.check_form["forma_pago"][:2] or None).to_dict()
        except ValidationError as exc:
            out.check_error = exc.message
    return out


CONDITION_FIELDS = ("plazo", "control", "estatus", "tipo_cobranza", "tolerancia", "vendedor", "zona",
                    "clasificacion", "sucursal", "contacto", "domicilio", "forma_pago", "formas_permitidas")


def set_conditions(session: Session, customer_id: int, form: Mapping[str, str], *, actor: str, clock: Any) -> None:
    key = customer_key(session, customer_id)
    limits: dict[str, Decimal | None] = {}
    for cur in ("MXN", "USD", "EUR"):
        raw = (form.get(f"limite_{cur}") or "").strip()
        if raw:
            limits[cur] = parse_money(raw, f"Límite de crédito en {cur}")
        elif f"limite_{cur}" in form:
            limits[cur] = None  # emptied: no credit in that currency
    text = {k: (form.get(k) or "").strip()[:200] for k in CONDITION_FIELDS}
    credit.set_conditions(
        session, key, actor=actor, limits=limits,
        plazo_maximo_dias=parse_int(text["plazo"], "Plazo máximo (días)", minimum=0),
        nivel_control=text["control"] or None, estatus=text["estatus"] or None,
        tipo_cobranza=text["tipo_cobranza"] or None,
        dias_atraso_tolerados=parse_int(text["tolerancia"], "Días de atraso tolerados", minimum=0),
        vendedor=text["vendedor"], zona=text["zona"], clasificacion=text["clasificacion"], sucursal=text["sucursal"],
        contacto=text["contacto"], domicilio=text["domicilio"], forma_pago_habitual=text["forma_pago"] or None,
        **({"formas_permitidas": text["formas_permitidas"] or None} if "formas_permitidas" in form else {}),
        clock=clock)


def request_authorization(session: Session, customer_id: int, form: Mapping[str, str], *, actor: str,
                          clock: Any) -> credit.AuthorizationView:
    key = customer_key(session, customer_id)
    amount = parse_money(form.get("importe"), "Importe de la operación", required=True)
    assert amount is not None
    return credit.request_authorization(
        session, key, amount, (form.get("moneda") or "MXN").strip()[:3], actor=actor,
        tipo=(form.get("operacion") or "venta_credito").strip()[:30],
        plazo_dias=parse_int(form.get("plazo"), "Plazo", minimum=0),
        motivo=(form.get("motivo") or "").strip()[:500] or None,
        forma_pago=(form.get("forma_pago") or "").strip()[:2] or None, clock=clock)


def decide_authorization(session: Session, customer_id: int, form: Mapping[str, str], *, actor: str,
                         clock: Any) -> credit.AuthorizationView:
    customer_key(session, customer_id)
    request_id = parse_int(form.get("solicitud"), "Solicitud", minimum=1, maximum=2**31 - 1)
    if request_id is None:
        raise ValidationError("Indique la solicitud a resolver.", code="AUTORIZACION_NO_ENCONTRADA")
    decision = (form.get("decision") or "").strip()
    if decision not in ("autorizar", "denegar"):
        raise ValidationError("Elija autorizar o denegar.", code="DECISION_INVALIDA")
    return credit.decide_authorization(session, request_id, grant=decision == "autorizar", username=actor,
                                       motivo=(form.get("motivo") or "").strip()[:500] or None, clock=clock)


def add_note(session: Session, customer_id: int, text: str, *, actor: str, clock: Any) -> credit.Note:
    return credit.add_note(session, customer_key(session, customer_id), text, author=actor, clock=clock)
