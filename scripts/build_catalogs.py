"""Regenerate cfdi_cobranza/catalogs/data/*.json from the SAT catalogs shipped in satcfdi.

The SAT publishes its catalogs as an Excel workbook; satcfdi ships them as a SQLite
file. We keep only the small catalogs the ledger, the payment validator and the REP
builder need, as JSON the pure domain can read with the standard library.
Run: python scripts/build_catalogs.py
"""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
from pathlib import Path

import satcfdi

OUT = Path(__file__).resolve().parent.parent / "cfdi_cobranza" / "catalogs" / "data"
TABLES = {
    "c_Moneda": "C756_c_Moneda",
    "c_FormaPago": "C756_c_FormaPago",
    "c_MetodoPago": "C756_c_MetodoPago",
    "c_RegimenFiscal": "C756_c_RegimenFiscal",
    "c_UsoCFDI": "C756_c_UsoCFDI",
    "c_Impuesto": "C756_c_Impuesto",
    "c_TipoFactor": "C756_c_TipoFactor",
    "c_TipoRelacion": "C756_c_TipoRelacion",
    "c_ObjetoImp": "C756_c_ObjetoImp",
    "c_Exportacion": "C756_c_Exportacion",
    "c_TipoDeComprobante": "C756_c_TipoDeComprobante",
    "c_Pais": "C756_c_Pais",
}


def main() -> None:
    db = os.path.join(os.path.dirname(satcfdi.__file__), "catalogs", "catalogs.db")
    conn = sqlite3.connect(db)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, table in TABLES.items():
        rows = conn.execute(f"SELECT key, value FROM {table}").fetchall()
        data = {}
        for k, v in rows:
            key = pickle.loads(k)
            value = pickle.loads(v)
            if isinstance(key, tuple):
                key = key[0]
            if name == "c_Moneda":
                data[key] = {"descripcion": value[0], "decimales": int(value[1])}
            else:
                desc = value[0] if isinstance(value, list | tuple) else value
                data[key] = {"descripcion": str(desc)}
        if name == "c_TipoFactor" and not data:
            # satcfdi ships this table empty; the SAT catalog has exactly these three keys.
            data = {k: {"descripcion": k} for k in ("Tasa", "Cuota", "Exento")}
        (OUT / f"{name}.json").write_text(
            json.dumps(data, ensure_ascii=False, indent=0, sort_keys=True) + "\n", encoding="utf-8"
        )
        print(name, len(data))


if __name__ == "__main__":
    main()
