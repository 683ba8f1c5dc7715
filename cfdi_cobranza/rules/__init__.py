"""REP (Pagos 2.0) rules: each SAT rule a small named check over a parsed CFDI.

``cfdi_cobranza.cfdi.validator.validate_rep`` parses, checks the XSD and runs them.
"""

from cfdi_cobranza.domain.findings import Finding, Severity
from cfdi_cobranza.rules.core import Rule
from cfdi_cobranza.rules.runner import errors_only

__all__ = ["Finding", "Rule", "Severity", "errors_only"]
