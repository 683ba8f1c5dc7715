"""REP (Pagos 2.0) validation rules: ``validate_rep`` and ``rules_catalog``."""

from cfdi_cobranza.rules.core import Finding, Rule, Severity
from cfdi_cobranza.rules.runner import errors_only, rules_catalog, validate_rep

__all__ = ["Finding", "Rule", "Severity", "errors_only", "rules_catalog", "validate_rep"]
