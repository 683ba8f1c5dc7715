"""``python -m cfdi_cobranza`` runs the ``cobranza`` command line."""

from cfdi_cobranza.cli.main import run

run()
