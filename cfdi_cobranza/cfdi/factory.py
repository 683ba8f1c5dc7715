"""Build signed, sandbox-stamped CFDI for tests, the demo and the benchmarks.

Invoices (tipo I, 4.0 and 3.3), credit notes (tipo E related with TipoRelacion 01) and
simple payment complements (tipo P, Pagos 2.0). Amounts are computed like a real
issuer does: Importe = Cantidad x ValorUnitario, Base = Importe - Descuento, each tax
rounded per line to the currency's decimals (ROUND_HALF_UP), document Impuestos grouped
by impuesto/factor/tasa, Total = SubTotal - Descuento + traslados - retenciones. The
documents pass the SAT XSD and our seal checks.

This is NOT the REP builder of the application (services.stamping owns Pagos 2.0
amounts); ``payment`` covers the simple, single-currency case tests need.

Speed: the key is loaded and the XSLT compiled once per factory, so generating 10,000
documents costs ~2 RSA signatures each (issuer and sandbox SAT).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

from lxml import etree

from cfdi_cobranza.cfdi.cadena import cadena_original
from cfdi_cobranza.cfdi.parser import NS_CFDI_33, NS_CFDI_40
from cfdi_cobranza.cfdi.timbre import ensure_sandbox_certificate, stamp
from cfdi_cobranza.domain.money import currency_decimals, fmt_amount, quantize
from cfdi_cobranza.signing.csd import Certificate, Signer, load_csd

NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS_PAGOS20 = "http://www.sat.gob.mx/Pagos20"
SCHEMA_LOCATION = {
    "4.0": "http://www.sat.gob.mx/cfd/4 http://www.sat.gob.mx/sitio_internet/cfd/4/cfdv40.xsd",
    "3.3": "http://www.sat.gob.mx/cfd/3 http://www.sat.gob.mx/sitio_internet/cfd/3/cfdv33.xsd",
}
PAGOS20_LOCATION = (
    "http://www.sat.gob.mx/Pagos20 http://www.sat.gob.mx/sitio_internet/cfd/Pagos/Pagos20.xsd"
)
DEFAULT_CLOCK_TIME = datetime(2025, 1, 15, 12, 0, 0)


def test_csd_dir() -> Path:
    """Folder with the SAT test CSD (EKU9003173C9); ``COBRANZA_TEST_CSD_DIR`` overrides."""
    env = os.environ.get("COBRANZA_TEST_CSD_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "certs_example"


# --- specifications -------------------------------------------------------------------


@dataclass(frozen=True)
class TaxSpec:
    kind: str  # "traslado" | "retencion"
    impuesto: str  # 001 ISR, 002 IVA, 003 IEPS
    tipo_factor: str  # Tasa | Cuota | Exento
    tasa: Decimal | None  # None for Exento


IVA16 = TaxSpec("traslado", "002", "Tasa", Decimal("0.160000"))
IVA8 = TaxSpec("traslado", "002", "Tasa", Decimal("0.080000"))
IVA0 = TaxSpec("traslado", "002", "Tasa", Decimal("0.000000"))
IVA_EXENTO = TaxSpec("traslado", "002", "Exento", None)
RET_ISR10 = TaxSpec("retencion", "001", "Tasa", Decimal("0.100000"))
RET_IVA_2_3 = TaxSpec("retencion", "002", "Tasa", Decimal("0.106667"))


def ieps(tasa: str | Decimal) -> TaxSpec:
    return TaxSpec("traslado", "003", "Tasa", Decimal(tasa))


@dataclass(frozen=True)
class Line:
    valor_unitario: Decimal
    cantidad: Decimal = Decimal("1")
    descripcion: str = "Servicio de consultoría"
    clave_prod_serv: str = "84111506"
    clave_unidad: str = "E48"
    unidad: str | None = None
    descuento: Decimal | None = None
    objeto_imp: str = "02"
    taxes: tuple[TaxSpec, ...] = (IVA16,)


@dataclass(frozen=True)
class Receptor:
    rfc: str = "URE180429TM6"
    nombre: str = "UNIVERSIDAD ROBOTICA ESPAÑOLA"
    regimen: str = "601"
    cp: str = "86991"
    uso: str = "G03"


@dataclass(frozen=True)
class Issuer:
    rfc: str
    nombre: str
    regimen: str
    cp: str
    certificate: Certificate
    signer: Signer


def default_issuer(today: date | None = None) -> Issuer:
    """The SAT test CSD EKU9003173C9 (ESCUELA KEMPER URGATE SA DE CV), régimen 601."""
    folder = test_csd_dir()
    cert, signer = load_csd(
        (folder / "EKU9003173C9.cer").read_bytes(),
        (folder / "EKU9003173C9.key").read_bytes(),
        "12345678a",
        rfc="EKU9003173C9",
        today=today or DEFAULT_CLOCK_TIME.date(),
    )
    return Issuer(cert.rfc, cert.name, "601", "42501", cert, signer)


@dataclass(frozen=True)
class PaidDoc:
    """One DoctoRelacionado of a simple Pagos 2.0 complement (MXN, EquivalenciaDR 1)."""

    uuid: str
    parcialidad: int
    saldo_anterior: Decimal
    pagado: Decimal
    iva: TaxSpec | None = None  # the paid invoice's IVA, if ObjetoImpDR 02


@dataclass(frozen=True)
class GeneratedCfdi:
    xml: bytes
    uuid: str
    total: Decimal
    extra: dict[str, str] = field(default_factory=dict)


# --- amounts --------------------------------------------------------------------------


@dataclass
class _LineAmounts:
    line: Line
    importe: Decimal
    base: Decimal
    taxes: list[tuple[TaxSpec, Decimal | None]]


def _line_amounts(line: Line, decimals: int) -> _LineAmounts:
    importe = quantize(line.cantidad * line.valor_unitario, decimals)
    base = importe - (line.descuento or Decimal(0))
    taxes: list[tuple[TaxSpec, Decimal | None]] = []
    if line.objeto_imp == "02":
        for spec in line.taxes:
            amount = None if spec.tasa is None else quantize(base * spec.tasa, decimals)
            taxes.append((spec, amount))
    return _LineAmounts(line, importe, base, taxes)


# --- the factory ----------------------------------------------------------------------


class CfdiFactory:
    """Signs with ``issuer`` and stamps with the sandbox certificate of ``sandbox_dir``."""

    def __init__(
        self,
        sandbox_dir: str | Path,
        *,
        issuer: Issuer | None = None,
        uuid_source: Callable[[], UUID] = uuid4,
        clock: Callable[[], datetime] = lambda: DEFAULT_CLOCK_TIME,
    ) -> None:
        self.sandbox_dir = Path(sandbox_dir)
        self.issuer = issuer or default_issuer()
        self.sat_certificate, self.sat_signer = ensure_sandbox_certificate(self.sandbox_dir)
        self.uuid_source = uuid_source
        self.clock = clock

    # public builders

    def invoice(
        self,
        lines: Sequence[Line] = (Line(Decimal("1000.00")),),
        *,
        version: str = "4.0",
        tipo: str = "I",
        receptor: Receptor | None = None,
        serie: str | None = "A",
        folio: str | None = "1",
        fecha: datetime | None = None,
        moneda: str = "MXN",
        tipo_cambio: Decimal | None = None,
        metodo: str | None = "PPD",
        forma: str | None = "99",
        condiciones: str | None = None,
        related: Iterable[tuple[str, Sequence[str]]] = (),
    ) -> GeneratedCfdi:
        ns = NS_CFDI_40 if version == "4.0" else NS_CFDI_33
        q = f"{{{ns}}}"
        receptor = receptor or Receptor()
        decimals = currency_decimals(moneda)
        amounts = [_line_amounts(line, decimals) for line in lines]
        subtotal = sum((a.importe for a in amounts), Decimal(0))
        descuentos = [a.line.descuento for a in amounts if a.line.descuento is not None]
        descuento = sum(descuentos, Decimal(0)) if descuentos else None

        root = self._root(ns, version, serie, folio, fecha, tipo)
        root.set("SubTotal", fmt_amount(subtotal, decimals))
        if descuento is not None:
            root.set("Descuento", fmt_amount(descuento, decimals))
        root.set("Moneda", moneda)
        if tipo_cambio is not None:
            root.set("TipoCambio", format(tipo_cambio, "f"))
        if forma:
            root.set("FormaPago", forma)
        if metodo:
            root.set("MetodoPago", metodo)
        if condiciones:
            root.set("CondicionesDePago", condiciones)

        groups = list(related)
        if version == "3.3" and len(groups) > 1:
            raise ValueError("CFDI 3.3 admits one CfdiRelacionados group")
        for tipo_relacion, uuids in groups:
            grp = etree.SubElement(root, q + "CfdiRelacionados", TipoRelacion=tipo_relacion)
            for uuid in uuids:
                etree.SubElement(grp, q + "CfdiRelacionado", UUID=uuid)
        self._parties(root, q, version, receptor)

        conceptos = etree.SubElement(root, q + "Conceptos")
        for a in amounts:
            self._concept(conceptos, q, version, a, decimals)
        traslados, retenciones = self._document_taxes(root, q, version, amounts, decimals)
        total = subtotal - (descuento or 0) + traslados - retenciones
        root.set("Total", fmt_amount(total, decimals))
        return self._finish(root, total)

    def credit_note(
        self,
        invoice_uuids: str | Sequence[str],
        lines: Sequence[Line] = (Line(Decimal("100.00"), descripcion="Descuento"),),
        **kwargs: object,
    ) -> GeneratedCfdi:
        """Tipo E related to the invoice(s) with TipoRelacion 01 (nota de crédito)."""
        uuids = [invoice_uuids] if isinstance(invoice_uuids, str) else list(invoice_uuids)
        kwargs.setdefault("metodo", "PUE")
        kwargs.setdefault("forma", "03")
        kwargs.setdefault("serie", "NC")
        return self.invoice(lines, tipo="E", related=[("01", uuids)], **kwargs)  # type: ignore[arg-type]

    def payment(
        self,
        docs: Sequence[PaidDoc | tuple[str, int, Decimal, Decimal]],
        *,
        fecha_pago: datetime | None = None,
        forma: str = "03",
        num_operacion: str | None = None,
        receptor: Receptor | None = None,
        serie: str | None = "P",
        folio: str | None = "1",
        fecha: datetime | None = None,
    ) -> GeneratedCfdi:
        """A Pagos 2.0 complement paying ``docs`` in MXN in one Pago."""
        paid = [d if isinstance(d, PaidDoc) else PaidDoc(*d) for d in docs]
        q = f"{{{NS_CFDI_40}}}"
        root = self._root(NS_CFDI_40, "4.0", serie, folio, fecha, "P")
        root.set("SubTotal", "0")
        root.set("Moneda", "XXX")
        root.set("Total", "0")
        self._parties(root, q, "4.0", receptor or Receptor(uso="CP01"), uso="CP01")
        conceptos = etree.SubElement(root, q + "Conceptos")
        etree.SubElement(
            conceptos,
            q + "Concepto",
            ClaveProdServ="84111506",
            Cantidad="1",
            ClaveUnidad="ACT",
            Descripcion="Pago",
            ValorUnitario="0",
            Importe="0",
            ObjetoImp="01",
        )
        comp = etree.SubElement(root, q + "Complemento")
        p = f"{{{NS_PAGOS20}}}"
        pagos = etree.SubElement(comp, p + "Pagos", nsmap={"pago20": NS_PAGOS20})
        pagos.set(f"{{{NS_XSI}}}schemaLocation", PAGOS20_LOCATION)
        pagos.set("Version", "2.0")
        totales = etree.SubElement(pagos, p + "Totales")
        monto = sum((d.pagado for d in paid), Decimal(0))
        pago = etree.SubElement(
            pagos,
            p + "Pago",
            FechaPago=(fecha_pago or self.clock()).replace(microsecond=0).isoformat(),
            FormaDePagoP=forma,
            MonedaP="MXN",
            TipoCambioP="1",
            Monto=fmt_amount(monto, 2),
        )
        if num_operacion:
            pago.set("NumOperacion", num_operacion)
        # (impuesto, tasa) -> [base, importe] in MXN, six decimals as Pagos 2.0 demands
        sums: dict[tuple[str, Decimal], list[Decimal]] = {}
        for d in paid:
            dr = etree.SubElement(
                pago,
                p + "DoctoRelacionado",
                IdDocumento=d.uuid,
                MonedaDR="MXN",
                EquivalenciaDR="1",
                NumParcialidad=str(d.parcialidad),
                ImpSaldoAnt=fmt_amount(d.saldo_anterior, 2),
                ImpPagado=fmt_amount(d.pagado, 2),
                ImpSaldoInsoluto=fmt_amount(d.saldo_anterior - d.pagado, 2),
                ObjetoImpDR="02" if d.iva else "01",
            )
            if d.iva is not None and d.iva.tasa is not None:
                base = quantize(d.pagado / (1 + d.iva.tasa), 6)
                importe = quantize(base * d.iva.tasa, 6)
                tr = etree.SubElement(etree.SubElement(dr, p + "ImpuestosDR"), p + "TrasladosDR")
                etree.SubElement(
                    tr,
                    p + "TrasladoDR",
                    BaseDR=fmt_amount(base, 6),
                    ImpuestoDR=d.iva.impuesto,
                    TipoFactorDR="Tasa",
                    TasaOCuotaDR=format(d.iva.tasa, "f"),
                    ImporteDR=fmt_amount(importe, 6),
                )
                acc = sums.setdefault((d.iva.impuesto, d.iva.tasa), [Decimal(0), Decimal(0)])
                acc[0] += base
                acc[1] += importe
        if sums:
            tp = etree.SubElement(etree.SubElement(pago, p + "ImpuestosP"), p + "TrasladosP")
            for (impuesto, tasa), (base, importe) in sums.items():
                etree.SubElement(
                    tp,
                    p + "TrasladoP",
                    BaseP=fmt_amount(base, 6),
                    ImpuestoP=impuesto,
                    TipoFactorP="Tasa",
                    TasaOCuotaP=format(tasa, "f"),
                    ImporteP=fmt_amount(importe, 6),
                )
                suffix = {Decimal("0.160000"): "16", Decimal("0.080000"): "8", Decimal(0): "0"}.get(
                    tasa
                )
                if impuesto == "002" and suffix is not None:
                    totales.set(f"TotalTrasladosBaseIVA{suffix}", fmt_amount(base, 2))
                    if suffix != "0":
                        totales.set(f"TotalTrasladosImpuestoIVA{suffix}", fmt_amount(importe, 2))
        totales.set("MontoTotalPagos", fmt_amount(monto, 2))
        return self._finish(root, Decimal(0))

    # building blocks

    def _root(
        self,
        ns: str,
        version: str,
        serie: str | None,
        folio: str | None,
        fecha: datetime | None,
        tipo: str,
    ) -> etree._Element:
        root = etree.Element(f"{{{ns}}}Comprobante", nsmap={"cfdi": ns, "xsi": NS_XSI})
        root.set(f"{{{NS_XSI}}}schemaLocation", SCHEMA_LOCATION[version])
        root.set("Version", version)
        if serie:
            root.set("Serie", serie)
        if folio:
            root.set("Folio", folio)
        root.set("Fecha", (fecha or self.clock()).replace(microsecond=0).isoformat())
        root.set("NoCertificado", self.issuer.certificate.no_certificado)
        root.set("Certificado", self.issuer.certificate.certificado_b64)
        root.set("TipoDeComprobante", tipo)
        if version == "4.0":
            root.set("Exportacion", "01")
        root.set("LugarExpedicion", self.issuer.cp)
        return root

    def _parties(
        self, root: etree._Element, q: str, version: str, receptor: Receptor, uso: str | None = None
    ) -> None:
        i = self.issuer
        etree.SubElement(root, q + "Emisor", Rfc=i.rfc, Nombre=i.nombre, RegimenFiscal=i.regimen)
        rec = etree.SubElement(root, q + "Receptor", Rfc=receptor.rfc, Nombre=receptor.nombre)
        if version == "4.0":
            rec.set("DomicilioFiscalReceptor", receptor.cp)
            rec.set("RegimenFiscalReceptor", receptor.regimen)
        rec.set("UsoCFDI", uso or receptor.uso)

    def _concept(
        self, parent: etree._Element, q: str, version: str, a: _LineAmounts, decimals: int
    ) -> None:
        line = a.line
        c = etree.SubElement(parent, q + "Concepto", ClaveProdServ=line.clave_prod_serv)
        c.set("Cantidad", format(line.cantidad, "f"))
        c.set("ClaveUnidad", line.clave_unidad)
        if line.unidad:
            c.set("Unidad", line.unidad)
        c.set("Descripcion", line.descripcion)
        c.set("ValorUnitario", format(line.valor_unitario, "f"))
        c.set("Importe", fmt_amount(a.importe, decimals))
        if line.descuento is not None:
            c.set("Descuento", fmt_amount(line.descuento, decimals))
        if version == "4.0":
            c.set("ObjetoImp", line.objeto_imp)
        if not a.taxes:
            return
        imp = etree.SubElement(c, q + "Impuestos")
        for kind, container, child in (
            ("traslado", "Traslados", "Traslado"),
            ("retencion", "Retenciones", "Retencion"),
        ):
            items = [(s, amt) for s, amt in a.taxes if s.kind == kind]
            if not items:
                continue
            box = etree.SubElement(imp, q + container)
            for spec, amount in items:
                t = etree.SubElement(box, q + child, Base=fmt_amount(a.base, decimals))
                t.set("Impuesto", spec.impuesto)
                t.set("TipoFactor", spec.tipo_factor)
                if spec.tasa is not None and amount is not None:
                    t.set("TasaOCuota", format(spec.tasa, "f"))
                    t.set("Importe", fmt_amount(amount, decimals))

    def _document_taxes(
        self,
        root: etree._Element,
        q: str,
        version: str,
        amounts: Sequence[_LineAmounts],
        decimals: int,
    ) -> tuple[Decimal, Decimal]:
        traslados: dict[tuple[str, str, Decimal | None], list[Decimal]] = {}
        retenciones: dict[str, Decimal] = {}
        for a in amounts:
            for spec, amount in a.taxes:
                if spec.kind == "traslado":
                    acc = traslados.setdefault(
                        (spec.impuesto, spec.tipo_factor, spec.tasa), [Decimal(0), Decimal(0)]
                    )
                    acc[0] += a.base
                    acc[1] += amount or 0
                else:
                    retenciones[spec.impuesto] = retenciones.get(spec.impuesto, Decimal(0)) + (
                        amount or 0
                    )
        if version == "3.3":  # 3.3 has no Exento nor Base at document level
            traslados = {k: v for k, v in traslados.items() if k[2] is not None}
        total_t = sum((v[1] for k, v in traslados.items() if k[2] is not None), Decimal(0))
        total_r = sum(retenciones.values(), Decimal(0))
        if not traslados and not retenciones:
            return total_t, total_r
        imp = etree.SubElement(root, q + "Impuestos")
        if retenciones:
            box = etree.SubElement(imp, q + "Retenciones")
            for impuesto, importe in sorted(retenciones.items()):
                etree.SubElement(
                    box, q + "Retencion", Impuesto=impuesto, Importe=fmt_amount(importe, decimals)
                )
            imp.set("TotalImpuestosRetenidos", fmt_amount(total_r, decimals))
        if traslados:
            box = etree.SubElement(imp, q + "Traslados")
            for (impuesto, factor, tasa), (base, importe) in traslados.items():
                t = etree.SubElement(box, q + "Traslado")
                if version == "4.0":
                    t.set("Base", fmt_amount(base, decimals))
                t.set("Impuesto", impuesto)
                t.set("TipoFactor", factor)
                if tasa is not None:
                    t.set("TasaOCuota", format(tasa, "f"))
                    t.set("Importe", fmt_amount(importe, decimals))
            if any(k[2] is not None for k in traslados):
                imp.set("TotalImpuestosTrasladados", fmt_amount(total_t, decimals))
        return total_t, total_r

    def _finish(self, root: etree._Element, total: Decimal) -> GeneratedCfdi:
        root.set("Sello", self.issuer.signer.sign(cadena_original(root)))
        xml = stamp(
            root,
            certificate=self.sat_certificate,
            signer=self.sat_signer,
            uuid_source=self.uuid_source,
            clock=self.clock,
        )
        tfd = root.find(f"{{{root.nsmap['cfdi']}}}Complemento")
        assert tfd is not None
        uuid = tfd[-1].get("UUID") or ""
        return GeneratedCfdi(xml=xml, uuid=uuid, total=total)
