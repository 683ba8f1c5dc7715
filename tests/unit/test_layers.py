"""The layer contracts in pyproject.toml ([tool.importlinter]) hold, and would catch a breach.

One source: import-linter reads the contracts; this test and scripts/test.sh run it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
LINT_IMPORTS = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-c", LINT_IMPORTS, "--no-cache", str(PYPROJECT)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_code_keeps_every_contract():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_breach_fails(tmp_path):
    """A tree with every layer of the contract, where the domain imports SQLAlchemy and a
    report imports a service: lint-imports exits non-zero and names both."""
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["importlinter"]
    roots = set(config["root_packages"])
    modules = {name for c in config["contracts"]
               for entry in [*c.get("layers", []), *c.get("source_modules", []), *c.get("forbidden_modules", [])]
               for name in re.split(r"[\s:|]+", entry) if name.split(".")[0] in roots}
    for name in modules | roots:
        package = tmp_path.joinpath(*name.split("."))
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").touch()
    (tmp_path / "cfdi_cobranza" / "domain" / "money.py").write_text("import sqlalchemy\n")
    (tmp_path / "cfdi_cobranza" / "reports" / "tables.py").write_text(
        "from cfdi_cobranza.services import followups\n")
    (tmp_path / "cfdi_cobranza" / "services" / "followups.py").touch()

    result = _lint(tmp_path)

    assert result.returncode != 0
    assert "cfdi_cobranza.reports.tables -> cfdi_cobranza.services.followups" in result.stdout
    assert "cfdi_cobranza.domain.money -> sqlalchemy" in result.stdout
