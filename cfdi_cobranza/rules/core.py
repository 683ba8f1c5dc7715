"""Building blocks of the REP validator: findings, rule objects and the document context.

A rule is a small named object (SAT code, Spanish title, ``check(ctx)``) that returns
findings and never raises; the runner (``rules.runner``) collects all of them. The
context gives rules tolerant accessors over a parsed CFDI so a broken attribute in a
third-party document yields a finding, not an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from lxml import etree

from cfdi_cobranza.domain.findings import Finding, Severity

NS_CFDI = "http://www.sat.gob.mx/cfd/4"
NS_PAGOS20 = "http://www.sat.gob.mx/Pagos20"


def q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


@dataclass(frozen=True, slots=True)
class Node:
    """An element and its XPath-like location."""

    el: etree._Element
    path: str
    # Lookups already made in this document, shared by every Node of one Context: the
    # ~110 rules walk the same few elements over and over (read-only; see Context).
    memo: dict[tuple[str, str, str], tuple[Node, ...]] | None = field(
        default=None, compare=False, repr=False)

    def get(self, name: str) -> str | None:
        value = self.el.get(name)
        return value

    def has(self, name: str) -> bool:
        return self.el.get(name) is not None

    def dec(self, name: str) -> Decimal | None:
        return to_decimal(self.el.get(name))

    def at(self, name: str) -> str:
        return f"{self.path}/@{name}"

    def children(self, ns: str, name: str, prefix: str) -> list[Node]:
        memo = self.memo
        if memo is not None:
            key = (self.path, ns, name)
            hit = memo.get(key)
            if hit is not None:
                return list(hit)
        found = self.el.findall(q(ns, name))
        nodes = [Node(c, f"{self.path}/{prefix}:{name}[{i}]", memo) for i, c in enumerate(found, 1)]
        if memo is not None:
            memo[key] = tuple(nodes)
        return nodes

    def child(self, ns: str, name: str, prefix: str) -> Node | None:
        memo = self.memo
        if memo is not None:
            key = (self.path, ns, "1" + name)
            hit = memo.get(key)
            if hit is not None:
                return hit[0] if hit else None
        found = self.el.find(q(ns, name))
        node = None if found is None else Node(found, f"{self.path}/{prefix}:{name}", memo)
        if memo is not None:
            memo[key] = () if node is None else (node,)
        return node


def to_decimal(text: str | None) -> Decimal | None:
    if text is None:
        return None
    cleaned = text.strip()
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def written_decimals(text: str | None) -> int:
    """Decimals as written in an attribute (``"1.160"`` has 3)."""
    if not text or "." not in text:
        return 0
    return len(text.strip().split(".", 1)[1])


@dataclass(slots=True)
class Context:
    """A parsed CFDI plus the clock; accessors never raise.

    Element lookups are memoised for the life of the Context: rules must not modify
    the tree (none does; the validator only reads).
    """

    root: etree._Element
    now: datetime
    extra: dict[str, object] = field(default_factory=dict)
    _memo: dict[tuple[str, str, str], tuple[Node, ...]] = field(default_factory=dict, repr=False)

    @property
    def comprobante(self) -> Node:
        hit = self._memo.get(("", "", ""))
        if hit is None:
            hit = (Node(self.root, "/cfdi:Comprobante", self._memo),)
            self._memo[("", "", "")] = hit
        return hit[0]

    def conceptos(self) -> list[Node]:
        parent = self.comprobante.child(NS_CFDI, "Conceptos", "cfdi")
        return [] if parent is None else parent.children(NS_CFDI, "Concepto", "cfdi")

    def pagos_nodes(self) -> list[Node]:
        hit = self._memo.get(("", "", "pagos"))
        if hit is None:
            comp = self.comprobante.child(NS_CFDI, "Complemento", "cfdi")
            hit = () if comp is None else tuple(comp.children(NS_PAGOS20, "Pagos", "pago20"))
            self._memo[("", "", "pagos")] = hit
        return list(hit)

    def pagos(self) -> Node | None:
        nodes = self.pagos_nodes()
        return nodes[0] if nodes else None

    def totales(self) -> Node | None:
        pagos = self.pagos()
        return None if pagos is None else pagos.child(NS_PAGOS20, "Totales", "pago20")

    def pago_list(self) -> list[Node]:
        hit = self._memo.get(("", "", "pago"))
        if hit is None:
            pagos = self.pagos()
            hit = () if pagos is None else tuple(pagos.children(NS_PAGOS20, "Pago", "pago20"))
            self._memo[("", "", "pago")] = hit
        return list(hit)

    def doctos(self, pago: Node) -> list[Node]:
        return pago.children(NS_PAGOS20, "DoctoRelacionado", "pago20")

    def all_doctos(self) -> Iterator[tuple[Node, Node]]:
        for pago in self.pago_list():
            for docto in self.doctos(pago):
                yield pago, docto

    @staticmethod
    def impuestos_dr(docto: Node) -> Node | None:
        return docto.child(NS_PAGOS20, "ImpuestosDR", "pago20")

    def dr_taxes(self, docto: Node, kind: str) -> list[Node]:
        """TrasladoDR or RetencionDR nodes (``kind`` = "Traslado" | "Retencion")."""
        imp = self.impuestos_dr(docto)
        if imp is None:
            return []
        group = imp.child(NS_PAGOS20, f"{kind}esDR" if kind == "Retencion" else f"{kind}sDR",
                          "pago20")
        return [] if group is None else group.children(NS_PAGOS20, f"{kind}DR", "pago20")

    def p_taxes(self, pago: Node, kind: str) -> list[Node]:
        """TrasladoP or RetencionP nodes of a Pago."""
        imp = pago.child(NS_PAGOS20, "ImpuestosP", "pago20")
        if imp is None:
            return []
        group = imp.child(NS_PAGOS20, f"{kind}esP" if kind == "Retencion" else f"{kind}sP",
                          "pago20")
        return [] if group is None else group.children(NS_PAGOS20, f"{kind}P", "pago20")


CheckFn = Callable[[Context], list[Finding]]


@dataclass(frozen=True, slots=True)
class Rule:
    """One SAT rule: ``code`` (e.g. CRP20238), Spanish ``title`` and its check."""

    code: str
    title: str
    func: CheckFn
    severity: Severity = Severity.ERROR

    def check(self, ctx: Context) -> list[Finding]:
        return self.func(ctx)

    def finding(self, message: str, location: str = "/", severity: Severity | None = None
                ) -> Finding:
        return Finding(self.code, message, location, severity or self.severity)


class Registry:
    """Rules in declaration order; modules register with ``@registry.rule(...)``."""

    def __init__(self) -> None:
        self.rules: list[Rule] = []

    def rule(self, code: str, title: str, severity: Severity = Severity.ERROR
             ) -> Callable[[Callable[[Rule, Context], list[Finding]]], Rule]:
        def decorate(fn: Callable[[Rule, Context], list[Finding]]) -> Rule:
            holder: list[Rule] = []

            def bound(ctx: Context) -> list[Finding]:
                return fn(holder[0], ctx)

            r = Rule(code, title, bound, severity)
            holder.append(r)
            self.rules.append(r)
            return r

        return decorate


REGISTRY = Registry()
rule = REGISTRY.rule
