"""Adapters for the SAT's web services (descarga masiva, CFDI status, 69-B list) and Banxico."""
