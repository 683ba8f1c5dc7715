"""XSD validation of CFDI 4.0 / 3.3 (with Pagos 1.0/2.0 and TimbreFiscalDigital 1.1).

Why not just the SAT schema: ``catCFDI.xsd`` declares the big catalogs (c_ClaveProdServ
~53k keys, c_CodigoPostal ~96k, c_ClaveUnidad, c_Colonia...) as ``xs:enumeration``
facets, which libxml2 checks by linear scan: ~6 ms per document. Instead, at first use
we derive in memory a *structural* schema set where every catalog simple type keeps its
base type and its other facets (``whiteSpace``) but loses its enumerations, and we check
every catalog-typed attribute in Python against frozensets extracted once from the same
``catCFDI.xsd``. The attribute -> catalog map is read from the SAT's own XSD files, so
both halves together accept exactly what the SAT schema accepts (see
``tests/integration/test_cfdi_schema.py``, which compares both on hostile documents).

Wildcards: the SAT declares ``cfdi:Complemento`` and ``cfdi:Addenda`` with ``xs:any``
(strict by default). The structural schema makes Complemento/ComplementoConcepto
``lax`` (complements we know -- Pagos 1.0/2.0, TFD 1.1 -- are still validated in full;
unknown complements are skipped instead of refusing the whole invoice) and Addenda
``skip`` (addenda are private data outside the SAT's control).

Schema files come from the local ``xsd/`` tree (``COBRANZA_XSD_DIR`` overrides); SAT URLs
are mapped to it by a resolver and the network is never used. The extracted catalogs and
the light ``catCFDI.xsd`` are cached (``COBRANZA_CACHE_DIR``, default
``~/.cache/cfdi-cobranza``) keyed by the SHA-256 of ``catCFDI.xsd``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from cfdi_cobranza.errors import ImportRefused

log = logging.getLogger(__name__)

XS = "http://www.w3.org/2001/XMLSchema"
_XS = f"{{{XS}}}"
NS_CATCFDI = "http://www.sat.gob.mx/sitio_internet/cfd/catalogos"
SAT_URL_PREFIXES = (
    "http://www.sat.gob.mx/sitio_internet/cfd/",
    "https://www.sat.gob.mx/sitio_internet/cfd/",
)

# (namespace, path below xsd/) of every schema the combined validator knows.
SCHEMA_FILES: tuple[tuple[str, str], ...] = (
    ("http://www.sat.gob.mx/cfd/4", "4/cfdv40.xsd"),
    ("http://www.sat.gob.mx/cfd/3", "3/cfdv33.xsd"),
    ("http://www.sat.gob.mx/Pagos20", "Pagos/Pagos20.xsd"),
    ("http://www.sat.gob.mx/Pagos", "Pagos/Pagos10.xsd"),
    ("http://www.sat.gob.mx/TimbreFiscalDigital", "TimbreFiscalDigital/TimbreFiscalDigitalv11.xsd"),
)
CATALOG_FILE = "catalogos/catCFDI.xsd"
_CFDI_FILES = ("4/cfdv40.xsd", "3/cfdv33.xsd")
_CACHE_VERSION = 1

_WS = re.compile(r"[ \t\n\r]+")


def xsd_dir() -> Path:
    """The local copy of the SAT's XSD/XSLT tree."""
    env = os.environ.get("COBRANZA_XSD_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "xsd"


def cache_dir() -> Path:
    env = os.environ.get("COBRANZA_CACHE_DIR")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "cfdi-cobranza"


class LocalResolver(etree.Resolver):
    """Serve SAT schema/XSLT URLs from ``xsd/`` (or in-memory overrides); never the network."""

    def __init__(self, base: Path, overrides: Mapping[str, bytes] | None = None) -> None:
        super().__init__()
        self.base = base.resolve()
        self.overrides = dict(overrides or {})

    def local_path(self, url: str) -> Path | None:
        for prefix in SAT_URL_PREFIXES:
            if url.startswith(prefix):
                return self.base / url[len(prefix) :]
        if url.startswith("file://"):
            url = url[len("file://") :]
        if "://" in url:
            return None
        return Path(url)

    def resolve(self, system_url: str, public_id: str, context: Any) -> Any:  # type: ignore[override]
        path = self.local_path(system_url)
        if path is None:
            raise OSError(f"refusing non-local schema/stylesheet URL {system_url!r}")
        path = path.resolve()
        override = self.overrides.get(str(path))
        if override is not None:
            return self.resolve_string(override, context, base_url=str(path))
        if not path.is_relative_to(self.base):
            raise OSError(f"refusing schema/stylesheet outside {self.base}: {path}")
        return self.resolve_filename(str(path), context)  # type: ignore[attr-defined]


def local_parser(resolver: LocalResolver) -> etree.XMLParser:
    """Parser for trusted SAT schema/XSLT files: resolver attached, no network."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False, huge_tree=True)
    parser.resolvers.add(resolver)
    return parser


# --- catalogs -------------------------------------------------------------------------


@dataclass(frozen=True)
class _CatalogData:
    sets: dict[str, frozenset[str]]
    collapse: frozenset[str]  # catalog types whose values are whitespace-collapsed
    light_xsd: bytes


def _extract_catalogs(path: Path) -> tuple[dict[str, list[str]], list[str], bytes]:
    tree = etree.parse(str(path), etree.XMLParser(huge_tree=True, resolve_entities=False))
    values: dict[str, list[str]] = {}
    collapse: list[str] = []
    for st in tree.getroot().iterchildren(_XS + "simpleType"):
        name = st.get("name")
        restriction = st.find(_XS + "restriction")
        if name is None or restriction is None:
            continue
        enums = restriction.findall(_XS + "enumeration")
        if not enums:
            continue
        values[name] = [e.get("value", "") for e in enums]
        for e in enums:
            restriction.remove(e)
        ws = restriction.find(_XS + "whiteSpace")
        if ws is not None and ws.get("value") == "collapse":
            collapse.append(name)
    light = etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
    return values, collapse, light


def _load_catalog_data() -> _CatalogData:
    path = xsd_dir() / CATALOG_FILE
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()[:16]
    cdir = cache_dir()
    json_path = cdir / f"catCFDI-{digest}-v{_CACHE_VERSION}.json"
    xsd_path = cdir / f"catCFDI-{digest}-v{_CACHE_VERSION}.light.xsd"
    try:
        data = json.loads(json_path.read_text("utf-8"))
        light = xsd_path.read_bytes()
        return _CatalogData(
            sets={k: frozenset(v) for k, v in data["values"].items()},
            collapse=frozenset(data["collapse"]),
            light_xsd=light,
        )
    except (OSError, ValueError, KeyError):
        pass
    values, collapse, light = _extract_catalogs(path)
    try:
        cdir.mkdir(parents=True, exist_ok=True)
        _atomic_write(xsd_path, light)
        _atomic_write(
            json_path, json.dumps({"values": values, "collapse": collapse}).encode("utf-8")
        )
    except OSError as exc:  # a read-only home is no reason to fail validation
        log.warning("cannot write catalog cache in %s: %s", cdir, exc)
    return _CatalogData(
        sets={k: frozenset(v) for k, v in values.items()},
        collapse=frozenset(collapse),
        light_xsd=light,
    )


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- attribute -> catalog map ---------------------------------------------------------


def _catalog_attributes(tree: etree._ElementTree) -> dict[str, dict[str, str]]:
    """``{element tag: {attribute: catalog type}}`` for catCFDI-typed attributes of a schema."""
    root = tree.getroot()
    target = root.get("targetNamespace") or ""
    result: dict[str, dict[str, str]] = {}
    for attr in root.iter(_XS + "attribute"):
        type_ = attr.get("type")
        name = attr.get("name")
        if not type_ or not name or ":" not in type_:
            continue
        prefix, local = type_.split(":", 1)
        if attr.nsmap.get(prefix) != NS_CATCFDI:
            continue
        owner = next(attr.iterancestors(_XS + "element"), None)
        if owner is None or owner.get("name") is None:
            raise RuntimeError(f"catalog attribute {name} outside a named element")
        tag = f"{{{target}}}{owner.get('name')}"
        attrs = result.setdefault(tag, {})
        if attrs.get(name, local) != local:
            # Merging by tag is only sound when the same tag+attribute never maps to two
            # catalogs; the SAT schemas satisfy this, and we fail loudly if one changes.
            raise RuntimeError(f"{tag}@{name} maps to two catalogs")
        attrs[name] = local
    return result


def _relax_wildcards(tree: etree._ElementTree) -> None:
    for any_ in tree.getroot().iter(_XS + "any"):
        owner = next(any_.iterancestors(_XS + "element"), None)
        owner_name = owner.get("name") if owner is not None else None
        any_.set("processContents", "skip" if owner_name == "Addenda" else "lax")


# --- compiled validators --------------------------------------------------------------


def _wrapper(base: Path, files: tuple[tuple[str, str], ...]) -> etree._Element:
    root = etree.Element(_XS + "schema", nsmap={"xs": XS})
    for ns, rel in files:
        etree.SubElement(
            root, _XS + "import", namespace=ns, schemaLocation=str((base / rel).resolve())
        )
    return root


def _compile(overrides: Mapping[str, bytes], files: tuple[tuple[str, str], ...] = SCHEMA_FILES) -> etree.XMLSchema:
    base = xsd_dir().resolve()
    parser = local_parser(LocalResolver(base, overrides))
    text = etree.tostring(_wrapper(base, files))
    doc = etree.fromstring(text, parser, base_url=str(base / "_cobranza_combined.xsd"))
    return etree.XMLSchema(doc)


@dataclass(frozen=True)
class StructuralValidator:
    schema: etree.XMLSchema
    rules: dict[str, tuple[tuple[str, str], ...]]  # tag -> ((attribute, catalog), ...)
    sets: dict[str, frozenset[str]]
    collapse: frozenset[str]


_lock = threading.Lock()
_structural: StructuralValidator | None = None
_full: etree.XMLSchema | None = None


def structural_validator() -> StructuralValidator:
    """The compiled structural schema plus catalog rules (built once, thread-safe)."""
    global _structural
    if _structural is not None:
        return _structural
    with _lock:
        if _structural is None:
            _structural = _build_structural()
    return _structural


def _build_structural(files: tuple[tuple[str, str], ...] = SCHEMA_FILES, *,
                      relax: bool = True) -> StructuralValidator:
    """Schemas of ``files`` with catalogs taken out (checked from sets instead).

    ``relax`` makes Complemento/ComplementoConcepto lax and Addenda skip, for importing
    third-party invoices whose other complements we do not load (see docs/import.md).
    """
    base = xsd_dir().resolve()
    catalogs = _load_catalog_data()
    overrides: dict[str, bytes] = {str(base / CATALOG_FILE): catalogs.light_xsd}
    rules: dict[str, dict[str, str]] = {}
    for _ns, rel in files:
        path = base / rel
        tree = etree.parse(str(path), etree.XMLParser(no_network=True, resolve_entities=False))
        for tag, attrs in _catalog_attributes(tree).items():
            rules.setdefault(tag, {}).update(attrs)
        if relax and rel in _CFDI_FILES:
            _relax_wildcards(tree)
            overrides[str(path)] = etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
    unknown = {c for attrs in rules.values() for c in attrs.values()} - catalogs.sets.keys()
    if unknown:
        raise RuntimeError(f"catalog types without values in catCFDI.xsd: {sorted(unknown)}")
    return StructuralValidator(
        schema=_compile(overrides, files),
        rules={tag: tuple(attrs.items()) for tag, attrs in rules.items()},
        sets=catalogs.sets,
        collapse=catalogs.collapse,
    )


def full_sat_schema() -> etree.XMLSchema:
    """The SAT schemas exactly as published (slow: ~6 ms/document). Reference for tests."""
    global _full
    if _full is not None:
        return _full
    with _lock:
        if _full is None:
            _full = _compile({})
    return _full


def catalog_sets() -> Mapping[str, frozenset[str]]:
    return structural_validator().sets


# --- validation -----------------------------------------------------------------------

_LIBXML_ERROR = re.compile(
    r"^Element '(?P<element>[^']+)'(?:, attribute '(?P<attribute>[^']+)')?: (?P<detail>.*)$",
    re.DOTALL,
)
_VALUE = re.compile(r"^\[[^\]]*\] '(?P<value>[^']*)'|^'(?P<value2>[^']*)' is not")


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].split(":")[-1]


def _xsd_refused(exc: etree.DocumentInvalid) -> ImportRefused:
    log_: Any = exc.error_log  # lxml-stubs lack _ErrorLog.last_error
    entry = log_.last_error if log_ else None
    text = entry.message if entry is not None else str(exc)
    line = entry.line if entry is not None else None
    m = _LIBXML_ERROR.match(text)
    if m is None:
        message = f"El CFDI no cumple el esquema XSD del SAT: {text}"
        return ImportRefused(message, code="XSD_INVALIDO", detail=text, line=line)
    element = _local(m["element"])
    attribute = m["attribute"]
    detail = m["detail"]
    where = f"{element}@{attribute}" if attribute else element
    v = _VALUE.search(detail)
    value = (v["value"] if v["value"] is not None else v["value2"]) if v else None
    if attribute and "is not allowed" in detail:
        message = f"El CFDI no cumple el esquema XSD del SAT: el atributo {where} no está permitido"
    elif attribute and value is not None:
        message = f"El CFDI no cumple el esquema XSD del SAT: valor inválido en {where}: {value!r}"
    elif "attribute" in detail and "is required" in detail:
        missing = re.search(r"attribute '([^']+)' is required", detail)
        name = missing.group(1) if missing else "?"
        message = f"El CFDI no cumple el esquema XSD del SAT: falta el atributo obligatorio {element}@{name}"
    else:
        message = f"El CFDI no cumple el esquema XSD del SAT en {where} (línea {line}): {detail}"
    return ImportRefused(
        message,
        code="XSD_INVALIDO",
        element=element,
        attribute=attribute or "",
        value=value or "",
        detail=text,
        line=line,
    )


def check_catalogs(root: etree._Element, validator: StructuralValidator | None = None) -> None:
    """Refuse an attribute whose value is not a key of its SAT catalog."""
    v = validator or structural_validator()
    rules = v.rules
    sets = v.sets
    for top in root.iterchildren():
        if isinstance(top.tag, str) and top.tag.endswith("}Addenda"):
            continue  # skipped by the schema too
        _check_element(top, rules, sets, v.collapse)
    _check_one(root, rules, sets, v.collapse)


def _check_element(
    el: etree._Element,
    rules: dict[str, tuple[tuple[str, str], ...]],
    sets: dict[str, frozenset[str]],
    collapse: frozenset[str],
) -> None:
    for node in el.iter(tag=etree.Element):
        _check_one(node, rules, sets, collapse)


def _check_one(
    node: etree._Element,
    rules: dict[str, tuple[tuple[str, str], ...]],
    sets: dict[str, frozenset[str]],
    collapse: frozenset[str],
) -> None:
    checks = rules.get(node.tag)
    if checks is None:
        return
    get = node.get
    for attr, catalog in checks:
        value = get(attr)
        if value is None or value in sets[catalog]:
            continue
        # The catalog types carry whiteSpace="collapse": the SAT schema compares the
        # collapsed value, so " 601 " is the key "601".
        if catalog in collapse and _WS.sub(" ", value).strip(" ") in sets[catalog]:
            continue
        element = _local(str(node.tag))
        raise ImportRefused(
            f"Clave desconocida en {element}@{attr}: {value!r} no existe en el catálogo "
            f"{catalog} del SAT",
            code="CATALOGO_DESCONOCIDO",
            element=element,
            attribute=attr,
            value=value,
            catalog=catalog,
        )


def validate(root: etree._Element) -> None:
    """Structural XSD + catalog check; raises ImportRefused XSD_INVALIDO / CATALOGO_DESCONOCIDO."""
    v = structural_validator()
    try:
        v.schema.assertValid(root)
    except etree.DocumentInvalid as exc:
        raise _xsd_refused(exc) from exc
    check_catalogs(root, v)


def validate_full_sat(root: etree._Element) -> None:
    """Validate with the unmodified SAT schemas (reference, slow)."""
    try:
        full_sat_schema().assertValid(root)
    except etree.DocumentInvalid as exc:
        raise _xsd_refused(exc) from exc


# --- REP (Pagos 2.0) validator: structural schema, strict wildcards, collected findings ---

# The schemas a CFDI 4.0 payment complement may use: exactly the set the REP validator
# has always compiled (cfdi_cobranza.cfdi.validator), so a Pagos 1.0, CFDI 3.3 or unknown
# complement stays an XSD error there.
REP_SCHEMA_FILES: tuple[tuple[str, str], ...] = (
    ("http://www.sat.gob.mx/cfd/4", "4/cfdv40.xsd"),
    ("http://www.sat.gob.mx/Pagos20", "Pagos/Pagos20.xsd"),
    ("http://www.sat.gob.mx/TimbreFiscalDigital", "TimbreFiscalDigital/TimbreFiscalDigitalv11.xsd"),
)

_rep_structural: StructuralValidator | None = None


def rep_structural_validator() -> StructuralValidator:
    """cfdv40 + Pagos20 + TFD 1.1 without catalog enumerations, wildcards as the SAT wrote them.

    Unlike :func:`structural_validator` (for importing third-party invoices) nothing is
    relaxed: ``Complemento``, ``ComplementoConcepto`` and ``Addenda`` keep the SAT's
    strict ``xs:any``, so an element of a namespace outside these three schemas is a
    schema error, as with the full SAT schema of the same three files. Catalog-typed
    attributes are checked by :func:`catalog_problems` (``include_addenda=True``).
    """
    global _rep_structural
    if _rep_structural is not None:
        return _rep_structural
    with _lock:
        if _rep_structural is None:
            _rep_structural = _build_rep_structural()
    return _rep_structural


def _build_rep_structural() -> StructuralValidator:
    return _build_structural(REP_SCHEMA_FILES, relax=False)


@dataclass(frozen=True)
class CatalogProblem:
    """A catalog-typed attribute whose value is not a key of its SAT catalog."""

    element: etree._Element
    tag: str  # Clark notation, as libxml2 names elements in its messages
    attribute: str
    value: str
    catalog: str


def catalog_problems(
    root: etree._Element,
    validator: StructuralValidator | None = None,
    *,
    include_addenda: bool = False,
) -> list[CatalogProblem]:
    """Every catalog violation of ``root`` in document order (the collecting ``check_catalogs``).

    ``include_addenda=False`` skips ``Addenda`` like :func:`check_catalogs` (whose
    structural schema skips it too); the REP validator, whose schema validates addenda
    strictly, passes ``True``.
    """
    v = validator or structural_validator()
    rules = v.rules
    sets = v.sets
    collapse = v.collapse
    out: list[CatalogProblem] = []
    for node in _catalog_nodes(root, include_addenda):
        checks = rules.get(node.tag)
        if checks is None:
            continue
        get = node.get
        for attr, catalog in checks:
            value = get(attr)
            if value is None or value in sets[catalog]:
                continue
            if catalog in collapse and _WS.sub(" ", value).strip(" ") in sets[catalog]:
                continue
            out.append(CatalogProblem(node, str(node.tag), attr, value, catalog))
    return out


def _catalog_nodes(root: etree._Element, include_addenda: bool) -> Iterator[etree._Element]:
    yield root
    for top in root.iterchildren(tag=etree.Element):
        if not include_addenda and str(top.tag).endswith("}Addenda"):
            continue
        yield from top.iter(tag=etree.Element)
