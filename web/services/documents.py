"""Document search form: the query string read into a ``ledger.DocumentFilter``, and the
cached page (``services.ledger`` runs every query)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date

from sqlalchemy.orm import Session

from cfdi_cobranza.errors import ValidationError
from cfdi_cobranza.services import ledger
from cfdi_cobranza.services.ledger import ESTADOS, TIPOS, DocumentFilter, DocumentPage
from web.cache import cached
from web.services.inputs import parse_date, parse_positive_int

MAX_PAGE_SIZE = 500


def parse_filter(args: Mapping[str, str], *, page_size: int = 50) -> DocumentFilter:
    """Read query-string filters; bad values raise a Spanish ValidationError."""
    estado = (args.get("estado") or "").strip()
    if estado not in ESTADOS:
        raise ValidationError("Estado desconocido; use abiertos o pagados.", code="VALIDACION")
    tipo = (args.get("tipo") or "").strip().upper()
    if tipo not in TIPOS:
        raise ValidationError("Tipo de comprobante desconocido; use I, E o P.", code="VALIDACION")
    moneda = (args.get("moneda") or "").strip().upper()
    if moneda and (len(moneda) != 3 or not moneda.isalpha()):
        raise ValidationError("La moneda debe ser un código de 3 letras, p. ej. MXN o USD.", code="VALIDACION")
    cliente = (args.get("cliente") or "").strip().upper()
    if len(cliente) > 13:
        raise ValidationError("El RFC tiene como máximo 13 caracteres.", code="RFC_INVALIDO")
    desde = parse_date(args.get("desde"), "Fecha desde")
    hasta = parse_date(args.get("hasta"), "Fecha hasta")
    if desde and hasta and desde > hasta:
        raise ValidationError("La fecha «desde» es posterior a la fecha «hasta».", code="FECHA_INVALIDA")
    return DocumentFilter(
        cliente=cliente, estado=estado, moneda=moneda, tipo=tipo, desde=desde, hasta=hasta,
        vencidos=(args.get("vencidos") or "") in {"1", "si", "sí", "true", "on"}, q=(args.get("q") or "").strip()[:100],
        corte=parse_date(args.get("corte"), "Fecha de corte"),
        pagina=parse_positive_int(args.get("pagina"), "La página", 1, 1_000_000),
        por_pagina=parse_positive_int(args.get("por_pagina"), "Por página", page_size, MAX_PAGE_SIZE),
    )


def document_page(session: Session, flt: DocumentFilter, today: date) -> DocumentPage:
    """``ledger.search_documents`` with the COUNT and the currency list cached per process for the
    current ledger version (``web.cache``; documents, credits and customers are tracked tables)."""
    key = (replace(flt, pagina=1, por_pagina=1), today if flt.vencidos and flt.corte is None else None)
    total = cached(session, "documents_count", key, lambda: ledger.count_documents(session, flt, today))
    monedas = cached(session, "documents_currencies", (), lambda: ledger.document_currencies(session))
    return ledger.search_documents(session, flt, today, total=total, monedas=monedas)
