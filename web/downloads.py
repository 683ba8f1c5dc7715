"""Safe ``Content-Disposition`` headers for downloads whose names come from data.

Customer names and series come from imported XML or user input: a quote would add
header parameters and a non-Latin-1 character makes gunicorn refuse the response.
The ASCII ``filename`` is sanitised; ``filename*`` carries the exact name (RFC 6266).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote


def attachment(name: str) -> dict[str, str]:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_name).strip("_") or "descarga"
    return {"Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"}
